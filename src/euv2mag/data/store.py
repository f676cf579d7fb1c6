"""The euv2mag dataset store: one Zarr (format 2) group per dataset.

Layout (the data contract)
--------------------------
``euv``, ``mag``, ``pred``
    (N, H, W) float32, one frame per chunk, NaN off the disk; any may
    be absent (an HMI-only store has just ``mag``; a prediction store has ``pred``).
    ``euv`` is in DN/s, ``mag`` and ``pred`` in G (line of sight).
``hist``, ``hist_cover``
    (N, H, W) float32, only in a history-input store (:mod:`euv2mag.data.history`): the field
    history in G at the frame's time and view, and 1 where the disk has history, 0 elsewhere.
``time``
    (N,) ISO 8601 UTC strings.
``rsun_px``, ``cdelt_arcsec``, ``b0_deg``, ``l0_deg``, ``dsun_m``
    (N,) float64 geometry.
``frame_done``
    (N,) uint8, 1 once every array of the frame is written (resume bookkeeping).
``tables/<name>/<column>``
    1-D column arrays of a table (e.g. the synthetic truth).
attrs
    ``euv2mag_version``, ``kind`` ("synthetic", "prepared", "prediction"),
    ``complete`` (bool), ``params`` (the parameters that made the store; a resumed run must
    match them), ``provenance`` (source files or generator parameters) and free-form extras.

Dimensions and units (xarray)
-----------------------------
Every array carries the attribute ``_ARRAY_DIMENSIONS`` (the xarray convention for Zarr
format 2) and, where it has a physical unit, ``units`` (strings that ``astropy.units.Unit``
parses: the FITS spelling ``pixel``, not ``px``), as listed in :data:`ARRAY_LAYOUT`:

============================================  =====================  ==========
array                                         dimensions             ``units``
============================================  =====================  ==========
``euv``                                       (frame, y, x)          DN/s
``mag``, ``pred``, ``hist``                   (frame, y, x)          G
``hist_cover``                                (frame, y, x)          none (0/1 mask)
``time``                                      (frame,)               none (ISO 8601 UTC strings)
``rsun_px``                                   (frame,)               pixel
``cdelt_arcsec``                              (frame,)               arcsec
``b0_deg``, ``l0_deg``                        (frame,)               deg
``dsun_m``                                    (frame,)               m
``frame_done``                                (frame,)               none (0/1 flag)
``tables/<name>/<column>``                    (row,)                 none (stated by the column name)
============================================  =====================  ==========

so ``xarray.open_zarr(path, consolidated=False)`` gives a Dataset of these variables (the
``tables`` sub-group is not part of it; ``xarray.open_zarr(path, group="tables/<name>",
consolidated=False)`` opens one table).  :meth:`StoreWriter.finish` consolidates the metadata,
so a finished store also opens with ``xarray.open_zarr(path)``; :class:`FrameStore` itself always
reads the per-array metadata, never the consolidated copy.  Stores written before these
attributes existed still read with :class:`FrameStore`, and resuming one with
:meth:`StoreWriter.open` adds them.

Writing is resumable: :meth:`StoreWriter.open` re-opens a store made with the same ``params``
and :meth:`StoreWriter.pending` lists the frames still to do.  A frame's ``frame_done`` flag is
set only after its images and geometry are written, so an interrupted run leaves a readable
store whose unfinished frames are simply redone.

One writer at a time: :meth:`StoreWriter.open` takes the store's writer lock
(:func:`euv2mag._lock.writer_lock`, the file ``.euv2mag-writer.lock`` at the top of the store)
and holds it until :meth:`StoreWriter.finish` or :meth:`StoreWriter.close` (or the end of a
``with`` block, so an exception releases it).  A second writer of the same store is refused
with a one-line :class:`~euv2mag.errors.UserError` naming the holder.  Readers never take the
lock.  The lock file does not break them: Zarr (format 2) reads an array or group through its
``.zarray``/``.zgroup`` file and never the lock file; only *listing* a group's members (what
:func:`zarr.consolidate_metadata` and ``xarray.open_zarr(path, consolidated=False)`` do) meets
it, and zarr 3 then skips it with a ``ZarrUserWarning`` ("Object at .euv2mag-writer.lock is not
recognized as a component of a Zarr hierarchy"), which this module silences where it lists.  A
finished store opens through its consolidated metadata, which never names the lock file; the
file is removed when the writer finishes, and is only left (empty or naming a dead process) by a
writer that was killed.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Iterable

import numpy as np

from .. import __version__
from .._lock import LOCK_NAME, writer_lock
from ..errors import UserError
from ..geometry import DiskGeometry

__all__ = ["FrameStore", "StoreWriter", "write_frame_images", "IMAGE_ARRAYS", "GEOMETRY_FIELDS", "ARRAY_LAYOUT", "TABLE_DIMS",
           "DONE_BATCH"]

IMAGE_ARRAYS = ("euv", "mag", "pred", "hist", "hist_cover")
GEOMETRY_FIELDS = ("rsun_px", "cdelt_arcsec", "b0_deg", "l0_deg", "dsun_m")
_TIME_DTYPE = "<U32"

#: Dimension names and unit (None: no ``units`` attribute) of every array at the root of a store.
ARRAY_LAYOUT: dict[str, tuple[tuple[str, ...], str | None]] = {
    "euv": (("frame", "y", "x"), "DN/s"),
    "mag": (("frame", "y", "x"), "G"),
    "pred": (("frame", "y", "x"), "G"),
    "hist": (("frame", "y", "x"), "G"),
    "hist_cover": (("frame", "y", "x"), None),
    "time": (("frame",), None),
    "rsun_px": (("frame",), "pixel"),
    "cdelt_arcsec": (("frame",), "arcsec"),
    "b0_deg": (("frame",), "deg"),
    "l0_deg": (("frame",), "deg"),
    "dsun_m": (("frame",), "m"),
    "frame_done": (("frame",), None),
}
#: Dimension names of every column array of a table (``tables/<name>/<column>``).
TABLE_DIMS = ("row",)
#: Frames :meth:`StoreWriter.write_frame` marks done together.
DONE_BATCH = 8


def _zarr():
    import zarr

    return zarr


@contextlib.contextmanager
def _lock_file_ignored():
    """Silence zarr's warning about the writer lock file while a group's members are listed."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=f"Object at {LOCK_NAME.replace('.', '[.]')} is not recognized")
        yield


def _label_arrays(group) -> None:
    """Write ``_ARRAY_DIMENSIONS`` and ``units`` (:data:`ARRAY_LAYOUT`) on the root arrays of ``group``."""
    with _lock_file_ignored():
        present = set(group.array_keys())
    for name, (dims, units) in ARRAY_LAYOUT.items():
        if name in present:
            attrs = {"_ARRAY_DIMENSIONS": list(dims)}
            if units is not None:
                attrs["units"] = units
            group[name].attrs.update(attrs)


def _jsonable(obj):
    """Round-trip through JSON so attrs hold only plain types (and compare equal on resume)."""
    from .._io import _json_safe

    return json.loads(json.dumps(_json_safe(obj)))


def _is_vacant(path: Path) -> bool:
    """True when ``path`` is a folder holding no store: at most a writer lock file and parts of a skeleton.

    Such a folder is what a writer killed before its store's skeleton was complete leaves: the
    lock file (:func:`~euv2mag._lock.writer_lock`) and, when killed while moving the skeleton in,
    some of its empty arrays and ``.zattrs`` but never ``.zgroup`` (moved last).  It is a new
    store, not "something else".
    """
    if not path.is_dir() or (path / ".zgroup").exists():
        return False
    skeleton = {LOCK_NAME, ".zattrs", *ARRAY_LAYOUT}
    return all(entry.name in skeleton for entry in path.iterdir())


class StoreWriter:
    """Create or resume a store and write frames into it, holding the store's writer lock.

    Use :meth:`open` (best as a context manager: ``with StoreWriter.open(...) as writer:``);
    then call :meth:`write_frame` for each index of :meth:`pending`, and :meth:`finish` at the
    end.  The writer lock is held from :meth:`open` to :meth:`finish` or :meth:`close`; leaving
    the ``with`` block, normally or by an exception, closes the writer.

    :meth:`write_frame` marks frames done in batches of :data:`DONE_BATCH`: their geometry and
    ``frame_done`` are written once per batch (each small array is one chunk, rewritten whole at
    every write: 8 writes of ~10 ms per batch instead of per frame).  A frame whose images are
    written is marked done at the latest by the next :meth:`pending`, :meth:`flush`, :meth:`finish`
    or :meth:`close` (also when the ``with`` block ends by an exception); a run killed outright
    loses at most the images of the last ``DONE_BATCH - 1`` frames, which a resumed run writes again.
    """

    def __init__(self, group, path: Path, lock: contextlib.ExitStack | None = None):
        self._group = group
        self.path = path
        self._lock = lock
        self._unmarked: dict = {}  # frame index -> geometry: images written, not yet marked done

    def __enter__(self) -> "StoreWriter":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is not None:  # keep what was written, but let the original error through
            with contextlib.suppress(Exception):
                self.flush()
        self.close()

    def __del__(self):
        with contextlib.suppress(Exception):
            self.close()

    def close(self) -> None:
        """Mark the written frames done and release the writer lock (idempotent); the store stays resumable."""
        try:
            if getattr(self, "_unmarked", None) and getattr(self, "_lock", None) is not None:
                self.flush()
        finally:
            lock, self._lock = getattr(self, "_lock", None), None
            if lock is not None:
                lock.close()

    def flush(self) -> None:
        """Mark done the frames :meth:`write_frame` has written since the last batch."""
        batch, self._unmarked = self._unmarked, {}
        self.mark_done(batch)

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        n_frames: int,
        shape: tuple[int, int],
        arrays: Iterable[str],
        kind: str,
        params: dict,
        provenance: dict | None = None,
        overwrite: bool = False,
        lock: bool = True,
    ) -> "StoreWriter":
        """Create the store at ``path``, or re-open it to resume a run with the same ``params``.

        Parameters
        ----------
        path : path-like
            The store (a folder).
        n_frames : int
            Number of frames.
        shape : tuple of int
            Image shape (H, W).
        arrays : iterable of str
            Image arrays to create (of :data:`IMAGE_ARRAYS`).
        kind : str
            ``"synthetic"``, ``"prepared"``, ``"prediction"`` ...
        params : dict
            The parameters that make the store; a resumed store must have been made with the same.
        provenance : dict, optional
            Source files or generator parameters.
        overwrite : bool
            Delete an existing store first.
        lock : bool
            Take the store's writer lock (default).  False only for a caller that already holds
            a lock covering this store (e.g. ``prepare`` on its staging store).

        Returns
        -------
        StoreWriter
            Holding the writer lock until :meth:`finish` or :meth:`close`.

        Raises
        ------
        UserError
            If ``path`` holds something else, or a store made with different parameters, or
            another process is writing it (one line naming that process).
        """
        zarr = _zarr()
        path = Path(path)
        arrays = tuple(arrays)
        for name in arrays:
            if name not in IMAGE_ARRAYS:
                raise ValueError(f"unknown image array {name!r}")
        if n_frames < 1:
            raise UserError("no frames to write", path=path)
        params = _jsonable(params)
        if path.exists() and not (path / ".zgroup").exists() and not _is_vacant(path):
            raise UserError("exists and is not an euv2mag store; choose another output", path=path)
        created = not path.exists()
        stack = contextlib.ExitStack()
        try:
            if lock:
                stack.enter_context(writer_lock(path, what="store"))
            writer = cls._open_locked(zarr, path, n_frames=n_frames, shape=shape, arrays=arrays, kind=kind,
                                      params=params, provenance=provenance, overwrite=overwrite)
        except BaseException:
            stack.close()
            if created and _is_vacant(path):
                with contextlib.suppress(OSError):
                    path.rmdir()  # refused before anything was written: leave nothing behind
            raise
        writer._lock = stack
        return writer

    @classmethod
    def _open_locked(cls, zarr, path: Path, *, n_frames, shape, arrays, kind, params, provenance,
                     overwrite) -> "StoreWriter":
        """:meth:`open` once the lock is held (``path`` exists as a folder when locked)."""
        if path.exists() and overwrite:
            if path.is_dir():
                for entry in path.iterdir():
                    if entry.name != LOCK_NAME:
                        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
            else:
                path.unlink()
        if path.exists() and not _is_vacant(path):
            if not (path / ".zgroup").exists():
                raise UserError("exists and is not an euv2mag store; choose another output", path=path)
            group = zarr.open_group(str(path), mode="r+", use_consolidated=False)
            old = _jsonable(group.attrs.get("params"))
            if old != params or group.attrs.get("kind") != kind:
                raise UserError(
                    "exists and was made with other parameters; delete it or choose another output "
                    "(re-running with the same parameters resumes)",
                    path=path,
                )
            _label_arrays(group)  # a store written before the attributes existed gains them
            return cls(group, path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.partial")
        if tmp.exists():
            shutil.rmtree(tmp)
        group = zarr.open_group(str(tmp), mode="w", zarr_format=2)
        ny, nx = (int(s) for s in shape)
        for name in arrays:
            group.create_array(name, shape=(n_frames, ny, nx), chunks=(1, ny, nx), dtype="f4", fill_value=np.nan)
        group.create_array("time", shape=(n_frames,), dtype=_TIME_DTYPE, fill_value="")
        for name in GEOMETRY_FIELDS:
            group.create_array(name, shape=(n_frames,), dtype="f8", fill_value=np.nan)
        group.create_array("frame_done", shape=(n_frames,), dtype="u1", fill_value=0)
        _label_arrays(group)
        group.attrs.update(
            {
                "euv2mag_version": __version__,
                "kind": kind,
                "complete": False,
                "params": params,
                "provenance": _jsonable(provenance or {}),
            }
        )
        if path.exists():
            # the locked folder exists (it holds the lock file): clear what a killed writer left
            # of its skeleton, then move this skeleton's entries in, ``.zgroup`` last, so that
            # readers see a store only once all of it is there
            for entry in path.iterdir():
                if entry.name != LOCK_NAME:
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
            entries = sorted(tmp.iterdir(), key=lambda e: e.name == ".zgroup")
            for entry in entries:
                os.replace(entry, path / entry.name)
            tmp.rmdir()
        else:
            tmp.rename(path)  # the empty skeleton appears atomically
        return cls(zarr.open_group(str(path), mode="r+", use_consolidated=False), path)

    @property
    def n_frames(self) -> int:
        return int(self._group["frame_done"].shape[0])

    def pending(self) -> list[int]:
        """Indices of frames not yet written."""
        self.flush()
        done = np.asarray(self._group["frame_done"][:])
        return [int(i) for i in np.flatnonzero(done == 0)]

    @property
    def attrs(self):
        return self._group.attrs

    def write_frame(self, index: int, geometry: DiskGeometry, **images: np.ndarray) -> None:
        """Write frame ``index``: its images (float32, NaN off-disk); then its geometry and done flag.

        The geometry and flag are written with those of the next frames, :data:`DONE_BATCH` at a
        time (class docstring).
        """
        _write_images(self._group, self.path, index, images)
        self._unmarked[int(index)] = geometry
        if len(self._unmarked) >= DONE_BATCH:
            self.flush()

    def mark_done(self, geometries: dict) -> None:
        """Write the geometry of frames whose images are written, then mark them done.

        For images written by another process with :func:`write_frame_images` (a Dask worker of
        ``prepare``): call this only once that call has returned, so that a frame is never marked
        done before its chunks are complete.  :meth:`write_frame` is both steps for one frame.
        Several frames at once cost one write per small array instead of one per frame and array.

        Parameters
        ----------
        geometries : dict
            Frame index -> :class:`~euv2mag.geometry.DiskGeometry` of that frame.
        """
        if not geometries:
            return
        index = np.fromiter(geometries, dtype=np.int64, count=len(geometries))
        frames = list(geometries.values())
        columns = {"time": np.array([g.time or "" for g in frames], dtype=_TIME_DTYPE)}
        columns |= {name: np.array([getattr(g, name) for g in frames], dtype="f8") for name in GEOMETRY_FIELDS}
        columns["frame_done"] = np.ones(len(frames), dtype="u1")  # last: after everything else of the frames
        for name, values in columns.items():
            if len(frames) == 1:
                self._group[name][int(index[0])] = values[0]
            else:
                self._group[name].vindex[index] = values

    def write_table(self, name: str, table) -> None:
        """Store a table (pandas DataFrame or dict of 1-D arrays) under ``tables/<name>``."""
        write_table(self._group, name, table)

    def finish(self, **extra_attrs) -> None:
        """Mark the store complete (all frames done), record extra attributes, consolidate the metadata.

        The consolidated metadata (``.zmetadata``) lets ``xarray.open_zarr(path)`` open the
        finished store with its default arguments.  Then the writer lock is released.
        """
        missing = self.pending()
        if missing:
            raise RuntimeError(f"{len(missing)} frames still pending")
        self._group.attrs.update({**_jsonable(extra_attrs), "complete": True})
        with _lock_file_ignored():
            _zarr().consolidate_metadata(str(self.path), zarr_format=2)
        self.close()


def _write_images(group, path: Path, index: int, images: dict) -> None:
    for name, image in images.items():
        if name not in group:
            raise ValueError(f"store has no array {name!r}")
        image = np.asarray(image, dtype=np.float32)
        if image.shape != tuple(group[name].shape[1:]):
            raise UserError(f"frame {index}: {name} has shape {image.shape}, store expects {group[name].shape[1:]}",
                            path=path)
        group[name][index] = image


def write_frame_images(path: str | Path, index: int, **images: np.ndarray) -> None:
    """Write the images of frame ``index`` into the store at ``path``, from any process.

    The image arrays hold one frame per chunk (one file per frame and array), so processes
    writing different frames never touch the same file: the workers of a Dask cluster write their
    frames in parallel, while the process holding the writer lock (a :class:`StoreWriter`) records
    each frame's geometry and ``frame_done`` with :meth:`StoreWriter.mark_done` once the worker's
    call has returned.  Neither the lock nor ``frame_done`` is touched here: a frame whose images
    were written but not marked done is simply written again by a resumed run.

    Parameters
    ----------
    path : path-like
        A store made by :meth:`StoreWriter.open` (seen at the same path by this process).
    index : int
        Frame index.
    **images : ndarray
        (H, W) images by array name (float32, NaN off the disk).

    Raises
    ------
    UserError
        An image of another shape than the store's.
    """
    path = Path(path)
    group = _zarr().open_group(str(path), mode="r+", use_consolidated=False)
    _write_images(group, path, index, images)


def write_table(group, name: str, table) -> None:
    """Write ``table`` as column arrays under ``group/tables/<name>`` (replacing it)."""
    import pandas as pd

    frame = pd.DataFrame(table)
    tables = group.require_group("tables")
    if name in tables:
        del tables[name]
    sub = tables.create_group(name)
    for column in frame.columns:
        values = frame[column].to_numpy()
        if values.dtype == object or values.dtype.kind in "OUS" or str(frame[column].dtype).startswith("str"):
            values = np.asarray([str(v) for v in values], dtype="U")
            if values.size == 0:
                values = np.zeros(0, dtype="<U1")
        elif values.dtype == bool:
            values = values.astype("u1")
            sub.attrs[f"bool:{column}"] = True
        sub.create_array(str(column), shape=values.shape, dtype=values.dtype, fill_value=None,
                         attributes={"_ARRAY_DIMENSIONS": list(TABLE_DIMS)})
        if values.size:
            sub[str(column)][:] = values
    sub.attrs["columns"] = [str(c) for c in frame.columns]


class FrameStore:
    """Read access to a store; validates the layout on opening.

    Parameters
    ----------
    path : path-like
        Folder of the Zarr store.
    require_complete : bool
        Refuse a store whose writing was interrupted (the default for analysis commands).
    """

    def __init__(self, path: str | Path, *, require_complete: bool = True):
        zarr = _zarr()
        self.path = Path(path)
        if not self.path.exists():
            raise UserError("no such store", path=self.path)
        if not (self.path / ".zgroup").exists():
            raise UserError("is not an euv2mag store (no Zarr group found)", path=self.path)
        try:
            self._group = zarr.open_group(str(self.path), mode="r", use_consolidated=False)
        except Exception as exc:  # corrupt metadata
            raise UserError(f"cannot open the store: {exc}", path=self.path) from None
        for name in ("time", "frame_done", *GEOMETRY_FIELDS):
            if name not in self._group:
                raise UserError(f"is not a valid euv2mag store: array {name!r} is missing", path=self.path)
        self.image_arrays = tuple(name for name in IMAGE_ARRAYS if name in self._group)
        if not self.image_arrays:
            raise UserError("holds no image array (euv, mag or pred)", path=self.path)
        # opened once: looking an array up in the group costs a few ms of metadata reads each time
        self._arrays = {name: self._group[name] for name in self.image_arrays}
        n = self._group["time"].shape[0]
        shapes = {name: tuple(array.shape) for name, array in self._arrays.items()}
        for name, shape in shapes.items():
            if len(shape) != 3 or shape[0] != n:
                raise UserError(f"array {name} has shape {shape}, expected ({n}, H, W)", path=self.path)
        if len({s[1:] for s in shapes.values()}) != 1:
            raise UserError(f"image arrays differ in shape: {shapes}", path=self.path)
        self._meta = {name: np.asarray(self._group[name][:]) for name in ("time", "frame_done", *GEOMETRY_FIELDS)}
        if require_complete and not self.complete:
            done = int(self._meta["frame_done"].sum())
            raise UserError(
                f"store is incomplete ({done}/{n} frames written); re-run the command that makes it to resume",
                path=self.path,
            )

    # ---------------------------------------------------------------- metadata
    @property
    def attrs(self) -> dict:
        return dict(self._group.attrs)

    @property
    def kind(self) -> str:
        return str(self._group.attrs.get("kind", "unknown"))

    @property
    def complete(self) -> bool:
        return bool(self._group.attrs.get("complete", False)) and bool(np.all(self._meta["frame_done"] == 1))

    @property
    def n_frames(self) -> int:
        return int(self._meta["time"].shape[0])

    def __len__(self) -> int:
        return self.n_frames

    @property
    def shape(self) -> tuple[int, int]:
        """Image shape (H, W)."""
        return tuple(int(s) for s in self._arrays[self.image_arrays[0]].shape[1:])

    @property
    def size(self) -> int:
        return self.shape[1]

    @property
    def times(self) -> np.ndarray:
        """(N,) ISO 8601 UTC strings."""
        return self._meta["time"]

    @property
    def frames_done(self) -> np.ndarray:
        """(N,) bool: frames fully written."""
        return self._meta["frame_done"] == 1

    def geometry_column(self, name: str) -> np.ndarray:
        """(N,) values of one per-frame geometry field."""
        return self._meta[name]

    def geometry(self, index: int) -> DiskGeometry:
        """The :class:`DiskGeometry` of frame ``index``."""
        self._check_index(index)
        return DiskGeometry(
            shape=self.shape,
            time=str(self._meta["time"][index]) or None,
            **{name: float(self._meta[name][index]) for name in GEOMETRY_FIELDS},
        )

    def has(self, name: str) -> bool:
        return name in self.image_arrays

    def read(self, name: str, index: int) -> np.ndarray:
        """Image ``name`` ("euv", "mag", "pred") of frame ``index`` as (H, W) float32."""
        if name not in self.image_arrays:
            raise UserError(f"store has no {name!r} array (it holds {', '.join(self.image_arrays)})", path=self.path)
        self._check_index(index)
        return np.asarray(self._arrays[name][index], dtype=np.float32)

    def array(self, name: str):
        """The lazy Zarr array ``name`` (for Dask: ``dask.array.from_zarr(store.array('mag'))``)."""
        if name not in self.image_arrays:
            raise UserError(f"store has no {name!r} array", path=self.path)
        return self._arrays[name]

    def frame_table(self):
        """pandas DataFrame with one row per frame: index, time and geometry."""
        import pandas as pd

        data = {"index": np.arange(self.n_frames), "time": self._meta["time"]}
        data.update({name: self._meta[name] for name in GEOMETRY_FIELDS})
        return pd.DataFrame(data)

    def table_names(self) -> list[str]:
        if "tables" not in self._group:
            return []
        return sorted(self._group["tables"].group_keys())

    def table(self, name: str):
        """A stored table (e.g. the synthetic truth) as a pandas DataFrame."""
        import pandas as pd

        if name not in self.table_names():
            raise UserError(f"store has no table {name!r}", path=self.path)
        sub = self._group["tables"][name]
        columns = list(sub.attrs.get("columns", sorted(sub.array_keys())))
        data = {}
        for column in columns:
            values = np.asarray(sub[column][:])
            if sub.attrs.get(f"bool:{column}"):
                values = values.astype(bool)
            data[column] = values
        return pd.DataFrame(data)

    def _check_index(self, index: int) -> None:
        if not 0 <= int(index) < self.n_frames:
            raise UserError(f"frame index {index} is outside 0..{self.n_frames - 1}", path=self.path)

    # ---------------------------------------------------------------- summary
    def summary(self) -> dict:
        """What ``euv2mag info`` prints: frames, time range, size, geometry ranges, provenance."""
        times = [t for t in self.times if t]
        out = {
            "path": str(self.path),
            "kind": self.kind,
            "complete": self.complete,
            "frames": self.n_frames,
            "frames_written": int(self.frames_done.sum()),
            "arrays": list(self.image_arrays),
            "size": list(self.shape),
            "time_range": [min(times), max(times)] if times else None,
            "euv2mag_version": self._group.attrs.get("euv2mag_version"),
        }
        done = self.frames_done
        for name in GEOMETRY_FIELDS:
            values = self._meta[name][done]
            out[f"{name}_range"] = [float(np.min(values)), float(np.max(values))] if values.size else None
        if len(times) > 1:
            steps = np.diff(np.sort(np.array(times, dtype="datetime64[s]")).astype(np.int64)) / 3600.0
            out["median_cadence_hours"] = float(np.median(steps))
        out["tables"] = self.table_names()
        out["params"] = self._group.attrs.get("params")
        out["provenance"] = self._group.attrs.get("provenance")
        return out
