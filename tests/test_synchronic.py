"""Synchronic Carrington maps from several views of the same synthetic Sun."""
from __future__ import annotations

import numpy as np
import pytest

from euv2mag.data.synchronic import car_grid, read_synchronic, store_sources, synchronic_map, write_synchronic
from euv2mag.data.store import FrameStore
from euv2mag.data.synthetic import SynthParams, synthesize_views
from euv2mag.errors import UserError

TIME = "2014-02-01T00:00:00"
THREE = ("earth", "hgln=120", "hgln=-120")
DENSE = ("earth", "hgln=60", "hgln=120", "hgln=180", "hgln=-120", "hgln=-60")  # 60 deg apart


@pytest.fixture(scope="module")
def views(tmp_path_factory):
    root = tmp_path_factory.mktemp("sync")
    params = SynthParams(start=TIME, end=TIME, cadence="1d", size=128, seed=3)
    stores = synthesize_views(root / "sun.zarr", params, sorted(set(THREE) | set(DENSE)), progress=False)
    return {label: v["store"] for label, v in stores.items()}


def sources(views, labels):
    return store_sources([views[label] for label in labels])


def test_three_views_reproduce_the_sun_seen_from_above(views):
    """Earth + two observers 120 deg away (mu >= 0.3) against six views 60 deg apart (each pixel
    from a view within 30 deg of overhead at the equator): the generator's radial field on the grid."""
    three = synchronic_map(sources(views, THREE), TIME, shape=(90, 180))
    dense = synchronic_map(sources(views, DENSE), TIME, shape=(90, 180))
    lat, _ = car_grid((90, 180))
    band = np.abs(lat) < 45  # three views 120 deg apart see every point there at mu >= 0.3
    assert np.isfinite(three.br_g[band]).all() and (three.source[band] >= 0).all()  # the whole Sun is covered
    a, b = three.br_g[band].ravel(), dense.br_g[band].ravel()
    assert np.corrcoef(a, b)[0, 1] > 0.9
    weight = np.cos(np.radians(lat))[band][:, None]
    flux3 = np.sum(np.abs(three.br_g[band]) * weight)
    flux12 = np.sum(np.abs(dense.br_g[band]) * weight)
    assert flux3 / flux12 == pytest.approx(1.0, abs=0.1)
    assert np.nanmin(dense.mu[band]) > 0.55


def test_regions_land_on_their_carrington_position(views):
    """Every truth region above 2e21 Mx's |B_r|-weighted centre on the map lies within 1.5 grid px (1.5 deg)
    of its truth latitude and Carrington longitude."""
    result = synchronic_map(sources(views, THREE), TIME, shape=(180, 360))
    lat, lon = car_grid((180, 360))
    regions = FrameStore(views["earth"]).table("regions")
    frame = FrameStore(views["earth"]).table("frame_regions")
    strong = frame[(frame["flux_mx"] > 2e21) & (frame["lat_deg"].abs() < 50)]
    far = FrameStore(views["hgln=120"]).table("frame_regions")
    strong = pd_concat([strong, far[(far["flux_mx"] > 2e21) & (far["lat_deg"].abs() < 50)]]).drop_duplicates("region_id")
    assert len(strong) >= 3 and len(regions) > 0
    lat2, lon2 = np.meshgrid(lat, lon, indexing="ij")
    for _, r in strong.iterrows():
        reach = np.degrees((r["separation_mm"] / 2 + r["plage_radius_mm"]) / 695.7)
        dlon = (lon2 - r["carrington_lon_deg"] + 180.0) % 360.0 - 180.0
        near = np.hypot(dlon * np.cos(np.radians(lat2)), lat2 - r["lat_deg"]) <= reach
        w = np.nan_to_num(np.abs(result.br_g)) * near
        assert np.sum(w * (lat2 - r["lat_deg"])) / w.sum() == pytest.approx(0.0, abs=1.5)
        assert np.sum(w * dlon) / w.sum() == pytest.approx(0.0, abs=1.5)


def pd_concat(frames):
    import pandas as pd

    return pd.concat(frames, ignore_index=True)


def test_fits_file_is_a_standard_car_map(views, tmp_path):
    import astropy.units as u
    import sunpy.map
    from astropy.coordinates import SkyCoord
    from sunpy.coordinates import HeliographicCarrington

    result = synchronic_map(sources(views, THREE), TIME, shape=(90, 180))
    path = write_synchronic(result, tmp_path / "sync.fits")
    from astropy.io import fits

    with fits.open(path) as hdul:
        smap = sunpy.map.Map(hdul[0].data, hdul[0].header)
    lat, lon = car_grid((90, 180))
    coord = SkyCoord(lon[[10, 100]] * u.deg, lat[[20, 70]] * u.deg,
                     frame=HeliographicCarrington(observer=smap.observer_coordinate, obstime=smap.date))
    x, y = smap.world_to_pixel(coord)
    np.testing.assert_allclose(x.value, [10, 100], atol=1e-6)
    np.testing.assert_allclose(y.value, [20, 70], atol=1e-6)
    back = read_synchronic(path)
    np.testing.assert_array_equal(back.source, result.source)
    np.testing.assert_array_equal(back.br_g, result.br_g)
    assert [s["name"] for s in back.sources] == [s["name"] for s in result.sources]
    assert sum(s["used_pixels"] for s in back.sources) == int((result.source >= 0).sum())


def test_age_and_stale_sources(views, tmp_path):
    """A view two days old is rotated to the synchronic time and labelled with its age; one older
    than max_age_days is left out with the reason."""
    params = SynthParams(start="2014-01-30", end="2014-01-30", cadence="1d", size=128, seed=3)
    old = synthesize_views(tmp_path / "old.zarr", params, ["hgln=120"], progress=False)["hgln=120"]["store"]
    earth = store_sources([views["earth"]])
    result = synchronic_map(earth + store_sources([old]), TIME, shape=(90, 180), max_age_days=3)
    from_old = result.source == 1
    assert from_old.any() and np.allclose(result.age_days[from_old], 2.0)
    assert np.allclose(result.age_days[result.source == 0], 0.0)
    stale = synchronic_map(earth + store_sources([old]), TIME, shape=(90, 180), max_age_days=1)
    assert [s["name"] for s in stale.skipped] == [f"{tmp_path.joinpath('old.zarr').name}:0"]
    assert "beyond max_age_days=1" in stale.skipped[0]["reason"]
    with pytest.raises(UserError, match="no source within max_age_days"):
        synchronic_map(store_sources([old]), TIME, max_age_days=1)
    with pytest.raises(UserError, match="n_lon = 2 n_lat"):
        synchronic_map(earth, TIME, shape=(90, 90))


def test_command_writes_the_map(views, tmp_path, capsys):
    from euv2mag.cli import main

    out = tmp_path / "cli.fits"
    assert main(["synchronic", views["earth"], f"{views['hgln=120']}:0", views["hgln=-120"], "--time", TIME,
                 "--out", str(out), "--resolution", "2"]) == 0
    assert "3 sources" in capsys.readouterr().out
    assert read_synchronic(out).br_g.shape == (90, 180)
    assert main(["synchronic", views["earth"], "--time", TIME, "--out", str(tmp_path / "x.fits"), "--resolution", "7"]) == 2
    assert "--resolution: must divide 180" in capsys.readouterr().err
    assert not (tmp_path / "x.fits").exists()
