"""Map a pure per-frame function over frames: serially, on a local Dask cluster, or on a remote one.

The per-frame work of ``prepare``, ``synth``, ``audit`` and ``saturation`` is a pure function of
one work item (paths, a frame index, frozen parameters) that returns arrays and records.  The
job opens a :class:`FrameMap` and iterates over :meth:`FrameMap.map`, which yields the results
**in the order of the items**, so that the calling (client) process writes them one by one in
frame order: atomically, under the output's writer lock, and resumably, exactly as on the
serial path.  Workers only compute, with one exception: ``prepare``'s workers write their frame's
images into its staging store themselves (:func:`euv2mag.data.store.write_frame_images`; one
chunk file per frame and array, so no two workers touch the same file), because receiving,
compressing and writing them cost the single client nearly as much as a worker's preparing
them; the client still marks each frame done, in frame order, once its worker has returned, and
publishes the store.  The job first checks with :meth:`FrameMap.check_shared_folder` that every
worker writes into the client's folder.

Where the work runs (``scheduler``, ``workers``)
------------------------------------------------
=====================  ==============  ============================================================
``scheduler``          ``workers``     work runs
=====================  ==============  ============================================================
None                   None or 1       serially in this process (no Dask)
None                   N > 1           a :class:`distributed.LocalCluster` of N worker processes
``"local"``            None            a LocalCluster with one worker per CPU core of the machine
``"local"``            N               a LocalCluster of N worker processes (N = 1 included)
``"tcp://HOST:PORT"``  None            the workers of the existing cluster whose scheduler listens
                                       there (``dask scheduler``, dask-jobqueue, Kubernetes)
=====================  ==============  ============================================================

Each LocalCluster worker is a process with one thread (the per-frame functions hold the GIL
for much of their time), no dashboard, and Dask's logs silenced to errors; it is closed when
the job ends, however it ends.

Checks before any output is written
-----------------------------------
On entering :class:`FrameMap` the scheduler address must have the form ``tcp://HOST:PORT``, the
scheduler must answer within :data:`CONNECT_TIMEOUT_S`, at least one worker must have joined
within :data:`WORKER_WAIT_S`, and every worker must import :mod:`euv2mag` at the version of this
process (``euv2mag.__version__``) and have the same versions of the numerical libraries
(:data:`CHECKED_DISTRIBUTIONS`), so that its results are those of the serial path.  Each failure is a one-line
:class:`~euv2mag.errors.UserError` naming the scheduler.  Jobs enter the map before they create
their output, so a failed check leaves nothing behind.  A cluster lost while the job runs (the
scheduler stops, a worker is killed repeatedly) also ends it with a one-line error; the frames
written so far are kept and re-running the command resumes.

Overhead
--------
Items are submitted with :meth:`distributed.Client.submit` as a sliding window of
``2 x`` (worker threads) tasks, so that every worker has a task queued while the client waits
for the oldest one; ``benchmarks/distributed_speed.py`` measures the per-task overhead (6-10
ms on a local cluster of the 2-core machine, paid by the client process, which also hosts a
local cluster's scheduler, and by the worker, on cores the workers share) with a no-op task.  A
job whose items are short (``prepare``: 0.13-0.21 s of a worker per 1024^2 frame, measured)
therefore submits ``batch`` consecutive items per task
(:meth:`FrameMap.map`), as many as :meth:`FrameMap.batch_size` allows: each worker thread still
gets at least :data:`TASKS_PER_THREAD` tasks (so that the workers finish together), and a task
holds at most :data:`MAX_BATCH` items (so that its results stay small and an interrupted run
loses little).  The results are still yielded one by one, in item order; an item whose
function raises ends its task there, after the items before it are yielded.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import uuid
from pathlib import Path
from collections import deque
from itertools import islice
from typing import Callable, Iterable, Iterator

from .errors import UserError

__all__ = ["FrameMap", "ClusterLost", "LOCAL", "LOCAL_WORKER_CONFIG", "CONNECT_TIMEOUT_S", "WORKER_WAIT_S", "SETTLE_TIMEOUT_S", "CHECKED_DISTRIBUTIONS",
           "TASKS_PER_THREAD", "MAX_BATCH", "check_scheduler", "local_cluster",
           "local_cpu_count"]

#: ``scheduler`` value that starts a :class:`distributed.LocalCluster` on this machine.
LOCAL = "local"

#: Seconds to wait for a remote scheduler to answer before giving up.
CONNECT_TIMEOUT_S = 10.0

#: Seconds to wait for the first worker of a remote cluster (a batch queue may start them late).
WORKER_WAIT_S = 60.0

#: Seconds :meth:`FrameMap.map` with ``settle=True`` waits for the tasks still in flight when the
#: caller stops early (so that no worker writes into a folder the caller then removes).
SETTLE_TIMEOUT_S = 300.0

#: :meth:`FrameMap.batch_size`: each worker thread gets at least this many tasks of a map.
TASKS_PER_THREAD = 4

#: :meth:`FrameMap.batch_size`: at most this many items per task (8 frames of ``prepare`` at 1024^2
#: are about 1.6 s of a worker; their geometries, not their images, come back).
MAX_BATCH = 8

_ADDRESS = re.compile(r"^tcp://(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(?P<port>[0-9]{1,5})$")


class ClusterLost(UserError):
    """The cluster failed while working (not the input): the frames done so far are kept, re-run to resume."""


def local_cpu_count() -> int:
    """CPU cores this process may use (the default size of a local cluster)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def check_scheduler(scheduler: str | None, workers: int | None) -> tuple[str | None, int | None]:
    """Validate ``scheduler`` and ``workers`` and resolve them (table in the module docstring).

    Parameters
    ----------
    scheduler : str or None
        None, ``"local"`` or ``"tcp://HOST:PORT"``.
    workers : int or None
        Worker processes of a local cluster (>= 1), or None.

    Returns
    -------
    (str or None, int or None)
        ``(None, None)`` for the serial path, ``("local", N)``, or ``("tcp://HOST:PORT", None)``.

    Raises
    ------
    UserError
        A malformed address, a port outside 1..65535, ``workers`` below 1, or ``workers``
        given with a remote scheduler (its cluster has its own workers).
    """
    if workers is not None:
        if isinstance(workers, bool) or int(workers) != workers or int(workers) < 1:
            raise UserError(f"must be a whole number >= 1, got {workers!r}", parameter="workers")
        workers = int(workers)
    if scheduler is None:
        return (None, None) if workers in (None, 1) else (LOCAL, workers)
    scheduler = str(scheduler).strip()
    if scheduler == LOCAL:
        return LOCAL, workers if workers is not None else local_cpu_count()
    match = _ADDRESS.match(scheduler)
    if match is None or not 1 <= int(match["port"]) <= 65535:
        raise UserError(f"expected 'local' or an address tcp://HOST:PORT, got {scheduler!r}", parameter="scheduler")
    if workers is not None:
        raise UserError(f"the cluster at {scheduler} has its own workers; leave workers unset with a remote scheduler",
                        parameter="workers")
    return scheduler, None


#: Dask settings under which :func:`local_cluster` starts its workers (measured in docs/benchmarks.rst):
#: Dask's default environment of a worker process sets ``MALLOC_TRIM_THRESHOLD_=65536``, which
#: also fixes glibc's mmap threshold at 128 KiB, so that every array of a frame is mapped, zeroed
#: page by page by the kernel and unmapped again (10x the page faults of the serial path, and
#: about 0.3 s of system time per 1024^2 audit frame); ``None`` removes it.  The statistical
#: profiler samples the task's stack every 10 ms, for a dashboard these clusters do not have.
#: The rest quiets the periodic work of an idle local cluster, which on 2 cores is taken from the
#: workers (the scheduler lives in the client process): event-loop ticks every 20 ms, system and
#: GIL monitors, the memory monitor every 100 ms, the active memory manager and work stealing
#: (diagnostics and balancing a map submitted as a sliding window of 2 x worker threads tasks does
#: not need; a worker is still restarted above its memory limit, checked every second).  Measured
#: (2026-12-02, distributed 2026.8.0, a 2-worker cluster idle for 10 s, twice): the client
#: process 57 / 50 ms of CPU per s with Dask's defaults, 11 / 10 with these; nanny and workers
#: 49 / 50 and 7 / 10.
LOCAL_WORKER_CONFIG = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                       "distributed.worker.profile.enabled": False,
                       "distributed.admin.tick.interval": "1s",
                       "distributed.admin.system-monitor.interval": "2s",
                       "distributed.admin.system-monitor.gil.enabled": False,
                       "distributed.worker.memory.monitor-interval": "1s",
                       "distributed.scheduler.active-memory-manager.start": False,
                       "distributed.scheduler.work-stealing": False}


def local_cluster(n_workers: int):
    """A quiet :class:`distributed.LocalCluster` of ``n_workers`` one-thread worker processes.

    No dashboard; the scheduler's HTTP endpoint (health checks only) listens on a free port of
    127.0.0.1 instead of 8787, so that several clusters on one machine never clash; Dask's logs
    below ERROR are silenced.  Close it (``with`` or ``.close()``) when done.
    """
    import dask
    from distributed import LocalCluster

    with dask.config.set(LOCAL_WORKER_CONFIG):  # read by each Nanny as it is made, and passed to its worker
        return LocalCluster(n_workers=int(n_workers), threads_per_worker=1, processes=True, dashboard_address=None,
                            scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                            silence_logs=logging.ERROR)


#: Distributions whose versions every worker must share with this process (besides euv2mag):
#: the numerical libraries the per-frame functions call, so that the results are the same.
CHECKED_DISTRIBUTIONS = ("numpy", "scipy", "scikit-image", "astropy", "sunpy", "reproject", "zarr", "dask",
                         "distributed")


def _version_probe() -> Callable[[], dict]:
    """A function run on every worker: the versions it has, or why it cannot import euv2mag.

    Defined inside a function so that cloudpickle sends its code by value: a worker without
    euv2mag can still run it and say so.  The versions come from the installed distributions'
    metadata (nothing but euv2mag is imported).
    """
    names = CHECKED_DISTRIBUTIONS

    def probe() -> dict:
        from importlib import metadata

        try:
            import euv2mag
        except Exception as exc:  # noqa: BLE001 - any failure to import is the answer
            return {"euv2mag": "cannot import euv2mag (" + " ".join(f"{type(exc).__name__}: {exc}".split()) + ")"}
        found = {"euv2mag": str(euv2mag.__version__)}
        for name in names:
            try:
                found[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                found[name] = "not installed"
        return found

    return probe


class FrameMap:
    """A context in which :meth:`map` runs a per-frame function serially or on a Dask cluster.

    Parameters
    ----------
    scheduler : str, optional
        None (serial, or a local cluster when ``workers`` > 1), ``"local"`` or ``"tcp://HOST:PORT"``
        (module docstring).
    workers : int, optional
        Worker processes of a local cluster.

    Raises
    ------
    UserError
        On construction: a bad ``scheduler``/``workers`` (:func:`check_scheduler`).  On entering:
        a scheduler that cannot be reached, a cluster without workers, or workers that cannot
        import this version of euv2mag or have other versions of :data:`CHECKED_DISTRIBUTIONS`.

    Examples
    --------
    >>> from euv2mag.parallel import FrameMap
    >>> with FrameMap() as frames:          # serial: no Dask
    ...     list(frames.map(abs, [-1, -2]))
    [1, 2]
    """

    def __init__(self, scheduler: str | None = None, workers: int | None = None):
        self.scheduler, self.workers = check_scheduler(scheduler, workers)
        self._client = None
        self._cluster = None

    @property
    def distributed(self) -> bool:
        """True when the work runs on a Dask cluster."""
        return self.scheduler is not None

    @property
    def name(self) -> str:
        """How the work runs, for messages: ``serial``, ``local cluster of N workers`` or the address."""
        if self.scheduler is None:
            return "serial"
        if self.scheduler == LOCAL:
            return f"local cluster of {self.workers} worker{'s' if self.workers != 1 else ''}"
        return f"scheduler {self.scheduler}"

    # ------------------------------------------------------------------ set-up and tear-down
    def __enter__(self) -> "FrameMap":
        if self.scheduler is None:
            return self
        try:
            from distributed import Client
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise UserError(f"needs the package 'distributed' ({exc})", parameter="scheduler") from None
        try:
            if self.scheduler == LOCAL:
                self._cluster = local_cluster(self.workers)
                self._client = Client(self._cluster)
            else:
                self._connect(Client)
            self._check_workers()
        except BaseException:
            self.close()
            raise
        return self

    def _connect(self, client_class) -> None:
        try:
            self._client = client_class(self.scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
        except (OSError, TimeoutError) as exc:
            raise UserError(f"scheduler {self.scheduler}: cannot connect ({_one_line(exc)})") from None
        try:
            self._client.wait_for_workers(1, timeout=WORKER_WAIT_S)
        except TimeoutError:
            raise UserError(f"scheduler {self.scheduler}: no worker joined within {WORKER_WAIT_S:g} s; "
                            "start the workers first") from None

    def _check_workers(self) -> None:
        """Every worker imports euv2mag, at this process's versions of it and of CHECKED_DISTRIBUTIONS."""
        want = _version_probe()()
        answers = self._client.run(_version_probe())
        where = "local cluster" if self.scheduler == LOCAL else f"scheduler {self.scheduler}"
        for addr, got in sorted(answers.items()):
            for name, version in want.items():
                theirs = got.get(name, "not installed")
                if theirs == version:
                    continue
                if name == "euv2mag" and theirs.startswith("cannot import"):
                    detail = theirs
                else:
                    detail = f"{name} {theirs}, but this process has {name} {version}"
                others = sum(1 for a, g in answers.items()
                             if a != addr and any(g.get(n, "not installed") != v for n, v in want.items()))
                more = f" (and {others} more)" if others else ""
                raise UserError(f"{where}: worker {addr}{more}: {detail}; install the same euv2mag environment on "
                                "the workers")

    def close(self) -> None:
        """Close the client and the local cluster (if any); safe to call twice."""
        client, cluster, self._client, self._cluster = self._client, self._cluster, None, None
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001 - a lost scheduler cannot be closed politely
                pass
        if cluster is not None:
            cluster.close()

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ the map
    @property
    def nthreads(self) -> int:
        """Worker threads of the cluster (1 on the serial path)."""
        if self._client is None:
            return 1
        return max(1, sum(self._client.nthreads().values()))

    def check_shared_folder(self, folder: str | os.PathLike) -> None:
        """Check that every worker can create a file in ``folder`` and that this process sees it there.

        For jobs whose workers write into the output (``prepare``): the workers must see the
        client's output folder at the same path, on a shared filesystem.  Each worker creates an
        empty file with a fresh name in ``folder``; this process looks for it and removes it.
        Nothing is checked on the serial path.

        Raises
        ------
        UserError
            One line naming the worker: it cannot create a file there (no such folder, no
            permission), or its file is not in this process's ``folder`` (another filesystem
            mounted at that path).
        """
        if self._client is None:
            return
        folder = Path(folder)
        answers = self._client.run(_write_probe, str(folder), uuid.uuid4().hex)
        where = "local cluster" if self.scheduler == LOCAL else f"scheduler {self.scheduler}"
        need = "the output must be on a filesystem the workers share, at the same path"
        try:
            for addr, (name, error) in sorted(answers.items()):
                if error:
                    raise UserError(f"{where}: worker {addr} cannot write into {folder} ({error}); {need}")
                if not (folder / name).is_file():
                    raise UserError(f"{where}: worker {addr} writes into another {folder} than this process "
                                    f"(its file is not here); {need}")
        finally:
            for name, error in answers.values():
                if not error:
                    with contextlib.suppress(OSError):
                        (folder / name).unlink()

    def batch_size(self, n_items: int, max_batch: int | None = None) -> int:
        """Items per task for a map of ``n_items`` items: 1 on the serial path.

        On a cluster, ``n_items // (TASKS_PER_THREAD x nthreads)`` (each worker thread gets at
        least :data:`TASKS_PER_THREAD` tasks) bounded to 1 .. ``max_batch``; e.g. 32 items on 2
        workers give 4 items per task, on 1 worker 8.

        Parameters
        ----------
        n_items : int
            Items the map will have.
        max_batch : int, optional
            At most this many items per task (default :data:`MAX_BATCH`).

        Returns
        -------
        int
            ``batch`` for :meth:`map`, >= 1.
        """
        if self._client is None:
            return 1
        cap = MAX_BATCH if max_batch is None else int(max_batch)
        return max(1, min(cap, int(n_items) // (TASKS_PER_THREAD * self.nthreads)))

    def map(self, func: Callable, items: Iterable, *, settle: bool = False, batch: int = 1) -> Iterator:
        """Yield ``func(item)`` for each item, in the order of ``items``.

        Parameters
        ----------
        func : callable
            A pure function of one item, importable by the workers (a module-level function of
            euv2mag); its result is sent back to this process.
        items : iterable
            Work items (picklable: paths, indices, frozen parameter dataclasses).
        settle : bool
            When the caller stops iterating early (an error, or ``close()`` of the generator),
            wait up to :data:`SETTLE_TIMEOUT_S` for the items already submitted to finish
            instead of cancelling them: for a ``func`` that writes files, so that none is written
            after the generator is closed (a task already running cannot be cancelled).  Close
            the generator explicitly (``contextlib.closing``) before removing what it writes into.
        batch : int
            On a cluster, consecutive items per task (>= 1; :meth:`batch_size` chooses one): the
            per-task overhead is paid once per ``batch`` items.  A task's results come back
            together (keep ``batch`` x a result's size small); an item whose ``func`` raises
            ends its task: the results of the items before it are yielded, then the error is
            raised.  Ignored on the serial path.

        Yields
        ------
        object
            ``func(item)``, in item order.  On a cluster at most ``2 x`` :attr:`nthreads` tasks
            are in flight; the remaining ones are cancelled (or, ``settle``, finished) when the
            caller stops iterating.

        Raises
        ------
        UserError
            The error ``func`` raised for an item (re-raised as is), or the cluster was lost.
        """
        if isinstance(batch, bool) or int(batch) != batch or batch < 1:
            raise ValueError(f"batch must be a whole number >= 1, got {batch!r}")
        if self._client is None:
            if self.scheduler is not None:
                raise RuntimeError("FrameMap.map on a cluster needs the 'with FrameMap(...)' block")
            for item in items:
                yield func(item)
            return
        client = self._client
        source = iter(items)
        window = 2 * self.nthreads

        def submit():  # the next task (None when the items are used up)
            chunk = list(islice(source, batch))
            if not chunk:
                return None
            if batch == 1:
                return client.submit(func, chunk[0], pure=False)
            return client.submit(_call_batch, func, chunk, pure=False)

        pending = deque()
        while len(pending) < window and (future := submit()) is not None:
            pending.append(future)
        try:
            while pending:
                future = pending.popleft()
                try:
                    result = future.result()
                except UserError:
                    raise
                except Exception as exc:  # noqa: BLE001 - sorted below
                    raise self._lost(exc) from None
                if (following := submit()) is not None:
                    pending.append(following)
                future.release()
                if batch == 1:
                    yield result
                    continue
                results, error = result
                yield from results
                if error is not None:
                    raise error if isinstance(error, UserError) else self._lost(error)
        finally:
            if pending and settle:
                from distributed import wait

                with contextlib.suppress(Exception):  # failed or lost tasks write nothing more
                    wait(list(pending), timeout=SETTLE_TIMEOUT_S)
            if pending:
                try:
                    client.cancel(list(pending))
                except Exception:  # noqa: BLE001 - the cluster may be gone already
                    pass

    def _lost(self, exc: BaseException) -> BaseException:
        """The one-line error for a task that failed for a reason of the cluster, not of its input."""
        from distributed import KilledWorker
        from distributed.comm.core import CommClosedError

        where = self.name
        if isinstance(exc, ImportError) and "euv2mag" in str(exc):
            return UserError(f"{where}: a worker cannot import euv2mag ({_one_line(exc)}); "
                             "install the same euv2mag environment on the workers")
        if isinstance(exc, (KilledWorker, CommClosedError, OSError, TimeoutError)) or type(exc).__name__ == "CancelledError":
            return ClusterLost(f"{where}: the cluster failed while working ({_one_line(exc)}); "
                             "the frames done so far are kept: re-run the same command to resume")
        return exc


def _call_batch(func: Callable, items: list) -> tuple[list, BaseException | None]:
    """One task of :meth:`FrameMap.map` with ``batch`` > 1: ``([func(item), ...], None)``, or the
    results of the items before the first that raised, and that item's exception."""
    results = []
    for item in items:
        try:
            results.append(func(item))
        except Exception as exc:  # noqa: BLE001 - re-raised by the client, after the results before it
            return results, exc
    return results, None


def _write_probe(folder: str, token: str) -> tuple[str, str]:
    """Run on every worker by :meth:`FrameMap.check_shared_folder`: ``(file name, "")`` once an empty
    file of a fresh name is created in ``folder``, or ``("", why)`` when it cannot be."""
    name = f".euv2mag-probe-{token}-{socket.gethostname()}-{os.getpid()}"
    try:
        fd = os.open(os.path.join(folder, name), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except OSError as exc:
        return "", _one_line(exc)
    os.close(fd)
    return name, ""


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__
