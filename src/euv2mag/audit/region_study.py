"""The region study over many maps: the library behind ``euv2mag regions``.

:func:`detect_regions_in_maps`
    detects and measures the active regions of full-disk LOS magnetograms (HMI FITS files
    prepared at ``size`` px, and/or frames of euv2mag stores; :mod:`euv2mag.data.maps`) with
    :func:`~euv2mag.audit.measurement.find_regions`, and with an output folder ``out`` writes

    ``out/regions.csv``
        one row per region of every map: ``map`` (:attr:`~euv2mag.data.maps.MapInput.name`),
        ``source`` (path), ``frame`` (store index, -1 for files), ``time`` (UTC), then the
        columns of :data:`~euv2mag.audit.measurement.REGION_COLUMNS`;
    ``out/<map>.png``
        an overlay per map (:func:`~euv2mag.report.figures.fig_detected_regions`): the
        magnetogram (``hmimag``, ±``vmax_g`` G, north up), region contours and labels, the limb
        cut;
    ``out/regions.json``
        ``mode`` ``"fulldisk"``, the detection parameters (incl. the square footprint), ``size``,
        the inputs and ``regions_per_map``;
    ``out/.cache/<map>-<digest>.csv``
        the rows of each map as soon as it is done: a re-run skips the maps already done (and
        whose overlay exists, when overlays are asked for), so an interrupted study resumes.
        ``<digest>`` is a digest of the map's content (FITS file bytes, or the store frame with its
        geometry), the detection parameters and ``size``: a replaced input is detected again.
        The folder's writer lock (:func:`euv2mag._lock.writer_lock`) is held while it is written.

:func:`measure_patches`
    measures whole SHARP-like CEA patches (:func:`~euv2mag.data.patches.read_cea_patch`) with
    :func:`~euv2mag.audit.patch.measure_patch`, or the pixels with ``bitmap >= 30`` of a HARP
    bitmap, and with ``out`` writes ``out/regions.csv`` (one row per patch: ``map``, ``source``,
    ``bitmap``, then the :func:`~euv2mag.audit.patch.measure_patch` values, the header's
    ``header_r_value`` and ``header_usflux_mx`` (Mx, NaN when absent) and ``tumf_over_usflux``)
    and ``out/regions.json`` (``mode`` ``"patch"``, parameters, inputs, bitmap).

Units: field in G, flux in Mx, areas in Mm^2 and MSH, lengths in Mm, angles in deg (see the
column names).  Every input is checked before the output folder is made; each file is written
to a temporary name and renamed.  Bad input raises :class:`~euv2mag.errors.UserError` naming the
file and the problem.
"""
from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path
from typing import Sequence

from .._lock import writer_lock
from ..errors import UserError
from .detection import DetectionParams

__all__ = ["detect_regions_in_maps", "measure_patches", "HARP_BITMAP_MIN"]

#: HARP bitmap values at or above this belong to the region (SHARP ``bitmap`` segment).
HARP_BITMAP_MIN = 30


def _map_inputs(inputs, indices, array):
    from ..data.maps import MapInput, expand_map_inputs

    inputs = list(inputs)
    if inputs and all(isinstance(it, MapInput) for it in inputs):
        if indices is not None:
            raise UserError("indices apply to paths, not to MapInput items")
        return inputs
    if any(isinstance(it, MapInput) for it in inputs):
        raise UserError("inputs must be all paths or all MapInput items")
    return expand_map_inputs(inputs, indices=indices, array=array)


def detect_regions_in_maps(
    inputs: Sequence,
    out: str | os.PathLike | None = None,
    *,
    params: DetectionParams = DetectionParams(),
    size: int = 1024,
    indices: Sequence[int] | None = None,
    array: str = "mag",
    png: bool = True,
    vmax_g: float = 1500.0,
    progress: bool | None = None,
):
    """Detect and measure the active regions of many full-disk maps (see the module docstring).

    Parameters
    ----------
    inputs : sequence of path-like or of :class:`~euv2mag.data.maps.MapInput`
        HMI LOS FITS files and/or euv2mag stores, in order (expanded with
        :func:`~euv2mag.data.maps.expand_map_inputs`), or already expanded map inputs.
    out : path-like, optional
        Output folder (created); None: nothing is written and nothing is resumed.
    params : DetectionParams
        Detection and measurement parameters (physical units).
    size : int
        Side in px that FITS maps are prepared at (:func:`~euv2mag.data.fits.prepare_hmi`).
    indices : sequence of int, optional
        Frames of every store among path ``inputs`` (default: all).
    array : str
        Store array to read (``"mag"`` or ``"pred"``).
    png : bool
        Write an overlay PNG per map (with ``out``).
    vmax_g : float
        Colour range of the overlays, ±G.
    progress : bool, optional
        Show a progress bar (default: unless ``EUV2MAG_NO_PROGRESS`` is set).

    Returns
    -------
    pandas.DataFrame
        The ``regions.csv`` table (``map``, ``source``, ``frame``, ``time`` and
        :data:`~euv2mag.audit.measurement.REGION_COLUMNS`; rows of maps taken from the cache are
        as read back from it).  ``attrs["regions_per_map"]`` maps each map name, in input order,
        to its number of regions.

    Raises
    ------
    UserError
        For a bad input (before anything is written), a map that cannot be read, or another
        process writing ``out`` (one line naming it).
    """
    import pandas as pd

    from .._io import atomic_path, atomic_write_json, ensure_dir, path_inside
    from ..progress import progress_bar
    from ..report.figures import fig_detected_regions
    from .measurement import find_regions

    items = _map_inputs(inputs, indices, array)  # every input checked before the output folder is made
    lock = contextlib.nullcontext()
    if out is not None:
        out = ensure_dir(out)
        lock = writer_lock(out, what="regions folder")  # one writer per output folder
    with lock:
        cache = ensure_dir(out / ".cache") if out is not None else None
        tables, counts = [], {}
        with progress_bar("regions", len(items), enabled=progress) as advance:
            for item in items:
                name = item.name
                cached = png_path = None
                if out is not None:
                    # keyed by content: a replaced input (FITS bytes, store frame) or other parameters
                    # give another file name, so a stale table is never read back
                    cached = path_inside(cache, f"{name}-{_map_digest(item, params, size)}.csv")
                    png_path = path_inside(out, f"{name}.png") if png else None
                if cached is not None and cached.exists() and (png_path is None or png_path.exists()):
                    table = pd.read_csv(cached)
                else:
                    mag, geometry = item.load(size)
                    labels, table = find_regions(mag, geometry, params)
                    table.insert(0, "time", geometry.time or "")
                    table.insert(0, "frame", item.frame)
                    table.insert(0, "source", item.source)
                    table.insert(0, "map", name)
                    if png_path is not None:
                        anchors = []
                        for row in table.itertuples():
                            x, y, _ = geometry.hgs_to_pixel(row.lat_deg, row.lon_deg)
                            anchors.append((row.label, x, y))
                        fig = fig_detected_regions(mag, labels, anchors, limb_center_px=geometry.center_px,
                                                   limb_radius_px=params.r_max * geometry.rsun_px, vmax_g=vmax_g,
                                                   title=f"{name}  ({len(table)} regions)")
                        with atomic_path(png_path) as tmp:
                            fig.savefig(tmp, format="png")
                    if cached is not None:
                        with atomic_path(cached) as tmp:
                            table.to_csv(tmp, index=False)
                counts[name] = int(len(table))
                tables.append(table)
                advance()
        nonempty = [t for t in tables if len(t)]
        result = pd.concat(nonempty, ignore_index=True) if nonempty else tables[0].iloc[0:0]
        if out is not None:
            with atomic_path(out / "regions.csv") as tmp:
                result.to_csv(tmp, index=False)
            atomic_write_json(out / "regions.json", {"mode": "fulldisk", "params": params.to_dict(), "size": size,
                                                     "inputs": [it.source for it in items], "regions_per_map": counts})
    result.attrs["regions_per_map"] = dict(counts)
    return result


def _map_digest(item, params: DetectionParams, size: int) -> str:
    """First 24 hex digits of a digest of one map's content and of the detection's parameters.

    A FITS file: the SHA-256 of its bytes (:func:`euv2mag.audit.cache.file_digest`); a store
    frame: :func:`euv2mag.audit.cache.frame_digest` (image, time and geometry).
    """
    from .cache import ResultCache, file_digest, frame_digest, value_digest

    content = file_digest(item.source) if item.store is None else frame_digest(item.store, item.array, item.frame)
    return ResultCache.key(content, str(item.source), str(item.frame), value_digest(params.to_dict()), str(size))[:24]


def measure_patches(
    paths: Sequence[str | os.PathLike],
    out: str | os.PathLike | None = None,
    *,
    bitmap: str | os.PathLike | None = None,
    params: DetectionParams = DetectionParams(),
):
    """Parameters of whole SHARP-like CEA patches, one row each (see the module docstring).

    Parameters
    ----------
    paths : sequence of path-like
        FITS files of the patches (LOS field in G; :func:`~euv2mag.data.patches.read_cea_patch`).
    out : path-like, optional
        Output folder (created once every patch is measured); None: nothing is written.
    bitmap : path-like, optional
        HARP bitmap FITS of the single patch in ``paths``: the flux sums and PILs use the pixels
        with ``bitmap >= HARP_BITMAP_MIN`` (30); R uses the whole patch, as SHARP.
    params : DetectionParams
        PIL threshold (G), minimum PIL length (Mm) and PIL grid (``cea_deg``).

    Returns
    -------
    pandas.DataFrame
        The ``regions.csv`` table: ``map`` (file name), ``source``, ``bitmap`` (path or ""),
        the values of :func:`~euv2mag.audit.patch.measure_patch`, ``header_r_value``,
        ``header_usflux_mx`` (Mx) and ``tumf_over_usflux``.

    Raises
    ------
    UserError
        No path, a ``bitmap`` with more than one path, an unreadable patch or bitmap, a bitmap
        of another shape than its patch, or a patch without a finite pixel.
    """
    import numpy as np
    import pandas as pd

    from .._io import atomic_path, atomic_write_json, ensure_dir
    from ..data.patches import read_cea_patch, read_fits_image
    from .patch import measure_patch

    paths = list(paths)
    if not paths:
        raise UserError("no patch given: paths is empty")
    if bitmap is not None and len(paths) != 1:
        raise UserError(f"bitmap applies to exactly one patch; paths holds {len(paths)}")
    rows = []
    for name in paths:
        path = Path(name)
        patch = read_cea_patch(path)
        mask = None
        if bitmap is not None:
            bm, _ = read_fits_image(Path(bitmap))
            if bm.shape != patch.los_g.shape:
                raise UserError(f"bitmap shape {bm.shape} differs from the patch {patch.los_g.shape}", path=bitmap)
            mask = bm >= HARP_BITMAP_MIN
        if not np.isfinite(patch.los_g).any():
            raise UserError("patch has no finite pixel", path=path)
        res = measure_patch(patch.los_g, patch.cdelt_deg, rsun_ref_m=patch.rsun_ref_m, dsun_obs_m=patch.dsun_obs_m,
                            mask=mask, params=params)
        usflux = patch.header_usflux_mx
        row = {"map": path.name, "source": str(path), "bitmap": str(bitmap or ""), **res}
        row["header_r_value"] = patch.header_r_value
        row["header_usflux_mx"] = usflux
        row["tumf_over_usflux"] = res["tumf_mx"] / usflux if usflux and math.isfinite(usflux) else math.nan
        rows.append(row)
    table = pd.DataFrame(rows)
    if out is not None:
        out = ensure_dir(out)
        with atomic_path(out / "regions.csv") as tmp:
            table.to_csv(tmp, index=False)
        atomic_write_json(out / "regions.json", {"mode": "patch", "params": params.to_dict(),
                                                 "inputs": [str(p) for p in paths],
                                                 "bitmap": None if bitmap is None else str(bitmap)})
    return table
