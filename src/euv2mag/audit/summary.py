"""``summary.json`` of an audit: typed objects, the one function that computes them, and their intervals.

Layout (every number defined where it is computed)
--------------------------------------------------
:class:`AuditSummary`
    ``predictions`` (name -> :class:`PredictionSummary`), ``mean_over_predictions`` (the
    element-wise mean of those, counts included, so counts there may be fractional),
    ``pooled_over_predictions`` (:class:`PooledSummary`: the Hale classes over the region
    observations of all predictions together, so that their counts are real numbers of
    observations), ``variability`` (means of the ``variability.csv`` columns; two or more
    predictions), ``params`` (:class:`euv2mag.audit.pipeline.AuditParams` as a dict),
    ``inputs``, ``hale_source``, and with a bootstrap ``ci`` (:class:`Intervals`: the
    frame-block bootstrap's, but for the footprint measures :data:`FOOTPRINT_FIELDS` of every
    Hale class, whose intervals resample truth regions, :func:`footprint_intervals`) and
    ``bootstrap`` (:class:`BootstrapInfo`).
:class:`PredictionSummary`
    ``n_frames``; ``fulldisk`` (:class:`FullDiskSummary`): TUMF and NMF agreement across frames
    (:class:`SeriesAgreement`, :func:`euv2mag.audit.fulldisk.series_metrics`), frame means of
    the per-frame metrics (``mean_cc``, ``mean_cc_binned``, ``mean_r2``, ``mean_rmse_g`` in G,
    ``mean_polarity_agreement``, ``mean_tumf_ratio``) and the share of frames with the NMF sign
    right (``nmf_sign_agreement``); the sign-blind ``mean_abs_cc``, ``mean_abs_cc_binned`` (frame
    means of the Pearson r of ``|B|``) and ``footprint_abs_ratio`` (frame mean of generated over
    reference ``sum |B| A`` inside the truth regions' footprints; older summaries read it as
    NaN); ``regions`` (:class:`RegionSummary`,
    :func:`euv2mag.audit.match.region_summary`); ``hale`` (:class:`HaleSummary`,
    :func:`euv2mag.audit.hale.hale_summary`).

NaN rules: a mean over no finite value is NaN; a fraction over no item is NaN; a statistic of
fewer than ``min_pairs`` pairs (default 10, :data:`euv2mag.audit.match.MIN_PAIRS`) is NaN with
its count beside it (``n`` of a :class:`SeriesAgreement`, ``n_pairs`` of a
:class:`ParameterAgreement`).  NaN is written to JSON as ``null`` and read back as NaN.
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any

import numpy as np

__all__ = [
    "SeriesAgreement",
    "FullDiskSummary",
    "ParameterAgreement",
    "RegionSummary",
    "HaleClassSummary",
    "HaleSummary",
    "PredictionSummary",
    "PooledSummary",
    "BootstrapInfo",
    "Intervals",
    "AuditSummary",
    "summarize",
    "bootstrap_intervals",
    "footprint_intervals",
    "FOOTPRINT_FIELDS",
]


# --------------------------------------------------------------------------- dict <-> dataclass
def _to_plain(obj):
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Intervals):
        return obj.to_dict()
    if isinstance(obj, dict):
        return {str(k): _to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _from_plain(tp, value):
    """Build a value of type ``tp`` (a dataclass, dict[str, X], float, int, ...) from JSON data."""
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _from_plain(args[0], value) if args else value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ValueError(f"expected an object for {tp.__name__}, got {type(value).__name__}")
        hints = typing.get_type_hints(tp)
        kwargs = {}
        for f in dataclasses.fields(tp):
            if f.name in value:
                kwargs[f.name] = _from_plain(hints[f.name], value[f.name])
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ValueError(f"{tp.__name__} lacks {f.name!r}")
        return tp(**kwargs)
    if tp is Intervals:
        return Intervals.from_dict(value)
    if origin is dict:
        _, vt = typing.get_args(tp)
        return {str(k): _from_plain(vt, v) for k, v in (value or {}).items()}
    if tp is float:
        return math.nan if value is None else float(value)
    if tp is int:
        return int(value)
    return value


class _Record:
    """Mixin: ``to_dict`` / ``from_dict`` for the summary dataclasses."""

    def to_dict(self) -> dict:
        """Plain nested dict (JSON layout of ``summary.json``; NaN kept as float NaN)."""
        return _to_plain(self)

    @classmethod
    def from_dict(cls, data: dict):
        """Build from the JSON layout (``null`` -> NaN); a missing required key raises ValueError."""
        return _from_plain(cls, data)


# --------------------------------------------------------------------------- the records
@dataclasses.dataclass(frozen=True)
class SeriesAgreement(_Record):
    """Agreement of one per-frame quantity across frames (:func:`~euv2mag.audit.fulldisk.series_metrics`).

    ``n`` frames; Pearson ``cc``; ``r2`` (generated as a prediction of the reference);
    ``slope`` of ``generated = slope * reference`` through the origin; ``r2_fit`` of that line.
    """

    n: float
    cc: float
    r2: float
    slope: float
    r2_fit: float


@dataclasses.dataclass(frozen=True)
class FullDiskSummary(_Record):
    """Full-disk numbers of one prediction (module docstring; fluxes in Mx, RMSE in G)."""

    tumf: SeriesAgreement
    nmf: SeriesAgreement
    mean_cc: float
    mean_cc_binned: float
    mean_r2: float
    mean_rmse_g: float
    mean_polarity_agreement: float
    mean_tumf_ratio: float
    nmf_sign_agreement: float
    mean_abs_cc: float = math.nan
    mean_abs_cc_binned: float = math.nan
    footprint_abs_ratio: float = math.nan


@dataclasses.dataclass(frozen=True)
class ParameterAgreement(_Record):
    """Agreement of one region parameter over matched pairs: ``n_pairs``, ``cc``, ``r2``, ``median_ratio``."""

    n_pairs: float
    cc: float
    r2: float
    median_ratio: float


@dataclasses.dataclass(frozen=True)
class RegionSummary(_Record):
    """Region detection and matching numbers (:func:`euv2mag.audit.match.region_summary`; offsets in deg)."""

    n_ref: float
    n_gen: float
    n_matched: float
    n_missed: float
    n_extra: float
    recall: float
    precision: float
    f1: float
    offset_mean_deg: float
    offset_median_deg: float
    leading_polarity_agreement: float
    nmf_sign_agreement: float
    parameters: dict[str, ParameterAgreement]


@dataclasses.dataclass(frozen=True)
class HaleClassSummary(_Record):
    """Polarity numbers of the truth regions of one Hale class (:mod:`euv2mag.audit.hale`)."""

    n_ref: float
    n_matched: float
    recall: float
    n_polarity_fail: float
    polarity_agreement: float
    nmf_sign_agreement: float
    n_footprint_determined: float
    footprint_polarity_agreement: float
    footprint_nmf_sign_agreement: float
    footprint_ref_hemisphere_contrast: float
    footprint_gen_hemisphere_contrast: float


@dataclasses.dataclass(frozen=True)
class HaleSummary(_Record):
    """The three Hale classes of truth regions."""

    hale: HaleClassSummary
    anti_hale: HaleClassSummary
    undetermined: HaleClassSummary


@dataclasses.dataclass(frozen=True)
class PredictionSummary(_Record):
    """Everything ``summary.json`` says about one prediction (or the mean over predictions)."""

    n_frames: float
    fulldisk: FullDiskSummary
    regions: RegionSummary
    hale: HaleSummary


@dataclasses.dataclass(frozen=True)
class PooledSummary(_Record):
    """Hale classes over the region observations of all predictions together."""

    n_predictions: int
    n_matched: int
    hale: HaleSummary


@dataclasses.dataclass(frozen=True)
class BootstrapInfo(_Record):
    """How the intervals were made (:func:`euv2mag.audit.bootstrap.block_bootstrap`, block length in days; the
    footprint measures by :func:`footprint_intervals`)."""

    method: str
    n_boot: int
    block_days: float
    n_blocks: int
    level: float
    seed: int
    #: How the footprint measures' intervals were made ("" in older summaries: by the frame blocks too).
    footprint_method: str = ""
    #: Regions (clusters) the footprint bootstrap drew from.
    n_region_clusters: int = 0


class Intervals:
    """``[low, high]`` intervals in the layout of the summary (``ci`` of ``summary.json``).

    Counts (keys ``n`` and ``n_*``) have none.  :meth:`get` looks one up by its path.

    Examples
    --------
    >>> ci = Intervals({"mean_over_predictions": {"fulldisk": {"tumf": {"cc": [0.7, 0.9]}}}})
    >>> ci.get("mean_over_predictions", "fulldisk", "tumf", "cc")
    (0.7, 0.9)
    >>> ci.get("mean_over_predictions", "regions", "recall") is None
    True
    """

    def __init__(self, tree: dict | None = None):
        self._tree = tree or {}

    def get(self, *path: str) -> tuple[float, float] | None:
        """The ``(low, high)`` interval at ``path``, or None when there is none."""
        node: Any = self._tree
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        if isinstance(node, (list, tuple)) and len(node) == 2:
            low, high = (math.nan if v is None else float(v) for v in node)
            return low, high
        return None

    def sub(self, *path: str) -> "Intervals":
        """The intervals below ``path`` (e.g. of one prediction)."""
        node: Any = self._tree
        for key in path:
            node = node.get(key, {}) if isinstance(node, dict) else {}
        return Intervals(node if isinstance(node, dict) else {})

    def to_dict(self) -> dict:
        """The nested ``[low, high]`` layout."""
        return self._tree

    @classmethod
    def from_dict(cls, data: dict | None) -> "Intervals":
        return cls(data if isinstance(data, dict) else {})

    def __bool__(self) -> bool:
        return bool(self._tree)

    def __eq__(self, other) -> bool:
        return isinstance(other, Intervals) and _to_plain(self._tree) == _to_plain(other._tree)

    def __repr__(self) -> str:
        return f"Intervals({len(self._tree)} blocks)"


@dataclasses.dataclass(frozen=True)
class AuditSummary(_Record):
    """The content of ``summary.json`` (module docstring)."""

    predictions: dict[str, PredictionSummary]
    mean_over_predictions: PredictionSummary
    pooled_over_predictions: PooledSummary
    params: dict = dataclasses.field(default_factory=dict)
    inputs: dict = dataclasses.field(default_factory=dict)
    hale_source: str = ""
    variability: dict[str, float] | None = None
    ci: Intervals | None = None
    bootstrap: BootstrapInfo | None = None

    def to_dict(self) -> dict:
        out = _to_plain(self)
        for key in ("variability", "ci", "bootstrap"):
            if out.get(key) is None:
                out.pop(key, None)
        return out

    @classmethod
    def read(cls, path) -> "AuditSummary":
        """Read ``summary.json`` (a file, or a folder holding it).

        Raises
        ------
        UserError
            If the file is missing, not JSON, or not an audit summary.
        """
        from .._io import read_json_file
        from ..errors import UserError

        obj, path = read_json_file(path, "summary.json")
        try:
            return cls.from_dict(obj)
        except (ValueError, TypeError, KeyError) as exc:
            raise UserError(f"not an audit summary ({exc})", path=path) from None

    def write(self, path) -> None:
        """Write as JSON (atomically; NaN as ``null``)."""
        from .._io import atomic_write_json

        atomic_write_json(path, self.to_dict())

    def intervals(self, *path: str) -> Intervals:
        """Intervals below ``path`` (empty without a bootstrap)."""
        return (self.ci or Intervals()).sub(*path)


# --------------------------------------------------------------------------- computing
def _mean(values) -> float:
    """Mean of the finite values (None, NA and NaN left out); NaN when there is none."""
    try:  # plain numbers and None (NaN): no pandas needed (the bootstrap calls this ~10^5 times)
        arr = np.asarray(values if isinstance(values, np.ndarray) else list(values), dtype=float)
    except (TypeError, ValueError):
        import pandas as pd

        arr = pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce").to_numpy(dtype=float)
    arr = arr[np.isfinite(arr)]
    return float(arr.mean()) if arr.size else math.nan


def _prediction_summary(name, cols, rows, min_pairs: int) -> dict:
    """Numbers of prediction ``name`` from the rows ``rows`` (positions) of the tables' columns.

    ``cols`` and ``rows``: ``(fulldisk, regions, matches)`` :class:`~euv2mag.audit._columns.TableColumns`
    and row positions (:func:`_summary_rows`).
    """
    from .fulldisk import series_metrics
    from .hale import _hale_summary_rows
    from .match import SUMMARY_PARAMETERS, _region_summary_rows

    (fdc, regc, mc), (fdr, regr, mr) = cols, rows
    fd = fdr[fdc.equals("pred", name)[fdr]]
    m = mr[mc.equals("pred", name)[mr]] if mr.size else mr
    n_ref = int(regc.equals("source", "truth")[regr].sum()) if regr.size else 0
    n_gen = int(regc.equals("source", name)[regr].sum()) if regr.size else 0
    pairs = m[mc.equals("status", "matched")[m]] if m.size else m
    return {
        "n_frames": int(fd.size),
        "fulldisk": {
            "tumf": series_metrics(fdc.asarray("tumf_ref_mx")[fd], fdc.asarray("tumf_gen_mx")[fd], min_pairs=min_pairs),
            "nmf": series_metrics(fdc.asarray("nmf_ref_mx")[fd], fdc.asarray("nmf_gen_mx")[fd], min_pairs=min_pairs),
            **{f"mean_{c}": _mean(fdc.mean_values(c)[fd])
               for c in ("cc", "cc_binned", "r2", "rmse_g", "polarity_agreement", "tumf_ratio")},
            "nmf_sign_agreement": _mean(fdc.astype_float("nmf_sign_agree")[fd]),
            **{f"mean_{c}": _mean(fdc.mean_values(c)[fd]) if c in fdc else math.nan for c in ("abs_cc", "abs_cc_binned")},
            "footprint_abs_ratio": _mean(fdc.mean_values("footprint_abs_ratio")[fd]) if "footprint_abs_ratio" in fdc else math.nan,
        },
        "regions": _region_summary_rows(mc, pairs, n_ref, n_gen, parameters=SUMMARY_PARAMETERS,
                                        min_pairs=min_pairs).to_dict(),
        "hale": _hale_summary_rows(mc, m),
    }


def _average(items: list):
    """Element-wise mean of nested dicts of numbers (counts averaged too)."""
    first = items[0]
    if isinstance(first, dict):
        return {k: _average([it[k] for it in items]) for k in first}
    if isinstance(first, (int, float, bool, np.number)) or first is None:
        return _mean([float(v) if v is not None else math.nan for v in items])
    return first


def summarize_tables(fulldisk, regions, matches, variability, pred_names, *, min_pairs: int = 10) -> dict:
    """The numbers of ``summary.json`` from the four audit tables, as a plain nested dict.

    :func:`summarize` wraps it in the typed :class:`AuditSummary`; the bootstrap computes the
    same numbers on every replicate through :func:`_summary_rows` with the columns converted once.
    """
    from ._columns import TableColumns

    cols = [TableColumns(t) for t in (fulldisk, regions, matches, variability)]
    return _summary_rows(cols, [c.all_rows() for c in cols], pred_names, min_pairs=min_pairs)


def _summary_rows(cols, rows, pred_names, *, min_pairs: int = 10) -> dict:
    """:func:`summarize_tables` of the rows at positions ``rows`` of the four tables' columns.

    Parameters
    ----------
    cols : sequence of TableColumns
        ``fulldisk``, ``regions``, ``matches``, ``variability`` (:mod:`euv2mag.audit._columns`;
        ``variability``'s table may be None).
    rows : sequence of numpy.ndarray
        Row positions of each table (may repeat: a bootstrap replicate).

    The numbers are those of :func:`summarize_tables` of the DataFrames of those rows, bit for
    bit: every column conversion is element-wise and the rows are taken in the same order.
    """
    from .hale import _hale_summary_rows

    per = {name: _prediction_summary(name, cols[:3], rows[:3], min_pairs) for name in pred_names}
    out = {
        "predictions": per,
        "mean_over_predictions": _average([per[n] for n in pred_names]),
        "pooled_over_predictions": {
            "n_predictions": len(pred_names),
            "n_matched": int(sum(per[n]["regions"]["n_matched"] for n in pred_names)),
            # one prediction: its own Hale classes are the pooled ones (the same rows of matches.csv)
            "hale": _hale_summary_rows(cols[2], rows[2]) if len(pred_names) != 1 else per[pred_names[0]]["hale"],
        },
    }
    var, var_rows = cols[3], rows[3]
    if var.table is not None and var_rows.size:
        num = var.table.select_dtypes(include=[np.number, bool]).drop(columns=["frame", "truth_frame"], errors="ignore")
        out["variability"] = {c: _mean(var.astype_float(c)[var_rows]) for c in num.columns}
    return out


def summarize(fulldisk, regions, matches, variability, pred_names, *, min_pairs: int = 10, **extra) -> AuditSummary:
    """The typed :class:`AuditSummary` of the four audit tables (``extra``: params, inputs, ...).

    Parameters
    ----------
    fulldisk, regions, matches, variability : pandas.DataFrame
        Tables laid out as :data:`euv2mag.audit.files.FULLDISK`, ``REGIONS``, ``MATCHES``,
        ``VARIABILITY`` (``variability`` may be empty or None).
    pred_names : sequence of str
        Prediction names, in order.
    min_pairs : int
        Fewest pairs of a pair statistic (module docstring).
    """
    return AuditSummary.from_dict({**summarize_tables(fulldisk, regions, matches, variability, pred_names,
                                                      min_pairs=min_pairs), **extra})


def bootstrap_intervals(fulldisk, regions, matches, variability, pred_names, frames, times, *, n_boot: int,
                        block_days: float, level: float, seed: int = 0, min_pairs: int = 10,
                        link_deg: float = 5.0) -> tuple[Intervals, BootstrapInfo]:
    """Bootstrap intervals of every :func:`summarize` number.

    Every number but the footprint measures of the Hale classes: a block bootstrap resampling
    audited frames.  ``frames`` are the audited prediction-frame indices (the ``frame`` column of
    the tables) and ``times`` their observation times.  A replicate keeps every table row of a
    drawn frame, so the region observations of one map stay together
    (:mod:`euv2mag.audit.bootstrap`).  The footprint measures (:data:`FOOTPRINT_FIELDS`): a
    bootstrap resampling truth regions (:func:`footprint_intervals`; ``link_deg`` links
    observations without a generator id).
    """
    from .bootstrap import block_bootstrap

    position = {int(k): i for i, k in enumerate(frames)}

    def rows_by_position(table):
        if table is None or not len(table) or "frame" not in table.columns:
            return None
        rows = [[] for _ in frames]
        for row, k in enumerate(table["frame"].to_numpy()):
            rows[position[int(k)]].append(row)
        return [np.asarray(r, dtype=np.int64) for r in rows]

    from ._columns import TableColumns

    tables = (fulldisk, regions, matches, variability)
    index = [rows_by_position(t) for t in tables]
    # every column converted once; a replicate only indexes arrays (same numbers as DataFrame selections)
    cols = [TableColumns(t) for t in tables]

    def statistic(pos):
        rows = [c.all_rows() if ix is None else np.concatenate([ix[p] for p in pos]) for c, ix in zip(cols, index)]
        return _summary_rows(cols, rows, pred_names, min_pairs=min_pairs)

    tree, info = block_bootstrap(statistic, times, n_boot=n_boot, block_days=block_days, level=level, seed=seed)
    fp_tree, fp_info = footprint_intervals(regions, matches, pred_names, n_boot=n_boot, level=level, seed=seed,
                                           link_deg=link_deg)
    _graft(tree, fp_tree)
    info.update(footprint_method=fp_info["method"], n_region_clusters=fp_info["n_clusters"])
    return Intervals(tree), BootstrapInfo(**info)


#: The footprint measures of a Hale class whose intervals resample regions (:func:`footprint_intervals`).
FOOTPRINT_FIELDS = ("footprint_polarity_agreement", "footprint_nmf_sign_agreement",
                    "footprint_ref_hemisphere_contrast", "footprint_gen_hemisphere_contrast")


def footprint_intervals(regions, matches, pred_names, *, n_boot: int, level: float, seed: int = 0,
                        link_deg: float = 5.0) -> tuple[dict, dict]:
    """Region-clustered bootstrap intervals of the footprint measures of every Hale class.

    The truth region observations (``matched`` and ``missed`` rows of ``matches``) are grouped
    into regions (:func:`euv2mag.audit.bootstrap.region_clusters`: the generator id
    ``ref_region_id``, else linked by Carrington position, read from the truth rows of
    ``regions``), and every replicate redraws regions (:func:`~euv2mag.audit.bootstrap.cluster_bootstrap`),
    all their observations of all predictions together.

    Returns
    -------
    intervals : dict
        ``[low, high]`` of :data:`FOOTPRINT_FIELDS` under ``predictions.<name>.hale.<class>``,
        ``mean_over_predictions.hale.<class>`` and ``pooled_over_predictions.hale.<class>``
        (the layout of ``ci``).
    info : dict
        ``method``, ``n_boot``, ``n_clusters`` (regions), ``level``, ``seed``.
    """
    import pandas as pd

    from .bootstrap import cluster_bootstrap, region_clusters
    from .hale import HALE_GROUPS, footprint_arrays, footprint_measures

    ref = matches[matches["status"].isin(["matched", "missed"])].reset_index(drop=True) if len(matches) else matches
    if not len(ref):
        return {}, {"method": "", "n_boot": int(n_boot), "n_clusters": 0, "level": float(level), "seed": int(seed)}
    keys = ["frame", "ref_label"]
    obs = ref[[*keys, "time", "ref_lat_deg", "ref_region_id"]].drop_duplicates(keys).reset_index(drop=True)
    truth = regions[regions["source"] == "truth"] if len(regions) else regions
    if len(truth):
        lon = truth[["frame", "label", "carrington_lon_deg"]].rename(columns={"label": "ref_label"})
        obs = obs.merge(lon.astype({"ref_label": "Int64"}), on=keys, how="left")
    else:
        obs["carrington_lon_deg"] = np.nan
    ids = [None if pd.isna(v) else int(v) for v in obs["ref_region_id"]]
    obs["cluster"] = region_clusters(ids, obs["frame"].to_numpy(), [str(t) for t in obs["time"]],
                                     obs["ref_lat_deg"].to_numpy(float), obs["carrington_lon_deg"].to_numpy(float),
                                     link_deg=link_deg)
    clusters = ref[keys].merge(obs[[*keys, "cluster"]], on=keys, how="left")["cluster"].to_numpy()
    names = list(pred_names)
    arrays = footprint_arrays(ref)  # (5, rows): what the footprint measures read
    pred_of = np.asarray([names.index(p) if p in names else -1 for p in ref["pred"]])
    class_of = np.asarray([HALE_GROUPS.index(c) if isinstance(c, str) and c in HALE_GROUPS else -1
                         for c in ref["hale_class"]])

    def classes(pos, keep):
        return {g: footprint_measures(arrays[:, pos[keep & (class_of[pos] == i)]]) for i, g in enumerate(HALE_GROUPS)}

    def statistic(pos):
        per = {name: {"hale": classes(pos, pred_of[pos] == j)} for j, name in enumerate(names)}
        pooled = classes(pos, pred_of[pos] >= 0) if len(names) != 1 else per[names[0]]["hale"]
        return {"predictions": per, "mean_over_predictions": _average([per[n] for n in names]),
                "pooled_over_predictions": {"hale": pooled}}

    tree, info = cluster_bootstrap(statistic, clusters, n_boot=n_boot, level=level, seed=seed)
    return tree, info


def _graft(tree: dict, update: dict) -> None:
    """Replace the leaves of ``tree`` by those of ``update`` (nested dicts, in place)."""
    for key, value in update.items():
        if isinstance(value, dict):
            _graft(tree.setdefault(key, {}), value)
        else:
            tree[key] = value
