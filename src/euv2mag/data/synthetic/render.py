"""Rendering of the synthetic Sun: element splatting, sunspots, noise, one frame (steps 4-5).

Units: fields in G, fluxes in Mx, lengths in Mm, pixel areas in Mm^2 (``1 Mm^2 = 1e16 cm^2``),
times in MJD (UTC, days), EUV intensity in DN/s.

Field (step 4)
--------------
The element populations (quiet-Sun network, :mod:`~euv2mag.data.synthetic.network`; compact
plage and dispersed flux of the regions, :mod:`~euv2mag.data.synthetic.regions`) are splatted
(bilinear) as flux into pixels and blurred by the element size (Mm, so the same Sun at any
resolution; sizes below 0.3 px are not blurred), then converted to radial field
``B_r = flux mu / A_proj``.  Spots are added analytically in small cut-outs whose flux is
normalised exactly (an under-resolved spot at 64^2-256^2 keeps its flux as a pixel average).
LOS field ``B_r mu`` plus Gaussian noise ``sigma = noise_g N/4096 (1 + 0.5 (1 - mu))``
(4096^2 noise block-averaged to N^2); NaN outside the disk.

EUV (step 5)
------------
From ``|B_r|`` only (:mod:`euv2mag.data.synthetic.euv`), with noise from an RNG stream that does
not depend on the sign of B, so ``EUV(B) == EUV(-B)`` bitwise unless ``polarity_leak > 0``.  The
magnetogram noise and the EUV streams are keyed by ``(seed, frame time in whole seconds)``, so
any frame can be re-made alone.
"""
from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

import numpy as np

from ...geometry import DiskGeometry
from .cycle import rotation_rate_deg_per_day
from .euv import euv_forward
from .network import network_elements
from . import regions as _regions
from .regions import RegionState, region_elements, region_states, spot_peak_g

if TYPE_CHECKING:
    from .params import SynthParams

__all__ = ["render_field", "render_frame"]


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
    penumbra_g = _regions.PENUMBRA_G
    sig_u = _regions.UMBRA_FRACTION * radius_mm
    sig_eff = math.sqrt(sig_u**2 + pix * pix / 12.0)
    b_u = spot_peak_g(abs(flux))
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
    prof = penumbra_g * 0.5 * erfc((d - radius_mm) / (math.sqrt(2.0) * soft))
    prof += (b_u - penumbra_g) * (sig_u / sig_eff) ** 2 * np.exp(-0.5 * (d / sig_eff) ** 2)
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
    params : SynthParams
        Generator parameters.
    t_mjd : float
        Frame time, MJD (UTC, days).
    geometry : DiskGeometry
        The frame's geometry (e.g. from :func:`~euv2mag.data.synthetic.timegrid.frame_geometries`).
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

    rate_fn = functools.partial(rotation_rate_deg_per_day, model=params.rotation_model)
    if states is None:
        states = region_states(params, t_mjd)
    nlat, nlon, nflux = network_elements(params, t_mjd)
    compact, dispersed, spots = region_elements(params, states, rate_fn)
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


def _frame_key(t_mjd: float) -> int:
    """Frame time in whole seconds since MJD 0: the key of the frame's random streams."""
    return int(round(float(t_mjd) * 86400.0))


def render_frame(params: SynthParams, t_mjd: float, geometry: DiskGeometry, *, sign: float = 1.0,
                 offlimb: bool = False) -> dict:
    """One frame: ``mag`` (LOS, G), ``euv`` (DN/s), ``br`` (noise-free radial field) and region states.

    Off-disk pixels are NaN in ``mag``; in ``euv`` too unless ``offlimb`` (the FITS writer's
    view, with the off-limb chromospheric rim).

    Parameters
    ----------
    params : SynthParams
        Generator parameters.
    t_mjd : float
        Frame time, MJD (UTC, days); also keys the noise streams.
    geometry : DiskGeometry
        The frame's geometry.
    sign : float
        Multiplies the field (+1, or -1 for the B -> -B control); the noise streams do not
        depend on it.
    offlimb : bool
        Fill off-disk EUV pixels with the chromospheric rim instead of NaN.

    Returns
    -------
    dict
        ``mag``: (N, N) float32 ndarray, LOS field in G with noise; ``euv``: (N, N) float32
        ndarray, 304-like intensity in DN/s; ``br``: (N, N) float64 ndarray, noise-free radial
        field in G; ``states``: list of RegionState rendered.
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
