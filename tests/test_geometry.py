"""DiskGeometry: exact disk geometry against sunpy, areas and the inverse projection."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from euv2mag.errors import UserError
from euv2mag.geometry import MSH_MM2, RSUN_MM, DiskGeometry, default_rsun_px


def _geometry(size=64, b0=6.5, l0=123.0):
    rsun_px = 0.4 * size
    cdelt = 960.0 / rsun_px
    dsun = RSUN_MM * 1e6 / math.sin(math.radians(rsun_px * cdelt / 3600))
    return DiskGeometry((size, size), rsun_px=rsun_px, cdelt_arcsec=cdelt, b0_deg=b0, l0_deg=l0, dsun_m=dsun,
                        time="2014-09-01T00:00:00")


def test_matches_sunpy_helioprojective_to_stonyhurst():
    """Pixel -> (lat, lon) agrees with sunpy's transform of the same WCS (TAN vs linear angles differ
    by < 0.003 deg where mu > 0.3 on this coarse 38 arcsec/px grid)."""
    import astropy.units as u
    import sunpy.map
    from astropy.coordinates import SkyCoord
    from sunpy.coordinates import frames

    g = _geometry()
    obs = SkyCoord(0 * u.deg, g.b0_deg * u.deg, g.dsun_m * u.m, frame=frames.HeliographicStonyhurst, obstime=g.time)
    ref = SkyCoord(0 * u.arcsec, 0 * u.arcsec, frame=frames.Helioprojective(observer=obs, obstime=g.time))
    header = sunpy.map.make_fitswcs_header(
        np.zeros(g.shape), ref, reference_pixel=list(g.center_px) * u.pix, scale=[g.cdelt_arcsec] * 2 * u.arcsec / u.pix
    )
    smap = sunpy.map.Map(np.zeros(g.shape), header)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hgs = sunpy.map.all_coordinates_from_map(smap).transform_to(frames.HeliographicStonyhurst(obstime=g.time))
    lat, lon = hgs.lat.deg, hgs.lon.deg
    assert np.array_equal(np.isfinite(lat), np.isfinite(g.lat_deg))
    inner = np.isfinite(lat) & (g.mu > 0.3)
    assert np.nanmax(np.abs(lat - g.lat_deg)[inner]) < 3e-3
    assert np.nanmax(np.abs(lon - g.stonyhurst_lon_deg)[inner]) < 3e-3


def test_mu_and_rho_at_centre_and_limb():
    g = DiskGeometry((101, 101), rsun_px=40.0, cdelt_arcsec=24.0)
    assert g.center_px == (50.0, 50.0)
    assert g.mu[50, 50] == pytest.approx(1.0, abs=1e-9)
    assert g.rho[50, 90] == pytest.approx(1.0)
    # mu ~ sqrt(1 - rho^2) (orthographic limit) to within the finite-distance correction
    inner = g.rho < 0.9
    assert np.allclose(g.mu[inner], np.sqrt(1 - g.rho[inner] ** 2), atol=6e-3)
    assert np.isnan(g.mu[50, 95]) and np.isnan(g.lat_deg[0, 0])


def test_north_is_up_and_west_is_right():
    g = DiskGeometry((101, 101), rsun_px=40.0, cdelt_arcsec=24.0, b0_deg=0.0)
    assert g.lat_deg[80, 50] > 40 and g.lat_deg[20, 50] < -40  # rows increase northward
    assert g.stonyhurst_lon_deg[50, 80] > 40 and g.stonyhurst_lon_deg[50, 20] < -40  # columns westward


def test_b0_tilts_the_visible_pole():
    g = DiskGeometry((101, 101), rsun_px=40.0, cdelt_arcsec=24.0, b0_deg=7.0)
    assert g.lat_deg[50, 50] == pytest.approx(7.0, abs=1e-9)


def test_disk_area_sums_to_a_hemisphere_and_limb_cut_to_its_cap():
    g = DiskGeometry((1024, 1024), rsun_px=392.0, cdelt_arcsec=2.45)
    hemisphere = 2 * math.pi * RSUN_MM**2
    assert np.nansum(g.pixel_area_mm2) / hemisphere == pytest.approx(1.0, abs=0.005)
    cap = np.nansum(np.where(g.disk_mask(0.95), g.pixel_area_mm2, 0.0)) / hemisphere
    assert cap == pytest.approx(1 - math.sqrt(1 - 0.95**2), abs=1e-3)
    assert g.pixel_area_mm2[511, 511] == pytest.approx((RSUN_MM / 392.0) ** 2, rel=1e-5)
    assert MSH_MM2 == pytest.approx(3.0411, abs=1e-4)


def test_inverse_projection_round_trips_and_hides_far_side():
    g = _geometry(size=128)
    ok = np.isfinite(g.lat_deg)
    x, y, mu = g.hgs_to_pixel(g.lat_deg[ok], g.stonyhurst_lon_deg[ok])
    rows, cols = np.nonzero(ok)
    assert np.max(np.abs(x - cols)) < 1e-6 and np.max(np.abs(y - rows)) < 1e-6
    assert np.allclose(mu, g.mu[ok], atol=1e-9)
    x, y, mu = g.hgs_to_pixel(0.0, 150.0)
    assert np.isnan(x) and mu < 0
    xc, yc, _ = g.carrington_to_pixel(g.lat_deg[ok][:50], g.carrington_lon_deg[ok][:50])
    assert np.allclose(xc, cols[:50], atol=1e-6)


def test_rebinned_geometry_matches_block_average():
    g = DiskGeometry((1024, 1024), rsun_px=392.0, cdelt_arcsec=2.45)
    r = g.rebinned(4)
    assert r.shape == (256, 256) and r.rsun_px == 98.0 and r.center_px == (127.5, 127.5)
    with pytest.raises(UserError):
        g.rebinned(3)


def test_default_radius_is_kpl19():
    assert default_rsun_px(1024) == 392.0 and default_rsun_px(256) == 98.0


@pytest.mark.parametrize("kwargs", [dict(rsun_px=-1), dict(cdelt_arcsec=0), dict(b0_deg=float("nan")), dict(b0_deg=95)])
def test_bad_geometry_is_a_user_error(kwargs):
    base = dict(shape=(8, 8), rsun_px=3.0, cdelt_arcsec=300.0)
    base.update(kwargs)
    with pytest.raises(UserError):
        DiskGeometry(**base)
