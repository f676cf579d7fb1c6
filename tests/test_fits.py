"""Reading and preparing single AIA/HMI frames (euv2mag.data.fits)."""
from __future__ import annotations

import numpy as np
import pytest

import fits_factory as ff
from euv2mag.data.fits import area_weights, disk_transform, prepare_aia, prepare_array, prepare_hmi, prepare_map, read_map
from euv2mag.errors import UserError
from euv2mag.geometry import DiskGeometry

HMI_FILES = ("hmi_m_720s_20160707_010000_TAI.fits", "hmi_m_720s_20190621_060000_TAI.fits")


def _truth_on(geometry):
    n = geometry.size
    y, x = np.mgrid[0:n, 0:n]
    c = (n - 1) / 2
    return ff.truth((x - c) * geometry.cdelt_arcsec, (y - c) * geometry.cdelt_arcsec)


@pytest.mark.parametrize("crota2", [180.0, 180.013, 0.0, 90.0, 270.0, 30.0])
def test_prepare_recovers_analytic_sun_for_any_roll(tmp_path, crota2):
    path = ff.write_fits(tmp_path / "hmi.fits", crota2=crota2, crpix=(240.3, 270.8))
    mag, geo = prepare_hmi(path, size=256)
    assert mag.dtype == np.float32 and mag.shape == (256, 256)
    assert geo.rsun_px == pytest.approx(98.0)
    assert geo.cdelt_arcsec == pytest.approx(ff.RSUN_ARCSEC / 98.0)
    truth = _truth_on(geo)
    both = np.isfinite(mag) & np.isfinite(truth)
    assert both.sum() > 0.99 * np.isfinite(truth).sum()
    assert np.corrcoef(mag[both], truth[both])[0, 1] > 0.9999
    # the positive blob is in the north-west: rows north (up), columns west (right)
    row, col = np.unravel_index(np.nanargmax(mag), mag.shape)
    assert row > 127.5 + 30 and col > 127.5 + 20
    assert np.all(np.isnan(mag[geo.rho > 1.0]))


def test_geometry_and_time_from_header(tmp_path):
    path = ff.write_fits(tmp_path / "hmi.fits", time="2016-07-07T01:00:08.000")
    _, geo = prepare_hmi(path, size=128, rsun_px=50)
    assert geo.time.startswith("2016-07-07T01:00:08")
    assert (geo.b0_deg, geo.l0_deg) == (3.5, 312.4)
    assert geo.rsun_px == 50 and geo.cdelt_arcsec == pytest.approx(19.0)
    assert geo.dsun_m == pytest.approx(6.96e8 / np.sin(np.radians(950 / 3600)))


def test_aia_is_normalised_by_exposure(tmp_path):
    path = ff.write_fits(tmp_path / "aia.fits", "aia", exptime=2.9, crota2=0.02)
    euv, geo = prepare_aia(path, size=256)
    truth = _truth_on(geo)  # the factory writes truth * EXPTIME DN
    both = np.isfinite(euv) & np.isfinite(truth)
    assert np.nanmedian(euv[both] / truth[both]) == pytest.approx(1.0, rel=2e-3)


def test_area_weights_conserve_sum():
    w = area_weights(10, 47, center_in=23.0, step=4.7)
    x = np.random.default_rng(0).normal(size=47)
    # every input pixel fully inside the footprint of the output row block is counted once
    assert np.asarray(w.sum(axis=0)).ravel()[1:-1] == pytest.approx(1 / 4.7, rel=1e-6)
    assert (w @ x).sum() * 4.7 == pytest.approx(x.sum(), rel=1e-5)


def test_prepare_array_flux_conserving_rebin_exact():
    rng = np.random.default_rng(1)
    data = rng.normal(size=(400, 400)).astype(np.float32)
    out = prepare_array(data, (199.5, 199.5), np.eye(2) * 4.0, 100, 49.0, mask_off_disk=False)
    blocks = data.reshape(100, 4, 100, 4).mean(axis=(1, 3))
    assert np.allclose(out, blocks, atol=1e-5)


def test_read_map_errors_name_file(tmp_path):
    path = ff.write_fits(tmp_path / "aia171.fits", "aia", wavelength=171)
    with pytest.raises(UserError, match=r"aia171.fits: is AIA 171 A, not 304 A"):
        read_map(path, expect="aia")
    with pytest.raises(UserError, match="is not an HMI file"):
        read_map(path, expect="hmi")
    assert read_map(path, expect="aia", wavelength=None).meta["wavelnth"] == 171
    hmi = ff.write_fits(tmp_path / "q.fits", quality=0x20)
    with pytest.raises(UserError, match=r"QUALITY=0x20"):
        read_map(hmi)
    ok = ff.write_fits(tmp_path / "q2.fits", quality=0x10000)  # QUAL_LOWINTERPNUM: tolerated by default
    assert read_map(ok).meta["quality"] == 0x10000
    with pytest.raises(UserError, match="QUALITY"):
        read_map(ok, quality_ignore=0)


def test_sunpy_aia_test_file_geometry():
    from sunpy.data.test import get_test_filepath

    path = get_test_filepath("aia_171_level1.fits")
    with pytest.raises(UserError, match="171"):
        read_map(path, expect="aia")
    smap = read_map(path, expect="aia", wavelength=None)
    euv, geo = prepare_map(smap, size=128)
    assert geo.time == "2011-02-15T00:00:01.340"
    assert geo.b0_deg == pytest.approx(-6.820544) and geo.l0_deg == pytest.approx(22.814522)
    assert geo.dsun_m == pytest.approx(147724815128.0)
    assert geo.rsun_arcsec == pytest.approx(971.812597)
    assert geo.rsun_px == pytest.approx(49.0)
    # sunpy's own coordinates agree with ours: sample the input at our pixels' world positions
    _assert_matches_sunpy(smap, euv * float(smap.meta["exptime"]), geo, min_corr=0.9)


def _assert_matches_sunpy(smap, prepared, geo, min_corr):
    """Sample ``smap`` (nearest pixel, through sunpy's WCS) at the helioprojective position of every
    prepared pixel on the disk; north-up and centring errors destroy the correlation."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    n = geo.size
    y, x = np.mgrid[0:n, 0:n]
    c = (n - 1) / 2
    inside = (geo.rho < 0.95) & np.isfinite(prepared)
    tx = (x[inside] - c) * geo.cdelt_arcsec
    ty = (y[inside] - c) * geo.cdelt_arcsec
    px, py = smap.wcs.world_to_pixel(SkyCoord(tx * u.arcsec, ty * u.arcsec, frame=smap.coordinate_frame))
    sampled = np.asarray(smap.data, float)[np.round(py).astype(int), np.round(px).astype(int)]
    ok = np.isfinite(sampled)
    corr = np.corrcoef(prepared[inside][ok], sampled[ok])[0, 1]
    flipped = np.corrcoef(prepared[::-1, ::-1][inside][ok], sampled[ok])[0, 1]
    assert corr > min_corr and abs(flipped) < corr - 0.3


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize("name", HMI_FILES)
def test_real_hmi_north_up_centred_flux(shared_data, name):
    path = shared_data / "hmi" / name
    smap = read_map(path)
    assert abs(float(smap.meta["crota2"]) - 180) < 0.1  # the raw file is north down
    mag, geo = prepare_map(smap, size=1024)
    assert geo.rsun_px == 392.0 and mag.shape == (1024, 1024)
    # disk edge from HMI's own off-limb NaN mask (our r > R masking off)
    raw, _ = prepare_map(smap, size=1024, mask_off_disk=False)
    finite = np.isfinite(raw)
    rows, cols = np.nonzero(finite)
    assert abs(cols.mean() - 511.5) < 0.5 and abs(rows.mean() - 511.5) < 0.5
    # HMI crops its images somewhat outside the limb: compare that crop circle's radius before
    # and after, measured on the data of both, with the scale RSUN_OBS -> 392 px
    rsun_in_px = float(smap.rsun_obs.to_value("arcsec")) / float(smap.scale.axis1.value)
    radius_in = np.sqrt(np.isfinite(smap.data).sum() / np.pi)
    radius = np.sqrt(finite.sum() / np.pi)
    assert radius / radius_in == pytest.approx(392.0 / rsun_in_px, rel=0.005)
    _assert_matches_sunpy(smap, mag, geo, min_corr=0.7)
    # flux: signed conserved, unsigned drops by unresolved cancellation (r < 0.99 R)
    import astropy.units as u

    center, _, rsun_arcsec = disk_transform(smap, 1024, 392.0)
    cdelt = float(smap.scale.axis1.to_value(u.arcsec / u.pix))
    gin = DiskGeometry(shape=smap.data.shape, rsun_px=rsun_arcsec / cdelt, cdelt_arcsec=cdelt,
                       b0_deg=geo.b0_deg, center_px=tuple(center))

    def flux(b, g):
        area = g.pixel_area_cm2
        keep = (g.rho < 0.99) & np.isfinite(area) & np.isfinite(b)
        return np.sum(b[keep] * area[keep]), np.sum(np.abs(b[keep]) * area[keep])

    s0, u0 = flux(np.asarray(smap.data, float), gin)
    s1, u1 = flux(mag.astype(float), geo)
    assert abs(s1 - s0) <= 0.01 * u0
    drop = 1 - u1 / u0
    # measured: 21.7 % (2016-07-07, active) and 26.1 % (2019-06-21, minimum: noise-dominated)
    assert 0.10 < drop < 0.35


def test_fixture_hmi_prepares_north_up(test_data):
    path = test_data / "hmi_m_720s_20160707_010000_TAI_rebin8.fits"
    smap = read_map(path)
    mag, geo = prepare_map(smap, size=256)
    raw, _ = prepare_map(smap, size=256, mask_off_disk=False)
    rows, cols = np.nonzero(np.isfinite(raw))
    assert abs(cols.mean() - 127.5) < 0.5 and abs(rows.mean() - 127.5) < 0.5
    rsun_in_px = float(smap.rsun_obs.to_value("arcsec")) / float(smap.scale.axis1.value)
    ratio = np.sqrt(np.isfinite(raw).sum() / np.isfinite(smap.data).sum())
    assert ratio == pytest.approx(98.0 / rsun_in_px, rel=0.01)
    assert geo.time == "2016-07-07T00:59:32.326"
    _assert_matches_sunpy(smap, mag, geo, min_corr=0.8)
