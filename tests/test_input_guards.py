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
