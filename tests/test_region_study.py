"""The region study (:mod:`euv2mag.audit.region_study`) and ``euv2mag regions``: files written, resume, patches, real maps."""
from __future__ import annotations

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
