"""Active-region parameters (spec §3, §5) on analytic maps: fluxes, areas, centres, PILs, R, polarity."""
from __future__ import annotations

import math

import numpy as np
import pytest

import armaps
from euv2mag.audit.detection import detect_regions
from euv2mag.audit.match import match_regions
from euv2mag.audit.measurement import REGION_COLUMNS, find_regions, footprint_polarity, measure_regions
from euv2mag.geometry import MSH_MM2, RSUN_MM


@pytest.fixture(scope="module")
def geom():
    return armaps.geometry(1024)


def test_uniform_square_tumf_and_amf(geom):
    mag = np.zeros(geom.shape, np.float32)
    labels = np.zeros(geom.shape, np.int32)
    sq = slice(502, 522)  # centred on the disk centre (511.5, 511.5)
    mag[sq, sq] = 100.0
    labels[sq, sq] = 1
    t = measure_regions(mag, geom, labels)
    assert len(t) == 1
    row = t.iloc[0]
    area = np.nansum(geom.pixel_area_mm2[labels == 1])
    assert row.area_mm2 == pytest.approx(area, rel=1e-12)
    # side L = 20 px * mm_per_px at disk centre: A = L^2 within the 1/mu correction (<0.2 %)
    assert row.area_mm2 == pytest.approx((20 * geom.mm_per_px) ** 2, rel=2e-3)
    assert row.tumf_mx == pytest.approx(100.0 * area * 1e16, rel=1e-12)
    assert row.nmf_mx == pytest.approx(row.tumf_mx, rel=1e-12)
    assert row.amf_g == pytest.approx(100.0, rel=1e-12)
    assert row.area_msh == pytest.approx(area / MSH_MM2)
    assert abs(row.lat_deg) < 0.01 and abs(row.lon_deg) < 0.01
    assert row.leading_polarity == 0  # unipolar
    assert list(t.columns) == list(REGION_COLUMNS)


def test_bipole_detected_centre_polarity_and_one_pil(geom):
    kw = dict(lat=10.0, lon=-20.0, amp_g=500.0, sigma_mm=4.0, sigma_ns_mm=12.0, sep_mm=10.0, leading=-1)
    mag = armaps.disk_map(geom, [kw], noise_g=3.0)
    labels, t = find_regions(mag, geom)
    assert len(t) == 1
    row = t.iloc[0]
    assert math.hypot(row.lat_deg - 10.0, (row.lon_deg + 20.0) * math.cos(math.radians(10))) < 0.3
    assert row.leading_polarity == -1
    assert row.pos_lon_deg < row.neg_lon_deg
    assert row.pil_count == 1
    assert 10.0 <= row.pil_length_mm <= 40.0
    # analytic |dB/dx| on the PIL at the centre row: amp * 2 * (sep/2) / sx^2 * exp(-(sep/2)^2 / 2 sx^2)
    peak = 500 * 2 * 5 / 16 * math.exp(-25 / 32)
    assert 0.6 * peak < row.pil_mean_gradient_g_per_mm < 1.05 * peak
    assert 2.5 < row.r_value < 5.0
    assert row.mu_center == pytest.approx(math.cos(math.radians(10)) * math.cos(math.radians(20)), abs=0.01)
    assert not row.low_mu and not row.touches_limb
    # same sign: not a region (unipolar) and, measured on the same pixels, no PIL and R = 0
    same = armaps.disk_map(geom, [dict(kw, same_sign=True)], noise_g=3.0)
    assert detect_regions(same, geom).max() == 0
    t2 = measure_regions(same, geom, labels)
    assert t2.iloc[0].pil_count == 0 and t2.iloc[0].r_value == 0.0 and t2.iloc[0].n_pil_px == 0
    # weak: R = 0 below 150 G
    weak = armaps.disk_map(geom, [dict(kw, amp_g=140.0)])
    t3 = measure_regions(weak, geom, labels)
    assert t3.iloc[0].r_value == 0.0 and t3.iloc[0].pil_count == 0


def test_map_against_itself_and_its_negative(geom):
    bipoles = [
        dict(lat=15.0, lon=-30.0, leading=-1),
        dict(lat=-12.0, lon=10.0, leading=1, amp_g=1000.0, sigma_mm=5.0, sep_mm=12.0),
        dict(lat=20.0, lon=35.0, leading=-1, tilt_deg=10.0),
    ]
    mag = armaps.disk_map(geom, bipoles, noise_g=5.0, seed=1)
    la, ta = find_regions(mag, geom)
    assert len(ta) == 3
    res = match_regions(ta, ta, min_pairs=2)  # three regions: below the default 10 pairs of a CC
    assert res.stats["recall"] == 1.0 and res.stats["precision"] == 1.0
    assert res.stats["offset_mean_deg"] == pytest.approx(0.0, abs=1e-6)
    assert res.stats["tumf_mx_cc"] == pytest.approx(1.0)
    lb, tb = find_regions(-mag, geom)
    np.testing.assert_array_equal(la, lb)
    for col in ("tumf_mx", "area_mm2", "pil_length_mm", "pil_count", "amf_g", "r_value", "lat_deg", "lon_deg"):
        np.testing.assert_allclose(tb[col], ta[col], rtol=1e-9, atol=1e-9, err_msg=col)
    np.testing.assert_allclose(tb.nmf_mx, -ta.nmf_mx, rtol=1e-9)
    np.testing.assert_array_equal(tb.leading_polarity, -ta.leading_polarity)
    neg = match_regions(ta, tb, min_pairs=2)
    assert neg.stats["nmf_mx_cc"] == pytest.approx(-1.0)
    assert neg.stats["nmf_sign_agreement"] == 0.0 and neg.stats["leading_polarity_agreement"] == 0.0


def test_foreshortening_mu_06(geom):
    """A radial-field bipole at mu = 0.6 keeps its deprojected area and radial-convention flux."""
    kw = dict(lat=0.0, amp_g=800.0, sigma_mm=7.0, sep_mm=25.0)
    lon = math.degrees(math.acos(0.6))
    tabs = []
    for lo in (0.0, lon):
        mag = armaps.disk_map(geom, [dict(kw, lon=lo)], radial=True)
        _, t = find_regions(mag, geom)
        assert len(t) == 1
        tabs.append(t.iloc[0])
    c, w = tabs
    assert w.mu_center == pytest.approx(0.6, abs=0.01)
    assert w.area_mm2 == pytest.approx(c.area_mm2, rel=0.03)
    assert w.tumf_radial_mx == pytest.approx(c.tumf_radial_mx, rel=0.03)
    # the LOS convention (SHARP USFLUXL) sees mu * B_r
    assert w.tumf_mx / c.tumf_mx == pytest.approx(0.6, rel=0.05)
    # the region holds > 90 % of the map's unsigned flux
    mag = armaps.disk_map(geom, [dict(kw, lon=0.0)], radial=True)
    total = np.nansum(np.abs(mag) * geom.pixel_area_cm2)
    assert 0.9 * total < c.tumf_mx <= total


def test_empty_map_and_nan_pixels(geom):
    mag = np.zeros(geom.shape, np.float32)
    # no region: empty table with every column
    labels, t = find_regions(mag, geom)
    assert labels.max() == 0 and len(t) == 0 and list(t.columns) == list(REGION_COLUMNS)
    # NaNs inside a region are missing data: excluded from sums, counted
    kw = dict(lat=0.0, lon=0.0, amp_g=800.0, sigma_mm=7.0, sep_mm=25.0)
    full = armaps.disk_map(geom, [kw])
    lab, t0 = find_regions(full, geom)
    holed = full.copy()
    holed[510:514, 510:514] = np.nan
    lab2, t1 = find_regions(holed, geom)
    # detection never labels NaN pixels; the hole sits on the PIL where |B| is small
    assert len(t1) == 1 and t1.iloc[0].n_nan_px == 0 and not np.isnan(holed[lab2 > 0]).any()
    assert t1.iloc[0].tumf_mx == pytest.approx(t0.iloc[0].tumf_mx, rel=0.05)
    # with given labels, NaN pixels are counted and excluded from the sums
    t2 = measure_regions(holed, geom, lab)
    assert t2.iloc[0].n_nan_px == 16 and np.isfinite(t2.iloc[0].tumf_mx)
    assert t2.iloc[0].tumf_mx < t0.iloc[0].tumf_mx


def test_radius_constant():
    assert RSUN_MM == pytest.approx(695.7)


def test_footprint_polarity_reads_weak_generated_maps_inside_reference_regions(geom):
    """A generated map 10x too weak to be detected still shows its polarity inside the reference footprints."""
    bipoles = [dict(lat=-15.0, lon=-25.0, leading=1, amp_g=800.0), dict(lat=18.0, lon=20.0, leading=-1, amp_g=800.0)]
    ref = armaps.disk_map(geom, bipoles, noise_g=3.0)
    labels, table = find_regions(ref, geom)
    assert len(table) == 2
    weak = 0.1 * armaps.disk_map(geom, bipoles)  # amplitudes 80 G: below the detector's mean-field cut
    assert len(find_regions(weak, geom)[1]) == 0
    fp = footprint_polarity(weak, geom, labels).set_index("label")
    for row in table.itertuples():
        assert fp.at[row.label, "leading_polarity"] == row.leading_polarity
        assert np.sign(fp.at[row.label, "nmf_mx"]) == np.sign(row.nmf_mx) or abs(row.nmf_mx) < 0.05 * row.tumf_mx
    flipped = footprint_polarity(-weak, geom, labels).set_index("label")
    assert all(flipped.at[r.label, "leading_polarity"] == -r.leading_polarity for r in table.itertuples())
    blank = footprint_polarity(np.zeros_like(weak), geom, labels)
    assert list(blank["leading_polarity"]) == [0, 0] and list(blank["tumf_mx"]) == [0.0, 0.0]
