"""Active-region detection and parameters (spec §2.1, §3, §5) on analytic, synthetic and real maps."""
from __future__ import annotations

import math

import numpy as np
import pytest

import armaps
from euv2mag.audit.match import match_regions
from euv2mag.audit.detection import DetectionParams, detect_regions, kernel_px
from euv2mag.audit.measurement import REGION_COLUMNS, find_regions, measure_regions
from euv2mag.audit.patch import measure_patch
from euv2mag.errors import UserError
from euv2mag.geometry import MSH_MM2, RSUN_MM


@pytest.fixture(scope="module")
def geom():
    return armaps.geometry(1024)


@pytest.fixture(scope="module")
def geom512():
    return armaps.geometry(512)


def test_kernel_sizes():
    assert kernel_px(10.0, 1.45) == 7
    assert kernel_px(3.5, 1.775) == 1 or kernel_px(3.5, 1.775) == 3
    assert kernel_px(0.1, 1.0) == 1
    assert all(kernel_px(L, s) % 2 == 1 for L in (1, 3.5, 6, 10, 20) for s in (0.36, 1.45, 1.775, 7.1))


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
    res = match_regions(ta, ta)
    assert res.stats["recall"] == 1.0 and res.stats["precision"] == 1.0
    assert res.stats["offset_mean_deg"] == pytest.approx(0.0, abs=1e-6)
    assert res.stats["tumf_mx_cc"] == pytest.approx(1.0)
    lb, tb = find_regions(-mag, geom)
    np.testing.assert_array_equal(la, lb)
    for col in ("tumf_mx", "area_mm2", "pil_length_mm", "pil_count", "amf_g", "r_value", "lat_deg", "lon_deg"):
        np.testing.assert_allclose(tb[col], ta[col], rtol=1e-9, atol=1e-9, err_msg=col)
    np.testing.assert_allclose(tb.nmf_mx, -ta.nmf_mx, rtol=1e-9)
    np.testing.assert_array_equal(tb.leading_polarity, -ta.leading_polarity)
    neg = match_regions(ta, tb)
    assert neg.stats["nmf_mx_cc"] == pytest.approx(-1.0)
    assert neg.stats["nmf_sign_agreement"] == 0.0 and neg.stats["polarity_agreement"] == 0.0


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


def test_resolution_independence(geom, geom512):
    bipoles = [dict(lat=15.0, lon=-30.0, leading=-1), dict(lat=-12.0, lon=20.0, sigma_mm=8.0, sep_mm=30.0)]
    _, a = find_regions(armaps.disk_map(geom, bipoles), geom)
    _, b = find_regions(armaps.disk_map(geom512, bipoles), geom512)
    res = match_regions(a, b, 1.0)
    assert res.stats["recall"] == 1.0 and res.stats["precision"] == 1.0
    np.testing.assert_allclose(b.tumf_mx, a.tumf_mx, rtol=0.05)
    np.testing.assert_allclose(b.area_mm2, a.area_mm2, rtol=0.15)


def test_own_bipoles_recall_centres_areas(geom):
    """Synthetic check on constructed bipoles (>= 5e21 Mx): recall >= 90 %, centres < 1 deg, areas < 20 %.

    The truth area is the area detected on the noise-free map; the truth centre is the
    bipole centre (midpoint of the two equal spots).
    """
    rng = np.random.default_rng(7)
    bipoles, truth = [], []
    while len(bipoles) < 10:
        lat, lon = rng.uniform(-35, 35), rng.uniform(-55, 55)
        if any(math.hypot(lat - a, lon - b) < 18 for a, b in truth):
            continue
        sigma, amp = rng.uniform(5, 9), rng.uniform(600, 1500)
        flux = 2 * 2 * math.pi * sigma**2 * amp * 1e16
        if flux < 5e21:
            continue
        bipoles.append(dict(lat=lat, lon=lon, sigma_mm=sigma, amp_g=amp, sep_mm=rng.uniform(3, 5) * sigma,
                            leading=int(rng.choice([-1, 1])), tilt_deg=rng.uniform(-15, 15), radial=False))
        truth.append((lat, lon))
    for kw in bipoles:
        kw.pop("radial")
    _, clean = find_regions(armaps.disk_map(geom, bipoles), geom)
    _, noisy = find_regions(armaps.disk_map(geom, bipoles, noise_g=8.0, seed=3), geom)
    import pandas as pd

    tt = pd.DataFrame({"lat_deg": [t[0] for t in truth], "lon_deg": [t[1] for t in truth]})
    res = match_regions(tt, noisy, 5.0)
    assert res.stats["recall"] >= 0.9
    assert res.pairs.distance_deg.max() < 1.0
    assert res.stats["precision"] == 1.0
    areas = match_regions(clean, noisy, 1.0)
    assert np.all(np.abs(areas.pairs.ratio_area_mm2 - 1) < 0.2)


def test_bad_input(geom):
    mag = np.zeros(geom.shape, np.float32)
    with pytest.raises(UserError, match="does not match"):
        detect_regions(mag[:-1], geom)
    with pytest.raises(UserError, match="no finite pixel"):
        detect_regions(np.full(geom.shape, np.nan), geom)
    with pytest.raises(UserError, match="r_max"):
        DetectionParams(r_max=1.5)
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


def test_limb_region_flagged(geom):
    lon = math.degrees(math.asin(0.93))  # rho ~ 0.93: region crosses the 0.95 cut
    mag = armaps.disk_map(geom, [dict(lat=0.0, lon=lon, sigma_mm=8.0, sep_mm=20.0, amp_g=1500.0)], radial=True)
    _, t = find_regions(mag, geom)
    assert len(t) == 1
    row = t.iloc[0]
    assert row.touches_limb and row.low_mu and row.mu_center < 0.5
    inside = geom.rho[detect_regions(mag, geom) > 0]
    assert inside.max() <= 0.95


def test_measure_patch_whole_and_masked():
    pix = math.radians(0.03) * 696.0
    b = np.zeros((200, 300))
    b[50:150, 100:150] = 500.0
    b[50:150, 150:200] = -500.0
    whole = measure_patch(b, 0.03, rsun_ref_m=6.96e8, dsun_obs_m=1.5e11)
    assert whole["tumf_mx"] == pytest.approx(500 * 10000 * pix**2 * 1e16)
    assert whole["nmf_mx"] == pytest.approx(0.0, abs=1e10)
    assert whole["area_mm2"] == pytest.approx(b.size * pix**2)
    assert whole["pil_count"] == 1
    # a 100 px (3 deg) line: 25-28 pixels on the 4x coarser PIL grid (dilation adds one at each end)
    assert 24 * 4 * pix <= whole["pil_length_mm"] <= 28 * 4 * pix
    mask = np.zeros(b.shape, bool)
    mask[:, :150] = True
    half = measure_patch(b, 0.03, rsun_ref_m=6.96e8, dsun_obs_m=1.5e11, mask=mask)
    assert half["nmf_mx"] == pytest.approx(whole["tumf_mx"] / 2)
    assert half["r_value"] == whole["r_value"]  # R uses the whole patch, as SHARP
    with pytest.raises(UserError, match="bitmap shape"):
        measure_patch(b, 0.03, mask=mask[1:])


def test_radius_constant():
    assert RSUN_MM == pytest.approx(695.7)


# --------------------------------------------------------------------------- command line and real data
def test_cli_store_and_resume(tmp_path, geom512):
    from euv2mag.cli import main
    from euv2mag.data.store import FrameStore, StoreWriter

    bip = [dict(lat=15.0, lon=-30.0, leading=-1), dict(lat=-12.0, lon=20.0, sigma_mm=8.0, sep_mm=30.0)]
    store = tmp_path / "s.zarr"
    w = StoreWriter.open(store, n_frames=2, shape=geom512.shape, arrays=("mag",), kind="test", params={})
    w.write_frame(0, geom512, mag=armaps.disk_map(geom512, bip, noise_g=4))
    w.write_frame(1, geom512, mag=armaps.disk_map(geom512, bip[:1], noise_g=4, seed=2))
    w.finish()
    assert FrameStore(store).n_frames == 2
    out = tmp_path / "out"
    assert main(["regions", "--store", str(store), "--out", str(out)]) == 0
    t = pd_read(out / "regions.csv")
    assert list(t.groupby("frame").size()) == [2, 1]
    assert {"map", "source", "frame", "time", *REGION_COLUMNS} <= set(t.columns)
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == ["s.zarr_00000.png", "s.zarr_00001.png"]
    assert (out / "s.zarr_00000.png").read_bytes()[:4] == b"\x89PNG"
    # resume: cached maps are not recomputed (mtime unchanged), result identical
    before = (out / "s.zarr_00000.png").stat().st_mtime_ns
    assert main(["regions", "--store", str(store), "--out", str(out)]) == 0
    assert (out / "s.zarr_00000.png").stat().st_mtime_ns == before
    assert pd_read(out / "regions.csv").equals(t)
    # bad input: one line, exit 2
    assert main(["regions", "--store", str(store), "--indices", "5", "--out", str(out)]) == 2
    assert main(["regions", str(tmp_path / "missing.fits"), "--out", str(out)]) == 2
    assert main(["regions", "--out", str(out)]) == 2


def pd_read(path):
    import pandas as pd

    return pd.read_csv(path)


@pytest.mark.realdata
@pytest.mark.slow
def test_real_hmi_maps(shared_data, tmp_path):
    """2016-07-07: the two bipolar ARs (S08 E44 plage region, S17 W31); 2019-06-21: at most one."""
    from euv2mag.cli import main

    out = tmp_path / "regions"
    files = [shared_data / "hmi" / f"hmi_m_720s_{d}_TAI.fits" for d in ("20160707_010000", "20190621_060000")]
    assert main(["regions", *map(str, files), "--out", str(out)]) == 0
    t = pd_read(out / "regions.csv")
    active = t[t["map"] == "hmi_m_720s_20160707_010000_TAI"]
    quiet = t[t["map"] == "hmi_m_720s_20190621_060000_TAI"]
    assert len(quiet) <= 1
    assert len(active) == 2
    for lat, lon in ((-8.0, -44.2), (-16.6, 31.4)):
        d = np.hypot(active.lat_deg - lat, active.lon_deg - lon)
        assert d.min() < 1.5
    # both are bipolar, balanced and follow Hale's law for the south in cycle 24 (leading +)
    assert (active.leading_polarity == 1).all() and (active.lat_deg < 0).all()
    assert ((active.flux_pos_mx / -active.flux_neg_mx).between(1 / 3, 3)).all()
    assert active.tumf_mx.between(1e21, 1e23).all() and active.area_msh.between(100, 3000).all()
    # overlays written (looked at by eye: contours sit on the two bipolar regions only)
    for f in files:
        png = out / (f.name.split(".fits")[0] + ".png")
        assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.realdata
def test_cli_patch_mode(shared_data, tmp_path):
    from euv2mag.cli import main

    mag = shared_data / "hmi" / "hmi_sharp_cea_720s_harp4781_20141106_180000_TAI.magnetogram.fits"
    bitmap = str(mag).replace("magnetogram", "bitmap")
    assert main(["regions", "--patch", str(mag), "--bitmap", bitmap, "--out", str(tmp_path)]) == 0
    row = pd_read(tmp_path / "regions.csv").iloc[0]
    assert abs(row.r_value - 4.83) < 0.01 and row.header_r_value == pytest.approx(4.83)
    assert row.tumf_over_usflux == pytest.approx(0.57, abs=0.01)
    assert row.pil_count >= 1 and row.pil_length_mm > 10
    for col in ("r_value", "tumf_mx", "nmf_mx", "area_mm2", "pil_length_mm", "pil_count", "pil_mean_gradient_g_per_mm"):
        assert col in row.index
    # --bitmap needs exactly one patch
    assert main(["regions", "--patch", str(mag), str(mag), "--bitmap", bitmap, "--out", str(tmp_path)]) == 2


def test_footprint_polarity_reads_weak_generated_maps_inside_reference_regions(geom):
    """A generated map 10x too weak to be detected still shows its polarity inside the reference footprints."""
    from euv2mag.audit.measurement import footprint_polarity

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
