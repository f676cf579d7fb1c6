"""SHARP-like CEA patch parameters (:func:`euv2mag.audit.patch.measure_patch`) on an analytic patch."""
from __future__ import annotations

import math

import numpy as np
import pytest

from euv2mag.audit.patch import measure_patch
from euv2mag.errors import UserError


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


def _write_patch(path, data, **header):
    from astropy.io import fits

    hdu = fits.PrimaryHDU(np.asarray(data, dtype=np.float32))
    for key, value in header.items():
        hdu.header[key] = value
    hdu.writeto(path)
    return path


def _analytic_patch():
    b = np.zeros((200, 300))
    b[50:150, 100:150] = 500.0
    b[50:150, 150:200] = -500.0
    return b


def test_read_cea_patch_header_values_and_defaults(tmp_path):
    from euv2mag.data import fits, patches
    from euv2mag.data.patches import DEFAULT_DSUN_OBS_M, DEFAULT_RSUN_REF_M, read_cea_patch

    assert fits.read_cea_patch is read_cea_patch and fits.CEAPatch is patches.CEAPatch  # the old place still works

    b = _analytic_patch()
    full = read_cea_patch(_write_patch(tmp_path / "full.fits", b, CDELT1=0.03, CUNIT1="degree", RSUN_REF=6.955e8,
                                       DSUN_OBS=1.52e11, R_VALUE=3.5, USFLUX=2.5e22))
    np.testing.assert_array_equal(full.los_g, b)
    assert (full.cdelt_deg, full.rsun_ref_m, full.dsun_obs_m) == (0.03, 6.955e8, 1.52e11)
    assert full.header_r_value == 3.5 and full.header_usflux_mx == 2.5e22
    bare = read_cea_patch(_write_patch(tmp_path / "bare.fits", b, CDELT1=0.03))
    assert (bare.rsun_ref_m, bare.dsun_obs_m) == (DEFAULT_RSUN_REF_M, DEFAULT_DSUN_OBS_M)
    assert math.isnan(bare.header_r_value) and math.isnan(bare.header_usflux_mx)
    with pytest.raises(UserError, match="CDELT1 is missing"):
        read_cea_patch(_write_patch(tmp_path / "nocdelt.fits", b))
    with pytest.raises(UserError, match="CUNIT1 is 'arcsec'"):
        read_cea_patch(_write_patch(tmp_path / "arcsec.fits", b, CDELT1=0.5, CUNIT1="arcsec"))
    with pytest.raises(UserError, match="no such file"):
        read_cea_patch(tmp_path / "missing.fits")


def test_measure_patches_rows_equal_measure_patch_and_errors_name_parameters(tmp_path):
    import json

    import pandas as pd

    from euv2mag.audit.region_study import measure_patches

    b = _analytic_patch()
    patch = _write_patch(tmp_path / "p.fits", b, CDELT1=0.03, RSUN_REF=6.96e8, DSUN_OBS=1.5e11, USFLUX=1e22)
    bitmap = np.zeros(b.shape)
    bitmap[:, :150] = 33  # HARP "inside" values are >= 30
    bitmap[:, 150:] = 2
    bm = _write_patch(tmp_path / "p.bitmap.fits", bitmap)
    mask = bitmap >= 30
    table = measure_patches([patch], tmp_path / "out", bitmap=bm)
    expect = measure_patch(b, 0.03, rsun_ref_m=6.96e8, dsun_obs_m=1.5e11, mask=mask)
    row = table.iloc[0]
    assert (row["map"], row["source"], row["bitmap"]) == ("p.fits", str(patch), str(bm))
    for key, value in expect.items():
        assert row[key] == pytest.approx(value, rel=1e-12, nan_ok=True), key
    assert row.tumf_over_usflux == pytest.approx(expect["tumf_mx"] / 1e22, rel=1e-12)
    assert math.isnan(row.header_r_value)
    written = pd.read_csv(tmp_path / "out" / "regions.csv")
    assert list(written.columns) == list(table.columns) and written.iloc[0].tumf_mx == pytest.approx(row.tumf_mx)
    meta = json.loads((tmp_path / "out" / "regions.json").read_text())
    assert meta["mode"] == "patch" and meta["bitmap"] == str(bm) and meta["inputs"] == [str(patch)]
    # without out nothing is written
    assert len(measure_patches([patch, patch])) == 2 and not (tmp_path / "none").exists()
    # library errors name parameters (the command line names its own flags)
    with pytest.raises(UserError, match="paths is empty"):
        measure_patches([])
    with pytest.raises(UserError, match="bitmap applies to exactly one patch; paths holds 2") as err:
        measure_patches([patch, patch], bitmap=bm)
    assert "--" not in str(err.value)
    wrong = _write_patch(tmp_path / "wrong.fits", np.zeros((10, 10)))
    with pytest.raises(UserError, match=r"bitmap shape \(10, 10\) differs from the patch \(200, 300\)"):
        measure_patches([patch], tmp_path / "never", bitmap=wrong)
    nan = _write_patch(tmp_path / "nan.fits", np.full(b.shape, np.nan), CDELT1=0.03)
    with pytest.raises(UserError, match="patch has no finite pixel"):
        measure_patches([nan], tmp_path / "never")
    assert not (tmp_path / "never").exists()
