"""Active-region detection (spec §2.1, steps D0-D10) on analytic maps: sizes, recall, limb cut, bad input."""
from __future__ import annotations

import math

import numpy as np
import pytest

import armaps
from euv2mag.audit.detection import DetectionParams, detect_regions, kernel_px
from euv2mag.audit.match import match_regions
from euv2mag.audit.measurement import find_regions
from euv2mag.errors import UserError


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


def test_bad_input(geom):
    mag = np.zeros(geom.shape, np.float32)
    with pytest.raises(UserError, match="does not match"):
        detect_regions(mag[:-1], geom)
    with pytest.raises(UserError, match="no finite pixel"):
        detect_regions(np.full(geom.shape, np.nan), geom)
    with pytest.raises(UserError, match="r_max"):
        DetectionParams(r_max=1.5)


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
    assert np.all(np.abs(areas.pairs.ratio_area_msh - 1) < 0.2)


def test_limb_region_flagged(geom):
    lon = math.degrees(math.asin(0.93))  # rho ~ 0.93: region crosses the 0.95 cut
    mag = armaps.disk_map(geom, [dict(lat=0.0, lon=lon, sigma_mm=8.0, sep_mm=20.0, amp_g=1500.0)], radial=True)
    _, t = find_regions(mag, geom)
    assert len(t) == 1
    row = t.iloc[0]
    assert row.touches_limb and row.low_mu and row.mu_center < 0.5
    inside = geom.rho[detect_regions(mag, geom) > 0]
    assert inside.max() <= 0.95
