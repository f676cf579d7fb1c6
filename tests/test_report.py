"""The study report: built from small constructed study folders; facts about its content."""
from __future__ import annotations

import base64
import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from euv2mag.cli import main
from euv2mag.data.store import StoreWriter
from euv2mag.geometry import DiskGeometry, default_rsun_px
from euv2mag.report.build import build_report
from euv2mag.report.html import fmt, fmt_ci
from euv2mag.report.inputs import headline, run_headlines
from euv2mag.report.layout import StudyLayout
from euv2mag.report.verdict import (
    HaleGroup,
    Headline,
    cc_phrase,
    expectation_checks,
    hemisphere_assessment,
    polarity_assessment,
    run_spread,
    verdict_paragraph,
)

SIZE = 64
TIMES = [f"2012-0{m}-0{d}T00:00:00" for m, d in ((8, 1), (8, 2), (8, 3), (9, 1), (9, 2), (9, 3))]


def _geometry(i: int) -> DiskGeometry:
    rsun = default_rsun_px(SIZE)
    return DiskGeometry((SIZE, SIZE), rsun, 959.6 / rsun, 6.0, (100.0 - 13.2 * i) % 360, 1.5e11, time=TIMES[i])


def _bipole(geo: DiskGeometry, sign: float) -> np.ndarray:
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    c = (SIZE - 1) / 2
    mag = sign * (800 * np.exp(-((x - c + 4) ** 2 + (y - c - 5) ** 2) / 6) - 800 * np.exp(-((x - c - 4) ** 2 + (y - c - 5) ** 2) / 6))
    return np.where(geo.rho < 1, mag, np.nan).astype(np.float32)


def _summary(anti_agreement: float, nmf_cc: float = 0.2, tumf_cc: float = 0.93) -> dict:
    """An audit summary.json shaped as the audit module's outputs (series_metrics, match stats, hale_breakdown)."""
    def group(n, nm, agree):
        return {"n_ref": n, "n_matched": nm, "recall": nm / n, "n_polarity_agree": round(agree * nm),
                "n_polarity_fail": nm - round(agree * nm), "polarity_agreement": agree,
                "n_nmf_sign_agree": round(agree * nm), "nmf_sign_agreement": agree}

    block = {
        "n_frames": 3,
        "fulldisk": {
            "tumf": {"n": 3, "cc": tumf_cc, "r2": 0.71, "slope": 0.88, "r2_fit": 0.8},
            "nmf": {"n": 3, "cc": nmf_cc, "r2": -0.4, "slope": 0.1, "r2_fit": 0.01},
            "mean_cc": 0.41, "mean_cc_binned": 0.52, "mean_polarity_agreement": 0.61,
        },
        "regions": {"n_ref": 60, "n_gen": 50, "n_matched": 44, "recall": 0.7333, "precision": 0.88,
                    "offset_mean_deg": 1.27, "parameters": {"area_mm2": {"cc": 0.91}, "tumf_mx": {"cc": 0.89},
                                                            "nmf_mx": {"cc": 0.15}, "pil_length_mm": {"cc": 0.33}}},
        "hale": {"hale": group(50, 40, 0.925), "anti_hale": group(10, 40, anti_agreement), "undetermined": group(1, 1, 1.0)},
    }
    return {"predictions": {"kpl19-seed-0": block}, "mean_over_predictions": block, "params": {}}


def make_study(root, *, anti_agreement_main: float = 0.5, anti_agreement_leak: float = 0.95):
    """A complete small study folder, laid out as `euv2mag demo` writes it."""
    lay = StudyLayout(root)
    w = StoreWriter.open(lay.store, n_frames=len(TIMES), shape=(SIZE, SIZE), arrays=("euv", "mag"),
                         kind="synthetic", params={"seed": 0, "polarity_leak": 0.0})
    for i in range(len(TIMES)):
        geo = _geometry(i)
        mag = _bipole(geo, 1.0)
        w.write_frame(i, geo, euv=np.abs(np.nan_to_num(mag)) + 10.0, mag=mag)
    w.write_table("regions", pd.DataFrame({"region_id": [1, 2], "emergence_time": TIMES[:2], "carrington_lon_deg": [10.0, 50.0],
                                           "lat_deg": [12.0, -15.0], "total_flux_mx": [3e21, 5e21], "tilt_deg": [5.0, 6.0],
                                           "leading_polarity": [-1, 1], "hale_conforming": [True, False], "cycle": [24, 24],
                                           "hemisphere": ["N", "S"]}))
    w.write_table("frame_regions", pd.DataFrame({"frame": [0, 1, 1, 2, 3, 4, 5], "region_id": [1, 1, 2, 2, 2, 2, 2]}))
    w.finish()
    for seed, sign in ((0, 1.0), (1, -1.0)):
        pw = StoreWriter.open(lay.pred("kpl19", seed), n_frames=3, shape=(SIZE, SIZE), arrays=("pred",), kind="prediction",
                              params={"seed": seed})
        for j, i in enumerate((3, 4, 5)):
            geo = _geometry(i)
            pw.write_frame(j, geo, pred=_bipole(geo, sign) * 0.5)
        pw.finish()
    for scheme, gap in (("kpl19", 1.0), ("rotation", 30.0)):
        lay.split(scheme).parent.mkdir(parents=True, exist_ok=True)
        lay.split(scheme).write_text(json.dumps({
            "scheme": scheme, "source": str(lay.store), "params": {},
            "sets": {"train": {"indices": [0, 1, 2], "times": TIMES[:3]}, "val": {"indices": [], "times": []},
                     "test": {"indices": [3, 4, 5], "times": TIMES[3:]}},
            "summary": {"n_train": 3, "n_val": 0, "n_test": 3, "min_gap_test_train_days": gap}}))
        d = lay.leakage_dir(scheme)
        d.mkdir(parents=True)
        (d / "leakage.json").write_text(json.dumps({
            "n_test": 3, "n_train": 3, "min_gap_days": gap, "median_gap_days": gap + 0.5,
            "frac_same_face_within_1_rotation": 0.9167 if scheme == "kpl19" else 0.0123,
            "frac_same_face_within_2_rotations": 1.0 if scheme == "kpl19" else 0.25}))
        pd.DataFrame({"time": TIMES[3:], "gap_days": [gap, gap + 1, gap + 2], "same_face_gap_days": [27.0, 28.0, np.nan]}).to_csv(
            d / "leakage.csv", index=False)
    lay.saturation_dir.mkdir(parents=True)
    rows = []
    for i in range(6):
        for limit in (100.0, 3000.0):
            keep = 0.45 if limit == 100 else 1.0
            rows.append({"map": f"m{i}", "limit_g": limit, "tumf_orig_mx": 1e22 * (i + 1), "tumf_clip_mx": keep * 1e22 * (i + 1),
                         "nmf_orig_mx": 1e21 * (i - 2), "nmf_clip_mx": keep * 1e21 * (i - 2)})
    pd.DataFrame(rows).to_csv(lay.saturation_dir / "saturation.csv", index=False)
    (lay.saturation_dir / "saturation.json").write_text(json.dumps({
        "limits": {"100": {"limit_g": 100.0, "n_maps": 6, "tumf": {"slope": 0.4512, "r2": -0.0713}, "nmf": {"slope": 0.6734, "r2": 0.7712},
                           "sign_flip_fraction": 0.1944},
                   "3000": {"limit_g": 3000.0, "n_maps": 6, "tumf": {"slope": 1.0, "r2": 1.0}, "nmf": {"slope": 1.0, "r2": 1.0},
                            "sign_flip_fraction": 0.0}},
        "amf": {"n_regions": 5, "mean_g": 208.3, "std_g": 54.1, "share_below": {"100": 0.0077, "3000": 1.0}}}))
    pd.DataFrame({"amf_g": [150.0, 200.0, 210.0, 260.0, 90.0]}).to_csv(lay.saturation_dir / "regions_amf.csv", index=False)
    for exp, seeds in (("kpl19", (0, 1)), ("leak", (0,))):
        for seed in seeds:
            d = lay.seed_dir(exp, seed)
            d.mkdir(parents=True)
            pd.DataFrame({"iteration": [50, 100, 150, 200], "loss_g_l1": [0.5, 0.3, 0.2, 0.15],
                          "val_pixel_cc": [0.1, 0.3, 0.4, 0.45]}).to_csv(d / "metrics.csv", index=False)
            (d / "best.json").write_text(json.dumps({"metric": "val_l1_g", "iteration": 150, "value": 12.5}))
            (d / "config.toml").write_text("iters = 200\n[scaling]\nlimit_g = 100.0\n")
    for exp, anti in (("kpl19", anti_agreement_main), ("leak", anti_agreement_leak)):
        d = lay.audit_dir(exp)
        d.mkdir(parents=True)
        summ = _summary(anti, nmf_cc=0.2 if exp == "kpl19" else 0.85)
        (d / "summary.json").write_text(json.dumps(summ))
        pd.DataFrame({"pred": ["pred/kpl19-seed-0.zarr"] * 3, "frame": [3, 4, 5],
                      "tumf_ref_mx": [1e22, 2e22, 3e22], "tumf_gen_mx": [1.1e22, 1.8e22, 3.2e22],
                      "nmf_ref_mx": [1e20, -2e20, 3e20], "nmf_gen_mx": [-1e20, 1e20, 2e20]}).to_csv(d / "fulldisk.csv", index=False)
        pd.DataFrame({"frame": [3, 4], "ref_area_mm2": [100.0, 200.0], "gen_area_mm2": [110.0, 190.0],
                      "ref_nmf_mx": [1e20, -1e20], "gen_nmf_mx": [-1e20, -1e20]}).to_csv(d / "matches.csv", index=False)
        pd.DataFrame({"frame": [3, 4], "time": TIMES[3:5], "run_a": ["s0", "s0"], "run_b": ["s1", "s1"],
                      "cc": [-0.5, -0.7], "polarity_disagreement": [0.9, 1.0]}).to_csv(d / "variability.csv", index=False)
    lay.stages.write_text(json.dumps({"options": {"size": SIZE}, "stages": {"synth": {"status": "done", "seconds": 1.5}}}))
    return lay


def _cells(html: str, table_id: str) -> list[list[str]]:
    from lxml import html as lh

    doc = lh.fromstring(html)
    (table,) = doc.xpath(f'//table[@id="{table_id}"]')
    return [[c.text_content() for c in tr.xpath("./td")] for tr in table.xpath(".//tbody/tr")]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    lay = make_study(tmp_path_factory.mktemp("study"))
    build_report(lay.root)
    return lay, lay.report.read_text(encoding="utf-8")


def test_all_sections_present_and_nothing_missing(study):
    lay, html = study
    for anchor in ("control", "dataset", "saturation", "examples", "training", "fulldisk", "regions", "variability", "provenance"):
        assert f'<section id="{anchor}">' in html
    assert 'class="missing"' not in html
    # every figure and table names its source files
    assert html.count("<figcaption>") == html.count('<span class="source">Source: ')


def test_images_embedded_as_png_data_uris(study):
    _, html = study
    srcs = re.findall(r'<img [^>]*src="([^"]+)"', html)
    # activity, leakage, saturation, AMF, Fig. 1, training, full-disk, region params, std map
    assert len(srcs) >= 9
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
    assert "http://" not in html and "https://" not in html


def test_numbers_equal_source_files(study):
    lay, html = study
    leak = json.loads((lay.leakage_dir("kpl19") / "leakage.json").read_text())
    rot = json.loads((lay.leakage_dir("rotation") / "leakage.json").read_text())
    rows = {r[0]: r[1:] for r in _cells(html, "leakage-table")}
    assert rows["frac_same_face_within_1_rotation"] == [fmt(leak["frac_same_face_within_1_rotation"]), fmt(rot["frac_same_face_within_1_rotation"])]
    assert rows["median_gap_days"] == [fmt(1.5), fmt(30.5)]
    sat = json.loads((lay.saturation_dir / "saturation.json").read_text())
    (row100, _) = _cells(html, "saturation-table")
    assert row100[2:] == [fmt(sat["limits"]["100"]["tumf"]["slope"]), fmt(sat["limits"]["100"]["tumf"]["r2"]),
                          fmt(sat["limits"]["100"]["nmf"]["slope"]), fmt(sat["limits"]["100"]["nmf"]["r2"]),
                          fmt(sat["limits"]["100"]["sign_flip_fraction"])]
    summ = json.loads((lay.audit_dir("kpl19") / "summary.json").read_text())
    hale = {r[0]: r for r in _cells(html, "hale-table-kpl19")}
    assert set(hale) == {"hale", "anti_hale", "undetermined"}
    assert fmt(summ["mean_over_predictions"]["hale"]["hale"]["polarity_agreement"]) in hale["hale"]
    control = {r[0]: r[1:] for r in _cells(html, "control-table")}
    assert control["full-disk TUMF CC"] == [fmt(0.93), fmt(0.93)]
    assert control["full-disk NMF CC"] == [fmt(0.2), fmt(0.85)]
    assert control["region recall"] == [fmt(summ["mean_over_predictions"]["regions"]["recall"])] * 2
    ds = {r[0]: r[1] for r in _cells(html, "dataset-table")}
    assert ds["frames"] == "6" and ds["anti-Hale regions"] == "1" and ds["first frame (UTC)"] == TIMES[0]
    # the Fig. 1 caption names the frame of the dataset store it shows
    assert "data/synth.zarr (frame 3)" in html or "data/synth.zarr (frame 4)" in html or "data/synth.zarr (frame 5)" in html


def test_headline_reads_audit_summary():
    h = headline(_summary(0.5), "audit/kpl19/summary.json")
    assert (h.tumf_cc, h.nmf_cc, h.tumf_slope, h.pixel_cc, h.pixel_cc_binned) == (0.93, 0.2, 0.88, 0.41, 0.52)
    assert (h.recall, h.precision, h.center_offset_deg, h.n_matched) == (0.7333, 0.88, 1.27, 44)
    assert h.param_cc == {"area_mm2": 0.91, "tumf_mx": 0.89, "nmf_mx": 0.15, "pil_length_mm": 0.33}
    assert (h.hale.n, h.hale.n_matched, h.hale.polarity_agreement) == (50, 40, 0.925)
    assert (h.anti_hale.n, h.anti_hale.polarity_agreement) == (10, 0.5)
    assert h.hale_runs_pooled is None
    # an audit of several runs pools their region observations for the Hale classes (real counts)
    pooled = _summary(0.5)
    pooled["pooled_over_predictions"] = {"n_predictions": 3, "n_matched": 17, "hale": {
        "hale": {"n_ref": 150, "n_matched": 17, "polarity_agreement": 0.18, "n_footprint_determined": 330,
                 "footprint_polarity_agreement": 0.5},
        "anti_hale": {"n_ref": 30, "n_matched": 0, "polarity_agreement": None}}}
    pooled["ci"] = {"pooled_over_predictions": {"hale": {"hale": {"footprint_polarity_agreement": [0.47, 0.53]}}}}
    hp = headline(pooled, "s")
    assert (hp.hale.n, hp.hale.n_matched, hp.hale.n_footprint, hp.anti_hale.n, hp.hale_runs_pooled) == (150, 17, 330, 30, 3)
    assert hp.hale.footprint_ci == (0.47, 0.53) and hp.tumf_cc == 0.93  # full-disk numbers stay the run average
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


def _summary_with_runs(cc_a, ci_a, cc_b, ci_b) -> dict:
    s = _summary(0.5)
    block = s["mean_over_predictions"]
    runs = {"seed-0": json.loads(json.dumps(block)), "seed-1": json.loads(json.dumps(block))}
    runs["seed-0"]["fulldisk"]["tumf"]["cc"], runs["seed-1"]["fulldisk"]["tumf"]["cc"] = cc_a, cc_b
    ci_run = {"fulldisk": {"tumf": {"cc": None}}, "hale": {"hale": {"footprint_polarity_agreement": [0.4, 0.6]}}}
    ci = {"seed-0": json.loads(json.dumps(ci_run)), "seed-1": json.loads(json.dumps(ci_run))}
    ci["seed-0"]["fulldisk"]["tumf"]["cc"], ci["seed-1"]["fulldisk"]["tumf"]["cc"] = ci_a, ci_b
    s["predictions"] = runs
    s["ci"] = {"predictions": ci, "mean_over_predictions": ci["seed-0"]}
    s["bootstrap"] = {"n_boot": 1000, "level": 0.95, "block_days": 13.6, "n_blocks": 22}
    return s


def test_runs_differ_only_when_their_intervals_are_disjoint():
    disjoint = _summary_with_runs(0.88, [0.8, 0.92], 0.21, [0.06, 0.31])
    runs = run_headlines(disjoint, "audit/kpl19/summary.json")
    assert set(runs) == {"seed-0", "seed-1"} and runs["seed-1"].ci["tumf_cc"] == (0.06, 0.31)
    assert runs["seed-0"].hale.footprint_ci == (0.4, 0.6) and runs["seed-0"].bootstrap["n_blocks"] == 22
    differ, text = run_spread(runs)
    assert differ is True and text == "TUMF CC 0.88 [0.8, 0.92] (seed-0) vs 0.21 [0.06, 0.31] (seed-1)"
    main = headline(disjoint, "m")
    assert main.ci["tumf_cc"] == (0.8, 0.92)
    assert "Identically configured runs differ" in verdict_paragraph(main, None, 2, runs)
    assert expectation_checks(main, None, runs)[0].holds is True
    overlap = run_headlines(_summary_with_runs(0.88, [0.7, 0.92], 0.75, [0.6, 0.8]), "s")
    assert run_spread(overlap)[0] is False and "agree within their intervals" in verdict_paragraph(main, None, 2, overlap)
    assert run_spread({"only": runs["seed-0"]})[0] is None and run_spread(None)[0] is None
    # without intervals (an audit run with --n-boot 0) nothing is claimed about the runs
    plain = run_headlines(_summary(0.5), "s")
    assert plain["kpl19-seed-0"].ci == {} and run_spread({"a": plain["kpl19-seed-0"], "b": plain["kpl19-seed-0"]})[0] is None


def test_verdict_follows_the_numbers():
    chance = verdict_paragraph(headline(_summary(0.5), "a"), headline(_summary(0.95, nmf_cc=0.85), "b"), 3)
    good = verdict_paragraph(headline(_summary(0.95), "a"), headline(_summary(0.95, nmf_cc=0.85), "b"), 3)
    assert chance != good
    assert "consistent with chance" in chance and "not information it read from the EUV image" in chance
    assert "anti-Hale regions right too" in good and "consistent with chance" not in good
    # quantities land on the side their CC puts them
    assert "full-disk TUMF (CC 0.93)" in chance.split("They do not reproduce")[0]
    assert "full-disk NMF (CC 0.2)" in chance.split("They do not reproduce")[1]
    assert "NMF CC (0.2 → 0.85)" in chance
    # no leak audit: the verdict says so instead of claiming the control
    assert "has not been audited" in verdict_paragraph(headline(_summary(0.5), "a"), None)


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
def test_report_rebuilds_after_numbers_change(tmp_path):
    lay = make_study(tmp_path, anti_agreement_main=0.95)
    build_report(lay.root)
    first = lay.report.read_text()
    summ = json.loads((lay.audit_dir("kpl19") / "summary.json").read_text())
    summ["mean_over_predictions"]["hale"]["anti_hale"]["polarity_agreement"] = 0.5
    (lay.audit_dir("kpl19") / "summary.json").write_text(json.dumps(summ))
    build_report(lay.root)
    second = lay.report.read_text()
    verdict = lambda h: re.search(r'<div class="verdict" id="verdict">(.*?)</div>', h, re.S).group(1)  # noqa: E731
    assert verdict(first) != verdict(second)
    assert "consistent with chance" in verdict(second) and "consistent with chance" not in verdict(first)
