"""Region matching, statistics and the Hale's-law breakdown (spec §4)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import armaps
from euv2mag.audit.match import (
    attach_truth,
    great_circle_deg,
    hale_breakdown,
    hale_leading_polarity,
    match_regions,
    solar_cycle,
)
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
    res = match_regions(ref, gen, 5.0)
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
    one = match_regions(_table([0], [0], tumf_mx=[1e21]), _table([0], [1], tumf_mx=[2e21]))
    assert one.stats["n_matched"] == 1
    assert math.isnan(one.stats["tumf_mx_cc"]) and math.isnan(one.stats["tumf_mx_r2"])
    assert one.stats["tumf_mx_median_ratio"] == pytest.approx(2.0)
    empty = match_regions(_table([], []), _table([], []))
    assert empty.stats["n_matched"] == 0 and math.isnan(empty.stats["recall"]) and math.isnan(empty.stats["precision"])
    assert math.isnan(empty.stats["offset_mean_deg"])
    no_gen = match_regions(_table([1.0], [2.0]), None)
    assert no_gen.stats["recall"] == 0.0 and math.isnan(no_gen.stats["precision"]) and len(no_gen.missed) == 1
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
    hb = hale_breakdown(res, geom.time)
    s = hb.summary
    assert s["hale"]["n_regions"] == 3 and s["anti_hale"]["n_regions"] == 1
    assert s["hale"]["n_regions"] + s["anti_hale"]["n_regions"] + s["undetermined"]["n_regions"] == len(ref)
    assert s["all"]["n_matched"] == sum(s[k]["n_matched"] for k in ("hale", "anti_hale", "undetermined"))
    assert s["hale"]["polarity_agreement"] == 1.0
    # balanced bipoles: the NMF sign is noise, but its counts are bounded by the matches
    assert all(0 <= s[k]["n_nmf_sign_agree"] <= s[k]["n_matched"] for k in s)
    assert s["anti_hale"]["recall"] == 1.0
    assert s["anti_hale"]["n_polarity_fail"] == 1 and s["anti_hale"]["polarity_agreement"] == 0.0
    failed = hb.regions[hb.regions.polarity_failure]
    assert len(failed) == 1 and failed.iloc[0].hale_class == "anti_hale"
    assert failed.iloc[0].lat_deg == pytest.approx(18.0, abs=0.5)
    # a truth column overrides the rule (synthetic data), and attach_truth brings it in
    truth = pd.DataFrame({"lat_deg": [b["lat"] for b in ref_bipoles], "stonyhurst_lon_deg": [b["lon"] for b in ref_bipoles],
                          "hale_conforming": [True, True, True, True], "region_id": [11, 12, 13, 14]})
    ref_t = attach_truth(ref, truth)
    assert sorted(ref_t.region_id) == [11, 12, 13, 14] and (ref_t.truth_distance_deg < 1).all()
    hb2 = hale_breakdown(match_regions(ref_t, gen))
    assert hb2.summary["hale"]["n_regions"] == 4 and hb2.summary["hale"]["n_polarity_fail"] == 1
    with pytest.raises(UserError, match="needs a time"):
        hale_breakdown(res)
