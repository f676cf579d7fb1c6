"""Region matching, agreement statistics and the Hale's-law summary (spec §4)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import armaps
from euv2mag.audit.hale import hale_classes, hale_leading_polarity, hale_summary, solar_cycle
from euv2mag.audit.match import attach_truth, great_circle_deg, match_regions, match_rows, pair_agreement
from euv2mag.audit.measurement import find_regions
from euv2mag.errors import UserError


def _table(lats, lons, **cols):
    return pd.DataFrame({"lat_deg": lats, "lon_deg": lons, **cols})


def test_great_circle():
    assert great_circle_deg(0, 0, 0, 90) == pytest.approx(90)
    assert great_circle_deg(10, 20, 10, 20) == pytest.approx(0, abs=1e-6)
    assert great_circle_deg(60, 0, 60, 180) == pytest.approx(60)
    assert great_circle_deg(0, 179, 0, -179) == pytest.approx(2)


def test_assignment_is_one_to_one_and_respects_max_distance():
    ref = _table([0, 0, 30], [0, 3, 0], tumf_mx=[1e21, 2e21, 3e21])
    gen = _table([0, 0.5, -30], [2.6, 0.2, 0], tumf_mx=[2.2e21, 1.1e21, 5e21])
    res = match_regions(ref, gen, 5.0, min_pairs=2)
    assert list(res.pairs.ref_index) == [0, 1] and list(res.pairs.gen_index) == [1, 0]
    assert res.stats["n_matched"] == 2 and res.stats["n_missed"] == 1 and res.stats["n_extra"] == 1
    assert res.stats["recall"] == pytest.approx(2 / 3) and res.stats["precision"] == pytest.approx(2 / 3)
    assert res.stats["f1"] == pytest.approx(2 / 3)
    assert list(res.missed.index) == [2] and list(res.extra.index) == [2]
    assert res.stats["tumf_mx_median_ratio"] == pytest.approx(1.1)
    d = great_circle_deg(0, 0, 0.5, 0.2), great_circle_deg(0, 3, 0, 2.6)
    assert res.stats["offset_mean_deg"] == pytest.approx(np.mean(d))
    # a far pair is never matched even if nothing else is available
    assert match_regions(_table([0], [0]), _table([0], [6]), 5.0).stats["n_matched"] == 0


def test_statistics_with_few_or_no_pairs():
    one = match_regions(_table([0], [0], tumf_mx=[1e21]), _table([0], [1], tumf_mx=[2e21]), min_pairs=1)
    assert one.stats["n_matched"] == 1
    assert math.isnan(one.stats["tumf_mx_cc"]) and math.isnan(one.stats["tumf_mx_r2"])
    assert one.stats["tumf_mx_median_ratio"] == pytest.approx(2.0)
    # by default a pair statistic needs 10 pairs: 9 give NaN with the count, 10 a value
    lats = np.arange(10.0)
    nine = match_regions(_table(lats[:9], lats[:9] * 0, tumf_mx=lats[:9] + 1), _table(lats[:9], lats[:9] * 0, tumf_mx=2 * lats[:9] + 2))
    assert nine.summary.parameters["tumf_mx"].n_pairs == 9 and math.isnan(nine.summary.parameters["tumf_mx"].cc)
    assert math.isnan(nine.summary.parameters["tumf_mx"].median_ratio)
    ten = match_regions(_table(lats, lats * 0, tumf_mx=lats + 1), _table(lats, lats * 0, tumf_mx=2 * lats + 2))
    assert ten.summary.parameters["tumf_mx"].cc == pytest.approx(1.0)
    assert ten.summary.parameters["tumf_mx"].median_ratio == pytest.approx(2.0)
    # one NaN rule for F1: 2 TP / (n_ref + n_gen), 0 when nothing matched, NaN only for two empty tables
    assert match_regions(_table([0], [0]), _table([0], [60])).summary.f1 == 0.0
    assert pair_agreement([1.0, np.nan] * 6, [2.0, 1.0] * 6).n_pairs == 6
    empty = match_regions(_table([], []), _table([], []))
    assert empty.stats["n_matched"] == 0 and math.isnan(empty.stats["recall"]) and math.isnan(empty.stats["precision"])
    assert math.isnan(empty.stats["offset_mean_deg"])
    assert math.isnan(empty.stats["f1"])
    no_gen = match_regions(_table([1.0], [2.0]), None)
    assert no_gen.stats["recall"] == 0.0 and math.isnan(no_gen.stats["precision"]) and len(no_gen.missed) == 1
    assert no_gen.stats["f1"] == 0.0
    with pytest.raises(UserError, match="lacks column"):
        match_regions(pd.DataFrame({"x": [1]}), _table([], []))


def test_matching_within_frames():
    ref = _table([0, 0], [0, 0], frame=[0, 1])
    gen = _table([0, 0], [0.1, 0.2], frame=[1, 2])
    res = match_regions(ref, gen)
    assert res.stats["n_matched"] == 1 and list(res.pairs.frame) == [1]
    assert res.pairs.distance_deg.iloc[0] == pytest.approx(0.1)


def test_cycle_and_hale_rule():
    assert solar_cycle("2008-11-30T00:00:00") == 23
    assert solar_cycle("2016-07-07T01:00:00") == 24
    assert solar_cycle("2016.07.07_01:00:00_TAI") == 24
    assert solar_cycle("2022-01-01") == 25
    # even cycle: north leads -, south leads +; odd cycle reversed
    np.testing.assert_array_equal(hale_leading_polarity([10, -10], [24, 24]), [-1, 1])
    np.testing.assert_array_equal(hale_leading_polarity([10, -10], [25, 25]), [1, -1])
    with pytest.raises(UserError, match="cannot read the time"):
        solar_cycle("yesterday-ish")


def test_anti_hale_region_swapped_in_generated_map():
    """Cycle 24: the generated map copies the reference but swaps the polarities of the one
    anti-Hale region (what a model that only learned Hale's law would do)."""
    geom = armaps.geometry(512, time="2014-06-01T00:00:00")
    ref_bipoles = [
        dict(lat=15.0, lon=-30.0, leading=-1),  # north, cycle 24: Hale
        dict(lat=-15.0, lon=-5.0, leading=1),  # south: Hale
        dict(lat=18.0, lon=30.0, leading=1),  # north leading +: anti-Hale
        dict(lat=-20.0, lon=45.0, leading=1),  # south: Hale
    ]
    gen_bipoles = [dict(b) for b in ref_bipoles]
    gen_bipoles[2]["leading"] = -1
    _, ref = find_regions(armaps.disk_map(geom, ref_bipoles, noise_g=4, seed=1), geom)
    _, gen = find_regions(armaps.disk_map(geom, gen_bipoles, noise_g=4, seed=2), geom)
    assert len(ref) == 4 and len(gen) == 4
    res = match_regions(ref, gen)
    assert res.stats["recall"] == 1.0
    classes = hale_classes(ref, geom.time)
    matches = pd.DataFrame(match_rows("gen", ref, gen, classes))
    s = hale_summary(matches)
    assert s["hale"]["n_ref"] == 3 and s["anti_hale"]["n_ref"] == 1
    assert s["hale"]["n_ref"] + s["anti_hale"]["n_ref"] + s["undetermined"]["n_ref"] == len(ref)
    assert s["hale"]["polarity_agreement"] == 1.0 and s["hale"]["n_polarity_fail"] == 0
    assert s["anti_hale"]["recall"] == 1.0
    assert s["anti_hale"]["n_polarity_fail"] == 1 and s["anti_hale"]["polarity_agreement"] == 0.0
    failed = matches[(matches.status == "matched") & (matches.ref_leading_polarity != matches.gen_leading_polarity)]
    assert len(failed) == 1 and failed.iloc[0].hale_class == "anti_hale"
    assert failed.iloc[0].ref_lat_deg == pytest.approx(18.0, abs=0.5)
    # the generator's truth flag overrides the rule (synthetic data), and attach_truth brings it in
    truth = pd.DataFrame({"lat_deg": [b["lat"] for b in ref_bipoles], "stonyhurst_lon_deg": [b["lon"] for b in ref_bipoles],
                          "hale_conforming": [True, True, True, True], "region_id": [11, 12, 13, 14]})
    ref_t = attach_truth(ref, truth)
    assert sorted(ref_t.region_id) == [11, 12, 13, 14] and (ref_t.truth_distance_deg < 1).all()
    s2 = hale_summary(pd.DataFrame(match_rows("gen", ref, gen, hale_classes(ref, None, truth))))
    assert s2["hale"]["n_ref"] == 4 and s2["hale"]["n_polarity_fail"] == 1
    # without a time or a truth flag, no class can be decided
    assert {c for _, c in hale_classes(ref, None)} == {"undetermined"}
