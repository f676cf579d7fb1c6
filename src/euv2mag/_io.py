"""Small file-system helpers: atomic writes and paths confined to an output folder.

Every file a command writes goes to a temporary name in the same folder first and is then
renamed into place, so an interrupted run never leaves a half-written result behind.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import UserError

__all__ = ["atomic_path", "atomic_write_text", "atomic_write_json", "read_json_file", "path_inside", "ensure_dir"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, is_dir: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling path; on success rename it to ``path`` (replacing it).

    Parameters
    ----------
    path : path-like
        Final destination (file, or folder when ``is_dir``).
    is_dir : bool
        Create the temporary path as an (empty) folder.

    On an exception the temporary path is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if is_dir:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
        if tmp.exists():  # mkstemp/mkdtemp create 0600/0700: give the usual umask-based mode
            tmp.chmod((0o777 if is_dir else 0o666) & ~_umask())
        if is_dir and path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8) and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def atomic_write_json(path: str | os.PathLike, obj: object) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically (NaN written as ``null``)."""
    return atomic_write_text(path, json.dumps(_json_safe(obj), indent=2, sort_keys=False) + "\n")


def _json_safe(obj):
    """Convert NumPy scalars/arrays and non-finite floats into JSON-representable values."""
    import math

    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_json_safe(v) for v in obj.tolist()]
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def read_json_file(path: str | os.PathLike, filename: str) -> tuple[object, Path]:
    """Read a JSON result file given as the file itself or the folder holding ``filename``.

    Returns
    -------
    obj : object
        The parsed JSON (``NaN`` literals allowed, as Python's json writes them).
    path : pathlib.Path
        The file read.

    Raises
    ------
    UserError
        If the file is missing, unreadable or not valid JSON (one line naming it).
    """
    path = Path(path)
    if path.is_dir():
        path = path / filename
    if not path.is_file():
        raise UserError(f"no {filename} here", path=path)
    try:
        return json.loads(path.read_text(encoding="utf-8")), path
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {filename}: {exc}", path=path) from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{filename} is not valid JSON ({exc.msg} at line {exc.lineno})", path=path) from None


def path_inside(base: str | os.PathLike, relative: str | os.PathLike) -> Path:
    """Return ``base / relative`` resolved, refusing anything that escapes ``base``.

    Raises
    ------
    UserError
        If the resolved path lies outside ``base`` (e.g. ``../x`` or an absolute path).
    """
    base_resolved = Path(base).resolve()
    candidate = (base_resolved / relative).resolve()
    if candidate != base_resolved and base_resolved not in candidate.parents:
        raise UserError(f"path {relative!s} points outside the output folder", path=base)
    return candidate


def ensure_dir(path: str | os.PathLike, *, parameter: str | None = None) -> Path:
    """Create folder ``path`` (and parents); a file in the way is a :class:`UserError`.

    Parameters
    ----------
    path : path-like
        The folder.  An empty (or blank) path is refused rather than taken as the current
        folder.
    parameter : str, optional
        Name of the argument ``path`` came from, named by the errors.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    UserError
        An empty path, or a file in the way.
    """
    if not os.fspath(path).strip():
        raise UserError("is empty; give a folder (use . for the current one)", parameter=parameter)
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError("exists and is not a folder", path=path, parameter=parameter)
    path.mkdir(parents=True, exist_ok=True)
    return path
