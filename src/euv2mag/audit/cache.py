"""Per-item result cache: an interrupted study resumes where it stopped.

A long study (the audit of many frames, the saturation study of many maps) stores the result of
every finished item as a small JSON file under ``folder/<hash of the configuration>/``.  A re-run
with the same configuration finds them and skips that work; a run with another configuration
(other parameters, other inputs) uses another sub-folder, so stale results are never reused.  The
study removes the whole cache once its result files are written.

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

__all__ = ["ResultCache"]


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


class ResultCache:
    """Per-item JSON results under ``folder/<hash of config>/`` so that a re-run resumes.

    Parameters
    ----------
    folder : path-like
        Cache folder (inside the output folder, e.g. ``OUT/.cache``).
    config : dict
        Everything the results depend on (parameters, input paths ...); another config uses
        another sub-folder.

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
    >>> key = cache.key("map.fits", -1)
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
    def key(source: str | os.PathLike, index: int) -> str:
        """Key of item ``index`` of ``source``.

        The key hashes the resolved path and the index; for a file, its size and modification
        time are part of it, so an edited file is computed again.
        """
        path = Path(source)
        stamp = ""
        if path.is_file():
            st = path.stat()
            stamp = f"{st.st_size}:{st.st_mtime_ns}"
        text = f"{path.resolve()}|{index}|{stamp}"
        return hashlib.sha256(text.encode()).hexdigest()[:24]

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
