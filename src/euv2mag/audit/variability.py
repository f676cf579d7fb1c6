"""Run-to-run variability: how much do generated maps of the same frame differ between training runs?

For several generated maps of one frame (models trained with different seeds), compare every
pair of runs ``(a, b)`` with ``a < b``:

Pixel statistics (disk pixels ``rho < r_max``, as in :mod:`euv2mag.audit.fulldisk`)
    ``cc`` and ``cc_binned`` (Pearson r, raw and after ``k x k`` NaN-aware block means),
    ``rmse_g`` (G), ``polarity_disagreement`` = share of the pixels where both ``|B_a|`` and
    ``|B_b|`` exceed ``strong_g`` (default 50 G) whose signs differ (NaN when ``n_strong`` = 0),
    ``tumf_a_mx``, ``tumf_b_mx``, ``nmf_a_mx``, ``nmf_b_mx`` (Mx, ``|B| > threshold_g`` per
    map), ``nmf_sign_agree``.
Region overlap
    Regions detected on both maps are matched one-to-one
    (:func:`euv2mag.audit.match.match_regions`, heliographic distance <= ``max_distance_deg``):
    ``n_regions_a``, ``n_regions_b``, ``n_regions_matched``, ``recall_a_in_b`` (matched / n_a:
    share of run a's regions that run b reproduces), ``recall_b_in_a`` (matched / n_b) and
    ``region_jaccard`` = matched / (n_a + n_b - matched); NaN where the denominator is 0.

Per-pixel spread
    :func:`pixel_std_map` returns the per-pixel sample standard deviation (ddof=1) across runs
    in G, NaN off the disk; ``euv2mag audit`` stores it per frame in ``pixel_std.zarr``.

These are the ``variability.csv`` columns of ``euv2mag audit`` (plus ``frame``, ``time``,
``run_a``, ``run_b``).
"""
from __future__ import annotations

import math
from itertools import combinations

import numpy as np

from ..geometry import DiskGeometry
from .fulldisk import FullDiskParams, disk_pixels, frame_metrics

__all__ = ["pair_pixel_metrics", "region_overlap", "pixel_std_map", "frame_variability"]


def pair_pixel_metrics(map_a: np.ndarray, map_b: np.ndarray, geometry: DiskGeometry, params: FullDiskParams = FullDiskParams()) -> dict:
    """Pixel agreement of two generated maps of the same frame.

    Parameters
    ----------
    map_a, map_b : ndarray
        (H, W) LOS field in G of two runs (no NaN on the disk).
    geometry : DiskGeometry
        Geometry of the frame.
    params : FullDiskParams
        Disk cut, threshold, binning and strong-field level.

    Returns
    -------
    dict
        ``cc``, ``cc_binned``, ``rmse_g``, ``polarity_disagreement``, ``n_strong``, ``tumf_a_mx``,
        ``tumf_b_mx``, ``nmf_a_mx``, ``nmf_b_mx``, ``nmf_sign_agree``.
    """
    m = frame_metrics(map_a, map_b, geometry, params)
    agree = m["polarity_agreement"]
    return {
        "cc": m["cc"],
        "cc_binned": m["cc_binned"],
        "rmse_g": m["rmse_g"],
        "polarity_disagreement": 1.0 - agree if math.isfinite(agree) else math.nan,
        "n_strong": m["n_strong"],
        "tumf_a_mx": m["tumf_ref_mx"],
        "tumf_b_mx": m["tumf_gen_mx"],
        "nmf_a_mx": m["nmf_ref_mx"],
        "nmf_b_mx": m["nmf_gen_mx"],
        "nmf_sign_agree": m["nmf_sign_agree"],
    }


def region_overlap(table_a, table_b, max_distance_deg: float = 5.0) -> dict:
    """Overlap of two detected region sets by one-to-one heliographic matching.

    Parameters
    ----------
    table_a, table_b : pandas.DataFrame
        Region tables of :func:`euv2mag.audit.measurement.measure_regions` (columns ``lat_deg``,
        ``lon_deg`` at least).
    max_distance_deg : float
        Largest centre distance (great-circle degrees) of a match.

    Returns
    -------
    dict
        ``n_regions_a``, ``n_regions_b``, ``n_regions_matched``, ``recall_a_in_b``,
        ``recall_b_in_a``, ``region_jaccard``.
    """
    from .match import match_regions

    n_a, n_b = int(len(table_a)), int(len(table_b))
    matched = int(len(match_regions(table_a, table_b, max_distance_deg=max_distance_deg).pairs)) if n_a and n_b else 0
    union = n_a + n_b - matched
    return {
        "n_regions_a": n_a,
        "n_regions_b": n_b,
        "n_regions_matched": matched,
        "recall_a_in_b": matched / n_a if n_a else math.nan,
        "recall_b_in_a": matched / n_b if n_b else math.nan,
        "region_jaccard": matched / union if union else math.nan,
    }


def pixel_std_map(maps, geometry: DiskGeometry | None = None, r_max: float = 1.0) -> np.ndarray:
    """Per-pixel sample standard deviation across runs.

    Parameters
    ----------
    maps : sequence of ndarray
        Two or more (H, W) maps in G.
    geometry : DiskGeometry, optional
        When given, pixels outside ``rho < r_max`` are set to NaN.
    r_max : float
        Disk cut used with ``geometry``.

    Returns
    -------
    ndarray
        (H, W) float32 standard deviation in G (ddof=1).
    """
    stack = np.stack([np.asarray(m, dtype=np.float64) for m in maps])
    if stack.shape[0] < 2:
        raise ValueError("the spread needs at least two maps")
    std = stack.std(axis=0, ddof=1)
    if geometry is not None:
        _, disk = disk_pixels(geometry, r_max)
        std = np.where(disk, std, np.nan)
    return std.astype(np.float32)


def frame_variability(
    maps: dict,
    geometry: DiskGeometry,
    params: FullDiskParams = FullDiskParams(),
    region_tables: dict | None = None,
    max_distance_deg: float = 5.0,
) -> tuple[list[dict], np.ndarray]:
    """All pairwise comparisons of the runs' maps of one frame, and their per-pixel spread.

    Parameters
    ----------
    maps : dict of str to ndarray
        Run name -> (H, W) generated map in G (at least two).
    geometry : DiskGeometry
        Geometry of the frame.
    params : FullDiskParams
        Disk cut, threshold, binning and strong-field level.
    region_tables : dict of str to DataFrame, optional
        Run name -> detected regions; adds the region-overlap columns.
    max_distance_deg : float
        Matching distance for the region overlap.

    Returns
    -------
    rows : list of dict
        One per pair (``run_a``, ``run_b`` + the columns of :func:`pair_pixel_metrics` and
        :func:`region_overlap`).
    std : ndarray
        (H, W) per-pixel standard deviation in G (NaN outside ``r_max``).
    """
    names = list(maps)
    rows = []
    for a, b in combinations(names, 2):
        row = {"run_a": a, "run_b": b, **pair_pixel_metrics(maps[a], maps[b], geometry, params)}
        if region_tables is not None:
            row.update(region_overlap(region_tables[a], region_tables[b], max_distance_deg))
        rows.append(row)
    return rows, pixel_std_map([maps[n] for n in names], geometry, params.r_max)
