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


# ---------------------------------------------------------------------- two writers of one output
def _cli_env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "EUV2MAG_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}


SLOW_CLI = textwrap.dedent("""
    import importlib, os, sys, time
    owner = importlib.import_module("{module}")
    *path, last = "{name}".split(".")
    for part in path:
        owner = getattr(owner, part)
    real = getattr(owner, last)
    def slow(*args, **kwargs):
        time.sleep({seconds})
        end = time.monotonic() + 300
        while {gate!r} and not os.path.exists({gate!r}) and time.monotonic() < end:
            time.sleep(0.01)
        return real(*args, **kwargs)
    setattr(owner, last, slow)
    from euv2mag.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def _slowed(argv, module: str, name: str, seconds: float, gate=None) -> subprocess.Popen:
    """The command ``euv2mag ARGV`` with ``module.name`` slowed down: the first writer, caught while it writes.

    Each call of ``module.name`` sleeps ``seconds``, then, with a ``gate`` path, waits until that file exists.
    """
    code = SLOW_CLI.format(module=module, name=name, seconds=seconds, gate=str(gate) if gate is not None else "")
    return subprocess.Popen([sys.executable, "-c", code, *map(str, argv)], env=_cli_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_until_writing(path, proc, timeout=120.0) -> None:
    """Wait until the first writer has written ``path`` (so it is in the middle of its work)."""
    end = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"the first writer ended before writing {path}: {proc.communicate()[1]}"
        assert time.monotonic() < end, f"the first writer never wrote {path}"
        time.sleep(0.01)


def _second(argv) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "euv2mag", *map(str, argv)], env=_cli_env(), capture_output=True,
                          text=True, timeout=300)


SYNTH = ["--start", "2011-01-01", "--end", "2011-01-04", "--size", "64", "--seed", "2"]  # 7 frames


@pytest.mark.slow
def test_second_synth_into_one_store_is_refused_and_the_first_completes_intact(tmp_path):
    import numpy as np
    import zarr

    from euv2mag.cli import main

    store, gate = tmp_path / "r.zarr", tmp_path / "go"
    # the first renders no frame before the gate opens: the second process (seconds to import on a busy
    # machine) meets it still writing, however slow the machine; the gate opens once the second was refused
    first = _slowed(["synth", store, *SYNTH], "euv2mag.data.synthetic.writer", "render_frame", 0.0, gate=gate)
    try:
        _wait_until_writing(store / ".zgroup", first)
        second = _second(["synth", store, *SYNTH])
        assert first.poll() is None  # the second ran while the first was writing
        gate.touch()
        out, err = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert second.returncode == 2
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and f"is being written by process {first.pid} on " in lines[0] and str(store) in lines[0]
    assert first.returncode == 0, err
    # the store is intact: every frame's geometry finite and time set, array for array the store written alone
    alone = tmp_path / "alone.zarr"
    assert main(["synth", str(alone), *SYNTH]) == 0
    a, b = zarr.open_group(str(store), mode="r"), zarr.open_group(str(alone), mode="r")
    assert a.attrs["complete"] is True and sorted(a.array_keys()) == sorted(b.array_keys())
    for name in ("rsun_px", "cdelt_arcsec", "b0_deg", "l0_deg", "dsun_m"):
        assert np.isfinite(a[name][:]).all()
    assert all(a["time"][:])
    for name in a.array_keys():
        np.testing.assert_array_equal(a[name][:], b[name][:], err_msg=name)
    assert not (store / LOCK_NAME).exists()


@pytest.mark.slow
def test_second_train_into_one_out_folder_is_refused(tmp_path):
    from _model_data import make_pair_store, write_split

    store = make_pair_store(tmp_path / "pairs.zarr", n_frames=4, size=64)
    split = write_split(tmp_path / "split.json", [0, 1], val=[2], test=[3])
    out = tmp_path / "runs"
    # 40 slowed steps: the first is still training whenever the second starts; it is killed after
    common = [store, "--split", split, "--out", out, "--iters", "40", "--val-every", "2", "--ckpt-every", "2",
              "--ngf", "4", "--ndf", "4", "--device", "cpu"]
    first = _slowed(["train", *common, "--seeds", "0"], "euv2mag.model.train", "Pix2PixTrainer.step", 1.0)
    try:
        _wait_until_writing(out / "seed-0" / "config.toml", first)
        second = _second(["train", *common, "--seeds", "1"])  # another seed, the same --out: runs.json is shared
        assert first.poll() is None
    finally:
        first.send_signal(signal.SIGKILL)  # the first need not finish: only the refusal is tested
        first.communicate()
    assert second.returncode == 2
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and f"is being written by process {first.pid} on " in lines[0]
    assert not (out / "seed-1").exists()  # the refused run wrote nothing
