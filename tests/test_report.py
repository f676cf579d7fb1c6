"""The study report, built from a small real study folder: tiny stores, predictions written with
:class:`~euv2mag.data.store.StoreWriter`, audited with :func:`~euv2mag.audit.audit_stores`, and
split, saturation and leakage files made by their commands.  Facts about the report's content;
unit tests of the verdict on constructed :class:`~euv2mag.report.verdict.Headline` objects."""
from __future__ import annotations

import base64
import json
import math
import re
import shutil

import numpy as np
import pandas as pd
import pytest

from euv2mag.audit import AuditParams, AuditSummary, audit_stores
from euv2mag.audit.baselines import KINDS, write_baselines
from euv2mag.audit.files import FULLDISK, PIXEL_STD_ZARR
from euv2mag.audit.fulldisk import FullDiskParams
from euv2mag.cli import main
from euv2mag.data.store import StoreWriter
from euv2mag.geometry import DiskGeometry, default_rsun_px
from euv2mag.model.config import TrainConfig
from euv2mag.report.build import build_report
from euv2mag.report.html import fmt, fmt_ci
from euv2mag.report.inputs import headline, read_summary, run_headlines
from euv2mag.report.layout import StudyLayout
from euv2mag.report.sections.comparison import COLUMNS
from euv2mag.report.verdict import (
    FLOOR_MARGIN,
    STRUCTURE_FRACTION,
    HaleGroup,
    Headline,
    cc_phrase,
    expectation_checks,
    hemisphere_assessment,
    polarity_assessment,
    run_spread,
    sign_assessment,
    structure_assessment,
    structure_sign_verdicts,
    verdict_paragraph,
)

SIZE = 128
N = 17
#: Daily frames 2014-08-27 .. 2014-09-12: the kpl19 split makes the 12 September frames test.
TIMES = [str(np.datetime64("2014-08-27T00:00:00") + np.timedelta64(i, "D")) for i in range(N)]
TEST = list(range(5, N))
#: Two bipoles per frame (latitude, Stonyhurst longitude, leading polarity, Hale-conforming).
REGIONS = ((15.0, -20.0, -1, True), (-12.0, 25.0, 1, False))


def _geometry(i):
    return DiskGeometry((SIZE, SIZE), default_rsun_px(SIZE), 1.9 * 1024 / SIZE, 6.0, 10.0 + 13.2 * i, time=TIMES[i])


def _map(i, sign=1.0):
    """Two bipoles whose strength changes from frame to frame (so TUMF and NMF vary), in G."""
    g = _geometry(i)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    mag = np.random.default_rng(i).normal(0, 3, g.shape)
    for (lat, lon, lead, _), peak in zip(REGIONS, (900.0 + 80 * i, 1400.0 - 60 * i)):
        for dlon, s, f in ((4.0, lead, 1.0), (-4.0, -lead, 0.7 + 0.02 * i)):
            x, y, _ = g.hgs_to_pixel(lat, lon + dlon)
            mag += s * f * peak * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 2.0**2))
    mag[~g.disk_mask(1.0)] = np.nan
    return (sign * mag).astype(np.float32)


def _pred(path, sign):
    """A prediction store of the test frames: the reference map times ``sign``."""
    w = StoreWriter.open(path, n_frames=len(TEST), shape=(SIZE, SIZE), arrays=("pred",), kind="prediction", params={})
    for j, i in enumerate(TEST):
        w.write_frame(j, _geometry(i), pred=_map(i, sign))
    w.finish()


def make_study(root):
    """A small study folder laid out as ``euv2mag demo`` writes it, every result file made by its real writer.

    main runs: seed 0 generates the reference exactly, seed 1 its negation; the leak control's
    run generates the reference.  Both experiments, and the baselines of the test frames
    (:func:`~euv2mag.audit.baselines.write_baselines`, one audit each), are audited with a
    50-replicate bootstrap.  The generator rows give each frame's two bipoles their own
    ``region_id``, so the ``sign-coin`` baseline tosses a new coin per frame and region (about
    half of each Hale class negated) inside the audit's footprint of the bipole (its detected
    region, :func:`~euv2mag.audit.pipeline.truth_footprints`).
    """
    lay = StudyLayout(root)
    w = StoreWriter.open(lay.store, n_frames=N, shape=(SIZE, SIZE), arrays=("euv", "mag"), kind="synthetic",
                         params={"seed": 0, "polarity_leak": 0.0})
    for i in range(N):
        mag = _map(i)
        w.write_frame(i, _geometry(i), euv=np.abs(np.nan_to_num(mag)) + 10.0, mag=mag)
    w.write_table("regions", pd.DataFrame({"region_id": [1, 2], "lat_deg": [r[0] for r in REGIONS],
                                           "total_flux_mx": [3e21, 5e21], "leading_polarity": [r[2] for r in REGIONS],
                                           "hale_conforming": [r[3] for r in REGIONS]}))
    w.write_table("frame_regions", pd.DataFrame([
        {"frame": i, "time": TIMES[i], "region_id": 1 + k + 2 * i, "lat_deg": lat, "stonyhurst_lon_deg": lon,
         "carrington_lon_deg": (_geometry(i).l0_deg + lon) % 360, "hale_conforming": hale,
         "separation_mm": 2 * 4.0 * np.pi / 180 * 696.0, "plage_radius_mm": 40.0}
        for i in range(N) for k, (lat, lon, _, hale) in enumerate(REGIONS)]))
    w.finish()
    _pred(lay.pred("main", 0), 1.0)
    _pred(lay.pred("main", 1), -1.0)
    _pred(lay.pred("leak", 0), 1.0)
    lay.split("kpl19").parent.mkdir(parents=True)
    assert main(["split", str(lay.store), str(lay.split("kpl19")), "--scheme", "kpl19"]) == 0
    assert main(["leakage", str(lay.store), "--split", str(lay.split("kpl19")), "--out", str(lay.leakage_dir("kpl19"))]) == 0
    assert main(["saturation", str(lay.store), "--limits", "100", "3000", "--out", str(lay.saturation_dir)]) == 0
    for exp, seeds in (("main", (0, 1)), ("leak", (0,))):
        audit_stores(lay.store, [lay.pred(exp, s) for s in seeds], n_boot=50, out=lay.audit_dir(exp))
        for seed in seeds:
            d = lay.seed_dir(exp, seed)
            d.mkdir(parents=True)
            TrainConfig(iters=200).write(d / "config.toml")
            pd.DataFrame({"iteration": [50, 100, 150, 200], "loss_g_l1": [0.5, 0.3, 0.2, 0.15],
                          "val_pixel_cc": [0.1, 0.3, 0.4, 0.45]}).to_csv(d / "metrics.csv", index=False)
            (d / "best.json").write_text(json.dumps({"metric": "val_l1_g", "iteration": 150, "value": 12.5}))
    write_baselines(lay.store, lay.baselines_dir, indices="test", split=lay.split("kpl19"), progress=False)
    for kind in KINDS:
        audit_stores(lay.store, [lay.baseline_pred(kind)], n_boot=50, out=lay.baseline_audit_dir(kind))
    lay.stages.write_text(json.dumps({"options": {"size": SIZE}, "stages": {"synth": {"status": "done", "seconds": 1.5}}}))
    return lay


def _cells(html: str, table_id: str) -> list[list[str]]:
    from lxml import html as lh

    doc = lh.fromstring(html)
    (table,) = doc.xpath(f'//table[@id="{table_id}"]')
    return [[c.text_content() for c in tr.xpath("./td")] for tr in table.xpath(".//tbody/tr")]


def _section(html: str, anchor: str) -> str:
    return re.search(rf'<section id="{anchor}">(.*?)</section>', html, re.S).group(1)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """The study folder, made once (copied by the tests that change it)."""
    return make_study(tmp_path_factory.mktemp("study"))


@pytest.fixture(scope="module")
def study(made):
    build_report(made.root)
    return made, made.report.read_text(encoding="utf-8")


def _copy(made, tmp_path) -> StudyLayout:
    shutil.copytree(made.root, tmp_path / "study")
    return StudyLayout(tmp_path / "study")


def test_all_sections_present_and_nothing_missing(study):
    lay, html = study
    for anchor in ("control", "comparison", "dataset", "saturation", "examples", "training", "fulldisk", "regions", "variability", "provenance"):
        assert f'<section id="{anchor}">' in html
    assert 'class="missing"' not in html and 'class="invalid"' not in html
    # every figure and table names its source files
    assert html.count("<figcaption>") == html.count('<span class="source">Source: ')


def test_images_embedded_as_png_data_uris(study):
    _, html = study
    srcs = re.findall(r'<img [^>]*src="([^"]+)"', html)
    # activity, leakage, saturation, AMF, Fig. 1, training, full-disk, region overlay, region params, std map
    assert len(srcs) >= 10
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
    assert "http://" not in html and "https://" not in html


def test_numbers_equal_source_files(study):
    lay, html = study
    leak = json.loads((lay.leakage_dir("kpl19") / "leakage.json").read_text())
    rows = {r[0]: r[1:] for r in _cells(html, "leakage-table")}
    assert rows["frac_same_face_within_1_rotation"] == [fmt(leak["frac_same_face_within_1_rotation"])]
    assert rows["median_gap_days"] == [fmt(leak["median_gap_days"])] and leak["n_test"] == len(TEST)
    sat = json.loads((lay.saturation_dir / "saturation.json").read_text())["limits"]["100"]
    (row100, _) = _cells(html, "saturation-table")
    assert row100[1:] == [fmt(sat["n_maps"]), fmt(sat["tumf"]["slope"]), fmt(sat["tumf"]["r2"]), fmt(sat["nmf"]["slope"]),
                          fmt(sat["nmf"]["r2"]), fmt(sat["sign_flip_fraction"])]
    summ = AuditSummary.read(lay.audit_dir("main"))
    pooled = summ.pooled_over_predictions.hale
    hale = {r[0]: r for r in _cells(html, "hale-table-main")}
    assert set(hale) == {"hale", "anti_hale", "undetermined"}
    assert hale["hale"][1] == fmt(pooled.hale.n_ref) == fmt(2 * len(TEST))  # one Hale region per frame and run
    control = {r[0]: r[1:] for r in _cells(html, "control-table")}
    mean = summ.mean_over_predictions
    tumf_ci = summ.ci.get("mean_over_predictions", "fulldisk", "tumf", "cc")
    assert control["full-disk TUMF CC"][0] == fmt_ci(mean.fulldisk.tumf.cc, tumf_ci) and mean.fulldisk.tumf.cc == pytest.approx(1)
    assert control["full-disk NMF CC"][0].startswith(fmt(mean.fulldisk.nmf.cc))  # mean of +1 and -1
    assert control["region recall"][0].startswith(fmt(mean.regions.recall))
    # the pixel scatter is binned as the audit bins (its bin_factor and disk cut, from summary.json params)
    k, r_max = summ.params["fulldisk"]["bin_factor"], summ.params["fulldisk"]["r_max"]
    assert f"averaged in {k}x{k} blocks inside {fmt(r_max)} solar radii" in _section(html, "fulldisk")
    ds = {r[0]: r[1] for r in _cells(html, "dataset-table")}
    assert ds["frames"] == str(N) and ds["anti-Hale regions"] == "1" and ds["first frame (UTC)"].startswith(TIMES[0][:10])
    # the Fig. 1 caption names the frame of the dataset store it shows
    assert re.search(r"data/synth\.zarr \(frame (\d+)\)", _section(html, "examples")).group(1) in map(str, TEST)


def test_matched_region_panels_appear_on_real_audit_output(study):
    """matches.csv holds ref_/gen_ columns of MATCH_PARAMETERS: the panels and their CCs are there."""
    lay, html = study
    summ = AuditSummary.read(lay.audit_dir("main"))
    regions = _section(html, "regions")
    assert 'alt="region parameter scatter"' in regions and "matched region pairs" in regions
    params = summ.mean_over_predictions.regions.parameters
    assert params["area_msh"].n_pairs >= 10
    rows = {r[0]: r[1:] for r in _cells(html, "param-table")}
    # |B|-only parameters agree exactly for the reference and its negation; NMF is anti-correlated in one run
    assert rows["area_msh"] == [fmt(params["area_msh"].cc), fmt(params["area_msh"].n_pairs)] and params["area_msh"].cc == pytest.approx(1)
    assert rows["nmf_mx"][0] == fmt(params["nmf_mx"].cc) and params["nmf_mx"].cc == pytest.approx(0, abs=1e-9)
    control = {r[0]: r[1:] for r in _cells(html, "control-table")}
    assert control["region area_msh CC"][0] == f"{fmt(params['area_msh'].cc)} ({fmt(params['area_msh'].n_pairs)} pairs)"


def test_no_region_cc_from_fewer_than_ten_pairs(made, tmp_path):
    """An audit of 3 frames has ~6 matched pairs per run: no region-parameter CC is printed anywhere.

    The audit also bins 4x4 instead of 8x8, which the full-disk pixel scatter follows.
    """
    lay = _copy(made, tmp_path)
    shutil.rmtree(lay.audit_dir("main"))
    params = AuditParams(fulldisk=FullDiskParams(bin_factor=4))
    audit_stores(lay.store, [lay.pred("main", 0), lay.pred("main", 1)], params=params, n_boot=0, indices=range(3),
                 out=lay.audit_dir("main"))
    summ = AuditSummary.read(lay.audit_dir("main"))
    n_pairs = summ.mean_over_predictions.regions.parameters["area_msh"].n_pairs
    assert 0 < n_pairs < 10
    html = build_report(lay.root).read_text()
    rows = _cells(html, "param-table")
    assert rows and all(r[1] == "—" and int(r[2]) < 10 for r in rows)
    assert {r[0]: r[2] for r in rows}["area_msh"] == fmt(n_pairs)
    cc_rows = [r for r in _cells(html, "control-table") if r[0].startswith("region ") and r[0].endswith(" CC")]
    assert cc_rows and all(re.fullmatch(r"— \(\d+ pairs\)", r[1]) for r in cc_rows)
    # the panels still show the pairs, with a dash for the CC
    assert 'alt="region parameter scatter"' in _section(html, "regions")
    # this audit binned 4x4: so does the pixel scatter, and its caption says so
    assert "averaged in 4x4 blocks" in _section(html, "fulldisk")


def test_std_map_is_the_audits_pixel_std(study, tmp_path):
    made, html = study  # the report of the unchanged study
    lay = _copy(made, tmp_path)
    variability = _section(html, "variability")
    assert 'alt="per-pixel std map"' in variability and f"audit/main/{PIXEL_STD_ZARR}" in variability
    assert "ddof 1" in variability
    shutil.rmtree(lay.audit_dir("main") / PIXEL_STD_ZARR)
    variability = _section(build_report(lay.root).read_text(), "variability")
    assert 'alt="per-pixel std map"' not in variability
    assert 'class="missing"' in variability and PIXEL_STD_ZARR in variability


def test_renamed_column_is_reported_not_skipped(made, tmp_path):
    lay = _copy(made, tmp_path)
    path = FULLDISK.path(lay.audit_dir("main"))
    pd.read_csv(path).rename(columns={"tumf_ref_mx": "tumf_reference_mx"}).to_csv(path, index=False)
    fulldisk = _section(build_report(lay.root).read_text(), "fulldisk")
    assert 'class="invalid"' in fulldisk and "fulldisk.csv lacks column(s) tumf_ref_mx" in fulldisk
    assert "<img" not in fulldisk
    # a summary.json that is not an audit summary is named as such too
    (lay.audit_dir("main") / "summary.json").write_text(json.dumps({"predictions": {}}))
    control = _section(build_report(lay.root).read_text(), "control")
    assert 'class="invalid"' in control and "not an audit summary" in control


def test_headline_reads_the_typed_summary(study):
    lay, _ = study
    summ = AuditSummary.read(lay.audit_dir("main"))
    h = headline(summ, "audit/main/summary.json")
    mean = summ.mean_over_predictions
    assert (h.tumf_cc, h.pixel_cc, h.recall) == (mean.fulldisk.tumf.cc, mean.fulldisk.mean_cc, mean.regions.recall)
    assert h.n_matched == round(mean.regions.n_matched) and h.ci["tumf_cc"] == summ.ci.get("mean_over_predictions", "fulldisk", "tumf", "cc")
    assert h.hale_runs_pooled == 2 and h.n_matched_all_runs == summ.pooled_over_predictions.n_matched
    assert h.hale.n == summ.pooled_over_predictions.hale.hale.n_ref and h.bootstrap["n_boot"] == 50
    runs = run_headlines(summ, "s")
    assert set(runs) == {"main-seed-0", "main-seed-1"}
    assert runs["main-seed-0"].nmf_cc == pytest.approx(1) and runs["main-seed-1"].nmf_cc == pytest.approx(-1)
    assert runs["main-seed-1"].hale.polarity_agreement == 0.0 and runs["main-seed-0"].hale.polarity_agreement == 1.0


def test_runs_differ_only_when_their_intervals_are_disjoint(study):
    lay, _ = study
    base = AuditSummary.read(lay.audit_dir("main")).to_dict()

    def with_runs(cc_a, ci_a, cc_b, ci_b):
        s = json.loads(json.dumps(base, default=float))
        for name, cc, ci in (("main-seed-0", cc_a, ci_a), ("main-seed-1", cc_b, ci_b)):
            s["predictions"][name]["fulldisk"]["tumf"]["cc"] = cc
            s["ci"]["predictions"][name]["fulldisk"]["tumf"]["cc"] = ci
        return AuditSummary.from_dict(s)

    disjoint = with_runs(0.88, [0.8, 0.92], 0.21, [0.06, 0.31])
    runs = run_headlines(disjoint, "audit/main/summary.json")
    assert runs["main-seed-1"].ci["tumf_cc"] == (0.06, 0.31) and runs["main-seed-0"].bootstrap["n_boot"] == 50
    differ, text = run_spread(runs)
    assert differ is True and text == "TUMF CC 0.88 [0.8, 0.92] (main-seed-0) vs 0.21 [0.06, 0.31] (main-seed-1)"
    main_h = headline(disjoint, "m")
    assert "Identically configured runs differ" in verdict_paragraph(main_h, None, 2, runs)
    overlap = run_headlines(with_runs(0.88, [0.7, 0.92], 0.75, [0.6, 0.8]), "s")
    assert run_spread(overlap)[0] is False and "agree within their intervals" in verdict_paragraph(main_h, None, 2, overlap)
    assert run_spread({"only": runs["main-seed-0"]})[0] is None and run_spread(None)[0] is None
    # without intervals (an audit run with --n-boot 0) nothing is claimed about the runs
    plain = {k: Headline(source="s", tumf_cc=h.tumf_cc) for k, h in runs.items()}
    assert run_spread(plain)[0] is None


def _head(anti_agreement: float, nmf_cc: float = 0.2, tumf_cc: float = 0.93) -> Headline:
    """Headline numbers of a constructed audit (no file format involved)."""
    params = {"area_msh": 0.91, "tumf_mx": 0.89, "nmf_mx": 0.15, "pil_length_mm": 0.33}
    return Headline(source="audit/main/summary.json", n_frames=3, tumf_cc=tumf_cc, tumf_r2=0.71, tumf_slope=0.88,
                    nmf_cc=nmf_cc, nmf_r2=-0.4, nmf_slope=0.1, pixel_cc=0.41, pixel_cc_binned=0.52, polarity_agreement=0.61,
                    recall=0.7333, precision=0.88, center_offset_deg=1.27, n_ref_regions=60, n_gen_regions=50, n_matched=44,
                    param_cc=params, param_pairs={p: 44 for p in params},
                    hale=HaleGroup(n=50, n_matched=40, polarity_agreement=0.925, nmf_sign_agreement=0.925, recall=0.8),
                    anti_hale=HaleGroup(n=40, n_matched=40, polarity_agreement=anti_agreement,
                                        nmf_sign_agreement=anti_agreement, recall=1.0))


def test_verdict_follows_the_numbers():
    chance = verdict_paragraph(_head(0.5), _head(0.95, nmf_cc=0.85), 3)
    good = verdict_paragraph(_head(0.95), _head(0.95, nmf_cc=0.85), 3)
    assert chance != good
    assert "consistent with chance" in chance and "not information it read from the EUV image" in chance
    assert "anti-Hale regions right too" in good and "consistent with chance" not in good
    # quantities land on the side their CC puts them
    assert "full-disk TUMF (CC 0.93)" in chance.split("They do not reproduce")[0]
    assert "full-disk NMF (CC 0.2)" in chance.split("They do not reproduce")[1]
    assert "NMF CC (0.2 → 0.85)" in chance
    # no leak audit: the verdict says so instead of claiming the control
    assert "has not been audited" in verdict_paragraph(_head(0.5), None)
    # Hale classes pooled over the runs: the verdict gives the observations of all runs together
    hp = _head(0.5)
    hp.hale = HaleGroup(n=150, n_matched=17, polarity_agreement=0.18, n_footprint=330, footprint_polarity_agreement=0.5,
                        footprint_ci=(0.47, 0.53))
    hp.anti_hale, hp.hale_runs_pooled, hp.n_matched_all_runs = HaleGroup(n=30, n_matched=0), 3, 17
    text = verdict_paragraph(hp, None, 3)
    assert "observations of the 3 runs together" in text and "0.5 of 330 region observations" in text
    hp.n_matched = 6  # per-run mean below MIN_PAIRS: the verdict gives both counts
    assert "6 matched region pairs per run (17 in the 3 runs together)" in verdict_paragraph(hp, None, 3)


def test_polarity_assessment_against_chance():
    assert polarity_assessment(0.5, 40)[0] == "chance"
    assert polarity_assessment(0.95, 40)[0] == "above"
    assert polarity_assessment(0.05, 40)[0] == "below"
    assert polarity_assessment(1.0, 3)[0] == "too few"
    assert polarity_assessment(None, 10)[0] == "unknown"
    # 26 of 40 is p = 0.08 (two-sided): still chance; 28 of 40 (p = 0.017) is not
    assert polarity_assessment(26 / 40, 40)[0] == "chance"
    assert polarity_assessment(28 / 40, 40)[0] == "above"
    assert [cc_phrase(x) for x in (0.95, 0.8, 0.5, 0.1)] == ["closely reproduced", "reproduced fairly well", "reproduced poorly", "not reproduced"]


def test_bootstrap_intervals_decide_polarity_not_the_binomial():
    """Region observations of consecutive frames are not independent: the block-bootstrap interval decides."""
    assert polarity_assessment(0.6, 200)[0] == "above"  # binomial, 120 of 200 'independent' regions: p = 0.005
    cat, text = polarity_assessment(0.6, 200, (0.45, 0.75))
    assert cat == "chance" and "block-bootstrap interval 0.45–0.75" in text
    assert polarity_assessment(0.6, 200, (0.52, 0.68))[0] == "above"
    assert polarity_assessment(0.3, 50, (0.1, 0.45))[0] == "below"
    assert polarity_assessment(0.6, 200, (math.nan, math.nan))[0] == "too few"
    assert "treating observations as independent" in polarity_assessment(0.6, 200)[1]
    assert fmt_ci(0.5, (0.4, 0.61234)) == "0.5 [0.4, 0.612]" and fmt_ci(0.5, (math.nan, 1)) == "0.5" and fmt_ci(None, (0, 1)) == "—"


def test_hemisphere_contrast_decides_whether_hale_law_was_learned():
    def group(value, lo, hi):
        return HaleGroup(hemisphere_contrast=value, ref_hemisphere_contrast=0.99, hemisphere_ci=(lo, hi),
                         footprint_polarity_agreement=0.5, n_footprint=300, footprint_ci=(0.45, 0.55))

    assert hemisphere_assessment(group(0.9, 0.8, 0.97))[0] == "hale"
    assert hemisphere_assessment(group(0.3, 0.1, 0.5))[0] == "partly"
    assert hemisphere_assessment(group(0.05, -0.09, 0.18)) == (
        "blind", "hemispheric contrast of the generated leading polarity 0.05 [-0.09, 0.18] (reference 0.99)")
    assert hemisphere_assessment(group(-0.4, -0.6, -0.2))[0] == "reversed"
    assert hemisphere_assessment(HaleGroup())[0] == "unknown"
    main = Headline(source="m", tumf_cc=0.9, hale=group(0.05, -0.09, 0.18), anti_hale=HaleGroup())
    assert "no hemispheric dependence" in verdict_paragraph(main, None)
    (check,) = [c for c in expectation_checks(main, None) if "hemispheric contrast" in c.expectation]
    assert check.holds is False
    main.hale = group(0.9, 0.8, 0.97)
    assert "applies Hale's law as a sign prior" in verdict_paragraph(main, None)
    assert [c.holds for c in expectation_checks(main, None) if "hemispheric contrast" in c.expectation] == [True]



def test_expectation_checks_flip_with_numbers():
    main = Headline(source="m", tumf_cc=0.9, nmf_cc=0.3, pixel_cc=0.4, n_matched=40, param_cc={"area_mm2": 0.9, "pil_length_mm": 0.3},
                    hale=HaleGroup(n=50, n_matched=40, polarity_agreement=0.95), anti_hale=HaleGroup(n=30, n_matched=30, polarity_agreement=0.1))
    main.polarity_agreement = 0.55
    leak = Headline(source="l", tumf_cc=0.92, nmf_cc=0.8, pixel_cc=0.7, polarity_agreement=0.97,
                    anti_hale=HaleGroup(n_matched=30, polarity_agreement=0.9))
    checks = expectation_checks(main, leak)
    assert len(checks) == 10 and all(c.holds for c in checks)
    swapped = Headline(source="m", tumf_cc=0.3, nmf_cc=0.9, pixel_cc=0.4, param_cc={}, hale=main.hale, anti_hale=main.anti_hale)
    first = expectation_checks(swapped, leak)[0]
    assert first.holds is False and "0.3" in first.observed
    # region-parameter CCs over a handful of matched pairs are not evidence either way
    few = Headline(source="m", tumf_cc=0.9, n_matched=3, param_cc={"area_mm2": 0.99, "pil_length_mm": 0.1})
    (area_check,) = [c for c in expectation_checks(few, None) if "PIL length" in c.expectation]
    assert area_check.holds is None and "only 3 matched" in area_check.observed
    assert "region area" not in verdict_paragraph(few, None) and "too few" in verdict_paragraph(few, None)



def test_report_of_empty_folder_says_what_is_missing(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 0
    html = (tmp_path / "report.html").read_text()
    assert html.count('class="missing"') >= 6
    assert "euv2mag synth" in html and "euv2mag audit" in html and "euv2mag saturation" in html
    assert "No audit of the main runs was found" in html
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "no such study folder" in capsys.readouterr().err




@pytest.mark.slow
def test_report_rebuilds_after_numbers_change(study, tmp_path):
    made, html = study  # the report of the unchanged study, then rebuilt in a copy after an edit
    lay = _copy(made, tmp_path)
    verdict = lambda h: re.search(r'<div class="verdict" id="verdict">(.*?)</div>', h, re.S).group(1)  # noqa: E731
    first = verdict(html)
    assert verdict(lay.report.read_text()) == first  # the copy holds that report
    path = lay.audit_dir("main") / "summary.json"
    summ = json.loads(path.read_text())
    summ["mean_over_predictions"]["fulldisk"]["tumf"]["cc"] = 0.1
    path.write_text(json.dumps(summ))
    second = verdict(build_report(lay.root).read_text())
    assert first != second and "full-disk TUMF (CC 0.1)" in second and "full-disk TUMF (CC 0.1)" not in first


# --------------------------------------------------------------------------- models beside the baselines
def _baseline_heads(lay):
    return {k: headline(AuditSummary.read(lay.baseline_audit_dir(k)), k) for k in KINDS}


def test_layout_keeps_baselines_apart_from_experiments(made):
    assert made.experiments() == ["main", "leak"]  # audit/baselines is not an experiment
    assert made.baselines() == list(KINDS) and made.baseline_pred("zero") == made.root / "pred/baselines/zero.zarr"


def test_comparison_table_sets_every_model_beside_the_baselines(study):
    lay, html = study
    rows = {r[0]: r[1:] for r in _cells(html, "comparison-table")}
    assert list(rows) == ["main (model, mean of 2 runs)", "  main-seed-0", "  main-seed-1", "leak (model)",
                          *(f"{k} (baseline)" for k in KINDS)]
    col = {name: i for i, (name, _) in enumerate(COLUMNS)}
    summ = AuditSummary.read(lay.audit_dir("main"))
    fd, ci = summ.mean_over_predictions.fulldisk, summ.intervals("mean_over_predictions", "fulldisk")
    assert rows["main (model, mean of 2 runs)"][col["|B| CC"]] == fmt_ci(fd.mean_abs_cc, ci.get("mean_abs_cc"))
    assert fd.mean_abs_cc == pytest.approx(1) and fd.mean_cc == pytest.approx(0, abs=1e-9)  # +B and -B: |B| right, B not
    pooled = summ.pooled_over_predictions.hale.anti_hale
    assert rows["main (model, mean of 2 runs)"][col["footprint polarity, anti-Hale"]] == fmt_ci(
        pooled.footprint_polarity_agreement, summ.intervals("pooled_over_predictions", "hale", "anti_hale").get(
            "footprint_polarity_agreement"))
    assert rows["  main-seed-1"][col["footprint polarity, Hale-conforming"]].startswith("0 ")
    # the baselines bracket the models: zero has no field, clip-100 keeps signs but loses flux, hale-oracle is Hale's law
    zero, clip = AuditSummary.read(lay.baseline_audit_dir("zero")), AuditSummary.read(lay.baseline_audit_dir("clip-100"))
    assert rows["zero (baseline)"][col["|B| CC"]] == "—" and rows["zero (baseline)"][col["footprint |B| ratio"]].startswith("0 ")
    assert zero.mean_over_predictions.fulldisk.footprint_abs_ratio == 0
    ratio = clip.mean_over_predictions.fulldisk.footprint_abs_ratio
    assert 0.1 < ratio < 0.5 and rows["clip-100 (baseline)"][col["footprint |B| ratio"]].startswith(fmt(ratio))
    oracle = rows["hale-oracle (baseline)"]
    assert (oracle[col["footprint polarity, Hale-conforming"]].split()[0], oracle[col["footprint polarity, anti-Hale"]].split()[0]) == ("1", "0")
    notes = re.findall(r"<li><p>([^<]*)</p></li>", _section(html, "comparison"))
    assert [n.split(":")[0] for n in notes] == list(KINDS) and "floor" in notes[0] and "ceiling" in notes[1]


def test_structure_and_sign_verdicts_of_real_audits(study, tmp_path):
    """Every branch of "learned the structure" / "learned the sign", on summaries written by the audit's writer."""
    lay, html = study
    base = _baseline_heads(lay)
    leak, model = headline(AuditSummary.read(lay.audit_dir("leak")), "l"), headline(AuditSummary.read(lay.audit_dir("main")), "k")
    # the exact map: structure at the ceiling, both Hale classes beat the coin
    assert (structure_assessment(leak, base)[0], sign_assessment(leak, base)[0]) == ("learned", "learned")
    # +B and -B pooled: |B| perfect, footprint polarity 0.5 in both classes, within the coin's range
    assert (structure_assessment(model, base)[0], sign_assessment(model, base)[0]) == ("learned", "not learned")
    # the baselines judged as models: Hale's law, a coin, and no field at all
    assert sign_assessment(base["hale-oracle"], base)[0] == "hale"
    assert sign_assessment(base["sign-coin"], base)[0] == "not learned"
    assert structure_assessment(base["zero"], base)[0] == "not learned" and sign_assessment(base["zero"], base)[0] == "unknown"
    assert structure_assessment(base["clip-100"], base)[0] == "learned"  # the ceiling reaches itself
    # the statements in the verdict box are these
    items = dict(re.findall(r'<li data-structure="([^"]+)" data-sign="([^"]+)"><p>leak:', html))
    assert items == {"learned": "learned"} and 'data-sign="not learned"><p>main: learned the structure but not the sign' in html
    # edited numbers, written and read back through the summary's writer: partly learned, Hale prior, no interval
    ceiling = base["clip-100"].footprint_abs_ratio

    def edited(change):
        d = AuditSummary.read(lay.audit_dir("leak")).to_dict()
        change(d)
        AuditSummary.from_dict(d).write(tmp_path / "summary.json")
        return headline(read_summary(tmp_path / "summary.json"), "edited")

    def weak(d):
        low = STRUCTURE_FRACTION * ceiling - 0.02
        for block, cis in ((d["mean_over_predictions"], d["ci"]["mean_over_predictions"]),):
            block["fulldisk"]["footprint_abs_ratio"] = low + 0.01
            cis["fulldisk"]["footprint_abs_ratio"] = [low, low + 0.02]
    partly = edited(weak)
    assert partly.footprint_abs_ratio < STRUCTURE_FRACTION * ceiling and partly.ci["footprint_abs_ratio"][0] > FLOOR_MARGIN
    assert structure_assessment(partly, base)[0] == "partly"

    def prior(d):
        d["pooled_over_predictions"]["hale"]["anti_hale"]["footprint_polarity_agreement"] = 0.5
        d["ci"]["pooled_over_predictions"]["hale"]["anti_hale"]["footprint_polarity_agreement"] = [0.3, 0.7]
    assert sign_assessment(edited(prior), base)[0] == "prior"

    def no_interval(d):
        del d["ci"]["mean_over_predictions"]["fulldisk"]["mean_abs_cc"]
    assert structure_assessment(edited(no_interval), base)[0] == "unknown"
    # without baselines: the truth (1) as the ceiling and chance (0.5) as the coin
    (alone,) = structure_sign_verdicts({"leak": leak}, {})
    assert (alone.structure, alone.sign) == ("learned", "learned") and "chance 0.5 (no sign-coin audit)" in alone.text
    assert "ceiling the truth (1, 1)" in alone.text


@pytest.mark.slow
def test_report_without_baselines_says_so(made, tmp_path):
    lay = _copy(made, tmp_path)
    shutil.rmtree(lay.root / "audit" / "baselines")
    shutil.rmtree(lay.baselines_dir)
    html = build_report(lay.root).read_text()
    comparison = _section(html, "comparison")
    assert 'class="missing"' in comparison and "euv2mag baselines" in comparison
    assert [r[0] for r in _cells(html, "comparison-table")] == ["main (model, mean of 2 runs)", "  main-seed-0",
                                                                 "  main-seed-1", "leak (model)"]
    assert "no baseline audited" in _section(html, "control")
    # a baseline store without its audit is named as missing
    write_baselines(lay.store, lay.baselines_dir, kinds=["zero"], indices="test", split=lay.split("kpl19"), progress=False)
    comparison = _section(build_report(lay.root).read_text(), "comparison")
    assert "audit/baselines/zero/summary.json (baseline zero not audited)" in comparison
