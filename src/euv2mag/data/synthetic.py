"""The synthetic Sun: deterministic paired HMI-like LOS magnetograms and AIA 304-like images.

Every frame is a pure function of the generator parameters (:class:`SynthParams`) and the
frame time, so a resumed run gives bit-identical frames and any single frame can be re-made
alone.  Physics and sources: ``notes/synthetic-sun-physics.md`` and the README section
"The synthetic Sun".

Pipeline of one frame at time ``t``
-----------------------------------
1. Observer geometry from sunpy (``B0``, ``L0``, ``earth_distance``, ``angular_radius``);
   ``rsun_px = default_rsun_px(N)``, ``cdelt = angular radius / rsun_px``.
2. Active regions alive at ``t`` (emerged up to :data:`MAX_AGE_DAYS` earlier; catalogue in
   :mod:`euv2mag.data.synthetic_cycle`, keyed by ``(seed, day)``; :func:`region_state`).  Each
   is a compact bipole: per polarity a sunspot (umbra up to 3000 G, penumbra 1300 G; leading spot
   larger, area decaying linearly) on a disc of clustered plage elements with the parabolic
   surface density ``2 <B> (1 - (r/R)^2)``, ``<B> = plage_field_g`` (150 G), so the disc area is
   ``plage flux / 150 G`` (about ``Phi / 200 G`` with the spots: 1e21 -> ~200 MSH,
   1e22 -> ~1700 MSH).  The polarities separate while emerging and stay adjacent.  The compact
   flux decays (e-fold ``decay_days (Phi_max / 1e22)^0.5``); the decayed flux leaves the compact
   plage as network concentrations of 3e19 Mx spreading by diffusion (250 km^2/s) and cancelling
   (e-fold ``dispersed_decay_days``), so old regions fade instead of spreading into large weak
   patches.  The compact part rotates rigidly at its latitude's rate, the dispersed flux at its
   own (sunpy's ``howard`` law, coefficients read once from sunpy).
3. Quiet-Sun mixed-polarity network: junction elements on the sphere renewed daily (each
   lives two days with a triangular weight), with a polar-field bias of the epoch's sign.
4. Elements are splatted (bilinear) as flux into pixels, blurred by the element size (Mm, so the
   same Sun at any resolution; sizes below 0.3 px are not blurred) and converted to radial field
   ``B_r = flux mu / A_proj``; spots are added analytically in small cut-outs whose flux is
   normalised exactly (an under-resolved spot at 64^2-256^2 keeps its flux as a pixel average).
   LOS field ``B_r mu`` plus Gaussian noise ``sigma = noise_g N/4096 (1 + 0.5 (1 - mu))``
   (4096^2 noise block-averaged to N^2); NaN outside the disk.
5. EUV from ``|B_r|`` only (:mod:`euv2mag.data.synthetic_euv`), noise from an RNG stream that
   does not depend on the sign of B, so ``EUV(B) == EUV(-B)`` bitwise unless
   ``polarity_leak > 0``.

Truth (:func:`frame_regions_table`): per frame and visible region the flux-weighted centre and
current flux of the compact part, and ``area_msh``, the analytic area of its footprint above
30 G.  :func:`region_footprint` measures a region's footprint (area, centre) on a noise-free
rendering of that region alone (used by the detection test).

"Inside" an active region (:func:`strong_field_mean`; one definition for real and synthetic
maps): the pixels of a region found by :func:`euv2mag.audit.measurement.find_regions` (default
parameters) with ``|B_LOS| >= 100 G``; the AR's mean |B| is their area-weighted mean.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import re

import numpy as np

from ..errors import UserError
from ..geometry import MSH_MM2, RSUN_MM, DiskGeometry, default_rsun_px
from . import synthetic_cycle as sc
from .synthetic_euv import euv_forward

__all__ = [
    "SynthParams",
    "GENERATOR_VERSION",
    "MAX_AGE_DAYS",
    "parse_cadence",
    "frame_times",
    "frame_geometries",
    "regions_alive",
    "region_state",
    "region_states",
    "RegionState",
    "FRAME_REGION_COLUMNS",
    "render_field",
    "render_frame",
    "regions_table",
    "frame_regions_table",
    "strong_field_mean",
    "region_footprint",
    "AR_STRONG_FIELD_G",
    "disk_statistics",
    "synthesize",
]

GENERATOR_VERSION = 2
#: Regions older than this (days) are dropped (their flux is then below 2 % of the maximum).
MAX_AGE_DAYS = 120
#: |B_LOS| threshold (G) of :func:`strong_field_mean` (the AR mean-|B| definition).
AR_STRONG_FIELD_G = 100.0
MM_PER_DEG = RSUN_MM * math.pi / 180.0
#: Penumbral field (G) and umbral Gaussian width as a fraction of the penumbral radius.
PENUMBRA_G = 1300.0
UMBRA_FRACTION = 0.3
#: Flux per MSH of a spot (mean field of the umbra+penumbra profile, ~1.6 kG).
_SPOT_MX_PER_MSH = 1600.0 * MSH_MM2 * 1e16
#: Linear (Gnevyshev-Waldmeier) decay rate of a spot's area, MSH/day.  GW's W ~ 10 MSH/day holds
#: for white-light group areas, which include pores and penumbrae of lower mean field and are
#: ~2-3x larger per Mx than the 1.6 kG spots here; 6 MSH/day keeps a 1e22 Mx region's leading
#: spot for ~5 days and a 3e22 Mx one for ~2 weeks.
SPOT_DECAY_MSH_PER_DAY = 6.0
#: Flux (Mx) of one dispersed-flux (decayed plage) network concentration, and their largest
#: number per polarity.
DISPERSED_ELEMENT_MX = 3e19
MAX_DISPERSED_ELEMENTS = 1500
#: Largest gap (Mm) between the edges of a region's two compact plage discs.
BIPOLE_GAP_MM = 5.0
#: Threshold (G) of the truth footprint area (``frame_regions.area_msh``): the AR detector's
#: growth threshold (``notes/ar-detection-spec.md`` D5).
TRUTH_AREA_THRESHOLD_G = 30.0


@dataclasses.dataclass(frozen=True)
class SynthParams:
    """Parameters of the synthetic Sun (all stored in the store's ``params`` attribute).

    Attributes
    ----------
    start, end : str
        First and last frame time (ISO 8601, UTC); frames every ``cadence`` from ``start``.
    cadence : str
        Frame spacing, e.g. "12h", "1d", "30min".
    size : int
        Image side N in pixels (power of two).
    seed : int
        Random seed.
    polarity_leak : float
        Amount of sign information mixed into the EUV image (0 = none).
    anti_hale_fraction : float
        Fraction of active regions with anti-Hale leading polarity.
    rate_scale : float
        Multiplier of the emergence rate (5 x SSN regions per year over the whole Sun).
    log_flux_mean : float
        Mean of log10 of the regions' maximum total unsigned flux (Mx).
    spot_fraction : float
        Share of a region's flux in sunspots at maximum development.
    decay_days : float
        e-folding time (days) of the compact (spot + plage) flux of a 1e22 Mx region after
        maximum; scales as ``(Phi_max / 1e22 Mx)^0.5`` (small regions die in days, the largest
        last several rotations), clipped to 3-60 days.
    dispersed_decay_days : float
        e-folding time (days) of the decayed, dispersed flux (cancellation with the network).
    plage_field_g : float
        Mean surface-averaged field (G) of a polarity's compact plage disc.
    network_flux_mx : float
        Median flux (Mx) of one quiet-Sun network junction element.
    network_junctions : int
        Network junctions over the whole Sun per daily epoch.
    network_element_mm : float
        Gaussian width (Mm) of a network junction's flux cluster.
    element_mm : float
        Gaussian width (Mm) of compact plage elements before pixel sampling.
    plage_diffusion_km2_s : float
        Surface diffusion coefficient that spreads a region's decayed flux (km^2/s).
    noise_g : float
        HMI-like noise (G) at 4096^2; scaled by N/4096 (block averaging).
    rotation_model : str
        sunpy differential-rotation model.
    """

    start: str
    end: str
    cadence: str = "12h"
    size: int = 256
    seed: int = 0
    polarity_leak: float = 0.0
    anti_hale_fraction: float = 0.04
    rate_scale: float = 1.0
    log_flux_mean: float = 21.65
    spot_fraction: float = 0.3
    decay_days: float = 10.0
    dispersed_decay_days: float = 10.0
    plage_field_g: float = 150.0
    network_flux_mx: float = 1.6e19
    network_junctions: int = 15000
    network_element_mm: float = 2.5
    element_mm: float = 1.0
    plage_diffusion_km2_s: float = 250.0
    noise_g: float = 6.0
    rotation_model: str = "howard"

    def __post_init__(self):
        if not isinstance(self.size, int) or self.size < 32 or self.size & (self.size - 1):
            raise UserError(f"--size must be a power of two >= 32, got {self.size}")
        if not math.isfinite(self.polarity_leak) or self.polarity_leak < 0:
            raise UserError(f"--polarity-leak must be a number >= 0, got {self.polarity_leak}")
        if not 0.0 <= self.anti_hale_fraction <= 1.0:
            raise UserError(f"--anti-hale-fraction must lie in [0, 1], got {self.anti_hale_fraction}")
        if not (self.rate_scale >= 0 and math.isfinite(self.rate_scale)):
            raise UserError(f"--rate-scale must be a number >= 0, got {self.rate_scale}")
        if self.noise_g < 0 or not math.isfinite(self.noise_g):
            raise UserError(f"--noise must be a number >= 0, got {self.noise_g}")
        if self.rotation_model not in ("howard", "snodgrass", "allen", "rigid"):
            raise UserError(f"unknown rotation model {self.rotation_model!r}")
        parse_cadence(self.cadence)
        s, e = _parse_time(self.start, "--start"), _parse_time(self.end, "--end")
        if e < s:
            raise UserError(f"--end {self.end} is before --start {self.start}")

    def to_dict(self) -> dict:
        return {"generator": "euv2mag.synthetic", "generator_version": GENERATOR_VERSION, **dataclasses.asdict(self)}

    @property
    def network_params(self) -> tuple:
        return (self.seed, self.network_junctions, self.network_flux_mx)


# ---------------------------------------------------------------------------- time grid
_CADENCE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(s|sec|min|m|h|hr|d|day|days)\s*$", re.IGNORECASE)
_UNIT_DAYS = {"s": 1 / 86400, "sec": 1 / 86400, "min": 1 / 1440, "m": 1 / 1440, "h": 1 / 24, "hr": 1 / 24,
              "d": 1.0, "day": 1.0, "days": 1.0}


def parse_cadence(text: str) -> float:
    """Cadence string ("12h", "1d", "30min", "90s") -> days."""
    match = _CADENCE.match(str(text))
    if not match:
        raise UserError(f"bad cadence {text!r}: use a number and a unit, e.g. 12h, 1d, 30min")
    value = float(match.group(1)) * _UNIT_DAYS[match.group(2).lower()]
    if value <= 0:
        raise UserError(f"bad cadence {text!r}: must be positive")
    return value


def _parse_time(text: str, option: str) -> float:
    """ISO time string -> MJD (UTC)."""
    from astropy.time import Time

    try:
        return float(Time(str(text), scale="utc").mjd)
    except Exception:
        raise UserError(f"bad {option} time {text!r}: expected ISO 8601, e.g. 2011-01-01 or 2011-01-01T12:00") from None


def frame_times(params: SynthParams) -> np.ndarray:
    """Frame times (MJD, UTC): ``start + k cadence`` up to ``end`` inclusive."""
    s, e = _parse_time(params.start, "--start"), _parse_time(params.end, "--end")
    step = parse_cadence(params.cadence)
    n = int(math.floor((e - s) / step + 1e-9)) + 1
    if n > 10_000_000:
        raise UserError(f"{n} frames requested; choose a longer cadence or a shorter range")
    return s + step * np.arange(n)


def iso_time(mjd: float) -> str:
    """MJD -> ISO 8601 UTC string with milliseconds."""
    from astropy.time import Time

    return Time(float(mjd), format="mjd", scale="utc").isot


def frame_geometries(times_mjd, size: int) -> list[DiskGeometry]:
    """Earth-view geometry of each frame (sunpy ephemeris), disk centred, radius ``default_rsun_px``."""
    import astropy.units as u
    from astropy.time import Time
    from sunpy.coordinates import sun

    times = Time(np.atleast_1d(np.asarray(times_mjd, dtype=float)), format="mjd", scale="utc")
    b0 = sun.B0(times).to_value(u.deg)
    l0 = sun.L0(times).to_value(u.deg)
    dist = sun.earth_distance(times).to_value(u.m)
    radius = sun.angular_radius(times).to_value(u.arcsec)
    rsun_px = default_rsun_px(size)
    return [
        DiskGeometry(
            shape=(size, size), rsun_px=rsun_px, cdelt_arcsec=float(radius[i]) / rsun_px,
            b0_deg=float(b0[i]), l0_deg=float(l0[i]), dsun_m=float(dist[i]), time=times[i].isot,
        )
        for i in range(len(times))
    ]


# ---------------------------------------------------------------------------- regions
@functools.lru_cache(maxsize=4096)
def _day_regions(day: int, seed: int, rate_scale: float, anti_hale: float, log_flux_mean: float):
    return sc.regions_emerging_on_day(
        day, seed=seed, rate_scale=rate_scale, anti_hale_fraction=anti_hale, log_flux_mean=log_flux_mean
    )


@functools.lru_cache(maxsize=64)
def _regions_window(last_day: int, seed: int, rate_scale: float, anti_hale: float, log_flux_mean: float):
    """Regions that start emerging on days ``last_day - MAX_AGE_DAYS .. last_day`` (cached per day,
    so frames of the same day share one catalogue look-up instead of looping over 121 days)."""
    out = []
    for day in range(last_day - MAX_AGE_DAYS, last_day + 1):
        out.extend(_day_regions(day, seed, rate_scale, anti_hale, log_flux_mean))
    return tuple(out)


def regions_alive(params: SynthParams, t_mjd: float) -> list[sc.Region]:
    """Regions that have started emerging at ``t_mjd`` and are younger than :data:`MAX_AGE_DAYS`."""
    window = _regions_window(int(math.floor(t_mjd)), params.seed, params.rate_scale, params.anti_hale_fraction,
                             params.log_flux_mean)
    return [r for r in window if 0.0 <= t_mjd - r.emergence_mjd < MAX_AGE_DAYS]


@dataclasses.dataclass
class RegionState:
    """State of a region at one time.

    Fluxes are Mx per polarity, lengths Mm, positions degrees (latitude, Carrington longitude,
    already rotated to the state's time).  Index 0 of the pairs is the leading polarity.
    """

    region: sc.Region
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


def _decay_days(region: sc.Region, params: "SynthParams") -> float:
    """e-folding time (days) of a region's compact flux: ``decay_days (Phi_max / 1e22 Mx)^0.5``, 3-60 d."""
    return float(np.clip(params.decay_days * math.sqrt(region.total_flux_mx / 1e22), 3.0, 60.0))


def _rise_days(region: sc.Region) -> float:
    return 1.5 + 1.5 * float(np.clip((math.log10(region.total_flux_mx) - 20.5) / 2.7, 0.0, 1.0))


def _spot_peak_g(flux_mx: float) -> float:
    """Umbral peak field (G) of a spot of flux ``flux_mx``: 1800 G (pores) ... 3000 G at >= 1e22 Mx."""
    return 1800.0 + 1200.0 * float(np.clip(math.log10(max(flux_mx, 1e19) / 1e20) / 2.0, 0.0, 1.0))


def _spot_radius_mm(flux_mx: float) -> float:
    """Penumbral radius (Mm) of a spot: flux = pi r^2 (B_pen + 0.18 (B_u - B_pen))."""
    if flux_mx <= 0:
        return 0.0
    b_u = _spot_peak_g(flux_mx)
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


def _n_plage_elements(region: sc.Region, params: "SynthParams") -> int:
    area_mm2 = 0.5 * region.total_flux_mx / (params.plage_field_g * 1e16)
    return int(np.clip(area_mm2 / 2.0, 40, 3000))


def region_state(params: SynthParams, region: sc.Region, t_mjd: float, rate_fn=None) -> RegionState | None:
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
    ``spot_fraction`` (leading) and half that (trailing) of ``P`` at maximum, their area decaying
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
    for k, share in enumerate((1.0, 0.5)):
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
    rate = rate_fn if rate_fn is not None else (lambda lat: sc.rotation_rate_deg_per_day(lat, params.rotation_model))
    shift = (float(rate(region.lat_deg)) - sc.CARRINGTON_RATE_DEG_PER_DAY) * age
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
    rate_fn = functools.partial(sc.rotation_rate_deg_per_day, model=params.rotation_model)
    out = []
    for region in regions_alive(params, t_mjd):
        st = region_state(params, region, t_mjd, rate_fn)
        if st is not None:
            out.append(st)
    return out


@functools.lru_cache(maxsize=8)
def _network_epoch(day: int, seed: int, n: int, flux_mx: float):
    """Network junctions of one daily epoch: (lat, carrington lon, signed flux w/o polar bias, uniform)."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 2, int(day) + 1_000_000])
    lat = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
    lon = rng.uniform(0.0, 360.0, n)
    flux = flux_mx * np.exp(0.8 * rng.standard_normal(n))
    u = rng.uniform(0.0, 1.0, n)
    return lat, lon, flux, u


def _network_elements(params: SynthParams, t_mjd: float):
    """Quiet-Sun network elements at ``t_mjd``: lat, carrington lon, signed flux (Mx)."""
    lats, lons, fluxes = [], [], []
    base = int(math.floor(t_mjd))
    year = float(sc.decimal_year(t_mjd))
    bias = {"N": sc.polar_field_sign("N", year), "S": sc.polar_field_sign("S", year)}
    for day in (base, base + 1):
        weight = 1.0 - abs(t_mjd - day)
        if weight <= 0:
            continue
        lat, lon, flux, u = _network_epoch(day, params.seed, params.network_junctions, params.network_flux_mx)
        p_plus = np.full(lat.shape, 0.5)
        polar = np.abs(lat) > 55.0
        p_plus[polar & (lat > 0)] = 0.5 * (1.0 + 0.35 * bias["N"])
        p_plus[polar & (lat < 0)] = 0.5 * (1.0 + 0.35 * bias["S"])
        sign = np.where(u < p_plus, 1.0, -1.0)
        lats.append(lat)
        lons.append(lon)
        fluxes.append(weight * sign * flux)
    return np.concatenate(lats), np.concatenate(lons), np.concatenate(fluxes)


def _region_elements(params: SynthParams, states: list[RegionState], rate_fn):
    """Element populations of all regions, already rotated to the states' time.

    Returns
    -------
    compact : (lat, lon, signed flux) arrays of the compact plage elements
    dispersed : (lat, lon, signed flux) arrays of the dispersed (decayed) flux elements
    spots : list of (lat, lon, signed flux, penumbral radius Mm)
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


def _splat(x, y, w, shape) -> np.ndarray:
    """Bilinear splat of weights ``w`` at pixel positions (x column, y row) onto a grid."""
    ny, nx = shape
    ok = np.isfinite(x) & np.isfinite(y) & (x >= 0) & (y >= 0) & (x <= nx - 1) & (y <= ny - 1)
    x, y, w = x[ok], y[ok], w[ok]
    x0 = np.minimum(np.floor(x).astype(np.int64), nx - 2)
    y0 = np.minimum(np.floor(y).astype(np.int64), ny - 2)
    fx, fy = x - x0, y - y0
    idx = y0 * nx + x0
    out = np.bincount(idx, w * (1 - fx) * (1 - fy), minlength=ny * nx)
    out += np.bincount(idx + 1, w * fx * (1 - fy), minlength=ny * nx)
    out += np.bincount(idx + nx, w * (1 - fx) * fy, minlength=ny * nx)
    out += np.bincount(idx + nx + 1, w * fx * fy, minlength=ny * nx)
    return out.reshape(ny, nx)


def _add_spot(br: np.ndarray, geometry: DiskGeometry, plat: float, plon: float, flux: float, radius_mm: float):
    """Add one sunspot (umbra + penumbra, radial field in G) to ``br`` in place.

    Profile on the surface: ``B_pen T(r / R) + (B_u - B_pen) exp(-r^2 / (2 (0.3 R)^2))`` with
    ``T`` a soft top hat (edge 0.1 R), both widened by the pixel box (``pix / sqrt(12)``); the
    sampled cut-out is rescaled so that its flux equals ``flux`` exactly (under-resolved spots at
    small image sizes keep their flux as a pixel average).  Distances use the local tangent plane
    (foreshortened by ``mu`` along the radial direction).
    """
    from scipy.special import erfc

    px, py, smu = geometry.carrington_to_pixel(plat, plon)
    px, py, smu = float(px), float(py), float(smu)
    if not np.isfinite(px) or smu <= 0.05:
        return
    pix = geometry.mm_per_px
    soft = math.sqrt((0.1 * radius_mm) ** 2 + pix * pix / 12.0)
    sig_u = UMBRA_FRACTION * radius_mm
    sig_eff = math.sqrt(sig_u**2 + pix * pix / 12.0)
    b_u = _spot_peak_g(abs(flux))
    half = int(math.ceil((radius_mm + 3.0 * soft) / (pix * smu))) + 1
    ny, nx = br.shape
    r0, r1 = max(0, int(py) - half), min(ny, int(py) + half + 2)
    c0, c1 = max(0, int(px) - half), min(nx, int(px) + half + 2)
    if r0 >= r1 or c0 >= c1:
        return
    cx, cy = geometry.center_px
    rx, ry = px - cx, py - cy
    norm = math.hypot(rx, ry)
    rx, ry = (rx / norm, ry / norm) if norm > 0 else (1.0, 0.0)
    dx = (np.arange(c0, c1) - px)[None, :]
    dy = (np.arange(r0, r1) - py)[:, None]
    along = (dx * rx + dy * ry) / smu
    across = -dx * ry + dy * rx
    d = np.hypot(along, across) * pix
    prof = PENUMBRA_G * 0.5 * erfc((d - radius_mm) / (math.sqrt(2.0) * soft))
    prof += (b_u - PENUMBRA_G) * (sig_u / sig_eff) ** 2 * np.exp(-0.5 * (d / sig_eff) ** 2)
    mu = geometry.mu[r0:r1, c0:c1]
    ok = np.isfinite(mu) & (mu > 0)
    total = float(np.sum(prof[ok] / mu[ok])) * pix * pix * 1e16  # Mx per G of profile
    if total <= 0:
        return
    br[r0:r1, c0:c1] += np.where(ok, prof * (abs(flux) / total) * math.copysign(1.0, flux), 0.0)


def render_field(params: SynthParams, t_mjd: float, geometry: DiskGeometry, *, sign: float = 1.0,
                 states: list[RegionState] | None = None):
    """Noise-free radial field ``B_r`` (G, NaN off disk) of the synthetic Sun at ``t_mjd``.

    Parameters
    ----------
    sign : float
        Multiplies the field (+1, or -1 for the B -> -B control).
    states : list of RegionState, optional
        Region states to render (default: all regions alive at ``t_mjd``); the quiet-Sun network
        is rendered in any case unless ``params.network_junctions`` is 0.

    Returns
    -------
    br : (N, N) float64 ndarray
        Radial field in G.
    states : list of RegionState
        The rendered region states.
    """
    from scipy.ndimage import gaussian_filter

    rate_fn = functools.partial(sc.rotation_rate_deg_per_day, model=params.rotation_model)
    if states is None:
        states = region_states(params, t_mjd)
    nlat, nlon, nflux = _network_elements(params, t_mjd)
    compact, dispersed, spots = _region_elements(params, states, rate_fn)
    # Each population is splatted as flux (bilinear) and blurred by its element width; the network
    # and the dispersed flux share one blur.  Flux per pixel -> B_r = flux mu / A_proj.
    grid = np.zeros(geometry.shape)
    populations = ((((nlat, nlon, nflux), dispersed), params.network_element_mm), ((compact,), params.element_mm))
    for pops, width in populations:
        part = np.zeros(geometry.shape)
        for lat, lon, flux in pops:
            if lat.size:
                x, y, _ = geometry.carrington_to_pixel(lat, lon)
                part += _splat(x, y, sign * flux, geometry.shape)
        sigma_px = width / geometry.mm_per_px
        if sigma_px > 0.3:
            part = gaussian_filter(part, sigma_px, mode="constant", truncate=3.0)
        grid += part
    mu_map = geometry.mu
    br = grid * np.nan_to_num(mu_map) / (geometry.projected_pixel_area_mm2 * 1e16)
    for plat, plon, sflux, radius in spots:
        _add_spot(br, geometry, plat, plon, sign * sflux, radius)
    br[~np.isfinite(mu_map)] = np.nan
    return br, states


#: Columns of the ``frame_regions`` truth table (:func:`frame_regions_table`).
FRAME_REGION_COLUMNS = ("frame", "region_id", "lat_deg", "stonyhurst_lon_deg", "carrington_lon_deg", "flux_mx", "mu",
                        "leading_polarity", "hale_conforming", "age_days", "separation_mm", "plage_radius_mm",
                        "spot_flux_mx", "dispersed_flux_mx", "area_msh")


def _frame_key(t_mjd: float) -> int:
    return int(round(float(t_mjd) * 86400.0))


def render_frame(params: SynthParams, t_mjd: float, geometry: DiskGeometry, *, sign: float = 1.0,
                 offlimb: bool = False) -> dict:
    """One frame: ``mag`` (LOS, G), ``euv`` (DN/s), ``br`` (noise-free radial field) and region states.

    Off-disk pixels are NaN in ``mag``; in ``euv`` too unless ``offlimb`` (the FITS writer's
    view, with the off-limb chromospheric rim).
    """
    br, states = render_field(params, t_mjd, geometry, sign=sign)
    mu = geometry.mu
    key = _frame_key(t_mjd)
    rng = np.random.default_rng([params.seed & 0xFFFFFFFF, 3, key])
    sigma = params.noise_g * geometry.shape[1] / 4096.0 * (1.0 + 0.5 * (1.0 - np.nan_to_num(mu)))
    noise = rng.standard_normal(geometry.shape) * sigma
    mag = (br * mu + noise).astype(np.float32)
    euv_rng = np.random.default_rng([params.seed & 0xFFFFFFFF, 4, key])
    euv = euv_forward(br, geometry, euv_rng, polarity_leak=params.polarity_leak, offlimb=offlimb)
    return {"mag": mag, "euv": euv, "br": br, "states": states}


# ---------------------------------------------------------------------------- truth tables
def frame_regions_table(params: SynthParams, times_mjd, geometries) -> "pandas.DataFrame":
    """One row per (frame, region) whose flux-weighted centre is on the visible disk.

    Columns: ``frame``, ``region_id``, ``lat_deg``, ``stonyhurst_lon_deg``,
    ``carrington_lon_deg`` (flux-weighted centre of the region's compact part: spots + compact
    plage, rotated to the frame time), ``flux_mx`` (current total unsigned flux of the compact
    part), ``mu`` (at the centre), ``leading_polarity``, ``hale_conforming``, ``age_days``,
    ``separation_mm`` (distance of the two polarity centres), ``plage_radius_mm`` (mean radius of
    the two compact plage discs), ``spot_flux_mx`` (both spots), ``dispersed_flux_mx`` (decayed flux
    spread as network, both polarities, not in ``flux_mx``), ``area_msh`` (deprojected area of the
    region's own noise-free footprint above 30 G, :attr:`RegionState.area_msh`).
    """
    import pandas as pd

    rows = []
    for i, (t, geom) in enumerate(zip(times_mjd, geometries)):
        for st in region_states(params, float(t)):
            if st.total_flux <= 0:
                continue
            lat, clon = st.centre
            _, _, mu = geom.carrington_to_pixel(lat, clon)
            mu = float(mu)
            if mu <= 0:
                continue
            region = st.region
            rows.append({
                "frame": i, "region_id": region.region_id, "lat_deg": lat,
                "stonyhurst_lon_deg": float(np.mod(clon - geom.l0_deg + 180.0, 360.0) - 180.0),
                "carrington_lon_deg": clon, "flux_mx": st.total_flux, "mu": mu,
                "leading_polarity": region.leading_polarity, "hale_conforming": region.hale_conforming,
                "age_days": st.age_days, "separation_mm": st.separation_mm,
                "plage_radius_mm": 0.5 * (st.plage_radius_mm[0] + st.plage_radius_mm[1]),
                "spot_flux_mx": st.spot_flux[0] + st.spot_flux[1],
                "dispersed_flux_mx": 2.0 * st.dispersed_flux, "area_msh": st.area_msh,
            })
    return pd.DataFrame(rows, columns=list(FRAME_REGION_COLUMNS))


def regions_table(params: SynthParams, times_mjd) -> "pandas.DataFrame":
    """One row per region alive at any of ``times_mjd`` (the injected truth)."""
    import pandas as pd

    seen = {}
    for t in times_mjd:
        for region in regions_alive(params, float(t)):
            seen.setdefault(region.region_id, region)
    rows = [{
        "region_id": r.region_id, "emergence_time": iso_time(r.emergence_mjd),
        "carrington_lon_deg": r.carrington_lon_deg, "lat_deg": r.lat_deg, "total_flux_mx": r.total_flux_mx,
        "tilt_deg": r.tilt_deg, "leading_polarity": r.leading_polarity, "hale_conforming": r.hale_conforming,
        "cycle": r.cycle, "hemisphere": r.hemisphere,
    } for r in sorted(seen.values(), key=lambda r: r.region_id)]
    columns = ["region_id", "emergence_time", "carrington_lon_deg", "lat_deg", "total_flux_mx", "tilt_deg",
               "leading_polarity", "hale_conforming", "cycle", "hemisphere"]
    return pd.DataFrame(rows, columns=columns)


# ---------------------------------------------------------------------------- measurements
def region_footprint(params: SynthParams, state: RegionState, geometry: DiskGeometry,
                     threshold_g: float = TRUTH_AREA_THRESHOLD_G) -> dict:
    """Truth footprint of one region from a noise-free rendering of that region alone.

    The region alone (spots, compact plage and its dispersed, decayed flux; no network, no other
    region, no noise) is rendered at ``geometry``; its footprint is the set of pixels with
    ``|B_r| > threshold_g`` (30 G, the AR detector's growth threshold, applied to its radial
    estimate) that are 8-connected to the compact part (spots + compact plage above the same
    threshold): isolated dispersed-flux concentrations away from the region do not count.
    """
    from scipy import ndimage

    alone = dataclasses.replace(params, network_junctions=0)
    t = state.region.emergence_mjd + state.age_days
    br, _ = render_field(alone, t, geometry, states=[state])
    core, _ = render_field(alone, t, geometry, states=[dataclasses.replace(state, dispersed_flux=0.0)])
    area = geometry.pixel_area_mm2
    above = np.isfinite(br) & (np.abs(np.nan_to_num(br)) > threshold_g) & np.isfinite(area)
    seed = above & (np.abs(np.nan_to_num(core)) > threshold_g)
    lab, _ = ndimage.label(above, structure=np.ones((3, 3)))
    keep = np.zeros(lab.max() + 1, dtype=bool)
    keep[np.unique(lab[seed])] = True
    keep[0] = False
    sel = keep[lab]
    n = int(sel.sum())
    if n == 0:
        return {"area_msh": 0.0, "lat_deg": math.nan, "lon_deg": math.nan, "flux_mx": 0.0, "n_px": 0}
    w = np.abs(br[sel] * geometry.mu[sel]) * area[sel]
    la, lo = np.radians(geometry.lat_deg[sel]), np.radians(geometry.stonyhurst_lon_deg[sel])
    v = np.array([np.sum(w * np.cos(la) * np.cos(lo)), np.sum(w * np.cos(la) * np.sin(lo)), np.sum(w * np.sin(la))])
    return {
        "area_msh": float(np.sum(area[sel]) / MSH_MM2),
        "lat_deg": float(np.degrees(np.arctan2(v[2], math.hypot(v[0], v[1])))),
        "lon_deg": float(np.degrees(np.arctan2(v[1], v[0]))),
        "flux_mx": float(np.sum(w) * 1e16),
        "n_px": n,
    }


def strong_field_mean(mag: np.ndarray, geometry: DiskGeometry, labels: np.ndarray,
                      threshold_g: float = AR_STRONG_FIELD_G) -> np.ndarray:
    """Mean |B_LOS| (G) of each labelled region over its pixels with ``|B_LOS| >= threshold_g``.

    This is the project's one definition of "the mean |B| inside an active region", applied
    alike to real HMI maps and synthetic frames: the region is a label of
    :func:`euv2mag.audit.measurement.find_regions` (default parameters), the mean is weighted by the
    foreshortening-corrected pixel area, over the region's pixels whose LOS field exceeds 100 G
    in magnitude (plage and spots; the weak network that the detector's 30 G growth takes in is
    left out).

    Returns
    -------
    (n_labels,) float64 ndarray
        One value per label 1..max(labels); NaN where no pixel qualifies.
    """
    labels = np.asarray(labels)
    n = int(labels.max()) if labels.size else 0
    b = np.abs(np.nan_to_num(np.asarray(mag, dtype=np.float64)))
    area = np.nan_to_num(geometry.pixel_area_mm2)
    sel = (labels > 0) & (b >= threshold_g) & (area > 0)
    idx = labels[sel]
    num = np.bincount(idx, weights=b[sel] * area[sel], minlength=n + 1)[1:]
    den = np.bincount(idx, weights=area[sel], minlength=n + 1)[1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def disk_statistics(mag: np.ndarray, geometry: DiskGeometry) -> dict:
    """Calibration statistics of a LOS magnetogram (r < 0.95 R).

    Returns a dict with ``frac_gt_50``, ``frac_gt_100``, ``frac_gt_500`` (fractions of disk
    pixels with |B| above 50/100/500 G), ``tumf_mx`` (sum of |B| A over pixels with |B| > 10 G,
    A the foreshortening-corrected pixel area in cm^2) and ``clip100_share`` (the share of that
    TUMF kept when B is clipped to +-100 G).
    """
    inside = geometry.disk_mask(0.95) & np.isfinite(mag)
    b = np.abs(mag[inside]).astype(np.float64)
    area = geometry.pixel_area_cm2[inside]
    out = {f"frac_gt_{t}": float(np.mean(b > t)) for t in (50, 100, 500)}
    sel = b > 10.0
    tumf = float(np.sum(b[sel] * area[sel]))
    out["tumf_mx"] = tumf
    out["clip100_share"] = float(np.sum(np.minimum(b[sel], 100.0) * area[sel]) / tumf) if tumf > 0 else float("nan")
    return out


# ---------------------------------------------------------------------------- store writer
def synthesize(out, params: SynthParams, *, fits_dir=None, progress: bool | None = None, on_frame=None) -> dict:
    """Write (or resume) a synthetic store at ``out``; optionally the FITS pairs in ``fits_dir``.

    Returns a summary dict (frames, frames written now, regions, seconds in render / write).
    """
    import time
    from pathlib import Path

    from ..progress import progress_bar
    from .store import StoreWriter

    times = frame_times(params)
    geometries = frame_geometries(times, params.size)
    writer = StoreWriter.open(
        out, n_frames=len(times), shape=(params.size, params.size), arrays=("euv", "mag"), kind="synthetic",
        params=params.to_dict(),
        provenance={"generator": "euv2mag.data.synthetic", "physics": "notes/synthetic-sun-physics.md"},
    )
    pending = writer.pending()
    if fits_dir is not None:
        from .synthetic_fits import fits_names

        from .._io import ensure_dir

        fits_dir = ensure_dir(Path(fits_dir))
        pending = sorted(set(pending) | {
            i for i, g in enumerate(geometries)
            if not all((fits_dir / name).exists() for name in fits_names(g.time))
        })
    t_render = t_write = 0.0
    with progress_bar("synth", len(pending), enabled=progress) as advance:
        for i in pending:
            t0 = time.perf_counter()
            frame = render_frame(params, float(times[i]), geometries[i])
            t1 = time.perf_counter()
            writer.write_frame(i, geometries[i], euv=frame["euv"], mag=frame["mag"])
            t2 = time.perf_counter()
            if fits_dir is not None:
                from .synthetic_fits import write_fits_pair

                write_fits_pair(fits_dir, params, float(times[i]), geometries[i], frame["euv"], frame["mag"])
            t3 = time.perf_counter()
            t_render += (t1 - t0) + (t3 - t2)
            t_write += t2 - t1
            if on_frame is not None:
                on_frame(i)
            advance()
    regions = regions_table(params, times)
    writer.write_table("regions", regions)
    writer.write_table("frame_regions", frame_regions_table(params, times, geometries))
    writer.finish()
    return {"frames": len(times), "written": len(pending), "regions": len(regions),
            "render_s": t_render, "write_s": t_write}
