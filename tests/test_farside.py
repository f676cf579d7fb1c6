"""Far-side study: EUV cross-calibration, history ages, persistence from the Earth view, the study end to end."""
from __future__ import annotations

import math

import numpy as np
import pytest

from euv2mag.data.crosscal import (LEVELS, Calibration, calibrate_frames, disk_quantiles, parse_calibration,
                                   quantile_transfer)
from euv2mag.errors import UserError
from euv2mag.geometry import DiskGeometry, default_rsun_px


def _euv_frames(n=4, size=64, seed=0):
    rng = np.random.default_rng(seed)
    rsun = default_rsun_px(size)
    g = DiskGeometry((size, size), rsun, 959.0 / rsun)
    disk = g.rho <= 1.0
    frames = [np.where(disk, rng.lognormal(5.0, 0.6, (size, size)), 5.0) for _ in range(n)]
    return frames, [disk] * n


def test_quantile_transfer_is_monotone_and_undoes_a_scaling():
    frames, masks = _euv_frames()
    ref = disk_quantiles(frames, masks)
    x = np.linspace(0, 3 * ref[-1], 5001)
    y = quantile_transfer(x, ref * 1.3, ref)
    assert np.all(np.diff(y) >= 0)
    for scale in (0.8, 1.2):
        back = calibrate_frames([f * scale for f in frames], masks, "quantile", ref)
        for b, f, m in zip(back, frames, masks):
            rel = np.abs(b[m] / f[m] - 1)
            # linear interpolation between 1000 pooled quantiles: exact at the knots, and the
            # ends (outside the 0.05 %..99.95 % levels) continue proportionally, i.e. exactly
            assert np.median(rel) < 1e-4 and np.quantile(rel, 0.999) < 5e-3
            assert np.allclose(b[~m], f[~m], rtol=1e-4)  # off-limb: proportional below the lowest quantile
    lin = calibrate_frames(frames, masks, "linear:0.5")
    assert np.allclose(lin[0], frames[0] * 0.5, rtol=1e-6)
    assert LEVELS.size == ref.size


def test_bad_calibration_and_study_options_are_one_line_errors():
    from euv2mag.audit.farside import FarsideParams

    for text in ("linear:-2", "linear:x", "cubic", "linear:"):
        with pytest.raises(UserError) as err:
            parse_calibration(text)
        assert "\n" not in str(err.value)
    assert parse_calibration("linear:2") == Calibration("linear", 2.0)
    for kwargs in ({"separations": (0, 200)}, {"separations": (60, 60)}, {"scales": (0.0,)},
                   {"persistence_days": -1}, {"age_bins_days": (4, 1)}, {"calibration": "x"}, {"link_deg": 0}):
        with pytest.raises(UserError) as err:
            FarsideParams(**kwargs)
        assert "\n" not in str(err.value)
    assert FarsideParams(scales=(0.8,)).scales == (0.8, 1.0)


def test_days_since_earth_view_follows_the_rotation():
    from euv2mag.audit.farside import days_since_earth_view, earth_l0_b0

    t = 56500.0
    grid = np.arange(t - 40, t + 0.5, 0.05)
    l0, b0 = earth_l0_b0(grid)
    l0_then = float(earth_l0_b0([t - 10])[0][0])
    # on the equator, rotating with the Carrington frame: at Earth's central meridian 10 d ago, it
    # left the west limb (90 deg from the central meridian) after 90 / 13.2 = 6.8 d
    synodic = abs(np.median(np.diff(np.unwrap(np.radians(l0))))) * 180 / np.pi / 0.05
    age = days_since_earth_view(t, 0.0, l0_then, t - 30, 0.0, grid, l0, b0)
    assert age == pytest.approx(10 - 90 / synodic, abs=0.1)
    # emerged 2 d ago (after it had left the Earth-facing disk): never seen
    assert math.isnan(days_since_earth_view(t, 0.0, l0_then, t - 2, 0.0, grid, l0, b0))
    # at Earth's disk centre now: 0
    assert days_since_earth_view(t, 0.0, float(earth_l0_b0([t])[0][0]), t - 5, 0.0, grid, l0, b0) == 0.0


# ---------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def study(tmp_path_factory):
    import torch

    from euv2mag.audit.farside import farside_study
    from euv2mag.data.synthetic import SynthParams, synthesize
    from euv2mag.model.config import TrainConfig
    from euv2mag.model.train import train_seed

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("farside")
    params = SynthParams(start="2012-06-01", end="2012-06-15", cadence="48h", size=64, seed=2, rate_scale=3.0)
    synthesize(root / "synth.zarr", params, progress=False)
    from _model_data import write_split
    from euv2mag.data.store import FrameStore

    store = FrameStore(root / "synth.zarr")
    times = [str(t) for t in store.times]
    n = store.n_frames
    split = write_split(root / "split.json", list(range(0, n - 4)), val=[n - 4], test=list(range(n - 3, n)), times=times)
    cfg = TrainConfig(ngf=4, ndf=4, iters=4, val_every=2, ckpt_every=2)
    run = train_seed(store, list(range(0, n - 4)), [n - 4], cfg, 0, root / "run", progress=False).run_dir
    summary = farside_study(run, root / "synth.zarr", root / "farside", separations=(0, 60, 180), split=split,
                            calibration="none", scales=(0.8, 1.0), n_boot=20, progress=False)
    torch.set_num_threads(before)  # the rest of the session keeps its thread count
    return root, run, split, summary


@pytest.mark.slow
def test_study_end_to_end(study):
    from euv2mag.audit.farside import AGES, REGION_AGES, SKILL, FarsideSummary

    root, _, _, summary = study
    out = root / "farside"
    skill = SKILL.read(out)
    assert set(skill["separation_deg"]) == {0.0, 60.0, 180.0}
    assert set(skill["prediction"]) == {"model", "model-x0.8", "persistence"}
    assert (skill["n_frames"] == 3).all()
    assert FarsideSummary.read(out).folders == summary.folders == {"0": "sep-0", "60": "sep-60", "180": "sep-180"}
    pers = skill[skill["prediction"] == "persistence"].set_index("separation_deg")["covered_fraction"]
    # the Earth frame itself (mu >= 0.2 of the disk), two thirds of the overlap at 60 deg, nothing at 180 deg
    assert pers[0.0] > 0.9 and 0.3 < pers[60.0] < 0.8 and pers[180.0] < 0.01
    # persistence at 0 deg with D = 0 is the truth on the covered disk: its |B| correlates almost perfectly
    p0 = skill[(skill["prediction"] == "persistence") & (skill["separation_deg"] == 0)].iloc[0]
    assert p0["mean_abs_cc"] > 0.95 and p0["recall"] > 0.9
    assert np.isfinite(skill["mean_abs_cc_lo"]).any()
    ages = REGION_AGES.read(out)
    linked = ages[ages["region_id"] >= 0]
    assert len(linked) > 0 and (linked["link_deg"] <= 10).all()
    # every region seen from Earth itself is on the Earth-facing disk now
    assert (linked[linked["separation_deg"] == 0]["days_since_earth_view"] == 0).all()
    far = linked[(linked["separation_deg"] == 180) & (linked["lon_deg"].abs() < 60)]
    assert len(far) and (far["days_since_earth_view"].isna() | (far["days_since_earth_view"] > 1)).all()
    bins = AGES.read(out)
    for (sep, name), g in bins.groupby(["separation_deg", "prediction"]):
        assert g["n_regions"].sum() == (linked["separation_deg"] == sep).sum()
        assert ((g["recall_lo"] <= g["recall"] + 1e-12) | g["recall"].isna()).all()


@pytest.mark.slow
def test_separation_zero_reproduces_the_earth_view_audit(study, tmp_path):
    from euv2mag.audit import audit_stores
    from euv2mag.audit.farside import SKILL
    from euv2mag.model.predict import predict_run

    root, run, split, _ = study
    pred = predict_run(run, root / "synth.zarr", tmp_path / "model.zarr", indices="test", split=split, device="cpu",
                       progress=False)
    direct = audit_stores(root / "synth.zarr", {"model": str(pred)}, n_boot=0, progress=False).summary
    row = SKILL.read(root / "farside").query("separation_deg == 0 and prediction == 'model'").iloc[0]
    m = direct.predictions["model"]
    for got, want in ((row["tumf_cc"], m.fulldisk.tumf.cc), (row["mean_abs_cc"], m.fulldisk.mean_abs_cc),
                      (row["recall"], m.regions.recall)):
        assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want, abs=1e-9)


@pytest.mark.slow
def test_report_section_only_with_the_study(study, tmp_path):
    from euv2mag.report.build import build_report

    root, *_ = study
    (tmp_path / "empty").mkdir()
    assert 'id="farside"' not in build_report(tmp_path / "empty", out=tmp_path / "empty.html").read_text()
    html = build_report(root, out=tmp_path / "r.html").read_text()
    assert 'id="farside"' in html and 'id="farside-skill"' in html and 'id="farside-ages"' in html
    assert "farside/farside_skill.csv" in html and "persistence" in html


@pytest.mark.slow
def test_history_run_is_audited_beside_persistence_on_the_same_history(study, tmp_path):
    """The history-conditioned variant: its input, the fair persistence, the emerged-before/after split."""
    from euv2mag.audit.farside import HISTORY_SPLIT, SKILL, FarsideSummary, farside_study
    from euv2mag.data.history import write_history_store
    from euv2mag.data.store import FrameStore
    from euv2mag.errors import UserError
    from euv2mag.model.config import TrainConfig
    from euv2mag.model.train import train_seed

    root, run, split, _ = study
    n = FrameStore(root / "synth.zarr").n_frames
    hist = write_history_store(root / "synth.zarr", root / "synth.zarr", tmp_path / "train-history.zarr",
                               days="0:6", seed=1, progress=False)
    cfg = TrainConfig(ngf=4, ndf=4, iters=4, val_every=2, ckpt_every=2, history_channels=True)
    hrun = train_seed(hist, list(range(0, n - 4)), [n - 4], cfg, 0, tmp_path / "hrun", progress=False).run_dir
    with pytest.raises(UserError, match="history channels"):  # the plain run is no history run
        farside_study(run, root / "synth.zarr", tmp_path / "bad", history_run=run, split=split, progress=False)
    with pytest.raises(UserError, match="maximum"):
        farside_study(run, root / "synth.zarr", tmp_path / "bad", history_run=hrun, history_days=6,
                      max_history_age_days=4, split=split, progress=False)
    out = tmp_path / "farside"
    summary = farside_study(run, root / "synth.zarr", out, separations=(0, 60), split=split, calibration="none",
                            scales=(1.0,), n_boot=0, history_run=hrun, progress=False)
    assert FarsideSummary.read(out).history["days"] == summary.history["days"] == {"0": 0.0, "60": 4.0}
    skill = SKILL.read(out)
    assert set(skill["prediction"]) == {"model", "history", "persistence"}
    rows = skill.set_index(["separation_deg", "prediction"])
    for sep in (0.0, 60.0):  # the history input and persistence share their coverage
        assert rows.loc[(sep, "history"), "covered_fraction"] == rows.loc[(sep, "persistence"), "covered_fraction"]
    # persistence is the history input itself (same frame, age, rotation)
    hin, pers = FrameStore(out / "sep-60" / "input-history.zarr"), FrameStore(out / "sep-60" / "persistence.zarr")
    assert all(np.array_equal(hin.read("hist", k), pers.read("pred", k), equal_nan=True) for k in range(hin.n_frames))
    assert np.allclose(hin.table("history")["age_days"], 4.0)
    split_rows = HISTORY_SPLIT.read(out)
    assert set(split_rows["prediction"]) == {"model", "history", "persistence"}
    allc = split_rows[split_rows["hale_class"] == "all"].set_index(["separation_deg", "prediction", "group"])
    # at 0 deg the history is the frame itself: every region emerged before it, persistence finds them
    assert allc.loc[(0.0, "persistence", "emerged_after"), "n_regions"] == 0
    assert allc.loc[(0.0, "persistence", "emerged_before"), "recall"] > 0.9
    both = allc.loc[(60.0, "persistence", "emerged_before"), "n_regions"] + \
        allc.loc[(60.0, "persistence", "emerged_after"), "n_regions"]
    assert both > 0
    for (sep, name, grp), r in allc.iterrows():
        assert r["n_matched"] <= r["n_regions"] and (r["n_regions"] == 0 or r["recall_lo"] <= r["recall"] <= r["recall_hi"])
    # a region that emerged after the history frame is in no history: persistence cannot match it
    after = allc.loc[(60.0, "persistence", "emerged_after")]
    assert after["n_regions"] == 0 or after["recall"] <= 0.25


def test_history_split_groups_regions_by_emergence_against_the_history_frame():
    import pandas as pd

    from euv2mag.audit.farside import HISTORY_SPLIT, history_split_rows

    t1, t2 = "2012-06-10T00:00:00", "2012-06-14T00:00:00"
    regions = pd.DataFrame({"region_id": [1, 2, 3], "emergence_time": ["2012-06-01T00:00:00", "2012-06-08T00:00:00",
                                                                       "2012-06-01T00:00:00"]})
    # frame t1 has a history frame at 2012-06-06 (region 2 emerged after it); frame t2 has none
    history = pd.DataFrame({"time": [t1, t2], "history_time": ["2012-06-06T00:00:00", ""]})
    ages = pd.DataFrame({"time": [t1, t1, t1, t2], "ref_label": [1, 2, 3, 1], "region_id": [1, 2, -1, 3]})
    matches = pd.DataFrame({
        "pred": ["history"] * 4, "time": [t1, t1, t1, t2], "ref_label": [1, 2, 3, 1],
        "status": ["matched", "missed", "matched", "matched"], "hale_class": ["hale", "anti_hale", "hale", "hale"],
        "ref_leading_polarity": pd.array([1, -1, 1, 1], dtype="Int64"),
        "fp_gen_leading_polarity": pd.array([1, 0, 1, -1], dtype="Int64")})
    rows = HISTORY_SPLIT.frame(history_split_rows(60.0, 4.0, matches, ages, history, regions, ("history",)))
    got = rows.set_index(["group", "hale_class"])
    assert got.loc[("emerged_before", "all"), ["n_regions", "n_matched", "n_fp_determined"]].tolist() == [1, 1, 1]
    assert got.loc[("emerged_before", "all"), "fp_polarity"] == 1.0
    assert got.loc[("emerged_after", "anti_hale"), ["n_regions", "n_matched"]].tolist() == [1, 0]
    assert got.loc[("emerged_after", "all"), "recall"] == 0.0 and got.loc[("emerged_after", "hale"), "n_regions"] == 0
    # the unlinked region (id -1) is in no group; the frame without history is 'no_history'
    assert got.loc[("no_history", "all"), ["n_regions", "n_matched", "fp_polarity"]].tolist() == [1, 1, 0.0]
    assert rows["n_regions"][rows["hale_class"] == "all"].sum() == 3
