"""Full-disk metrics: analytic cases (identity, negative, half of the regions flipped, uniform field)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from euv2mag.audit.fulldisk import (
    FullDiskParams,
    disk_pixels,
    flux_mx,
    frame_metrics,
    r2_score,
    series_metrics,
    slope_through_origin,
)
from euv2mag.errors import UserError
from euv2mag.geometry import MM2_TO_CM2, RSUN_MM, DiskGeometry, default_rsun_px

SIZE = 256


def geometry(b0=0.0, l0=0.0, size=SIZE) -> DiskGeometry:
    return DiskGeometry((size, size), default_rsun_px(size), 1.9 * 1024 / size, b0, l0, time="2016-07-07T01:00:00")


def spot(geom: DiskGeometry, lat, lon, peak_g, sigma_px=2.5) -> np.ndarray:
    x, y, _ = geom.hgs_to_pixel(lat, lon)
    yy, xx = np.mgrid[: geom.shape[0], : geom.shape[1]]
    return peak_g * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma_px**2))


def bipole(geom, lat, lon, peak_g, lead_sign, imbalance=1.0):
    """Leading spot west (larger lon), following spot east, separated by 8 degrees."""
    return spot(geom, lat, lon + 4, lead_sign * peak_g) + spot(geom, lat, lon - 4, -lead_sign * peak_g * imbalance)


def make_frames(n=6, seed=3):
    """Frames with 4 bipoles each; returns (maps, flipped maps with half the regions reversed, geometries)."""
    rng = np.random.default_rng(seed)
    refs, flips, geoms = [], [], []
    for i in range(n):
        geom = geometry(b0=rng.uniform(-7, 7), l0=rng.uniform(0, 360))
        ref = rng.normal(0, 3, geom.shape)
        flip = ref.copy()
        for j in range(4):
            lat = (1 if j % 2 else -1) * rng.uniform(10, 30)
            lon = -45 + 30 * j + rng.uniform(-5, 5)
            b = bipole(geom, lat, lon, rng.uniform(300, 2500), 1 if lat > 0 else -1, imbalance=rng.uniform(0.3, 0.9))
            ref += b
            flip += -b if j < 2 else b
        outside = ~geom.disk_mask(1.0)
        ref[outside] = np.nan
        flip[outside] = np.nan
        refs.append(ref.astype(np.float32))
        flips.append(flip.astype(np.float32))
        geoms.append(geom)
    return refs, flips, geoms


def test_map_against_itself_is_perfect():
    refs, _, geoms = make_frames(n=1)
    m = frame_metrics(refs[0], refs[0].copy(), geoms[0])
    assert m["cc"] == pytest.approx(1.0, abs=1e-12)
    assert m["cc_binned"] == pytest.approx(1.0, abs=1e-12)
    assert m["r2"] == pytest.approx(1.0, abs=1e-12)
    assert m["rmse_g"] == 0.0
    assert m["polarity_agreement"] == 1.0 and m["n_strong"] > 100
    assert m["tumf_gen_mx"] == m["tumf_ref_mx"] and m["nmf_gen_mx"] == m["nmf_ref_mx"]
    assert m["tumf_ratio"] == 1.0


def test_negative_map_flips_nmf_keeps_tumf():
    refs, _, geoms = make_frames()
    rows = [frame_metrics(r, -r, g) for r, g in zip(refs, geoms)]
    for m in rows:
        assert m["cc"] == pytest.approx(-1.0, abs=1e-12)
        assert m["polarity_agreement"] == 0.0
        assert m["tumf_gen_mx"] == pytest.approx(m["tumf_ref_mx"], rel=1e-12)
        assert m["nmf_gen_mx"] == pytest.approx(-m["nmf_ref_mx"], rel=1e-12)
    tumf = series_metrics([m["tumf_ref_mx"] for m in rows], [m["tumf_gen_mx"] for m in rows])
    nmf = series_metrics([m["nmf_ref_mx"] for m in rows], [m["nmf_gen_mx"] for m in rows])
    assert tumf["cc"] == pytest.approx(1.0, abs=1e-12) and tumf["slope"] == pytest.approx(1.0, abs=1e-12)
    assert tumf["r2"] == pytest.approx(1.0, abs=1e-12)
    assert nmf["cc"] == pytest.approx(-1.0, abs=1e-12) and nmf["slope"] == pytest.approx(-1.0, abs=1e-12)


def test_half_regions_flipped_is_the_papers_signature():
    """TUMF agrees perfectly across frames while pixel CC and NMF CC collapse."""
    refs, flips, geoms = make_frames(n=8)
    rows = [frame_metrics(r, f, g) for r, f, g in zip(refs, flips, geoms)]
    tumf = series_metrics([m["tumf_ref_mx"] for m in rows], [m["tumf_gen_mx"] for m in rows])
    nmf = series_metrics([m["nmf_ref_mx"] for m in rows], [m["nmf_gen_mx"] for m in rows])
    # only the weak noise under flipped spots changes |B| a little
    assert tumf["cc"] == pytest.approx(1.0, abs=1e-4)
    assert tumf["slope"] == pytest.approx(1.0, abs=1e-3)
    assert nmf["cc"] < 0.8
    assert np.mean([m["cc"] for m in rows]) < 0.3
    assert np.mean([m["cc_binned"] for m in rows]) < 0.3
    for m in rows:
        assert m["cc"] < 0.9 and m["cc_binned"] < 0.9
        assert 0.3 < m["polarity_agreement"] < 0.7  # about half of the strong pixels reversed
    # against itself the same frames give NMF CC 1: the drop is caused by the flips
    same = [frame_metrics(r, r, g) for r, g in zip(refs, geoms)]
    assert series_metrics([m["nmf_ref_mx"] for m in same], [m["nmf_gen_mx"] for m in same])["cc"] == pytest.approx(1.0)


def test_tumf_of_uniform_field_is_field_times_spherical_cap_area():
    """B uniform on the disk: TUMF(rho < r) = B * 2 pi R^2 (1 - sqrt(1 - r^2)) (cap seen from far away)."""
    geom = geometry(size=512)
    b_g = 120.0
    mag = np.full(geom.shape, b_g, dtype=np.float32)
    mag[~geom.disk_mask(1.0)] = np.nan
    for r_max in (0.5, 0.8):
        tumf, nmf = flux_mx(mag, geom, r_max=r_max, threshold_g=10.0)
        cap_cm2 = 2 * math.pi * RSUN_MM**2 * (1 - math.sqrt(1 - r_max**2)) * MM2_TO_CM2
        assert tumf == pytest.approx(b_g * cap_cm2, rel=5e-3)
        assert nmf == pytest.approx(tumf, rel=1e-12)
        # a field below the threshold contributes nothing
        assert flux_mx(mag * 0.05, geom, r_max=r_max, threshold_g=10.0) == (0.0, 0.0)


def test_threshold_applies_to_each_map_separately():
    geom = geometry()
    area, disk = disk_pixels(geom, 0.95)
    ref = np.where(disk, 15.0, np.nan)
    gen = np.where(disk, 5.0, np.nan)
    m = frame_metrics(ref, gen, geom, FullDiskParams(threshold_g=10.0))
    assert m["tumf_ref_mx"] == pytest.approx(15.0 * area[disk].sum(), rel=1e-12)
    assert m["tumf_gen_mx"] == 0.0
    assert m["n_disk"] == int(disk.sum())


def test_generated_nan_on_disk_is_a_user_error_but_off_disk_is_fine():
    refs, _, geoms = make_frames(n=1)
    gen = refs[0].copy()
    gen[SIZE // 2, SIZE // 2] = np.nan
    with pytest.raises(UserError, match="NaN"):
        frame_metrics(refs[0], gen, geoms[0])
    gen = refs[0].copy()
    gen[0, 0] = 5.0  # off-disk values are ignored
    assert frame_metrics(refs[0], gen, geoms[0])["cc"] == pytest.approx(1.0)
    with pytest.raises(UserError, match="shape"):
        frame_metrics(refs[0], gen[:-1], geoms[0])


def test_reference_nan_pixels_are_left_out_of_both_maps():
    refs, _, geoms = make_frames(n=1)
    ref = refs[0].copy()
    ref[100:110, 100:110] = np.nan  # missing reference data on the disk
    gen = refs[0].copy()
    gen[100:110, 100:110] = 5000.0  # whatever the generated map holds there does not count
    m = frame_metrics(ref, gen, geoms[0])
    assert m["cc"] == pytest.approx(1.0) and m["tumf_ratio"] == pytest.approx(1.0)


def test_binned_cc_averages_out_pixel_noise():
    refs, _, geoms = make_frames(n=1)
    rng = np.random.default_rng(0)
    gen = refs[0] + rng.normal(0, 200, refs[0].shape)
    m = frame_metrics(refs[0], gen, geoms[0], FullDiskParams(bin_factor=8))
    assert m["cc_binned"] > m["cc"] + 0.1
    assert m["rmse_g"] == pytest.approx(200, rel=0.03)


def test_series_statistics_exact_values():
    x = np.array([1.0, 2.0, 3.0])
    y = 0.5 * x
    s = series_metrics(x, y)
    assert s["slope"] == pytest.approx(0.5)
    assert s["cc"] == pytest.approx(1.0)
    assert s["r2_fit"] == pytest.approx(1.0)
    # r2_score(true=x, pred=y) = 1 - sum((0.5 x)^2) / sum((x - 2)^2) = 1 - 3.5 / 2
    assert s["r2"] == pytest.approx(-0.75)
    assert r2_score([1, 2, 3], [1, 2, 3]) == 1.0
    assert slope_through_origin([1, 2], [2, 4]) == pytest.approx(2.0)
    assert math.isnan(series_metrics([np.nan], [1.0])["cc"])
