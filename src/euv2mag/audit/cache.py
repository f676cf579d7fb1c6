"""Per-item result cache of the audit and the studies, so that an interrupted run resumes.

Results are JSON files under ``folder/<digest of the configuration>/<key>.json``; another
configuration (parameters, inputs) uses another sub-folder, so results made with other
settings are never reused.  Items are keyed by :meth:`ResultCache.key` (a source path, its size
and modification time, and the item index).  The cache lives inside the output folder and is
removed once the results are written.
"""
from __future__ import annotations

import hashlib
import json
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
        Cache folder (inside the output folder).
    config : dict
        Everything the results depend on; another config uses another sub-folder.
    """

    def __init__(self, folder, config: dict):
        digest = hashlib.sha256(json.dumps(_plain(config), sort_keys=True, default=str).encode()).hexdigest()[:16]
        self.root = Path(folder)
        self.folder = self.root / digest

    @staticmethod
    def key(source, index: int) -> str:
        """Key of item ``index`` of ``source`` (a file's size and mtime are part of it)."""
        path = Path(source)
        stamp = ""
        if path.is_file():
            st = path.stat()
            stamp = f"{st.st_size}:{st.st_mtime_ns}"
        text = f"{path.resolve()}|{index}|{stamp}"
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def get(self, key: str):
        path = self.folder / f"{key}.json"
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def put(self, key: str, value) -> None:
        from .._io import atomic_write_text

        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.folder / f"{key}.json", json.dumps(_plain(value)))

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
