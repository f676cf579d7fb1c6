"""Full-disk metrics of a generated magnetogram against its reference (per frame and across frames).

Definitions (all magnetograms in G, line of sight; fluxes in Mx)
-----------------------------------------------------------------
Disk pixels
    ``rho < r_max`` (plane-of-sky distance from disk centre in units of the apparent radius;
    default 0.95, i.e. mu >= 0.31), with a finite foreshortening-corrected pixel area
    ``A = (R_sun / rsun_px)**2 / mu`` (:attr:`DiskGeometry.pixel_area_cm2`) and a finite
    **reference** value.  Reference pixels that are NaN on the disk (missing HMI data) are
    left out of every metric, for both maps.  A generated map with a NaN on a disk pixel is
    a :class:`~euv2mag.errors.UserError` (a model output must cover the disk).
TUMF, NMF
    ``TUMF = sum |B| A`` and ``NMF = sum B A`` over the disk pixels whose ``|B|`` exceeds the
    noise threshold (default 10 G).  The threshold is applied to **each map separately**: a
    pixel counts in the generated map's flux when the generated ``|B|`` exceeds it, whatever
    the reference holds there, and vice versa.
Pixel CC
    Pearson correlation of the two maps over the disk pixels (no threshold).  ``cc_binned``
    is the same after ``k x k`` block averaging (``skimage.measure.block_reduce`` with
    ``numpy.nanmean``, pixels outside the disk set to NaN first, so a block averages only its
    disk pixels; blocks with no disk pixel are dropped; blocks cut by the disk edge average the
    disk pixels they hold).
Unsigned CC
    ``abs_cc`` and ``abs_cc_binned``: the same two correlations of ``|B|`` (gen vs ref; the
    binned one of the ``k x k`` block means of ``|B|``).  They measure where and how strong
    the field is, whatever its sign: a map against its negation has ``cc = -1`` but
    ``abs_cc = 1``; NaN when either ``|B|`` is constant (e.g. a map of zeros).
R^2, RMSE
    Coefficient of determination with the reference as truth and the generated map as the
    prediction, ``1 - sum (gen - ref)^2 / sum (ref - mean(ref))^2`` (scikit-learn's
    ``r2_score(ref, gen)``), and ``sqrt(mean((gen - ref)^2))`` in G, over the disk pixels.
Polarity agreement
    Fraction of the pixels where both ``|ref|`` and ``|gen|`` exceed ``strong_g`` (default 50 G)
    whose signs agree; NaN when there is no such pixel (``n_strong`` = 0).

Across frames (:func:`series_metrics`), for TUMF and NMF separately, with ``x`` the reference
and ``y`` the generated values: Pearson ``cc``; ``r2 = 1 - sum (y - x)^2 / sum (x - mean x)^2``
(generated as a prediction of the reference, scikit-learn convention); ``slope = sum x y /
sum x^2`` (least-squares line through the origin, ``y = slope x``); ``r2_fit`` of that line.

Per-frame output columns (:func:`frame_metrics`; the ``fulldisk.csv`` columns of ``euv2mag audit``)
---------------------------------------------------------------------------------------------------
``n_disk`` disk pixels used; ``tumf_ref_mx``, ``tumf_gen_mx``, ``nmf_ref_mx``, ``nmf_gen_mx``
(Mx); ``tumf_ratio`` (gen/ref); ``nmf_sign_agree`` (bool, signs of the two NMFs equal);
``cc``, ``cc_binned`` (Pearson r); ``abs_cc``, ``abs_cc_binned`` (Pearson r of ``|B|``); ``r2``; ``rmse_g`` (G); ``mean_abs_ref_g``,
``mean_abs_gen_g`` (mean ``|B|`` on the disk, G); ``polarity_agreement``; ``n_strong`` (pixels
where both exceed ``strong_g``).

All functions are pure functions of arrays and a :class:`~euv2mag.geometry.DiskGeometry`, so
they can be mapped over frames by Dask unchanged.
"""
from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from ..errors import UserError
from ..geometry import DiskGeometry

__all__ = [
    "FullDiskParams",
    "disk_pixels",
    "flux_mx",
    "pearson",
    "r2_score",
    "slope_through_origin",
    "block_mean",
    "binned_cc",
    "frame_metrics",
    "series_metrics",
    "FRAME_COLUMNS",
]

#: Columns of :func:`frame_metrics` in output order.
FRAME_COLUMNS = (
    "n_disk",
    "tumf_ref_mx",
    "tumf_gen_mx",
    "nmf_ref_mx",
    "nmf_gen_mx",
    "tumf_ratio",
    "nmf_sign_agree",
    "cc",
    "cc_binned",
    "r2",
    "rmse_g",
    "mean_abs_ref_g",
    "mean_abs_gen_g",
    "polarity_agreement",
    "n_strong",
    "abs_cc",
    "abs_cc_binned",
)


@dataclasses.dataclass(frozen=True)
class FullDiskParams:
    """Parameters of the full-disk metrics.

    Parameters
    ----------
    r_max : float
        Disk cut, pixels with ``rho < r_max`` (fraction of the apparent radius).
    threshold_g : float
        Noise threshold in G for the flux sums, applied to each map separately.
    bin_factor : int
        Block size ``k`` of the binned pixel CC (``k x k``); 1 gives the raw CC again.
    strong_g : float
        Field strength in G both maps must exceed for the polarity agreement.
    """

    r_max: float = 0.95
    threshold_g: float = 10.0
    bin_factor: int = 8
    strong_g: float = 50.0

    def __post_init__(self):
        if not (0 < self.r_max <= 1.0):
            raise UserError(f"r_max must be in (0, 1], got {self.r_max}")
        if not (self.threshold_g >= 0 and math.isfinite(self.threshold_g)):
            raise UserError(f"threshold_g must be a finite number >= 0, got {self.threshold_g}")
        if int(self.bin_factor) < 1:
            raise UserError(f"bin_factor must be >= 1, got {self.bin_factor}")
        if not (self.strong_g >= 0 and math.isfinite(self.strong_g)):
            raise UserError(f"strong_g must be a finite number >= 0, got {self.strong_g}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@functools.lru_cache(maxsize=16)
def _area_and_disk(shape, rsun_px, cdelt_arcsec, dsun_m, center_px, r_max) -> tuple[np.ndarray, np.ndarray]:
    # mu, rho and the pixel area do not depend on B0/L0 (the limb is a circle of the image),
    # so frames of one store share them: cache on the quantities they do depend on.
    geometry = DiskGeometry(shape=shape, rsun_px=rsun_px, cdelt_arcsec=cdelt_arcsec, dsun_m=dsun_m, center_px=center_px)
    area = geometry.pixel_area_cm2
    disk = geometry.disk_mask(r_max) & np.isfinite(area)
    area = np.where(disk, area, 0.0)
    area.setflags(write=False)
    disk.setflags(write=False)
    return area, disk


def disk_pixels(geometry: DiskGeometry, r_max: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Pixel areas and the disk mask used by every full-disk metric.

    Parameters
    ----------
    geometry : DiskGeometry
        Geometry of the frame.
    r_max : float
        Disk cut in units of the apparent radius.

    Returns
    -------
    area_cm2 : ndarray
        (H, W) foreshortening-corrected pixel area in cm^2, 0 outside the disk (read-only).
    disk : ndarray of bool
        (H, W) ``rho < r_max`` with a finite area (read-only).
    """
    return _area_and_disk(
        tuple(geometry.shape), geometry.rsun_px, geometry.cdelt_arcsec, geometry.dsun_m, tuple(geometry.center_px), float(r_max)
    )


def _check_shape(mag: np.ndarray, geometry: DiskGeometry, what: str) -> np.ndarray:
    mag = np.asarray(mag)
    if mag.shape != tuple(geometry.shape):
        raise UserError(f"{what} has shape {mag.shape}, geometry expects {tuple(geometry.shape)}")
    return mag


def flux_mx(
    mag_g: np.ndarray, geometry: DiskGeometry, *, r_max: float = 0.95, threshold_g: float = 10.0
) -> tuple[float, float]:
    """Total unsigned and net magnetic flux of one map.

    Parameters
    ----------
    mag_g : ndarray
        (H, W) LOS field in G; NaN pixels are ignored.
    geometry : DiskGeometry
        Geometry of the map.
    r_max : float
        Disk cut (fraction of the apparent radius).
    threshold_g : float
        Only pixels with ``|B| > threshold_g`` (G) count.

    Returns
    -------
    tumf_mx, nmf_mx : float
        ``sum |B| A`` and ``sum B A`` in Mx.

    Examples
    --------
    A 64-pixel disk with one bipole near disk centre, a +1000 G pole west of a -600 G pole
    (Gaussians of 2 px width):

    >>> import numpy as np
    >>> from euv2mag.geometry import DiskGeometry
    >>> geom = DiskGeometry((64, 64), rsun_px=24.5, cdelt_arcsec=39.2)
    >>> y, x = np.mgrid[0:64, 0:64]
    >>> def pole(b_g, col, row):
    ...     return b_g * np.exp(-((x - col) ** 2 + (y - row) ** 2) / 8.0)
    >>> mag = pole(1000.0, 36, 34) + pole(-600.0, 27, 34)
    >>> mag = np.where(geom.disk_mask(), mag, np.nan).astype(np.float32)
    >>> tumf, nmf = flux_mx(mag, geom)
    >>> f"{tumf:.3e} Mx, {nmf:.3e} Mx, NMF/TUMF = {nmf / tumf:.2f}"
    '3.231e+23 Mx, 8.348e+22 Mx, NMF/TUMF = 0.26'

    A higher noise threshold drops the weak wings of the poles:

    >>> flux_mx(mag, geom, threshold_g=200.0)[0] < tumf
    True
    """
    mag = _check_shape(mag_g, geometry, "map")
    area, disk = disk_pixels(geometry, r_max)
    with np.errstate(invalid="ignore"):
        use = disk & (np.abs(mag) > threshold_g)
    b = mag[use].astype(np.float64)
    a = area[use]
    return float(np.sum(np.abs(b) * a)), float(np.sum(b * a))


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation of two 1-D samples; NaN when fewer than 2 values or either is constant."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.size < 2:
        return math.nan
    dx = x - x.mean()
    dy = y - y.mean()
    den = math.sqrt(float(np.dot(dx, dx)) * float(np.dot(dy, dy)))
    if den == 0.0:
        return math.nan
    return float(np.clip(np.dot(dx, dy) / den, -1.0, 1.0))


def r2_score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot`` (scikit-learn's ``r2_score``).

    ``SS_res = sum (y_true - y_pred)^2``, ``SS_tot = sum (y_true - mean(y_true))^2``; NaN when
    ``SS_tot`` is 0 or there are no values.  Can be negative (worse than predicting the mean).
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.size == 0:
        return math.nan
    ss_tot = float(np.sum((y_true - y_true.mean()) ** 2))
    if ss_tot == 0.0:
        return math.nan
    return 1.0 - float(np.sum((y_true - y_pred) ** 2)) / ss_tot


def slope_through_origin(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of ``y = s x`` (a line through the origin): ``sum x y / sum x^2``."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    den = float(np.dot(x, x))
    return float(np.dot(x, y)) / den if den > 0 else math.nan


def block_mean(image: np.ndarray, k: int) -> np.ndarray:
    """NaN-aware k x k block mean (``numpy.nanmean`` per block; NaN where a block has no finite value).

    Computed as block sums of the finite values over block counts with
    ``skimage.measure.block_reduce(..., numpy.sum)`` (identical to ``nanmean``, several times faster).
    """
    from skimage.measure import block_reduce

    valid = np.isfinite(image)
    total = block_reduce(np.where(valid, image, 0.0), (k, k), np.sum, cval=0.0)
    count = block_reduce(valid.astype(np.float32), (k, k), np.sum, cval=0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def binned_cc(ref_g: np.ndarray, gen_g: np.ndarray, disk: np.ndarray, k: int) -> float:
    """Pearson CC of the two maps after NaN-aware ``k x k`` block averaging of their disk pixels."""
    ref = np.where(disk, ref_g, np.nan).astype(np.float64)
    gen = np.where(disk, gen_g, np.nan).astype(np.float64)
    if k > 1:
        ref = block_mean(ref, k)
        gen = block_mean(gen, k)
    ok = np.isfinite(ref) & np.isfinite(gen)
    return pearson(ref[ok], gen[ok])


def frame_metrics(
    ref_g: np.ndarray,
    gen_g: np.ndarray,
    geometry: DiskGeometry,
    params: FullDiskParams = FullDiskParams(),
) -> dict:
    """Full-disk metrics of one (reference, generated) pair; see the module docstring.

    Parameters
    ----------
    ref_g, gen_g : ndarray
        (H, W) reference and generated LOS field in G (NaN off the disk).
    geometry : DiskGeometry
        Geometry of the frame (both maps share it).
    params : FullDiskParams
        Disk cut, noise threshold, binning and strong-field level.

    Returns
    -------
    dict
        The values named in :data:`FRAME_COLUMNS`.

    Raises
    ------
    UserError
        If the shapes differ, the generated map has NaN on a disk pixel, or the reference has no
        finite disk pixel.

    Examples
    --------
    The bipole of :func:`flux_mx`'s example against itself, and against its negation (the
    same unsigned field with the wrong sign everywhere, what a model that cannot see polarity
    may produce):

    >>> import numpy as np
    >>> from euv2mag.geometry import DiskGeometry
    >>> geom = DiskGeometry((64, 64), rsun_px=24.5, cdelt_arcsec=39.2)
    >>> y, x = np.mgrid[0:64, 0:64]
    >>> def pole(b_g, col, row):
    ...     return b_g * np.exp(-((x - col) ** 2 + (y - row) ** 2) / 8.0)
    >>> mag = pole(1000.0, 36, 34) + pole(-600.0, 27, 34)
    >>> mag = np.where(geom.disk_mask(), mag, np.nan).astype(np.float32)
    >>> same = frame_metrics(mag, mag, geom)
    >>> same["tumf_ratio"], same["cc"], same["r2"], same["rmse_g"], same["polarity_agreement"]
    (1.0, 1.0, 1.0, 0.0, 1.0)

    The negated map keeps the unsigned flux exactly, yet every signed measure fails:

    >>> flipped = frame_metrics(mag, -mag, geom)
    >>> flipped["tumf_ratio"], flipped["nmf_sign_agree"], flipped["cc"], flipped["polarity_agreement"]
    (1.0, False, -1.0, 0.0)
    >>> flipped["r2"]  # 1 - sum (2 B)^2 / sum (B - mean B)^2
    -3.0...
    >>> flipped["n_strong"] == same["n_strong"] > 0
    True

    The unsigned correlations see only where and how strong the field is:

    >>> same["abs_cc"], flipped["abs_cc"], round(flipped["abs_cc_binned"], 6)
    (1.0, 1.0, 1.0)
    """
    ref = _check_shape(ref_g, geometry, "reference map")
    gen = _check_shape(gen_g, geometry, "generated map")
    area, disk = disk_pixels(geometry, params.r_max)
    disk = disk & np.isfinite(ref)
    n_disk = int(disk.sum())
    if n_disk == 0:
        raise UserError(f"the reference map has no finite pixel inside r < {params.r_max} R")
    bad = int(np.count_nonzero(~np.isfinite(gen[disk])))
    if bad:
        raise UserError(f"the generated map has {bad} NaN/inf pixels on the disk (r < {params.r_max} R)")
    r = ref[disk].astype(np.float64)
    g = gen[disk].astype(np.float64)
    a = area[disk]
    thr = params.threshold_g
    ref_use = np.abs(r) > thr
    gen_use = np.abs(g) > thr
    tumf_ref = float(np.sum(np.abs(r[ref_use]) * a[ref_use]))
    tumf_gen = float(np.sum(np.abs(g[gen_use]) * a[gen_use]))
    nmf_ref = float(np.sum(r[ref_use] * a[ref_use]))
    nmf_gen = float(np.sum(g[gen_use] * a[gen_use]))
    strong = (np.abs(r) > params.strong_g) & (np.abs(g) > params.strong_g)
    n_strong = int(strong.sum())
    pol = float(np.mean(np.sign(r[strong]) == np.sign(g[strong]))) if n_strong else math.nan
    k = int(params.bin_factor)
    return {
        "n_disk": n_disk,
        "tumf_ref_mx": tumf_ref,
        "tumf_gen_mx": tumf_gen,
        "nmf_ref_mx": nmf_ref,
        "nmf_gen_mx": nmf_gen,
        "tumf_ratio": tumf_gen / tumf_ref if tumf_ref > 0 else math.nan,
        "nmf_sign_agree": bool(np.sign(nmf_ref) == np.sign(nmf_gen)),
        "cc": pearson(r, g),
        "cc_binned": binned_cc(ref, gen, disk, k) if k > 1 else pearson(r, g),
        "r2": r2_score(r, g),
        "rmse_g": float(np.sqrt(np.mean((g - r) ** 2))),
        "mean_abs_ref_g": float(np.mean(np.abs(r))),
        "mean_abs_gen_g": float(np.mean(np.abs(g))),
        "polarity_agreement": pol,
        "n_strong": n_strong,
        "abs_cc": pearson(np.abs(r), np.abs(g)),
        "abs_cc_binned": (binned_cc(np.abs(ref), np.abs(gen), disk, k) if k > 1
                          else pearson(np.abs(r), np.abs(g))),
    }


def series_metrics(ref_values, gen_values, *, min_pairs: int = 1) -> dict:
    """Agreement of one quantity (e.g. TUMF) across frames, generated against reference.

    Parameters
    ----------
    ref_values, gen_values : array-like
        (N,) per-frame values of the reference and the generated maps (same unit); pairs with a
        NaN are dropped.
    min_pairs : int
        Fewest finite pairs for ``cc``, ``r2``, ``slope`` and ``r2_fit``; with fewer they are NaN
        (``n`` still counts the pairs).  The audit uses 10 (:data:`euv2mag.audit.match.MIN_PAIRS`).

    Returns
    -------
    dict
        ``n`` frames used, ``cc`` (Pearson), ``r2`` (``r2_score(ref, gen)``), ``slope``
        (``gen = slope * ref`` through the origin) and ``r2_fit`` (R^2 of that line).
    """
    x = np.asarray(ref_values, dtype=np.float64)
    y = np.asarray(gen_values, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"series of different lengths: {x.shape} and {y.shape}")
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < max(int(min_pairs), 1):
        return {"n": int(x.size), "cc": math.nan, "r2": math.nan, "slope": math.nan, "r2_fit": math.nan}
    slope = slope_through_origin(x, y)
    r2_fit = math.nan
    if x.size >= 2 and math.isfinite(slope):
        ss_tot = float(np.sum((y - y.mean()) ** 2))
        r2_fit = 1.0 - float(np.sum((y - slope * x) ** 2)) / ss_tot if ss_tot > 0 else math.nan
    return {"n": int(x.size), "cc": pearson(x, y), "r2": r2_score(x, y), "slope": slope, "r2_fit": r2_fit}
