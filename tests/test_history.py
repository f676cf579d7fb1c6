"""Field history as model input (euv2mag.data.history): the history-input store, its channels, training and prediction."""
from __future__ import annotations

import math

import numpy as np
import pytest

from euv2mag.data.history import (AGE_SCALE_DAYS, HISTORY, HistoryParams, auto_history_days, history_channels,
                                  write_history_store)
from euv2mag.data.store import FrameStore, StoreWriter
from euv2mag.errors import UserError
from euv2mag.geometry import DiskGeometry, default_rsun_px
from euv2mag.scaling import MagScaling

N = 64
T0 = np.datetime64("2014-03-01T00:00:00", "s")
LAT_A, LON_A = 15.0, -30.0  # region A at day 0 (Stonyhurst, deg): old, present in every frame
LAT_B, LON_B = -10.0, 20.0  # region B: emerges at day 2.5 and stays at this Stonyhurst position
PEAK_G, SIGMA_PX = 800.0, 1.5
N_DAYS = 5


def _shift_deg(days: float, lat: float) -> float:
    import astropy.units as u
    from sunpy.sun.models import differential_rotation

    return float(differential_rotation(days * u.day, lat * u.deg, model="howard", frame_time="synodic").to_value(u.deg))


def _geometry(days: float) -> DiskGeometry:
    rsun = default_rsun_px(N)
    time = str(T0 + np.timedelta64(int(round(days * 86400)), "s"))
    return DiskGeometry((N, N), rsun, 960.0 / rsun, 3.0, (200.0 - 13.2 * days) % 360, time=time)


def _blob(g, lat, lon, sign):
    x, y, _ = g.hgs_to_pixel(lat, lon)
    yy, xx = np.mgrid[:N, :N]
    return sign * PEAK_G * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * SIGMA_PX**2))


def _frame(days: float):
    g = _geometry(days)
    lon = LON_A + _shift_deg(days, LAT_A)
    br = _blob(g, LAT_A, lon, 1.0) + _blob(g, LAT_A, lon - 10.0, -1.0)
    if days >= 2.5:
        br += _blob(g, LAT_B, LON_B, -1.0) + _blob(g, LAT_B, LON_B - 10.0, 1.0)
    mag = br * g.mu
    mag[g.rho > 1.0] = np.nan
    euv = np.where(g.rho <= 1.0, 1000.0 + 8.0 * np.clip(np.nan_to_num(mag), -100, 100), np.nan)
    return mag.astype(np.float32), euv.astype(np.float32), g


@pytest.fixture(scope="module")
def earth(tmp_path_factory):
    """Daily 64-px Earth-view frames (euv, mag): region A rotating, region B new from day 3."""
    path = tmp_path_factory.mktemp("history") / "earth.zarr"
    with StoreWriter.open(path, n_frames=N_DAYS, shape=(N, N), arrays=["euv", "mag"], kind="prepared",
                          params={"test": "history"}) as w:
        for k in range(N_DAYS):
            mag, euv, g = _frame(float(k))
            w.write_frame(k, g, euv=euv, mag=mag)
        w.finish()
    return path


def test_history_of_age_zero_is_the_truth_on_the_covered_disk(earth, tmp_path):
    out = write_history_store(earth, earth, tmp_path / "h0.zarr", days=0.0, indices=[0, 4], progress=False)
    h, truth = FrameStore(out), FrameStore(earth)
    table = h.table("history")
    assert list(table["history_index"]) == [0, 4] and np.allclose(table["age_days"], 0.0)
    for k, src in enumerate([0, 4]):
        g = truth.geometry(src)
        cover = h.read("hist_cover", k) > 0.5
        assert np.array_equal(cover, (g.mu >= 0.2) & (g.rho <= 1.0))  # everything seen at mu >= mu_min
        # the Hann kernel returns an unmoved image exactly (float32 rounding of 800 G peaks)
        assert np.max(np.abs(h.read("hist", k)[cover] - truth.read("mag", src)[cover])) < 0.05
        assert np.all(h.read("hist", k)[(g.rho <= 1.0) & ~cover] == 0.0)
        assert np.array_equal(h.read("euv", k), truth.read("euv", src), equal_nan=True)
    assert table["covered_fraction"].iloc[0] == pytest.approx(1 - 0.2**2, abs=0.03)  # mu >= 0.2: rho <= 0.98


def test_a_region_that_emerged_after_the_history_frame_is_absent_and_an_older_one_is_in_place(earth, tmp_path):
    out = write_history_store(earth, earth, tmp_path / "h2.zarr", days=2.0, indices=[3, 4], progress=False)
    h = FrameStore(out)
    row = h.table("history").iloc[0]
    assert (row["source_index"], row["history_index"], row["age_days"]) == (3, 1, 2.0)
    g3 = _geometry(3.0)
    hist = h.read("hist", 0)
    # region B (emerged at day 2.5, after the history frame at day 1): quiet (no field there at all)
    bx, by, _ = g3.hgs_to_pixel(LAT_B, LON_B)
    near_b = np.hypot(*np.mgrid[:N, :N][::-1] - np.array([bx, by])[:, None, None]) < 3 * SIGMA_PX
    assert np.max(np.abs(hist[near_b])) < 1.0
    assert np.max(np.abs(FrameStore(earth).read("mag", 3)[near_b])) > 300  # ... while the truth has it
    # region A: where differential rotation has carried it, with its LOS peak at the new mu
    ax, ay, mu_a = g3.hgs_to_pixel(LAT_A, LON_A + _shift_deg(3.0, LAT_A))
    yy, xx = np.mgrid[:N, :N]
    near_a = np.hypot(xx - ax, yy - ay) < 2 * SIGMA_PX
    peak = np.unravel_index(np.argmax(np.where(near_a, hist, -np.inf)), hist.shape)
    assert math.hypot(peak[1] - ax, peak[0] - ay) <= 1.0
    assert hist[peak] == pytest.approx(FrameStore(earth).read("mag", 3)[peak], rel=0.25)
    # re-running with the same arguments resumes (nothing left to write) and gives the same table
    again = write_history_store(earth, earth, tmp_path / "h2.zarr", days=2.0, indices=[3, 4], progress=False)
    assert FrameStore(again).table("history").equals(h.table("history"))


def test_drawn_ages_and_the_maximum_age(earth, tmp_path):
    out = write_history_store(earth, earth, tmp_path / "draw.zarr", days="0:4", max_age_days=2.0, seed=3,
                              progress=False)
    table = FrameStore(out).table("history")
    assert list(table.columns) == [c.name for c in HISTORY.columns] and len(table) == N_DAYS
    ok = table["history_index"] >= 0
    assert (table.loc[ok, "age_days"] <= 2.0).all() and ok.any() and (~ok).any()
    skipped = table[~ok]
    assert skipped["reason"].str.contains("exceeds the maximum 2 d|no history frame", regex=True).all()
    assert (skipped["covered_fraction"] == 0).all() and skipped["age_days"].isna().all()
    for k in np.flatnonzero(~ok):
        assert np.nansum(np.abs(FrameStore(out).read("hist", k))) == 0
    # older history covers less of the disk (the band rotated in over the east limb since)
    fresh = table[ok].sort_values("age_days")
    assert fresh["covered_fraction"].is_monotonic_decreasing
    # the same seed draws the same ages, another seed others
    draw = HistoryParams("0:4", seed=3).frame_days(range(N_DAYS), 1.0, "howard")
    assert np.array_equal(draw, HistoryParams("0:4", seed=3).frame_days(range(N_DAYS), 1.0, "howard"))
    assert not np.array_equal(draw, HistoryParams("0:4", seed=4).frame_days(range(N_DAYS), 1.0, "howard"))
    assert np.all((draw >= 0) & (draw <= 4))
    with pytest.raises(UserError) as err:
        write_history_store(earth, earth, tmp_path / "stale.zarr", days=3.0, max_age_days=10, on_stale="error",
                            progress=False)
    assert "\n" not in str(err.value) and "frame 0" in str(err.value) and not (tmp_path / "stale.zarr").exists()
    for kwargs in ({"days": 5, "max_age_days": 3}, {"days": "auto"}, {"days": "-1"}, {"days": "4:1"},
                   {"days": 1, "on_stale": "ignore"}):
        with pytest.raises(UserError) as err:
            HistoryParams(**kwargs)
        assert "\n" not in str(err.value)


def test_auto_age_and_the_channels():
    # the surface at an observer's disk centre 60 deg west of Earth crossed Earth's central meridian
    # 60 / 13.34 deg/day (Howard's equatorial synodic rate) ago
    assert auto_history_days(60.0) == pytest.approx(60 / 13.34, rel=2e-3)
    assert auto_history_days(180.0, 1.0) == 13.0 and auto_history_days(0.0) == 0.0
    g = _geometry(0.0)
    mag, _, _ = _frame(0.0)
    cover = (g.mu >= 0.5) & (g.rho <= 1.0)
    ch = history_channels(mag, cover, 5.0, g, MagScaling())
    on = g.rho <= 1.0
    assert ch.shape == (3, N, N) and ch.dtype == np.float32
    assert np.allclose(ch[0][cover], np.clip(mag[cover], -100, 100) / 100, atol=1e-6)  # the target's scaling
    assert np.all(ch[0][~cover] == 0) and np.array_equal(ch[1] > 0.5, cover)
    assert np.allclose(ch[2][on], 5.0 / AGE_SCALE_DAYS) and np.all(ch[2][~on] == 0)
    none = history_channels(np.zeros((N, N)), np.zeros((N, N)), math.nan, g, MagScaling())
    assert np.all(none[2][on] == 1.0) and np.all(none[:2] == 0)


@pytest.mark.slow
def test_training_with_history_channels_then_prediction(earth, tmp_path):
    """A history run trains and predicts from a history-input store; the channels reach the network; a plain store is refused."""
    import torch

    from euv2mag.model.checkpoint import load_checkpoint
    from euv2mag.model.config import TrainConfig
    from euv2mag.model.predict import predict_image, predict_run
    from euv2mag.model.train import train_seed

    torch.set_num_threads(1)
    hist = write_history_store(earth, earth, tmp_path / "train.zarr", days=1.0, progress=False)
    cfg = TrainConfig(ngf=4, ndf=4, iters=2, val_every=2, ckpt_every=2, log_every=1, history_channels=True,
                      coord_channels=True, euv_kind="linear", euv_vmin=0.0, euv_vmax=2000.0)
    run = train_seed(hist, [1, 2, 3], [4], cfg, 0, tmp_path / "run", progress=False).run_dir
    ck = load_checkpoint(run / "last.ckpt")  # weights_only=True
    first_g = next(v for v in ck["G"].values() if v.ndim == 4)
    assert first_g.shape[1] == 1 + 2 + 3 and ck["config_obj"].history_channels is True
    out = predict_run(run, hist, tmp_path / "pred.zarr", indices=[3, 4], checkpoint="last", device="cpu",
                      progress=False)
    pred = FrameStore(out).read("pred", 0)
    assert np.all(np.isfinite(pred[FrameStore(hist).geometry(3).rho <= 1.0]))
    with pytest.raises(UserError) as err:
        predict_run(run, earth, tmp_path / "plain.zarr", indices=[3], checkpoint="last", device="cpu", progress=False)
    assert "\n" not in str(err.value) and "earth.zarr" in str(err.value) and "hist" in str(err.value)
    assert not (tmp_path / "plain.zarr").exists()
    with pytest.raises(UserError, match="history"):
        train_seed(earth, [1, 2], [3], cfg, 0, tmp_path / "run2", progress=False)

    class Probe(torch.nn.Module):
        """Returns the history channel as the scaled map, and records the input."""

        def forward(self, x):
            self.seen = x.clone()
            return x[:, 3:4]

    store, probe, res = FrameStore(hist), Probe(), cfg.resolved(N)
    geom = store.geometry(3)
    got = predict_image(probe, store.read("euv", 3), geom, res,
                        history=(store.read("hist", 3), store.read("hist_cover", 3), 1.0))
    assert tuple(probe.seen.shape) == (1, 6, N, N)
    assert np.allclose(probe.seen[0, 5].numpy()[geom.rho <= 1], 1.0 / AGE_SCALE_DAYS)
    cover = store.read("hist_cover", 3) > 0.5
    assert np.allclose(got[cover], np.clip(store.read("hist", 3)[cover], -100, 100), atol=1e-3)


def test_history_command_and_old_configs(earth, tmp_path, capsys):
    from euv2mag.cli import main
    from euv2mag.model.config import TrainConfig

    assert main(["history", str(earth), "--out", str(tmp_path / "h.zarr"), "--days", "1", "--indices", "3,4"]) == 0
    assert "2 frames, median age 1 d" in capsys.readouterr().out
    assert FrameStore(tmp_path / "h.zarr").table("history")["history_index"].tolist() == [2, 3]
    assert main(["history", str(earth), "--out", str(tmp_path / "s.zarr"), "--days", "2", "--max-age", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "max_age_days" in err and not (tmp_path / "s.zarr").exists()
    # a configuration written before the option existed (no history_channels key) has none
    old = TrainConfig.from_dict({k: v for k, v in TrainConfig(ngf=4).to_dict().items() if k != "history_channels"})
    assert old.history_channels is False and old.input_channels == 1
