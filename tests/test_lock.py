"""The writer lock: a second writer is refused with the holder named; a dead holder's lock is taken over."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from euv2mag._lock import LOCK_NAME, lock_holder, writer_lock
from euv2mag.errors import Euv2magWarning, UserError

HOLD = textwrap.dedent("""
    import sys, time
    from euv2mag._lock import writer_lock
    with writer_lock(sys.argv[1], what="store"):
        print("locked", flush=True)
        time.sleep(60)
""")


def _holder(folder):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_writer_is_refused_and_dead_holder_taken_over(tmp_path):
    proc = _holder(tmp_path)
    try:
        with pytest.raises(UserError) as err:
            with writer_lock(tmp_path):
                pass
        message = str(err.value)
        assert "\n" not in message and f"process {proc.pid}" in message and str(tmp_path) in message
        assert lock_holder(tmp_path)["pid"] == proc.pid
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    # the killed holder left its record; the kernel released its flock: taken over, and said so
    assert (tmp_path / LOCK_NAME).exists()
    with pytest.warns(Euv2magWarning, match=f"left by process {proc.pid}"):
        with writer_lock(tmp_path):
            assert lock_holder(tmp_path)["pid"] == os.getpid()
    assert not (tmp_path / LOCK_NAME).exists()


def test_lock_is_released_on_error_and_reentrant_after(tmp_path):
    with pytest.raises(RuntimeError):
        with writer_lock(tmp_path):
            raise RuntimeError("boom")
    start = time.perf_counter()
    with writer_lock(tmp_path):
        pass
    assert time.perf_counter() - start < 1.0 and not (tmp_path / LOCK_NAME).exists()
