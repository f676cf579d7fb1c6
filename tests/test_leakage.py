"""Leakage study: known gaps, same-face gaps of one rotation, region re-appearance, real KPL19 times."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from euv2mag.audit.leakage import (
    excess_rotation_deg_per_day,
    frame_leakage,
    l0_for_times,
    position_matches,
    region_leakage,
    same_face_gap,
    summarize_frame_leakage,
    wrapped_abs_diff_deg,
)
from euv2mag.cli import main
from euv2mag.data.splits import make_split, write_split
from euv2mag.errors import UserError

# Howard, Harvey & Forgach (1990) sidereal law, A + B sin^2 + C sin^4 in µrad/s
HOWARD = (2.894, -0.428, -0.370)
URAD_S_TO_DEG_DAY = 86400e-6 * 180 / np.pi
CARRINGTON_DEG_DAY = 14.1844


def _howard_excess(lat_deg):
    s2 = np.sin(np.radians(lat_deg)) ** 2
    return (HOWARD[0] + HOWARD[1] * s2 + HOWARD[2] * s2 ** 2) * URAD_S_TO_DEG_DAY - CARRINGTON_DEG_DAY


def _daily(start: str, n: int) -> list[str]:
    t = np.datetime64(start, "s") + np.arange(n) * np.timedelta64(1, "D")
    return [str(x) for x in t]


def test_wrapped_longitude_difference():
    assert wrapped_abs_diff_deg(359.0, 1.0) == pytest.approx(2.0)
    assert wrapped_abs_diff_deg(10.0, 190.0) == pytest.approx(180.0)
    assert wrapped_abs_diff_deg([5.0, 350.0], -5.0).tolist() == pytest.approx([10.0, 5.0])


def test_known_gaps_and_same_face_one_rotation_back():
    times = _daily("2014-03-01T00:00:00", 100)
    l0 = l0_for_times(times)
    # sunpy's L0 falls by ~13.2 deg a day (synodic Carrington rotation)
    assert np.median(wrapped_abs_diff_deg(l0[1:], l0[:-1])) == pytest.approx(360 / 27.2753, abs=0.15)
    test = np.arange(40, 60)
    train = np.setdiff1d(np.arange(100), test)
    table = frame_leakage(test, [times[i] for i in test], l0[test], train, [times[i] for i in train], l0[train],
                          same_face_deg=10.0)
    expected = np.minimum(test - 39, 60 - test)
    assert table["gap_days"].to_numpy() == pytest.approx(expected, abs=1e-9)
    # with 1-d cadence the same face is 27 d earlier (|ΔL0| = 360 - 27 x 13.2 ≈ 3.6 deg); 1 d apart is 13 deg
    assert table["same_face_gap_days"].to_numpy() == pytest.approx(np.full(20, 27.0), abs=1e-9)
    assert (table["same_face_train_index"].to_numpy() == test - 27).all()
    s = summarize_frame_leakage(table)
    assert (s["min_gap_days"], s["median_gap_days"], s["max_gap_days"]) == pytest.approx((1.0, 5.5, 10.0))
    assert s["frac_same_face_within_1_rotation"] == 1.0
    assert s["frac_gap_le_1d"] == pytest.approx(0.1)


def test_same_face_gap_none_and_two_rotations():
    times = _daily("2014-03-01T00:00:00", 120)
    l0 = l0_for_times(times)
    test = np.arange(0, 5)
    train = np.arange(60, 120)  # the same face again after 2 rotations: day 54..55 is not training, 81..82 is
    gaps, nearest = same_face_gap([times[i] for i in test], l0[test], [times[i] for i in train], l0[train],
                                  same_face_deg=10.0)
    assert np.all((gaps > 2 * 27.2753 - 1) & (gaps < 3 * 27.2753 + 1))
    assert np.all(np.abs(gaps - 82) <= 1)
    table = frame_leakage(test, [times[i] for i in test], l0[test], train, [times[i] for i in train], l0[train])
    assert not table["same_face_within_2_rotations"].any()
    far = same_face_gap(times[:1], [0.0], times[1:2], [90.0])
    assert np.isinf(far[0][0]) and far[1][0] == -1


def test_differential_rotation_rate_matches_howard_law():
    lats = np.array([0.0, 15.0, 30.0, -45.0])
    assert excess_rotation_deg_per_day(lats) == pytest.approx(_howard_excess(lats), abs=1e-6)
    assert excess_rotation_deg_per_day([0.0])[0] == pytest.approx(0.1419, abs=1e-3)


def test_position_match_follows_differential_rotation():
    lat, lon0, dt = 30.0, 100.0, 27.0
    moved = lon0 + _howard_excess(lat) * dt  # ~13.6 deg behind after one rotation
    train = pd.DataFrame({"time": ["2014-01-01T00:00:00"], "lat_deg": [lat], "carrington_lon_deg": [lon0]})
    test = pd.DataFrame({"time": ["2014-01-28T00:00:00"] * 4, "lat_deg": [lat, lat, lat, lat + 6],
                         "carrington_lon_deg": [moved, lon0, moved + 4.0, moved]})
    hits = position_matches(test, train, tolerance_deg=5.0)
    assert hits.tolist() == [True, False, True, False]
    # a 3-deg tolerance rejects the 4-deg offset (4 deg of longitude at 30 deg lat is 3.46 deg of arc)
    assert position_matches(test, train, tolerance_deg=3.0).tolist() == [True, False, False, False]
    assert not position_matches(test, train, tolerance_deg=5.0, max_gap_days=20.0).any()
    # rigid rotation (no drift): only the unmoved position matches
    assert position_matches(test, train, model="rigid").tolist() == [False, True, False, False]


def test_position_matches_in_time_windows_equal_all_pairs_at_once():
    """Regions over 4 years in shuffled order, small chunks: the windowed search finds exactly the
    matches of the all-pairs computation (great-circle distance after differential rotation, gap)."""
    from astropy.coordinates import angular_separation

    rng = np.random.default_rng(3)

    def regions(n):
        days = rng.uniform(0.0, 1461.0, n)
        times = (np.datetime64("2011-01-01T00:00:00") + (days * 86400).astype("timedelta64[s]")).astype(str)
        return pd.DataFrame({"time": times, "lat_deg": rng.uniform(-35.0, 35.0, n),
                             "carrington_lon_deg": rng.uniform(0.0, 360.0, n)})

    test, train = regions(400), regions(1500)
    ta = (pd.to_datetime(test["time"]) - pd.Timestamp("2011-01-01")).dt.total_seconds().to_numpy() / 86400
    tb = (pd.to_datetime(train["time"]) - pd.Timestamp("2011-01-01")).dt.total_seconds().to_numpy() / 86400
    dt = ta[:, None] - tb[None, :]
    moved = train["carrington_lon_deg"].to_numpy() + excess_rotation_deg_per_day(train["lat_deg"].to_numpy()) * dt
    sep = np.degrees(angular_separation(np.radians(test["carrington_lon_deg"].to_numpy())[:, None],
                                        np.radians(test["lat_deg"].to_numpy())[:, None], np.radians(moved),
                                        np.radians(train["lat_deg"].to_numpy())[None, :]))
    for tolerance, gap in ((5.0, 60.0), (10.0, 120.0)):
        expected = np.any((sep <= tolerance) & (np.abs(dt) <= gap), axis=1)
        assert 20 < expected.sum() < 380  # both outcomes occur
        found = position_matches(test, train, tolerance_deg=tolerance, max_gap_days=gap, chunk=16)
        assert found.tolist() == expected.tolist()


def _region_rows(times, l0, region_id, lat, lon0, alive):
    """Observations of one region following the Howard law, on the visible hemisphere."""
    rows = []
    t0 = np.datetime64(times[0], "s")
    for i in alive:
        days = (np.datetime64(times[i], "s") - t0) / np.timedelta64(1, "D")
        lon = (lon0 + _howard_excess(lat) * days) % 360
        if wrapped_abs_diff_deg(lon, l0[i]) < 80:
            rows.append({"frame": i, "region_id": region_id, "lat_deg": lat, "carrington_lon_deg": lon})
    return rows


@pytest.fixture(scope="module")
def region_case():
    times = _daily("2014-07-01T00:00:00", 184)  # July-December: September + October are test
    l0 = l0_for_times(times)
    rows = (_region_rows(times, l0, 1, 20.0, 50.0, range(184))          # long-lived: on both sides
            + _region_rows(times, l0, 2, -15.0, 230.0, range(70, 100))  # born and gone inside the test months
            + _region_rows(times, l0, 3, 25.0, 200.0, range(0, 30)))   # July only
    regions = pd.DataFrame(rows)
    regions["time"] = [times[f] for f in regions["frame"]]
    return times, l0, regions


def test_region_leakage_truth_and_position_agree(region_case):
    times, l0, regions = region_case
    split = make_split(times, "kpl19")
    rows, stats = region_leakage(regions, split.indices("train"), split.indices("test"))
    test_rows = regions[regions["frame"].isin(split.indices("test"))]
    n1 = int((test_rows["region_id"] == 1).sum())
    n2 = int((test_rows["region_id"] == 2).sum())
    assert n1 > 0 and n2 > 0
    assert stats["n_test_region_observations"] == n1 + n2
    assert stats["frac_test_regions_in_train_truth"] == pytest.approx(n1 / (n1 + n2))
    assert stats["n_distinct_test_regions"] == 2
    assert stats["frac_distinct_test_regions_in_train_truth"] == pytest.approx(0.5)
    assert stats["frac_test_regions_in_train_position"] == pytest.approx(n1 / (n1 + n2))
    assert stats["position_vs_truth_agreement"] == 1.0
    assert (rows["in_train_truth"] == (rows["region_id"] == 1)).all()


def _write_store(path, times, l0, regions):
    from euv2mag.data.store import StoreWriter
    from euv2mag.geometry import DiskGeometry

    writer = StoreWriter.open(path, n_frames=len(times), shape=(4, 4), arrays=("mag",), kind="synthetic",
                              params={"case": "leakage"})
    for i, t in enumerate(times):
        writer.write_frame(i, DiskGeometry((4, 4), rsun_px=1.5, cdelt_arcsec=600.0, l0_deg=float(l0[i]), time=t),
                           mag=np.zeros((4, 4)))
    writer.write_table("frame_regions", regions.drop(columns=["time"]))
    writer.finish()


@pytest.mark.slow
def test_leakage_command_on_a_store_compares_splits(tmp_path, region_case, capsys):
    times, l0, regions = region_case
    _write_store(tmp_path / "s.zarr", times, l0, regions)
    write_split(make_split(times, "kpl19", source="s.zarr"), tmp_path / "kpl19.json")
    write_split(make_split(times, "rotation", seed=0, test_fraction=0.25, block_rotations=1), tmp_path / "rot.json")
    out = tmp_path / "out"
    argv = ["leakage", str(tmp_path / "s.zarr"), "--split", str(tmp_path / "kpl19.json"),
            "--split", str(tmp_path / "rot.json"), "--out", str(out)]
    assert main(argv) == 0
    k = json.loads((out / "kpl19" / "leakage.json").read_text())
    r = json.loads((out / "rot" / "leakage.json").read_text())
    assert (k["n_test"], k["n_train"]) == (61, 123)
    assert k["min_gap_days"] == pytest.approx(1.0) and k["max_gap_days"] == pytest.approx(31.0)
    assert k["frac_test_regions_in_train_truth"] > 0.3 and k["position_vs_truth_agreement"] == 1.0
    assert r["min_gap_days"] >= 27.0
    assert r["frac_same_face_within_1_rotation"] < k["frac_same_face_within_1_rotation"]
    table = pd.read_csv(out / "kpl19" / "leakage.csv")
    assert len(table) == 61 and table["n_regions_in_train_truth"].sum() == round(
        k["frac_test_regions_in_train_truth"] * k["n_test_region_observations"])
    comparison = pd.read_csv(out / "leakage_comparison.csv")
    assert comparison["scheme"].tolist() == ["kpl19", "rotation"]
    assert comparison["min_gap_days"].tolist() == pytest.approx([k["min_gap_days"], r["min_gap_days"]])
    # a split made for other frames is refused, nothing is written
    write_split(make_split(_daily("2015-07-01T00:00:00", 184), "kpl19"), tmp_path / "other.json")
    assert main(["leakage", str(tmp_path / "s.zarr"), "--split", str(tmp_path / "other.json"),
                 "--out", str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err.strip()
    assert "was made for other frames" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o2" / "leakage.json").exists()


def test_leakage_command_bad_inputs(tmp_path, capsys):
    times = _daily("2014-07-01T00:00:00", 10)
    csv = tmp_path / "t.csv"
    csv.write_text("time\n" + "\n".join(times[:5]) + "\n")
    write_split(make_split(times, "random", seed=0), tmp_path / "s.json")
    cases = [
        (["leakage", "--split", str(tmp_path / "none.json"), "--out", str(tmp_path / "o")], "no such split file"),
        (["leakage", str(csv), "--split", str(tmp_path / "s.json"), "--out", str(tmp_path / "o")],
         "is outside the frames (0..4)"),
        (["leakage", "--split", str(tmp_path / "s.json"), "--out", str(tmp_path / "o"), "--regions",
          str(tmp_path / "r.csv")], "no such region table"),
    ]
    for argv, message in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "o" / "leakage.json").exists()


@pytest.mark.realdata
@pytest.mark.slow
def test_real_kpl19_times_leak_and_rotation_split_does_not(shared_data, tmp_path):
    folder = shared_data / "kpl19"
    files = [str(folder / "data_train.csv"), str(folder / "data_test.csv")]
    assert main(["split", "-", str(tmp_path / "kpl19.json"), "--scheme", "kpl19", "--times", *files]) == 0
    assert main(["split", "-", str(tmp_path / "rotation.json"), "--scheme", "rotation", "--seed", "0",
                 "--times", *files]) == 0
    assert main(["leakage", *files, "--split", str(tmp_path / "kpl19.json"), "--split",
                 str(tmp_path / "rotation.json"), "--out", str(tmp_path / "out")]) == 0
    k = json.loads((tmp_path / "out" / "kpl19" / "leakage.json").read_text())
    r = json.loads((tmp_path / "out" / "rotation" / "leakage.json").read_text())
    assert (k["n_test"], k["n_train"]) == (825, 4145)
    # the test block (Sep 1 - Oct 31) touches training on both sides: 12 h, median 15.5 d, at most 30.5 d
    assert (k["min_gap_days"], k["median_gap_days"], k["max_gap_days"]) == pytest.approx((0.5, 15.5, 30.5))
    # one rotation back (before Sep) or forward (after Oct) shows the same face, except for test
    # frames 27.8-32.7 d into the 61-d block: ~10 of 122 per year, i.e. ~0.92 expected
    assert 0.88 < k["frac_same_face_within_1_rotation"] < 0.93
    assert k["frac_same_face_within_2_rotations"] == 1.0
    assert r["min_gap_days"] >= 27.0
    assert r["frac_same_face_within_1_rotation"] < 0.05
    assert r["frac_same_face_within_2_rotations"] < 0.7


# ------------------------------------------------------------------------- the study from Python
@pytest.mark.slow
def test_leakage_study_from_python_kpl19_leaks_and_rotation_does_not(tmp_path, region_case):
    """KPL19's test months touch training within a rotation; a rotation split with a buffer never does."""
    from euv2mag.audit.leakage import SYNODIC_CARRINGTON_DAYS
    from euv2mag.audit.leakage_study import (
        LEAKAGE_CSV,
        LeakageSummary,
        leakage_study,
        read_leakage_comparison,
        read_leakage_csv,
    )

    times, l0, regions = region_case
    _write_store(tmp_path / "s.zarr", times, l0, regions)
    write_split(make_split(times, "kpl19"), tmp_path / "kpl19.json")
    write_split(make_split(times, "rotation", seed=0, test_fraction=0.25, block_rotations=1), tmp_path / "rot.json")
    out = tmp_path / "out"
    study = leakage_study([tmp_path / "kpl19.json", tmp_path / "rot.json"], tmp_path / "s.zarr", out=out)
    k, r = (s.summary for s in study.splits)
    assert [s.name for s in study.splits] == ["kpl19", "rot"]
    assert k.min_gap_days < SYNODIC_CARRINGTON_DAYS <= r.min_gap_days
    assert r.frac_same_face_within_1_rotation < k.frac_same_face_within_1_rotation
    # the 184-d region is on both sides of either split: region leakage is not cured by gaps alone
    assert k.frac_test_regions_in_train_truth > 0.3 and r.frac_test_regions_in_train_truth > 0.3
    # the files are the results, read back through their definitions with their types
    for s in study.splits:
        back = read_leakage_csv(out / s.name)
        assert list(back.columns) == [*LEAKAGE_CSV.names, "n_regions", "n_regions_in_train_truth",
                                      "n_regions_in_train_position"]
        assert str(back["index"].dtype) == "int64" and back["same_face_within_1_rotation"].dtype == bool
        assert str(back["n_regions_in_train_truth"].dtype) == "int64"
        assert back["gap_days"].tolist() == pytest.approx(s.table["gap_days"].tolist(), rel=1e-5)
        assert LeakageSummary.read(out / s.name) == s.summary
    comparison = read_leakage_comparison(out)
    assert comparison["name"].tolist() == ["kpl19", "rot"] and str(comparison["n_test"].dtype) == "int64"
    assert str(comparison["n_distinct_test_regions"].dtype) == "Int64"
    assert comparison["min_gap_days"].tolist() == pytest.approx([k.min_gap_days, r.min_gap_days], rel=1e-5)


def test_leakage_study_on_split_times_with_a_region_dataframe(tmp_path, region_case):
    from euv2mag.audit.leakage_study import LeakageParams, leakage_study

    times, _, regions = region_case
    write_split(make_split(times, "kpl19"), tmp_path / "kpl19.json")
    rows = regions[["time", "lat_deg", "carrington_lon_deg"]]  # matched to frames by time, no truth ids
    study = leakage_study(tmp_path / "kpl19.json", params=LeakageParams(region_tolerance_deg=3.0), regions=rows)
    (result,) = study.splits
    s = result.summary
    assert (s.n_test, s.n_train, s.source) == (61, 123, "split file times")
    assert s.frac_test_regions_in_train_position > 0.3 and s.n_distinct_test_regions is None
    assert "region_id" not in rows.columns and "frame" not in rows.columns  # the caller's table is left alone
    assert "n_regions_in_train_truth" not in result.table.columns
    assert result.table["n_regions"].sum() == s.n_test_region_observations
    assert "frac_test_regions_in_train_truth" not in s.to_dict()
    with pytest.raises(UserError, match="rotation_model"):
        LeakageParams(rotation_model="solid")
    with pytest.raises(UserError, match="same_face_deg"):
        LeakageParams(same_face_deg=0.0)


def test_check_split_times_names_the_split_file(tmp_path):
    from euv2mag.data.splits import check_split_times

    times = _daily("2014-07-01T00:00:00", 10)
    split = make_split(times, "random", seed=0)
    check_split_times(split, times, tmp_path / "s.json")
    shifted = _daily("2014-07-02T00:00:00", 10)
    with pytest.raises(UserError, match="was made for other frames") as err:
        check_split_times(split, shifted, tmp_path / "s.json")
    assert str(tmp_path / "s.json") in str(err.value)


def test_leakage_files_lacking_a_column_are_one_line_errors(tmp_path):
    from euv2mag.audit.leakage_study import LeakageSummary, leakage_study, read_leakage_csv

    times = _daily("2014-07-01T00:00:00", 40)
    write_split(make_split(times, "random", seed=0), tmp_path / "s.json")
    leakage_study([tmp_path / "s.json"], out=tmp_path / "o")
    path = tmp_path / "o" / "leakage.csv"
    pd.read_csv(path).drop(columns=["gap_days"]).to_csv(path, index=False)
    with pytest.raises(UserError) as err:
        read_leakage_csv(path)
    assert str(path) in str(err.value) and "gap_days" in str(err.value) and "\n" not in str(err.value)
    summary = tmp_path / "o" / "leakage.json"
    obj = json.loads(summary.read_text())
    del obj["n_test"]
    summary.write_text(json.dumps(obj))
    with pytest.raises(UserError, match="lacks key.*n_test") as err:
        LeakageSummary.read(summary)
    assert str(summary) in str(err.value) and "\n" not in str(err.value)
