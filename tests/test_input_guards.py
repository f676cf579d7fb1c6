"""Nothing silently wrong: a bad file never displaces a good one, splits are bound to their
store, a full disk and bad options give one line (exit 2) and leave nothing half-written."""
from __future__ import annotations

import errno
import json

import numpy as np
import pandas as pd
import pytest

import fits_factory as ff
from _model_data import make_pair_store, write_split
from euv2mag.cli import main
from euv2mag.data.splits import load_split, make_split
from euv2mag.data.splits import write_split as write_split_file
from euv2mag.data.store import FrameStore
from euv2mag.errors import UserError


def _err(capsys) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


# ------------------------------------------------------------------ 3: same-time files in prepare
@pytest.mark.parametrize("mode", ["hmi-only", "paired"])
def test_bad_same_time_file_does_not_displace_the_good_one(tmp_path, capsys, mode):
    folder = tmp_path / "hmi"
    folder.mkdir()
    t = "2016-07-08T00:00:00.000"
    bad = ff.write_fits(folder / "aa_nan.fits", n=128, data=np.full((128, 128), np.nan), compressed=False, time=t)
    good = ff.write_fits(folder / "zz_good.fits", n=128, time=t)
    out = tmp_path / "out.zarr"
    argv = ["prepare", "--no-progress", "--hmi", str(folder), str(out), "--size", "64"]
    if mode == "paired":
        argv += ["--aia", str(ff.write_fits(tmp_path / "a.fits", "aia", n=128, time="2016-07-08T00:00:20.000", crota2=0.0))]
    assert main(argv) == 0, _err(capsys)
    store = FrameStore(out)
    assert store.n_frames == 1 and np.isfinite(store.read("mag", 0)).any()
    assert store.attrs["provenance"]["frames"][0]["hmi"] == str(good)
    report = pd.read_csv(str(out) + ".skipped.csv")
    assert report["file"].tolist() == [str(bad)] and report["reason"].tolist() == ["image is NaN-only"]


def test_two_good_same_time_files_keep_the_first_and_report_the_other(tmp_path, capsys):
    t = "2016-07-08T00:00:00.000"
    first = ff.write_fits(tmp_path / "a.fits", n=128, time=t)
    second = ff.write_fits(tmp_path / "b.fits", n=128, time=t)
    out = tmp_path / "out.zarr"
    assert main(["prepare", "--no-progress", "--hmi", str(first), str(second), str(out), "--size", "64"]) == 0
    assert FrameStore(out).attrs["provenance"]["frames"][0]["hmi"] == str(first)
    report = pd.read_csv(str(out) + ".skipped.csv")
    assert report["file"].tolist() == [str(second)]
    assert report["reason"][0] == f"duplicate observation time {t} (also in {first})"


# ------------------------------------------------------------------ 4: splits bound to their store
def _other_store(tmp_path, n_frames=6):
    """A store with as many frames as ``store64`` but observed a year later."""
    from euv2mag.data.store import StoreWriter
    from euv2mag.geometry import DiskGeometry, default_rsun_px

    path = tmp_path / "other.zarr"
    src = FrameStore(make_pair_store(tmp_path / "src.zarr", n_frames=n_frames, size=64))
    writer = StoreWriter.open(path, n_frames=n_frames, shape=(64, 64), arrays=("euv", "mag"), kind="synthetic",
                              params={"test": "other"})
    for i in range(n_frames):
        g = src.geometry(i)
        geom = DiskGeometry(shape=(64, 64), rsun_px=default_rsun_px(64), cdelt_arcsec=g.cdelt_arcsec, b0_deg=g.b0_deg,
                            l0_deg=g.l0_deg, time=f"2016-01-{i + 1:02d}T00:00:00")
        writer.write_frame(i, geom, euv=src.read("euv", i), mag=src.read("mag", i))
    writer.finish()
    return path


def test_split_of_another_store_is_refused_by_train_predict_and_leakage(tmp_path, capsys):
    store = make_pair_store(tmp_path / "pairs.zarr", n_frames=6, size=64)
    other = _other_store(tmp_path)
    split = tmp_path / "split.json"
    assert main(["split", str(other), "--scheme", "random", "--test-fraction", "0.34", str(split)]) == 0
    capsys.readouterr()
    for argv in (["train", str(store), "--split", str(split), "--out", str(tmp_path / "runs"), "--iters", "1"],
                 ["predict", str(tmp_path / "runs" / "seed-0"), str(store), "--out", str(tmp_path / "pred.zarr"),
                  "--split", str(split)],
                 ["leakage", str(store), "--split", str(split), "--out", str(tmp_path / "leak")]):
        assert main(argv) == 2, argv
        err = _err(capsys)
        assert len(err) == 1 and "was made for other frames" in err[0] and str(split) in err[0], err
    assert not (tmp_path / "runs").exists() and not (tmp_path / "pred.zarr").exists()
    from euv2mag.data.splits import frames_digest

    assert json.loads(split.read_text())["frames"] == {"n": 6, "sha256": frames_digest(FrameStore(other).times)}


def test_bind_split_checks_the_digest_and_old_files_still_load(tmp_path):
    from euv2mag.data.splits import bind_split, frames_digest

    times = [f"2015-01-{i + 1:02d}T00:00:00" for i in range(6)]
    split = make_split(times, "random", test_fraction=0.34)
    assert bind_split(split, times) is split
    # the same times plus one more frame: every index still matches, the digest does not
    with pytest.raises(UserError, match="split 6 frames, the store has 7"):
        bind_split(split, [*times, "2015-01-07T00:00:00"])
    # an old file (no "frames" key) whose sets cover every frame gets its digest from its times
    old = write_split(tmp_path / "old.json", [0, 1, 2], val=[3], test=[4, 5])
    loaded = load_split(old, store=times)
    assert loaded.frames == {"n": 6, "sha256": frames_digest(times)}
    with pytest.raises(UserError, match="was made for other frames"):
        load_split(old, store=[t.replace("2015", "2016") for t in times])
    # a written split round-trips its binding
    path = write_split_file(split, tmp_path / "new.json")
    assert load_split(path, store=times).frames == split.frames


# ------------------------------------------------------------------ 6: full disk, bad out/seeds
def _disk_full_after(monkeypatch, cls, name, n_ok):
    """Make ``cls.name`` raise ENOSPC (as a write on a full disk does) after ``n_ok`` calls."""
    real = getattr(cls, name)
    calls = []

    def full(self, *args, **kwargs):
        calls.append(1)
        if len(calls) > n_ok:
            raise OSError(errno.ENOSPC, "No space left on device", str(getattr(self, "path", "")))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, full)


def _partials(folder):
    return sorted(str(p) for p in folder.rglob("*") if "partial" in p.name or "staging" in p.name)


def test_disk_full_in_synth_is_one_line_and_rerun_resumes(tmp_path, capsys, monkeypatch):
    from euv2mag.data.store import StoreWriter

    out = tmp_path / "s.zarr"
    argv = ["synth", str(out), "--start", "2012-05-01", "--end", "2012-05-02", "--cadence", "12h", "--size", "64"]
    with monkeypatch.context() as m:
        _disk_full_after(m, StoreWriter, "write_frame", 1)
        assert main(argv) == 2
    err = _err(capsys)
    assert len(err) == 1 and "no space left on device" in err[0] and "re-run the same command to resume" in err[0]
    assert not FrameStore(out, require_complete=False).complete and _partials(tmp_path) == []
    assert main(argv) == 0
    assert "(2 written now" in capsys.readouterr().out  # frame 0 was kept, frames 1 and 2 written now
    assert FrameStore(out).complete and FrameStore(out).n_frames == 3


def test_disk_full_in_prepare_is_one_line_and_rerun_resumes(tmp_path, capsys, monkeypatch):
    from euv2mag.data.store import StoreWriter

    files = [ff.write_fits(tmp_path / f"h{k}.fits", n=128, time=f"2016-07-0{k + 1}T00:00:00.000") for k in range(2)]
    out = tmp_path / "out.zarr"
    argv = ["prepare", "--no-progress", "--hmi", *map(str, files), str(out), "--size", "64"]
    with monkeypatch.context() as m:
        _disk_full_after(m, StoreWriter, "write_frame", 1)
        assert main(argv) == 2
    err = _err(capsys)
    assert len(err) == 1 and "no space left on device" in err[0]
    assert not out.exists()  # the output only ever appears complete
    assert main(argv) == 0 and FrameStore(out).n_frames == 2


TRAIN_OPTIONS = ["--iters", "2", "--val-every", "1", "--ckpt-every", "1", "--ngf", "4", "--ndf", "4", "--device",
                 "cpu", "--euv-scaling", "linear", "--euv-vmax", "2000"]


@pytest.fixture(scope="module")
def train_inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    store = make_pair_store(root / "pairs.zarr", n_frames=4, size=64)
    split = write_split(root / "split.json", [0, 1], val=[2], test=[3])
    return store, split


def test_disk_full_in_train_is_one_line_and_resume_continues(train_inputs, tmp_path, capsys, monkeypatch):
    import torch

    from euv2mag.model import checkpoint

    store, split = train_inputs
    out = tmp_path / "runs"
    argv = ["train", str(store), "--split", str(split), "--out", str(out), *TRAIN_OPTIONS]

    def full(obj, f, *args, **kwargs):
        with open(f, "wb") as fh:
            fh.write(b"PK")  # a partly written file, as torch leaves it
        raise RuntimeError("[enforce fail at inline_container.cc:672] . PytorchStreamWriter failed writing file "
                           "data/0: file write failed")

    with monkeypatch.context() as m:
        m.setattr(checkpoint.torch, "save", full)
        assert main(argv) == 2
    err = _err(capsys)
    assert len(err) == 1 and "no space left on device" in err[0] and "with --resume" in err[0], err
    assert "Traceback" not in err[0] and _partials(out) == [] and not list(out.rglob("*.ckpt"))
    assert torch.save is not full
    assert main([*argv, "--resume"]) == 0, _err(capsys)
    assert (out / "seed-0" / "last.ckpt").is_file()


def test_train_refuses_a_file_as_out_and_negative_seeds(train_inputs, tmp_path, capsys):
    from euv2mag.model.config import TrainConfig
    from euv2mag.model.train import train_runs

    store, split = train_inputs
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["train", str(store), "--split", str(split), "--out", str(afile), *TRAIN_OPTIONS]) == 2
    err = _err(capsys)
    assert err == [f"euv2mag train: error: --out: {afile}: exists and is not a folder"]
    out = tmp_path / "runs"
    with pytest.raises(SystemExit) as info:  # argparse: usage, then the one error line
        main(["train", str(store), "--split", str(split), "--out", str(out), "--seeds", "-1", *TRAIN_OPTIONS])
    assert info.value.code == 2
    assert _err(capsys)[-1] == "euv2mag train: error: argument --seeds: expected an integer >= 0, got '-1'"
    with pytest.raises(UserError, match="seeds: must be integers >= 0"):
        train_runs(store, split, out, [0, -1], TrainConfig(iters=1, ngf=4, ndf=4), progress=False)
    assert not out.exists()


# ------------------------------------------------------------------ 7: smaller ones
def test_interrupted_train_says_resume(train_inputs, tmp_path, capsys, monkeypatch):
    from euv2mag.model import train

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    store, split = train_inputs
    monkeypatch.setattr(train, "train_runs", interrupted)
    assert main(["train", str(store), "--split", str(split), "--out", str(tmp_path / "r")]) == 130
    assert _err(capsys) == ["euv2mag train: interrupted; re-run the same command with --resume to resume"]
    from euv2mag.data import synthetic

    monkeypatch.setattr(synthetic, "synthesize_views", interrupted)
    assert main(["synth", str(tmp_path / "s.zarr")]) == 130
    assert _err(capsys) == ["euv2mag synth: interrupted; re-run the same command to resume"]


def test_negative_jitter_is_refused(train_inputs, tmp_path, capsys):
    store, split = train_inputs
    with pytest.raises(SystemExit) as info:
        main(["train", str(store), "--split", str(split), "--out", str(tmp_path / "r"), "--jitter", "-1"])
    assert info.value.code == 2
    err = _err(capsys)
    assert "--jitter" in err[-1] and "-1" in err[-1] and not (tmp_path / "r").exists()


@pytest.mark.parametrize("bad", ["", "file"])
def test_synth_bad_fits_dir_leaves_nothing(tmp_path, capsys, bad):
    out = tmp_path / "s.zarr"
    if bad == "file":
        bad = str(tmp_path / "afile")
        (tmp_path / "afile").write_text("x")
    argv = ["synth", str(out), "--start", "2012-05-01", "--end", "2012-05-01", "--size", "64", "--fits-dir", bad]
    assert main(argv) == 2
    err = _err(capsys)
    assert len(err) == 1 and err[0].startswith("euv2mag synth: error: --fits-dir: ")
    assert ("is empty" in err[0]) if bad == "" else ("exists and is not a folder" in err[0])
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == (["afile"] if bad else [])


def test_synth_cadence_making_too_many_frames_is_refused_at_once(tmp_path, capsys):
    from euv2mag.data.synthetic import SynthParams
    from euv2mag.data.synthetic.timegrid import MAX_FRAMES, frame_times

    with pytest.raises(UserError, match=r"cadence: .* makes 2678401 frames, more than the maximum of 1000000"):
        frame_times(SynthParams(start="2011-01-01", end="2011-02-01", cadence="1s"))
    assert frame_times(SynthParams(start="2011-01-01", end="2011-01-02", cadence="1s")).size == 86401 < MAX_FRAMES
    out = tmp_path / "s.zarr"
    assert main(["synth", str(out), "--start", "2011-01-01", "--end", "2011-02-01", "--cadence", "1s"]) == 2
    err = _err(capsys)
    assert len(err) == 1 and err[0].startswith("euv2mag synth: error: --cadence: ") and "2678401 frames" in err[0]
    assert not out.exists()


def test_audit_refuses_the_same_prediction_twice(train_inputs, tmp_path, capsys):
    from euv2mag.data.store import StoreWriter

    store, _ = train_inputs
    src = FrameStore(store)
    pred = tmp_path / "pred.zarr"
    w = StoreWriter.open(pred, n_frames=src.n_frames, shape=src.shape, arrays=("pred",), kind="prediction",
                         params={"test": "twice"})
    for i in range(src.n_frames):
        w.write_frame(i, src.geometry(i), pred=src.read("mag", i))
    w.finish()
    out = tmp_path / "audit"
    assert main(["audit", "--truth", str(store), "--pred", str(pred), "--pred", str(pred), "--out", str(out)]) == 2
    err = _err(capsys)
    assert len(err) == 1 and "is given twice" in err[0] and str(pred) in err[0]
    assert not out.exists()


def test_empty_folder_argument_is_refused_not_taken_as_the_current_folder(tmp_path):
    from euv2mag._io import ensure_dir

    with pytest.raises(UserError, match=r"^fits_dir: is empty"):
        ensure_dir("", parameter="fits_dir")
    assert ensure_dir(tmp_path / "d", parameter="fits_dir").is_dir()
