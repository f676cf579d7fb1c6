"""Saturation study: how much of the flux a magnetogram keeps when clipped to +-L G.

KPL19 trained on HMI magnetograms clipped to +-100 G; Liu et al. 2021 asked how much flux such
a clip removes.  For every map and limit ``L`` this module compares the total unsigned (TUMF)
and net (NMF) magnetic flux of the clipped map ``clip(B, -L, L)`` with those of the original.

Exact definitions
-----------------
Disk and threshold
    Pixels with ``rho < r_max`` (default 0.95 of the apparent radius), finite field, and
    ``|B| > threshold_g`` (default 10 G) in **that** map (the threshold is applied to the
    original and to the clipped map separately; for ``L > threshold_g`` the pixel set is the
    same).  ``TUMF = sum |B| A``, ``NMF = sum B A`` in Mx with the foreshortening-corrected
    pixel area ``A = (R_sun/rsun_px)^2 / mu`` (see :mod:`euv2mag.audit.fulldisk`).  The
    resolution is that of the input map (FITS files are prepared at ``size`` px, default 1024).
Across maps, per limit (``x`` = original, ``y`` = clipped values of TUMF or NMF)
    ``slope = sum x y / sum x^2`` (least squares through the origin, ``y = slope x``);
    ``r2 = 1 - sum (x - y)^2 / sum (x - mean x)^2`` (scikit-learn ``r2_score(y_true=original,
    y_pred=clipped)``: how well the clipped value predicts the original one);
    ``r2_fit = 1 - sum (y - slope x)^2 / sum (y - mean y)^2`` (R^2 of the line through the origin);
    ``cc`` Pearson; ``kept_mean`` / ``kept_median`` of the per-map ratio ``y / x``;
    ``sign_flip_fraction`` = share of maps with ``sign(NMF_clip) != sign(NMF_orig)``.
Region AMF
    Regions are detected on the **original** maps with :func:`euv2mag.audit.measurement.find_regions`
    (default parameters); ``AMF = TUMF_region / area_region`` (G).  Reported: number of regions,
    mean and sample standard deviation (ddof=1), median, and for each limit the share of
    regions with ``AMF < L``.

Files of the study (:func:`saturation_study`, ``euv2mag saturation``)
---------------------------------------------------------------------
``saturation.csv`` (:data:`SATURATION_CSV`)
    one row per map and limit: ``map`` (name: file stem, or ``<store>_<frame:05d>``), ``source``
    (input path), ``frame`` (index in a store, -1 for FITS), ``time`` (ISO UTC), ``limit_g``,
    ``tumf_orig_mx``, ``tumf_clip_mx``, ``nmf_orig_mx``, ``nmf_clip_mx`` (Mx), ``tumf_kept`` and
    ``nmf_kept`` (clip/orig), ``nmf_sign_flip`` (bool), ``n_disk`` (disk pixels with finite
    field), ``frac_above_limit`` (share of disk pixels with ``|B| > L``), ``max_abs_g`` (largest
    |B| on the disk, G), ``size_px`` (image side), ``rsun_px``.
``regions_amf.csv`` (:data:`REGIONS_AMF_CSV`)
    one row per region detected on an original map (absent when regions are not detected).
``saturation.json`` (:class:`SaturationSummary`)
    per limit the statistics above, per map the kept ratios, the AMF distribution, the exact
    definitions and the inputs.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import os
from pathlib import Path
from typing import ClassVar, Sequence

import numpy as np

from ..errors import UserError
from ..geometry import DiskGeometry
from ..tables import JsonFile, TableFile, columns
from .fulldisk import disk_pixels, series_metrics

__all__ = [
    "SaturationParams",
    "clip_fluxes",
    "summarize_saturation",
    "amf_statistics",
    "saturation_of_map",
    "saturation_study",
    "SaturationSummary",
    "SaturationResult",
    "SATURATION_COLUMNS",
    "SATURATION_CSV",
    "REGIONS_AMF_CSV",
]

_CLIP_COLUMNS = columns((
    ("limit_g", "float64", "G", "saturation limit L: the map is clipped to [-L, L]"),
    ("tumf_orig_mx", "float64", "Mx", "total unsigned flux of the original map (disk cut, |B| > threshold)"),
    ("tumf_clip_mx", "float64", "Mx", "total unsigned flux of the clipped map (threshold applied to it)"),
    ("nmf_orig_mx", "float64", "Mx", "net flux of the original map"),
    ("nmf_clip_mx", "float64", "Mx", "net flux of the clipped map"),
    ("tumf_kept", "float64", "", "tumf_clip_mx / tumf_orig_mx (empty when the original TUMF is 0)"),
    ("nmf_kept", "float64", "", "nmf_clip_mx / nmf_orig_mx (empty when the original NMF is 0)"),
    ("nmf_sign_flip", "bool", "", "sign(NMF clipped) != sign(NMF original)"),
    ("n_disk", "int64", "", "disk pixels (rho < r_max) with a finite field"),
    ("frac_above_limit", "float64", "", "share of those pixels with |B| > L"),
    ("max_abs_g", "float64", "G", "largest |B| on the disk"),
    ("size_px", "int64", "px", "image side"),
    ("rsun_px", "float64", "px", "apparent solar radius"),
))

#: Columns of :func:`clip_fluxes` rows (before the identification columns the study adds).
SATURATION_COLUMNS = tuple(c.name for c in _CLIP_COLUMNS)

_MAP_ID_COLUMNS = columns((
    ("map", "str", "", "map name: the FITS file stem, or <store>_<frame:05d>"),
    ("source", "str", "", "the input path (FITS file or store) as given"),
    ("frame", "int64", "", "frame index in the store; -1 for a FITS file"),
    ("time", "str", "", "ISO 8601 UTC time of the map (empty when unknown)"),
))

#: ``saturation.csv``: one row per map and limit.
SATURATION_CSV = TableFile(
    "saturation.csv", _MAP_ID_COLUMNS + _CLIP_COLUMNS,
    "one row per map and saturation limit: TUMF and NMF of the original and the clipped map",
)

#: ``regions_amf.csv``: one row per region detected on an original map.
REGIONS_AMF_CSV = TableFile(
    "regions_amf.csv",
    (_MAP_ID_COLUMNS[0], _MAP_ID_COLUMNS[2], _MAP_ID_COLUMNS[3]) + columns((
        ("label", "int64", "", "region label on its map (1 = largest TUMF)"),
        ("lat_deg", "float64", "deg", "Stonyhurst latitude of the region centre"),
        ("lon_deg", "float64", "deg", "Stonyhurst longitude of the region centre"),
        ("mu_center", "float64", "", "cosine of the heliocentric angle at the centre"),
        ("area_msh", "float64", "MSH", "deprojected area"),
        ("tumf_mx", "float64", "Mx", "total unsigned flux of the region"),
        ("amf_g", "float64", "G", "mean absolute field: tumf / area"),
        ("max_abs_g", "float64", "G", "largest |B| in the region"),
    )),
    "one row per active region detected on an original (unclipped) map",
)
_AMF_REGION_FIELDS = REGIONS_AMF_CSV.names[3:]


@dataclasses.dataclass(frozen=True)
class SaturationParams:
    """Parameters of the saturation study.

    Parameters
    ----------
    limits_g : tuple of float
        Saturation limits ``L`` in G (the map is clipped to ``[-L, L]``).
    r_max : float
        Disk cut in units of the apparent radius.
    threshold_g : float
        Noise threshold in G for the flux sums, applied to each map (original, clipped) separately.
    """

    limits_g: tuple[float, ...] = (100.0, 625.0, 3000.0)
    r_max: float = 0.95
    threshold_g: float = 10.0

    def __post_init__(self):
        limits = tuple(float(v) for v in self.limits_g)
        if not limits or any(not (math.isfinite(v) and v > 0) for v in limits):
            raise UserError(f"saturation limits must be positive numbers, got {list(self.limits_g)}")
        object.__setattr__(self, "limits_g", limits)
        if not (0 < self.r_max <= 1):
            raise UserError(f"r_max must be in (0, 1], got {self.r_max}")
        if not (math.isfinite(self.threshold_g) and self.threshold_g >= 0):
            raise UserError(f"threshold_g must be >= 0, got {self.threshold_g}")

    def to_dict(self) -> dict:
        """The parameters as a JSON-ready dict (``limits_g`` as a list)."""
        return {"limits_g": list(self.limits_g), "r_max": self.r_max, "threshold_g": self.threshold_g}


def clip_fluxes(mag_g: np.ndarray, geometry: DiskGeometry, params: SaturationParams = SaturationParams()) -> list[dict]:
    """TUMF and NMF of the original and of the clipped map, for every limit.

    Parameters
    ----------
    mag_g : ndarray
        (H, W) LOS field in G, NaN off the disk.
    geometry : DiskGeometry
        Geometry of the map.
    params : SaturationParams
        Limits, disk cut and threshold.

    Returns
    -------
    list of dict
        One dict per limit with the keys of :data:`SATURATION_COLUMNS`.

    Raises
    ------
    UserError
        If the map's shape does not match the geometry or it has no finite disk pixel.
    """
    mag = np.asarray(mag_g)
    if mag.shape != tuple(geometry.shape):
        raise UserError(f"map has shape {mag.shape}, geometry expects {tuple(geometry.shape)}")
    area, disk = disk_pixels(geometry, params.r_max)
    disk = disk & np.isfinite(mag)
    n_disk = int(disk.sum())
    if n_disk == 0:
        raise UserError(f"map has no finite pixel inside r < {params.r_max} R")
    b = mag[disk].astype(np.float64)
    a = area[disk]
    absb = np.abs(b)

    def fluxes(values: np.ndarray) -> tuple[float, float]:
        use = np.abs(values) > params.threshold_g
        return float(np.sum(np.abs(values[use]) * a[use])), float(np.sum(values[use] * a[use]))

    tumf_o, nmf_o = fluxes(b)
    rows = []
    for limit in params.limits_g:
        tumf_c, nmf_c = fluxes(np.clip(b, -limit, limit))
        rows.append(
            {
                "limit_g": limit,
                "tumf_orig_mx": tumf_o,
                "tumf_clip_mx": tumf_c,
                "nmf_orig_mx": nmf_o,
                "nmf_clip_mx": nmf_c,
                "tumf_kept": tumf_c / tumf_o if tumf_o > 0 else math.nan,
                "nmf_kept": nmf_c / nmf_o if nmf_o != 0 else math.nan,
                "nmf_sign_flip": bool(np.sign(nmf_c) != np.sign(nmf_o)),
                "n_disk": n_disk,
                "frac_above_limit": float(np.count_nonzero(absb > limit)) / n_disk,
                "max_abs_g": float(absb.max()),
                "size_px": int(geometry.shape[1]),
                "rsun_px": float(geometry.rsun_px),
            }
        )
    return rows


def summarize_saturation(table, limits_g=None) -> dict:
    """Across-map statistics per limit from the rows of :func:`clip_fluxes`.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows of :func:`clip_fluxes` (one per map and limit).
    limits_g : sequence of float, optional
        Limits to summarise (default: those in the table).

    Returns
    -------
    dict
        Keyed by the limit as text (e.g. ``"100"``): ``n_maps``; ``tumf`` and ``nmf``, each with
        ``slope``, ``r2``, ``r2_fit``, ``cc``, ``kept_mean``, ``kept_median`` (definitions in the
        module docstring); ``sign_flip_fraction``.
    """
    import pandas as pd

    table = pd.DataFrame(table)
    if limits_g is None:
        limits_g = sorted(table["limit_g"].unique()) if len(table) else []
    out = {}
    for limit in limits_g:
        sub = table[table["limit_g"] == float(limit)]
        entry = {"limit_g": float(limit), "n_maps": int(len(sub))}
        for q in ("tumf", "nmf"):
            stats = series_metrics(sub[f"{q}_orig_mx"].to_numpy(), sub[f"{q}_clip_mx"].to_numpy())
            kept = sub[f"{q}_kept"].to_numpy(dtype=float)
            kept = kept[np.isfinite(kept)]
            entry[q] = {
                "slope": stats["slope"],
                "r2": stats["r2"],
                "r2_fit": stats["r2_fit"],
                "cc": stats["cc"],
                "kept_mean": float(kept.mean()) if kept.size else math.nan,
                "kept_median": float(np.median(kept)) if kept.size else math.nan,
            }
        entry["sign_flip_fraction"] = float(sub["nmf_sign_flip"].astype(bool).mean()) if len(sub) else math.nan
        out[f"{float(limit):g}"] = entry
    return out


def amf_statistics(amf_g, limits_g) -> dict:
    """Distribution of the regions' mean absolute field (AMF).

    Parameters
    ----------
    amf_g : array-like
        AMF of every detected region in G.
    limits_g : sequence of float
        Limits for the share below.

    Returns
    -------
    dict
        ``n_regions``, ``mean_g``, ``std_g`` (sample standard deviation, ddof=1), ``median_g``,
        ``min_g``, ``max_g`` and ``share_below`` (``{"100": fraction with AMF < 100 G, ...}``);
        statistics are NaN when there is no region (std needs two).
    """
    amf = np.asarray(amf_g, dtype=np.float64)
    amf = amf[np.isfinite(amf)]
    n = int(amf.size)
    return {
        "n_regions": n,
        "mean_g": float(amf.mean()) if n else math.nan,
        "std_g": float(amf.std(ddof=1)) if n > 1 else math.nan,
        "median_g": float(np.median(amf)) if n else math.nan,
        "min_g": float(amf.min()) if n else math.nan,
        "max_g": float(amf.max()) if n else math.nan,
        "share_below": {f"{float(L):g}": (float(np.mean(amf < float(L))) if n else math.nan) for L in limits_g},
    }


# ---------------------------------------------------------------------------------- the study
def saturation_of_map(mag_g: np.ndarray, geometry: DiskGeometry, params: SaturationParams = SaturationParams(),
                      detection=None) -> tuple[list[dict], list[dict]]:
    """Everything the study computes for one map; a pure function of its arguments.

    Parameters
    ----------
    mag_g : (H, W) ndarray
        LOS field in G, NaN off the disk.
    geometry : DiskGeometry
        Geometry of the map.
    params : SaturationParams
        Limits (G), disk cut (solar radii) and threshold (G).
    detection : DetectionParams, optional
        Region detection parameters (:mod:`euv2mag.audit.detection`); None: no region detection.

    Returns
    -------
    clips : list of dict
        The rows of :func:`clip_fluxes` (one per limit, keys :data:`SATURATION_COLUMNS`).
    regions : list of dict
        One dict per region detected on the map, with ``label``, ``lat_deg``, ``lon_deg`` (deg),
        ``mu_center``, ``area_msh`` (MSH), ``tumf_mx`` (Mx), ``amf_g`` and ``max_abs_g`` (G);
        empty without ``detection``.
    """
    clips = clip_fluxes(mag_g, geometry, params)
    if detection is None:
        return clips, []
    from .measurement import find_regions

    _, table = find_regions(mag_g, geometry, detection)
    return clips, table[list(_AMF_REGION_FIELDS)].to_dict("records")


@dataclasses.dataclass(frozen=True)
class SaturationSummary(JsonFile):
    """The content of ``saturation.json``, key for key.

    Parameters
    ----------
    n_maps : int
        Number of maps.
    limits : dict
        Limit as text (``"100"``) -> the statistics of :func:`summarize_saturation` (``limit_g``
        in G, ``n_maps``, ``tumf`` and ``nmf`` with ``slope``, ``r2``, ``r2_fit``, ``cc``,
        ``kept_mean``, ``kept_median``, and ``sign_flip_fraction``).
    per_map : dict
        Map name -> limit as text -> ``{"tumf_kept": ..., "nmf_kept": ...}`` (clip/orig ratios).
    definitions : dict
        Text of every definition (disk cut, threshold, area, slope, R^2 ...), the resolution of
        the maps (``size_px``, ``rsun_px``, ``mm_per_px_at_disk_centre``) and, with regions, the
        detection parameters.
    inputs : tuple of str
        The input paths.
    amf : dict, optional
        The region AMF distribution of :func:`amf_statistics` (G); None without region detection
        (then the key is absent from the file).
    """

    n_maps: int
    limits: dict
    per_map: dict
    definitions: dict
    inputs: tuple[str, ...]
    amf: dict | None = None

    #: File name inside the result folder.
    FILENAME: ClassVar[str] = "saturation.json"
    _REQUIRED: ClassVar[tuple[str, ...]] = ("n_maps", "limits", "per_map", "definitions", "inputs")

    def to_dict(self) -> dict:
        """The JSON layout: ``n_maps``, ``limits``, ``per_map``, ``definitions``, ``inputs`` [, ``amf``]."""
        out = {"n_maps": self.n_maps, "limits": self.limits, "per_map": self.per_map,
               "definitions": self.definitions, "inputs": list(self.inputs)}
        if self.amf is not None:
            out["amf"] = self.amf
        return out

    @classmethod
    def from_dict(cls, obj, *, path: str | os.PathLike | None = None) -> "SaturationSummary":
        """Build from the JSON layout; ``path`` is named in the error.

        Raises
        ------
        UserError
            If ``obj`` is not an object or lacks a key.
        """
        if not isinstance(obj, dict):
            raise UserError(f"{cls.FILENAME} does not hold a JSON object", path=path)
        missing = [k for k in cls._REQUIRED if k not in obj]
        if missing:
            raise UserError(f"{cls.FILENAME} lacks key(s) {', '.join(missing)} "
                            "(written by another version of euv2mag?)", path=path)
        return cls(n_maps=int(obj["n_maps"]), limits=dict(obj["limits"]), per_map=dict(obj["per_map"]),
                   definitions=dict(obj["definitions"]), inputs=tuple(str(p) for p in obj["inputs"]),
                   amf=obj.get("amf"))


@dataclasses.dataclass(frozen=True)
class SaturationResult:
    """Result of :func:`saturation_study`.

    Parameters
    ----------
    table : pandas.DataFrame
        ``saturation.csv`` (:data:`SATURATION_CSV`): one row per map and limit.
    regions_amf : pandas.DataFrame or None
        ``regions_amf.csv`` (:data:`REGIONS_AMF_CSV`): one row per detected region; None when
        regions were not detected.
    summary : SaturationSummary
        ``saturation.json``.
    """

    table: object
    regions_amf: object | None
    summary: SaturationSummary

    def write(self, folder: str | os.PathLike) -> list[Path]:
        """Write ``saturation.csv``, ``regions_amf.csv`` (with regions) and ``saturation.json``.

        Each file is written atomically; returns their paths.
        """
        from .._io import ensure_dir

        folder = ensure_dir(folder)
        written = [SATURATION_CSV.write(self.table, folder)]
        if self.regions_amf is not None:
            written.append(REGIONS_AMF_CSV.write(self.regions_amf, folder))
        written.append(self.summary.write(folder))
        return written


def saturation_study(inputs: Sequence[str | os.PathLike], params: SaturationParams = SaturationParams(), *,
                     size: int = 1024, array: str = "mag", indices: Sequence[int] | None = None,
                     regions: bool = True, quality_ignore: int | None = None, detection=None,
                     out: str | os.PathLike | None = None, scheduler: str | None = None,
                     workers: int | None = None) -> SaturationResult:
    """Clip every input map to each limit and compare its fluxes with the original's.

    Parameters
    ----------
    inputs : path-like or sequence of path-like
        HMI LOS FITS files and/or euv2mag stores, in the order to process.
    params : SaturationParams
        Limits (G), disk cut (solar radii) and flux threshold (G).
    size : int
        Side in px that FITS files are prepared at (:func:`euv2mag.data.fits.prepare_hmi`, disk
        radius 392/1024 of the side); store frames are read as stored.
    array : {"mag", "pred"}
        Store array to read (G).
    indices : sequence of int, optional
        Frames of every store to use (default: all).
    regions : bool
        Detect regions on the original maps and report their AMF distribution.
    quality_ignore : int, optional
        QUALITY bits of FITS files to tolerate (``0xFFFFFFFF``: any); None: ``prepare_hmi``'s
        default.
    detection : DetectionParams, optional
        Region detection parameters (default: ``DetectionParams()``).
    out : path-like, optional
        Result folder: the three files are written there, and per-map results are cached in
        ``out/.cache`` while the study runs, so that an interrupted study resumes; the cache is
        removed at the end.  A map's cached result is keyed by a digest of its content (FITS file
        bytes, or the store frame and its geometry), so a replaced input is computed again.
    scheduler : str, optional
        Compute the maps on Dask: ``"local"`` or ``"tcp://HOST:PORT"`` (:mod:`euv2mag.parallel`;
        the workers read the inputs at the same paths); this process writes the results.
        Default: serial (or a local cluster when ``workers`` > 1).  The result is the same.
    workers : int, optional
        Worker processes of a local cluster.

    Returns
    -------
    SaturationResult

    Raises
    ------
    UserError
        For a bad input (see :func:`euv2mag.data.maps.expand_map_inputs`), a map without finite
        disk pixels, or a ``size`` below 1; another process writing ``out`` (the folder's
        writer lock, :func:`euv2mag._lock.writer_lock`, is held while the study runs); or a
        scheduler that cannot be used (checked before anything is written).

    Examples
    --------
    >>> from euv2mag.audit.saturation import SaturationParams, saturation_study
    >>> result = saturation_study(["synth.zarr"], SaturationParams((100.0,)))  # doctest: +SKIP
    >>> bool((result.table["tumf_kept"] <= 1).all())  # doctest: +SKIP
    True
    """
    from ..data.maps import expand_map_inputs
    from ..parallel import FrameMap
    from .detection import DetectionParams

    pool = FrameMap(scheduler, workers)
    if int(size) < 1:
        raise UserError(f"size must be a positive number of pixels, got {size}")
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    items = expand_map_inputs(inputs, indices=indices, array=array)
    detection = (detection or DetectionParams()) if regions else None
    with pool:  # connected and its workers checked before anything is written
        return _study(inputs, items, params, size, array, regions, quality_ignore, detection, out, pool)


def _map_task(job) -> dict:
    """Load one map and run :func:`saturation_of_map` (serially or on a Dask worker).

    ``job`` is ``(item, store_path, size, quality_ignore, params, detection)``: the
    :class:`~euv2mag.data.maps.MapInput` without its opened store, which is re-opened here from
    ``store_path``.  Returns the cached form ``{"rows": [...], "regions": [...]}``.
    """
    item, store_path, size, quality_ignore, params, detection = job
    if store_path is not None:
        from ..data.store import FrameStore

        item = dataclasses.replace(item, store=FrameStore(store_path))
    mag, geometry = item.load(size, quality_ignore=quality_ignore)
    ident = {"map": item.name, "source": item.source, "frame": item.frame, "time": geometry.time or ""}
    clips, found = saturation_of_map(mag, geometry, params, detection)
    return {"rows": [{**ident, **row} for row in clips],
            "regions": [{"map": item.name, "frame": item.frame, "time": ident["time"], **r} for r in found]}


def _study(inputs, items, params, size, array, regions, quality_ignore, detection, out, pool) -> SaturationResult:
    """:func:`saturation_study` once the inputs are checked and the work map is ready."""
    from ..progress import progress_bar
    from .cache import ResultCache
    from .detection import DetectionParams

    lock = contextlib.nullcontext()
    if out is not None:
        from .._io import ensure_dir
        from .._lock import writer_lock

        lock = writer_lock(ensure_dir(out), what="saturation study folder")  # one writer per result folder
    with lock:
        cache = None
        if out is not None:
            from .._io import ensure_dir

            cache = ResultCache(
                ensure_dir(out) / ".cache",
                {
                    "what": "saturation",
                    "params": params.to_dict(),
                    "size": size,
                    "array": array,
                    "regions": regions,
                    "detection": (detection or DetectionParams()).to_dict(),
                },
            )
        keys = [_map_key(item, quality_ignore) for item in items] if cache is not None else [None] * len(items)
        results = [cache.get(key) if cache is not None else None for key in keys]
        todo = [j for j, r in enumerate(results) if r is None]
        jobs = [(dataclasses.replace(items[j], store=None),
                 None if items[j].store is None else str(items[j].store.path), size, quality_ignore, params, detection)
                for j in todo]
        with progress_bar("saturation", len(items)) as advance:
            advance(len(items) - len(todo))
            # computed here or on the cluster's workers; cached here, in input order
            for j, result in zip(todo, pool.map(_map_task, jobs)):
                results[j] = result
                if cache is not None:
                    cache.put(keys[j], result)
                advance()
        rows = [row for result in results for row in result["rows"]]
        region_rows = [row for result in results for row in result["regions"]]

        table = SATURATION_CSV.frame(rows)
        per_map: dict = {item.name: {} for item in items}
        for r in rows:
            per_map[r["map"]][f"{r['limit_g']:g}"] = {"tumf_kept": r["tumf_kept"], "nmf_kept": r["nmf_kept"]}
        definitions = _definitions(params, table, size)
        amf_table, amf = None, None
        if regions:
            amf_table = REGIONS_AMF_CSV.frame(region_rows)
            amf = amf_statistics(amf_table["amf_g"].to_numpy(dtype=float), params.limits_g)
            definitions["detection"] = detection.to_dict()
        summary = SaturationSummary(
            n_maps=len(items),
            limits=summarize_saturation(table, params.limits_g),
            per_map=per_map,
            definitions=definitions,
            inputs=tuple(str(Path(p)) for p in inputs),
            amf=amf,
        )
        result = SaturationResult(table, amf_table, summary)
        if out is not None:
            result.write(out)
            cache.clear()
    return result


def _map_key(item, quality_ignore) -> str:
    """Cache key of one map: a digest of its content (:mod:`euv2mag.audit.cache`) and how it is read.

    A FITS file: the SHA-256 of its bytes (with the QUALITY bits tolerated); a store frame: the
    digest of the stored image and its geometry.  Name, source and frame are part of the key too,
    since the cached rows carry them.
    """
    from .cache import ResultCache, file_digest, frame_digest

    content = (file_digest(item.source) + f"|quality_ignore={quality_ignore}" if item.store is None
               else frame_digest(item.store, item.array, item.frame))
    return ResultCache.key(item.name, str(item.source), str(item.frame), content)


def _definitions(params: SaturationParams, table, size: int) -> dict:
    """The ``definitions`` of ``saturation.json``: every number's exact meaning, and the resolution."""
    from ..geometry import RSUN_MM

    res = sorted({(int(s), float(r)) for s, r in zip(table["size_px"], table["rsun_px"])}) if len(table) else []
    return {
        "disk_cut": f"pixels with plane-of-sky distance rho < {params.r_max} of the apparent solar radius",
        "threshold": f"a pixel counts in a map's TUMF/NMF when |B| > {params.threshold_g:g} G in that map "
        "(applied to the original and the clipped map separately)",
        "area": f"foreshortening-corrected pixel area (R_sun/rsun_px)^2/mu with R_sun = {RSUN_MM} Mm; "
        "flux = sum(B_LOS * area), no 1/mu on B (SHARP USFLUXL convention)",
        "resolution": [
            {"size_px": s, "rsun_px": r, "mm_per_px_at_disk_centre": RSUN_MM / r} for s, r in res
        ],
        "fits_preparation": f"euv2mag.data.fits.prepare_hmi(path, size={size}) (north up, disk radius 392/1024 of the side)",
        "slope": "least squares through the origin, clipped = slope * original: sum(x*y)/sum(x^2)",
        "r2": "1 - sum((original - clipped)^2) / sum((original - mean(original))^2), "
        "i.e. scikit-learn r2_score(y_true=original, y_pred=clipped)",
        "r2_fit": "1 - sum((clipped - slope*original)^2) / sum((clipped - mean(clipped))^2)",
        "sign_flip_fraction": "share of maps with sign(NMF_clipped) != sign(NMF_original)",
        "amf": "region AMF = region TUMF / region deprojected area (G), regions detected on the original maps "
        "with euv2mag.audit.regions.find_regions; std is the sample standard deviation (ddof=1)",
    }
