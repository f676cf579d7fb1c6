"""Train/validation/test splits of a time series of frames, and the split file.

Three schemes (``euv2mag split --scheme``):

``kpl19``
    KPL19's split: every frame observed in September or October (UTC, any year) is test, the
    rest is training.  An optional validation slice (``val_fraction`` > 0) takes, in every
    calendar year, the chronologically last ``round(val_fraction * n)`` of that year's ``n``
    training frames (late December); by default there is no validation set.  Test frames sit
    one cadence step away from training frames, so this split leaks.
``rotation``
    Leakage-safe: frames are grouped by Carrington rotation (``floor`` of
    :func:`sunpy.coordinates.sun.carrington_rotation_number` of the frame time).  The rotation
    numbers are cut into consecutive blocks of ``block_rotations`` rotations (aligned on the
    first rotation of the data); blocks are visited in a seeded random order and each is given
    to the test set if that brings the test share of frames closer to ``test_fraction`` (the
    first block is always taken; the visit stops once the target is reached).  Every rotation within ``buffer_rotations`` rotations of a test
    rotation that is not itself test is a buffer: its frames are dropped.  Validation blocks
    (``val_fraction`` > 0) are then taken the same way from the remaining blocks (buffer
    rotations inside them stay dropped); there is no buffer between validation and training.
    With a buffer of K rotations no test frame lies within K whole rotations (K x ~27.28 d) of a
    training or validation frame.
``random``
    Frame-level seeded random split (the worst-leaking baseline): ``round(test_fraction * N)``
    test frames, ``round(val_fraction * N)`` validation frames, the rest training.

Split file (JSON)
-----------------
``scheme``
    "kpl19", "rotation" or "random".
``source``
    The store path, or the list of time-list CSV files.
``params``
    The parameters of the scheme (test months, fractions, buffer, block size, seed).
``sets``
    ``{"train": {"indices": [...], "times": [...]}, "val": {...}, "test": {...}}``: frame indices
    (0-based, into the store or into the sorted, de-duplicated union of the time lists) and their
    ISO 8601 UTC times, in chronological order.
``dropped``
    Same form: buffer frames of the ``rotation`` scheme (empty otherwise).
``frames``
    ``{"n": N, "sha256": ...}``: the number of frames split and the digest of their times
    (:func:`frames_digest`), which binds the split to the store (or time lists) it was made for.
    Split files written before this key existed still load; their digest is computed from
    the times of their sets when those cover frames 0..N-1.
``summary``
    ``n_total``, ``n_train``, ``n_val``, ``n_test``, ``n_dropped``, ``test_fraction`` (share of
    all frames), ``min_gap_test_train_days`` and ``median_gap_test_train_days`` (over test frames,
    the time to the nearest training frame, days), ``min_gap_test_val_days`` (null without a
    validation set), ``time_range``, ``median_cadence_hours``, and for ``rotation`` the lists
    ``test_rotations``, ``val_rotations``, ``buffer_rotations`` (Carrington rotation numbers).

:func:`load_split` reads and validates a split file; :class:`Split` gives ``indices(name)`` and
``times(name)`` for ``name`` in "train", "val", "test", "dropped".  :func:`bind_split` (or
``load_split(path, store=...)``) refuses a split that was not made for the frames it is used
with: every command that takes a split (``train``, ``predict``, ``leakage``) goes through it.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .._io import atomic_write_json
from ..errors import UserError

__all__ = [
    "SCHEMES",
    "SET_NAMES",
    "Split",
    "to_datetime64",
    "read_time_lists",
    "carrington_rotations",
    "kpl19_labels",
    "rotation_labels",
    "random_labels",
    "nearest_gap_days",
    "make_split",
    "write_split",
    "load_split",
    "check_split_times",
    "frames_digest",
    "bind_split",
    "resolve_indices",
]

SCHEMES = ("kpl19", "rotation", "random")
#: Sets of a split file; "dropped" holds the buffer frames of the rotation scheme.
SET_NAMES = ("train", "val", "test", "dropped")
_DAY_MS = 86_400_000.0


# ---------------------------------------------------------------------------------- times
def to_datetime64(times, *, path=None, line_numbers: Sequence[int] | None = None) -> np.ndarray:
    """Convert times to ``datetime64[ms]`` (UTC).

    Parameters
    ----------
    times : sequence of str, numpy datetime64 array, or `~astropy.time.Time`
        ISO 8601 UTC strings (a trailing ``Z`` is accepted), datetime64 values or an astropy Time.
    path : path-like, optional
        File named in the error message.
    line_numbers : sequence of int, optional
        Line number of each value in that file, for the error message.

    Returns
    -------
    numpy.ndarray
        (N,) ``datetime64[ms]``.

    Raises
    ------
    UserError
        If a value is not a time (the message quotes the first bad value).
    """
    from astropy.time import Time

    if isinstance(times, Time):
        return np.asarray(times.utc.datetime64, dtype="datetime64[ms]")
    arr = np.asarray(times)
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[ms]")
    strings = [str(t).strip() for t in np.ravel(arr)]
    cleaned = [s[:-1] if s.endswith("Z") else s for s in strings]
    try:
        return np.asarray(Time(cleaned, format="isot", scale="utc").datetime64, dtype="datetime64[ms]")
    except ValueError:
        pass
    out = np.empty(len(cleaned), dtype="datetime64[ms]")
    for i, text in enumerate(cleaned):
        try:
            out[i] = np.datetime64(Time(text, scale="utc").datetime64, "ms")
        except ValueError:
            where = f"line {line_numbers[i]}" if line_numbers is not None else f"value {i + 1}"
            raise UserError(f"{where} ({strings[i]!r}) is not an ISO 8601 time", path=path) from None
    return out


def read_time_lists(paths: Sequence[str | Path]) -> tuple[list[str], np.ndarray]:
    """Read time-list CSV files (a header line, then one ISO 8601 UTC time per line).

    Parameters
    ----------
    paths : sequence of path-like
        One or more files; their union is taken.

    Returns
    -------
    strings : list of str
        The times as written in the files, sorted chronologically, duplicates removed.
    times : numpy.ndarray
        The same as ``datetime64[ms]``.

    Raises
    ------
    UserError
        For a missing or unreadable file, a file without times, or a line that is not a time.
    """
    if not paths:
        raise UserError("no time-list file given")
    strings: list[str] = []
    values: list[np.ndarray] = []
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise UserError("no such time-list file", path=path)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"cannot read the time list: {exc}", path=path) from None
        numbered = [(k + 2, line.split(",")[0].strip()) for k, line in enumerate(lines[1:]) if line.strip()]
        if not numbered:
            raise UserError("holds no times (expected a header line, then one ISO time per line)", path=path)
        body = [text for _, text in numbered]
        values.append(to_datetime64(body, path=path, line_numbers=[k for k, _ in numbered]))
        strings.extend(body)
    times = np.concatenate(values)
    _, first = np.unique(times, return_index=True)  # sorted by time, first spelling kept
    return [strings[i] for i in first], times[first]


def carrington_rotations(times) -> np.ndarray:
    """Carrington rotation number of each time (integer part of sunpy's fractional number).

    Parameters
    ----------
    times : sequence of str, datetime64 array or `~astropy.time.Time`

    Returns
    -------
    numpy.ndarray
        (N,) int64 rotation numbers.
    """
    from astropy.time import Time
    from sunpy.coordinates import sun

    t64 = to_datetime64(times)
    if t64.size == 0:
        return np.zeros(0, dtype=np.int64)
    number = sun.carrington_rotation_number(Time(t64, scale="utc"))
    return np.floor(np.atleast_1d(np.asarray(number, dtype=float))).astype(np.int64)


def nearest_gap_days(from_times, to_times) -> np.ndarray:
    """For each time in ``from_times``, the absolute time to the nearest time in ``to_times``.

    Parameters
    ----------
    from_times, to_times : datetime64 arrays (or anything :func:`to_datetime64` takes)

    Returns
    -------
    numpy.ndarray
        (len(from_times),) float64 gaps in days; NaN everywhere when ``to_times`` is empty.
    """
    a = to_datetime64(from_times).astype(np.int64).astype(np.float64)
    b = np.sort(to_datetime64(to_times).astype(np.int64).astype(np.float64))
    if b.size == 0:
        return np.full(a.shape, np.nan)
    pos = np.searchsorted(b, a)
    left = b[np.clip(pos - 1, 0, b.size - 1)]
    right = b[np.clip(pos, 0, b.size - 1)]
    return np.minimum(np.abs(a - left), np.abs(right - a)) / _DAY_MS


# ---------------------------------------------------------------------------------- schemes
def _check_fractions(test_fraction: float | None, val_fraction: float) -> None:
    if test_fraction is not None and not 0.0 < test_fraction < 1.0:
        raise UserError(f"must lie between 0 and 1 (exclusive), got {test_fraction}", parameter="test_fraction")
    if not 0.0 <= val_fraction < 1.0:
        raise UserError(f"must lie in [0, 1), got {val_fraction}", parameter="val_fraction")
    if test_fraction is not None and test_fraction + val_fraction >= 1.0:
        raise UserError(f"test fraction {test_fraction} + validation fraction {val_fraction} leave no training frames")


def kpl19_labels(times, *, test_months: Iterable[int] = (9, 10), val_fraction: float = 0.0) -> np.ndarray:
    """Labels of KPL19's month split.

    Parameters
    ----------
    times : datetime64 array (or anything :func:`to_datetime64` takes)
    test_months : iterable of int
        Calendar months (1-12, UTC) whose frames are test; KPL19 used September and October.
    val_fraction : float
        Per calendar year, the share of that year's training frames (the last ones) that become
        validation frames.

    Returns
    -------
    numpy.ndarray
        (N,) str labels "train", "val" or "test".
    """
    _check_fractions(None, val_fraction)
    months = set(int(m) for m in test_months)
    if not months or not months <= set(range(1, 13)):
        raise UserError(f"test months must be numbers 1-12, got {sorted(months)}")
    t64 = to_datetime64(times)
    month = t64.astype("datetime64[M]").astype(np.int64) % 12 + 1
    year = t64.astype("datetime64[Y]").astype(np.int64) + 1970
    labels = np.where(np.isin(month, sorted(months)), "test", "train").astype("<U7")
    if val_fraction > 0:
        for y in np.unique(year):
            idx = np.flatnonzero((year == y) & (labels == "train"))
            idx = idx[np.argsort(t64[idx], kind="stable")]
            n_val = int(round(val_fraction * idx.size))
            if n_val:
                labels[idx[idx.size - n_val:]] = "val"
    return labels


def _greedy_blocks(order, block_frames, available, target: float, total: int) -> list:
    """Blocks (in ``order``) taken while each one brings the chosen share closer to ``target``."""
    chosen, count = [], 0
    for block in order:
        if not available.get(block, 0):
            continue
        n = available[block]
        if chosen and abs((count + n) / total - target) >= abs(count / total - target):
            continue
        chosen.append(block)
        count += n
        if count / total >= target:
            break
    return chosen


def rotation_labels(
    times,
    *,
    test_fraction: float = 0.2,
    val_fraction: float = 0.0,
    buffer_rotations: int = 1,
    block_rotations: int = 3,
    seed: int = 0,
    rotations: np.ndarray | None = None,
) -> tuple[np.ndarray, dict]:
    """Labels of the leakage-safe split by whole Carrington rotations (see the module notes).

    Parameters
    ----------
    times : datetime64 array (or anything :func:`to_datetime64` takes)
    test_fraction : float
        Target share of all frames in the test set (reached to within one block).
    val_fraction : float
        Target share of all frames in the validation set (0: none).
    buffer_rotations : int
        Rotations dropped on each side of every run of test rotations (>= 0; 1 by default).
    block_rotations : int
        Consecutive rotations per block; larger blocks waste fewer frames on buffers.
    seed : int
        Seed of the block order.
    rotations : numpy.ndarray, optional
        Precomputed rotation number per frame (else :func:`carrington_rotations`).

    Returns
    -------
    labels : numpy.ndarray
        (N,) str "train", "val", "test" or "dropped".
    info : dict
        ``test_rotations``, ``val_rotations``, ``buffer_rotations`` (sorted rotation numbers).
    """
    _check_fractions(test_fraction, val_fraction)
    if buffer_rotations < 0:
        raise UserError(f"must be >= 0, got {buffer_rotations}", parameter="buffer_rotations")
    if block_rotations < 1:
        raise UserError(f"must be >= 1, got {block_rotations}", parameter="block_rotations")
    rot = carrington_rotations(times) if rotations is None else np.asarray(rotations, dtype=np.int64)
    n = rot.size
    if n == 0:
        raise UserError("no frames to split")
    unique, counts = np.unique(rot, return_counts=True)
    if unique.size < 2 * buffer_rotations + 2:
        raise UserError(
            f"the frames span only {unique.size} Carrington rotation(s); a rotation split with a buffer of "
            f"{buffer_rotations} needs at least {2 * buffer_rotations + 2}"
        )
    per_rot = dict(zip(unique.tolist(), counts.tolist()))
    block_of = {r: (r - int(unique[0])) // block_rotations for r in per_rot}
    blocks = sorted(set(block_of.values()))
    order = [blocks[i] for i in np.random.default_rng(seed).permutation(len(blocks))]
    frames_in = {b: sum(c for r, c in per_rot.items() if block_of[r] == b) for b in blocks}
    test_blocks = _greedy_blocks(order, frames_in, frames_in, test_fraction, n)
    test_rot = {r for r in per_rot if block_of[r] in test_blocks}
    buffer_rot = {
        r for r in per_rot if r not in test_rot and any(abs(r - t) <= buffer_rotations for t in test_rot)
    }
    val_rot: set = set()
    if val_fraction > 0:
        free = {
            b: sum(c for r, c in per_rot.items() if block_of[r] == b and r not in buffer_rot)
            for b in blocks
            if b not in test_blocks
        }
        val_blocks = _greedy_blocks(order, free, free, val_fraction, n)
        val_rot = {r for r in per_rot if block_of[r] in val_blocks and r not in buffer_rot}
    labels = np.full(n, "train", dtype="<U7")
    labels[np.isin(rot, sorted(test_rot))] = "test"
    labels[np.isin(rot, sorted(buffer_rot))] = "dropped"
    labels[np.isin(rot, sorted(val_rot))] = "val"
    if not np.any(labels == "train"):
        raise UserError(
            "no training frames are left after the test rotations and their buffers; "
            "lower it or the test fraction, or use more frames",
            parameter="buffer_rotations",
        )
    info = {
        "test_rotations": sorted(int(r) for r in test_rot),
        "val_rotations": sorted(int(r) for r in val_rot),
        "buffer_rotations": sorted(int(r) for r in buffer_rot),
    }
    return labels, info


def random_labels(n: int, *, test_fraction: float = 0.2, val_fraction: float = 0.0, seed: int = 0) -> np.ndarray:
    """Labels of a seeded frame-level random split of ``n`` frames.

    Returns
    -------
    numpy.ndarray
        (n,) str labels; exactly ``round(test_fraction*n)`` (at least 1) test frames and
        ``round(val_fraction*n)`` validation frames.
    """
    _check_fractions(test_fraction, val_fraction)
    if n < 2:
        raise UserError(f"a random split needs at least 2 frames, got {n}")
    perm = np.random.default_rng(seed).permutation(n)
    n_test = min(max(1, int(round(test_fraction * n))), n - 1)
    n_val = min(int(round(val_fraction * n)), n - 1 - n_test)
    labels = np.full(n, "train", dtype="<U7")
    labels[perm[:n_test]] = "test"
    labels[perm[n_test:n_test + n_val]] = "val"
    return labels


# ---------------------------------------------------------------------------------- the split
@dataclass
class Split:
    """A split: frame indices and times of each set, plus how it was made.

    Attributes
    ----------
    scheme : str
    source : str or list of str
    params : dict
    sets : dict
        name -> {"indices": list of int, "times": list of str}, for "train", "val", "test",
        "dropped".
    summary : dict
    frames : dict
        ``{"n": int, "sha256": str}``: number of frames split and :func:`frames_digest` of
        their times; empty when unknown (an old split file whose sets do not cover every frame).
    """

    scheme: str
    source: object
    params: dict
    sets: dict
    summary: dict = field(default_factory=dict)
    frames: dict = field(default_factory=dict)

    def indices(self, name: str) -> list[int]:
        """Frame indices of set ``name`` ("train", "val", "test" or "dropped"), chronological."""
        self._check(name)
        return list(self.sets.get(name, {}).get("indices", []))

    def times(self, name: str) -> list[str]:
        """ISO 8601 UTC times of set ``name``, aligned with :meth:`indices`."""
        self._check(name)
        return list(self.sets.get(name, {}).get("times", []))

    def times64(self, name: str) -> np.ndarray:
        """Times of set ``name`` as ``datetime64[ms]``."""
        return to_datetime64(self.times(name)) if self.times(name) else np.zeros(0, "datetime64[ms]")

    def _check(self, name: str) -> None:
        if name not in SET_NAMES:
            raise KeyError(f"unknown set {name!r}; expected one of {', '.join(SET_NAMES)}")

    def to_dict(self) -> dict:
        return {
            "scheme": self.scheme,
            "source": self.source,
            "params": self.params,
            "sets": {name: self.sets[name] for name in ("train", "val", "test")},
            "dropped": self.sets["dropped"],
            "summary": self.summary,
            "frames": self.frames,
        }


def make_split(times: Sequence[str], scheme: str, *, source: object = None, seed: int = 0,
               test_fraction: float = 0.2, val_fraction: float = 0.0, buffer_rotations: int = 1,
               block_rotations: int = 3, test_months: Iterable[int] = (9, 10)) -> Split:
    """Split frames observed at ``times`` with ``scheme`` and summarise the result.

    Parameters
    ----------
    times : sequence of str
        ISO 8601 UTC time of each frame (index i = frame i).
    scheme : {"kpl19", "rotation", "random"}
    source : str or list of str, optional
        Recorded in the split (store path or CSV files).
    seed, test_fraction, val_fraction, buffer_rotations, block_rotations, test_months
        Parameters of the schemes (see :func:`kpl19_labels`, :func:`rotation_labels`,
        :func:`random_labels`); each scheme records only those it uses.

    Returns
    -------
    Split

    Raises
    ------
    UserError
        Unknown scheme, bad parameter, or a split with an empty training or test set.
    """
    strings = [str(t) for t in times]
    t64 = to_datetime64(strings)
    n = t64.size
    if n == 0:
        raise UserError("no frames to split")
    info: dict = {}
    if scheme == "kpl19":
        params = {"test_months": sorted(int(m) for m in test_months), "val_fraction": val_fraction}
        labels = kpl19_labels(t64, test_months=test_months, val_fraction=val_fraction)
    elif scheme == "rotation":
        params = {"test_fraction": test_fraction, "val_fraction": val_fraction, "buffer_rotations": buffer_rotations,
                  "block_rotations": block_rotations, "seed": seed}
        labels, info = rotation_labels(t64, test_fraction=test_fraction, val_fraction=val_fraction,
                                       buffer_rotations=buffer_rotations, block_rotations=block_rotations, seed=seed)
    elif scheme == "random":
        params = {"test_fraction": test_fraction, "val_fraction": val_fraction, "seed": seed}
        labels = random_labels(n, test_fraction=test_fraction, val_fraction=val_fraction, seed=seed)
    else:
        raise UserError(f"unknown split scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
    for name in ("train", "test"):
        if not np.any(labels == name):
            raise UserError(f"the {scheme} split of these {n} frames has no {name} frames")
    sets = {}
    for name in SET_NAMES:
        idx = np.flatnonzero(labels == name)
        idx = idx[np.argsort(t64[idx], kind="stable")]
        sets[name] = {"indices": [int(i) for i in idx], "times": [strings[i] for i in idx]}
    gaps = nearest_gap_days(t64[labels == "test"], t64[labels == "train"])
    val_gaps = nearest_gap_days(t64[labels == "test"], t64[labels == "val"])
    order = np.sort(t64)
    summary = {
        "n_total": n,
        **{f"n_{name}": len(sets[name]["indices"]) for name in SET_NAMES},
        "test_fraction": len(sets["test"]["indices"]) / n,
        "min_gap_test_train_days": float(np.min(gaps)),
        "median_gap_test_train_days": float(np.median(gaps)),
        "min_gap_test_val_days": float(np.min(val_gaps)) if val_gaps.size and np.isfinite(val_gaps).all() else None,
        "time_range": [str(order[0]), str(order[-1])],
        "median_cadence_hours": float(np.median(np.diff(order).astype(np.int64)) / 3.6e6) if n > 1 else None,
        **info,
    }
    return Split(scheme=scheme, source=source, params=params, sets=sets, summary=summary,
                 frames={"n": n, "sha256": frames_digest(strings)})


def frames_digest(times: Sequence[str]) -> str:
    """SHA-256 (hex) of frame times in frame order, each normalised to millisecond UTC.

    Parameters
    ----------
    times : sequence of str
        ISO 8601 UTC time of frame ``i`` at position ``i``.

    Returns
    -------
    str
        64 hex digits; equal for two lists exactly when they hold the same times (to the
        millisecond) in the same order.

    Examples
    --------
    >>> frames_digest(["2011-01-01T00:00:00"]) == frames_digest(["2011-01-01T00:00:00.000"])
    True
    >>> frames_digest(["2011-01-01T00:00:00"]) == frames_digest(["2011-01-01T00:00:01"])
    False
    """
    t64 = to_datetime64([str(t) for t in times]) if len(times) else np.zeros(0, "datetime64[ms]")
    text = "\n".join(str(t) for t in t64.astype("datetime64[ms]"))
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _legacy_frames(sets: dict, path: Path) -> dict:
    """``frames`` of a split file without that key: from its sets when they cover 0..N-1."""
    pairs = sorted((i, t) for data in sets.values() for i, t in zip(data["indices"], data["times"]))
    if [i for i, _ in pairs] != list(range(len(pairs))):
        return {}
    times = [t for _, t in pairs]
    to_datetime64(times, path=path)  # a bad time is a bad file
    return {"n": len(times), "sha256": frames_digest(times)}


def write_split(split: Split, path: str | Path) -> Path:
    """Write ``split`` as JSON to ``path`` atomically and return the path."""
    return atomic_write_json(path, split.to_dict())


# ---------------------------------------------------------------------------------- loading
def _set_from_json(obj, name: str, path: Path, n_frames: int | None) -> dict:
    if obj is None:
        return {"indices": [], "times": []}
    if not isinstance(obj, dict) or "indices" not in obj or "times" not in obj:
        raise UserError(f"set {name!r} must be an object with 'indices' and 'times'", path=path)
    indices, times = obj["indices"], obj["times"]
    if not isinstance(indices, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in indices):
        raise UserError(f"set {name!r}: 'indices' must be a list of integers", path=path)
    if not isinstance(times, list) or len(times) != len(indices) or not all(isinstance(t, str) for t in times):
        raise UserError(f"set {name!r}: 'times' must be a list of strings, one per index", path=path)
    bad = [i for i in indices if i < 0 or (n_frames is not None and i >= n_frames)]
    if bad:
        where = f"0..{n_frames - 1}" if n_frames is not None else ">= 0"
        raise UserError(f"set {name!r}: index {bad[0]} is outside the frames ({where})", path=path)
    return {"indices": list(indices), "times": list(times)}


def load_split(path: str | Path, n_frames: int | None = None, *, store=None) -> Split:
    """Read and validate a split file written by :func:`write_split` (``euv2mag split``).

    Parameters
    ----------
    path : path-like
        The JSON file.
    n_frames : int, optional
        Number of frames of the store the split is used with; indices must lie in 0..n_frames-1.
    store : FrameStore or sequence of str, optional
        The store the split is used with (or its frame times): the split must have been made
        for exactly these frames (:func:`bind_split`).

    Returns
    -------
    Split

    Raises
    ------
    UserError
        Missing or unreadable file, invalid JSON, missing keys ("scheme", "sets", "train",
        "test"), malformed sets, a frame in two sets, indices outside the store, or (with
        ``store``) a split made for other frames.
    """
    path = Path(path)
    if store is not None and n_frames is None:
        n_frames = len(store.times if hasattr(store, "times") else store)
    if not path.is_file():
        raise UserError("no such split file", path=path)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read the split file: {exc}", path=path) from None
    except json.JSONDecodeError as exc:
        raise UserError(f"is not valid JSON ({exc.msg} at line {exc.lineno})", path=path) from None
    if not isinstance(obj, dict):
        raise UserError("is not a split file (expected a JSON object)", path=path)
    for key in ("scheme", "sets"):
        if key not in obj:
            raise UserError(f"is not a split file: key {key!r} is missing", path=path)
    if not isinstance(obj["sets"], dict):
        raise UserError("'sets' must be an object", path=path)
    for key in ("train", "test"):
        if key not in obj["sets"]:
            raise UserError(f"is not a split file: set {key!r} is missing", path=path)
    sets = {name: _set_from_json(obj["sets"].get(name), name, path, n_frames) for name in ("train", "val", "test")}
    sets["dropped"] = _set_from_json(obj.get("dropped"), "dropped", path, n_frames)
    seen: dict[int, str] = {}
    for name, data in sets.items():
        for i in data["indices"]:
            if i in seen:
                raise UserError(f"frame {i} is in both the {seen[i]!r} and the {name!r} set", path=path)
            seen[i] = name
    if not sets["train"]["indices"] or not sets["test"]["indices"]:
        raise UserError("the split has an empty training or test set", path=path)
    params = obj.get("params") or {}
    summary = obj.get("summary") or {}
    frames = obj.get("frames")
    if frames is None:
        frames = _legacy_frames(sets, path)
    elif not (isinstance(frames, dict) and isinstance(frames.get("n"), int) and isinstance(frames.get("sha256"), str)):
        raise UserError("'frames' must be an object with an integer 'n' and a string 'sha256'", path=path)
    split = Split(scheme=str(obj["scheme"]), source=obj.get("source"), params=params, sets=sets, summary=summary,
                  frames=dict(frames))
    if store is not None:
        bind_split(split, store, path)
    return split


def bind_split(split: Split, store, path: str | Path | None = None) -> Split:
    """Refuse ``split`` unless it was made for exactly the frames of ``store``.

    The one check every command that takes a split uses (``train``, ``predict``, ``leakage``).

    Parameters
    ----------
    split : Split
        A split (e.g. from :func:`load_split`).
    store : FrameStore or sequence of str
        The store the split is used with, or its frame times (frame ``i`` at position ``i``).
    path : path-like, optional
        The split file, named in the error.

    Returns
    -------
    Split
        ``split`` itself.

    Raises
    ------
    UserError
        When the split indexes a frame the store does not have, records another time for a
        frame than the store holds, or records another number or digest of frame times
        (:func:`frames_digest`) than the store's (a split of a store with the same times plus
        others).  The message says what differs.
    """
    times = [str(t) for t in (store.times if hasattr(store, "times") else store)]
    n = len(times)
    for name in SET_NAMES:
        outside = [i for i in split.indices(name) if i >= n]
        if outside:
            raise UserError(f"was made for other frames: it uses frame {outside[0]} but the store has {n} "
                            f"frames (0..{n - 1})", path=path)
    check_split_times(split, times, path)
    if split.frames:
        if split.frames["n"] != n:
            raise UserError(f"was made for other frames: it split {split.frames['n']} frames, the store has {n}",
                            path=path)
        if split.frames["sha256"] != frames_digest(times):
            raise UserError("was made for other frames: the digest of its frame times differs from the store's",
                            path=path)
    return split


def check_split_times(split: Split, times: Sequence[str], path: str | Path | None = None) -> None:
    """Check that ``split`` was made for frames observed at ``times``.

    Parameters
    ----------
    split : Split
        A split (e.g. from :func:`load_split`).
    times : sequence of str
        ISO 8601 UTC time of frame ``i`` at position ``i`` (a store's times, or the union of
        time lists); every index of the split must be a position in it.
    path : path-like, optional
        The split file, named in the error.

    Raises
    ------
    UserError
        If a frame's recorded time in the split differs from ``times`` by more than 1 s (the
        message names the first such frame and both times).
    """
    for name in SET_NAMES:
        idx = split.indices(name)
        if not idx:
            continue
        expected = to_datetime64([times[i] for i in idx]).astype(np.int64)
        recorded = to_datetime64(split.times(name), path=path).astype(np.int64)
        bad = np.flatnonzero(np.abs(expected - recorded) > 1000)
        if bad.size:
            i = idx[int(bad[0])]
            raise UserError(f"was made for other frames: frame {i} is {times[i]} here but "
                            f"{split.times(name)[int(bad[0])]} in the split", path=path)


def resolve_indices(spec: str, n_frames: int, split_path: str | Path | None = None, *, times=None) -> list[int]:
    """Frame indices of ``spec``: ``test``/``val``/``train`` (needs the split), ``all``, or ``3,5,9``.

    Parameters
    ----------
    spec : str
        Which frames: a split's set, ``all``, or a comma list of store indices.
    n_frames : int
        Frames in the store.
    split_path : path-like, optional
        Split JSON, needed for ``test``, ``val`` and ``train``.
    times : sequence of str, optional
        The store's frame times: the split must have been made for them
        (:func:`euv2mag.data.splits.bind_split`).

    Returns
    -------
    list of int
        Store indices, in the order given (a split's set in its own order).

    Raises
    ------
    UserError
        A set without ``split_path``, an empty set, a bad list, an index outside the store,
        a repeated index, or (with ``times``) a split made for other frames.
    """
    spec = str(spec).strip()
    if spec in ("test", "val", "train"):
        if split_path is None:
            raise UserError(f"indices {spec!r} needs a split file (parameter split)")
        indices = load_split(split_path, n_frames, store=times).indices(spec)
        if not indices:
            raise UserError(f"the split's {spec!r} set is empty", path=split_path)
        return indices
    if spec == "all":
        return list(range(n_frames))
    try:
        indices = [int(v) for v in spec.split(",") if v.strip()]
    except ValueError:
        raise UserError(f"indices must be test, val, train, all or a comma list of integers, got {spec!r}") from None
    if not indices:
        raise UserError("indices selects no frame")
    bad = [i for i in indices if not 0 <= i < n_frames]
    if bad:
        raise UserError(f"frame indices {bad[:5]} are outside the store's 0..{n_frames - 1}")
    if len(set(indices)) != len(indices):
        raise UserError("indices repeats a frame")
    return indices
