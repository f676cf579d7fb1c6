"""Scaling maps: exact inverses, saturation, 8-bit PNG pipeline (no KPL19 [0,100] slip)."""
from __future__ import annotations

import numpy as np
import pytest

from euv2mag.errors import UserError
from euv2mag.scaling import (
    EuvScaling,
    MagScaling,
    clip_field,
    dequantize_8bit,
    quantize_8bit,
)

ALL_MAG_SCALINGS = [
    MagScaling("linear", 100.0),
    MagScaling("linear", 3000.0),
    MagScaling("asinh", 3000.0, softening_g=30.0),
    MagScaling("linear", 100.0, quantize_8bit=True),
    MagScaling("asinh", 625.0, softening_g=20.0, quantize_8bit=True),
    MagScaling("linear", 625.0, clip=False),
]


@pytest.mark.parametrize("scaling", ALL_MAG_SCALINGS, ids=repr)
def test_zero_and_limits_round_trip(scaling):
    """0 G -> 0 G and +-L G -> +-L G through every map (8-bit: within half a level)."""
    limit = scaling.limit_g
    b = np.array([0.0, limit, -limit])
    y = scaling.to_unit(b)
    back = scaling.to_gauss(y)
    if scaling.quantize_8bit:
        # the largest step of the map near 0 G is half an 8-bit level on the scaled axis
        half_level = float(scaling.to_gauss(np.array([1.0 / 255.0]))[0])
        assert abs(back[0]) <= half_level + 1e-4  # float32 rounding
        assert back[1] == pytest.approx(limit, rel=1e-6) and back[2] == pytest.approx(-limit, rel=1e-6)
    else:
        assert back == pytest.approx([0.0, limit, -limit], abs=1e-3)
    assert y[1] == pytest.approx(1.0) and y[2] == pytest.approx(-1.0)


def test_kpl19_png_level_and_no_155_gauss_offset():
    s = MagScaling("linear", 100.0, quantize_8bit=True)
    p = quantize_8bit(np.array([0.0]))
    assert p[0] == 128  # 127.5 rounds half to even
    assert float(s.to_gauss(dequantize_8bit(p))[0]) == pytest.approx(200 * 128 / 255 - 100, abs=1e-4)  # +0.39 G, not +155 G
    levels = s.to_gauss(dequantize_8bit(np.arange(256)))
    assert levels[0] == pytest.approx(-100) and levels[-1] == pytest.approx(100)
    assert np.allclose(np.diff(levels), 200 / 255, atol=1e-4)


def test_clip_and_nan_handling():
    s = MagScaling("linear", 100.0)
    y = s.to_unit(np.array([np.nan, 250.0, -2500.0, 50.0]))
    assert y.dtype == np.float32 and list(y) == [0.0, 1.0, -1.0, 0.5]
    clipped = clip_field(np.array([np.nan, 150.0, -20.0]), 100)
    assert np.isnan(clipped[0]) and clipped[1] == 100 and clipped[2] == -20


def test_asinh_is_odd_monotonic_and_compressive():
    s = MagScaling("asinh", 3000.0, softening_g=30.0)
    b = np.linspace(-3000, 3000, 601)
    y = s.to_unit(b)
    assert np.all(np.diff(y) > 0) and np.allclose(y, -y[::-1], atol=1e-6)
    # 100 G sits far above the linear map's 100/3000 = 0.033
    assert s.to_unit(np.array([100.0]))[0] > 0.3
    assert np.allclose(s.to_gauss(y), b, atol=1e-2)


@pytest.mark.parametrize("scaling", [EuvScaling("linear", 0, 2000), EuvScaling("log", 1, 1e4), EuvScaling()], ids=repr)
def test_euv_scaling_is_monotonic_and_invertible(scaling):
    i = np.array([scaling.vmin, 45.0, 300.0, 1500.0, scaling.vmax])
    y = scaling.to_unit(i)
    assert y[0] == pytest.approx(-1) and y[-1] == pytest.approx(1) and np.all(np.diff(y) > 0)
    assert np.allclose(scaling.to_dn_s(y), i, rtol=1e-4)
    assert scaling.to_unit(np.array([np.nan]))[0] == scaling.to_unit(np.array([0.0]))[0]


@pytest.mark.parametrize(
    "make",
    [
        lambda: MagScaling("cubic"),
        lambda: MagScaling(limit_g=0),
        lambda: MagScaling(limit_g="a"),
        lambda: MagScaling(clip=False, quantize_8bit=True),
        lambda: EuvScaling("log", 0, 10),
        lambda: EuvScaling("linear", 10, 5),
        lambda: MagScaling.from_dict({"kind": "linear", "limt_g": 3}),
    ],
)
def test_bad_options_are_user_errors(make):
    with pytest.raises(UserError):
        make()


def test_dict_round_trip():
    s = MagScaling("asinh", 3000.0, softening_g=25.0)
    assert MagScaling.from_dict(s.to_dict()) == s
    e = EuvScaling("log", 1.0, 5000.0)
    assert EuvScaling.from_dict(e.to_dict()) == e
