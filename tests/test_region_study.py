"""The region study (:mod:`euv2mag.audit.region_study`) and ``euv2mag regions``: files written, resume, patches, real maps."""
from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

import armaps
from euv2mag.audit.measurement import REGION_COLUMNS


@pytest.fixture(scope="module")
def geom512():
    return armaps.geometry(512)


def test_cli_store_and_resume(tmp_path, geom512):
    from euv2mag.cli import main
    from euv2mag.data.store import FrameStore, StoreWriter

    bip = [dict(lat=15.0, lon=-30.0, leading=-1), dict(lat=-12.0, lon=20.0, sigma_mm=8.0, sep_mm=30.0)]
    store = tmp_path / "s.zarr"
    w = StoreWriter.open(store, n_frames=2, shape=geom512.shape, arrays=("mag",), kind="test", params={})
    w.write_frame(0, geom512, mag=armaps.disk_map(geom512, bip, noise_g=4))
    w.write_frame(1, geom512, mag=armaps.disk_map(geom512, bip[:1], noise_g=4, seed=2))
    w.finish()
    assert FrameStore(store).n_frames == 2
    out = tmp_path / "out"
    assert main(["regions", "--store", str(store), "--out", str(out)]) == 0
    t = pd_read(out / "regions.csv")
    assert list(t.groupby("frame").size()) == [2, 1]
    assert {"map", "source", "frame", "time", *REGION_COLUMNS} <= set(t.columns)
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == ["s.zarr_00000.png", "s.zarr_00001.png"]
    assert (out / "s.zarr_00000.png").read_bytes()[:4] == b"\x89PNG"
    # resume: cached maps are not recomputed (mtime unchanged), result identical
    before = (out / "s.zarr_00000.png").stat().st_mtime_ns
    assert main(["regions", "--store", str(store), "--out", str(out)]) == 0
    assert (out / "s.zarr_00000.png").stat().st_mtime_ns == before
    assert pd_read(out / "regions.csv").equals(t)
    # bad input: one line, exit 2
    assert main(["regions", "--store", str(store), "--indices", "5", "--out", str(out)]) == 2
    assert main(["regions", str(tmp_path / "missing.fits"), "--out", str(out)]) == 2
    assert main(["regions", "--out", str(out)]) == 2


def pd_read(path):
    import pandas as pd

    return pd.read_csv(path)


@pytest.mark.realdata
@pytest.mark.slow
def test_real_hmi_maps(shared_data, tmp_path):
    """2016-07-07: the two bipolar ARs (S08 E44 plage region, S17 W31); 2019-06-21: at most one."""
    from euv2mag.cli import main

    out = tmp_path / "regions"
    files = [shared_data / "hmi" / f"hmi_m_720s_{d}_TAI.fits" for d in ("20160707_010000", "20190621_060000")]
    assert main(["regions", *map(str, files), "--out", str(out)]) == 0
    t = pd_read(out / "regions.csv")
    active = t[t["map"] == "hmi_m_720s_20160707_010000_TAI"]
    quiet = t[t["map"] == "hmi_m_720s_20190621_060000_TAI"]
    assert len(quiet) <= 1
    assert len(active) == 2
    for lat, lon in ((-8.0, -44.2), (-16.6, 31.4)):
        d = np.hypot(active.lat_deg - lat, active.lon_deg - lon)
        assert d.min() < 1.5
    # both are bipolar, balanced and follow Hale's law for the south in cycle 24 (leading +)
    assert (active.leading_polarity == 1).all() and (active.lat_deg < 0).all()
    assert ((active.flux_pos_mx / -active.flux_neg_mx).between(1 / 3, 3)).all()
    assert active.tumf_mx.between(1e21, 1e23).all() and active.area_msh.between(100, 3000).all()
    # overlays written (looked at by eye: contours sit on the two bipolar regions only)
    for f in files:
        png = out / (f.name.split(".fits")[0] + ".png")
        assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.realdata
def test_cli_patch_mode(shared_data, tmp_path):
    from euv2mag.cli import main

    mag = shared_data / "hmi" / "hmi_sharp_cea_720s_harp4781_20141106_180000_TAI.magnetogram.fits"
    bitmap = str(mag).replace("magnetogram", "bitmap")
    assert main(["regions", "--patch", str(mag), "--bitmap", bitmap, "--out", str(tmp_path)]) == 0
    row = pd_read(tmp_path / "regions.csv").iloc[0]
    assert abs(row.r_value - 4.83) < 0.01 and row.header_r_value == pytest.approx(4.83)
    assert row.tumf_over_usflux == pytest.approx(0.57, abs=0.01)
    assert row.pil_count >= 1 and row.pil_length_mm > 10
    for col in ("r_value", "tumf_mx", "nmf_mx", "area_mm2", "pil_length_mm", "pil_count", "pil_mean_gradient_g_per_mm"):
        assert col in row.index
    # --bitmap needs exactly one patch
    assert main(["regions", "--patch", str(mag), str(mag), "--bitmap", bitmap, "--out", str(tmp_path)]) == 2


def test_library_study_without_and_with_output_folder(tmp_path, geom512):
    """detect_regions_in_maps: same table with or without files; writes only what is asked; counts per map."""
    import json

    from euv2mag.audit.detection import DetectionParams
    from euv2mag.audit.measurement import find_regions
    from euv2mag.audit.region_study import detect_regions_in_maps
    from euv2mag.data.maps import expand_map_inputs
    from euv2mag.data.store import StoreWriter
    from euv2mag.errors import UserError

    bip = [dict(lat=15.0, lon=-30.0, leading=-1), dict(lat=-12.0, lon=20.0, sigma_mm=8.0, sep_mm=30.0)]
    maps = [armaps.disk_map(geom512, bip, noise_g=4), np.zeros(geom512.shape, np.float32)]
    store = tmp_path / "s.zarr"
    w = StoreWriter.open(store, n_frames=2, shape=geom512.shape, arrays=("mag",), kind="test", params={})
    for i, mag in enumerate(maps):
        w.write_frame(i, geom512, mag=mag)
    w.finish()
    params = DetectionParams(min_mean_abs_g=80.0)
    alone = detect_regions_in_maps([store], params=params)
    assert alone.attrs["regions_per_map"] == {"s.zarr_00000": 2, "s.zarr_00001": 0}
    _, direct = find_regions(maps[0], geom512, params)
    np.testing.assert_allclose(alone[list(REGION_COLUMNS[1:-1])].to_numpy(float),
                               direct[list(REGION_COLUMNS[1:-1])].to_numpy(float), rtol=0, atol=0)
    assert list(alone["map"]) == ["s.zarr_00000"] * 2 and set(alone["frame"]) == {0}
    assert list(tmp_path.iterdir()) == [store]  # out=None writes nothing

    out = tmp_path / "out"
    items = expand_map_inputs([store], indices=[1, 0])
    table = detect_regions_in_maps(items, out, params=params, png=False)
    assert table.attrs["regions_per_map"] == {"s.zarr_00001": 0, "s.zarr_00000": 2}
    assert sorted(p.name for p in out.iterdir()) == [".cache", "regions.csv", "regions.json"]
    cached = sorted(p.name for p in (out / ".cache").iterdir())
    assert [re.fullmatch(r"(s\.zarr_0000[01])-[0-9a-f]{24}\.csv", n).group(1) for n in cached] == [
        "s.zarr_00000", "s.zarr_00001"]
    meta = json.loads((out / "regions.json").read_text())
    assert meta["params"]["min_mean_abs_g"] == 80.0 and meta["regions_per_map"] == table.attrs["regions_per_map"]
    written = pd_read(out / "regions.csv")
    assert written["tumf_mx"].tolist() == pytest.approx(direct["tumf_mx"].tolist(), rel=1e-12)
    with pytest.raises(UserError, match="indices apply to paths"):
        detect_regions_in_maps(items, indices=[0])

    # the cache is keyed by content: the store replaced by one whose frame 0 is empty is detected
    # again, not answered from out/.cache (on a cache keyed by the map's name it said 2 regions)
    shutil.rmtree(store)
    w = StoreWriter.open(store, n_frames=2, shape=geom512.shape, arrays=("mag",), kind="test", params={})
    for i in range(2):
        w.write_frame(i, geom512, mag=maps[1])
    w.finish()
    again = detect_regions_in_maps(expand_map_inputs([store], indices=[1, 0]), out, params=params, png=False)
    assert again.attrs["regions_per_map"] == {"s.zarr_00001": 0, "s.zarr_00000": 0}


def test_overlay_figure_has_labels_contours_and_limb(geom512):
    from euv2mag.audit.measurement import find_regions
    from euv2mag.report.figures import fig_detected_regions, figure_png

    mag = armaps.disk_map(geom512, [dict(lat=15.0, lon=-30.0, leading=-1)], noise_g=4)
    labels, table = find_regions(mag, geom512)
    anchors = [(r.label, *geom512.hgs_to_pixel(r.lat_deg, r.lon_deg)[:2]) for r in table.itertuples()]
    fig = fig_detected_regions(mag, labels, anchors + [(9, np.nan, np.nan)], limb_center_px=geom512.center_px,
                               limb_radius_px=0.95 * geom512.rsun_px, title="map  (1 regions)")
    (ax,) = fig.axes
    assert ax.get_title() == "map  (1 regions)" and [t.get_text() for t in ax.texts] == ["1"]
    x, y = ax.lines[0].get_data()
    assert np.hypot(x - geom512.center_px[0], y - geom512.center_px[1]) == pytest.approx(0.95 * geom512.rsun_px)
    assert ax.collections  # the region contour
    png = figure_png(fig, dpi=100)
    assert png[:4] == b"\x89PNG"
