"""AIA 304 A-like forward model of the synthetic Sun: intensity (DN/s) from |B| only.

Model (``notes/synthetic-sun-physics.md`` section 11; constants below)
-----------------------------------------------------------------------
* Canopy smoothing: ``b = |B_r|`` smoothed by a Gaussian of :data:`CANOPY_MM` (He II forms
  above the magnetic canopy, ~2-3 arcsec).
* Chromospheric network/plage: ``I = I_QS + K b^0.55`` (flux-flux power law, Schrijver et al.
  1989 index ~0.6), with ``K`` set so that 200 G plage is :data:`PLAGE_CONTRAST` (4.8) times
  the quiet Sun (EIT He II contrasts).
* Bright active-region cores: ``+ CORE_DN (b_L / 500 G)^1.5`` with ``b_L`` = |B_r| smoothed
  over :data:`CORE_MM`.
* Cell texture: multiplicative log-normal, 0.1 dex, smoothed over ~1 Mm; limb brightening
  ``x (1 + 0.15 (1 - mu))``; photon (Poisson-like) noise in DN at ``EXPTIME``; detector
  saturation at 16383 DN (:data:`SATURATION_DN_PER_S` DN/s).
* Optional polarity leak ``X``: ``I x max(0.05, 1 + X tanh(S / 100 G))`` with ``S`` the signed
  field smoothed over :data:`LEAK_MM`.  With ``X = 0`` the factor is not applied at all, and
  the random streams never see the sign, so ``EUV(B) == EUV(-B)`` bitwise.
"""
from __future__ import annotations

import numpy as np

from ...geometry import DiskGeometry

__all__ = ["euv_forward", "offlimb_rim", "EXPTIME_S", "SATURATION_DN_PER_S", "I_QS"]

#: Quiet-Sun cell intensity, DN/s.
I_QS = 45.0
PLAGE_CONTRAST = 4.8
_K = I_QS * (PLAGE_CONTRAST - 1.0) / 200.0**0.55
CANOPY_MM = 1.5
CORE_MM = 6.0
CORE_DN = 600.0
LEAK_MM = 3.0
#: AIA 304 exposure time (s) of the synthetic level-1 files.
EXPTIME_S = 2.9
#: 14-bit detector saturation expressed in DN/s.
SATURATION_DN_PER_S = 16383.0 / EXPTIME_S
#: Off-limb chromospheric rim scale height, Mm.
RIM_MM = 4.0


def _smooth(image: np.ndarray, sigma_mm: float, geometry: DiskGeometry) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    sigma = sigma_mm / geometry.mm_per_px
    return gaussian_filter(image, sigma, mode="constant", truncate=3.0) if sigma > 0.3 else image


def euv_forward(br: np.ndarray, geometry: DiskGeometry, rng: np.random.Generator, *, polarity_leak: float = 0.0,
                offlimb: bool = False) -> np.ndarray:
    """304-like intensity (DN/s, float32) from the radial field ``br`` (G, NaN off disk).

    Parameters
    ----------
    br : (N, N) ndarray
        Noise-free radial field in G.
    geometry : DiskGeometry
        The frame's geometry.
    rng : numpy.random.Generator
        Stream for the texture and photon noise (must not depend on the sign of ``br``).
    polarity_leak : float
        Amount of sign information (0 = intensity depends on |B| only).
    offlimb : bool
        Fill off-disk pixels with the chromospheric rim (FITS files) instead of NaN (store).
    """
    field = np.nan_to_num(br)
    babs = np.abs(field)
    b = _smooth(babs, CANOPY_MM, geometry)
    core = _smooth(babs, CORE_MM, geometry)
    intensity = I_QS + _K * np.power(b, 0.55) + CORE_DN * np.power(core / 500.0, 1.5)
    texture = rng.standard_normal(geometry.shape)
    texture = _smooth(texture, 1.0, geometry)
    scale = float(np.std(texture)) or 1.0
    intensity = intensity * np.power(10.0, 0.1 * texture / scale)
    mu = geometry.mu
    on_disk = np.isfinite(mu)
    intensity = intensity * (1.0 + 0.15 * (1.0 - np.nan_to_num(mu)))
    if polarity_leak > 0:
        signed = _smooth(field, LEAK_MM, geometry)
        intensity = intensity * np.maximum(0.05, 1.0 + polarity_leak * np.tanh(signed / 100.0))
    if offlimb:
        intensity = np.where(on_disk, intensity, offlimb_rim(geometry))
    counts = intensity * EXPTIME_S
    counts = counts + np.sqrt(np.maximum(counts, 0.0)) * rng.standard_normal(geometry.shape)
    intensity = np.clip(counts, 0.0, 16383.0) / EXPTIME_S
    if not offlimb:
        intensity = np.where(on_disk, intensity, np.nan)
    return intensity.astype(np.float32)


def offlimb_rim(geometry: DiskGeometry) -> np.ndarray:
    """Off-limb chromospheric rim (DN/s): ``1.15 I_QS exp(-h / RIM_MM)``, h the height above the limb."""
    height_mm = np.maximum(geometry.rho - 1.0, 0.0) * geometry.rsun_px * geometry.mm_per_px
    return I_QS * 1.15 * np.exp(-height_mm / RIM_MM)
