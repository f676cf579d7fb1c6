"""Run-to-run variability: identical runs agree perfectly, a flipped run disagrees where it is strong."""
from __future__ import annotations

import numpy as np
import pytest

from euv2mag.audit.fulldisk import FullDiskParams
from euv2mag.audit.measurement import find_regions
from euv2mag.audit.variability import frame_variability, pair_pixel_metrics, pixel_std_map, region_overlap
from euv2mag.geometry import DiskGeometry, default_rsun_px

SIZE = 256


def geometry():
    return DiskGeometry((SIZE, SIZE), default_rsun_px(SIZE), 1.9 * 1024 / SIZE, 2.0, 0.0, time="2016-07-07T00:00:00")


def spot(geom, lat, lon, peak, sigma_px=3.0):
    x, y, _ = geom.hgs_to_pixel(lat, lon)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    return peak * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma_px**2))


def run_map(geom, regions, seed):
    rng = np.random.default_rng(seed)
    mag = rng.normal(0, 3, geom.shape)
    for lat, lon, peak in regions:
        mag += spot(geom, lat, lon + 5, peak) + spot(geom, lat, lon - 5, -0.8 * peak)
    mag[~geom.disk_mask(1.0)] = np.nan
    return mag


def test_identical_runs_agree_and_a_reversed_run_disagrees():
    geom = geometry()
    regions = [(15, -30, 1500), (-12, 20, 1200)]
    a = run_map(geom, regions, 0)
    m = pair_pixel_metrics(a, a.copy(), geom)
    assert m["cc"] == pytest.approx(1.0) and m["polarity_disagreement"] == 0.0 and m["rmse_g"] == 0.0
    m = pair_pixel_metrics(a, -a, geom)
    assert m["cc"] == pytest.approx(-1.0) and m["polarity_disagreement"] == 1.0
    assert m["tumf_a_mx"] == pytest.approx(m["tumf_b_mx"]) and m["nmf_sign_agree"] is False


def test_pixel_std_map_is_the_sample_spread():
    geom = geometry()
    maps = [np.full(geom.shape, v, dtype=float) for v in (1.0, 2.0, 3.0)]
    std = pixel_std_map(maps, geom, r_max=0.95)
    disk = geom.disk_mask(0.95)
    assert np.allclose(std[disk], 1.0) and np.isnan(std[~disk]).all()
    with pytest.raises(ValueError):
        pixel_std_map(maps[:1])


def test_region_overlap_counts_missing_regions():
    geom = geometry()
    full = run_map(geom, [(15, -30, 1500), (-12, 20, 1200)], 0)
    half = run_map(geom, [(15, -30, 1500)], 1)
    _, ta = find_regions(full, geom)
    _, tb = find_regions(half, geom)
    assert len(ta) == 2 and len(tb) == 1
    o = region_overlap(ta, tb)
    assert o["n_regions_matched"] == 1
    assert o["recall_a_in_b"] == 0.5 and o["recall_b_in_a"] == 1.0 and o["region_jaccard"] == 0.5
    assert np.isnan(region_overlap(ta.iloc[:0], tb.iloc[:0])["region_jaccard"])


def test_frame_variability_rows_for_every_pair():
    geom = geometry()
    regions = [(15, -30, 1500)]
    maps = {"r1": run_map(geom, regions, 0), "r2": run_map(geom, regions, 1), "r3": -run_map(geom, regions, 2)}
    tables = {k: find_regions(v, geom)[1] for k, v in maps.items()}
    rows, std = frame_variability(maps, geom, FullDiskParams(), tables)
    assert [(r["run_a"], r["run_b"]) for r in rows] == [("r1", "r2"), ("r1", "r3"), ("r2", "r3")]
    assert rows[0]["polarity_disagreement"] < 0.05 and rows[1]["polarity_disagreement"] > 0.95
    assert all(r["recall_a_in_b"] == 1.0 for r in rows)  # the region is there, whatever its polarity
    assert std.shape == geom.shape and np.nanmax(std) > 500
