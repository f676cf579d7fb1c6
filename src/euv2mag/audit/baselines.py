"""Trivial baseline "predictions" that bracket what the audit's numbers mean.

Each baseline is made from the truth itself (or from nothing) and written as a prediction store
(array ``pred``, G) that :func:`euv2mag.audit.audit_stores` reads like any model's output, so a
model's scores can be set beside those of:

``zero``
    0 G on the disk, NaN off it: no field at all (TUMF ratio 0, every CC NaN).
``clip-L`` (any ``L > 0`` in G, e.g. ``clip-100``)
    The truth clipped to ``+-L`` G, what a saturating model (KPL19's +-100 G scaling) can at
    best produce: right signs and places, flux lost in the strong fields.
``sign-coin``
    The truth with the field of each truth region negated, with probability 1/2, inside that
    region's footprint; outside the regions unchanged.  The coin is seeded by ``(seed,
    region_id)`` with the generator id of the region, so a region keeps its coin in every frame:
    a model that draws unsigned field perfectly but guesses polarity region by region (Liu et
    al. 2021: EUV carries no polarity) scores ~0.5 footprint polarity agreement.  A detected
    region without a generator region within the match distance (none among the default demo's
    692 truth region observations) takes the coin of its 10-deg Carrington latitude-longitude cell.
``hale-oracle``
    The truth with every anti-Hale truth region negated inside its footprint: a model that
    knows Hale's law perfectly and nothing else about polarity.  Footprint polarity 1 on
    Hale-conforming regions and 0 on anti-Hale ones by construction (regions whose class is
    undetermined are left as they are).
``persistence-D`` (any ``D >= 0`` in days, e.g. ``persistence-7``)
    The truth frame D days earlier, carried to the frame time by differential rotation (sunpy's
    solar-surface propagation) and reprojected onto the frame's grid with reproject's
    flux-conserving adaptive resampling, the field taken as radial; regions that emerged since
    are absent by construction, the band rotated in over the east limb since is 0 G: the prior
    of history-based models (Jeong et al. 2022, ApJS 262, 50).  The history frame is the truth
    frame nearest to ``t - D`` within a tolerance (default half the store's median cadence); a
    frame without one is 0 G on the disk and listed with the reason in the store's table
    ``history`` and in ``<kind>.history.csv`` beside the store.  Details, approximations and
    choices: :mod:`euv2mag.audit.persistence`.

Footprints and Hale classes (``sign-coin``, ``hale-oracle``)
    Exactly those of the audit, from the one function that defines them,
    :func:`euv2mag.audit.pipeline.truth_footprints`: the regions detected on the truth frame
    (:func:`euv2mag.audit.measurement.find_regions` with the audit's detection parameters),
    each with the Hale class and generator id of the nearest injected region within
    ``max_distance_deg`` (generator truth, ``tables/frame_regions``).  A detected region is one
    footprint even where it holds two injected regions (overlapping or adjacent bipoles): it
    takes the class and id of the injected region nearest to its centre and is negated as a
    whole, so the audit's footprint polarity of ``hale-oracle`` is exactly 1 on Hale-conforming
    and 0 on anti-Hale footprints (among those where both polarities are present).  The
    footprints depend on the detection parameters: the baselines are made with
    ``audit_params`` (default :class:`~euv2mag.audit.pipeline.AuditParams`), recorded in each
    store's ``params``; an audit run with other detection parameters sees other footprints.

All map functions are pure functions of arrays and a :class:`~euv2mag.geometry.DiskGeometry`;
:func:`write_baselines` makes the stores.
"""
from __future__ import annotations

import dataclasses
import math
import re
from contextlib import ExitStack
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import UserError

__all__ = ["KINDS", "NEEDS_HISTORY", "parse_kind", "zero_map", "clip_map", "flip_regions", "region_flips",
           "baseline_map", "write_baselines"]

#: The default baselines of :func:`write_baselines` (``clip-L`` takes any L > 0 in G).
KINDS = ("zero", "clip-100", "sign-coin", "hale-oracle")
#: Truth-table columns the region baselines need.
_REGION_COLUMNS = ("frame", "region_id", "lat_deg", "stonyhurst_lon_deg", "hale_conforming")
#: Size (deg) of the Carrington latitude-longitude cells whose coin a region without a generator id takes.
_COIN_CELL_DEG = 10.0
_NEEDS_REGIONS = ("sign-coin", "hale-oracle")
#: Baseline names (as :func:`parse_kind` gives them) made from another truth frame than the predicted one.
NEEDS_HISTORY = ("persistence",)
_CHOICES = ("zero, clip-L (L > 0 in G, e.g. clip-100), sign-coin, hale-oracle, persistence-D (D >= 0 days, "
            "e.g. persistence-7)")


def parse_kind(kind: str) -> tuple[str, float]:
    """``(name, value)`` of a baseline name: the clip level in G of ``clip-L``, the age in days of
    ``persistence-D``, NaN for the others.

    Examples
    --------
    >>> parse_kind("clip-100"), parse_kind("persistence-7"), parse_kind("zero")
    (('clip', 100.0), ('persistence', 7.0), ('zero', nan))

    Raises
    ------
    UserError
        An unknown name, a clip level that is not a positive finite number, or an age that is
        not a finite number >= 0 (one line).
    """
    kind = str(kind).strip()
    if kind in ("zero", "sign-coin", "hale-oracle"):
        return kind, math.nan
    match = re.fullmatch(r"(clip|persistence)-(.+)", kind)
    if match:
        try:
            value = float(match.group(2))
        except ValueError:
            value = math.nan
        name = match.group(1)
        if math.isfinite(value) and (value > 0 or (name == "persistence" and value == 0)):
            return name, value
    raise UserError(f"unknown baseline {kind!r}; choose from {_CHOICES}", parameter="kinds")


def zero_map(geometry) -> np.ndarray:
    """0 G on the disk (``rho <= 1``), NaN off it; (H, W) float32."""
    return np.where(geometry.rho <= 1.0, 0.0, np.nan).astype(np.float32)


def clip_map(truth_g: np.ndarray, level_g: float) -> np.ndarray:
    """The truth clipped to ``+-level_g`` G (NaN stays NaN); (H, W) float32."""
    return np.clip(np.asarray(truth_g, dtype=np.float32), -level_g, level_g)


def flip_regions(truth_g: np.ndarray, labels: np.ndarray, flip) -> np.ndarray:
    """The truth with the field negated on the pixels of every footprint label ``k`` with ``flip[k]``.

    Parameters
    ----------
    truth_g : (H, W) ndarray
        Truth LOS field in G.
    labels : (H, W) ndarray of int
        Footprint labels (0 = background), e.g. of
        :func:`euv2mag.audit.pipeline.truth_footprints`.
    flip : mapping of int to bool
        Per footprint label whether to negate it (labels not in it are kept).

    Returns
    -------
    (H, W) ndarray of float32

    Examples
    --------
    >>> import numpy as np
    >>> flip_regions(np.array([[1.0, 2.0, 3.0]]), np.array([[0, 1, 2]]), {1: True, 2: False}).tolist()
    [[1.0, -2.0, 3.0]]
    """
    labels = np.asarray(labels)
    sign = np.ones(int(labels.max()) + 1 if labels.size else 1, dtype=np.float32)
    for label, negate in dict(flip).items():
        if negate and 0 < int(label) < sign.size:
            sign[int(label)] = -1.0
    return np.asarray(truth_g, dtype=np.float32) * sign[labels]


def _coin(seed: int, region_id: int) -> bool:
    """The ``sign-coin`` draw of one region: True (negate) with probability 1/2, same in every frame."""
    return bool(np.random.default_rng([int(seed), int(region_id)]).random() < 0.5)


def _cell_coin(seed: int, lat_deg: float, carrington_lon_deg: float) -> bool:
    """The ``sign-coin`` draw of a region without a generator id: that of its Carrington cell."""
    i = int(math.floor((float(lat_deg) + 90.0) / _COIN_CELL_DEG))
    j = int(math.floor(float(carrington_lon_deg) % 360.0 / _COIN_CELL_DEG))
    return bool(np.random.default_rng([int(seed), 1, i, j]).random() < 0.5)


def region_flips(kind: str, table, *, seed: int = 0) -> dict:
    """Which truth footprints ``sign-coin`` or ``hale-oracle`` negates (module docstring).

    Parameters
    ----------
    kind : str
        ``sign-coin`` or ``hale-oracle``.
    table : pandas.DataFrame
        The truth regions of :func:`euv2mag.audit.pipeline.truth_footprints` (``label``,
        ``hale_class``, ``region_id``, ``lat_deg``, ``carrington_lon_deg``).
    seed : int
        Seed of the ``sign-coin`` draws.

    Returns
    -------
    dict
        ``{label: negate}`` for every region of the table.
    """
    if kind == "hale-oracle":
        return {int(r.label): r.hale_class == "anti_hale" for r in table.itertuples(index=False)}
    out = {}
    for r in table.itertuples(index=False):
        rid = r.region_id
        known = rid is not None and not (isinstance(rid, float) and math.isnan(rid))
        out[int(r.label)] = _coin(seed, int(rid)) if known else _cell_coin(seed, r.lat_deg, r.carrington_lon_deg)
    return out


def baseline_map(kind: str, truth_g: np.ndarray, geometry, regions=None, *, seed: int = 0,
                 audit_params=None, footprints=None) -> np.ndarray:
    """One baseline map (module docstring) of one truth frame, in G, (H, W) float32.

    Parameters
    ----------
    kind : str
        ``zero``, ``clip-L``, ``sign-coin`` or ``hale-oracle``.
    truth_g : (H, W) ndarray
        Truth LOS field in G (NaN off the disk).
    geometry : DiskGeometry
        Geometry of the frame.
    regions : pandas.DataFrame, optional
        The frame's ``frame_regions`` rows (``lat_deg``, ``stonyhurst_lon_deg``,
        ``hale_conforming``, ``region_id``); needed by ``sign-coin`` and ``hale-oracle``.
    seed : int
        Seed of the ``sign-coin`` draws.
    audit_params : AuditParams, optional
        Parameters of the audit whose footprints are negated (default
        :class:`~euv2mag.audit.pipeline.AuditParams`).
    footprints : tuple, optional
        ``(labels, table)`` of :func:`euv2mag.audit.pipeline.truth_footprints` of this frame with
        these ``regions`` and ``audit_params``, when the caller has them already
        (:func:`write_baselines` detects the regions of a frame once for ``sign-coin`` and
        ``hale-oracle``); by default they are computed here.

    Raises
    ------
    UserError
        For ``persistence-D``, which needs a history frame (:func:`write_baselines`,
        :func:`euv2mag.data.history.rotate_map`).
    """
    from .pipeline import AuditParams, truth_footprints

    name, level = parse_kind(kind)
    if name in NEEDS_HISTORY:
        raise UserError(f"baseline {kind!r} is made from an earlier truth frame, not from the frame itself; "
                        "use write_baselines or euv2mag.data.history.rotate_map", parameter="kinds")
    if name == "zero":
        return zero_map(geometry)
    if name == "clip":
        return clip_map(truth_g, level)
    if regions is None:
        raise UserError(f"baseline {kind!r} needs the truth regions (tables/frame_regions)", parameter="kinds")
    if footprints is None:
        footprints = truth_footprints(truth_g, geometry, audit_params or AuditParams(), regions)
    labels, table = footprints
    return flip_regions(truth_g, labels, region_flips(name, table, seed=seed))


def write_baselines(truth, out, *, kinds: Sequence[str] = KINDS, indices: str = "test", split=None,
                    seed: int = 0, audit_params=None, history_tolerance_days: float | None = None, rotation_model: str | None = None,
                    mu_min: float | None = None, progress: bool | None = None) -> list[Path]:
    """Write one prediction store ``out/<kind>.zarr`` per baseline for frames of a truth store.

    Parameters
    ----------
    truth : path-like
        Truth store (array ``mag``, G; ``tables/frame_regions`` for ``sign-coin``, ``hale-oracle``).
    out : path-like
        Output folder.
    kinds : sequence of str
        Baselines (module docstring).
    indices : str
        Frames: ``test``, ``val``, ``train`` (need ``split``), ``all`` or a comma list (as
        ``euv2mag predict``).
    split : path-like, optional
        Split JSON of the truth store.
    seed : int
        Seed of the ``sign-coin`` draws.
    audit_params : AuditParams, optional
        ``sign-coin``, ``hale-oracle``: the audit parameters whose truth footprints and Hale
        classes are used (default :class:`~euv2mag.audit.pipeline.AuditParams`; recorded as
        ``audit_params`` in the store's ``params``).
    history_tolerance_days : float, optional
        ``persistence-D``: largest distance of the history frame from ``t - D``, days (default
        half the median spacing of the truth store's frames).
    rotation_model : str, optional
        ``persistence-D``: sunpy's differential-rotation law (default: the synthetic truth's
        own ``rotation_model``, else ``howard``).
    mu_min : float, optional
        ``persistence-D``: smallest ``mu`` of a history pixel that is carried (default
        :data:`euv2mag.data.history.HISTORY_MU_MIN`).
    progress : bool, optional
        Show a progress bar (default: unless ``EUV2MAG_NO_PROGRESS`` is set).

    Returns
    -------
    list of Path
        The stores written, in the order of ``kinds``.  Each has the array ``pred`` and the
        truth frames' time and geometry, plus ``tables/source_frames`` (``index``,
        ``source_index``, ``time``); a ``persistence-D`` store also the table ``history``
        (:data:`euv2mag.data.history.HISTORY`), written as ``out/<kind>.history.csv`` too.
        Re-running replaces them.

    Raises
    ------
    UserError
        An unknown or repeated baseline, a truth without ``mag``, bad indices or split, a region
        baseline on a truth without ``tables/frame_regions``, bad persistence options, or an
        output that is not a store; all checked before anything is written.
    """
    from ..data.store import FrameStore, StoreWriter, _is_vacant
    from ..data.splits import resolve_indices
    from ..progress import progress_bar
    from .persistence import PersistenceParams, default_tolerance_days, history_frames, history_table_file
    from .pipeline import AuditParams, truth_footprints

    audit_params = AuditParams() if audit_params is None else audit_params
    kinds = [str(k).strip() for k in kinds]
    if not kinds:
        raise UserError("no baseline given", parameter="kinds")
    for kind in kinds:
        parse_kind(kind)
    if len(set(kinds)) != len(kinds):
        raise UserError(f"a baseline is given twice: {' '.join(kinds)}", parameter="kinds")
    store = FrameStore(truth)
    if not store.has("mag"):
        raise UserError("truth store has no 'mag' array", path=store.path)
    idx = resolve_indices(indices, store.n_frames, split, times=store.times)
    by_frame = None
    if any(k in _NEEDS_REGIONS for k in kinds):
        table = store.table("frame_regions") if "frame_regions" in store.table_names() else None
        if table is None or not set(_REGION_COLUMNS) <= set(table.columns):
            need = " and ".join(k for k in kinds if k in _NEEDS_REGIONS)
            raise UserError(f"--kinds {need} needs the generator's truth regions (tables/frame_regions), "
                            "which this store lacks", path=store.path)
        by_frame = {int(f): g.reset_index(drop=True) for f, g in table.groupby("frame")}
        empty = table.iloc[:0]
    persistence = {}
    for kind in kinds:
        name, days = parse_kind(kind)
        if name == "persistence":
            model = rotation_model or _store_rotation_model(store)
            tol = default_tolerance_days(store.times) if history_tolerance_days is None else history_tolerance_days
            extra = {} if mu_min is None else {"mu_min": mu_min}
            pp = PersistenceParams(days, tolerance_days=tol, rotation_model=model, **extra)
            persistence[kind] = (pp, *history_frames(store.times, idx, pp.days, pp.tolerance_days))
    out = Path(out)
    targets = [out / f"{kind}.zarr" for kind in kinds]
    for target in targets:
        if target.exists() and not (target / ".zgroup").exists() and not _is_vacant(target):
            raise UserError("exists and is not an euv2mag store; choose another output", path=target)
    # frame by frame, every store at once: each truth frame is read, and its regions detected
    # (sign-coin, hale-oracle: the same footprints), once for all baselines
    with progress_bar("baselines", len(kinds) * len(idx), enabled=progress) as advance, ExitStack() as stack:
        writers = {}
        for kind, target in zip(kinds, targets):
            params = {"baseline": kind, "seed": int(seed), "source_store": str(Path(store.path).resolve()),
                      "source_indices": idx, "arrays": ["pred"]}
            if kind in persistence:
                params["persistence"] = dataclasses.asdict(persistence[kind][0])
            if kind in _NEEDS_REGIONS:
                params["audit_params"] = audit_params.to_dict()
            writers[kind] = stack.enter_context(StoreWriter.open(
                target, n_frames=len(idx), shape=store.shape, arrays=["pred"], kind="prediction", params=params,
                provenance={"baseline": kind, "source_store": params["source_store"]}, overwrite=True))
        history_rows = {kind: [] for kind in persistence}
        for i, src in enumerate(idx):
            geom = store.geometry(src)
            truth_g = footprints = None
            regions = by_frame.get(src, empty) if by_frame is not None else None
            for kind in kinds:
                if kind in persistence:
                    pred, row = _persistence_frame(store, src, geom, *persistence[kind], i)
                    history_rows[kind].append(row)
                else:
                    if truth_g is None:
                        truth_g = store.read("mag", src)
                    if kind in _NEEDS_REGIONS and footprints is None:
                        footprints = truth_footprints(truth_g, geom, audit_params, regions)
                    pred = baseline_map(kind, truth_g, geom, regions, seed=seed, audit_params=audit_params,
                                        footprints=footprints if kind in _NEEDS_REGIONS else None)
                writers[kind].write_frame(i, geom, pred=pred)
                advance()
        for kind, writer in writers.items():
            writer.write_table("source_frames", {"index": np.arange(len(idx)), "source_index": np.asarray(idx),
                                                 "time": [str(store.times[i]) for i in idx]})
            extra = {}
            if kind in persistence:
                spec = history_table_file(kind)
                table = spec.frame(history_rows[kind])
                writer.write_table("history", table)
                spec.write(table, out)
                extra["n_without_history"] = int((table["history_index"] < 0).sum())
            writer.finish(baseline=kind, **extra)
    return targets


def _store_rotation_model(store) -> str:
    """The synthetic truth's differential-rotation law (``params.rotation_model``), else ``howard``."""
    from .persistence import ROTATION_MODELS

    params = store.attrs.get("params")
    model = params.get("rotation_model") if isinstance(params, dict) else None
    return model if model in ROTATION_MODELS else "howard"


def _persistence_frame(store, src: int, geometry, params, history_index, age_days, k: int):
    """``persistence-D`` map of truth frame ``src`` (the ``k``-th frame written) and its ``history`` row."""
    from .persistence import rotate_map

    j = int(history_index[k])
    row = {"index": k, "source_index": int(src), "time": str(store.times[src]), "history_index": j,
           "history_time": "", "age_days": math.nan, "covered_fraction": 0.0, "reason": ""}
    disk = geometry.rho <= 1.0
    if j < 0:
        row["reason"] = (f"no truth frame within {params.tolerance_days * 24:g} h of {params.days:g} d before "
                         f"{store.times[src]}")
        return zero_map(geometry), row
    pred, covered = rotate_map(store.read("mag", j), store.geometry(j), geometry, mu_min=params.mu_min,
                               rotation_model=params.rotation_model)
    row.update(history_time=str(store.times[j]), age_days=float(age_days[k]),
               covered_fraction=float(covered.sum() / max(1, disk.sum())))
    return pred, row
