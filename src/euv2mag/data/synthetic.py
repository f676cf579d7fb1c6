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
   :mod:`euv2mag.data.synthetic_cycle`, keyed by ``(seed, day)``).  Each is a bipole: two
   Gaussian sunspots (umbral peak up to 3000 G, spot area decaying at 10 MSH/day) plus plage
   elements around each polarity that spread by surface diffusion (D = 250 km^2/s) while the
   region's flux decays (e-fold :attr:`SynthParams.decay_days`).  Every point rotates with
   sunpy's differential-rotation law (``howard``, sidereal, Carrington frame).
3. Quiet-Sun mixed-polarity network: junction elements on the sphere renewed daily (each
   lives two days with a triangular weight), with a polar-field bias of the epoch's sign.
4. Elements are splatted (bilinear) as flux into pixels, blurred by the element size and
   converted to radial field ``B_r = flux mu / A_proj``; spots are added analytically in
   small cut-outs.  LOS field ``B_r mu`` plus Gaussian noise ``sigma = noise_g N/4096
   (1 + 0.5 (1 - mu))``; NaN outside the disk.
5. EUV from ``|B_r|`` only (:mod:`euv2mag.data.synthetic_euv`), noise from an RNG stream that
   does not depend on the sign of B, so ``EUV(B) == EUV(-B)`` bitwise unless
   ``polarity_leak > 0``.

"Inside" an active region (for the mean-|B| check, :func:`region_mean_abs_field`): the
pixels within the region's footprint (great-circle distance from the bipole centre below
half the separation + 2.5 plage widths, r < 0.95 R) whose ``|B_LOS| / mu`` exceeds 30 G
after the detector's 1.5 Mm smoothing, i.e. the AR detector's segmentation threshold
(``notes/ar-detection-spec.md`` D1/D2).
"""
from __future__ import annotations

import dataclasses
import functools
import math
import re

import numpy as np

from ..errors import UserError
from ..geometry import RSUN_MM, DiskGeometry, default_rsun_px
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
    "render_field",
    "render_frame",
    "regions_table",
    "frame_regions_table",
    "region_mean_abs_field",
    "disk_statistics",
    "synthesize",
]

GENERATOR_VERSION = 1
#: Regions older than this (days) are dropped (their flux is then below 2 % of the maximum).
MAX_AGE_DAYS = 120
MM_PER_DEG = RSUN_MM * math.pi / 180.0
_SPOT_MX_PER_MSH = 4.6e19  # ~1.5 kG mean spot field x 1 MSH


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
        e-folding time (days) of a region's flux after emergence.
    network_flux_mx : float
        Median flux (Mx) of one quiet-Sun network junction element.
    network_junctions : int
        Network junctions over the whole Sun per daily epoch.
    network_element_mm : float
        Gaussian width (Mm) of a network junction's flux cluster.
    element_mm : float
        Gaussian width (Mm) of plage elements before pixel sampling.
    plage_diffusion_km2_s : float
        Surface diffusion coefficient that spreads a region's plage (km^2/s).
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
    log_flux_mean: float = 21.8
    spot_fraction: float = 0.3
    decay_days: float = 30.0
    network_flux_mx: float = 1.6e19
    network_junctions: int = 15000
    network_element_mm: float = 2.5
    element_mm: float = 2.0
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


def regions_alive(params: SynthParams, t_mjd: float) -> list[sc.Region]:
    """Regions that have started emerging at ``t_mjd`` and are younger than :data:`MAX_AGE_DAYS`."""
    out = []
    last = int(math.floor(t_mjd))
    for day in range(last - MAX_AGE_DAYS, last + 1):
        for region in _day_regions(day, params.seed, params.rate_scale, params.anti_hale_fraction, params.log_flux_mean):
            if 0.0 <= t_mjd - region.emergence_mjd < MAX_AGE_DAYS:
                out.append(region)
    return out


@dataclasses.dataclass
class RegionState:
    """State of a region at one time (fluxes per polarity in Mx, positions in deg)."""

    region: sc.Region
    age_days: float
    flux_per_polarity: float
    spot_flux: tuple[float, float]  # leading, trailing
    separation_mm: float
    centre: tuple[float, float]  # lat, carrington lon of the reference point (rotated)
    poles: tuple[tuple[float, float], tuple[float, float]]  # (lat, lon0) of leading, trailing (unrotated lon)
    plage_sigma_mm: float

    @property
    def total_flux(self) -> float:
        return 2.0 * self.flux_per_polarity


def _rise_days(region: sc.Region) -> float:
    return 1.5 + 1.5 * float(np.clip((math.log10(region.total_flux_mx) - 20.5) / 2.7, 0.0, 1.0))


def region_state(params: SynthParams, region: sc.Region, t_mjd: float, rate_fn=None) -> RegionState | None:
    """Fluxes and positions of ``region`` at ``t_mjd`` (None before emergence or after :data:`MAX_AGE_DAYS`)."""
    age = t_mjd - region.emergence_mjd
    if age < 0 or age >= MAX_AGE_DAYS:
        return None
    rise = _rise_days(region)
    x = min(1.0, age / rise)
    grow = x * x * (3.0 - 2.0 * x)
    phi_max = 0.5 * region.total_flux_mx
    decay = math.exp(-max(0.0, age - rise) / params.decay_days)
    phi = grow * phi_max * decay
    spot0 = params.spot_fraction * phi_max
    area_msh = spot0 / _SPOT_MX_PER_MSH
    spot_left = max(0.0, 1.0 - 10.0 * max(0.0, age - rise) / max(area_msh, 1e-9))
    lead = min(grow * spot0 * spot_left, phi)
    trail = min(0.5 * grow * spot0 * spot_left, phi)
    d_max = float(np.clip(70.0 * math.sqrt(region.total_flux_mx / 1e22), 12.0, 180.0))
    sep = d_max * (0.4 + 0.6 * grow)
    half_deg = 0.5 * sep / MM_PER_DEG
    tilt = math.radians(region.tilt_deg)
    toward_equator = -1.0 if region.lat_deg > 0 else 1.0
    dlat = half_deg * math.sin(tilt) * toward_equator
    dlon = half_deg * math.cos(tilt) / math.cos(math.radians(region.lat_deg))
    lead_pos = (region.lat_deg + dlat, region.carrington_lon_deg + dlon)
    trail_pos = (region.lat_deg - dlat, region.carrington_lon_deg - dlon)
    rate = rate_fn if rate_fn is not None else (lambda lat: sc.rotation_rate_deg_per_day(lat, params.rotation_model))
    shift = (float(rate(region.lat_deg)) - sc.CARRINGTON_RATE_DEG_PER_DAY) * age
    centre = (region.lat_deg, float(np.mod(region.carrington_lon_deg + shift, 360.0)))
    sigma0 = max(3.0, 0.2 * d_max)
    d_mm2_day = params.plage_diffusion_km2_s * 86400.0 * 1e-6  # km^2/s -> Mm^2/day
    plage_sigma = math.sqrt(sigma0**2 + 2.0 * d_mm2_day * age)  # per axis
    return RegionState(region, age, phi, (lead, trail), sep, centre, (lead_pos, trail_pos), plage_sigma)


@functools.lru_cache(maxsize=2048)
def _plage_offsets(seed: int, n: int) -> np.ndarray:
    """(2, n, 2) unit-normal offsets of the plage elements of a region's two polarities."""
    return np.random.default_rng([seed, 11]).standard_normal((2, n, 2))


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
    """Plage elements of all regions: lat, carrington lon at emergence, signed flux (Mx), age (days); spots."""
    lats, lons, fluxes, ages, spots = [], [], [], [], []
    for st in states:
        reg = st.region
        n = int(np.clip(reg.total_flux_mx / 4e19, 40, 600))
        offsets = _plage_offsets(reg.seed, n)
        signs = (reg.leading_polarity, -reg.leading_polarity)
        for k in range(2):
            plat, plon = st.poles[k]
            spot = st.spot_flux[k]
            plage = max(0.0, st.flux_per_polarity - spot)
            sig_deg = st.plage_sigma_mm / MM_PER_DEG
            lat = plat + sig_deg * offsets[k, :, 0]
            lat = np.clip(lat + 0.086 * np.sin(np.radians(2 * lat)) * st.age_days, -89.0, 89.0)  # 12 m/s poleward
            lon = plon + sig_deg * offsets[k, :, 1] / np.cos(np.radians(plat))
            lats.append(lat)
            lons.append(lon)
            fluxes.append(np.full(n, signs[k] * plage / n))
            ages.append(np.full(n, st.age_days))
            if spot > 0:
                spots.append((plat, plon, signs[k] * spot, st.age_days))
    if not lats:
        empty = np.zeros(0)
        return empty, empty, empty, empty, spots
    return np.concatenate(lats), np.concatenate(lons), np.concatenate(fluxes), np.concatenate(ages), spots


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


def _spot_peak_g(flux_mx: float) -> float:
    """Umbral peak field (G) of a spot of flux ``flux_mx``: 1800 G small ... 3000 G at >= 1e22 Mx."""
    return 1800.0 + 1200.0 * float(np.clip(math.log10(max(flux_mx, 1e19) / 1e20) / 2.0, 0.0, 1.0))


def render_field(params: SynthParams, t_mjd: float, geometry: DiskGeometry, *, sign: float = 1.0):
    """Noise-free radial field ``B_r`` (G, NaN off disk) of the synthetic Sun at ``t_mjd``.

    Parameters
    ----------
    sign : float
        Multiplies the field (+1, or -1 for the B -> -B control).

    Returns
    -------
    br : (N, N) float64 ndarray
        Radial field in G.
    states : list of RegionState
        The regions alive at ``t_mjd``.
    """
    from scipy.ndimage import gaussian_filter

    rate_fn = functools.partial(sc.rotation_rate_deg_per_day, model=params.rotation_model)
    states = [s for s in (region_state(params, r, t_mjd, rate_fn) for r in regions_alive(params, t_mjd)) if s]
    nlat, nlon, nflux = _network_elements(params, t_mjd)
    rlat, rlon, rflux, rage, spots = _region_elements(params, states, rate_fn)
    # Differential rotation in the Carrington frame: plage elements rotate at their own latitude
    # since emergence; network elements (renewed daily) are fixed in the Carrington frame.
    # Each population is splatted as flux and blurred by its element width.
    grid = np.zeros(geometry.shape)
    for lat, lon0, age, flux, width in ((nlat, nlon, None, nflux, params.network_element_mm),
                                        (rlat, rlon, rage, rflux, params.element_mm)):
        if not lat.size:
            continue
        lon = lon0 if age is None else lon0 + (rate_fn(lat) - sc.CARRINGTON_RATE_DEG_PER_DAY) * age
        x, y, _ = geometry.carrington_to_pixel(lat, lon)
        part = _splat(x, y, sign * flux, geometry.shape)
        sigma_px = width / geometry.mm_per_px
        if sigma_px > 0.3:
            part = gaussian_filter(part, sigma_px, mode="constant", truncate=3.0)
        grid += part
    mu_map = geometry.mu
    br = grid * np.nan_to_num(mu_map) / (geometry.projected_pixel_area_mm2 * 1e16)
    # Sunspots: Gaussian in the surface plane, peak B_r, widened by the pixel box (flux kept).
    if spots:
        lat_map, lon_map = geometry.lat_deg, geometry.carrington_lon_deg
        pix_mm = geometry.mm_per_px
        for plat, plon, sflux, sage in spots:
            sflux = sign * sflux
            slon = float(np.mod(plon + (rate_fn(plat) - sc.CARRINGTON_RATE_DEG_PER_DAY) * sage, 360.0))
            peak = _spot_peak_g(abs(sflux))
            sigma_mm = math.sqrt(abs(sflux) / (2 * math.pi * peak)) / 1e8
            sigma_eff = math.sqrt(sigma_mm**2 + pix_mm**2 / 12.0)
            peak_eff = peak * (sigma_mm / sigma_eff) ** 2
            px, py, smu = geometry.carrington_to_pixel(plat, slon)
            if not np.isfinite(px) or smu <= 0.02:
                continue
            half = int(math.ceil(4.0 * sigma_eff / pix_mm)) + 1
            r0, r1 = max(0, int(py) - half), min(geometry.shape[0], int(py) + half + 2)
            c0, c1 = max(0, int(px) - half), min(geometry.shape[1], int(px) + half + 2)
            la = np.radians(lat_map[r0:r1, c0:c1])
            dl = np.radians(lon_map[r0:r1, c0:c1] - slon)
            cosd = np.sin(la) * math.sin(math.radians(plat)) + np.cos(la) * math.cos(math.radians(plat)) * np.cos(dl)
            d_mm = np.arccos(np.clip(cosd, -1.0, 1.0)) * RSUN_MM
            add = math.copysign(peak_eff, sflux) * np.exp(-0.5 * (d_mm / sigma_eff) ** 2)
            br[r0:r1, c0:c1] += np.nan_to_num(add)
    br[~np.isfinite(mu_map)] = np.nan
    return br, states


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
    """One row per (frame, region) with the region's reference point on the visible disk."""
    import pandas as pd

    rate_fn = functools.partial(sc.rotation_rate_deg_per_day, model=params.rotation_model)
    rows = []
    for i, (t, geom) in enumerate(zip(times_mjd, geometries)):
        for region in regions_alive(params, float(t)):
            st = region_state(params, region, float(t), rate_fn)
            if st is None or st.total_flux <= 0:
                continue
            lat, clon = st.centre
            _, _, mu = geom.carrington_to_pixel(lat, clon)
            mu = float(mu)
            if mu <= 0:
                continue
            rows.append({
                "frame": i, "region_id": region.region_id, "lat_deg": lat,
                "stonyhurst_lon_deg": float(np.mod(clon - geom.l0_deg + 180.0, 360.0) - 180.0),
                "carrington_lon_deg": clon, "flux_mx": st.total_flux, "mu": mu,
                "leading_polarity": region.leading_polarity, "hale_conforming": region.hale_conforming,
                "age_days": st.age_days, "separation_mm": st.separation_mm,
                "plage_sigma_mm": st.plage_sigma_mm, "spot_flux_mx": st.spot_flux[0] + st.spot_flux[1],
            })
    columns = ["frame", "region_id", "lat_deg", "stonyhurst_lon_deg", "carrington_lon_deg", "flux_mx", "mu",
               "leading_polarity", "hale_conforming", "age_days", "separation_mm", "plage_sigma_mm", "spot_flux_mx"]
    return pd.DataFrame(rows, columns=columns)


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
def region_mean_abs_field(mag: np.ndarray, geometry: DiskGeometry, lat_deg: float, carrington_lon_deg: float,
                          radius_mm: float, threshold_g: float = 30.0) -> tuple[float, int]:
    """Mean |B_LOS| (G) over a region's footprint pixels above the detector threshold.

    Footprint: great-circle distance below ``radius_mm`` from the region centre, r < 0.95 R,
    and ``|B_LOS|/mu`` smoothed by 1.5 Mm above ``threshold_g`` (AR detector D1/D2).

    Returns
    -------
    mean_abs_g : float
        NaN when no pixel qualifies.
    n_pixels : int
    """
    from scipy.ndimage import gaussian_filter

    mu = geometry.mu
    inside = geometry.disk_mask(0.95) & np.isfinite(mag)
    bstar = np.where(inside, mag / np.where(inside, mu, 1.0), 0.0)
    norm = gaussian_filter(inside.astype(float), 1.5 / geometry.mm_per_px)
    with np.errstate(invalid="ignore", divide="ignore"):
        smooth = gaussian_filter(bstar, 1.5 / geometry.mm_per_px) / norm
    la, lo = np.radians(geometry.lat_deg), np.radians(geometry.carrington_lon_deg)
    cosd = np.sin(la) * math.sin(math.radians(lat_deg)) + np.cos(la) * math.cos(math.radians(lat_deg)) * np.cos(
        lo - math.radians(carrington_lon_deg))
    dist = np.arccos(np.clip(np.nan_to_num(cosd, nan=-1.0), -1, 1)) * RSUN_MM
    sel = inside & (dist < radius_mm) & (np.abs(smooth) > threshold_g)
    n = int(sel.sum())
    return (float(np.mean(np.abs(mag[sel]))) if n else float("nan")), n


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
