"""Baseline predictions (euv2mag.audit.baselines, ``euv2mag baselines``) and the sign-blind audit columns."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from euv2mag.audit import AuditParams, audit_stores
from euv2mag.audit.baselines import parse_kind, write_baselines
from euv2mag.audit.fulldisk import frame_metrics
from euv2mag.audit.pipeline import audit_frame
from euv2mag.cli import main
from euv2mag.data.splits import make_split, write_split
from euv2mag.data.store import FrameStore, StoreWriter
from euv2mag.data.synthetic import synthesize
from euv2mag.data.synthetic.params import SynthParams
from euv2mag.errors import UserError
from euv2mag.geometry import DiskGeometry, default_rsun_px

KINDS = ["zero", "clip-100", "sign-coin", "hale-oracle"]


def _bipole():
    """A 128-px disk with one Gaussian bipole (+-1200 G) the region detector finds."""
    g = DiskGeometry((128, 128), default_rsun_px(128), 1.9 * 1024 / 128, 2.0, 10.0, time="2014-03-01T00:00:00")
    yy, xx = np.mgrid[:128, :128]
    mag = np.random.default_rng(0).normal(0, 3, g.shape)
    for dlon, sign in ((4.0, -1.0), (-4.0, 1.0)):
        x, y, _ = g.hgs_to_pixel(15.0, -20.0 + dlon)
        mag += sign * 1200.0 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 2.0**2))
    mag[~g.disk_mask(1.0)] = np.nan
    return g, mag.astype(np.float32)


def test_sign_blind_metrics_of_self_negation_and_zero():
    g, mag = _bipole()
    zero = np.where(np.isfinite(mag), 0.0, np.nan).astype("f4")
    same, flipped, none = (frame_metrics(mag, m, g) for m in (mag, -mag, zero))
    assert same["abs_cc"] == pytest.approx(1.0) and same["abs_cc_binned"] == pytest.approx(1.0)
    assert flipped["cc"] == pytest.approx(-1.0) and flipped["abs_cc"] == pytest.approx(1.0)
    assert flipped["abs_cc_binned"] == pytest.approx(1.0)
    assert math.isnan(none["abs_cc"]) and math.isnan(none["abs_cc_binned"])
    records, _ = audit_frame(mag, {"self": mag, "flip": -mag, "zero": zero}, g)
    ratio = {row["pred"]: row["footprint_abs_ratio"] for row in records["fulldisk"]}
    assert ratio["self"] == pytest.approx(1.0) and ratio["flip"] == pytest.approx(1.0) and ratio["zero"] == 0.0
    noise = np.where(np.isfinite(mag), 1.0, np.nan).astype("f4")
    blank, _ = audit_frame(noise, {"zero": zero}, g)  # no truth region: no footprint
    assert math.isnan(blank["fulldisk"][0]["footprint_abs_ratio"])


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    """46 daily 128-px frames of 2014 with many anti-Hale regions; half of them the test set."""
    d = tmp_path_factory.mktemp("baselines")
    params = SynthParams(start="2014-01-01", end="2014-02-15", cadence="24h", size=128, anti_hale_fraction=0.3)
    synthesize(d / "s.zarr", params, progress=False)
    store = FrameStore(d / "s.zarr")
    split = make_split([str(t) for t in store.times], "random", source=str(d / "s.zarr"), test_fraction=0.5, seed=0)
    write_split(split, d / "split.json")
    paths = write_baselines(d / "s.zarr", d / "b", kinds=KINDS, split=d / "split.json", progress=False)
    result = audit_stores(d / "s.zarr", {p.name[:-5]: p for p in paths}, params=AuditParams(min_pairs=2), n_boot=50)
    return d, split, paths, result


def test_stores_have_the_truth_frames(synth):
    d, split, paths, _ = synth
    truth = FrameStore(d / "s.zarr")
    test = split.indices("test")
    assert [p.name for p in paths] == [f"{k}.zarr" for k in KINDS]
    for path in paths:
        store = FrameStore(path)
        assert store.kind == "prediction" and store.has("pred") and store.n_frames == len(test)
        assert [str(t) for t in store.times] == [str(truth.times[i]) for i in test]
    clip = FrameStore(d / "b" / "clip-100.zarr").read("pred", 0)
    assert np.nanmax(np.abs(clip)) <= 100.0
    zero = FrameStore(d / "b" / "zero.zarr").read("pred", 0)
    assert np.nanmax(np.abs(zero)) == 0.0 and np.isnan(zero[0, 0])
    coin = FrameStore(d / "b" / "sign-coin.zarr").read("pred", 0)
    ref = truth.read("mag", test[0])
    assert np.allclose(np.abs(coin), np.abs(ref), equal_nan=True)  # only signs change


def test_audited_baselines_score_as_designed(synth):
    """Issue 12's bounds: hale-oracle >= 0.95 / <= 0.05, zero TUMF 0, clip-100 < truth, sign-coin's interval holds 0.5."""
    *_, result = synth
    per = result.summary.predictions
    ci = result.summary.ci
    # measured (46 frames, 23 test frames, anti_hale_fraction 0.3): hale-oracle 1 and 0 over 114 and 27
    # determined footprints, zero 0, clip-100 0.77, sign-coin 0.61 [0.46, 0.81] (Hale), 0.52 [0.18, 0.97]
    # (anti-Hale) with region-clustered intervals (frame-block ones: [0.57, 0.66], [0.29, 0.73])
    oracle = per["hale-oracle"].hale
    assert oracle.anti_hale.n_footprint_determined >= 5 and oracle.hale.n_footprint_determined >= 20
    assert oracle.hale.footprint_polarity_agreement >= 0.95
    assert oracle.anti_hale.footprint_polarity_agreement <= 0.05
    # by construction, not only within the bounds: it negates exactly the audit's anti-Hale footprints
    assert oracle.hale.footprint_polarity_agreement == 1.0 and oracle.anti_hale.footprint_polarity_agreement == 0.0
    assert per["zero"].fulldisk.mean_tumf_ratio == 0.0 and per["zero"].fulldisk.footprint_abs_ratio == 0.0
    assert 0.0 < per["clip-100"].fulldisk.mean_tumf_ratio < 1.0
    for kind in ("sign-coin", "hale-oracle"):  # signs flipped, |B| untouched
        fd = per[kind].fulldisk
        assert fd.mean_abs_cc == pytest.approx(1.0) and fd.footprint_abs_ratio == pytest.approx(1.0)
        assert fd.mean_tumf_ratio == pytest.approx(1.0) and fd.mean_cc < 0.9
    # a coin per region: the region-clustered interval of each class holds the coin's 0.5 (coin seeds 0-4:
    # 9 of 10 class intervals do; seed 4 flipped 2 of the 9 anti-Hale regions; docs/audit.rst), and the
    # pooled share is near it
    coin = per["sign-coin"].hale
    for cls in ("hale", "anti_hale"):
        low, high = ci.get("predictions", "sign-coin", "hale", cls, "footprint_polarity_agreement")
        assert low <= 0.5 <= high and low <= getattr(coin, cls).footprint_polarity_agreement <= high
    n_h, n_a = coin.hale.n_footprint_determined, coin.anti_hale.n_footprint_determined
    pooled = (coin.hale.footprint_polarity_agreement * n_h + coin.anti_hale.footprint_polarity_agreement * n_a) / (n_h + n_a)
    assert 0.3 <= pooled <= 0.7
    assert result.summary.bootstrap.n_region_clusters >= 20


def test_footprint_intervals_resample_regions_not_frames(synth):
    """sign-coin: the frame-block interval of its Hale share is far narrower than the spread of its coins."""
    from euv2mag.audit.bootstrap import block_bootstrap
    from euv2mag.audit.hale import footprint_summary
    from euv2mag.audit.summary import footprint_intervals

    *_, result = synth
    coin = result.matches[result.matches["pred"] == "sign-coin"].reset_index(drop=True)
    new, info = footprint_intervals(result.regions, coin, ["sign-coin"], n_boot=100, level=0.95)
    frames = sorted(set(coin["frame"]))
    times = [result.fulldisk.loc[result.fulldisk["frame"] == k, "time"].iloc[0] for k in frames]
    rows = [np.flatnonzero(coin["frame"].to_numpy() == k) for k in frames]
    old, _ = block_bootstrap(lambda pos: footprint_summary(coin.iloc[np.concatenate([rows[p] for p in pos])]), times,
                             n_boot=100)
    w_new = np.diff(new["predictions"]["sign-coin"]["hale"]["hale"]["footprint_polarity_agreement"])[0]
    w_old = np.diff(old["hale"]["footprint_polarity_agreement"])[0]
    # measured: 0.35 vs 0.10; the same truth region recurs in ~5 of the 23 frames with one coin
    assert info["n_clusters"] == result.summary.bootstrap.n_region_clusters
    assert w_new > 2 * w_old


def test_fulldisk_table_has_the_new_columns(synth, tmp_path):
    *_, result = synth
    for column in ("abs_cc", "abs_cc_binned", "footprint_abs_ratio"):
        assert column in result.fulldisk.columns
    # every truth region observation carries its generator region (the footprint bootstrap's cluster)
    truth_rows = result.matches[result.matches["status"].isin(["matched", "missed"])]
    assert truth_rows["ref_region_id"].notna().mean() > 0.9
    assert result.regions.loc[result.regions["source"] == "truth", "region_id"].notna().mean() > 0.9
    result.write(tmp_path / "audit")
    from euv2mag.audit import AuditResult

    back = AuditResult.read(tmp_path / "audit")
    assert back.summary.predictions["zero"].fulldisk.footprint_abs_ratio == 0.0


def test_shared_footprints_and_array_bootstrap_give_the_per_call_numbers(synth):
    """Issue 12's speed-ups change no number: the stores (regions detected once per frame for both
    region baselines) hold what baseline_map alone gives, and the bootstrap's NumPy row path gives
    summarize_tables of the DataFrame rows of a replicate (repeated frames), bit for bit."""
    from euv2mag.audit._columns import TableColumns
    from euv2mag.audit.baselines import baseline_map
    from euv2mag.audit.bootstrap import block_resamples
    from euv2mag.audit.summary import _summary_rows, summarize_tables

    d, split, _, result = synth
    truth = FrameStore(d / "s.zarr")
    regions = truth.table("frame_regions")
    for i, src in list(enumerate(split.indices("test")))[:2]:
        for kind in ("sign-coin", "hale-oracle"):
            alone = baseline_map(kind, truth.read("mag", src), truth.geometry(src),
                                 regions[regions["frame"] == src].reset_index(drop=True))
            assert np.array_equal(FrameStore(d / "b" / f"{kind}.zarr").read("pred", i), alone, equal_nan=True)
    tables = (result.fulldisk, result.regions, result.matches, result.variability)
    assert all(len(t) for t in tables)
    names = list(result.summary.predictions)
    frames = sorted(set(result.fulldisk["frame"]))
    cols = [TableColumns(t) for t in tables]
    for pos in block_resamples(np.arange(len(frames)) // 4, n_boot=2, seed=1):
        picked = [frames[p] for p in pos]
        rows = [np.concatenate([np.flatnonzero(t["frame"].to_numpy() == k) for k in picked]) for t in tables]
        assert len(set(picked)) < len(picked)  # a replicate repeats frames
        want = summarize_tables(*[t.iloc[r] for t, r in zip(tables, rows)], names)
        got = _summary_rows(cols, rows, names)
        assert json.dumps(got, default=float) == json.dumps(want, default=float)


def test_sign_coin_is_the_same_for_a_region_in_every_frame(synth):
    d, *_ = synth
    from euv2mag.audit.baselines import _coin

    assert all(_coin(0, r) == _coin(0, r) for r in range(20))
    assert 5 <= sum(_coin(0, r) for r in range(40)) <= 35
    assert [_coin(0, r) for r in range(40)] != [_coin(1, r) for r in range(40)]


def test_bad_kinds_are_one_line_before_writing(synth, tmp_path, capsys):
    d, *_ = synth
    for bad in ("clip-0", "clip-x", "coin", "clip--5"):
        with pytest.raises(UserError, match="unknown baseline"):
            parse_kind(bad)
    status = main(["baselines", str(d / "s.zarr"), "--split", str(d / "split.json"), "--out", str(tmp_path / "o"),
                   "--kinds", "zero", "wobble"])
    err = capsys.readouterr().err
    assert status == 2 and "'wobble'" in err and err.count("\n") == 1
    assert not (tmp_path / "o" / "zero.zarr").exists()
    with pytest.raises(UserError, match="twice"):
        write_baselines(d / "s.zarr", tmp_path / "o", kinds=["zero", "zero"], split=d / "split.json")
    with pytest.raises(UserError, match="split"):
        write_baselines(d / "s.zarr", tmp_path / "o", kinds=["zero"])
    assert not (tmp_path / "o" / "zero.zarr").exists()


def test_region_baselines_need_the_generator_regions(synth, tmp_path, capsys):
    d, *_ = synth
    truth = FrameStore(d / "s.zarr")
    plain = tmp_path / "plain.zarr"
    with StoreWriter.open(plain, n_frames=3, shape=truth.shape, arrays=["mag"], kind="prepared", params={}) as w:
        for i in range(3):
            w.write_frame(i, truth.geometry(i), mag=truth.read("mag", i))
        w.finish()
    out = tmp_path / "o"
    status = main(["baselines", str(plain), "--indices", "all", "--out", str(out), "--kinds", "zero", "hale-oracle"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert "--kinds hale-oracle" in err and "plain.zarr" in err and "frame_regions" in err
    assert not (out / "zero.zarr").exists()
    status = main(["baselines", str(plain), "--indices", "all", "--out", str(out), "--kinds", "zero", "clip-50"])
    assert status == 0 and FrameStore(out / "clip-50.zarr").n_frames == 3


def test_persistence_on_the_synthetic_sun(synth, tmp_path):
    """Regions that emerged after t - D are absent from persistence-D; older ones are carried."""
    import pandas as pd

    from euv2mag.audit.pipeline import truth_footprints

    d, *_ = synth
    truth = FrameStore(d / "s.zarr")
    frames = [30, 36, 42]
    (path,) = write_baselines(d / "s.zarr", tmp_path / "b", kinds=["persistence-3"], indices=",".join(map(str, frames)),
                              progress=False)
    pred = FrameStore(path)
    assert pred.table("history")["history_index"].tolist() == [f - 3 for f in frames]  # daily frames
    regions = truth.table("regions")
    emerged = dict(zip(regions["region_id"], pd.to_datetime(regions["emergence_time"])))
    table = truth.table("frame_regions")
    new, old = [], []
    for k, f in enumerate(frames):
        rows = table[table["frame"] == f].reset_index(drop=True)
        age = dict(zip(rows["region_id"], rows["age_days"]))
        geom = truth.geometry(f)
        mag, gen = truth.read("mag", f), pred.read("pred", k)
        labels, found = truth_footprints(mag, geom, AuditParams(), rows)  # the audit's footprints
        t = pd.Timestamp(str(truth.times[f]))
        for row in found.itertuples(index=False):
            inside = labels == row.label
            # regions well inside the disk, also seen (mu >= 0.3) 3 days earlier (~40 deg east)
            if row.region_id is None or inside.sum() < 5 or row.mu_center < 0.3 or row.lon_deg < -25:
                continue
            ratio = np.nanmean(np.abs(gen[inside])) / np.nanmean(np.abs(mag[inside]))
            if emerged[row.region_id] > t - pd.Timedelta(days=3):
                new.append(ratio)
            elif age[row.region_id] > 3 + 3:  # emerged (and grew, rise <= 3 d) before t - D
                old.append(ratio)
    # measured (46 daily frames of 2014, frames 30/36/42; the audit's footprints): the 4 new regions keep
    # 0.006-0.03 of the truth's mean |B| (rotated-in network only); the 11 regions older than D + 3 d a
    # median 1.04 (0.74-1.10: they decayed, or grew, in the 3 days)
    assert len(new) >= 2 and max(new) < 0.2
    assert len(old) >= 10 and 0.8 < np.median(old) < 1.4


def test_footprint_intervals_link_regions_without_generator_ids(synth):
    """Real data has no generator ids: linking truth observations by Carrington position finds about
    as many regions as the generator had, and gives a like interval."""
    from euv2mag.audit.summary import footprint_intervals

    *_, result = synth
    coin = result.matches[result.matches["pred"] == "sign-coin"].reset_index(drop=True)
    with_ids, info_ids = footprint_intervals(result.regions, coin, ["sign-coin"], n_boot=100, level=0.95)
    blind = coin.assign(ref_region_id=pd.NA)
    linked, info_linked = footprint_intervals(result.regions, blind, ["sign-coin"], n_boot=100, level=0.95)
    # measured: 55 linked regions for 49 generator ids; Hale-conforming interval [0.46, 0.74] linked,
    # [0.46, 0.81] by generator id
    assert 0.8 * info_ids["n_clusters"] <= info_linked["n_clusters"] <= 1.3 * info_ids["n_clusters"]
    a = with_ids["predictions"]["sign-coin"]["hale"]["hale"]["footprint_polarity_agreement"]
    b = linked["predictions"]["sign-coin"]["hale"]["hale"]["footprint_polarity_agreement"]
    assert abs((a[1] - a[0]) - (b[1] - b[0])) < 0.15 and b[0] <= 0.5 <= b[1]
