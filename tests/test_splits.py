"""Splits: KPL19's month split leaks by one cadence step, the rotation split does not."""
from __future__ import annotations

import json

import numpy as np
import pytest

from euv2mag.cli import main
from euv2mag.data.splits import (
    carrington_rotations,
    load_split,
    make_split,
    nearest_gap_days,
    read_time_lists,
    write_split,
)
from euv2mag.errors import UserError


@pytest.fixture(scope="module")
def year_times() -> list[str]:
    """One year (2014) at 12 h cadence: 730 ISO times."""
    t = np.datetime64("2014-01-01T00:00:00", "s") + np.arange(730) * np.timedelta64(12, "h")
    return [str(x) for x in t]


@pytest.fixture(scope="module")
def year_rotations(year_times) -> np.ndarray:
    return carrington_rotations(year_times)


def _set(split, name):
    return np.asarray(split.indices(name), dtype=int)


def test_kpl19_split_leaks_one_cadence_step(year_times):
    split = make_split(year_times, "kpl19")
    months = np.array(year_times, dtype="datetime64[M]").astype(int) % 12 + 1
    test = _set(split, "test")
    # September (30 d) + October (31 d) at two frames a day
    assert test.size == 122
    assert set(months[test]) == {9, 10}
    assert set(months[_set(split, "train")]) == set(range(1, 13)) - {9, 10}
    assert split.summary["min_gap_test_train_days"] == pytest.approx(0.5, abs=1e-9)
    # median over test frames: the distance to the nearer edge of the 61-day block
    assert split.summary["median_gap_test_train_days"] == pytest.approx(15.5, abs=0.51)
    assert split.summary["n_dropped"] == 0 and split.summary["n_val"] == 0


def test_kpl19_validation_slice_is_end_of_each_year(year_times):
    split = make_split(year_times, "kpl19", val_fraction=0.1)
    val = _set(split, "val")
    assert val.size == round(0.1 * 608)  # 730 - 122 training frames
    # the last 61 frames of the year: 31 Dec back to 1 Dec 12:00
    assert val.tolist() == list(range(730 - 61, 730))


def test_rotation_split_has_buffer_of_a_whole_rotation(year_times, year_rotations):
    split = make_split(year_times, "rotation", seed=3)
    s = split.summary
    test, train, dropped = _set(split, "test"), _set(split, "train"), _set(split, "dropped")
    assert s["min_gap_test_train_days"] >= 27.0
    assert np.min(nearest_gap_days(np.array(year_times)[test], np.array(year_times)[train])) >= 27.0
    # no Carrington rotation on two sides; the buffer rotations are exactly those next to test ones
    test_rot, train_rot = set(year_rotations[test]), set(year_rotations[train])
    assert not test_rot & train_rot
    assert set(year_rotations[dropped]) == set(s["buffer_rotations"])
    assert all(min(abs(b - t) for t in test_rot) == 1 for b in s["buffer_rotations"])
    assert all(min(abs(r - t) for t in test_rot) >= 2 for r in train_rot)
    assert s["n_dropped"] == dropped.size > 0
    assert s["n_train"] + s["n_test"] + s["n_dropped"] == 730
    # every frame of a test rotation is test: whole rotations
    assert np.isin(year_rotations, sorted(test_rot)).sum() == test.size
    assert 0.1 < s["test_fraction"] < 0.35


def test_rotation_split_is_seeded_and_buffer_configurable(year_times, year_rotations):
    a = make_split(year_times, "rotation", seed=1)
    b = make_split(year_times, "rotation", seed=1)
    assert a.to_dict() == b.to_dict()
    others = [make_split(year_times, "rotation", seed=s).indices("test") for s in (2, 3)]
    assert any(o != a.indices("test") for o in others)
    wide = make_split(year_times, "rotation", seed=1, buffer_rotations=2, block_rotations=2)
    assert wide.summary["min_gap_test_train_days"] >= 2 * 27.0
    val = make_split(year_times, "rotation", seed=1, val_fraction=0.15)
    assert val.summary["n_val"] > 0
    assert val.summary["min_gap_test_val_days"] >= 27.0
    assert not set(year_rotations[_set(val, "val")]) & set(year_rotations[_set(val, "train")])


def test_random_split_counts_and_leak(year_times):
    split = make_split(year_times, "random", test_fraction=0.2, val_fraction=0.1, seed=0)
    assert (split.summary["n_test"], split.summary["n_val"], split.summary["n_train"]) == (146, 73, 511)
    assert split.summary["min_gap_test_train_days"] == pytest.approx(0.5)
    all_idx = sorted(split.indices("train") + split.indices("val") + split.indices("test"))
    assert all_idx == list(range(730))


def test_split_file_round_trip(tmp_path, year_times):
    split = make_split(year_times, "rotation", seed=0)
    path = write_split(split, tmp_path / "s.json")
    back = load_split(path, n_frames=730)
    assert back.scheme == "rotation"
    for name in ("train", "val", "test", "dropped"):
        assert back.indices(name) == split.indices(name)
        assert back.times(name) == [year_times[i] for i in split.indices(name)]
    assert back.summary["n_test"] == len(back.indices("test"))


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no such split file"),
        ("{not json", "is not valid JSON"),
        ('{"sets": {}}', "key 'scheme' is missing"),
        ('{"scheme": "kpl19", "sets": {"train": {"indices": [0], "times": ["2014-01-01"]}}}', "set 'test' is missing"),
        ('{"scheme": "kpl19", "sets": {"train": {"indices": [0], "times": ["a"]}, '
         '"test": {"indices": [5], "times": ["b"]}}}', "index 5 is outside the frames (0..4)"),
        ('{"scheme": "kpl19", "sets": {"train": {"indices": [0], "times": ["a"]}, '
         '"test": {"indices": [0], "times": ["b"]}}}', "frame 0 is in both"),
        ('{"scheme": "kpl19", "sets": {"train": {"indices": ["0"], "times": ["a"]}, '
         '"test": {"indices": [1], "times": ["b"]}}}', "must be a list of integers"),
    ],
)
def test_load_split_rejects_bad_files(tmp_path, content, message):
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(UserError) as info:
        load_split(path, n_frames=5)
    assert message in str(info.value) and str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_inputs_give_one_line_errors(tmp_path, capsys):
    good = tmp_path / "t.csv"
    good.write_text("time\n2014-01-01T00:00:00\n2014-09-01T00:00:00\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("time\n2014-01-01T00:00:00\nyesterday\n")
    cases = [
        (["split", "--scheme", "kpl19", str(tmp_path / "o.json"), "--times", str(tmp_path / "missing.csv")],
         "no such time-list file"),
        (["split", "--scheme", "kpl19", str(tmp_path / "o.json"), "--times", str(bad)], "line 3 ('yesterday') is not an ISO 8601 time"),
        (["split", "--scheme", "rotation", str(tmp_path / "o.json"), "--times", str(good)],
         "span only 2 Carrington rotation(s)"),
        (["split", str(tmp_path / "nostore.zarr"), str(tmp_path / "o.json"), "--scheme", "kpl19"], "no such store"),
        (["split", "--scheme", "kpl19", str(tmp_path / "o.txt"), "--times", str(good)], "must end in .json"),
    ]
    for argv, message in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "o.json").exists()
    with pytest.raises(SystemExit) as info:
        main(["split", "--scheme", "kpl19", "--test-fraction", "1.5", str(tmp_path / "o.json"), "--times", str(good)])
    assert info.value.code == 2


def test_split_command_on_a_store(tmp_path, capsys):
    from euv2mag.data.store import StoreWriter
    from euv2mag.geometry import DiskGeometry

    times = np.datetime64("2014-01-01T00:00:00", "s") + np.arange(37) * np.timedelta64(10, "D")
    writer = StoreWriter.open(tmp_path / "s.zarr", n_frames=37, shape=(4, 4), arrays=("mag",), kind="synthetic",
                              params={"test": 1})
    for i, t in enumerate(times):
        geom = DiskGeometry((4, 4), rsun_px=1.5, cdelt_arcsec=600.0, l0_deg=(360 - 13.2 * 10 * i) % 360,
                            time=str(t))
        writer.write_frame(i, geom, mag=np.zeros((4, 4)))
    writer.finish()
    out = tmp_path / "split.json"
    assert main(["split", str(tmp_path / "s.zarr"), str(out), "--scheme", "kpl19"]) == 0
    split = load_split(out, n_frames=37)
    months = times.astype("datetime64[M]").astype(int) % 12 + 1
    assert split.indices("test") == [int(i) for i in np.flatnonzero((months == 9) | (months == 10))]
    assert json.loads(out.read_text())["source"] == str(tmp_path / "s.zarr")
    assert "kpl19 split of 37 frames" in capsys.readouterr().out


@pytest.mark.realdata
def test_kpl19_reproduces_the_published_test_list(shared_data, tmp_path):
    folder = shared_data / "kpl19"
    train_file, test_file = folder / "data_train.csv", folder / "data_test.csv"
    out = tmp_path / "kpl19.json"
    assert main(["split", "-", str(out), "--scheme", "kpl19", "--times", str(train_file), str(test_file)]) == 0
    split = load_split(out, n_frames=4970)
    published_test = test_file.read_text().split()[1:]
    published_train = train_file.read_text().split()[1:]
    assert len(published_test) == 825 and len(published_train) == 4145
    assert split.times("test") == published_test
    assert split.times("train") == published_train
    assert split.summary["min_gap_test_train_days"] == pytest.approx(0.5)
    strings, _ = read_time_lists([test_file, train_file])  # order of the files does not matter
    assert strings == sorted(published_test + published_train)


def test_bad_parameters_are_named_by_python_name_and_by_flag(tmp_path, capsys):
    from euv2mag.data.splits import make_split, rotation_labels

    days = np.arange(np.datetime64("2014-01-01"), np.datetime64("2014-05-01"), np.timedelta64(1, "D"))
    times = [f"{d}T00:00:00" for d in days]  # 120 days: about 4.5 Carrington rotations
    for kwargs, parameter, problem in (
        ({"buffer_rotations": -1}, "buffer_rotations", "must be >= 0, got -1"),
        ({"block_rotations": 0}, "block_rotations", "must be >= 1, got 0"),
        ({"test_fraction": 1.5}, "test_fraction", "must lie between 0 and 1 (exclusive), got 1.5"),
        ({"val_fraction": -0.1}, "val_fraction", "must lie in [0, 1), got -0.1"),
    ):
        with pytest.raises(UserError) as info:
            rotation_labels(times, **kwargs)
        assert info.value.parameter == parameter and str(info.value) == f"{parameter}: {problem}"
    with pytest.raises(UserError, match=r"^buffer_rotations: no training frames are left .* lower it or the test fraction"):
        make_split(times, "rotation", test_fraction=0.9)
    csv = tmp_path / "t.csv"
    csv.write_text("time\n" + "\n".join(times) + "\n")
    assert main(["split", "--scheme", "rotation", str(tmp_path / "o.json"), "--times", str(csv), "--test-fraction", "0.9"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("euv2mag split: error: --buffer-rotations: no training frames are left after the test rotations")
    assert not (tmp_path / "o.json").exists()
