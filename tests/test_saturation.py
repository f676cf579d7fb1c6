"""Saturation study: exact clip fluxes on constructed maps, summary statistics, real HMI numbers."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from euv2mag.audit.fulldisk import disk_pixels
from euv2mag.audit.saturation import SaturationParams, amf_statistics, clip_fluxes, summarize_saturation
from euv2mag.errors import UserError
from euv2mag.geometry import DiskGeometry, default_rsun_px


def geometry(size=256):
    return DiskGeometry((size, size), default_rsun_px(size), 1.9 * 1024 / size, 2.0, 40.0, time="2016-07-07T01:00:00")


def two_patch_map(geom, b1=300.0, b2=-50.0):
    """+b1 G in a disk-centre patch, b2 G in a ring around it; NaN off the disk."""
    area, disk = disk_pixels(geom, 0.95)
    rho = geom.rho
    p1 = rho < 0.25
    p2 = (rho >= 0.5) & (rho < 0.7)
    mag = np.zeros(geom.shape)
    mag[p1] = b1
    mag[p2] = b2
    mag[~geom.disk_mask(1.0)] = np.nan
    return mag, area[p1].sum(), area[p2].sum()


def test_clip_fluxes_of_constructed_map_are_exact():
    geom = geometry()
    mag, a1, a2 = two_patch_map(geom)
    assert 2 * a1 < a2 < 6 * a1  # so that the +-100 G clip flips the sign of the NMF
    rows = {r["limit_g"]: r for r in clip_fluxes(mag, geom, SaturationParams((100.0, 3000.0)))}
    r = rows[100.0]
    assert r["tumf_orig_mx"] == pytest.approx(300 * a1 + 50 * a2, rel=1e-12)
    assert r["tumf_clip_mx"] == pytest.approx(100 * a1 + 50 * a2, rel=1e-12)
    assert r["nmf_orig_mx"] == pytest.approx(300 * a1 - 50 * a2, rel=1e-12)
    assert r["nmf_clip_mx"] == pytest.approx(100 * a1 - 50 * a2, rel=1e-12)
    assert r["tumf_kept"] == pytest.approx((100 * a1 + 50 * a2) / (300 * a1 + 50 * a2), rel=1e-12)
    assert r["nmf_sign_flip"] is True
    assert r["frac_above_limit"] == pytest.approx(np.count_nonzero(geom.rho < 0.25) / r["n_disk"])
    assert r["max_abs_g"] == 300.0
    high = rows[3000.0]
    assert high["tumf_clip_mx"] == high["tumf_orig_mx"] and high["nmf_sign_flip"] is False


def test_limit_above_max_keeps_slope_one_exactly():
    geom = geometry()
    rng = np.random.default_rng(1)
    rows = []
    for i in range(5):
        mag = rng.normal(0, 40 * (i + 1), geom.shape)
        mag[~geom.disk_mask(1.0)] = np.nan
        for row in clip_fluxes(mag, geom, SaturationParams((float(np.nanmax(np.abs(mag))) + 1, 60.0))):
            rows.append({**row, "limit_g": "high" if row["limit_g"] > 60 else 60.0})
    table = pd.DataFrame(rows)
    high = table[table.limit_g == "high"].assign(limit_g=1e9)
    s = summarize_saturation(high)["1e+09"]
    assert s["tumf"]["slope"] == 1.0 and s["nmf"]["slope"] == 1.0
    assert s["tumf"]["r2"] == 1.0 and s["sign_flip_fraction"] == 0.0 and s["n_maps"] == 5
    low = summarize_saturation(table[table.limit_g == 60.0].assign(limit_g=60.0))["60"]
    assert low["tumf"]["slope"] < 1.0


def test_summary_statistics_follow_the_documented_definitions():
    table = pd.DataFrame(
        {
            "limit_g": [100.0] * 3,
            "tumf_orig_mx": [1.0, 2.0, 3.0],
            "tumf_clip_mx": [0.5, 1.0, 1.5],
            "nmf_orig_mx": [1.0, -1.0, 2.0],
            "nmf_clip_mx": [-0.5, -1.0, 1.0],
            "tumf_kept": [0.5, 0.5, 0.5],
            "nmf_kept": [-0.5, 1.0, 0.5],
            "nmf_sign_flip": [True, False, False],
        }
    )
    s = summarize_saturation(table)["100"]
    assert s["tumf"]["slope"] == pytest.approx(0.5)
    assert s["tumf"]["r2"] == pytest.approx(1 - 3.5 / 2.0)  # r2_score(y_true=orig, y_pred=clip)
    assert s["tumf"]["r2_fit"] == pytest.approx(1.0)
    assert s["nmf"]["slope"] == pytest.approx((-0.5 + 1.0 + 2.0) / 6.0)
    assert s["sign_flip_fraction"] == pytest.approx(1 / 3)
    assert s["tumf"]["kept_mean"] == pytest.approx(0.5)


def test_amf_statistics():
    st = amf_statistics([50.0, 150.0, 250.0, 350.0], [100, 625])
    assert st["n_regions"] == 4 and st["mean_g"] == 200.0
    assert st["std_g"] == pytest.approx(np.std([50, 150, 250, 350], ddof=1))
    assert st["share_below"] == {"100": 0.25, "625": 1.0}
    empty = amf_statistics([], [100])
    assert empty["n_regions"] == 0 and math.isnan(empty["mean_g"]) and math.isnan(empty["share_below"]["100"])


def test_bad_inputs():
    geom = geometry()
    with pytest.raises(UserError, match="limits"):
        SaturationParams((100.0, -5.0))
    with pytest.raises(UserError, match="no finite pixel"):
        clip_fluxes(np.full(geom.shape, np.nan), geom)
    with pytest.raises(UserError, match="shape"):
        clip_fluxes(np.zeros((10, 10)), geom)


def _write_store(path, maps, geom):
    from euv2mag.data.store import StoreWriter

    w = StoreWriter.open(path, n_frames=len(maps), shape=geom.shape, arrays=("mag",), kind="prepared", params={"t": 1})
    for i, m in enumerate(maps):
        w.write_frame(i, geom, mag=m)
    w.finish()
    return path


def test_saturation_cli_on_a_store(tmp_path, capsys):
    from euv2mag.cli import main

    geom = geometry()
    mag, a1, a2 = two_patch_map(geom)
    store = _write_store(tmp_path / "s.zarr", [mag, 2 * mag, -mag], geom)
    out = tmp_path / "out"
    rc = main(["saturation", str(store), "--limits", "100", "3000", "--out", str(out), "--indices", "0", "2", "--no-regions"])
    assert rc == 0, capsys.readouterr().err
    table = pd.read_csv(out / "saturation.csv")
    assert list(table.columns[:10]) == ["map", "source", "frame", "time", "limit_g", "tumf_orig_mx", "tumf_clip_mx",
                                        "nmf_orig_mx", "nmf_clip_mx", "tumf_kept"]
    assert len(table) == 4 and set(table["frame"]) == {0, 2}
    summary = json.loads((out / "saturation.json").read_text())
    s100 = summary["limits"]["100"]
    expect = (100 * a1 + 50 * a2) / (300 * a1 + 50 * a2)  # both maps have the same ratio -> slope equals it
    assert s100["tumf"]["slope"] == pytest.approx(expect, rel=1e-9)
    assert s100["sign_flip_fraction"] == 1.0 and s100["n_maps"] == 2
    assert summary["limits"]["3000"]["tumf"]["slope"] == 1.0
    assert "threshold" in summary["definitions"] and "disk_cut" in summary["definitions"]
    # bad input: one line, exit 2
    rc = main(["saturation", str(tmp_path / "nope.fits"), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "nope.fits" in err[0]
    rc = main(["saturation", str(store), "--indices", "7", "--out", str(out)])
    assert rc == 2


@pytest.mark.realdata
@pytest.mark.slow
def test_real_hmi_saturation_reproduces_the_physics_note(shared_data, tmp_path, capsys):
    """TUMF kept by a +-100 G clip at 1024^2, r < 0.95 R, |B| > 10 G: 0.91 (2016-07-07), 0.98 (2019-06-21)."""
    from euv2mag.cli import main

    files = [shared_data / "hmi" / f"hmi_m_720s_{d}_TAI.fits" for d in ("20160707_010000", "20190621_060000")]
    out = tmp_path / "sat"
    assert main(["saturation", *map(str, files), "--limits", "100", "625", "3000", "--out", str(out)]) == 0
    table = pd.read_csv(out / "saturation.csv")
    kept = table[table.limit_g == 100].set_index("map")["tumf_kept"]
    assert kept["hmi_m_720s_20160707_010000_TAI"] == pytest.approx(0.91, abs=0.02)
    assert kept["hmi_m_720s_20190621_060000_TAI"] == pytest.approx(0.98, abs=0.02)
    tumf = table[table.limit_g == 100].set_index("map")["tumf_orig_mx"]
    assert 4e22 < tumf["hmi_m_720s_20160707_010000_TAI"] < 8e22 and 2e22 < tumf["hmi_m_720s_20190621_060000_TAI"] < 5e22
    summary = json.loads((out / "saturation.json").read_text())
    assert summary["limits"]["3000"]["tumf"]["slope"] == pytest.approx(1.0, abs=1e-9)
    assert summary["limits"]["100"]["sign_flip_fraction"] == 0.0
    assert summary["amf"]["n_regions"] >= 1


# ------------------------------------------------------------------------- the study from Python
def _study_store(tmp_path):
    """Four 256-px maps: the two-patch map at 1x, 2x, -1x, and noise of 80 G rms."""
    geom = geometry()
    mag, _, _ = two_patch_map(geom)
    noise = np.random.default_rng(3).normal(0, 80, geom.shape)
    noise[~geom.disk_mask(1.0)] = np.nan
    return _write_store(tmp_path / "s.zarr", [mag, 2 * mag, -mag, noise], geom)


def test_saturation_study_from_python_never_gains_flux(tmp_path):
    """A +-L clip can only lower |B|: no map keeps more than all of its TUMF (limits above the threshold)."""
    from euv2mag.audit.saturation import REGIONS_AMF_CSV, SATURATION_CSV, SaturationSummary, saturation_study

    store = _study_store(tmp_path)
    out = tmp_path / "out"
    result = saturation_study([store], SaturationParams((50.0, 100.0, 625.0)), out=out)
    table = result.table
    assert len(table) == 4 * 3 and (table["tumf_kept"] <= 1.0).all()
    assert (table["tumf_clip_mx"] <= table["tumf_orig_mx"]).all()
    # the 300 G patch loses flux under +-100 G and keeps all of it under +-625 G
    two_patch = table[table["frame"] == 0].set_index("limit_g")["tumf_kept"]
    assert two_patch[100.0] < 1.0 and two_patch[625.0] == 1.0
    # the tighter limit keeps less, map by map
    by_limit = table.pivot(index="map", columns="limit_g", values="tumf_kept")
    assert (by_limit[50.0] <= by_limit[100.0]).all() and (by_limit[100.0] <= by_limit[625.0]).all()
    # the files are the result, read back through their definitions with their types
    back = SATURATION_CSV.read(out)
    pd.testing.assert_frame_equal(back, table)
    assert str(back["frame"].dtype) == "int64" and back["nmf_sign_flip"].dtype == bool
    assert str(back["limit_g"].dtype) == "float64" and back["map"].map(type).eq(str).all()
    amf = REGIONS_AMF_CSV.read(out)
    assert len(amf) == result.summary.amf["n_regions"] > 0 and str(amf["label"].dtype) == "int64"
    summary = SaturationSummary.read(out)
    assert summary.to_dict() == json.loads((out / "saturation.json").read_text())
    assert summary.n_maps == 4 and summary.limits["100"]["tumf"]["slope"] == result.summary.limits["100"]["tumf"]["slope"]
    assert not (out / ".cache").exists()


def test_saturation_study_resumes_after_an_interruption(tmp_path, monkeypatch):
    import euv2mag.audit.saturation as sat

    store = _study_store(tmp_path)
    params = SaturationParams((100.0,))
    fresh = sat.saturation_study([store], params, regions=False)
    calls = []
    real = sat.saturation_of_map

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(sat, "saturation_of_map", failing)
    with pytest.raises(KeyboardInterrupt):
        sat.saturation_study([store], params, regions=False, out=tmp_path / "out")
    assert not (tmp_path / "out" / "saturation.csv").exists()
    calls.clear()
    resumed = sat.saturation_study([store], params, regions=False, out=tmp_path / "out")
    assert len(calls) == 2  # the two maps finished before the interruption came from the cache
    pd.testing.assert_frame_equal(resumed.table, fresh.table)
    assert resumed.regions_amf is None and not (tmp_path / "out" / "regions_amf.csv").exists()


def test_interrupted_study_of_a_replaced_store_is_not_answered_from_the_cache(tmp_path, monkeypatch):
    """Interrupted after two maps, the store replaced by other maps, re-run: the new maps' numbers.

    On a cache keyed by path and frame the re-run took maps 0-1 from the old store's results.
    """
    import shutil

    import euv2mag.audit.saturation as sat

    geom = geometry()
    mag, _, _ = two_patch_map(geom)
    store = _write_store(tmp_path / "s.zarr", [mag, 2 * mag, -mag], geom)
    params = SaturationParams((100.0,))
    real, calls = sat.saturation_of_map, []

    def interrupted(*args, **kwargs):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(sat, "saturation_of_map", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sat.saturation_study([store], params, regions=False, out=tmp_path / "out")
    monkeypatch.setattr(sat, "saturation_of_map", real)
    shutil.rmtree(store)
    _write_store(store, [-3 * mag, 0.5 * mag, -mag], geom)
    resumed = sat.saturation_study([store], params, regions=False, out=tmp_path / "out")
    fresh = sat.saturation_study([store], params, regions=False)
    pd.testing.assert_frame_equal(resumed.table, fresh.table)


def test_saturation_files_lacking_a_column_are_one_line_errors(tmp_path):
    from euv2mag.audit.saturation import SATURATION_CSV, SaturationSummary, saturation_study

    saturation_study([_study_store(tmp_path)], SaturationParams((100.0,)), regions=False, indices=[0],
                     out=tmp_path / "out")
    path = tmp_path / "out" / "saturation.csv"
    pd.read_csv(path).drop(columns=["tumf_clip_mx"]).to_csv(path, index=False)
    with pytest.raises(UserError) as err:
        SATURATION_CSV.read(path)
    assert str(path) in str(err.value) and "tumf_clip_mx" in str(err.value) and "\n" not in str(err.value)
    summary = tmp_path / "out" / "saturation.json"
    obj = json.loads(summary.read_text())
    del obj["limits"]
    summary.write_text(json.dumps(obj))
    with pytest.raises(UserError, match="lacks key.*limits") as err:
        SaturationSummary.read(summary)
    assert str(summary) in str(err.value) and "\n" not in str(err.value)
