"""The ``persistence-D`` baseline (euv2mag.audit.persistence) on a hand-made truth store with known physics."""
from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from euv2mag.audit.baselines import write_baselines
from euv2mag.audit.persistence import history_frames, history_table_file, rotate_map
from euv2mag.cli import main
from euv2mag.data.store import FrameStore, StoreWriter
from euv2mag.errors import UserError
from euv2mag.geometry import DiskGeometry, default_rsun_px

N = 128
T0 = np.datetime64("2014-03-01T00:00:00", "s")
LAT_A, LON_A = 15.0, -40.0  # region A at frame 0 (Stonyhurst, deg)
LAT_B, LON_B = -10.0, 10.0  # region B, emerged between frames 0 and 3
SIGMA_PX = 2.0
PEAK_G = 800.0


def _shift_deg(days: float, lat: float) -> float:
    """Stonyhurst longitude advance of a surface feature in ``days`` (sunpy's Howard law, synodic)."""
    import astropy.units as u
    from sunpy.sun.models import differential_rotation

    return float(differential_rotation(days * u.day, lat * u.deg, model="howard", frame_time="synodic").to_value(u.deg))


def _geometry(days: float) -> DiskGeometry:
    time = str(T0 + np.timedelta64(int(round(days * 86400)), "s"))
    rsun = default_rsun_px(N)
    return DiskGeometry((N, N), rsun, 960.0 / rsun, 3.0, (200.0 - 13.2 * days) % 360, time=time)


def _blob(g: DiskGeometry, lat: float, lon: float, sign: float) -> np.ndarray:
    """Radial field (G) of a Gaussian blob centred on the projected position of (lat, lon)."""
    x, y, _ = g.hgs_to_pixel(lat, lon)
    yy, xx = np.mgrid[:N, :N]
    return sign * PEAK_G * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * SIGMA_PX**2))


def _frame(days: float, with_b: bool) -> tuple[np.ndarray, DiskGeometry]:
    g = _geometry(days)
    lon = LON_A + _shift_deg(days, LAT_A)
    br = _blob(g, LAT_A, lon, 1.0) + _blob(g, LAT_A, lon - 14.0, -1.0)
    if with_b:
        br += _blob(g, LAT_B, LON_B, -1.0) + _blob(g, LAT_B, LON_B - 14.0, 1.0)
    mag = br * g.mu  # LOS field of a radial field
    mag[g.rho > 1.0] = np.nan
    return mag.astype(np.float32), g


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Four daily 128-px frames of a plain (non-synthetic) truth: region A rotating, region B new in frame 3."""
    path = tmp_path_factory.mktemp("persistence") / "t.zarr"
    with StoreWriter.open(path, n_frames=4, shape=(N, N), arrays=["mag"], kind="prepared", params={}) as w:
        for k in range(4):
            mag, g = _frame(float(k), with_b=k == 3)
            w.write_frame(k, g, mag=mag)
        w.finish()
    return path


def _radial_flux(mag, g, mask):
    """sum B_r A over ``mask`` (G Mm^2), B_r = B_LOS / mu, A = A_proj / mu."""
    m = mask & np.isfinite(mag) & np.isfinite(g.mu)
    return float(np.sum(mag[m] / g.mu[m] ** 2) * g.projected_pixel_area_mm2)


def test_region_moves_as_differential_rotation_predicts_and_keeps_its_flux(store):
    truth = FrameStore(store)
    hist, g0 = truth.read("mag", 0), truth.geometry(0)
    g3 = truth.geometry(3)
    pred, covered = rotate_map(hist, g0, g3)
    lon = LON_A + _shift_deg(3.0, LAT_A)  # where sunpy's differential rotation puts region A at frame 3
    yy, xx = np.mgrid[:N, :N]
    for dlon, sign in ((0.0, 1.0), (-14.0, -1.0)):
        x, y, _ = g3.hgs_to_pixel(LAT_A, lon + dlon)
        near = np.hypot(xx - x, yy - y) < 5 * SIGMA_PX
        w = np.where(near & (sign * pred > 0), np.abs(pred), 0.0)
        cx, cy = np.sum(w * xx) / np.sum(w), np.sum(w * yy) / np.sum(w)
        assert math.hypot(cx - x, cy - y) < 1.0  # px
        x0, y0, _ = g0.hgs_to_pixel(LAT_A, LON_A + dlon)
        before = _radial_flux(hist, g0, (np.hypot(xx - x0, yy - y0) < 5 * SIGMA_PX) & (sign * hist > 0))
        after = _radial_flux(pred, g3, near & (sign * pred > 0))
        assert after == pytest.approx(before, rel=0.02)  # radial flux of each polarity conserved
    assert math.hypot(x - x0, y - y0) > 20  # it did move (3 days, ~40 deg)
    # region B emerged after frame 0: absent
    xb, yb, _ = g3.hgs_to_pixel(LAT_B, LON_B - 7.0)
    in_b = np.hypot(xx - xb, yy - yb) < 14
    assert np.nanmax(np.abs(truth.read("mag", 3)[in_b])) > 500 and np.max(np.abs(pred[in_b])) < 1.0
    # the band rotated in over the east limb has no history: 0 G, and the coverage says so
    disk = g3.rho <= 1.0
    east = disk & (g3.stonyhurst_lon_deg < -60)
    assert east.any() and not covered[east].any() and np.all(pred[east] == 0.0)
    assert np.all(np.isnan(pred[~disk])) and np.all(np.isfinite(pred[disk]))


def test_persistence_0_is_the_truth(store):
    truth = FrameStore(store)
    mag, g = truth.read("mag", 3), truth.geometry(3)
    pred, covered = rotate_map(mag, g, g)
    far = g.mu >= 0.2
    assert np.nanmax(np.abs(pred[far] - mag[far])) < 0.5  # G, interpolation tolerance
    assert np.all(covered == (far & (g.rho <= 1.0)))


@pytest.mark.slow
def test_store_lists_frames_without_history_and_never_uses_another_age(store, tmp_path):
    paths = write_baselines(store, tmp_path / "b", kinds=["persistence-3", "persistence-0", "zero"], indices="all",
                            progress=False)
    p3 = FrameStore(paths[0])
    assert p3.kind == "prediction" and p3.n_frames == 4 and p3.attrs["n_without_history"] == 3
    table = history_table_file("persistence-3").read(tmp_path / "b" / "persistence-3.history.csv")
    stored = p3.table("history")
    assert list(table["history_index"]) == [-1, -1, -1, 0] == list(stored["history_index"])
    assert table["age_days"][3] == pytest.approx(3.0) and np.isnan(table["age_days"][:3]).all()
    assert all("no truth frame within 12 h of 3 d before" in r for r in table["reason"][:3])
    assert 0.6 < table["covered_fraction"][3] < 0.9 and (table["covered_fraction"][:3] == 0).all()
    g = p3.geometry(1)
    assert np.nanmax(np.abs(p3.read("pred", 1))) == 0.0 and np.isnan(p3.read("pred", 1)[~(g.rho <= 1.0)]).all()
    p0 = FrameStore(paths[1])
    assert list(p0.table("history")["age_days"]) == [0.0] * 4
    # the audit reads them beside another prediction
    from euv2mag.audit import AuditParams, audit_stores

    result = audit_stores(store, {p.name[:-5]: p for p in paths}, params=AuditParams(min_pairs=2), n_boot=0)
    by = result.fulldisk.set_index(["pred", "frame"])
    assert by.loc[("persistence-0", 3), "cc"] == pytest.approx(1.0, abs=1e-6)
    assert by.loc[("persistence-3", 3), "tumf_ratio"] < by.loc[("persistence-0", 3), "tumf_ratio"]


def test_history_frame_is_nearest_within_the_tolerance():
    times = ["2014-01-01T00:00:00", "2014-01-02T00:00:00", "2014-01-03T00:00:00", "2014-01-04T08:00:00"]
    idx, age = history_frames(times, [3], 3.0, 0.5)  # wants 01-01T08: frame 0 is 8 h off
    assert idx.tolist() == [0] and age[0] == pytest.approx(3 + 1 / 3)
    idx, age = history_frames(times, [3], 3.0, 0.25)  # 8 h > 6 h: no history, no other age
    assert idx.tolist() == [-1] and np.isnan(age[0])


def test_bad_persistence_options_are_one_line_before_writing(store, tmp_path, capsys):
    out = tmp_path / "o"
    for argv, flag in ((["--kinds", "zero", "persistence-x"], "'persistence-x'"),
                       (["--kinds", "persistence--2"], "'persistence--2'"),
                       (["--kinds", "zero", "persistence-1", "--mu-min", "1.5"], "--mu-min"),
                       (["--kinds", "zero", "persistence-1", "--history-tolerance-days", "-1"],
                        "--history-tolerance-days")):
        status = main(["baselines", str(store), "--indices", "all", "--out", str(out), *argv])
        err = capsys.readouterr().err
        assert status == 2 and flag in err and err.count("\n") == 1, err
        assert not out.exists() or not any(out.iterdir())
    with pytest.raises(UserError, match="earlier truth frame"):
        from euv2mag.audit.baselines import baseline_map

        baseline_map("persistence-7", np.zeros((N, N)), _geometry(0.0))


@pytest.mark.slow
def test_baselines_command_does_not_import_torch(store, tmp_path):
    code = ("import sys; from euv2mag.cli import main; "
            f"status = main(['baselines', {str(store)!r}, '--indices', '2,3', '--out', {str(tmp_path / 'b')!r}, "
            "'--kinds', 'zero', 'persistence-1']); print(status, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[-2:] == ["0", "False"]
    assert FrameStore(tmp_path / "b" / "persistence-1.zarr").n_frames == 2
