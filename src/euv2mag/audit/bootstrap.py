"""Confidence intervals of audit numbers by a block bootstrap over time.

An audit's numbers (a TUMF correlation across 121 test frames, a polarity agreement over 250
region observations) come from frames that are far from independent: a region stays on the disk
for about two weeks, so consecutive frames show the same regions, and a binomial or a plain
frame bootstrap would give intervals that are much too narrow.  Here the frames are grouped into
consecutive **time blocks** (default 13.6 days, the time a region takes to cross the visible
hemisphere, half a synodic rotation), and each bootstrap replicate draws as many blocks as there
are, with replacement, keeping all frames (and so all region observations) of a drawn block
together (a non-overlapping block bootstrap, Carlstein 1986).  Any statistic that is a function of a
set of frames can then be recomputed per replicate; the interval is the percentile interval of
the replicates.

**Footprint polarity: regions, not frames.**  The footprint measures of the Hale classes
(``footprint_polarity_agreement``, ``footprint_nmf_sign_agreement``, the hemisphere contrasts;
:mod:`euv2mag.audit.hale`) are shares over region *observations*, and one region is observed in
every frame it crosses: what a model gets right or wrong about a region's polarity it mostly
gets right or wrong in all of them (the ``sign-coin`` baseline does so exactly: one coin per
region).  The independent items are the regions, so these quantities get a **region-clustered
bootstrap** (:func:`cluster_bootstrap`): each replicate draws as many regions as were observed,
with replacement, keeping all observations of a drawn region (in every frame, of every
prediction) together, and the interval is the percentile interval of the replicates.  A region
is the generator's region id of the truth region (synthetic truth: the injected region nearest
to the detected centre, :func:`euv2mag.audit.pipeline.truth_footprints`); without one (real
data), observations are linked by position (:func:`region_clusters`: the same Carrington
latitude-longitude within ``link_deg`` of a region's last observation, at most ``link_days``
later).  It ignores what regions of one frame share (a model's sign error common to a whole
frame), which the frame-block intervals of the other numbers keep.

Limits, stated: blocks longer than the correlation time are needed for honest intervals, and
long-lived regions that return after a rotation (27 d) still correlate across blocks, so
intervals are, if anything, still somewhat narrow; ``block_days`` can be raised.  With fewer than
about 10 blocks the intervals themselves are uncertain (``bootstrap.n_blocks`` is recorded).
"""
from __future__ import annotations

import math
from typing import Callable, Iterator, Sequence

import numpy as np

__all__ = [
    "DISK_PASSAGE_DAYS",
    "time_blocks",
    "block_resamples",
    "percentile_intervals",
    "block_bootstrap",
    "region_clusters",
    "cluster_bootstrap",
]

#: Half a synodic Carrington rotation (27.275 d): the time a region takes to cross the disk.
DISK_PASSAGE_DAYS = 13.6


def time_blocks(times, block_days: float = DISK_PASSAGE_DAYS) -> np.ndarray:
    """Consecutive time-block number of every frame.

    Parameters
    ----------
    times : sequence of str or datetime64
        (N,) observation times of the frames (any order).
    block_days : float
        Block length in days; frames in ``[t0 + k L, t0 + (k + 1) L)`` share block ``k``, with
        ``t0`` the earliest time.  Empty blocks (gaps in the test set) are dropped.

    Returns
    -------
    numpy.ndarray
        (N,) int block labels ``0 .. n_blocks - 1`` in time order.

    Examples
    --------
    Thirty daily test frames fall into two full 13.6-day blocks and the start of a third:

    >>> import numpy as np
    >>> times = np.arange("2011-09-01", "2011-10-01", dtype="datetime64[D]")
    >>> blocks = time_blocks(times)
    >>> np.bincount(blocks).tolist()
    [14, 14, 2]

    A gap in the test set leaves no empty block behind, and the labels follow time, not the
    order of the input:

    >>> time_blocks(["2012-03-20", "2011-09-01", "2011-09-02"]).tolist()
    [1, 0, 0]

    A replicate of :func:`block_resamples` holds every frame of each block it draws:

    >>> replicate = next(block_resamples(blocks, n_boot=1, seed=0))
    >>> counts = np.bincount(blocks[replicate], minlength=3)
    >>> bool(np.all(counts % np.bincount(blocks) == 0))
    True
    """
    if not block_days > 0 or not math.isfinite(block_days):
        raise ValueError(f"block length must be a positive number of days, got {block_days!r}")
    t = np.asarray(times, dtype="datetime64[ms]").astype(np.int64).astype(np.float64) / 86_400_000.0
    if t.size == 0:
        return np.zeros(0, dtype=np.int64)
    raw = np.floor((t - t.min()) / block_days).astype(np.int64)
    _, labels = np.unique(raw, return_inverse=True)
    return labels.astype(np.int64)


def block_resamples(blocks: np.ndarray, n_boot: int, seed: int = 0) -> Iterator[np.ndarray]:
    """Frame positions of ``n_boot`` block-bootstrap replicates.

    Parameters
    ----------
    blocks : numpy.ndarray
        (N,) block label of every frame (:func:`time_blocks`).
    n_boot : int
        Number of replicates.
    seed : int
        Seed of the draws (the same seed gives the same replicates).

    Yields
    ------
    numpy.ndarray
        Positions ``0 .. N-1`` of the frames of one replicate: ``n_blocks`` blocks drawn with
        replacement, each contributing all of its frames (so replicates vary in length).
    """
    blocks = np.asarray(blocks, dtype=np.int64)
    members = [np.flatnonzero(blocks == b) for b in np.unique(blocks)]
    rng = np.random.default_rng([int(seed), 20190711])
    for _ in range(int(n_boot)):
        drawn = rng.integers(0, len(members), size=len(members))
        yield np.concatenate([members[b] for b in drawn])


def _leaves(obj, prefix=()) -> Iterator[tuple[tuple, float]]:
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _leaves(value, prefix + (key,))
    elif isinstance(obj, (bool, np.bool_)):
        return
    elif isinstance(obj, (int, float, np.integer, np.floating)):
        yield prefix, float(obj)


def _is_count(key: str) -> bool:
    return key == "n" or key.startswith("n_")


def percentile_intervals(replicates: Sequence[dict], level: float = 0.95, min_finite: float = 0.9) -> dict:
    """Percentile intervals of every numeric leaf of nested result dicts.

    Parameters
    ----------
    replicates : sequence of dict
        One nested dict of numbers per bootstrap replicate (same layout).
    level : float
        Central coverage of the interval (0.95: the 2.5 and 97.5 percentiles).
    min_finite : float
        Fewest fraction of replicates in which a number must be finite for its interval to be
        given; otherwise the interval is ``[nan, nan]`` (e.g. a polarity agreement of a class of
        regions that most replicates do not contain).

    Returns
    -------
    dict
        The same nested layout with ``[low, high]`` lists at the leaves; counts (keys ``n`` and
        ``n_*``) and booleans are left out.
    """
    if not 0 < level < 1:
        raise ValueError(f"interval level must be in (0, 1), got {level}")
    values: dict[tuple, list[float]] = {}
    for rep in replicates:
        for path, v in _leaves(rep):
            if not _is_count(path[-1]):
                values.setdefault(path, []).append(v)
    n_rep = len(replicates)
    out: dict = {}
    q = 100 * np.array([(1 - level) / 2, (1 + level) / 2])
    for path, vals in values.items():
        arr = np.asarray(vals, dtype=np.float64)
        arr = arr[np.isfinite(arr)]
        if n_rep and arr.size >= min_finite * n_rep and arr.size:
            lo, hi = np.percentile(arr, q)
            interval = [float(lo), float(hi)]
        else:
            interval = [math.nan, math.nan]
        node = out
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = interval
    return out


def block_bootstrap(
    statistic: Callable[[np.ndarray], dict],
    times,
    *,
    n_boot: int = 1000,
    block_days: float = DISK_PASSAGE_DAYS,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[dict, dict]:
    """Block-bootstrap percentile intervals of a statistic of a set of frames.

    Parameters
    ----------
    statistic : callable
        ``statistic(positions) -> nested dict of numbers``, computed on the frames at
        ``positions`` (which may repeat).
    times : sequence of str or datetime64
        (N,) times of the frames, for the blocks.
    n_boot, block_days, level, seed :
        Replicates, block length (days), interval coverage and seed of the draws.

    Returns
    -------
    intervals : dict
        :func:`percentile_intervals` of the replicates.
    info : dict
        ``method``, ``n_boot``, ``block_days``, ``n_blocks``, ``level``, ``seed``.
    """
    blocks = time_blocks(times, block_days)
    replicates = [statistic(pos) for pos in block_resamples(blocks, n_boot, seed)]
    info = {
        "method": "non-overlapping time-block bootstrap over frames, percentile intervals",
        "n_boot": int(n_boot),
        "block_days": float(block_days),
        "n_blocks": int(blocks.max() + 1) if blocks.size else 0,
        "level": float(level),
        "seed": int(seed),
    }
    return percentile_intervals(replicates, level), info


def region_clusters(region_id, frame, time, lat_deg, carrington_lon_deg, *, link_deg: float = 5.0,
                    link_days: float = DISK_PASSAGE_DAYS) -> np.ndarray:
    """Cluster (region) number of every truth region observation, for :func:`cluster_bootstrap`.

    Parameters
    ----------
    region_id : array-like
        (N,) generator region id of each observation (None/NaN where there is none).
    frame : array-like
        (N,) frame of each observation.
    time : array-like of str or datetime64
        (N,) observation time.
    lat_deg, carrington_lon_deg : array-like
        (N,) centre of each observation (deg).
    link_deg : float
        Largest great-circle distance (deg) of an observation without a generator id from the
        last observation of a region to be linked to it.
    link_days : float
        Longest time (days) after that last observation.

    Returns
    -------
    numpy.ndarray
        (N,) int cluster labels ``0 .. n_clusters - 1``: observations with the same generator id
        share one; the others are linked in time order to the nearest region last seen within
        ``link_deg`` and ``link_days`` in an earlier frame (a new region otherwise).

    Examples
    --------
    Two observations of generator region 7, and a region without an id seen on two days at the
    same Carrington place, and once far away:

    >>> region_clusters([7, 7, None, None, None], [0, 1, 0, 1, 1], ["2014-01-01", "2014-01-02"] * 2 + ["2014-01-02"],
    ...                 [10, 10, -20, -20.5, 30], [100, 100.5, 200, 200.5, 10]).tolist()
    [0, 0, 1, 1, 2]
    """
    from .match import great_circle_deg

    ids = np.asarray([math.nan if v is None else float(v) for v in region_id], dtype=np.float64)
    n = ids.size
    labels = np.full(n, -1, dtype=np.int64)
    known = np.isfinite(ids)
    _, inverse = np.unique(ids[known], return_inverse=True)
    labels[known] = inverse
    next_label = int(inverse.max()) + 1 if inverse.size else 0
    t = np.asarray(time, dtype="datetime64[ms]").astype(np.int64).astype(np.float64) / 86_400_000.0
    lat = np.asarray(lat_deg, dtype=np.float64)
    lon = np.asarray(carrington_lon_deg, dtype=np.float64)
    frames = np.asarray(frame)
    # regions without an id: (label, last time, last frame, lat, lon) of their last observation
    last: list[list] = []
    for i in sorted(np.flatnonzero(~known), key=lambda k: (t[k], k)):
        best, best_d = None, math.inf
        for entry in last:
            if entry[2] == frames[i] or not 0 < t[i] - entry[1] <= link_days:
                continue
            d = float(great_circle_deg(lat[i], lon[i], entry[3], entry[4]))
            if d <= link_deg and d < best_d:
                best, best_d = entry, d
        if best is None:
            best = [next_label, t[i], frames[i], lat[i], lon[i]]
            last.append(best)
            next_label += 1
        labels[i] = best[0]
        best[1:] = [t[i], frames[i], lat[i], lon[i]]
    return labels


def cluster_bootstrap(statistic: Callable[[np.ndarray], dict], clusters, *, n_boot: int = 1000, level: float = 0.95,
                      seed: int = 0) -> tuple[dict, dict]:
    """Cluster-bootstrap percentile intervals of a statistic of a set of items (module docstring).

    Parameters
    ----------
    statistic : callable
        ``statistic(positions) -> nested dict of numbers``, computed on the items at
        ``positions`` (which may repeat).
    clusters : array-like
        (N,) cluster label of every item (:func:`region_clusters`).
    n_boot, level, seed :
        Replicates, interval coverage and seed of the draws.

    Returns
    -------
    intervals : dict
        :func:`percentile_intervals` of the replicates.
    info : dict
        ``method``, ``n_boot``, ``n_clusters``, ``level``, ``seed``.

    Examples
    --------
    Ten clusters of five identical items each: the share of ones varies between replicates by
    clusters, not by items.

    >>> import numpy as np
    >>> clusters = np.repeat(np.arange(10), 5)
    >>> ones = np.repeat([1, 0] * 5, 5)
    >>> ci, info = cluster_bootstrap(lambda pos: {"share": ones[pos].mean()}, clusters, n_boot=400)
    >>> info["n_clusters"], ci["share"][0] < 0.25 and ci["share"][1] > 0.75
    (10, True)
    """
    labels = np.asarray(clusters, dtype=np.int64)
    replicates = [statistic(pos) for pos in block_resamples(labels, n_boot, seed)]
    info = {"method": "region-clustered bootstrap over truth regions, percentile intervals", "n_boot": int(n_boot),
            "n_clusters": int(np.unique(labels).size), "level": float(level), "seed": int(seed)}
    return percentile_intervals(replicates, level), info
