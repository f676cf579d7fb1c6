"""Active regions of the synthetic Sun: which are alive, how each evolves, and its flux elements.

The catalogue of emerging regions is :mod:`euv2mag.data.synthetic.cycle` (keyed by
``(seed, day)``); this module turns a region and a time into its state (:class:`RegionState`,
:func:`region_state`) and the state into flux elements (:func:`region_elements`).  Everything
is a pure function of the generator parameters and the time.

Units: fluxes in Mx (per polarity unless a name says ``total``), fields in G, lengths in Mm,
areas in MSH (millionths of the solar hemisphere), ages and times in days (MJD, UTC),
positions in degrees (latitude, Carrington longitude).

Model (step 2 of a frame)
-------------------------
Active regions alive at ``t`` emerged up to :data:`MAX_AGE_DAYS` earlier.  Each is a compact
bipole: per polarity a sunspot (umbral peak 2000-3500 G growing with the spot's area, penumbra
1000 G, mean ~1.27 kG; the trailing spot holds 0.6 of the leading one's flux; area decaying
linearly at the Gnevyshev-Waldmeier rate) on a disc of clustered plage elements with the parabolic surface density
``2 <B> (1 - (r/R)^2)``, ``<B> = plage_field_g`` (150 G), so the disc area is
``plage flux / 150 G`` (about ``Phi / 200 G`` with the spots: 1e21 -> ~200 MSH,
1e22 -> ~1700 MSH).  The polarities separate while emerging and stay adjacent.  The compact
flux decays (e-fold ``decay_days (Phi_max / 1e22)^0.5``); the decayed flux leaves the compact
plage as network concentrations of 3e19 Mx spreading by diffusion (250 km^2/s) and cancelling
(e-fold ``dispersed_decay_days``), so old regions fade instead of spreading into large weak
patches.  The compact part rotates rigidly at its latitude's rate, the dispersed flux at its
own (sunpy's ``howard`` law, coefficients read once from sunpy).
"""
from __future__ import annotations

import dataclasses
import functools
import math
from typing import TYPE_CHECKING

import numpy as np

from ...geometry import MSH_MM2, RSUN_MM
from .cycle import CARRINGTON_RATE_DEG_PER_DAY, Region, regions_emerging_on_day, rotation_rate_deg_per_day

if TYPE_CHECKING:
    from .params import SynthParams

__all__ = [
    "MAX_AGE_DAYS",
    "TRUTH_AREA_THRESHOLD_G",
    "regions_alive",
    "RegionState",
    "region_state",
    "region_states",
    "region_elements",
    "spot_peak_g",
]

#: Regions older than this (days) are dropped (their flux is then below 2 % of the maximum).
MAX_AGE_DAYS = 120
#: Length (Mm) of one heliographic degree on the surface.
MM_PER_DEG = RSUN_MM * math.pi / 180.0
#: Penumbral radial field (G) and umbral Gaussian width as a fraction of the penumbral radius
#: (umbral core ~0.35-0.45 R wide at half maximum, umbra/spot area ~0.2: Solanki 2003).
PENUMBRA_G = 1000.0
UMBRA_FRACTION = 0.3
#: Umbral peak field (G): from :data:`UMBRA_MIN_G` for spots of <= :data:`UMBRA_SMALL_MSH` to
#: :data:`UMBRA_MAX_G` for spots of >= :data:`UMBRA_LARGE_MSH`, linear in log(area) between
#: (umbral fields 2-3.5 kG, strongest in the largest spots: Solanki 2003; Livingston et al. 2006).
UMBRA_MIN_G = 2000.0
UMBRA_MAX_G = 3500.0
UMBRA_SMALL_MSH = 5.0
UMBRA_LARGE_MSH = 500.0
#: Mean field (G) used to turn a spot's flux into its nominal area (decay law, umbral peak):
#: the mean of the spot profile for a 2.5 kG umbra.
SPOT_MEAN_G = PENUMBRA_G + 2.0 * UMBRA_FRACTION**2 * (2500.0 - PENUMBRA_G)
#: Flux per MSH of a spot at :data:`SPOT_MEAN_G`.
_SPOT_MX_PER_MSH = SPOT_MEAN_G * MSH_MM2 * 1e16
#: Trailing spot's flux relative to the leading one at maximum (leading spots are larger and
#: more coherent: Bray & Loughhead 1979, as quoted by Mandal et al. 2021).
TRAILING_SPOT_SHARE = 0.6
#: Linear (Gnevyshev-Waldmeier) decay rate of a spot's area, MSH/day: Petrovay & van
#: Driel-Gesztelyi 1997 (W ~ 10 MSH/day); the spots' mean field (~1.27 kG) makes their areas
#: comparable with white-light spot areas.
SPOT_DECAY_MSH_PER_DAY = 10.0
#: Flux (Mx) of one dispersed-flux (decayed plage) network concentration, and their largest
#: number per polarity.
DISPERSED_ELEMENT_MX = 3e19
MAX_DISPERSED_ELEMENTS = 1500
#: Largest gap (Mm) between the edges of a region's two compact plage discs.
BIPOLE_GAP_MM = 5.0
#: Threshold (G) of the truth footprint area (``frame_regions.area_msh``): the AR detector's
#: growth threshold (``notes/ar-detection-spec.md`` D5).
TRUTH_AREA_THRESHOLD_G = 30.0


@functools.lru_cache(maxsize=4096)
def _day_regions(day: int, seed: int, rate_scale: float, anti_hale: float, log_flux_mean: float,
                 activity: str = "observed"):
    return regions_emerging_on_day(
        day, seed=seed, rate_scale=rate_scale, anti_hale_fraction=anti_hale, log_flux_mean=log_flux_mean,
        activity=activity,
    )


@functools.lru_cache(maxsize=64)
def _regions_window(last_day: int, seed: int, rate_scale: float, anti_hale: float, log_flux_mean: float,
                    activity: str = "observed"):
    """Regions that start emerging on days ``last_day - MAX_AGE_DAYS .. last_day`` (cached per day,
    so frames of the same day share one catalogue look-up instead of looping over 121 days)."""
    out = []
    for day in range(last_day - MAX_AGE_DAYS, last_day + 1):
        out.extend(_day_regions(day, seed, rate_scale, anti_hale, log_flux_mean, activity))
    return tuple(out)


def regions_alive(params: SynthParams, t_mjd: float) -> list[Region]:
    """Regions that have started emerging at ``t_mjd`` and are younger than :data:`MAX_AGE_DAYS`."""
    window = _regions_window(int(math.floor(t_mjd)), params.seed, params.rate_scale, params.anti_hale_fraction,
                             params.log_flux_mean, params.activity)
    return [r for r in window if 0.0 <= t_mjd - r.emergence_mjd < MAX_AGE_DAYS]


@dataclasses.dataclass
class RegionState:
    """State of a region at one time.

    Fluxes are Mx per polarity, lengths Mm, positions degrees (latitude, Carrington longitude,
    already rotated to the state's time).  Index 0 of the pairs is the leading polarity.
    """

    region: Region
    age_days: float
    compact_flux: float  # per polarity: spot + compact plage
    spot_flux: tuple[float, float]
    spot_radius_mm: tuple[float, float]  # penumbral radius of each spot (0 = none)
    plage_radius_mm: tuple[float, float]  # radius of each polarity's compact plage disc
    dispersed_flux: float  # per polarity, decayed flux spread as network
    dispersed_sigma_mm: float
    separation_mm: float
    shift_deg: float  # rigid rotation of the region since emergence (Carrington lon, deg)
    poles: tuple[tuple[float, float], tuple[float, float]]  # rotated (lat, carrington lon)
    centre: tuple[float, float]  # flux-weighted centre of the compact part, rotated (lat, lon)

    @property
    def total_flux(self) -> float:
        """Current total unsigned flux of the compact region (both polarities), Mx."""
        return 2.0 * self.compact_flux

    @property
    def area_msh(self) -> float:
        """Deprojected area (MSH) of the region's own noise-free footprint above 30 G.

        Each polarity's compact plage has the parabolic surface density
        ``2 <B> (1 - (r/R)^2)`` (mean ``<B>`` over the disc of radius ``R``), so the part above
        :data:`TRUTH_AREA_THRESHOLD_G` is the disc of radius ``R sqrt(1 - 30 G / (2 <B>))``; the
        spots lie inside it.  The element blur widens the edge by ~1 Mm (not counted).
        """
        area = 0.0
        for k in range(2):
            r = self.plage_radius_mm[k]
            plage = max(self.compact_flux - self.spot_flux[k], 0.0)
            if r <= 0:
                continue
            peak = 2.0 * plage / (math.pi * r * r * 1e16)
            frac = max(0.0, 1.0 - TRUTH_AREA_THRESHOLD_G / peak) if peak > 0 else 0.0
            area += max(math.pi * r * r * frac, math.pi * self.spot_radius_mm[k] ** 2)
        return area / MSH_MM2


def _decay_days(region: Region, params: SynthParams) -> float:
    """e-folding time (days) of a region's compact flux: ``decay_days (Phi_max / 1e22 Mx)^0.5``, 3-60 d."""
    return float(np.clip(params.decay_days * math.sqrt(region.total_flux_mx / 1e22), 3.0, 60.0))


def _rise_days(region: Region) -> float:
    return 1.5 + 1.5 * float(np.clip((math.log10(region.total_flux_mx) - 20.5) / 2.7, 0.0, 1.0))


def spot_peak_g(flux_mx: float) -> float:
    """Umbral peak field (G) of a spot of flux ``flux_mx`` (Mx).

    The spot's nominal area ``A = flux / (SPOT_MEAN_G x 1 MSH)`` sets the peak, linear in
    ``log10 A`` from :data:`UMBRA_MIN_G` at ``A <= UMBRA_SMALL_MSH`` to :data:`UMBRA_MAX_G` at
    ``A >= UMBRA_LARGE_MSH`` (2 kG for ~5 MSH spots, 3.5 kG for ~500 MSH spots).
    """
    area = max(flux_mx, 1.0) / _SPOT_MX_PER_MSH
    x = math.log10(max(area, 1e-9) / UMBRA_SMALL_MSH) / math.log10(UMBRA_LARGE_MSH / UMBRA_SMALL_MSH)
    return UMBRA_MIN_G + (UMBRA_MAX_G - UMBRA_MIN_G) * float(np.clip(x, 0.0, 1.0))


def _spot_radius_mm(flux_mx: float) -> float:
    """Penumbral radius (Mm) of a spot: flux = pi r^2 (B_pen + 0.18 (B_u - B_pen))."""
    if flux_mx <= 0:
        return 0.0
    b_u = spot_peak_g(flux_mx)
    mean = PENUMBRA_G + 2.0 * UMBRA_FRACTION**2 * (b_u - PENUMBRA_G)
    return math.sqrt(flux_mx / (math.pi * mean)) / 1e8


@functools.lru_cache(maxsize=8192)
def _plage_cloud(seed: int, n: int):
    """Unit-disc element positions and relative weights of a region's two compact plage clouds.

    Radii follow the parabolic surface density ``(1 - x^2)`` (``x^2 = 1 - sqrt(1 - u)``), the
    weights are log-normal (0.5 dex-e, clumping of kG elements), normalised to sum 1 per
    polarity.  Also returns the weighted centroid of each cloud (unit-disc coordinates).

    Returns
    -------
    pos : (2, n, 2) float64 — (d_lat, d_lon_surface) in units of the disc radius
    w : (2, n) float64
    centroid : (2, 2) float64
    """
    rng = np.random.default_rng([int(seed), 11])
    x = np.sqrt(1.0 - np.sqrt(1.0 - rng.uniform(0.0, 1.0, (2, n))))
    phi = rng.uniform(0.0, 2.0 * math.pi, (2, n))
    pos = np.stack([x * np.sin(phi), x * np.cos(phi)], axis=-1)
    w = np.exp(0.5 * rng.standard_normal((2, n)))
    w /= w.sum(axis=1, keepdims=True)
    centroid = np.einsum("kn,knj->kj", w, pos)
    return pos, w, centroid


@functools.lru_cache(maxsize=8192)
def _dispersed_cloud(seed: int, n: int) -> np.ndarray:
    """(2, n, 2) unit-normal offsets of a region's dispersed (decayed) flux elements."""
    return np.random.default_rng([int(seed), 12]).standard_normal((2, n, 2))


def _n_plage_elements(region: Region, params: SynthParams) -> int:
    area_mm2 = 0.5 * region.total_flux_mx / (params.plage_field_g * 1e16)
    return int(np.clip(area_mm2 / 2.0, 40, 3000))


def region_state(params: SynthParams, region: Region, t_mjd: float, rate_fn=None) -> RegionState | None:
    """Fluxes, sizes and positions of ``region`` at ``t_mjd`` (None before emergence or after
    :data:`MAX_AGE_DAYS`).

    Evolution (per polarity, ``P = Phi_max / 2``, ``tau = max(0, age - rise)``): growth by a
    smoothstep over the rise time (1.5-3 d, larger regions slower); compact flux
    ``P g exp(-tau / T)`` with ``T = decay_days (Phi_max / 1e22 Mx)^0.5`` (3-60 d); the decayed flux
    ``P g (1 - exp(-tau / T))`` leaves
    the compact plage and becomes dispersed network (Gaussian cloud of width
    ``sqrt((1.5 R)^2 + 2 D tau)``) that cancels with e-fold ``dispersed_decay_days``; it is drawn as network concentrations of
    :data:`DISPERSED_ELEMENT_MX` each, so an old region fades into enhanced network instead of a
    large weak patch.  Spots hold
    ``spot_fraction`` (leading) and :data:`TRAILING_SPOT_SHARE` of that (trailing) of ``P`` at
    maximum (their areas then follow the regions' log-normal flux distribution), their area decaying
    linearly at :data:`SPOT_DECAY_MSH_PER_DAY` (Gnevyshev-Waldmeier).  The compact plage disc of each polarity has
    area ``plage flux / plage_field_g`` plus its spot.  The compact region rotates rigidly at the
    rate of its emergence latitude (sunpy law).
    """
    age = t_mjd - region.emergence_mjd
    if age < 0 or age >= MAX_AGE_DAYS:
        return None
    rise = _rise_days(region)
    x = min(1.0, age / rise)
    grow = x * x * (3.0 - 2.0 * x)
    half = 0.5 * region.total_flux_mx
    tau = max(0.0, age - rise)
    keep = math.exp(-tau / _decay_days(region, params))
    compact = grow * half * keep
    dispersed = grow * half * (1.0 - keep) * math.exp(-tau / params.dispersed_decay_days)
    spots, radii, plage_r = [], [], []
    for k, share in enumerate((1.0, TRAILING_SPOT_SHARE)):
        spot0 = share * params.spot_fraction * half
        area0 = spot0 / _SPOT_MX_PER_MSH
        left = max(0.0, 1.0 - SPOT_DECAY_MSH_PER_DAY * tau / max(area0, 1e-9))
        spot = min(grow * spot0 * left, compact)
        if spot < 1e19:  # below a small pore: no spot
            spot = 0.0
        rs = _spot_radius_mm(spot)
        plage = compact - spot
        spots.append(spot)
        radii.append(rs)
        plage_r.append(math.sqrt(plage / (math.pi * params.plage_field_g * 1e16) + rs * rs))
    d_max = float(np.clip(70.0 * math.sqrt(region.total_flux_mx / 1e22), 12.0, 180.0))
    # the polarities separate while emerging, and stay adjacent (a gap of BIPOLE_GAP_MM) while the
    # compact discs shrink with decay, so a decaying region stays one bipole
    sep = min(d_max * (0.4 + 0.6 * grow), plage_r[0] + plage_r[1] + BIPOLE_GAP_MM)
    half_deg = 0.5 * sep / MM_PER_DEG
    tilt = math.radians(region.tilt_deg)
    toward_equator = -1.0 if region.lat_deg > 0 else 1.0
    coslat = math.cos(math.radians(region.lat_deg))
    dlat = half_deg * math.sin(tilt) * toward_equator
    dlon = half_deg * math.cos(tilt) / coslat
    rate = rate_fn if rate_fn is not None else (lambda lat: rotation_rate_deg_per_day(lat, params.rotation_model))
    shift = (float(rate(region.lat_deg)) - CARRINGTON_RATE_DEG_PER_DAY) * age
    lon_c = region.carrington_lon_deg + shift
    poles = ((region.lat_deg + dlat, float(np.mod(lon_c + dlon, 360.0))),
             (region.lat_deg - dlat, float(np.mod(lon_c - dlon, 360.0))))
    # flux-weighted centre: pole + cloud centroid x plage share (spots sit on the poles); both
    # polarities carry the same compact flux, so the centre is their midpoint.
    _, _, centroid = _plage_cloud(region.seed, _n_plage_elements(region, params))
    c_lat = region.lat_deg
    c_lon = lon_c
    if compact > 0:
        for k in range(2):
            share = (compact - spots[k]) / compact
            c_lat += 0.5 * share * plage_r[k] * centroid[k, 0] / MM_PER_DEG
            c_lon += 0.5 * share * plage_r[k] * centroid[k, 1] / MM_PER_DEG / coslat
    d_mm2_day = params.plage_diffusion_km2_s * 86400.0 * 1e-6  # km^2/s -> Mm^2/day
    disp_sigma = math.sqrt((1.5 * max(plage_r)) ** 2 + 2.0 * d_mm2_day * tau) if compact + dispersed > 0 else 0.0
    return RegionState(region, age, compact, (spots[0], spots[1]), (radii[0], radii[1]), (plage_r[0], plage_r[1]),
                       dispersed, disp_sigma, sep, shift, poles, (c_lat, float(np.mod(c_lon, 360.0))))


def region_states(params: SynthParams, t_mjd: float) -> list[RegionState]:
    """States of all regions alive at ``t_mjd`` (see :func:`region_state`)."""
    rate_fn = functools.partial(rotation_rate_deg_per_day, model=params.rotation_model)
    out = []
    for region in regions_alive(params, t_mjd):
        st = region_state(params, region, t_mjd, rate_fn)
        if st is not None:
            out.append(st)
    return out


def region_elements(params: SynthParams, states: list[RegionState], rate_fn):
    """Element populations of all regions, already rotated to the states' time.

    Compact plage: per polarity the region's cloud of clustered elements (:func:`_plage_cloud`)
    scaled to the plage disc radius.  Dispersed flux: network-like concentrations of
    :data:`DISPERSED_ELEMENT_MX` each (at most :data:`MAX_DISPERSED_ELEMENTS` per polarity) in a
    Gaussian cloud of width ``dispersed_sigma_mm``, drifting poleward at 12 m/s and sheared by
    differential rotation relative to the region's own rate.  Spots are returned as points
    (rendered analytically by :mod:`euv2mag.data.synthetic.render`).

    Parameters
    ----------
    params : SynthParams
        Generator parameters.
    states : list of RegionState
        Region states at one time (:func:`region_states`).
    rate_fn : callable
        Sidereal rotation rate (deg/day) as a function of latitude (deg), vectorised.

    Returns
    -------
    compact : tuple of three (n,) float64 ndarrays
        Latitude (deg), Carrington longitude (deg) and signed flux (Mx) of the compact plage
        elements.
    dispersed : tuple of three (m,) float64 ndarrays
        The same for the dispersed (decayed) flux elements.
    spots : list of tuple
        ``(lat deg, Carrington lon deg, signed flux Mx, penumbral radius Mm)`` per spot.
    """
    c_lat, c_lon, c_flux, d_lat, d_lon, d_flux, spots = [], [], [], [], [], [], []
    for st in states:
        reg = st.region
        coslat = math.cos(math.radians(reg.lat_deg))
        signs = (reg.leading_polarity, -reg.leading_polarity)
        pos, w, _ = _plage_cloud(reg.seed, _n_plage_elements(reg, params))
        for k in range(2):
            plat, plon = st.poles[k]
            plage = max(0.0, st.compact_flux - st.spot_flux[k])
            r_deg = st.plage_radius_mm[k] / MM_PER_DEG
            if plage > 0:
                c_lat.append(plat + r_deg * pos[k, :, 0])
                c_lon.append(plon + r_deg * pos[k, :, 1] / coslat)
                c_flux.append(signs[k] * plage * w[k])
            if st.spot_flux[k] > 0:
                spots.append((plat, plon, signs[k] * st.spot_flux[k], st.spot_radius_mm[k]))
        if st.dispersed_flux > 0:
            # network-like concentrations of DISPERSED_ELEMENT_MX each: elements appear as flux
            # leaves the compact plage and vanish as it cancels (the last one fractional)
            off = _dispersed_cloud(reg.seed, MAX_DISPERSED_ELEMENTS)
            count = min(st.dispersed_flux / DISPERSED_ELEMENT_MX, float(MAX_DISPERSED_ELEMENTS))
            n = int(math.ceil(count))
            weights = np.full(n, st.dispersed_flux / count if count >= MAX_DISPERSED_ELEMENTS else DISPERSED_ELEMENT_MX)
            if count < MAX_DISPERSED_ELEMENTS:
                weights[-1] *= count - (n - 1)
            tau = max(0.0, st.age_days - _rise_days(reg))
            s_deg = st.dispersed_sigma_mm / MM_PER_DEG
            for k in range(2):
                plat, plon = st.poles[k]
                lat = plat + s_deg * off[k, :n, 0]
                lat = np.clip(lat + 0.086 * np.sin(np.radians(2 * lat)) * tau, -89.0, 89.0)  # 12 m/s poleward
                # shear: dispersed flux rotates at its own latitude relative to the region's rate
                shear = (rate_fn(lat) - rate_fn(reg.lat_deg)) * tau
                d_lat.append(lat)
                d_lon.append(plon + s_deg * off[k, :n, 1] / coslat + shear)
                d_flux.append(signs[k] * weights)

    def cat(parts):
        return np.concatenate(parts) if parts else np.zeros(0)

    return (cat(c_lat), cat(c_lon), cat(c_flux)), (cat(d_lat), cat(d_lon), cat(d_flux)), spots
