"""Calibration measurements of LOS magnetograms, applied alike to real HMI maps and synthetic frames.

These two measurements are how the synthetic Sun is calibrated against real HMI (README, "The
synthetic Sun"): the same functions run on a prepared real map and on a synthetic frame, and the
tests compare the results.  Both take a plain ``(H, W)`` LOS field in G and the frame's
:class:`~euv2mag.geometry.DiskGeometry`; they never read files.

Quantities and units
--------------------
``A``
    Foreshortening-corrected surface area of a pixel, ``(R_sun / rsun_px)^2 / mu``
    (:attr:`~euv2mag.geometry.DiskGeometry.pixel_area_mm2`, Mm^2, or ``pixel_area_cm2``, cm^2).
Strong-field mean of an active region (:func:`strong_field_mean`), G
    The project's one definition of "the mean |B| inside an active region": over the pixels of
    a region found by :func:`euv2mag.audit.measurement.find_regions` (default parameters) with
    ``|B_LOS| >= 100 G`` (:data:`AR_STRONG_FIELD_G`), ``sum |B| A / sum A``.  Plage and spots
    count; the weak network that the detector's 30 G growth takes in is left out.
Disk statistics (:func:`disk_statistics`), on pixels with ``rho < 0.95`` and finite field
    ``frac_gt_50``, ``frac_gt_100``, ``frac_gt_500``: fractions (dimensionless) of those pixels
    with ``|B|`` above 50, 100, 500 G; ``tumf_mx``: total unsigned magnetic flux
    ``sum |B| A`` (Mx, ``A`` in cm^2) over pixels with ``|B| > 10 G``; ``clip100_share``: the
    share (dimensionless) of that flux kept when ``B`` is clipped to +-100 G.
"""
from __future__ import annotations

import numpy as np

from ..geometry import DiskGeometry

__all__ = ["AR_STRONG_FIELD_G", "strong_field_mean", "disk_statistics"]

#: |B_LOS| threshold (G) of :func:`strong_field_mean` (the AR mean-|B| definition).
AR_STRONG_FIELD_G = 100.0


def strong_field_mean(mag: np.ndarray, geometry: DiskGeometry, labels: np.ndarray,
                      threshold_g: float = AR_STRONG_FIELD_G) -> np.ndarray:
    """Mean |B_LOS| (G) of each labelled region over its pixels with ``|B_LOS| >= threshold_g``.

    This is the project's one definition of "the mean |B| inside an active region", applied
    alike to real HMI maps and synthetic frames: the region is a label of
    :func:`euv2mag.audit.measurement.find_regions` (default parameters), the mean is weighted by the
    foreshortening-corrected pixel area, over the region's pixels whose LOS field exceeds 100 G
    in magnitude (plage and spots; the weak network that the detector's 30 G growth takes in is
    left out).

    Parameters
    ----------
    mag : (H, W) ndarray of float
        Line-of-sight field in G; NaN off the disk (NaN pixels never qualify).
    geometry : DiskGeometry
        The map's geometry (gives the pixel area in Mm^2).
    labels : (H, W) ndarray of int
        Region labels, 0 = background (e.g. the first output of ``find_regions``).
    threshold_g : float
        Smallest |B_LOS| (G) of a pixel that counts (default :data:`AR_STRONG_FIELD_G`, 100 G).

    Returns
    -------
    (n_labels,) float64 ndarray
        Mean |B_LOS| in G, one value per label 1..max(labels); NaN where no pixel qualifies.
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

    Parameters
    ----------
    mag : (H, W) ndarray of float
        Line-of-sight field in G; NaN off the disk.
    geometry : DiskGeometry
        The map's geometry (disk mask and pixel area in cm^2).

    Returns
    -------
    dict
        ``frac_gt_50``, ``frac_gt_100``, ``frac_gt_500`` (fractions of disk pixels with |B|
        above 50/100/500 G), ``tumf_mx`` (sum of |B| A over pixels with |B| > 10 G, Mx, A the
        foreshortening-corrected pixel area in cm^2) and ``clip100_share`` (the share of that
        TUMF kept when B is clipped to +-100 G; NaN when the TUMF is 0).
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
