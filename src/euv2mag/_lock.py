"""One writer per output: an advisory lock file held for as long as a command writes.

Every command that writes an output folder or store (``synth``, ``prepare``, ``train``,
``predict``, ``audit``, ...) holds :func:`writer_lock` on it.  A second writer of the same
output gets a :class:`~euv2mag.errors.UserError` naming the holder (process id, host, start
time, command) instead of corrupting it; readers are never blocked.

How it works
------------
The lock is the file ``<output>/.euv2mag-writer.lock`` (for a folder or store) holding one
JSON line about the holder.  The holder keeps an exclusive ``fcntl.flock`` on that file while
it writes; the kernel releases the flock when the process ends for whatever reason (exit,
crash, SIGKILL), so a lock file whose flock can be taken again was left by a dead process: it
is taken over, and the new holder says so (a warning of category
:class:`~euv2mag.errors.Euv2magWarning`).  On normal exit the lock file is removed.

Guarantees
----------
- Local file systems (ext4, xfs, btrfs, tmpfs, APFS): two processes on one machine never hold
  the lock at once; a lock of a killed process is taken over at once.
- Network file systems: on NFSv4 Linux maps ``flock`` to POSIX byte-range locks held by the
  server, so the guarantee extends to other clients; on NFSv3 without ``lockd``, and on some
  FUSE or SMB mounts, ``flock`` may be local to one client: two machines could then both write.
  The holder record still names the other host, and a user who sees it should not force it.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import json
import os
import socket
import sys
import warnings
from pathlib import Path
from typing import Iterator

from .errors import Euv2magWarning, UserError

__all__ = ["LOCK_NAME", "writer_lock", "lock_holder"]

#: Name of the lock file inside a locked folder or store.
LOCK_NAME = ".euv2mag-writer.lock"


def lock_holder(folder: str | os.PathLike) -> dict | None:
    """The holder record of ``folder``'s lock file (pid, host, started, command), or None."""
    path = Path(folder) / LOCK_NAME
    try:
        text = path.read_text(encoding="utf-8").strip()
        return json.loads(text) if text else {}
    except (OSError, ValueError):
        return None


def _describe(holder: dict | None) -> str:
    if not holder:
        return "another process (no holder record)"
    return (f"process {holder.get('pid', '?')} on {holder.get('host', '?')} since {holder.get('started', '?')}"
            + (f" ({holder['command']})" if holder.get("command") else ""))


def _acquire(path: Path, folder: Path) -> int:
    """Open ``path`` and take its flock; retry when the file was replaced meanwhile."""
    for _ in range(100):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = lock_holder(folder)
            raise UserError(f"is being written by {_describe(holder)}; wait for it to finish "
                            f"(or stop it) and run again", path=folder) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the holder removed the file between our open and our flock: start again
    raise UserError("could not take the writer lock (the lock file keeps changing)", path=folder)


@contextlib.contextmanager
def writer_lock(folder: str | os.PathLike, *, what: str = "output") -> Iterator[Path]:
    """Hold the writer lock of ``folder`` (created if needed) for the duration of the block.

    Parameters
    ----------
    folder : path-like
        The output folder or Zarr store to write.
    what : str
        How the error message names the output (e.g. ``"store"``, ``"run folder"``).

    Yields
    ------
    pathlib.Path
        The lock file.

    Raises
    ------
    UserError
        If another living process holds the lock (one line naming it).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     with writer_lock(d) as lock:
    ...         holder = lock_holder(d)
    ...     holder["pid"] == os.getpid(), lock.exists()
    (True, False)
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    fd = _acquire(path, folder)
    try:
        previous = lock_holder(folder)
        if previous:
            warnings.warn(f"{folder}: took over the writer lock left by {_describe(previous)}, which is no longer running",
                          Euv2magWarning, stacklevel=3)
        record = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                  "command": " ".join(Path(sys.argv[0]).name.split() + sys.argv[1:])[:300], "what": what}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        os.fsync(fd)
        try:
            yield path
        finally:
            # empty the record before unlinking: a process that opened the file just now then
            # sees no stale holder to report
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            with contextlib.suppress(OSError):
                path.unlink()
    finally:
        os.close(fd)  # releases the flock
