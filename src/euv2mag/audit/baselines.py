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
    The truth with each truth region's field negated, with probability 1/2, inside that
    region's footprint; outside the regions unchanged.  The coin is seeded by ``(seed,
    region_id)``, so a region keeps its coin in every frame: a model that draws unsigned
    field perfectly but guesses polarity region by region (Liu et al. 2021: EUV carries no
    polarity) scores ~0.5 footprint polarity agreement.
``hale-oracle``
    The truth with every anti-Hale region (generator flag ``hale_conforming`` false) negated
    inside its footprint: a model that knows Hale's law perfectly and nothing else about
    polarity (footprint polarity 1 on Hale-conforming regions, 0 on anti-Hale ones).
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

Footprints (``sign-coin``, ``hale-oracle``; synthetic truth only, ``tables/frame_regions``)
    For each row of the frame, the disk pixels whose great-circle distance from the region's
    flux-weighted centre (``lat_deg``, ``stonyhurst_lon_deg``) is at most
    ``separation_mm / 2 + FOOTPRINT_PLAGE_FACTOR * plage_radius_mm`` (Mm, on a sphere of
    radius :data:`~euv2mag.geometry.RSUN_MM`): the two polarity centres lie ``separation / 2``
    from the centre and their plage discs reach ``plage_radius`` beyond, with a margin for the
    dispersed flux around them.  A pixel within the disc of several regions belongs to the one
    it is nearest to, in units of each disc's radius.  This is a disc, not the generator's
    rendered footprint (:func:`euv2mag.data.synthetic.truth.region_footprint` needs the region's
    full state, not stored in the truth tables): cheap and enough to flip a region's flux.

All map functions are pure functions of arrays and a :class:`~euv2mag.geometry.DiskGeometry`;
:func:`write_baselines` makes the stores.
"""
from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import UserError
from ..geometry import RSUN_MM

__all__ = ["KINDS", "FOOTPRINT_PLAGE_FACTOR", "NEEDS_HISTORY", "parse_kind", "region_footprints", "zero_map",
           "clip_map", "flip_regions", "baseline_map", "write_baselines"]

#: The default baselines of :func:`write_baselines` (``clip-L`` takes any L > 0 in G).
KINDS = ("zero", "clip-100", "sign-coin", "hale-oracle")
#: Multiple of ``plage_radius_mm`` added to half the polarity separation for a footprint's radius.
FOOTPRINT_PLAGE_FACTOR = 1.5
#: Truth-table columns the region baselines need.
_REGION_COLUMNS = ("frame", "region_id", "lat_deg", "stonyhurst_lon_deg", "hale_conforming", "separation_mm",
                   "plage_radius_mm")
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


def region_footprints(geometry, regions) -> np.ndarray:
    """Label image of the regions' disc footprints (module docstring).

    Parameters
    ----------
    geometry : DiskGeometry
        Geometry of the frame.
    regions : pandas.DataFrame
        ``frame_regions`` rows of the frame (``lat_deg``, ``stonyhurst_lon_deg`` in deg,
        ``separation_mm``, ``plage_radius_mm`` in Mm).

    Returns
    -------
    (H, W) ndarray of int
        ``i + 1`` on the pixels of the region in row ``i`` (positional), 0 elsewhere and off the disk.
    """
    lat = np.radians(geometry.lat_deg)
    lon = np.radians(geometry.stonyhurst_lon_deg)
    on_disk = np.isfinite(lat) & np.isfinite(lon)
    labels = np.zeros(tuple(geometry.shape), dtype=np.int64)
    best = np.full(tuple(geometry.shape), np.inf)
    for i, row in enumerate(regions.itertuples(index=False)):
        radius_mm = 0.5 * float(row.separation_mm) + FOOTPRINT_PLAGE_FACTOR * float(row.plage_radius_mm)
        if not (math.isfinite(radius_mm) and radius_mm > 0):
            continue
        la0, lo0 = math.radians(float(row.lat_deg)), math.radians(float(row.stonyhurst_lon_deg))
        with np.errstate(invalid="ignore"):
            cos_d = np.sin(lat) * math.sin(la0) + np.cos(lat) * math.cos(la0) * np.cos(lon - lo0)
            scaled = np.arccos(np.clip(cos_d, -1.0, 1.0)) * RSUN_MM / radius_mm
        inside = on_disk & (scaled <= 1.0) & (scaled < best)
        labels[inside] = i + 1
        best[inside] = scaled[inside]
    return labels


def zero_map(geometry) -> np.ndarray:
    """0 G on the disk (``rho <= 1``), NaN off it; (H, W) float32."""
    return np.where(geometry.rho <= 1.0, 0.0, np.nan).astype(np.float32)


def clip_map(truth_g: np.ndarray, level_g: float) -> np.ndarray:
    """The truth clipped to ``+-level_g`` G (NaN stays NaN); (H, W) float32."""
    return np.clip(np.asarray(truth_g, dtype=np.float32), -level_g, level_g)


def flip_regions(truth_g: np.ndarray, labels: np.ndarray, flip: Sequence[bool]) -> np.ndarray:
    """The truth with the field negated on the pixels of every region ``i`` with ``flip[i]``.

    Parameters
    ----------
    truth_g : (H, W) ndarray
        Truth LOS field in G.
    labels : (H, W) ndarray of int
        Footprint labels (:func:`region_footprints`: ``i + 1`` for region ``i``).
    flip : sequence of bool
        Per region (positional) whether to negate it.

    Returns
    -------
    (H, W) ndarray of float32
    """
    sign = np.concatenate([[1.0], np.where(np.asarray(flip, dtype=bool), -1.0, 1.0)]).astype(np.float32)
    return np.asarray(truth_g, dtype=np.float32) * sign[labels]


def _coin(seed: int, region_id: int) -> bool:
    """The ``sign-coin`` draw of one region: True (negate) with probability 1/2, same in every frame."""
    return bool(np.random.default_rng([int(seed), int(region_id)]).random() < 0.5)


def baseline_map(kind: str, truth_g: np.ndarray, geometry, regions=None, *, seed: int = 0) -> np.ndarray:
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
        The frame's ``frame_regions`` rows; needed by ``sign-coin`` and ``hale-oracle``.
    seed : int
        Seed of the ``sign-coin`` draws.

    Raises
    ------
    UserError
        For ``persistence-D``, which needs a history frame (:func:`write_baselines`,
        :func:`euv2mag.data.history.rotate_map`).
    """
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
    labels = region_footprints(geometry, regions)
    if name == "sign-coin":
        flip = [_coin(seed, r) for r in regions["region_id"]]
    else:
        flip = [not bool(h) for h in regions["hale_conforming"]]
    return flip_regions(truth_g, labels, flip)


def write_baselines(truth, out, *, kinds: Sequence[str] = KINDS, indices: str = "test", split=None,
                    seed: int = 0, history_tolerance_days: float | None = None, rotation_model: str | None = None,
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
    written = []
    with progress_bar("baselines", len(kinds) * len(idx), enabled=progress) as advance:
        for kind, target in zip(kinds, targets):
            params = {"baseline": kind, "seed": int(seed), "source_store": str(Path(store.path).resolve()),
                      "source_indices": idx, "arrays": ["pred"]}
            if kind in persistence:
                params["persistence"] = dataclasses.asdict(persistence[kind][0])
            with StoreWriter.open(target, n_frames=len(idx), shape=store.shape, arrays=["pred"], kind="prediction",
                                  params=params, provenance={"baseline": kind, "source_store": params["source_store"]},
                                  overwrite=True) as writer:
                history_rows = []
                for i, src in enumerate(idx):
                    geom = store.geometry(src)
                    if kind in persistence:
                        pred, row = _persistence_frame(store, src, geom, *persistence[kind], i)
                        history_rows.append(row)
                    else:
                        regions = by_frame.get(src, empty) if by_frame is not None else None
                        pred = baseline_map(kind, store.read("mag", src), geom, regions, seed=seed)
                    writer.write_frame(i, geom, pred=pred)
                    advance()
                writer.write_table("source_frames", {"index": np.arange(len(idx)), "source_index": np.asarray(idx),
                                                     "time": [str(store.times[i]) for i in idx]})
                extra = {}
                if kind in persistence:
                    spec = history_table_file(kind)
                    table = spec.frame(history_rows)
                    writer.write_table("history", table)
                    spec.write(table, out)
                    extra["n_without_history"] = int((table["history_index"] < 0).sum())
                writer.finish(baseline=kind, **extra)
            written.append(target)
    return written


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
