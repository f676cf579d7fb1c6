"""PIL mask, segments, gradients and the SHARP-recipe R value (spec §3.2-3.3, §5)."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from euv2mag.audit.pil import (
    cea_pixel_mm,
    compute_r_value,
    mean_gradient_g_per_mm,
    pil_mask,
    pil_segments,
    r_gaussian_kernel,
    r_scale,
)

PATCHES = {
    "harp115_20100807_203600": (3.252, 1.12),
    "harp4781_20141106_180000": (4.83, 0.57),
}


def _bipole_cea(amp=500.0, sep_mm=10.0, sx=4.0, sy=12.0, n=81, same_sign=False):
    pix = cea_pixel_mm(0.12)
    y, x = (np.mgrid[0:n, 0:n] - n // 2) * pix
    g = lambda x0: np.exp(-0.5 * (((x - x0) / sx) ** 2 + (y / sy) ** 2))  # noqa: E731
    return amp * (g(sep_mm / 2) + (1 if same_sign else -1) * g(-sep_mm / 2)), pix


def test_gaussian_kernel_and_scale():
    k = r_gaussian_kernel()
    assert k.size == 41 and k.sum() == pytest.approx(1.0)
    fwhm_idx = np.flatnonzero(k >= k.max() / 2)
    assert fwhm_idx.size in (9, 11)  # FWHM 10 px
    # SHARP patch: CDELT 0.03 deg at ~1 AU -> ~0.5 arcsec -> scale 4
    assert r_scale(0.03, 6.96e8, 1.5167e11) == 4


def test_pil_mask_needs_both_polarities():
    b = np.zeros((20, 20))
    b[5:15, 5:10] = 400
    b[5:15, 10:15] = -400
    m = pil_mask(b)
    assert m.any() and set(np.flatnonzero(m.any(axis=0))) == {9, 10}
    assert not pil_mask(np.abs(b)).any()
    assert not pil_mask(b * 0.3).any()  # 120 G < 150 G
    # edges are never PIL pixels (SHARP C code)
    edge = np.zeros((6, 6))
    edge[:, :3], edge[:, 3:] = 500, -500
    e = pil_mask(edge)
    assert not e[0].any() and not e[-1].any() and e[1:-1, 2:4].all()


def test_one_pil_segment_for_a_bipole_and_none_for_same_sign():
    b, pix = _bipole_cea()
    seg = pil_segments(pil_mask(b), pix, 10.0)
    assert seg.count == 1
    assert 10.0 <= seg.total_length_mm <= 40.0
    same, _ = _bipole_cea(same_sign=True)
    assert pil_segments(pil_mask(same), pix, 10.0).count == 0
    assert compute_r_value(same, 0.12, scale=1).r_value == 0.0


def test_segment_length_counts_links_once():
    m = np.zeros((10, 30), bool)
    m[5, 5:25] = True  # 20 px straight line -> 19 links
    seg = pil_segments(m, 1.0, 0.0)
    assert seg.count == 1 and seg.total_length_mm == pytest.approx(19.0)
    d = np.eye(12, dtype=bool)  # diagonal: 11 links of sqrt(2)
    assert pil_segments(d, 2.0, 0.0).total_length_mm == pytest.approx(11 * math.sqrt(2) * 2.0)
    assert pil_segments(m, 1.0, 19.5).count == 0


def test_gradient_of_a_linear_ramp():
    x = np.arange(40) * 1.5
    b = np.tile(30.0 * x, (20, 1))  # 30 G/Mm
    mask = np.zeros_like(b, bool)
    mask[5:15, 5:30] = True
    assert mean_gradient_g_per_mm(b, mask, 1.5) == pytest.approx(30.0)
    assert math.isnan(mean_gradient_g_per_mm(b, np.zeros_like(mask), 1.5))


def test_r_value_zero_below_threshold_and_scaling():
    b, _ = _bipole_cea(amp=140.0)
    r = compute_r_value(b, 0.12, scale=1)
    assert r.r_value == 0.0 and r.n_pil_px == 0 and math.isnan(r.log10_r_mx)
    strong, _ = _bipole_cea(amp=800.0)
    r = compute_r_value(strong, 0.12, scale=1, rsun_ref_m=695.7e6)
    assert r.n_pil_px > 0 and 2.0 < r.r_value < 5.5
    # R in Mx = S * pixel area (2.123 Mm^2 at 0.12 deg)
    assert r.log10_r_mx == pytest.approx(r.r_value + math.log10(2.1232e16), abs=1e-3)
    # NaNs add nothing and never make PIL pixels
    nan = strong.copy()
    nan[:, :5] = np.nan
    assert compute_r_value(nan, 0.12, scale=1).r_value == pytest.approx(r.r_value, abs=1e-6)


@pytest.mark.realdata
@pytest.mark.parametrize("tag", sorted(PATCHES))
def test_sharp_patch_r_value_and_flux(shared_data, tag):
    from astropy.io import fits

    header_r, flux_ratio = PATCHES[tag]
    path = shared_data / "hmi" / f"hmi_sharp_cea_720s_{tag}_TAI.magnetogram.fits"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with fits.open(path) as hdul:
            hdul.verify("silentfix")
            head, los = hdul[1].header, hdul[1].data.astype(float)
        with fits.open(str(path).replace("magnetogram", "bitmap")) as hdul:
            bitmap = hdul[0].data
    assert head["R_VALUE"] == pytest.approx(header_r)
    r = compute_r_value(los, head["CDELT1"], rsun_ref_m=head["RSUN_REF"], dsun_obs_m=head["DSUN_OBS"])
    assert r.scale == 4
    assert abs(r.r_value - head["R_VALUE"]) < 0.01
    # the block-mean variant of the Python port misses; the recipe matters
    ny, nx = (los.shape[0] // 4) * 4, (los.shape[1] // 4) * 4
    block = los[:ny, :nx].reshape(ny // 4, 4, nx // 4, 4).mean(axis=(1, 3))
    assert abs(compute_r_value(block, 0.12, scale=1).r_value - head["R_VALUE"]) > 0.05
    # unsigned LOS flux inside the HARP (bitmap >= 30) vs USFLUX (Br, disambiguation mask)
    pix_cm2 = (math.radians(head["CDELT1"]) * head["RSUN_REF"] * 100.0) ** 2
    flux = np.nansum(np.abs(los[bitmap >= 30])) * pix_cm2
    assert flux / head["USFLUX"] == pytest.approx(flux_ratio, abs=0.01)
