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
