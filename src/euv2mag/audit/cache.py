"""Per-item result cache: an interrupted study resumes where it stopped.

A long study (the audit of many frames, the saturation study of many maps) stores the result of
every finished item as a small JSON file under ``folder/<hash of the configuration>/``.  A re-run
with the same configuration finds them and skips that work; a run with another configuration
(other parameters) uses another sub-folder.  The study removes the whole cache once its result
files are written.

Keyed by content, not by path
-----------------------------
An item's key (:meth:`ResultCache.key`) is a digest of the *content* of everything its result
is computed from, never of a path, a size or a modification time: a store is a folder whose
modification time does not change when a chunk inside it is replaced, and a file can be replaced
by another of the same size within the clock's resolution.  The digests:

- a store frame: :func:`frame_digest`, the SHA-256 of the float32 image bytes as
  :meth:`~euv2mag.data.store.FrameStore.read` returns them, with the array name, the shape, the
  frame's time and its geometry (``rsun_px``, ``cdelt_arcsec``, ``b0_deg``, ``l0_deg``,
  ``dsun_m``, as exact float64 text);
- a file (FITS): :func:`file_digest`, the SHA-256 of its bytes;
- anything else (a table, parameters): :func:`value_digest`, the SHA-256 of its JSON text.

A replaced input therefore has another key and its result is computed again, never reused.
Cost, measured on a shared 2-core machine: the digest of one 1024 x 1024 float32 frame (4 MiB)
took 6-12 ms, of which reading it back from the store 4-8 ms and SHA-256 4-6 ms (about
0.7-1 GB/s); that is small next to the work it guards (auditing one frame takes seconds).

Values are stored as JSON: NumPy scalars and arrays become Python numbers and lists, and NaN is
kept (Python's ``json`` writes it as ``NaN``), so floats round-trip exactly.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np

__all__ = ["ResultCache", "frame_digest", "file_digest", "value_digest"]


def _plain(obj):
    """NumPy scalars/arrays -> Python values (NaN kept, so cached floats round-trip exactly)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def frame_digest(store, name: str, index: int) -> str:
    """SHA-256 (hex) of frame ``index`` of image ``name`` of a store: its content and geometry.

    Parameters
    ----------
    store : FrameStore
        The store.
    name : str
        Image array (``"mag"``, ``"pred"``, ``"euv"``).
    index : int
        Frame index.

    Returns
    -------
    str
        64 hex digits over the float32 bytes of :meth:`~euv2mag.data.store.FrameStore.read`,
        the array name, the shape, the time and the geometry fields (exact ``repr`` of each
        float64), so any change of a pixel, of the time or of the geometry changes it.
    """
    from ..data.store import GEOMETRY_FIELDS

    image = np.ascontiguousarray(store.read(name, index), dtype=np.float32)
    h = hashlib.sha256()
    h.update(f"{name}|{image.shape}|{store.times[index]}|".encode())
    h.update("|".join(repr(float(store.geometry_column(f)[index])) for f in GEOMETRY_FIELDS).encode())
    h.update(image.tobytes())
    return h.hexdigest()


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of the bytes of the file ``path``."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def value_digest(value) -> str:
    """SHA-256 (hex) of ``value`` as JSON (NumPy values and DataFrames as plain values; NaN kept)."""
    if hasattr(value, "to_dict") and hasattr(value, "columns"):  # a pandas DataFrame
        value = {"columns": [str(c) for c in value.columns], "rows": value.to_numpy().tolist()}
    return hashlib.sha256(json.dumps(_plain(value), sort_keys=True, default=str).encode()).hexdigest()


class ResultCache:
    """Per-item JSON results under ``folder/<hash of config>/`` so that a re-run resumes.

    Parameters
    ----------
    folder : path-like
        Cache folder (inside the output folder, e.g. ``OUT/.cache``).
    config : dict
        The parameters the results depend on; another config uses another sub-folder.  The
        inputs' content is in each item's :meth:`key`.

    Attributes
    ----------
    root : pathlib.Path
        ``folder``.
    folder : pathlib.Path
        ``folder/<first 16 hex digits of the SHA-256 of config>``, where the items live.

    Examples
    --------
    >>> import tempfile
    >>> from euv2mag.audit.cache import ResultCache
    >>> cache = ResultCache(tempfile.mkdtemp(), {"limits_g": [100.0]})
    >>> key = cache.key(value_digest([1.0, 2.0]), "frame 0")
    >>> cache.get(key) is None
    True
    >>> cache.put(key, {"tumf_mx": 1.5e22})
    >>> cache.get(key)
    {'tumf_mx': 1.5e+22}
    >>> cache.clear()
    """

    def __init__(self, folder: str | os.PathLike, config: dict):
        digest = hashlib.sha256(json.dumps(_plain(config), sort_keys=True, default=str).encode()).hexdigest()[:16]
        self.root = Path(folder)
        self.folder = self.root / digest

    @staticmethod
    def key(*parts: str) -> str:
        """Key of an item from the digests of its inputs' content (and any other identifying text).

        Parameters
        ----------
        *parts : str
            Content digests (:func:`frame_digest`, :func:`file_digest`, :func:`value_digest`)
            and labels; their order matters.

        Returns
        -------
        str
            The first 32 hex digits of the SHA-256 of the parts.
        """
        return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:32]

    def get(self, key: str):
        """The stored value of ``key``, or None when absent or unreadable (then it is recomputed)."""
        path = self.folder / f"{key}.json"
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def put(self, key: str, value) -> None:
        """Store ``value`` (JSON-serialisable after NumPy conversion) under ``key``, atomically."""
        from .._io import atomic_write_text

        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.folder / f"{key}.json", json.dumps(_plain(value)))

    def clear(self) -> None:
        """Remove the whole cache folder (all configurations)."""
        shutil.rmtree(self.root, ignore_errors=True)
