"""The calibration measurements (:mod:`euv2mag.audit.calibration`) on maps with known answers.

Their use on real HMI and synthetic frames is tested in ``tests/test_synthetic.py``
(``test_mean_abs_field_inside_*``, ``test_calibration_against_real_hmi``).
"""
from __future__ import annotations

import numpy as np
import pytest

from euv2mag.audit.calibration import AR_STRONG_FIELD_G, disk_statistics, strong_field_mean
from euv2mag.geometry import DiskGeometry

N = 64


@pytest.fixture
def geom():
    return DiskGeometry(shape=(N, N), rsun_px=24.0, cdelt_arcsec=40.0)


def test_strong_field_mean_is_area_weighted_over_pixels_above_threshold(geom):
    mag = np.zeros((N, N))
    labels = np.zeros((N, N), dtype=int)
    labels[30:34, 30:34] = 1
    mag[30:32, 30:34] = 300.0   # counts
    mag[32:34, 30:34] = -50.0   # below 100 G: left out
    labels[10:14, 30:34] = 2    # above 100 G with both signs: the mean of |B| weighted by area
    mag[10:12, 30:34] = 200.0
    mag[12:14, 30:34] = -400.0
    labels[40:42, 40:42] = 3    # nothing above the threshold: NaN
    mag[40:42, 40:42] = AR_STRONG_FIELD_G - 1.0
    area = geom.pixel_area_mm2
    means = strong_field_mean(mag, geom, labels)
    assert means.shape == (3,)
    assert means[0] == pytest.approx(300.0)
    a_hi, a_lo = area[10:12, 30:34].sum(), area[12:14, 30:34].sum()
    assert means[1] == pytest.approx((200.0 * a_hi + 400.0 * a_lo) / (a_hi + a_lo))
    assert np.isnan(means[2])
    # a lower threshold takes the weak pixels in
    low = strong_field_mean(mag, geom, labels, threshold_g=10.0)
    w1, w2 = area[30:32, 30:34].sum(), area[32:34, 30:34].sum()
    assert low[0] == pytest.approx((300.0 * w1 + 50.0 * w2) / (w1 + w2))


def test_strong_field_mean_ignores_off_disk_and_nan_pixels(geom):
    mag = np.full((N, N), 500.0)
    mag[0, 0] = np.nan
    labels = np.zeros((N, N), dtype=int)
    labels[0:2, 0:2] = 1          # off the disk: no area
    assert np.isnan(strong_field_mean(mag, geom, labels)[0])


def test_disk_statistics_of_a_uniform_map(geom):
    mag = np.full((N, N), 200.0, dtype=np.float32)
    stats = disk_statistics(mag, geom)
    assert stats["frac_gt_50"] == 1.0 and stats["frac_gt_100"] == 1.0 and stats["frac_gt_500"] == 0.0
    inside = geom.disk_mask(0.95)
    assert stats["tumf_mx"] == pytest.approx(200.0 * geom.pixel_area_cm2[inside].sum())
    assert stats["clip100_share"] == pytest.approx(0.5)


def test_disk_statistics_of_an_empty_map(geom):
    stats = disk_statistics(np.zeros((N, N), dtype=np.float32), geom)
    assert stats["tumf_mx"] == 0.0 and np.isnan(stats["clip100_share"])
    assert stats["frac_gt_50"] == 0.0
