"""The leakage study: one call from split files to ``leakage.csv`` / ``leakage.json`` per split.

:func:`leakage_study` reads the frames (a store, time lists, or the split files' own times; see
:mod:`euv2mag.data.frame_source`), measures for every split the leakage of
:mod:`euv2mag.audit.leakage` (time gaps, same solar face, shared regions) and returns one
:class:`SplitLeakage` per split.  With an output folder it writes, as ``euv2mag leakage`` does:

``leakage.csv`` (:data:`LEAKAGE_CSV`, plus :data:`LEAKAGE_REGION_COLUMNS` with region data)
    one row per test frame;
``leakage.json`` (:class:`LeakageSummary`)
    the headline numbers of the split;
``leakage_comparison.csv`` (:data:`LEAKAGE_COMPARISON_CSV`, plus :data:`COMPARISON_REGION_COLUMNS`)
    with several splits only: one row per split (each split's files then go to a sub-folder
    named after its split file).

Floats in the CSV files are written with 6 significant digits.
"""
from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import ClassVar, Mapping, Sequence

import numpy as np

from ..errors import UserError
from ..tables import JsonFile, TableFile, columns
from .leakage import (
    SAME_FACE_DEG,
    SYNODIC_CARRINGTON_DAYS,
    frame_leakage,
    l0_for_times,
    region_leakage,
    summarize_frame_leakage,
)

__all__ = [
    "ROTATION_MODELS",
    "LEAKAGE_CSV",
    "LEAKAGE_REGION_COLUMNS",
    "LEAKAGE_COMPARISON_CSV",
    "COMPARISON_REGION_COLUMNS",
    "read_leakage_csv",
    "read_leakage_comparison",
    "LeakageParams",
    "LeakageSummary",
    "SplitLeakage",
    "LeakageStudy",
    "split_leakage",
    "leakage_study",
]

#: Differential-rotation laws of sunpy that advance region positions.
ROTATION_MODELS = ("howard", "snodgrass", "allen", "rigid")

#: ``leakage.csv``: one row per test frame (region counts follow with region data).
LEAKAGE_CSV = TableFile(
    "leakage.csv",
    columns((
        ("index", "int64", "", "frame index of the test frame (store or time list)"),
        ("time", "str", "", "ISO 8601 UTC time of the test frame"),
        ("l0_deg", "float64", "deg", "Carrington longitude of the disk centre"),
        ("gap_days", "float64", "d", "time to the nearest training frame"),
        ("nearest_train_index", "int64", "", "that training frame"),
        ("nearest_train_time", "str", "", "its ISO 8601 UTC time"),
        ("same_face_gap_days", "float64", "d",
         "time to the nearest training frame with |dL0| <= same_face_deg (empty if none)"),
        ("same_face_train_index", "int64", "", "that training frame (-1 if none)"),
        ("same_face_train_time", "str", "", "its ISO 8601 UTC time (empty if none)"),
        ("same_face_within_1_rotation", "bool", "", "same_face_gap_days <= 1 x 27.2753 d + 1 d"),
        ("same_face_within_2_rotations", "bool", "", "same_face_gap_days <= 2 x 27.2753 d + 1 d"),
    )),
    "one row per test frame of a split: time gaps to the training frames",
    float_format="%.6g",
    extra_columns=True,
)

#: Optional ``leakage.csv`` columns, present with region data (the truth one needs ``region_id``).
LEAKAGE_REGION_COLUMNS = columns((
    ("n_regions", "int64", "", "regions visible in the test frame"),
    ("n_regions_in_train_truth", "int64", "",
     "of them, regions whose region_id is seen in a training frame (synthetic truth)"),
    ("n_regions_in_train_position", "int64", "", "of them, regions matched by position to a training-frame region"),
))

#: ``leakage_comparison.csv``: one row per split (region numbers follow with region data).
LEAKAGE_COMPARISON_CSV = TableFile(
    "leakage_comparison.csv",
    columns((
        ("name", "str", "", "the split's sub-folder (its file name without extension)"),
        ("scheme", "str", "", "split scheme: kpl19, rotation or random"),
        ("split", "str", "", "the split file"),
        ("source", "str", "", "where the frames came from (store, time lists, or split file times)"),
        ("n_train", "int64", "", "training frames"),
        ("n_val", "int64", "", "validation frames"),
        ("n_test", "int64", "", "test frames"),
        ("min_gap_days", "float64", "d", "smallest test-to-nearest-training gap"),
        ("median_gap_days", "float64", "d", "median of those gaps"),
        ("max_gap_days", "float64", "d", "largest of those gaps"),
        ("frac_gap_le_1d", "float64", "", "share of test frames within 1 d of a training frame"),
        ("median_same_face_gap_days", "float64", "d",
         "median time to the nearest same-face training frame (empty if no test frame has one)"),
        ("frac_same_face_within_1_rotation", "float64", "",
         "share of test frames with a same-face training frame within 1 rotation + 1 d"),
        ("frac_same_face_within_2_rotations", "float64", "",
         "share of test frames with a same-face training frame within 2 rotations + 1 d"),
        ("frac_same_face_none", "float64", "", "share of test frames with no same-face training frame at all"),
        ("same_face_deg", "float64", "deg", "largest |dL0| for two frames to show the same face"),
        ("rotation_period_days", "float64", "d", "synodic Carrington rotation period used"),
    )),
    "one row per split: the headline numbers of its leakage.json",
    float_format="%.6g",
    extra_columns=True,
)

#: Optional ``leakage_comparison.csv`` columns (and ``leakage.json`` keys), present with region data.
COMPARISON_REGION_COLUMNS = columns((
    ("region_min_flux_mx", "float64", "Mx", "regions below this flux were left out (only when used)"),
    ("n_test_region_observations", "Int64", "", "region x test-frame rows"),
    ("frac_test_regions_in_train_position", "float64", "", "share of those rows matched by position"),
    ("region_tolerance_deg", "float64", "deg", "great-circle tolerance of the position match"),
    ("region_max_gap_days", "float64", "d", "only training regions within this time match by position"),
    ("differential_rotation_model", "str", "", "sunpy differential-rotation law of the position match"),
    ("frac_test_regions_in_train_truth", "float64", "", "share of rows whose region_id is in a training frame"),
    ("n_distinct_test_regions", "Int64", "", "distinct region_id among the test rows"),
    ("frac_distinct_test_regions_in_train_truth", "float64", "", "share of those seen in a training frame"),
    ("position_vs_truth_agreement", "float64", "", "share of rows where position and truth agree"),
    ("position_precision", "float64", "", "of rows matched by position, share in training by truth"),
    ("position_recall", "float64", "", "of rows in training by truth, share matched by position"),
))


def _read_with_optional(spec: TableFile, optional, path):
    """Read ``path`` with ``spec`` plus those ``optional`` columns its header has, all typed."""
    import pandas as pd

    path = Path(path)
    if path.is_dir():
        path = spec.path(path)
    try:
        header = set(pd.read_csv(path, nrows=0).columns)
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        header = set()  # spec.read names the problem
    present = tuple(c for c in optional if c.name in header)
    return dataclasses.replace(spec, columns=spec.columns + present).read(path)


def read_leakage_csv(path: str | os.PathLike):
    """Read ``leakage.csv`` (the file or its folder), typed, region counts included when present.

    Raises
    ------
    UserError
        A missing or unreadable file, or a lacking column (one line naming the file).
    """
    return _read_with_optional(LEAKAGE_CSV, LEAKAGE_REGION_COLUMNS, path)


def read_leakage_comparison(path: str | os.PathLike):
    """Read ``leakage_comparison.csv`` (the file or its folder), typed, region numbers when present.

    Raises
    ------
    UserError
        A missing or unreadable file, or a lacking column (one line naming the file).
    """
    return _read_with_optional(LEAKAGE_COMPARISON_CSV, COMPARISON_REGION_COLUMNS, path)


# ---------------------------------------------------------------------------------- parameters
@dataclasses.dataclass(frozen=True)
class LeakageParams:
    """Parameters of the leakage study.

    Parameters
    ----------
    same_face_deg : float
        Largest wrapped |ΔL0| (deg) for two frames to show the same face (default 13.2: one day
        of synodic rotation).
    region_tolerance_deg : float
        Great-circle distance (deg) for the same region by position.
    region_max_gap_days : float, optional
        Only training regions within this time (d) count as the same region by position
        (default: 4 rotations, 109.1 d).
    rotation_model : {"howard", "snodgrass", "allen", "rigid"}
        sunpy differential-rotation law that advances region positions.
    region_min_flux_mx : float
        Only regions whose ``flux_mx`` is at least this (Mx) count (0: all; ignored for region
        tables without ``flux_mx``).
    """

    same_face_deg: float = SAME_FACE_DEG
    region_tolerance_deg: float = 5.0
    region_max_gap_days: float | None = None
    rotation_model: str = "howard"
    region_min_flux_mx: float = 0.0

    def __post_init__(self):
        for name in ("same_face_deg", "region_tolerance_deg", "region_max_gap_days", "region_min_flux_mx"):
            value = getattr(self, name)
            if value is None and name == "region_max_gap_days":
                continue
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = math.nan
            ok = math.isfinite(number) and (number >= 0 if name == "region_min_flux_mx" else number > 0)
            if isinstance(value, bool) or not ok:
                need = "a number >= 0" if name == "region_min_flux_mx" else "a positive number"
                raise UserError(f"{name} must be {need}, got {value!r}")
        if self.rotation_model not in ROTATION_MODELS:
            raise UserError(f"rotation_model must be one of {', '.join(ROTATION_MODELS)}, got {self.rotation_model!r}")


# ---------------------------------------------------------------------------------- leakage.json
@dataclasses.dataclass(frozen=True)
class LeakageSummary(JsonFile):
    """The content of ``leakage.json``, key for key (also one row of ``leakage_comparison.csv``).

    Parameters
    ----------
    scheme, split, source : str
        Split scheme, split file, and where the frames came from.
    n_train, n_val, n_test : int
        Frames in each set.
    min_gap_days, median_gap_days, max_gap_days : float
        Statistics of the time from each test frame to the nearest training frame (d).
    frac_gap_le_1d : float
        Share of test frames within 1 d of a training frame.
    median_same_face_gap_days : float or None
        Median time to the nearest same-face training frame (d); None if no test frame has one.
    frac_same_face_within_1_rotation, frac_same_face_within_2_rotations : float
        Share of test frames with a same-face training frame within 1 (2) rotations + 1 d.
    frac_same_face_none : float
        Share of test frames with no same-face training frame at all.
    same_face_deg : float
        Same-face tolerance on |ΔL0| (deg).
    rotation_period_days : float
        Synodic Carrington period (d).
    region_min_flux_mx : float or None
        Flux cut applied to the region table (Mx); None (key absent) when none was applied.
    n_test_region_observations, frac_test_regions_in_train_position, region_tolerance_deg,
    region_max_gap_days, differential_rotation_model
        With region data (keys absent otherwise): region x test-frame rows, the share matched by
        position, and the position criterion (deg, d, rotation law); see
        :func:`euv2mag.audit.leakage.region_leakage`.
    frac_test_regions_in_train_truth, n_distinct_test_regions,
    frac_distinct_test_regions_in_train_truth, position_vs_truth_agreement, position_precision,
    position_recall
        With a ``region_id`` (synthetic truth; keys absent otherwise): leakage by truth and the
        position criterion scored against it.
    """

    scheme: str
    split: str
    source: str
    n_train: int
    n_val: int
    n_test: int
    min_gap_days: float
    median_gap_days: float
    max_gap_days: float
    frac_gap_le_1d: float
    median_same_face_gap_days: float | None
    frac_same_face_within_1_rotation: float
    frac_same_face_within_2_rotations: float
    frac_same_face_none: float
    same_face_deg: float
    rotation_period_days: float
    region_min_flux_mx: float | None = None
    n_test_region_observations: int | None = None
    frac_test_regions_in_train_position: float | None = None
    region_tolerance_deg: float | None = None
    region_max_gap_days: float | None = None
    differential_rotation_model: str | None = None
    frac_test_regions_in_train_truth: float | None = None
    n_distinct_test_regions: int | None = None
    frac_distinct_test_regions_in_train_truth: float | None = None
    position_vs_truth_agreement: float | None = None
    position_precision: float | None = None
    position_recall: float | None = None

    #: File name inside a split's result folder.
    FILENAME: ClassVar[str] = "leakage.json"
    _REGION_KEYS: ClassVar[tuple[str, ...]] = ("n_test_region_observations", "frac_test_regions_in_train_position",
                                               "region_tolerance_deg", "region_max_gap_days",
                                               "differential_rotation_model")
    _TRUTH_KEYS: ClassVar[tuple[str, ...]] = ("frac_test_regions_in_train_truth", "n_distinct_test_regions",
                                              "frac_distinct_test_regions_in_train_truth",
                                              "position_vs_truth_agreement", "position_precision", "position_recall")

    @classmethod
    def required_keys(cls) -> tuple[str, ...]:
        """Keys every ``leakage.json`` has."""
        optional = ("region_min_flux_mx", *cls._REGION_KEYS, *cls._TRUTH_KEYS)
        return tuple(f.name for f in dataclasses.fields(cls) if f.name not in optional)

    def to_dict(self) -> dict:
        """The JSON layout: the required keys, then the flux cut and region groups when present."""
        out = {k: getattr(self, k) for k in self.required_keys()}
        if self.region_min_flux_mx is not None:
            out["region_min_flux_mx"] = self.region_min_flux_mx
        if self.n_test_region_observations is not None:
            out.update({k: getattr(self, k) for k in self._REGION_KEYS})
        if self.n_distinct_test_regions is not None:
            out.update({k: getattr(self, k) for k in self._TRUTH_KEYS})
        return out

    @classmethod
    def from_dict(cls, obj, *, path: str | os.PathLike | None = None) -> "LeakageSummary":
        """Build from the JSON layout; ``path`` is named in the error.

        Raises
        ------
        UserError
            If ``obj`` is not an object or lacks a required key.
        """
        if not isinstance(obj, dict):
            raise UserError(f"{cls.FILENAME} does not hold a JSON object", path=path)
        missing = [k for k in cls.required_keys() if k not in obj]
        if missing:
            raise UserError(f"{cls.FILENAME} lacks key(s) {', '.join(missing)} "
                            "(written by another version of euv2mag?)", path=path)
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in obj.items() if k in names})


# ---------------------------------------------------------------------------------- results
@dataclasses.dataclass(frozen=True)
class SplitLeakage:
    """Leakage of one split.

    Parameters
    ----------
    name : str
        Name of the split's result (its file name without extension, made unique among the
        splits of one study); the sub-folder with several splits.
    table : pandas.DataFrame
        ``leakage.csv`` (:data:`LEAKAGE_CSV`): one row per test frame.
    summary : LeakageSummary
        ``leakage.json``.
    """

    name: str
    table: object
    summary: LeakageSummary

    def write(self, folder: str | os.PathLike) -> list[Path]:
        """Write ``leakage.csv`` and ``leakage.json`` into ``folder`` (atomically); return their paths."""
        from .._io import ensure_dir

        folder = ensure_dir(folder)
        return [LEAKAGE_CSV.write(self.table, folder), self.summary.write(folder)]


@dataclasses.dataclass(frozen=True)
class LeakageStudy:
    """Result of :func:`leakage_study`: one :class:`SplitLeakage` per split, in the given order."""

    splits: tuple[SplitLeakage, ...]

    def comparison(self):
        """``leakage_comparison.csv`` (:data:`LEAKAGE_COMPARISON_CSV`): one row per split."""
        return LEAKAGE_COMPARISON_CSV.frame([{"name": s.name, **s.summary.to_dict()} for s in self.splits])

    def write(self, folder: str | os.PathLike) -> list[Path]:
        """Write the results: one split's files into ``folder``; several into ``folder/<name>/``
        plus ``folder/leakage_comparison.csv``.  Returns the written paths."""
        from .._io import ensure_dir, path_inside

        folder = ensure_dir(folder)
        if len(self.splits) == 1:
            return self.splits[0].write(folder)
        written = []
        for s in self.splits:
            written += s.write(path_inside(folder, s.name))
        written.append(LEAKAGE_COMPARISON_CSV.write(self.comparison(), folder))
        return written


# ---------------------------------------------------------------------------------- the study
def split_leakage(split, times: Mapping[int, str], l0_deg: Mapping[int, float] | None = None, regions=None,
                  params: LeakageParams = LeakageParams(), *, name: str = "split", split_path: str = "",
                  source_label: str = "") -> SplitLeakage:
    """Leakage of one split; a pure function of its arguments.

    Parameters
    ----------
    split : Split
        The split (:func:`euv2mag.data.splits.load_split`).
    times : mapping of int to str
        ISO 8601 UTC time of every training and test frame, by frame index.
    l0_deg : mapping of int to float, optional
        Disk-centre Carrington longitude (deg) by frame index; None: from the times (sunpy).
    regions : pandas.DataFrame, optional
        One row per region per frame (``frame``, ``time``, ``lat_deg``, ``carrington_lon_deg``,
        optionally ``region_id`` and ``flux_mx``), e.g. from
        :func:`euv2mag.data.frame_source.assign_region_frames`.
    params : LeakageParams
    name, split_path, source_label : str
        Recorded in the result (``name``; ``split`` and ``source`` of ``leakage.json``).

    Returns
    -------
    SplitLeakage
    """
    train_idx, test_idx = split.indices("train"), split.indices("test")
    used = train_idx + test_idx
    if l0_deg is None:
        l0 = dict(zip(used, l0_for_times([times[i] for i in used])))
    else:
        l0 = {i: float(l0_deg[i]) for i in used}
    table = frame_leakage(test_idx, [times[i] for i in test_idx], [l0[i] for i in test_idx],
                          train_idx, [times[i] for i in train_idx], [l0[i] for i in train_idx],
                          same_face_deg=params.same_face_deg)
    fields = {
        "scheme": split.scheme,
        "split": str(split_path),
        "source": source_label,
        "n_train": len(train_idx),
        "n_val": len(split.indices("val")),
        **summarize_frame_leakage(table),
        "same_face_deg": params.same_face_deg,
        "rotation_period_days": SYNODIC_CARRINGTON_DAYS,
    }
    if regions is not None and params.region_min_flux_mx > 0 and "flux_mx" in regions.columns:
        regions = regions[regions["flux_mx"] >= params.region_min_flux_mx].reset_index(drop=True)
        fields["region_min_flux_mx"] = params.region_min_flux_mx
    if regions is not None:
        test_rows, stats = region_leakage(regions, train_idx, test_idx, tolerance_deg=params.region_tolerance_deg,
                                          max_gap_days=params.region_max_gap_days, model=params.rotation_model)
        fields.update(stats)
        grouped = test_rows.groupby("frame")
        table["n_regions"] = table["index"].map(grouped.size()).fillna(0).astype(int)
        for column in ("in_train_truth", "in_train_position"):
            if column in test_rows.columns:
                counts = grouped[column].sum()
                table[f"n_regions_{column}"] = table["index"].map(counts).fillna(0).astype(int)
    return SplitLeakage(name, LEAKAGE_CSV.frame(table.to_dict("records")), LeakageSummary(**fields))


def leakage_study(splits: str | os.PathLike | Sequence[str | os.PathLike], source=None,
                  params: LeakageParams = LeakageParams(), *, regions=None,
                  out: str | os.PathLike | None = None) -> LeakageStudy:
    """Measure the train/test leakage of one or several splits.

    Parameters
    ----------
    splits : path-like or sequence of path-like
        Split files written by :func:`euv2mag.data.splits.write_split` (``euv2mag split``).
    source : path-like, sequence of path-like, FrameSource or None
        The frames the splits index: a store (times, L0 from its geometry, and its truth table
        ``frame_regions`` when present), time-list CSV files, or None / ``"-"`` for the times
        recorded in each split file (L0 from sunpy); see
        :func:`euv2mag.data.frame_source.read_frame_source`.
    params : LeakageParams
        Same-face tolerance (deg) and the region criteria.
    regions : path-like or pandas.DataFrame, optional
        Region table (``frame`` or ``time``, ``lat_deg``, ``carrington_lon_deg`` in deg,
        optionally ``region_id``, ``flux_mx`` in Mx), e.g. regions detected on the frames;
        replaces the store's truth table.
    out : path-like, optional
        Result folder: one split's ``leakage.csv`` and ``leakage.json`` go there; several
        splits' go to ``out/<split file stem>/`` (made unique), with ``leakage_comparison.csv``.
        Nothing is written unless every split succeeds.

    Returns
    -------
    LeakageStudy

    Raises
    ------
    UserError
        No split, a bad split file, a split made for other frames than ``source`` holds, a bad
        region table, ``out`` being a file, or another process writing ``out``.

    Examples
    --------
    >>> from euv2mag.audit.leakage_study import leakage_study
    >>> study = leakage_study(["kpl19.json", "rotation.json"], "synth.zarr")  # doctest: +SKIP
    >>> [s.summary.min_gap_days < 27.2753 for s in study.splits]  # doctest: +SKIP
    [True, False]
    """
    from ..data.frame_source import FrameSource, assign_region_frames, read_frame_source, read_region_table
    from ..data.splits import load_split

    paths = [splits] if isinstance(splits, (str, os.PathLike)) else list(splits)
    if not paths:
        raise UserError("splits: no split file given")
    if out is not None and Path(out).exists() and not Path(out).is_dir():
        raise UserError("exists and is not a folder", path=out)
    frames = source if isinstance(source, FrameSource) else read_frame_source(source)
    loaded = []
    for path in paths:
        split = load_split(path, store=frames.times)
        loaded.append((path, split))
    table = None
    if regions is not None:
        table = read_region_table(regions) if isinstance(regions, (str, os.PathLike)) else regions
    region_path = regions if isinstance(regions, (str, os.PathLike)) else None

    names: set[str] = set()
    results = []
    for path, split in loaded:
        if frames.times is None:
            times = {}
            for set_name in ("train", "val", "test", "dropped"):
                times.update(zip(split.indices(set_name), split.times(set_name)))
        else:
            times = dict(enumerate(frames.times))
        frame_regions = frames.regions if table is None else assign_region_frames(table, times, path=region_path)
        name = Path(path).stem or "split"
        if len(paths) > 1:
            base, k = name, 2
            while name in names:
                name, k = f"{base}_{k}", k + 1
            names.add(name)
        results.append(split_leakage(split, times, None if frames.l0_deg is None else dict(enumerate(frames.l0_deg)),
                                     frame_regions, params, name=name, split_path=str(path),
                                     source_label=frames.label))
    study = LeakageStudy(tuple(results))
    if out is not None:
        from .._lock import writer_lock

        # the study is computed in memory (seconds) and written at the end: the folder's writer
        # lock covers the writing, so two studies into one folder never mix their files
        with writer_lock(out, what="leakage folder"):
            study.write(out)
    return study
