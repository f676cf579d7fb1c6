"""Fault injection: ``synth``, ``train``, ``audit``, ``prepare``, ``import`` SIGKILLed at a seeded random point, re-run.

Each command runs as a subprocess (``python -m euv2mag ...``), is killed with SIGKILL while it
holds its writer lock, at a point drawn from a seeded generator (a delay, or a number of finished
items), and is run again with the same arguments.  The re-run takes over the dead writer's lock
(and says so), and its outputs are identical to those of an uninterrupted run: stores array for
array, the audit's ``summary.json``, the training's checkpoint tensors.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from _model_data import write_split
from euv2mag._lock import LOCK_NAME, lock_holder

SEED = 20261202
SYNTH = ["--start", "2011-01-01", "--end", "2011-01-20", "--size", "64", "--seed", "1"]  # 39 frames
TRAIN = ["--seeds", "0", "--iters", "60", "--val-every", "20", "--ckpt-every", "10", "--ngf", "4", "--ndf", "4",
         "--device", "cpu"]


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "EUV2MAG_NO_PROGRESS": "1",
            "OMP_NUM_THREADS": "1"}


def _command(*args) -> list[str]:
    return [sys.executable, "-m", "euv2mag", *map(str, args)]


def _run(*args) -> subprocess.CompletedProcess:
    return subprocess.run(_command(*args), env=_env(), capture_output=True, text=True, timeout=300)


def _wait_for(condition, proc, what: str, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"the command ended (status {proc.returncode}) before {what}"
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.01)


def _holds(folder: Path, proc) -> bool:
    return (lock_holder(folder) or {}).get("pid") == proc.pid


def _kill_then_rerun(args, locked: Path, ready, delay: float, between=None) -> subprocess.CompletedProcess:
    """Start the command, SIGKILL it ``delay`` s after ``ready()``, check the stale lock, re-run it.

    ``between``, if given, is called after the kill and before the re-run.
    """
    proc = subprocess.Popen(_command(*args), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: _holds(locked, proc), proc, f"the lock of {locked}")
        _wait_for(ready, proc, "the kill point")
        time.sleep(delay)
        assert proc.poll() is None, "the command finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert (lock_holder(locked) or {}).get("pid") == proc.pid  # the dead writer's record is still there
    if between is not None:
        between()
    again = _run(*args)
    assert again.returncode == 0, again.stderr
    assert f"took over the writer lock left by process {proc.pid}" in again.stderr
    assert not (locked / LOCK_NAME).exists()
    return again


def _assert_same_store(a: Path, b: Path) -> None:
    import zarr

    ga, gb = zarr.open_group(str(a), mode="r"), zarr.open_group(str(b), mode="r")
    assert ga.attrs["complete"] is True and dict(ga.attrs) == dict(gb.attrs)
    names = sorted(ga.array_keys())
    assert names == sorted(gb.array_keys())
    for name in names:
        np.testing.assert_array_equal(ga[name][:], gb[name][:], err_msg=name)
    for geom in ("rsun_px", "cdelt_arcsec", "b0_deg", "dsun_m"):
        assert np.isfinite(ga[geom][:]).all()
    assert all(ga["time"][:])
    for table in ga["tables"].group_keys():
        for column in ga["tables"][table].array_keys():
            np.testing.assert_array_equal(ga["tables"][table][column][:], gb["tables"][table][column][:])


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted runs: a synthetic store, a prediction store, its audit, a training run."""
    from euv2mag.data.store import FrameStore, StoreWriter

    root = tmp_path_factory.mktemp("reference")
    store = root / "synth.zarr"
    done = _run("synth", store, *SYNTH)
    assert done.returncode == 0, done.stderr
    truth = FrameStore(store)
    rng = np.random.default_rng(5)
    preds = {}
    for model, gain in (("a", 0.8), ("b", -0.5)):  # two models' predictions
        preds[model] = root / f"pred-{model}.zarr"
        with StoreWriter.open(preds[model], n_frames=truth.n_frames, shape=truth.shape, arrays=("pred",),
                              kind="prediction", params={"test": "faults", "model": model}) as w:
            for i in range(truth.n_frames):
                w.write_frame(i, truth.geometry(i), pred=truth.read("mag", i) * gain + rng.normal(0, 5, truth.shape))
            w.finish()
    split = write_split(root / "split.json", list(range(0, 12)), val=[12, 13], test=list(range(14, truth.n_frames)),
                        times=[str(t) for t in truth.times])  # a split bound to this store's frames
    runs = root / "runs"
    done = _run("train", store, "--split", split, "--out", runs, *TRAIN)
    assert done.returncode == 0, done.stderr
    return {"store": store, "preds": preds, "split": split, "runs": runs}


@pytest.mark.slow
def test_synth_killed_then_rerun_equals_an_uninterrupted_store(reference, tmp_path):
    delay = random.Random(SEED).uniform(0.0, 0.5)
    out = tmp_path / "synth.zarr"
    _kill_then_rerun(["synth", out, *SYNTH], out, lambda: True, delay)
    _assert_same_store(out, reference["store"])


@pytest.mark.slow
def test_audit_killed_then_rerun_gives_the_same_summary(reference, tmp_path):
    """Killed mid-way; meanwhile the prediction store is regenerated by another model; re-run.

    The re-run's ``summary.json`` equals an uninterrupted audit of the store as it is now (with a
    cache keyed by paths, the frames cached before the kill kept the first model's numbers).
    """
    import shutil

    from euv2mag.audit import audit_stores

    after = random.Random(SEED + 1).randint(1, 12)  # frames audited before the kill
    pred, out = tmp_path / "pred.zarr", tmp_path / "audit"
    shutil.copytree(reference["preds"]["a"], pred)

    _kill_then_rerun(["audit", "--truth", reference["store"], "--pred", pred, "--out", out, "--n-boot", "20"], out,
                     lambda: len(list((out / ".cache").rglob("*.json"))) >= after, 0.0,
                     between=lambda: (shutil.rmtree(pred), shutil.copytree(reference["preds"]["b"], pred)))
    fresh = tmp_path / "fresh"
    audit_stores(reference["store"], [pred], n_boot=20, out=fresh)
    assert json.loads((out / "summary.json").read_text()) == json.loads((fresh / "summary.json").read_text())
    assert not (out / ".cache").exists()


def _tensors(obj, prefix=""):
    import torch

    if isinstance(obj, torch.Tensor):
        return {prefix: obj}
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            out.update(_tensors(v, f"{prefix}/{k}"))
        return out
    if isinstance(obj, (list, tuple)):
        out = {}
        for k, v in enumerate(obj):
            out.update(_tensors(v, f"{prefix}/{k}"))
        return out
    return {}


@pytest.mark.slow
def test_train_killed_then_resumed_gives_the_same_checkpoints(reference, tmp_path):
    import torch

    delay = random.Random(SEED + 2).uniform(0.0, 0.15)  # after the first last.ckpt (iteration 10 of 60)
    out = tmp_path / "runs"
    args = ["train", reference["store"], "--split", reference["split"], "--out", out, *TRAIN, "--resume"]
    _kill_then_rerun(args, out / "seed-0", lambda: (out / "seed-0" / "last.ckpt").exists(), delay)
    for name in ("last.ckpt", "best.ckpt"):
        a = _tensors(torch.load(out / "seed-0" / name, map_location="cpu", weights_only=False))
        b = _tensors(torch.load(reference["runs"] / "seed-0" / name, map_location="cpu", weights_only=False))
        assert a.keys() == b.keys() and len(a) > 10
        assert all(torch.equal(a[k], b[k]) for k in a), name


@pytest.mark.slow
def test_prepare_killed_then_rerun_equals_an_uninterrupted_store(tmp_path):
    """``prepare`` of synthetic level-1-like FITS files, SIGKILLed while it writes its staging store."""
    fits = tmp_path / "fits"
    done = _run("synth", tmp_path / "s.zarr", "--start", "2011-01-01", "--end", "2011-01-08", "--size", "64",
                "--seed", "3", "--fits-dir", fits)
    assert done.returncode == 0, done.stderr
    aia, hmi = sorted(map(str, fits.glob("aia_*.fits"))), sorted(map(str, fits.glob("hmi_*.fits")))
    assert len(aia) == len(hmi) == 15

    def prepare(out):
        return ["prepare", "--no-progress", "--aia", *aia, "--hmi", *hmi, "--size", "64", out]

    alone = tmp_path / "alone.zarr"
    done = _run(*prepare(alone))
    assert done.returncode == 0, done.stderr
    out = tmp_path / "p.zarr"
    delay = random.Random(SEED + 3).uniform(0.0, 0.3)
    _kill_then_rerun(prepare(out), tmp_path / ".p.zarr.staging", lambda: True, delay)
    _assert_same_store(out, alone)
    assert not (tmp_path / ".p.zarr.staging").exists()


def _staged_frames(staging: Path, array: str = "pred") -> int:
    """Chunk files of ``array`` in a store being written (one frame a chunk; the last may be partial)."""
    folder = staging / array
    return sum(1 for f in folder.iterdir() if not f.name.startswith(".")) if folder.is_dir() else 0


@pytest.mark.slow
def test_import_killed_then_rerun_equals_an_uninterrupted_store(tmp_path):
    """``import`` SIGKILLed after some frames: no published store, only the hidden staging one; the
    re-run resumes there and publishes a store identical to an uninterrupted import."""
    import astropy.units as u
    from astropy.io import fits
    from astropy.time import Time

    from euv2mag.data import import_predictions
    from euv2mag.data.maps import wcs_header
    from euv2mag.data.store import StoreWriter
    from euv2mag.geometry import DiskGeometry

    n, size = 12, 32
    rng = np.random.default_rng(9)
    truth, folder = tmp_path / "truth.zarr", tmp_path / "fits"
    folder.mkdir()
    times = Time("2016-07-07T00:00:00") + np.arange(n) * u.hour
    with StoreWriter.open(truth, n_frames=n, shape=(size, size), arrays=("mag",), kind="synthetic",
                          params={"test": "import-faults"}) as w:
        for i, t in enumerate(times.isot):
            g = DiskGeometry((size, size), rsun_px=12.25, cdelt_arcsec=78.4, b0_deg=3.5, l0_deg=10.0 + i, time=t)
            mag = np.where(g.rho <= 1, rng.normal(0, 50, g.shape), np.nan).astype(np.float32)
            w.write_frame(i, g, mag=mag)
            header = wcs_header(g)
            header["BUNIT"] = "G"
            fits.PrimaryHDU(0.5 * mag, header=header).writeto(folder / f"pred_{i:03d}.fits")
        w.finish()
    files = sorted(map(str, folder.glob("*.fits")))
    alone = tmp_path / "alone.zarr"
    import_predictions(files, truth, alone, progress=False)

    out = tmp_path / "p.zarr"
    staging = tmp_path / ".p.zarr.staging"
    after = random.Random(SEED + 4).randint(2, 5)  # frames staged before the kill (of 12)

    def killed_state():
        assert not out.exists()  # nothing published, not even in part
        assert staging.is_dir() and after <= _staged_frames(staging) < n

    args = ["import", *files, "--like", truth, "--out", out, "--no-progress"]
    again = _kill_then_rerun(args, staging, lambda: _staged_frames(staging) >= after, 0.0, between=killed_state)
    assert f"{n} frames" in again.stdout
    _assert_same_store(out, alone)
    assert not staging.exists()
