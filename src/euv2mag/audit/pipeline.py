"""The audit of generated magnetograms against a truth store, as one library call.

:func:`audit_stores` compares prediction stores (array ``pred``, G) with a truth store (array
``mag``, G) frame by frame: full-disk metrics (:mod:`euv2mag.audit.fulldisk`), active regions
detected and measured on the truth and on every prediction (:mod:`euv2mag.audit.detection`, :mod:`euv2mag.audit.measurement`),
their one-to-one matching and the generated polarity inside every truth footprint
(:mod:`euv2mag.audit.match`), the Hale classes of the truth regions (:mod:`euv2mag.audit.hale`)
and, with several predictions, the run-to-run comparisons (:mod:`euv2mag.audit.variability`).
The per-frame work is :func:`audit_frame`, a pure function of the maps, their geometry and the
parameters, so it maps unchanged over the workers of a Dask cluster (``scheduler``,
``workers``; :mod:`euv2mag.parallel`) while this process writes the results in frame order.
The tables are summarised by :func:`euv2mag.audit.summary.summarize` and, with ``n_boot > 0``,
given block-bootstrap intervals (:mod:`euv2mag.audit.bootstrap`).

Frames are aligned by time: every prediction store must have the truth's image shape and the
same frame times as the other predictions, and each of its times must be a frame of the truth
store (a prediction of the test frames of a larger store is fine).  Any mismatch is a one-line
:class:`~euv2mag.errors.UserError` naming both files.

Hale classes: for a synthetic truth store (``tables/frame_regions``) each detected truth region
takes the generator's ``hale_conforming`` flag of the nearest injected region within
``max_distance_deg``; otherwise it is decided from the region's leading polarity, hemisphere
and the solar cycle at the frame's date.

Output files (:meth:`AuditResult.write`; definitions in :mod:`euv2mag.audit.files`):
``fulldisk.csv``, ``regions.csv``, ``matches.csv``, ``variability.csv`` and ``pixel_std.zarr``
(two or more predictions), ``summary.json``.  With ``out``, per-frame results are cached in
``out/.cache`` so that an interrupted audit resumes where it stopped; each frame's cached result is
keyed by a digest of its inputs' content (the truth frame, every prediction frame, the generator's
regions of the frame; :mod:`euv2mag.audit.cache`), so a replaced store is audited again, never
answered from the cache.
"""
from __future__ import annotations

import dataclasses
import math
import shutil
import uuid
from collections import deque
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..errors import UserError
from .bootstrap import DISK_PASSAGE_DAYS
from .fulldisk import FullDiskParams
from .match import MIN_PAIRS
from .detection import DetectionParams

__all__ = ["AuditParams", "AuditResult", "audit_frame", "audit_stores", "footprint_abs_ratio", "open_stores",
           "truth_footprints"]


@dataclasses.dataclass(frozen=True)
class AuditParams:
    """Parameters of an audit.

    Parameters
    ----------
    fulldisk : FullDiskParams
        Disk cut, noise threshold (G), binning and strong-field level (G) of the full-disk metrics.
    detection : DetectionParams
        Active-region detection and measurement parameters (physical units).
    max_distance_deg : float
        Largest centre distance of a region match (deg).
    min_pairs : int
        Fewest pairs of a pair statistic (CC, R^2, slope, median ratio) in the summary.
    ci_block_days : float
        Length of the bootstrap's time blocks (days; default one disk passage, 13.6 d).
    ci_level : float
        Coverage of the intervals, in (0, 1).
    ci_seed : int
        Seed of the bootstrap draws.
    """

    fulldisk: FullDiskParams = FullDiskParams()
    detection: DetectionParams = DetectionParams()
    max_distance_deg: float = 5.0
    min_pairs: int = MIN_PAIRS
    ci_block_days: float = DISK_PASSAGE_DAYS
    ci_level: float = 0.95
    ci_seed: int = 0

    def __post_init__(self):
        if not (math.isfinite(self.max_distance_deg) and self.max_distance_deg > 0):
            raise UserError(f"must be a positive number of degrees, got {self.max_distance_deg!r}", parameter="max_distance_deg")
        if int(self.min_pairs) < 2:
            raise UserError(f"must be >= 2, got {self.min_pairs!r}", parameter="min_pairs")
        if not (math.isfinite(self.ci_block_days) and self.ci_block_days > 0):
            raise UserError(f"must be a positive number of days, got {self.ci_block_days!r}", parameter="ci_block_days")
        if not 0 < self.ci_level < 1:
            raise UserError(f"must be in (0, 1), got {self.ci_level!r}", parameter="ci_level")

    def to_dict(self) -> dict:
        """Plain dict (recorded as ``params`` in ``summary.json``)."""
        return {"fulldisk": self.fulldisk.to_dict(), "detection": self.detection.to_dict(),
                "max_distance_deg": self.max_distance_deg, "min_pairs": self.min_pairs,
                "ci_block_days": self.ci_block_days, "ci_level": self.ci_level, "ci_seed": self.ci_seed}

    @classmethod
    def from_dict(cls, data: Mapping) -> "AuditParams":
        """Inverse of :meth:`to_dict` (keys absent in older summaries take their defaults)."""
        data = dict(data)
        fd = FullDiskParams(**data.pop("fulldisk", {}))
        det = DetectionParams(**data.pop("detection", {}))
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(fulldisk=fd, detection=det, **{k: v for k, v in data.items() if k in known})


# --------------------------------------------------------------------------- per frame
def audit_frame(truth_g, preds: Mapping[str, np.ndarray], geometry, params: AuditParams = AuditParams(),
                truth_regions=None) -> tuple[dict, np.ndarray | None]:
    """Everything the audit computes for one frame; a pure function of its arguments.

    Parameters
    ----------
    truth_g : (H, W) ndarray
        Reference LOS field in G (NaN off the disk).
    preds : mapping of str to (H, W) ndarray
        Prediction name -> generated field in G.
    geometry : DiskGeometry
        Geometry of the frame.
    params : AuditParams
        Audit parameters.
    truth_regions : pandas.DataFrame, optional
        Injected regions visible in this frame (synthetic ``frame_regions`` rows) with
        ``lat_deg``, ``stonyhurst_lon_deg``, ``hale_conforming``.

    Returns
    -------
    records : dict
        Lists of row dicts under ``fulldisk``, ``regions``, ``matches``, ``variability`` (the
        table columns but ``frame``, ``truth_frame`` and ``time``).
    std : (H, W) ndarray or None
        Per-pixel standard deviation across predictions in G (two or more), else None.

    Examples
    --------
    A frame audited against itself (a bipole on a 64-pixel disk):

    >>> import numpy as np
    >>> from euv2mag.geometry import DiskGeometry
    >>> g = DiskGeometry(shape=(64, 64), rsun_px=24.5, cdelt_arcsec=39.0, b0_deg=0.0, l0_deg=0.0)
    >>> mag = np.where(g.disk_mask(1.0), 0.0, np.nan).astype("f4")
    >>> mag[30:34, 28:31], mag[30:34, 33:36] = 400.0, -400.0
    >>> records, std = audit_frame(mag, {"self": mag}, g)
    >>> row = records["fulldisk"][0]
    >>> round(row["cc"], 6), round(row["tumf_ratio"], 6), std is None
    (1.0, 1.0, True)
    """
    from .fulldisk import frame_metrics
    from .match import match_rows
    from .measurement import find_regions, footprint_polarity
    from .variability import frame_variability

    records = {"fulldisk": [], "regions": [], "matches": [], "variability": []}
    ref_labels, ref_table = truth_footprints(truth_g, geometry, params, truth_regions)
    hale = list(zip(ref_table["hale_conforming"], ref_table["hale_class"]))
    for row in ref_table.to_dict("records"):
        records["regions"].append({"source": "truth", **row})
    tables = {}
    for name, gen in preds.items():
        try:
            row = frame_metrics(truth_g, gen, geometry, params.fulldisk)
            records["fulldisk"].append({"pred": name, **row, "footprint_abs_ratio": footprint_abs_ratio(
                truth_g, gen, geometry, ref_labels, r_max=params.fulldisk.r_max)})
        except UserError as exc:
            raise UserError(f"prediction {name}, frame time {geometry.time}: {exc}") from None
        _, table = find_regions(gen, geometry, params.detection)
        table = table.reset_index(drop=True)
        tables[name] = table
        for row in table.to_dict("records"):
            records["regions"].append({"source": name, "hale_conforming": None, "hale_class": None, **row})
        footprint = footprint_polarity(gen, geometry, ref_labels, threshold_g=params.fulldisk.threshold_g).set_index("label")
        records["matches"].extend(match_rows(name, ref_table, table, hale, params.max_distance_deg, footprint,
                                             region_ids=ref_table["region_id"].tolist()))
    std = None
    if len(preds) > 1:
        rows, std = frame_variability(dict(preds), geometry, params.fulldisk, tables, params.max_distance_deg)
        records["variability"] = rows
    return records, std


def truth_footprints(truth_g, geometry, params: AuditParams = AuditParams(), truth_regions=None):
    """The truth regions as the audit sees them: footprints, Hale classes and generator region ids.

    The one definition of a truth region's footprint and Hale class: :func:`audit_frame` reads
    every prediction inside these footprints, and the ``sign-coin`` and ``hale-oracle``
    baselines (:mod:`euv2mag.audit.baselines`) negate the field inside the same footprints.

    Parameters
    ----------
    truth_g : (H, W) ndarray
        Reference LOS field in G (NaN off the disk).
    geometry : DiskGeometry
        Geometry of the frame.
    params : AuditParams
        Audit parameters (``detection`` finds the regions; ``max_distance_deg`` links them to
        the generator's regions).
    truth_regions : pandas.DataFrame, optional
        Injected regions visible in this frame (synthetic ``frame_regions`` rows: ``lat_deg``,
        ``stonyhurst_lon_deg``, ``hale_conforming``, optionally ``region_id``).

    Returns
    -------
    labels : (H, W) ndarray of int32
        Footprints: the label image of the regions detected on the truth
        (:func:`euv2mag.audit.measurement.find_regions`; 0 = background).
    table : pandas.DataFrame
        The detected regions (index reset; their ``label`` in ``labels``) with ``hale_conforming``
        and ``hale_class`` (:func:`euv2mag.audit.hale.hale_classes`) and ``region_id``: the
        generator id of the nearest injected region within ``max_distance_deg`` (the same one
        whose ``hale_conforming`` flag is taken), None without one.
    """
    from .hale import hale_classes
    from .match import attach_truth
    from .measurement import find_regions

    labels, table = find_regions(truth_g, geometry, params.detection)
    table = table.reset_index(drop=True)
    hale = hale_classes(table, geometry.time, truth_regions, params.max_distance_deg)
    ids = [None] * len(table)
    if len(table) and truth_regions is not None and len(truth_regions) and "region_id" in truth_regions.columns:
        attached = attach_truth(table, truth_regions, params.max_distance_deg, columns=("region_id",))
        ids = [None if v is None or (isinstance(v, float) and math.isnan(v)) else int(v) for v in attached["region_id"]]
    table.insert(0, "hale_class", [cls for _, cls in hale])
    table.insert(0, "hale_conforming", [flag for flag, _ in hale])
    table["region_id"] = ids
    return labels, table


def footprint_abs_ratio(truth_g, gen_g, geometry, ref_labels, *, r_max: float = 0.95) -> float:
    """Generated over reference unsigned flux inside the truth regions' footprints.

    Parameters
    ----------
    truth_g, gen_g : (H, W) ndarray
        Reference and generated LOS field in G.
    geometry : DiskGeometry
        Geometry of the frame.
    ref_labels : (H, W) ndarray of int
        Label image of the regions detected on the reference (``> 0`` inside a footprint).
    r_max : float
        Disk cut (fraction of the apparent radius), as for the full-disk metrics.

    Returns
    -------
    float
        ``sum |B_gen| A / sum |B_ref| A`` over the footprint pixels on the disk with a finite
        reference (``A`` the pixel area, cm^2; no noise threshold); NaN when there is no such
        pixel or the reference sum is 0.
    """
    from .fulldisk import disk_pixels

    area, disk = disk_pixels(geometry, r_max)
    truth = np.asarray(truth_g, dtype=np.float64)
    use = disk & (np.asarray(ref_labels) > 0) & np.isfinite(truth)
    ref = float(np.sum(np.abs(truth[use]) * area[use]))
    if ref <= 0:
        return math.nan
    return float(np.sum(np.abs(np.asarray(gen_g, dtype=np.float64)[use]) * area[use])) / ref


#: Stores the per-frame work of the audit running in this process has opened:
#: ``{(audit id, path): FrameStore}``.  Opening a store reads its metadata arrays (time, geometry;
#: ~50 ms, more than the rest of a small frame's reading), so one audit opens each store once per
#: process (the serial pool's or a Dask worker's) instead of once per frame.  Every
#: :func:`audit_stores` call has its own id: another audit, or the same paths rewritten in between,
#: always opens the stores anew; the audit forgets its entries when it ends (a worker process
#: keeps those of its last audit until the next one).
_OPEN_STORES: dict = {}


def _open_store(path: str, audit_id: str):
    """The :class:`~euv2mag.data.store.FrameStore` at ``path``, opened once per audit and process."""
    from ..data.store import FrameStore

    key = (audit_id, path)
    store = _OPEN_STORES.get(key)
    if store is None:
        for other in [k for k in _OPEN_STORES if k[0] != audit_id]:
            _OPEN_STORES.pop(other, None)
        store = _OPEN_STORES[key] = FrameStore(path)
    return store


def _frame_task(item):
    """Read one frame from the stores and run :func:`audit_frame` (serial or in a worker process)."""
    truth_path, pred_paths, k, t, params, truth_regions, audit_id = item
    truth = _open_store(truth_path, audit_id)
    preds = {name: _open_store(path, audit_id).read("pred", k) for name, path in pred_paths.items()}
    records, std = audit_frame(truth.read("mag", t), preds, truth.geometry(t), params, truth_regions)
    return k, records, std


# --------------------------------------------------------------------------- inputs
def _parse_times(times) -> np.ndarray:
    try:
        return np.array([np.datetime64(str(t).replace("Z", "")[:23], "ms") for t in times])
    except ValueError:
        return np.asarray([str(t) for t in times])


def _store_name(path) -> str:
    name = Path(str(path).rstrip("/")).name
    return name[: -len(".zarr")] if name.endswith(".zarr") and len(name) > len(".zarr") else name


def open_stores(truth, preds):
    """Open and cross-check the stores; return ``(truth, {name: store}, truth index per pred frame)``.

    Parameters
    ----------
    truth : path-like or FrameStore
        Truth store (array ``mag``).
    preds : sequence of path-like, or mapping of name to path-like
        Prediction stores (array ``pred``); names default to the store names without ``.zarr``.

    Raises
    ------
    UserError
        Missing arrays, no prediction, the same store twice, different image shapes, different
        frame times (one line naming both files).
    """
    from ..data.store import FrameStore

    truth = truth if isinstance(truth, FrameStore) else FrameStore(truth)
    if not truth.has("mag"):
        raise UserError("truth store has no 'mag' array", path=truth.path)
    items = list(preds.items()) if isinstance(preds, Mapping) else [(None, p) for p in preds]
    if not items:
        raise UserError("no prediction store given", parameter="preds")
    stores, seen = {}, {}
    for name, path in items:
        store = path if isinstance(path, FrameStore) else FrameStore(path)
        if not store.has("pred"):
            raise UserError("prediction store has no 'pred' array (make it with euv2mag predict)", path=store.path)
        resolved = Path(store.path).resolve()
        if resolved in seen:
            raise UserError(f"is given twice (as {seen[resolved]!r} and again)", path=store.path)
        name = str(name) if name is not None else _store_name(store.path)
        if name in stores:
            name = f"{name}_{len(stores)}"
        seen[resolved] = name
        stores[name] = store
    first = next(iter(stores.values()))
    for store in stores.values():
        if store.shape != truth.shape:
            raise UserError(
                f"{store.path} and {truth.path} differ in image shape "
                f"({store.shape[0]}x{store.shape[1]} vs {truth.shape[0]}x{truth.shape[1]})"
            )
        if store is not first and (store.n_frames != first.n_frames
                                   or not np.array_equal(_parse_times(store.times), _parse_times(first.times))):
            raise UserError(f"{store.path} and {first.path} hold different frame times; predictions must cover the same frames")
    lookup = {t: i for i, t in enumerate(_parse_times(truth.times).tolist())}
    index = []
    for k, t in enumerate(_parse_times(first.times).tolist()):
        if t not in lookup:
            raise UserError(f"{first.path} and {truth.path} differ in frame times: {first.times[k]} is not a truth frame")
        index.append(lookup[t])
    return truth, stores, index


def _truth_regions_by_frame(truth):
    if "frame_regions" not in truth.table_names():
        return None
    table = truth.table("frame_regions")
    need = {"frame", "lat_deg", "stonyhurst_lon_deg", "hale_conforming"}
    if not need <= set(table.columns):
        return None
    columns = ["lat_deg", "stonyhurst_lon_deg", "hale_conforming"] + (["region_id"] if "region_id" in table.columns else [])
    return {int(f): g[columns].reset_index(drop=True) for f, g in table.groupby("frame")}


def _empty_truth_regions():
    import pandas as pd

    return pd.DataFrame({"lat_deg": [], "stonyhurst_lon_deg": [], "hale_conforming": [], "region_id": []})


# --------------------------------------------------------------------------- result
@dataclasses.dataclass
class AuditResult:
    """Tables, summary and per-pixel spread of an audit (:func:`audit_stores`).

    Attributes
    ----------
    fulldisk, regions, matches, variability : pandas.DataFrame
        The tables defined in :mod:`euv2mag.audit.files` (``variability`` is empty with one
        prediction).
    summary : AuditSummary
        ``summary.json`` (numbers, intervals, parameters, inputs).
    pixel_std : array-like or None
        (N, H, W) per-pixel standard deviation across predictions in G (two or more
        predictions): a NumPy array, or the Zarr array written in the output folder.
    """

    fulldisk: object
    regions: object
    matches: object
    variability: object
    summary: object
    pixel_std: object | None = None

    def write(self, folder) -> Path:
        """Write every file into ``folder`` (atomically each) and return the folder."""
        from .._io import ensure_dir
        from .files import FULLDISK, MATCHES, PIXEL_STD_ZARR, REGIONS, SUMMARY_JSON, VARIABILITY

        folder = ensure_dir(folder)
        FULLDISK.write(self.fulldisk, folder)
        REGIONS.write(self.regions, folder)
        MATCHES.write(self.matches, folder)
        if len(self.summary.predictions) > 1:
            VARIABILITY.write(self.variability, folder)
            _save_std(folder / PIXEL_STD_ZARR, self.pixel_std)
        self.summary.write(folder / SUMMARY_JSON)
        return folder

    @classmethod
    def read(cls, folder) -> "AuditResult":
        """Read an audit folder written by :meth:`write` (tables typed by their definitions)."""
        import zarr

        from .files import FULLDISK, MATCHES, PIXEL_STD_ZARR, REGIONS, VARIABILITY
        from .summary import AuditSummary

        folder = Path(folder)
        summary = AuditSummary.read(folder)
        several = len(summary.predictions) > 1
        std = zarr.open_array(str(folder / PIXEL_STD_ZARR), mode="r") if several and (folder / PIXEL_STD_ZARR).exists() else None
        return cls(FULLDISK.read(folder), REGIONS.read(folder), MATCHES.read(folder),
                   VARIABILITY.read(folder) if several else VARIABILITY.frame(), summary, std)


def _save_std(target: Path, std) -> None:
    """Write the (N, H, W) spread to ``target`` atomically: a copy of a Zarr array on disk, or from memory."""
    import zarr

    from .._io import atomic_path

    source = getattr(getattr(std, "store", None), "root", None)
    if source is not None and Path(source).resolve() == target.resolve():
        return  # already in place
    with atomic_path(target, is_dir=True) as tmp:
        tmp.rmdir()
        if source is not None and Path(source).is_dir():
            shutil.copytree(source, tmp)
        else:
            data = np.asarray(std, dtype=np.float32)
            arr = zarr.create_array(str(tmp), shape=data.shape, chunks=(1, *data.shape[1:]), dtype="f4",
                                    fill_value=np.nan, zarr_format=2)
            arr[:] = data


def _std_array(path: Path, n: int, shape):
    """(n, H, W) float32 Zarr array of the per-pixel spread, created or re-opened to resume."""
    import zarr

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        arr = zarr.open_array(str(path), mode="r+")
        if arr.shape == (n, *shape):
            return arr
        shutil.rmtree(path)
    return zarr.create_array(str(path), shape=(n, *shape), chunks=(1, *shape), dtype="f4", fill_value=np.nan, zarr_format=2)


# --------------------------------------------------------------------------- the audit
def audit_stores(truth, preds, *, params: AuditParams | None = None, workers: int | None = None,
                 scheduler: str | None = None, n_boot: int = 1000, out=None, indices: Sequence[int] | None = None,
                 progress: bool | None = None) -> AuditResult:
    """Audit prediction stores against a truth store (module docstring).

    Parameters
    ----------
    truth : path-like or FrameStore
        Truth store (array ``mag``, G).
    preds : sequence of path-like, or mapping of name to path-like
        Prediction stores (array ``pred``, G); names default to the store names without ``.zarr``.
    params : AuditParams, optional
        Audit parameters (default: :class:`AuditParams`).
    workers : int, optional
        Worker processes of a local Dask cluster for the per-frame work (None or 1 without
        ``scheduler``: serial, no Dask); see :mod:`euv2mag.parallel`.
    scheduler : str, optional
        ``"local"`` (a local cluster of ``workers`` processes, default one per core) or
        ``"tcp://HOST:PORT"`` (an existing Dask cluster).  The results are the same as serial;
        this process writes them.
    n_boot : int
        Block-bootstrap replicates of the intervals (0: no intervals).
    out : path-like, optional
        Output folder: the files are written there, and per-frame results cached in
        ``out/.cache`` so that a re-run resumes.  None: nothing is written.
    indices : sequence of int, optional
        Prediction frames to audit (default all).
    progress : bool, optional
        Show a progress bar (default: unless ``EUV2MAG_NO_PROGRESS`` is set).

    Returns
    -------
    AuditResult

    Raises
    ------
    UserError
        For inputs that do not fit together (see :func:`open_stores`), a frame index outside the
        stores, a generated map with NaN on the disk, or a scheduler that cannot be used
        (:class:`euv2mag.parallel.FrameMap`; checked before anything is written).

    Examples
    --------
    >>> from euv2mag.audit import audit_stores
    >>> result = audit_stores("truth.zarr", ["pred/seed-0.zarr"], n_boot=0)  # doctest: +SKIP
    >>> result.summary.mean_over_predictions.fulldisk.tumf.cc  # doctest: +SKIP
    """
    from .._io import ensure_dir
    from .._lock import writer_lock
    from ..parallel import ClusterLost, FrameMap

    params = AuditParams() if params is None else params
    pool = FrameMap(scheduler, workers)
    if int(n_boot) < 0:
        raise UserError(f"must be >= 0, got {n_boot!r}", parameter="n_boot")
    truth, stores, truth_index = open_stores(truth, preds)
    n = len(truth_index)
    frames = list(range(n)) if indices is None else list(dict.fromkeys(int(k) for k in indices))
    for k in frames:
        if not 0 <= k < n:
            raise UserError(f"frame index {k} is outside 0..{n - 1} of the prediction stores", parameter="indices")
    if not frames:
        raise UserError("no frame to audit", parameter="indices")
    with pool:  # connected and checked before the output folder is made
        folder = ensure_dir(out) if out is not None else None
        if folder is None:
            return _audit(truth, stores, truth_index, frames, params, pool, n_boot, None, progress)
        with writer_lock(folder, what="audit folder"):
            try:
                return _audit(truth, stores, truth_index, frames, params, pool, n_boot, folder, progress)
            except ClusterLost:
                raise  # no bad input: the cache lets a re-run resume
            except UserError:
                # bad input: the cached frames would only be reused with the same (bad) inputs
                shutil.rmtree(folder / ".cache", ignore_errors=True)
                raise


def _audit(truth, stores, truth_index, frames, params, pool, n_boot, folder, progress) -> AuditResult:
    """:func:`audit_stores` after its inputs are checked (``folder`` locked, or None)."""
    from ..progress import progress_bar
    from .cache import ResultCache, frame_digest, value_digest
    from .files import FULLDISK, MATCHES, REGIONS, VARIABILITY
    from .summary import bootstrap_intervals, summarize

    pred_paths = {name: str(store.path) for name, store in stores.items()}
    several = len(stores) > 1
    cache = None
    if folder is not None:
        cache = ResultCache(folder / ".cache", {
            "params": {"fulldisk": params.fulldisk.to_dict(), "detection": params.detection.to_dict(),
                       "max_distance_deg": params.max_distance_deg},
            "truth": str(Path(truth.path).resolve()),
            "preds": {k: str(Path(v).resolve()) for k, v in pred_paths.items()},
            "frames": frames,  # pixel_std.zarr is indexed by position in ``frames``
            # the per-frame rows' columns: a cache written before a format change is not reused
            "columns": {spec.filename: list(spec.names) for spec in (FULLDISK, REGIONS, MATCHES)}})
    truth_regions = _truth_regions_by_frame(truth)

    def frame_key(k: int) -> str:
        """Cache key of frame ``k``: the content of every input of its result (ResultCache docs)."""
        t = truth_index[k]
        parts = [f"frame {k}", f"truth frame {t}", frame_digest(truth, "mag", t)]
        for name, store in stores.items():
            parts += [f"pred {name}", frame_digest(store, "pred", k)]
        parts.append("generator regions: " + (value_digest(truth_regions.get(t, _empty_truth_regions()))
                                              if truth_regions is not None else "none"))
        return cache.key(*parts)

    std = None
    if several:
        std = (_std_array(cache.folder / "pixel_std.zarr", len(frames), truth.shape) if cache is not None
               else np.full((len(frames), *truth.shape), np.nan, np.float32))

    results, keys, todo = {}, {}, deque()

    def work(advance):
        """The frames not in the cache, as work items.

        A generator, so that the content digests of the cache keys (reading both frames back,
        ~10-25 ms a frame at 1024^2) are computed as the map asks for more work -- while the
        workers compute the frames submitted before -- instead of all of them before the first
        frame is submitted.
        """
        for pos, k in enumerate(frames):
            if cache is not None:
                keys[k] = frame_key(k)
                cached = cache.get(keys[k])
                if cached is not None:
                    results[k] = cached
                    advance()
                    continue
            t = truth_index[k]
            regions_t = truth_regions.get(t, _empty_truth_regions()) if truth_regions is not None else None
            todo.append(pos)
            yield str(truth.path), pred_paths, k, t, params, regions_t, audit_id

    def keep(pos, k, records, frame_std):
        if std is not None:
            std[pos] = frame_std
        results[k] = records
        if cache is not None:
            cache.put(keys[k], records)

    audit_id = uuid.uuid4().hex  # the stores opened for this audit (_open_store)
    try:
        with progress_bar("audit", len(frames), enabled=progress) as advance:
            # in frame order, written here as each arrives (pool: serial or a Dask cluster); the map
            # takes items ahead of the results, so ``todo`` holds the positions of the items taken
            for k, records, frame_std in pool.map(_frame_task, work(advance)):
                keep(todo.popleft(), k, records, frame_std)
                advance()
    finally:
        for key in [key for key in _OPEN_STORES if key[0] == audit_id]:
            _OPEN_STORES.pop(key, None)

    times = {k: str(truth.times[truth_index[k]]) for k in frames}

    def rows(kind, **ident):
        return [{**r, "frame": k, "time": times[k], **({"truth_frame": truth_index[k]} if ident else {})}
                for k in frames for r in results[k][kind]]

    fulldisk = FULLDISK.frame(rows("fulldisk", truth_frame=True))
    regions = REGIONS.frame(rows("regions"))
    matches = MATCHES.frame(rows("matches"))
    variability = VARIABILITY.frame(rows("variability"))
    extra = {
        "params": params.to_dict(),
        "inputs": {"truth": str(truth.path), "predictions": pred_paths, "frames": frames,
                   "truth_frames": [truth_index[k] for k in frames]},
        "hale_source": "generator truth (tables/frame_regions)" if truth_regions is not None else "Hale's law from the date",
    }
    names = list(stores)
    summary = summarize(fulldisk, regions, matches, variability if several else None, names,
                        min_pairs=params.min_pairs, **extra)
    if n_boot > 0:
        ci, info = bootstrap_intervals(fulldisk, regions, matches, variability if several else None, names, frames,
                                       [times[k] for k in frames], n_boot=n_boot, block_days=params.ci_block_days,
                                       level=params.ci_level, seed=params.ci_seed, min_pairs=params.min_pairs,
                                       link_deg=params.max_distance_deg)
        summary = dataclasses.replace(summary, ci=ci, bootstrap=info)
    result = AuditResult(fulldisk, regions, matches, variability, summary, std)
    if folder is not None:
        result.write(folder)
        if std is not None:
            import zarr

            result.pixel_std = zarr.open_array(str(folder / "pixel_std.zarr"), mode="r")
        cache.clear()
    elif std is not None:
        result.pixel_std = std
    return result
