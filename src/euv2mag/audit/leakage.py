"""Train/test leakage of a split: how close, in time and in solar face, test frames are to training.

The Sun rotates once in ~27.28 d (synodic Carrington period) and active regions live for weeks
to months, so a test frame can show the very regions a training frame showed, one cadence step
or one rotation earlier.  For each test frame this module measures

* ``gap_days``: the time to the nearest training frame;
* ``same_face_gap_days``: the time to the nearest training frame that shows the same face of
  the Sun, i.e. whose disk-centre Carrington longitude L0 is within ``same_face_deg``
  (default 13.2 deg, one day of synodic rotation; difference wrapped to [0, 180] deg);
* with region data, which of the frame's regions also appear in a training frame, by two
  criteria: the generator's truth (same ``region_id``, synthetic stores) and position (a
  training region whose Carrington position, advanced by differential rotation relative to the
  Carrington rate to the test time, lies within ``tolerance_deg`` great-circle degrees of the
  test region, within ``max_gap_days``).  The position criterion works on any region table with
  columns ``time``, ``lat_deg``, ``carrington_lon_deg`` (e.g. regions detected by
  :mod:`euv2mag.audit.measurement`).

Outputs of ``euv2mag leakage`` (``DIR/leakage.csv``, one row per test frame)
------------------------------------------------------------------------------
The study itself, and the one definition of each file (:data:`~euv2mag.audit.leakage_study.LEAKAGE_CSV`,
:class:`~euv2mag.audit.leakage_study.LeakageSummary`,
:data:`~euv2mag.audit.leakage_study.LEAKAGE_COMPARISON_CSV`), are in :mod:`euv2mag.audit.leakage_study`.

``index``                        frame index (store or time list)
``time``                         ISO 8601 UTC time of the test frame
``l0_deg``                       Carrington longitude of the disk centre (deg)
``gap_days``                     time to the nearest training frame (d)
``nearest_train_index``          that training frame
``nearest_train_time``           its time
``same_face_gap_days``           time to the nearest training frame with |ΔL0| <= same_face_deg (d; empty if none)
``same_face_train_index``        that training frame (-1 if none)
``same_face_train_time``         its time (empty if none)
``same_face_within_1_rotation``  same_face_gap_days <= 1 x 27.2753 d + 1 d
``same_face_within_2_rotations`` same_face_gap_days <= 2 x 27.2753 d + 1 d
``n_regions``                    regions visible in the test frame (with region data)
``n_regions_in_train_truth``     of them, regions whose region_id is seen in a training frame (synthetic truth)
``n_regions_in_train_position``  of them, regions matched by position to a training-frame region

``DIR/leakage.json`` holds the scheme and split file, the parameters, and ``n_test``,
``n_train``, ``n_val``, ``min_gap_days``, ``median_gap_days``, ``max_gap_days``,
``frac_gap_le_1d``, ``median_same_face_gap_days``, ``frac_same_face_within_1_rotation``,
``frac_same_face_within_2_rotations``, ``frac_same_face_none`` (test frames with no same-face
training frame at all), and with region data ``n_test_region_observations`` (region x test-frame
rows), ``frac_test_regions_in_train_truth`` (share of those rows whose region_id is in a
training frame), ``n_distinct_test_regions`` and ``frac_distinct_test_regions_in_train_truth``
(the same per distinct region), ``frac_test_regions_in_train_position`` (share of rows matched by
position), and ``position_vs_truth_agreement``, ``position_precision``, ``position_recall``
(the position criterion scored against the truth).  With several splits, one row per split
with these numbers goes to ``DIR/leakage_comparison.csv``.
"""
from __future__ import annotations

import numpy as np

from ..data.splits import to_datetime64

__all__ = [
    "SYNODIC_CARRINGTON_DAYS",
    "SAME_FACE_DEG",
    "l0_for_times",
    "wrapped_abs_diff_deg",
    "nearest_gap",
    "same_face_gap",
    "frame_leakage",
    "summarize_frame_leakage",
    "excess_rotation_deg_per_day",
    "position_matches",
    "region_id_matches",
    "region_leakage",
]

#: Mean synodic Carrington rotation period (d).
SYNODIC_CARRINGTON_DAYS = 27.2753
#: One day of synodic rotation (deg): 360 / 27.2753.
SAME_FACE_DEG = 13.2
_DAY_MS = 86_400_000.0


def _days(times) -> np.ndarray:
    """Times as float days since 1970 (from anything :func:`to_datetime64` takes)."""
    return to_datetime64(times).astype(np.int64).astype(np.float64) / _DAY_MS


def l0_for_times(times) -> np.ndarray:
    """Carrington longitude of the disk centre seen from Earth at ``times`` (sunpy's ``sun.L0``).

    Parameters
    ----------
    times : sequence of str, datetime64 array or `~astropy.time.Time`

    Returns
    -------
    numpy.ndarray
        (N,) L0 in degrees, in [0, 360).
    """
    from astropy.time import Time
    from sunpy.coordinates import sun

    t64 = to_datetime64(times)
    if t64.size == 0:
        return np.zeros(0)
    return np.atleast_1d(np.asarray(sun.L0(Time(t64, scale="utc")).to_value("deg"), dtype=float))


def wrapped_abs_diff_deg(a, b) -> np.ndarray:
    """|a - b| for angles in degrees, wrapped to [0, 180] (broadcasting)."""
    d = np.mod(np.asarray(a, dtype=float) - np.asarray(b, dtype=float), 360.0)
    return np.minimum(d, 360.0 - d)


def nearest_gap(test_times, train_times) -> tuple[np.ndarray, np.ndarray]:
    """Time from each test time to the nearest training time.

    Returns
    -------
    gaps : numpy.ndarray
        (N_test,) absolute gaps in days.
    nearest : numpy.ndarray
        (N_test,) position of that training time in ``train_times``.
    """
    a, b = _days(test_times), _days(train_times)
    if b.size == 0:
        raise ValueError("no training times")
    order = np.argsort(b, kind="stable")
    sb = b[order]
    pos = np.searchsorted(sb, a)
    left = np.clip(pos - 1, 0, sb.size - 1)
    right = np.clip(pos, 0, sb.size - 1)
    use_right = np.abs(sb[right] - a) < np.abs(a - sb[left])
    best = np.where(use_right, right, left)
    return np.abs(sb[best] - a), order[best]


def same_face_gap(test_times, test_l0_deg, train_times, train_l0_deg, *, same_face_deg: float = SAME_FACE_DEG,
                  chunk: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Time from each test frame to the nearest training frame showing the same face of the Sun.

    Parameters
    ----------
    test_times, train_times : time arrays
    test_l0_deg, train_l0_deg : array_like
        Carrington longitude of the disk centre of each frame (deg).
    same_face_deg : float
        Largest wrapped |ΔL0| (deg) for two frames to show the same face.
    chunk : int
        Test frames per block of the (chunk x N_train) distance matrix.

    Returns
    -------
    gaps : numpy.ndarray
        (N_test,) gaps in days; ``inf`` where no training frame shows the same face.
    nearest : numpy.ndarray
        (N_test,) position of that training frame in ``train_times`` (-1 if none).
    """
    a, b = _days(test_times), _days(train_times)
    la, lb = np.asarray(test_l0_deg, dtype=float), np.asarray(train_l0_deg, dtype=float)
    if la.shape != a.shape or lb.shape != b.shape:
        raise ValueError("one L0 per time is needed")
    gaps = np.full(a.shape, np.inf)
    nearest = np.full(a.shape, -1, dtype=np.int64)
    if b.size == 0:
        return gaps, nearest
    for start in range(0, a.size, chunk):
        sl = slice(start, start + chunk)
        dt = np.abs(a[sl, None] - b[None, :])
        dt[wrapped_abs_diff_deg(la[sl, None], lb[None, :]) > same_face_deg] = np.inf
        k = np.argmin(dt, axis=1)
        g = dt[np.arange(k.size), k]
        gaps[sl] = g
        nearest[sl] = np.where(np.isfinite(g), k, -1)
    return gaps, nearest


def frame_leakage(test_index, test_times, test_l0_deg, train_index, train_times, train_l0_deg, *,
                  same_face_deg: float = SAME_FACE_DEG):
    """Per-test-frame leakage table (the columns of ``leakage.csv`` without the region counts).

    Parameters
    ----------
    test_index, train_index : array_like of int
        Frame indices of the test and training frames.
    test_times, train_times : sequence of str
        Their ISO 8601 UTC times.
    test_l0_deg, train_l0_deg : array_like
        Their disk-centre Carrington longitudes (deg).
    same_face_deg : float
        Same-face tolerance on |ΔL0| (deg).

    Returns
    -------
    pandas.DataFrame
    """
    import pandas as pd

    test_times = [str(t) for t in test_times]
    train_times = [str(t) for t in train_times]
    train_index = np.asarray(train_index, dtype=np.int64)
    gaps, near = nearest_gap(test_times, train_times)
    sf, sf_near = same_face_gap(test_times, test_l0_deg, train_times, train_l0_deg, same_face_deg=same_face_deg)
    has = sf_near >= 0
    train_times_arr = np.asarray(train_times, dtype=object)
    frame = pd.DataFrame({
        "index": np.asarray(test_index, dtype=np.int64),
        "time": test_times,
        "l0_deg": np.asarray(test_l0_deg, dtype=float),
        "gap_days": gaps,
        "nearest_train_index": train_index[near],
        "nearest_train_time": train_times_arr[near],
        "same_face_gap_days": np.where(has, sf, np.nan),
        "same_face_train_index": np.where(has, train_index[np.maximum(sf_near, 0)], -1),
        "same_face_train_time": np.where(has, train_times_arr[np.maximum(sf_near, 0)], ""),
    })
    for k, name in ((1, "same_face_within_1_rotation"), (2, "same_face_within_2_rotations")):
        frame[name] = has & (sf <= k * SYNODIC_CARRINGTON_DAYS + 1.0)
    return frame


def summarize_frame_leakage(frame) -> dict:
    """Headline numbers of a :func:`frame_leakage` table (days and fractions of test frames)."""
    gaps = frame["gap_days"].to_numpy(float)
    sf = frame["same_face_gap_days"].to_numpy(float)
    return {
        "n_test": int(len(frame)),
        "min_gap_days": float(np.min(gaps)),
        "median_gap_days": float(np.median(gaps)),
        "max_gap_days": float(np.max(gaps)),
        "frac_gap_le_1d": float(np.mean(gaps <= 1.0)),
        "median_same_face_gap_days": float(np.nanmedian(sf)) if np.isfinite(sf).any() else None,
        "frac_same_face_within_1_rotation": float(frame["same_face_within_1_rotation"].mean()),
        "frac_same_face_within_2_rotations": float(frame["same_face_within_2_rotations"].mean()),
        "frac_same_face_none": float(np.mean(~np.isfinite(sf))),
    }


# ---------------------------------------------------------------------------------- regions
def excess_rotation_deg_per_day(lat_deg, *, model: str = "howard") -> np.ndarray:
    """Drift rate of a surface feature in Carrington longitude (deg/day) at latitude ``lat_deg``.

    The sidereal rate of sunpy's :func:`sunpy.sun.models.differential_rotation` (``model``:
    "howard", "snodgrass", "allen", "rigid") minus the Carrington sidereal rate
    (:data:`sunpy.sun.constants.sidereal_rotation_rate`, 14.1844 deg/day).  Positive: the feature
    moves to larger Carrington longitude with time.
    """
    import astropy.units as u
    from sunpy.sun import constants
    from sunpy.sun.models import differential_rotation

    lat = np.asarray(lat_deg, dtype=float)
    one_day = differential_rotation(1 * u.day, lat * u.deg, model=model, frame_time="sidereal")
    # a one-day rotation (~10-15 deg) never wraps, so the Longitude is the rate itself
    rate = np.asarray(one_day.to_value("deg"), dtype=float)
    return rate - constants.sidereal_rotation_rate.to_value("deg/day")


def position_matches(test_regions, train_regions, *, tolerance_deg: float = 5.0, max_gap_days: float | None = None,
                     model: str = "howard", chunk: int = 512) -> np.ndarray:
    """Which test regions have a training region at the same Carrington position.

    Parameters
    ----------
    test_regions, train_regions : pandas.DataFrame
        Region tables with columns ``time`` (ISO 8601 UTC), ``lat_deg`` and
        ``carrington_lon_deg`` (deg), one row per region per frame.
    tolerance_deg : float
        Largest great-circle distance (deg) between the test region and a training region advanced
        to the test time by differential rotation relative to the Carrington rate.
    max_gap_days : float, optional
        Only training regions within this time of the test region count (default: 4 rotations,
        about the lifetime of a large active region).
    model : str
        Differential-rotation law (see :func:`excess_rotation_deg_per_day`).

    Returns
    -------
    numpy.ndarray
        (len(test_regions),) bool.
    """
    from astropy.coordinates import angular_separation

    if max_gap_days is None:
        max_gap_days = 4 * SYNODIC_CARRINGTON_DAYS
    out = np.zeros(len(test_regions), dtype=bool)
    if len(test_regions) == 0 or len(train_regions) == 0:
        return out
    ta, tb = _days(list(test_regions["time"])), _days(list(train_regions["time"]))
    lat_a = np.radians(test_regions["lat_deg"].to_numpy(float))
    lon_a = test_regions["carrington_lon_deg"].to_numpy(float)
    lat_b_deg = train_regions["lat_deg"].to_numpy(float)
    lat_b = np.radians(lat_b_deg)
    lon_b = train_regions["carrington_lon_deg"].to_numpy(float)
    drift = excess_rotation_deg_per_day(lat_b_deg, model=model)
    # Only pairs within max_gap_days can match: the test regions go in chunks of consecutive times,
    # each against the training regions of its time window (a day wider than needed, so rounding
    # at the window's edge cannot drop a pair the |dt| test keeps) -- the same pairs, tested the
    # same way, as all pairs at once, at a fraction of the cost on a multi-year series.
    by_time_a = np.argsort(ta, kind="stable")
    by_time_b = np.argsort(tb, kind="stable")
    tb, lat_b, lon_b, drift = tb[by_time_b], lat_b[by_time_b], lon_b[by_time_b], drift[by_time_b]
    for start in range(0, ta.size, chunk):
        rows = by_time_a[start:start + chunk]
        t_rows = ta[rows]
        if not np.any(np.isfinite(t_rows)):
            continue
        lo = int(np.searchsorted(tb, np.nanmin(t_rows) - max_gap_days - 1.0, side="left"))
        hi = int(np.searchsorted(tb, np.nanmax(t_rows) + max_gap_days + 1.0, side="right"))
        if hi <= lo:
            continue
        cols = slice(lo, hi)
        dt = t_rows[:, None] - tb[None, cols]
        moved = np.radians(lon_b[None, cols] + drift[None, cols] * dt)
        sep = np.degrees(angular_separation(np.radians(lon_a[rows, None]), lat_a[rows, None], moved, lat_b[None, cols]))
        out[rows] = np.any((sep <= tolerance_deg) & (np.abs(dt) <= max_gap_days), axis=1)
    return out


def region_id_matches(test_ids, train_ids) -> np.ndarray:
    """(len(test_ids),) bool: the test region's id occurs among the training regions' ids."""
    return np.isin(np.asarray(test_ids), np.asarray(train_ids))


def region_leakage(regions, train_frames, test_frames, *, tolerance_deg: float = 5.0,
                   max_gap_days: float | None = None, model: str = "howard"):
    """Region leakage between the training and test frames.

    Parameters
    ----------
    regions : pandas.DataFrame
        One row per region per frame with columns ``frame`` (frame index), ``time``,
        ``lat_deg``, ``carrington_lon_deg`` and optionally ``region_id`` (truth).
    train_frames, test_frames : array_like of int
        Frame indices of the training and test sets.
    tolerance_deg, max_gap_days, model
        See :func:`position_matches`.

    Returns
    -------
    rows : pandas.DataFrame
        The test rows of ``regions`` with bool columns ``in_train_position`` and, with
        ``region_id``, ``in_train_truth``.
    stats : dict
        The region numbers of ``leakage.json`` (see the module notes).
    """
    frames = regions["frame"].to_numpy()
    train = regions[np.isin(frames, np.asarray(train_frames))].reset_index(drop=True)
    test = regions[np.isin(frames, np.asarray(test_frames))].reset_index(drop=True).copy()
    test["in_train_position"] = position_matches(test, train, tolerance_deg=tolerance_deg,
                                                 max_gap_days=max_gap_days, model=model)
    n = len(test)
    stats = {
        "n_test_region_observations": n,
        "frac_test_regions_in_train_position": float(test["in_train_position"].mean()) if n else None,
        "region_tolerance_deg": tolerance_deg,
        "region_max_gap_days": max_gap_days if max_gap_days is not None else 4 * SYNODIC_CARRINGTON_DAYS,
        "differential_rotation_model": model,
    }
    if "region_id" in regions.columns:
        test["in_train_truth"] = region_id_matches(test["region_id"], train["region_id"])
        distinct = np.unique(test["region_id"])
        truth, pos = test["in_train_truth"].to_numpy(), test["in_train_position"].to_numpy()
        stats.update({
            "frac_test_regions_in_train_truth": float(truth.mean()) if n else None,
            "n_distinct_test_regions": int(distinct.size),
            "frac_distinct_test_regions_in_train_truth":
                float(np.isin(distinct, train["region_id"]).mean()) if distinct.size else None,
            "position_vs_truth_agreement": float(np.mean(truth == pos)) if n else None,
            "position_precision": float(np.mean(truth[pos])) if pos.any() else None,
            "position_recall": float(np.mean(pos[truth])) if truth.any() else None,
        })
    return test, stats
