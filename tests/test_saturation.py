"""Saturation study: exact clip fluxes on constructed maps, summary statistics, real HMI numbers."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from euv2mag.audit.fulldisk import disk_pixels
from euv2mag.audit.saturation import SaturationParams, amf_statistics, clip_fluxes, summarize_saturation
from euv2mag.errors import UserError
from euv2mag.geometry import DiskGeometry, default_rsun_px


def geometry(size=256):
    return DiskGeometry((size, size), default_rsun_px(size), 1.9 * 1024 / size, 2.0, 40.0, time="2016-07-07T01:00:00")


def two_patch_map(geom, b1=300.0, b2=-50.0):
    """+b1 G in a disk-centre patch, b2 G in a ring around it; NaN off the disk."""
    area, disk = disk_pixels(geom, 0.95)
    rho = geom.rho
    p1 = rho < 0.25
    p2 = (rho >= 0.5) & (rho < 0.7)
    mag = np.zeros(geom.shape)
    mag[p1] = b1
    mag[p2] = b2
    mag[~geom.disk_mask(1.0)] = np.nan
    return mag, area[p1].sum(), area[p2].sum()


def test_clip_fluxes_of_constructed_map_are_exact():
    geom = geometry()
    mag, a1, a2 = two_patch_map(geom)
    assert 2 * a1 < a2 < 6 * a1  # so that the +-100 G clip flips the sign of the NMF
    rows = {r["limit_g"]: r for r in clip_fluxes(mag, geom, SaturationParams((100.0, 3000.0)))}
    r = rows[100.0]
    assert r["tumf_orig_mx"] == pytest.approx(300 * a1 + 50 * a2, rel=1e-12)
    assert r["tumf_clip_mx"] == pytest.approx(100 * a1 + 50 * a2, rel=1e-12)
    assert r["nmf_orig_mx"] == pytest.approx(300 * a1 - 50 * a2, rel=1e-12)
    assert r["nmf_clip_mx"] == pytest.approx(100 * a1 - 50 * a2, rel=1e-12)
    assert r["tumf_kept"] == pytest.approx((100 * a1 + 50 * a2) / (300 * a1 + 50 * a2), rel=1e-12)
    assert r["nmf_sign_flip"] is True
    assert r["frac_above_limit"] == pytest.approx(np.count_nonzero(geom.rho < 0.25) / r["n_disk"])
    assert r["max_abs_g"] == 300.0
    high = rows[3000.0]
    assert high["tumf_clip_mx"] == high["tumf_orig_mx"] and high["nmf_sign_flip"] is False


def test_limit_above_max_keeps_slope_one_exactly():
    geom = geometry()
    rng = np.random.default_rng(1)
    rows = []
    for i in range(5):
        mag = rng.normal(0, 40 * (i + 1), geom.shape)
        mag[~geom.disk_mask(1.0)] = np.nan
        for row in clip_fluxes(mag, geom, SaturationParams((float(np.nanmax(np.abs(mag))) + 1, 60.0))):
            rows.append({**row, "limit_g": "high" if row["limit_g"] > 60 else 60.0})
    table = pd.DataFrame(rows)
    high = table[table.limit_g == "high"].assign(limit_g=1e9)
    s = summarize_saturation(high)["1e+09"]
    assert s["tumf"]["slope"] == 1.0 and s["nmf"]["slope"] == 1.0
    assert s["tumf"]["r2"] == 1.0 and s["sign_flip_fraction"] == 0.0 and s["n_maps"] == 5
    low = summarize_saturation(table[table.limit_g == 60.0].assign(limit_g=60.0))["60"]
    assert low["tumf"]["slope"] < 1.0


def test_summary_statistics_follow_the_documented_definitions():
    table = pd.DataFrame(
        {
            "limit_g": [100.0] * 3,
            "tumf_orig_mx": [1.0, 2.0, 3.0],
            "tumf_clip_mx": [0.5, 1.0, 1.5],
            "nmf_orig_mx": [1.0, -1.0, 2.0],
            "nmf_clip_mx": [-0.5, -1.0, 1.0],
            "tumf_kept": [0.5, 0.5, 0.5],
            "nmf_kept": [-0.5, 1.0, 0.5],
            "nmf_sign_flip": [True, False, False],
        }
    )
    s = summarize_saturation(table)["100"]
    assert s["tumf"]["slope"] == pytest.approx(0.5)
    assert s["tumf"]["r2"] == pytest.approx(1 - 3.5 / 2.0)  # r2_score(y_true=orig, y_pred=clip)
    assert s["tumf"]["r2_fit"] == pytest.approx(1.0)
    assert s["nmf"]["slope"] == pytest.approx((-0.5 + 1.0 + 2.0) / 6.0)
    assert s["sign_flip_fraction"] == pytest.approx(1 / 3)
    assert s["tumf"]["kept_mean"] == pytest.approx(0.5)


def test_amf_statistics():
    st = amf_statistics([50.0, 150.0, 250.0, 350.0], [100, 625])
    assert st["n_regions"] == 4 and st["mean_g"] == 200.0
    assert st["std_g"] == pytest.approx(np.std([50, 150, 250, 350], ddof=1))
    assert st["share_below"] == {"100": 0.25, "625": 1.0}
    empty = amf_statistics([], [100])
    assert empty["n_regions"] == 0 and math.isnan(empty["mean_g"]) and math.isnan(empty["share_below"]["100"])


def test_bad_inputs():
    geom = geometry()
    with pytest.raises(UserError, match="limits"):
        SaturationParams((100.0, -5.0))
    with pytest.raises(UserError, match="no finite pixel"):
        clip_fluxes(np.full(geom.shape, np.nan), geom)
    with pytest.raises(UserError, match="shape"):
        clip_fluxes(np.zeros((10, 10)), geom)
