"""Denormal flushing on every intra-op thread, not only on the calling one.

``torch.set_flush_denormal`` sets the FTZ/DAZ bits of the *calling* thread's MXCSR only.  The
worker threads of PyTorch's intra-op pool (OpenMP in the CPU wheels) keep the MXCSR they were
created with: a worker inherits its creator's bits when the pool is started (at the first
parallel region of the thread that owns it) and never again.  A fresh ``euv2mag train`` starts
its pool inside the first training step, after the flag was set, so every thread flushes; a
resumed run (or any process that ran a parallel torch operation earlier) starts the pool while
loading, before the flag, so its workers keep denormals while the main thread flushes them:
the split of each operation between the threads then decides which values become zero, and
the resumed run leaves the uninterrupted one.

:func:`flush_denormal_everywhere` sets the flag on the calling thread, copies the calling
thread's floating-point environment (``fegetenv``/``fesetenv`` of the C library, which hold
MXCSR) to every thread of the OpenMP pool with one ``GOMP_parallel`` region (libgomp, or the
GNU-compatible entry point of Intel's libiomp5), and then checks the result on a tensor large
enough to reach every thread; a pool it cannot bring into line is refused, never trained with.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
from pathlib import Path

import torch

from ..errors import UserError

__all__ = ["flush_denormal_everywhere", "thread_flush_states"]

#: ``at::internal::GRAIN_SIZE``: the fewest elements an element-wise operation gives one thread.
_GRAIN = 32768


@functools.lru_cache(maxsize=1)
def _openmp_entry():
    """``(GOMP_parallel, fesetenv, fegetenv)`` of this process as ctypes functions, or None."""
    try:
        maps = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return None
    libs = sorted({line.split()[-1] for line in maps if ("libgomp" in line or "libiomp5" in line) and "/" in line})
    libm_name = ctypes.util.find_library("m")
    if not libs or not libm_name:
        return None
    try:
        omp = ctypes.CDLL(libs[0])
        libm = ctypes.CDLL(libm_name)
        parallel, setenv, getenv = omp.GOMP_parallel, libm.fesetenv, libm.fegetenv
    except (OSError, AttributeError):
        return None
    parallel.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint]
    parallel.restype = None
    return parallel, setenv, getenv


def thread_flush_states(n_threads: int | None = None) -> set[bool]:
    """Whether the intra-op threads flush denormal results to zero, as observed.

    Multiplies ``2 * GRAIN_SIZE * n_threads`` copies of ``1e-20`` by ``1e-20`` (a denormal
    result, about ``1e-40``), so that every thread of the pool computes a part.

    Parameters
    ----------
    n_threads : int, optional
        Threads to reach (default ``torch.get_num_threads()``).

    Returns
    -------
    set of bool
        ``{True}``: every thread flushed; ``{False}``: none did; ``{True, False}``: the
        threads disagree.
    """
    n = 2 * _GRAIN * max(int(n_threads or torch.get_num_threads()), 1)
    y = torch.full((n,), 1e-20, dtype=torch.float32) * 1e-20
    zeros = int((y == 0).sum())
    return {zeros > 0, zeros == n} if 0 < zeros < n else {zeros == n}


def flush_denormal_everywhere(on: bool) -> None:
    """Flush denormals to zero (or keep them) on the calling thread and on every intra-op thread.

    Parameters
    ----------
    on : bool
        True: FTZ and DAZ on (``torch.set_flush_denormal(True)``); False: both off.  Where the
        CPU cannot flush (``torch.set_flush_denormal`` returns False), nothing flushes.

    Raises
    ------
    UserError
        The threads still disagree afterwards (a pool that is not OpenMP, or whose library is
        not found): results would depend on which thread computed which part.
    """
    torch.set_flush_denormal(on)
    n_threads = torch.get_num_threads()
    if len(thread_flush_states(n_threads)) == 1:
        return
    entry = _openmp_entry()
    if entry is not None:
        parallel, setenv, getenv = entry
        env = ctypes.create_string_buffer(256)  # fenv_t: 32 bytes on x86-64 glibc
        if getenv(env) == 0:
            parallel(ctypes.cast(setenv, ctypes.c_void_p), ctypes.cast(env, ctypes.c_void_p), n_threads, 0)
    if len(thread_flush_states(n_threads)) != 1:
        raise UserError(
            f"denormal flushing ({'on' if on else 'off'}) could not be put in force on all {n_threads} intra-op "
            "threads (results would depend on which thread computed what); train in a fresh process, with one "
            "thread (OMP_NUM_THREADS=1), or with flush_denormal toggled"
        )
