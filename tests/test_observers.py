"""Synthetic observers: the same Sun seen from Earth, STEREO and any heliographic position."""
from __future__ import annotations

import numpy as np
import pytest
from astropy.time import Time

from euv2mag.data.store import FrameStore
from euv2mag.data.synthetic import SynthParams, observer_geometries, observer_positions, parse_observer, synthesize_views
from euv2mag.data.synthetic.timegrid import frame_geometries
from euv2mag.errors import UserError


def mjd(text: str) -> float:
    return float(Time(text, scale="utc").mjd)


# ----------------------------------------------------------------------------- the STEREO model
def test_stereo_drift_agrees_with_published_positions():
    """Published: A-B 44 deg apart on 2008-01-08 and 180 deg on 2011-02-06 (NASA); A occulted by
    the Sun 2015-05-13..27, B 2015-02-15..22 (STEREO Science Center); A at 51.80 deg, 0.956 au on
    2009-06-15 (its EUVI header in sunpy's test data)."""
    a, b = parse_observer("stereo-a"), parse_observer("stereo-b")
    times = np.array([mjd("2008-01-08"), mjd("2011-02-06")])
    sep = observer_positions(a, times)[0] - observer_positions(b, times)[0]
    np.testing.assert_allclose(sep, [44.0, 180.0], atol=2.5)
    assert abs(observer_positions(a, [mjd("2015-05-20")])[0][0]) == pytest.approx(180.0, abs=1.0)
    assert abs(observer_positions(b, [mjd("2015-02-18T12:00")])[0][0]) == pytest.approx(180.0, abs=1.0)
    hgln, hglt, dsun = observer_positions(a, [mjd("2009-06-15T00:09:08")])
    assert hgln[0] == pytest.approx(51.80, abs=0.01)
    assert hglt[0] == pytest.approx(6.40, abs=0.2)  # in the ecliptic; the real orbit is inclined slightly
    assert dsun[0] / 1.495978707e11 == pytest.approx(0.956, abs=0.01)


def test_earth_meridian_observer_is_the_earth():
    """hgln=0 at Earth's distance in the ecliptic: sunpy's Earth B0, L0 (light time included) and radius."""
    times = np.array([mjd("2011-03-01"), mjd("2013-09-10"), mjd("2016-07-07")])
    earth = frame_geometries(times, 256)
    same = observer_geometries(parse_observer("hgln=0"), times, 256)
    for e, o in zip(earth, same):
        assert o.b0_deg == pytest.approx(e.b0_deg, abs=1e-6)
        assert o.l0_deg == pytest.approx(e.l0_deg, abs=0.002)
        assert o.cdelt_arcsec == pytest.approx(e.cdelt_arcsec, rel=1e-9)


@pytest.mark.parametrize("text, message", [
    ("mars", "unknown observer 'mars'"),
    ("hgln=abc", "expected hgln=DEG"),
    ("hgln=10,foo=2", "expected hgln=DEG"),
    ("hgln=10,dsun=0.001", "inside the Sun"),
    ("hgln=10,hglt=100", "is not a latitude"),
])
def test_bad_observers_are_named(text, message):
    with pytest.raises(UserError, match=message):
        parse_observer(text)


def test_ephemeris_file(tmp_path):
    path = tmp_path / "orbit.csv"
    path.write_text("time,hgln_deg,hglt_deg,dsun_au\n2012-01-01,170,1.0,0.9\n2012-01-03,-170,3.0,0.7\n")
    hgln, hglt, dsun = observer_positions(parse_observer(f"ephemeris={path}"), [mjd("2012-01-02")])
    assert hgln[0] == pytest.approx(180.0) or hgln[0] == pytest.approx(-180.0)  # unwrapped across +-180
    assert hglt[0] == pytest.approx(2.0) and dsun[0] / 1.495978707e11 == pytest.approx(0.8)
    with pytest.raises(UserError, match="frame time 2012-01-04T00:00:00 lies outside it"):
        observer_positions(parse_observer(f"ephemeris={path}"), [mjd("2012-01-04")])
    bad = tmp_path / "bad.csv"
    bad.write_text("time,hgln_deg,dsun_au\n2012-01-01,1,1\n2012-01-02,2,1\n")
    with pytest.raises(UserError, match="lacks column"):
        observer_positions(parse_observer(f"ephemeris={bad}"), [mjd("2012-01-01T12:00")])


# ---------------------------------------------------------------- the same Sun from four observers
SEPARATIONS = ("earth", "hgln=60", "hgln=120", "hgln=180")


@pytest.fixture(scope="module")
def views(tmp_path_factory):
    out = tmp_path_factory.mktemp("views") / "sun.zarr"
    params = SynthParams(start="2014-02-01", end="2014-02-01", cadence="1d", size=1024, seed=3)
    return synthesize_views(out, params, SEPARATIONS, progress=False)


@pytest.mark.slow
def test_regions_appear_where_sunpy_puts_them(views):
    """Every truth region well on each observer's disk lies, in that observer's frame, at the
    pixel sunpy computes from the observer's FITS header (<= 1 px at 1024^2); the region's field
    is there (for regions above 1e22 Mx: |B| > 300 G within half the polarity separation plus
    the plage radius of that pixel: its polarities straddle it)."""
    import astropy.units as u
    import sunpy.map
    from astropy.coordinates import SkyCoord
    from sunpy.coordinates import HeliographicCarrington

    from euv2mag.data.synthetic.fits import observer_header

    seen_ids = []
    for label in SEPARATIONS:
        store = FrameStore(views[label]["store"])
        geometry = store.geometry(0)
        hgln = observer_positions(parse_observer(label), [mjd(geometry.time)])[0][0]
        mag = store.read("mag", 0)
        smap = sunpy.map.Map(np.nan_to_num(mag), observer_header(geometry, hgln))
        regions = store.table("frame_regions")
        regions = regions[(regions["mu"] > 0.3) & (regions["flux_mx"] > 1e21)]
        assert len(regions) >= 3, label
        coords = SkyCoord(regions["carrington_lon_deg"].to_numpy() * u.deg, regions["lat_deg"].to_numpy() * u.deg,
                          frame=HeliographicCarrington(observer=smap.observer_coordinate, obstime=smap.date))
        px, py = smap.world_to_pixel(coords)
        x, y, _ = geometry.carrington_to_pixel(regions["lat_deg"].to_numpy(), regions["carrington_lon_deg"].to_numpy())
        distance = np.hypot(np.asarray(px.value) - x, np.asarray(py.value) - y)
        assert distance.max() <= 1.0, (label, distance.max())
        strong = (regions["flux_mx"] > 1e22).to_numpy()
        assert strong.any(), label
        reach = ((regions["separation_mm"] / 2 + regions["plage_radius_mm"]) / geometry.mm_per_px).to_numpy()
        yy, xx = np.indices(mag.shape)
        for xi, yi, r in zip(np.asarray(px.value)[strong], np.asarray(py.value)[strong], reach[strong]):
            near = np.hypot(xx - xi, yy - yi) <= r  # the region's own field is there
            assert np.nanmax(np.abs(mag[near])) > 300.0, label
        seen_ids.append(set(regions["region_id"]))
    # the views see different parts of the same Sun: the farside view shares no region with Earth's
    assert not seen_ids[0] & seen_ids[3]
    assert seen_ids[0] & seen_ids[1]


@pytest.mark.slow
def test_views_are_one_sun(views):
    earth = FrameStore(views["earth"]["store"])
    far = FrameStore(views["hgln=180"]["store"])
    assert earth.attrs["provenance"]["observer"]["kind"] == "earth"
    assert far.attrs["params"]["observer"] == "hgln=180"
    # the same regions (same seed) in both truth tables, at the same Carrington positions
    assert earth.table("regions").equals(far.table("regions"))
    ge, gf = earth.geometry(0), far.geometry(0)
    assert (gf.l0_deg - ge.l0_deg) % 360.0 == pytest.approx(180.0, abs=0.05)
    assert gf.b0_deg == pytest.approx(-ge.b0_deg, abs=0.3)  # the opposite side of the ecliptic tilt


def test_farside_fits_files_prepare_back_into_the_observer_store(tmp_path):
    """synth --fits-dir from STEREO-A and a 150 deg observer writes EUVI-like and EUI/FSI-like
    304 A files; prepare --euv reads them back into that observer's frames and geometry."""
    from euv2mag.data.prepare import prepare_store

    params = SynthParams(start="2012-05-01", end="2012-05-02", cadence="1d", size=64, seed=1)
    views = synthesize_views(tmp_path / "sun.zarr", params, ["stereo-a", "hgln=150"], fits_dir=tmp_path / "fits")
    names = sorted(p.name for p in (tmp_path / "fits").iterdir())
    assert names == ["eui_fsi304_20120501_000000.fits", "eui_fsi304_20120502_000000.fits",
                     "euvi_304_A_20120501_000000.fits", "euvi_304_A_20120502_000000.fits"]
    for label, pattern in (("stereo-a", "euvi_*"), ("hgln=150", "eui_*")):
        truth = FrameStore(views[label]["store"])
        files = sorted(str(p) for p in (tmp_path / "fits").glob(pattern))
        out = tmp_path / f"prep_{pattern[:3]}.zarr"
        result = prepare_store(out, euv_paths=files, size=64, progress=False)
        assert result["frames"] == 2 and result["skipped"] == 0
        prepared = FrameStore(out)
        for i in range(2):
            a, b = truth.read("euv", i), prepared.read("euv", i)
            assert np.array_equal(np.isnan(a), np.isnan(b))
            np.testing.assert_allclose(b, a, rtol=2e-5, equal_nan=True)  # float32 rebinning round-off
            gt, gp = truth.geometry(i), prepared.geometry(i)
            assert (gp.b0_deg, gp.l0_deg) == pytest.approx((gt.b0_deg, gt.l0_deg), abs=1e-9)
            assert gp.dsun_m == pytest.approx(gt.dsun_m) and gp.cdelt_arcsec == pytest.approx(gt.cdelt_arcsec)
        assert [f["euv_instrument"] for f in prepared.attrs["provenance"]["frames"]] == ["euvi" if label == "stereo-a" else "eui"] * 2
