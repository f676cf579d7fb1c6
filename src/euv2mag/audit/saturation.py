"""Saturation study: how much of the flux a magnetogram keeps when clipped to +-L G.

KPL19 trained on HMI magnetograms clipped to +-100 G; Liu et al. 2021 asked how much flux such
a clip removes.  For every map and limit ``L`` this module compares the total unsigned (TUMF)
and net (NMF) magnetic flux of the clipped map ``clip(B, -L, L)`` with those of the original.

Exact definitions
-----------------
Disk and threshold
    Pixels with ``rho < r_max`` (default 0.95 of the apparent radius), finite field, and
    ``|B| > threshold_g`` (default 10 G) in **that** map (the threshold is applied to the
    original and to the clipped map separately; for ``L > threshold_g`` the pixel set is the
    same).  ``TUMF = sum |B| A``, ``NMF = sum B A`` in Mx with the foreshortening-corrected
    pixel area ``A = (R_sun/rsun_px)^2 / mu`` (see :mod:`euv2mag.audit.fulldisk`).  The
    resolution is that of the input map (FITS files are prepared at ``size`` px, default 1024).
Across maps, per limit (``x`` = original, ``y`` = clipped values of TUMF or NMF)
    ``slope = sum x y / sum x^2`` (least squares through the origin, ``y = slope x``);
    ``r2 = 1 - sum (x - y)^2 / sum (x - mean x)^2`` (scikit-learn ``r2_score(y_true=original,
    y_pred=clipped)``: how well the clipped value predicts the original one);
    ``r2_fit = 1 - sum (y - slope x)^2 / sum (y - mean y)^2`` (R^2 of the line through the origin);
    ``cc`` Pearson; ``kept_mean`` / ``kept_median`` of the per-map ratio ``y / x``;
    ``sign_flip_fraction`` = share of maps with ``sign(NMF_clip) != sign(NMF_orig)``.
Region AMF
    Regions are detected on the **original** maps with :func:`euv2mag.audit.measurement.find_regions`
    (default parameters); ``AMF = TUMF_region / area_region`` (G).  Reported: number of regions,
    mean and sample standard deviation (ddof=1), median, and for each limit the share of
    regions with ``AMF < L``.

Per-map output (``saturation.csv``, one row per map and limit)
-------------------------------------------------------------
``map`` (name: file stem, or ``<store>[index]``), ``source`` (input path), ``frame`` (index in a
store, -1 for FITS), ``time`` (ISO UTC), ``limit_g``, ``tumf_orig_mx``, ``tumf_clip_mx``,
``nmf_orig_mx``, ``nmf_clip_mx`` (Mx), ``tumf_kept`` and ``nmf_kept`` (clip/orig),
``nmf_sign_flip`` (bool), ``n_disk`` (disk pixels with finite field), ``frac_above_limit``
(share of disk pixels with ``|B| > L``), ``max_abs_g`` (largest |B| on the disk, G),
``size_px`` (image side), ``rsun_px``.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..errors import UserError
from ..geometry import DiskGeometry
from .fulldisk import disk_pixels, series_metrics

__all__ = [
    "SaturationParams",
    "clip_fluxes",
    "summarize_saturation",
    "amf_statistics",
    "SATURATION_COLUMNS",
]

#: Columns of :func:`clip_fluxes` rows (before the identification columns the caller adds).
SATURATION_COLUMNS = (
    "limit_g",
    "tumf_orig_mx",
    "tumf_clip_mx",
    "nmf_orig_mx",
    "nmf_clip_mx",
    "tumf_kept",
    "nmf_kept",
    "nmf_sign_flip",
    "n_disk",
    "frac_above_limit",
    "max_abs_g",
    "size_px",
    "rsun_px",
)


@dataclasses.dataclass(frozen=True)
class SaturationParams:
    """Parameters of the saturation study.

    Parameters
    ----------
    limits_g : tuple of float
        Saturation limits ``L`` in G (the map is clipped to ``[-L, L]``).
    r_max : float
        Disk cut in units of the apparent radius.
    threshold_g : float
        Noise threshold in G for the flux sums, applied to each map (original, clipped) separately.
    """

    limits_g: tuple[float, ...] = (100.0, 625.0, 3000.0)
    r_max: float = 0.95
    threshold_g: float = 10.0

    def __post_init__(self):
        limits = tuple(float(v) for v in self.limits_g)
        if not limits or any(not (math.isfinite(v) and v > 0) for v in limits):
            raise UserError(f"saturation limits must be positive numbers, got {list(self.limits_g)}")
        object.__setattr__(self, "limits_g", limits)
        if not (0 < self.r_max <= 1):
            raise UserError(f"r_max must be in (0, 1], got {self.r_max}")
        if not (math.isfinite(self.threshold_g) and self.threshold_g >= 0):
            raise UserError(f"threshold_g must be >= 0, got {self.threshold_g}")

    def to_dict(self) -> dict:
        return {"limits_g": list(self.limits_g), "r_max": self.r_max, "threshold_g": self.threshold_g}


def clip_fluxes(mag_g: np.ndarray, geometry: DiskGeometry, params: SaturationParams = SaturationParams()) -> list[dict]:
    """TUMF and NMF of the original and of the clipped map, for every limit.

    Parameters
    ----------
    mag_g : ndarray
        (H, W) LOS field in G, NaN off the disk.
    geometry : DiskGeometry
        Geometry of the map.
    params : SaturationParams
        Limits, disk cut and threshold.

    Returns
    -------
    list of dict
        One dict per limit with the keys of :data:`SATURATION_COLUMNS`.

    Raises
    ------
    UserError
        If the map's shape does not match the geometry or it has no finite disk pixel.
    """
    mag = np.asarray(mag_g)
    if mag.shape != tuple(geometry.shape):
        raise UserError(f"map has shape {mag.shape}, geometry expects {tuple(geometry.shape)}")
    area, disk = disk_pixels(geometry, params.r_max)
    disk = disk & np.isfinite(mag)
    n_disk = int(disk.sum())
    if n_disk == 0:
        raise UserError(f"map has no finite pixel inside r < {params.r_max} R")
    b = mag[disk].astype(np.float64)
    a = area[disk]
    absb = np.abs(b)

    def fluxes(values: np.ndarray) -> tuple[float, float]:
        use = np.abs(values) > params.threshold_g
        return float(np.sum(np.abs(values[use]) * a[use])), float(np.sum(values[use] * a[use]))

    tumf_o, nmf_o = fluxes(b)
    rows = []
    for limit in params.limits_g:
        tumf_c, nmf_c = fluxes(np.clip(b, -limit, limit))
        rows.append(
            {
                "limit_g": limit,
                "tumf_orig_mx": tumf_o,
                "tumf_clip_mx": tumf_c,
                "nmf_orig_mx": nmf_o,
                "nmf_clip_mx": nmf_c,
                "tumf_kept": tumf_c / tumf_o if tumf_o > 0 else math.nan,
                "nmf_kept": nmf_c / nmf_o if nmf_o != 0 else math.nan,
                "nmf_sign_flip": bool(np.sign(nmf_c) != np.sign(nmf_o)),
                "n_disk": n_disk,
                "frac_above_limit": float(np.count_nonzero(absb > limit)) / n_disk,
                "max_abs_g": float(absb.max()),
                "size_px": int(geometry.shape[1]),
                "rsun_px": float(geometry.rsun_px),
            }
        )
    return rows


def summarize_saturation(table, limits_g=None) -> dict:
    """Across-map statistics per limit from the rows of :func:`clip_fluxes`.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows of :func:`clip_fluxes` (one per map and limit).
    limits_g : sequence of float, optional
        Limits to summarise (default: those in the table).

    Returns
    -------
    dict
        Keyed by the limit as text (e.g. ``"100"``): ``n_maps``; ``tumf`` and ``nmf``, each with
        ``slope``, ``r2``, ``r2_fit``, ``cc``, ``kept_mean``, ``kept_median`` (definitions in the
        module docstring); ``sign_flip_fraction``.
    """
    import pandas as pd

    table = pd.DataFrame(table)
    if limits_g is None:
        limits_g = sorted(table["limit_g"].unique()) if len(table) else []
    out = {}
    for limit in limits_g:
        sub = table[table["limit_g"] == float(limit)]
        entry = {"limit_g": float(limit), "n_maps": int(len(sub))}
        for q in ("tumf", "nmf"):
            stats = series_metrics(sub[f"{q}_orig_mx"].to_numpy(), sub[f"{q}_clip_mx"].to_numpy())
            kept = sub[f"{q}_kept"].to_numpy(dtype=float)
            kept = kept[np.isfinite(kept)]
            entry[q] = {
                "slope": stats["slope"],
                "r2": stats["r2"],
                "r2_fit": stats["r2_fit"],
                "cc": stats["cc"],
                "kept_mean": float(kept.mean()) if kept.size else math.nan,
                "kept_median": float(np.median(kept)) if kept.size else math.nan,
            }
        entry["sign_flip_fraction"] = float(sub["nmf_sign_flip"].astype(bool).mean()) if len(sub) else math.nan
        out[f"{float(limit):g}"] = entry
    return out


def amf_statistics(amf_g, limits_g) -> dict:
    """Distribution of the regions' mean absolute field (AMF).

    Parameters
    ----------
    amf_g : array-like
        AMF of every detected region in G.
    limits_g : sequence of float
        Limits for the share below.

    Returns
    -------
    dict
        ``n_regions``, ``mean_g``, ``std_g`` (sample standard deviation, ddof=1), ``median_g``,
        ``min_g``, ``max_g`` and ``share_below`` (``{"100": fraction with AMF < 100 G, ...}``);
        statistics are NaN when there is no region (std needs two).
    """
    amf = np.asarray(amf_g, dtype=np.float64)
    amf = amf[np.isfinite(amf)]
    n = int(amf.size)
    return {
        "n_regions": n,
        "mean_g": float(amf.mean()) if n else math.nan,
        "std_g": float(amf.std(ddof=1)) if n > 1 else math.nan,
        "median_g": float(np.median(amf)) if n else math.nan,
        "min_g": float(amf.min()) if n else math.nan,
        "max_g": float(amf.max()) if n else math.nan,
        "share_below": {f"{float(L):g}": (float(np.mean(amf < float(L))) if n else math.nan) for L in limits_g},
    }
