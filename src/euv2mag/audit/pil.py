"""Polarity inversion lines (PILs), field gradients across them, and Schrijver's R value.

Everything here works on plain arrays on a local cylindrical-equal-area (CEA) grid, in Gauss.
The recipes follow ``../shared/notes/ar-detection-spec.md`` §3.1-3.3:

* **PIL mask** (Schrijver 2007; SHARP ``computeR``): pixels where the 3x3 dilation of the
  strong positive field (``B > 150 G``) overlaps the 3x3 dilation of the strong negative field
  (``B < -150 G``).  As in the C code, the outermost row and column are never PIL pixels.
* **R value**, the exact SHARP production recipe (JSOC ``sw_functions.c``, ``computeR``):
  subsample the 0.03 deg/px patch by ``scale = round(2 arcsec / cdelt_arcsec)`` (= 4, i.e. take
  every 4th pixel, offset 0, no averaging), build the PIL mask, zero-pad by 20 px, convolve with a
  separable sum-normalised Gaussian (sigma = 10 / 2.3548 px, truncated at +-20 px), and sum
  ``W * trunc(|B|)`` over finite pixels; ``R_VALUE = log10(S)`` if ``S >= 1`` else 0.  ``S`` is in
  G x (binned pixel); :attr:`RValue.log10_r_mx` multiplies by the binned pixel area (cm^2) to give
  Schrijver's Mx.  On euv2mag's own 0.12 deg/px grid ``scale = 1``.
* **PIL segments**: skeleton of the PIL mask (``skimage.morphology.skeletonize``), 8-connected
  components; a segment's length is the sum of its skeleton links (1 px orthogonal, sqrt(2) px
  diagonal, each link once) times the pixel size; segments shorter than 10 Mm are dropped.
* **Mean gradient across PILs**: ``hypot(dB/dx, dB/dy)`` (``numpy.gradient`` with the pixel size in
  Mm) averaged over the PIL-mask pixels (not the skeleton), in G/Mm.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import ndimage

from ..geometry import RSUN_MM

__all__ = [
    "PIL_THRESHOLD_G",
    "R_SIGMA_PX",
    "R_HALF_WIDTH_PX",
    "RValue",
    "PilSegments",
    "pil_mask",
    "r_gaussian_kernel",
    "r_scale",
    "compute_r_value",
    "pil_segments",
    "mean_gradient_g_per_mm",
    "cea_pixel_mm",
]

#: Strong-field threshold of the PIL mask (G), Schrijver 2007 / SHARP.
PIL_THRESHOLD_G = 150.0
#: Gaussian sigma of the R weighting in binned pixels (FWHM 10 px).
R_SIGMA_PX = 10.0 / 2.3548
#: Half width of the truncated Gaussian and of the zero padding (binned pixels).
R_HALF_WIDTH_PX = 20


def cea_pixel_mm(cdelt_deg: float, rsun_mm: float = RSUN_MM) -> float:
    """Side of a CEA pixel of ``cdelt_deg`` degrees on a sphere of radius ``rsun_mm`` (Mm)."""
    return math.radians(float(cdelt_deg)) * float(rsun_mm)


def pil_mask(b_g: np.ndarray, threshold_g: float = PIL_THRESHOLD_G) -> np.ndarray:
    """Strong-field polarity inversion line mask.

    Parameters
    ----------
    b_g : ndarray
        2-D field (G) on an (approximately) equal-area grid; NaN compares false (never strong).
    threshold_g : float
        Strong-field threshold (G).

    Returns
    -------
    ndarray of bool
        True where the 3x3 dilations of ``B > threshold`` and ``B < -threshold`` overlap.  The
        outermost rows and columns are False (the SHARP C code leaves them at 0).

    Examples
    --------
    A straight polarity inversion line between +500 G (west) and -500 G (east) on a 40 x 40
    grid: the mask is the two columns on either side of it, without the outermost rows:

    >>> import numpy as np
    >>> b = np.full((40, 40), 500.0)
    >>> b[:, 20:] = -500.0
    >>> mask = pil_mask(b)
    >>> int(mask.sum()), np.flatnonzero(mask.any(axis=0)).tolist()
    (76, [19, 20])

    Fields below the threshold (150 G, SHARP's) make no PIL:

    >>> int(pil_mask(b / 10).sum())
    0
    """
    b = np.asarray(b_g, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        pos = b > threshold_g
        neg = b < -threshold_g
    box = np.ones((3, 3), dtype=bool)
    mask = ndimage.binary_dilation(pos, box) & ndimage.binary_dilation(neg, box)
    if mask.size:
        mask[0, :] = mask[-1, :] = False
        mask[:, 0] = mask[:, -1] = False
    return mask


def r_gaussian_kernel(sigma_px: float = R_SIGMA_PX, half_width_px: int = R_HALF_WIDTH_PX) -> np.ndarray:
    """1-D sum-normalised Gaussian of the R weighting (``2 * half_width + 1`` taps)."""
    x = np.arange(-half_width_px, half_width_px + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma_px) ** 2)
    return k / k.sum()


def r_scale(cdelt_deg: float, rsun_ref_m: float, dsun_obs_m: float) -> int:
    """SHARP binning factor ``round(2 arcsec / cdelt_arcsec)`` of a CEA patch.

    ``cdelt_arcsec = degrees(atan(RSUN_REF * radians(CDELT1) / DSUN_OBS)) * 3600`` (the
    angular size of one CEA pixel seen from the observer at disk centre).
    """
    cdelt_arcsec = math.degrees(math.atan(rsun_ref_m * math.radians(cdelt_deg) / dsun_obs_m)) * 3600.0
    return max(1, int(round(2.0 / cdelt_arcsec)))


@dataclasses.dataclass(frozen=True)
class RValue:
    """Result of :func:`compute_r_value`.

    Attributes
    ----------
    r_value : float
        SHARP ``R_VALUE``: log10 of ``S`` in G x (binned pixel), 0 when ``S < 1``.
    log10_r_mx : float
        log10 of ``S`` times the binned pixel area in cm^2 (Schrijver's R in Mx); NaN when ``S < 1``.
    s : float
        The weighted unsigned flux sum ``S`` (G x binned pixel).
    n_pil_px : int
        Number of PIL pixels on the binned grid.
    scale : int
        Subsampling factor used.
    binned_pixel_cm2 : float
        Area of one binned pixel (cm^2).
    """

    r_value: float
    log10_r_mx: float
    s: float
    n_pil_px: int
    scale: int
    binned_pixel_cm2: float


def compute_r_value(
    los_g: np.ndarray,
    cdelt_deg: float,
    *,
    rsun_ref_m: float = 6.96e8,
    dsun_obs_m: float = 1.495978707e11,
    scale: int | None = None,
    threshold_g: float = PIL_THRESHOLD_G,
) -> RValue:
    """Schrijver's R with the SHARP production recipe (C ``computeR``, subsampling variant).

    Parameters
    ----------
    los_g : ndarray
        2-D LOS field on a CEA grid (G), e.g. a SHARP ``magnetogram`` segment (0.03 deg/px) or an
        euv2mag cutout at 0.12 deg/px.  NaNs are never strong and add nothing to ``S``.
    cdelt_deg : float
        CEA pixel size in degrees (header ``CDELT1``).
    rsun_ref_m, dsun_obs_m : float
        Header ``RSUN_REF`` and ``DSUN_OBS`` (m); they set the binning factor when ``scale`` is None.
    scale : int, optional
        Subsampling factor; default ``round(2 arcsec / cdelt_arcsec)`` (4 for SHARP patches).
        Use 1 on the 0.12 deg/px grid.
    threshold_g : float
        Strong-field threshold (G).

    Returns
    -------
    RValue
    """
    los = np.asarray(los_g, dtype=np.float64)
    if los.ndim != 2:
        raise ValueError(f"compute_r_value needs a 2-D array, got shape {los.shape}")
    if scale is None:
        scale = r_scale(cdelt_deg, rsun_ref_m, dsun_obs_m)
    scale = int(scale)
    ny1, nx1 = los.shape[0] // scale, los.shape[1] // scale
    rim = los[: ny1 * scale : scale, : nx1 * scale : scale]
    binned_cm2 = (math.radians(cdelt_deg * scale) * rsun_ref_m * 100.0) ** 2
    if rim.size == 0:
        return RValue(0.0, math.nan, 0.0, 0, scale, binned_cm2)
    pil = pil_mask(rim, threshold_g)
    n_pil = int(pil.sum())
    if n_pil == 0:
        return RValue(0.0, math.nan, 0.0, 0, scale, binned_cm2)
    k = r_gaussian_kernel()
    # zero padding by 20 px + truncated kernel == constant-0 boundary convolution
    w = ndimage.convolve1d(pil.astype(np.float64), k, axis=0, mode="constant", cval=0.0)
    w = ndimage.convolve1d(w, k, axis=1, mode="constant", cval=0.0)
    absb = np.trunc(np.abs(rim))  # C: integer abs() of a float truncates toward zero
    finite = np.isfinite(absb)
    s = float(np.sum(w[finite] * absb[finite]))
    if s < 1.0:
        return RValue(0.0, math.nan, s, n_pil, scale, binned_cm2)
    return RValue(math.log10(s), math.log10(s * binned_cm2), s, n_pil, scale, binned_cm2)


@dataclasses.dataclass(frozen=True)
class PilSegments:
    """PIL segments kept after the length cut.

    Attributes
    ----------
    count : int
        Number of kept segments.
    total_length_mm : float
        Summed length of the kept segments (Mm).
    lengths_mm : tuple of float
        Length of each kept segment (Mm), longest first.
    skeleton : ndarray of bool
        Skeleton pixels of the kept segments.
    """

    count: int
    total_length_mm: float
    lengths_mm: tuple
    skeleton: np.ndarray


def pil_segments(mask: np.ndarray, pixel_mm: float, min_length_mm: float = 10.0) -> PilSegments:
    """Skeletonise a PIL mask into segments and measure their lengths.

    Parameters
    ----------
    mask : ndarray of bool
        PIL mask (:func:`pil_mask`, possibly restricted to one region).
    pixel_mm : float
        Grid spacing in Mm (1.457 Mm at 0.12 deg/px).
    min_length_mm : float
        Segments shorter than this are dropped (10 Mm).

    Returns
    -------
    PilSegments

    Examples
    --------
    The straight 38-pixel PIL of :func:`pil_mask`'s example, on the 0.12 deg/px CEA grid of
    the region measurements (1.457 Mm/px), is one segment of 35 pixel steps (its skeleton stops
    short of the mask's ends):

    >>> import numpy as np
    >>> b = np.full((40, 40), 500.0)
    >>> b[:, 20:] = -500.0
    >>> seg = pil_segments(pil_mask(b), pixel_mm=cea_pixel_mm(0.12))
    >>> seg.count, round(seg.total_length_mm, 1)
    (1, 51.0)

    The gradient across it is 1000 G over two pixels:

    >>> round(mean_gradient_g_per_mm(b, pil_mask(b), cea_pixel_mm(0.12)), 1)
    343.1
    """
    from skimage.measure import label
    from skimage.morphology import skeletonize

    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return PilSegments(0, 0.0, (), np.zeros_like(mask))
    skel = skeletonize(mask)
    lab = label(skel, connectivity=2)
    n = int(lab.max())
    ny, nx = skel.shape
    padded = np.pad(lab, 1)
    centre = padded[1 : ny + 1, 1 : nx + 1]
    length_px = np.zeros(n + 1)
    # forward links only (right, up, up-right, up-left) so each link counts once
    for dy, dx, weight in ((0, 1, 1.0), (1, 0, 1.0), (1, 1, math.sqrt(2.0)), (1, -1, math.sqrt(2.0))):
        other = padded[1 + dy : ny + 1 + dy, 1 + dx : nx + 1 + dx]
        links = (centre > 0) & (other > 0)
        length_px += np.bincount(centre[links], minlength=n + 1)[: n + 1] * weight
    lengths = length_px[1:] * pixel_mm
    keep = np.flatnonzero(lengths >= min_length_mm)
    kept_skel = np.isin(lab, keep + 1)
    kept = tuple(sorted((float(x) for x in lengths[keep]), reverse=True))
    return PilSegments(len(kept), float(sum(kept)), kept, kept_skel)


def mean_gradient_g_per_mm(b_g: np.ndarray, mask: np.ndarray, pixel_mm: float) -> float:
    """Mean horizontal gradient magnitude of ``b_g`` over ``mask`` pixels (G/Mm).

    ``gy, gx = numpy.gradient(B, pixel_mm)``; pixels whose gradient is not finite are skipped.
    Returns NaN when no mask pixel has a finite gradient.
    """
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return math.nan
    gy, gx = np.gradient(np.asarray(b_g, dtype=np.float64), pixel_mm)
    g = np.hypot(gx, gy)[mask]
    g = g[np.isfinite(g)]
    return float(g.mean()) if g.size else math.nan

