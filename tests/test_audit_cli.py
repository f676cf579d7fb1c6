"""``euv2mag audit`` end to end on tiny stores (truth + two predictions), and its input checks."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from euv2mag.cli import main
from euv2mag.data.store import FrameStore, StoreWriter
from euv2mag.geometry import DiskGeometry, default_rsun_px

SIZE = 256
TIMES = ["2016-07-0%dT00:00:00" % d for d in (1, 2, 3)]
# (lat, lon, peak G, leading sign): Hale-conforming in cycle 24 = north leads -, south leads +
REGIONS = [(15.0, -30.0, 1500.0, -1), (-12.0, 20.0, 1200.0, 1), (20.0, 35.0, 1300.0, 1)]  # last is anti-Hale


def geometry(i, size=SIZE):
    return DiskGeometry((size, size), default_rsun_px(size), 1.9 * 1024 / size, 1.0 + i, 100.0 + 13 * i, time=TIMES[i])


def spot(geom, lat, lon, peak, sigma_px=3.0):
    x, y, _ = geom.hgs_to_pixel(lat, lon)
    yy, xx = np.mgrid[: geom.shape[0], : geom.shape[1]]
    return peak * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma_px**2))


def frame(geom, flips=(), seed=0):
    rng = np.random.default_rng(seed)
    mag = rng.normal(0, 4, geom.shape)
    for k, (lat, lon, peak, lead) in enumerate(REGIONS):
        sign = -lead if k in flips else lead
        mag += spot(geom, lat, lon + 5, sign * peak) + spot(geom, lat, lon - 5, -sign * peak * 0.8)
    mag[~geom.disk_mask(1.0)] = np.nan
    return mag.astype(np.float32)


def write_store(path, array, maps, times=TIMES, kind="prediction", size=SIZE, truth_table=None):
    w = StoreWriter.open(path, n_frames=len(maps), shape=(size, size), arrays=(array,), kind=kind, params={"test": str(path)})
    for i, m in enumerate(maps):
        g = geometry(i, size)
        g = DiskGeometry(g.shape, g.rsun_px, g.cdelt_arcsec, g.b0_deg, g.l0_deg, time=times[i])
        w.write_frame(i, g, **{array: m})
    if truth_table is not None:
        w.write_table("frame_regions", truth_table)
    w.finish()
    return path


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("audit")
    geoms = [geometry(i) for i in range(3)]
    truth_rows = []
    for i, g in enumerate(geoms):
        for k, (lat, lon, _, lead) in enumerate(REGIONS):
            truth_rows.append({"frame": i, "region_id": k, "lat_deg": lat, "stonyhurst_lon_deg": lon,
                               "leading_polarity": lead, "hale_conforming": k != 2})
    truth = write_store(root / "truth.zarr", "mag", [frame(g) for g in geoms], kind="synthetic",
                        truth_table=pd.DataFrame(truth_rows))
    same = write_store(root / "same.zarr", "pred", [frame(g) for g in geoms])
    # run 2 reverses the anti-Hale region: the failure a Hale-prior model makes
    hale_prior = write_store(root / "haleprior.zarr", "pred", [frame(g, flips=(2,), seed=1) for g in geoms])
    return root, truth, same, hale_prior


def test_audit_end_to_end(stores, capsys):
    root, truth, same, hale_prior = stores
    out = root / "out"
    # three frames: statistics across frames need --min-pairs below the default 10; with one block every
    # replicate is the whole audit, so 50 replicates show the collapse as well as the default 1000 (checked below)
    rc = main(["audit", "--truth", str(truth), "--pred", str(same), "--pred", str(hale_prior), "--out", str(out), "--min-pairs", "2",
               "--n-boot", "50"])
    assert rc == 0, capsys.readouterr().err
    fd = pd.read_csv(out / "fulldisk.csv")
    assert len(fd) == 6 and set(fd["pred"]) == {"same", "haleprior"}
    for c in ("tumf_ref_mx", "tumf_gen_mx", "nmf_ref_mx", "nmf_gen_mx", "cc", "cc_binned", "r2", "rmse_g", "polarity_agreement"):
        assert c in fd.columns
    s = fd[fd.pred == "same"]
    assert np.allclose(s["cc"], 1.0) and np.allclose(s["rmse_g"], 0.0) and np.allclose(s["polarity_agreement"], 1.0)
    regions = pd.read_csv(out / "regions.csv")
    assert set(regions["source"]) == {"truth", "same", "haleprior"}
    assert (regions["source"] == "truth").sum() == 9  # 3 bipoles x 3 frames
    matches = pd.read_csv(out / "matches.csv")
    assert {"pred", "frame", "status", "distance_deg", "ref_tumf_mx", "gen_tumf_mx"} <= set(matches.columns)
    var = pd.read_csv(out / "variability.csv")
    assert len(var) == 3 and {"run_a", "run_b", "cc", "polarity_disagreement", "recall_a_in_b"} <= set(var.columns)
    summary = json.loads((out / "summary.json").read_text())
    same_s = summary["predictions"]["same"]
    assert same_s["regions"]["recall"] == 1.0 and same_s["regions"]["precision"] == 1.0
    assert same_s["regions"]["offset_median_deg"] == 0.0
    assert same_s["fulldisk"]["tumf"]["cc"] == pytest.approx(1.0)
    hp = summary["predictions"]["haleprior"]["hale"]
    assert hp["anti_hale"]["n_ref"] == 3 and hp["hale"]["n_ref"] == 6  # truth flags from the generator table
    assert hp["anti_hale"]["polarity_agreement"] == 0.0 and hp["anti_hale"]["n_polarity_fail"] == 3
    assert hp["hale"]["polarity_agreement"] == 1.0
    # the footprint measure (generated map read inside the truth regions) agrees with the pairs
    assert hp["anti_hale"]["footprint_polarity_agreement"] == 0.0
    assert hp["hale"]["footprint_polarity_agreement"] == 1.0
    assert summary["predictions"]["same"]["hale"]["anti_hale"]["footprint_nmf_sign_agreement"] == 1.0
    total = sum(hp[g]["n_ref"] for g in ("hale", "anti_hale", "undetermined"))
    assert total == summary["predictions"]["haleprior"]["regions"]["n_ref"]
    assert "mean_over_predictions" in summary and "variability" in summary
    # both runs put the leading polarity where Hale's law does in each hemisphere: contrast 1 (reference too)
    assert hp["hale"]["footprint_ref_hemisphere_contrast"] == 1.0 and hp["hale"]["footprint_gen_hemisphere_contrast"] == 1.0
    # pooled over both runs: real observation counts (3 anti-Hale regions x 2 runs), agreement 3 of 6
    pooled = summary["pooled_over_predictions"]
    assert pooled["n_predictions"] == 2 and pooled["n_matched"] == 18  # 9 truth regions matched in each run
    assert (pooled["hale"]["anti_hale"]["n_ref"], pooled["hale"]["anti_hale"]["n_matched"]) == (6, 6)
    assert pooled["hale"]["anti_hale"]["polarity_agreement"] == 0.5 and pooled["hale"]["hale"]["polarity_agreement"] == 1.0
    assert not (out / ".cache").exists()
    # confidence intervals: 3 daily frames form one 13.6-day block, so every replicate is the
    # whole audit and each interval collapses onto the audited value
    assert summary["bootstrap"]["n_blocks"] == 1 and summary["bootstrap"]["n_boot"] == 50
    from euv2mag.cli import build_parser, parse_args

    assert parse_args(["audit", "--truth", "t.zarr", "--pred", "p.zarr", "--out", "o"], build_parser()).n_boot == 1000
    ci = summary["ci"]["predictions"]
    assert ci["same"]["regions"]["recall"] == [1.0, 1.0]
    assert ci["haleprior"]["hale"]["anti_hale"]["polarity_agreement"] == [0.0, 0.0]
    assert ci["haleprior"]["fulldisk"]["tumf"]["cc"] == pytest.approx([summary["predictions"]["haleprior"]["fulldisk"]["tumf"]["cc"]] * 2)
    assert "n_ref" not in ci["same"]["regions"]
    # one-day blocks: frames resampled; 'same' stays exact, the others get a real spread
    from euv2mag.audit.files import FULLDISK, MATCHES, REGIONS, VARIABILITY
    from euv2mag.audit.summary import bootstrap_intervals

    tables = [spec.read(out) for spec in (FULLDISK, REGIONS, MATCHES, VARIABILITY)]
    ci1, info = bootstrap_intervals(*tables, ["same", "haleprior"], [0, 1, 2], TIMES, n_boot=200, block_days=1.0, level=0.95,
                                    min_pairs=2)
    assert info.n_blocks == 3
    assert ci1.get("predictions", "same", "fulldisk", "mean_cc") == pytest.approx((1.0, 1.0))
    lo, hi = ci1.get("predictions", "haleprior", "fulldisk", "mean_cc")
    point = summary["predictions"]["haleprior"]["fulldisk"]["mean_cc"]
    assert lo < point < hi
    assert lo == pytest.approx(fd[fd.pred == "haleprior"]["cc"].min()) and hi == pytest.approx(fd[fd.pred == "haleprior"]["cc"].max())


def test_shape_mismatch_is_one_line_exit_2(stores, tmp_path, capsys):
    root, truth, same, _ = stores
    small = write_store(tmp_path / "small.zarr", "pred", [np.zeros((128, 128), np.float32)] * 3, size=128)
    rc = main(["audit", "--truth", str(truth), "--pred", str(small), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "shape" in err[0] and "small.zarr" in err[0] and "truth.zarr" in err[0]
    assert not (tmp_path / "o" / "summary.json").exists()


def test_time_mismatch_is_one_line_exit_2(stores, tmp_path, capsys):
    root, truth, same, _ = stores
    maps = [FrameStore(same).read("pred", i) for i in range(3)]
    other = write_store(tmp_path / "other.zarr", "pred", maps, times=["2017-01-0%dT00:00:00" % d for d in (1, 2, 3)])
    rc = main(["audit", "--truth", str(truth), "--pred", str(other), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "time" in err[0] and "other.zarr" in err[0] and "truth.zarr" in err[0]


def test_nan_on_disk_in_prediction_is_one_line_exit_2(stores, tmp_path, capsys):
    root, truth, same, _ = stores
    maps = [FrameStore(same).read("pred", i) for i in range(3)]
    maps[1][SIZE // 2, SIZE // 2] = np.nan
    bad = write_store(tmp_path / "bad.zarr", "pred", maps)
    rc = main(["audit", "--truth", str(truth), "--pred", str(bad), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "NaN" in err[0]
    # frame 0 was audited and cached before frame 1 failed: bad input leaves no cache behind
    assert not (tmp_path / "o" / ".cache").exists() and not (tmp_path / "o" / "summary.json").exists()


@pytest.mark.parametrize("gen_south, gen_north, ref_south, expected", [
    (1, -1, 1, 1.0),    # Hale's law learned (cycle 24: south leads +)
    (1, 1, 1, 0.0),     # one orientation everywhere: right in the south, wrong in the north
    (-1, 1, 1, -1.0),   # reversed
    (-1, 1, -1, 1.0),   # cycle 25 orientation, learned: still +1 (signed by the reference)
])
def test_hemisphere_contrast_tells_a_hale_prior_from_a_fixed_orientation(gen_south, gen_north, ref_south, expected):
    from euv2mag.audit.hale import footprint_arrays, footprint_measures

    lat = np.array([-15.0, -10.0, 12.0, 20.0, 25.0])
    south = lat < 0
    sel = pd.DataFrame({"ref_lat_deg": lat,
                        "ref_leading_polarity": np.where(south, ref_south, -ref_south),
                        "fp_gen_leading_polarity": np.where(south, gen_south, gen_north),
                        "ref_nmf_mx": 1e20, "fp_gen_nmf_mx": 1e20})
    got = footprint_measures(footprint_arrays(sel))
    assert got["footprint_ref_hemisphere_contrast"] == float(ref_south)
    assert got["footprint_gen_hemisphere_contrast"] == expected
    assert np.isnan(footprint_measures(footprint_arrays(sel[~south]))["footprint_gen_hemisphere_contrast"])
