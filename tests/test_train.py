"""Training: learning on synthetic pairs, determinism, bit-exact resume, bad input, the CLI."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from _model_data import EUV_OPTIONS, make_pair_store, write_split

from euv2mag.cli import main
from euv2mag.errors import UserError
from euv2mag.model.checkpoint import load_checkpoint, load_generator, prune_checkpoints
from euv2mag.model.config import TrainConfig, variant_defaults
from euv2mag.model.pix2pix import set_inference_mode
from euv2mag.model.train import train_runs, train_seed

TINY = dict(ngf=4, ndf=4, **EUV_OPTIONS)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny networks run fastest on one thread (and the shared CPU is not oversubscribed)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def store64(tmp_path_factory):
    return make_pair_store(tmp_path_factory.mktemp("store") / "pairs.zarr", n_frames=6, size=64)


def _rows(run_dir):
    with (run_dir / "metrics.csv").open() as fh:
        return list(csv.DictReader(fh))


def _states_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_learning_lowers_l1_and_correlates(store64, tmp_path):
    """4 pairs at 64 px, 300 iterations: L1 falls by half or more and the prediction has CC > 0.8."""
    cfg = TrainConfig(ngf=8, ndf=8, iters=300, val_every=300, ckpt_every=300, **EUV_OPTIONS)
    result = train_seed(store64, [0, 1, 2, 3], [], cfg, seed=0, run_dir=tmp_path / "run", progress=False)
    rows = _rows(result.run_dir)
    first, last = float(rows[0]["loss_g_l1"]), float(rows[-1]["loss_g_l1"])
    assert last < 0.5 * first, (first, last)
    g, ckpt = load_generator(result.run_dir / "last.ckpt")
    assert ckpt["iteration"] == 300
    set_inference_mode(g, "kpl19")
    scaling = ckpt["config_obj"].mag_scaling
    from euv2mag.data.torch_dataset import PairDataset

    data = PairDataset(store64, [0, 1, 2, 3], mag_scaling=scaling, euv_scaling=ckpt["config_obj"].euv_scaling)
    torch.manual_seed(0)
    for k in range(4):
        x, y = data[k]
        disk = store64_geometry_mask(store64, k)
        with torch.no_grad():
            pred = g(x[None])[0, 0].numpy()
        cc = np.corrcoef(pred[disk], y[0].numpy()[disk])[0, 1]
        assert cc > 0.8, (k, cc)
    # validation on the training frames (no val set), recorded as such, in physical units
    info = json.loads((result.run_dir / "run.json").read_text())
    assert info["val_source"] == "train" and info["val_indices"] == [0, 1, 2, 3]
    best = json.loads((result.run_dir / "best.json").read_text())
    assert best["metric"] == "val_cc" and best["iteration"] == 300 and best["value"] > 0.8
    assert 0 < float(rows[-1]["val_l1_g"]) < 60  # G


def store64_geometry_mask(store_path, index):
    from euv2mag.data.store import FrameStore

    return FrameStore(store_path).geometry(index).disk_mask(1.0)


def test_same_seed_same_weights_other_seed_different(store64, tmp_path):
    cfg = TrainConfig(iters=20, val_every=20, ckpt_every=20, **TINY)
    runs = [train_seed(store64, [0, 1, 2], [4], cfg, seed, tmp_path / f"r{i}", progress=False)
            for i, seed in enumerate((0, 0, 1))]
    ck = [load_checkpoint(r.run_dir / "last.ckpt") for r in runs]
    assert _states_equal(ck[0]["G"], ck[1]["G"]) and _states_equal(ck[0]["D"], ck[1]["D"])
    assert not _states_equal(ck[0]["G"], ck[2]["G"])
    assert [r["loss_g"] for r in _rows(runs[0].run_dir)] == [r["loss_g"] for r in _rows(runs[1].run_dir)]


@pytest.mark.parametrize("extra", [{}, {"two_forward": True}, {**variant_defaults("cc"), "gan_mode": "lsgan"}])
def test_interrupted_and_resumed_run_is_bit_identical(store64, tmp_path, extra):
    cfg = TrainConfig(**{**TINY, "iters": 20, "val_every": 10, "ckpt_every": 5, "log_every": 5, **extra})
    full = train_seed(store64, [0, 1, 2], [4, 5], cfg, 3, tmp_path / "full", progress=False)
    part = train_seed(store64, [0, 1, 2], [4, 5], cfg, 3, tmp_path / "part", progress=False, stop_at=12)
    assert part.iteration == 12
    assert load_checkpoint(tmp_path / "part" / "last.ckpt")["iteration"] == 10
    with pytest.raises(UserError, match="resume=True"):
        train_seed(store64, [0, 1, 2], [4, 5], cfg, 3, tmp_path / "part", progress=False)
    resumed = train_seed(store64, [0, 1, 2], [4, 5], cfg, 3, tmp_path / "part", resume=True, progress=False)
    assert resumed.resumed_from == 10 and resumed.iteration == 20
    a = load_checkpoint(full.run_dir / "last.ckpt")
    b = load_checkpoint(resumed.run_dir / "last.ckpt")
    assert _states_equal(a["G"], b["G"]) and _states_equal(a["D"], b["D"])
    assert torch.equal(a["opt_G"]["state"][0]["exp_avg"], b["opt_G"]["state"][0]["exp_avg"])
    cols = ["iteration", "loss_d", "loss_g", "loss_g_cc", "val_cc", "val_l1_g"]
    assert [[r[c] for c in cols] for r in _rows(full.run_dir)] == [[r[c] for c in cols] for r in _rows(resumed.run_dir)]
    assert json.loads((full.run_dir / "best.json").read_text())["iteration"] == \
        json.loads((resumed.run_dir / "best.json").read_text())["iteration"]


def test_regression_control_and_cc_variant_files(store64, tmp_path):
    cfg = TrainConfig(**{**TINY, **variant_defaults("cc"), "gan_mode": "none", "iters": 6, "val_every": 3,
                         "ckpt_every": 3, "log_every": 3})
    r = train_seed(store64, [0, 1], [], cfg, 0, tmp_path / "cc", progress=False)
    rows = _rows(r.run_dir)
    assert [int(x["iteration"]) for x in rows] == [3, 6]
    assert all(float(x["loss_d"]) == 0 and float(x["loss_g_gan"]) == 0 for x in rows)
    assert all(0 < float(x["loss_g_cc"]) < 2 for x in rows)
    saved = TrainConfig.read(r.run_dir / "config.toml")
    assert saved.lambda_cc == 5 and saved.mag_kind == "asinh" and saved.mag_limit_g == 3000 and saved.size == 64
    ck = load_checkpoint(r.run_dir / "last.ckpt")
    assert "D" not in ck and {p.name for p in r.run_dir.glob("ckpt-*.ckpt")} == {"ckpt-0000003.ckpt", "ckpt-0000006.ckpt"}


def test_periodic_checkpoints_pruned_to_the_newest(store64, tmp_path):
    """keep_ckpts keeps the N newest periodic checkpoints; last/best are never touched; 0 keeps all."""
    common = dict(**TINY, iters=8, val_every=4, ckpt_every=2, log_every=2)
    kept = train_seed(store64, [0, 1], [], TrainConfig(**common, keep_ckpts=2), 0, tmp_path / "two", progress=False)
    names = {p.name for p in kept.run_dir.glob("*.ckpt")}
    assert names == {"ckpt-0000006.ckpt", "ckpt-0000008.ckpt", "last.ckpt", "best.ckpt"}
    every = train_seed(store64, [0, 1], [], TrainConfig(**common, keep_ckpts=0), 0, tmp_path / "all", progress=False)
    assert sorted(p.name for p in every.run_dir.glob("ckpt-*.ckpt")) == [f"ckpt-{k:07d}.ckpt" for k in (2, 4, 6, 8)]
    # pruning is in iteration order (not name order) and ignores files that are not periodic checkpoints
    for name in ("ckpt-9999999.ckpt", "ckpt-10000000.ckpt", "ckpt-notes.ckpt"):
        (every.run_dir / name).write_bytes(b"x")
    gone = prune_checkpoints(every.run_dir, 1)
    assert {p.name for p in gone} == {f"ckpt-{k:07d}.ckpt" for k in (2, 4, 6, 8)} | {"ckpt-9999999.ckpt"}
    assert {p.name for p in every.run_dir.glob("*.ckpt")} == {"ckpt-10000000.ckpt", "ckpt-notes.ckpt", "last.ckpt",
                                                             "best.ckpt"}
    # a resumed run may change keep_ckpts (and iters), not the training
    part = train_seed(store64, [0, 1], [], TrainConfig(**common, keep_ckpts=0), 0, tmp_path / "res", progress=False,
                      stop_at=4)
    done = train_seed(store64, [0, 1], [], TrainConfig(**common, keep_ckpts=1), 0, part.run_dir, resume=True,
                      progress=False)
    assert done.iteration == 8 and [p.name for p in done.run_dir.glob("ckpt-*.ckpt")] == ["ckpt-0000008.ckpt"]
    with pytest.raises(UserError, match="differs"):
        train_seed(store64, [0, 1], [], TrainConfig(**{**common, "lr": 1e-3}), 0, part.run_dir, resume=True,
                   progress=False)


def test_bad_input_one_line_errors_nothing_written(store64, tmp_path):
    cfg = TrainConfig(iters=2, **TINY)
    out = tmp_path / "runs"
    bad = write_split(tmp_path / "missing.json", [0, 1, 99], test=[4])
    with pytest.raises(UserError, match="99|outside"):
        train_runs(store64, bad, out, [0], cfg, progress=False)
    empty = write_split(tmp_path / "empty.json", [], test=[4])
    with pytest.raises(UserError, match="empty"):
        train_runs(store64, empty, out, [0], cfg, progress=False)
    with pytest.raises(UserError, match="empty"):
        train_seed(store64, [], [], cfg, 0, out / "seed-0", progress=False)
    store48 = make_pair_store(tmp_path / "s48.zarr", n_frames=2, size=48)
    with pytest.raises(UserError, match="power of two"):
        train_runs(store48, write_split(tmp_path / "s48.json", [0], test=[1]), out, [0], cfg, progress=False)
    assert not out.exists()
    # a checkpoint of another architecture
    r = train_seed(store64, [0], [], TrainConfig(iters=1, **TINY), 0, tmp_path / "a", progress=False)
    other = TrainConfig(iters=1, **{**TINY, "ngf": 8}).resolved(64)
    with pytest.raises(UserError, match="another architecture.*ngf 4 vs 8") as info:
        load_checkpoint(r.run_dir / "last.ckpt", other)
    assert "\n" not in str(info.value)
    with pytest.raises(UserError, match="differs.*ngf"):
        train_seed(store64, [0], [], TrainConfig(iters=2, **{**TINY, "ngf": 8}), 0, tmp_path / "a", resume=True, progress=False)
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="cannot read the checkpoint"):
        load_checkpoint(tmp_path / "junk.ckpt")


def test_cli_train_runs_seeds_and_reports_errors(store64, tmp_path, capsys):
    split = write_split(tmp_path / "split.json", [0, 1, 2], val=[3], test=[4, 5])
    out = tmp_path / "runs" / "tiny"
    argv = ["train", str(store64), "--split", str(split), "--out", str(out), "--seeds", "0", "1", "--iters", "4",
            "--val-every", "2", "--ckpt-every", "2", "--ngf", "4", "--ndf", "4", "--device", "cpu",
            "--euv-scaling", "linear", "--euv-vmax", "2000", "--variant", "cc", "--mag-limit", "500"]
    assert main(argv) == 0
    for seed in (0, 1):
        run = out / f"seed-{seed}"
        assert {"config.toml", "metrics.csv", "last.ckpt", "best.ckpt", "best.json", "run.json"} <= {p.name for p in run.iterdir()}
        cfg = TrainConfig.read(run / "config.toml")
        assert cfg.variant == "cc" and cfg.mag_limit_g == 500 and cfg.lambda_cc == 5 and cfg.ngf == 4
        assert json.loads((run / "run.json").read_text())["val_source"] == "val"
    assert main(argv) == 2  # exists: needs --resume
    assert "holds a training run already; continue it with resume=True" in capsys.readouterr().err
    assert main([*argv, "--resume"]) == 0  # already complete: nothing to do
    assert main(["train", str(store64), "--split", str(tmp_path / "nope.json"), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such split file" in err[0]


def test_one_jitter_draw_shifts_the_pair_and_the_loss_mask(store64):
    """The dataset's jitter and the training loop's disk mask use the same jitter_shift draw."""
    from euv2mag.data.store import FrameStore
    from euv2mag.data.torch_dataset import PairDataset, jitter_image, jitter_shift

    data = PairDataset(store64, [0, 1, 2], jitter_px=3, seed=4)
    zero_g = float(data.mag_scaling.to_unit(np.zeros(1))[0])
    disk = FrameStore(store64).geometry(1).disk_mask(1.0)
    euv0, mag0 = data.scaled_frame(1)
    shifts = set()
    for draw in [None, *range(12)]:
        dx, dy = jitter_shift(4, draw, 1, 3)
        assert -3 <= dx <= 3 and -3 <= dy <= 3
        shifts.add((dx, dy))
        _, mag = data[1] if draw is None else data[(1, draw)]
        mag = mag[0].numpy()
        assert np.array_equal(mag, jitter_image(mag0, dx, dy, 3, pad=zero_g))
        mask = jitter_image(disk, dx, dy, 3, pad=False)
        assert mask.dtype == bool and mask.sum() == disk.sum()  # the disk stays inside the image
        assert np.all(mag[~mask] == zero_g) and np.count_nonzero(mag[mask] != zero_g) > 0.5 * mask.sum()
    assert len(shifts) > 3
    assert jitter_shift(4, 7, 1, 0) == (0, 0) and jitter_image(mag0, 2, 1, 0, pad=0.0) is mag0


def test_coordinate_channels_values_at_known_pixels():
    """sin(latitude) and mu at the disk centre, half a radius north/south on the central meridian, off the disk."""
    from euv2mag.data.torch_dataset import coordinate_channels
    from euv2mag.geometry import DiskGeometry

    # rows run northward; at 1 AU the projection is orthographic to a few 1e-3 at R/2
    geom = DiskGeometry(shape=(129, 129), rsun_px=40.0, cdelt_arcsec=959.0 / 40.0, b0_deg=0.0)
    c = coordinate_channels(geom)
    assert c.shape == (2, 129, 129) and c.dtype == np.float32
    assert c[0, 64, 64] == pytest.approx(0.0, abs=1e-6) and c[1, 64, 64] == pytest.approx(1.0, abs=1e-6)
    for row, sign in ((84, 1), (44, -1)):  # 20 px = R/2 from the centre: latitude +-30 deg, mu = cos 30 deg
        assert c[0, row, 64] == pytest.approx(sign * 0.5, abs=5e-3)
        assert c[1, row, 64] == pytest.approx(np.sqrt(0.75), abs=5e-3)
    off = ~geom.disk_mask(1.0)
    assert np.all(c[:, off] == 0) and np.all(c[1, ~off] >= 0)
    tilted = coordinate_channels(DiskGeometry(shape=(129, 129), rsun_px=40.0, cdelt_arcsec=959.0 / 40.0, b0_deg=7.0))
    assert tilted[0, 64, 64] == pytest.approx(np.sin(np.radians(7.0)), abs=1e-3)  # disk centre at latitude B0


def test_coordinate_channels_follow_the_jitter_and_reach_the_networks(store64, tmp_path):
    from euv2mag.data.store import FrameStore
    from euv2mag.data.torch_dataset import PairDataset, coordinate_channels, jitter_image, jitter_shift

    store = FrameStore(store64)
    plain = PairDataset(store, [2, 3], jitter_px=3, seed=5)
    ds = PairDataset(store, [2, 3], jitter_px=3, seed=5, coord_channels=True)
    x, y = ds[(1, 9)]
    x0, y0 = plain[(1, 9)]
    assert x.shape == (3, 64, 64) and torch.equal(x[:1], x0) and torch.equal(y, y0)
    dx, dy = jitter_shift(5, 9, 1, 3)
    assert (dx, dy) != (0, 0)
    coords = coordinate_channels(store.geometry(3))
    for ch in (0, 1):
        assert np.array_equal(x[1 + ch].numpy(), jitter_image(coords[ch], dx, dy, 3, pad=0.0))
    cfg = TrainConfig(**TINY, coord_channels=True, iters=2, val_every=2, ckpt_every=2, log_every=1)
    r = train_seed(store64, [0, 1], [2], cfg, 0, tmp_path / "coord", progress=False)
    ck = load_checkpoint(r.run_dir / "last.ckpt")
    first_g = next(v for k, v in ck["G"].items() if v.ndim == 4)
    first_d = next(v for k, v in ck["D"].items() if v.ndim == 4)
    assert first_g.shape[1] == 3 and first_d.shape[1] == 4  # D sees the generator's input and the map
    assert TrainConfig.read(r.run_dir / "config.toml").coord_channels is True
    with pytest.raises(UserError, match="coord_channels"):
        load_checkpoint(r.run_dir / "last.ckpt", TrainConfig(**TINY).resolved(64))
    # a checkpoint written before the option existed (no coord_channels key) loads as without them
    old = TrainConfig.from_dict({k: v for k, v in TrainConfig(**TINY).resolved(64).to_dict().items() if k != "coord_channels"})
    assert old.coord_channels is False and old.input_channels == 1


def test_linear_lr_schedule_decays_over_the_second_half(store64, tmp_path):
    from euv2mag.model.config import lr_factor

    assert [lr_factor("linear", i, 10) for i in (0, 5, 6, 9)] == [1.0, 1.0, 0.8, 0.2]
    common = dict(**TINY, iters=4, val_every=4, ckpt_every=4, log_every=4)
    lin = train_seed(store64, [0, 1], [], TrainConfig(**common, lr_schedule="linear"), 0, tmp_path / "lin", progress=False)
    const = train_seed(store64, [0, 1], [], TrainConfig(**common), 0, tmp_path / "const", progress=False)
    ck_lin, ck_const = load_checkpoint(lin.run_dir / "last.ckpt"), load_checkpoint(const.run_dir / "last.ckpt")
    for opt in ("opt_G", "opt_D"):  # the last step (iteration 3 of 4) ran at 2 (4 - 3) / 4 = 0.5 lr
        assert ck_lin[opt]["param_groups"][0]["lr"] == pytest.approx(1e-4, rel=1e-12)
        assert ck_const[opt]["param_groups"][0]["lr"] == pytest.approx(2e-4, rel=1e-12)
    # identical for the first half, different after it
    assert not _states_equal(ck_lin["G"], ck_const["G"])
    with pytest.raises(UserError, match="lr_schedule"):
        TrainConfig(lr_schedule="cosine")


def test_sign_blind_cc_term_alone_is_what_the_generator_minimises(store64, tmp_path):
    # regression on the |B| correlation alone: the weighted total is exactly 2 x the logged
    # sign-blind term, the signed CC is not computed, and the term is a 1 - CC in (0, 2)
    cfg = TrainConfig(**{**TINY, **variant_defaults("cc"), "gan_mode": "none", "lambda_l1": 0.0, "lambda_cc": 0.0,
                         "lambda_abs_cc": 2.0, "iters": 4, "val_every": 2, "ckpt_every": 2, "log_every": 2})
    rows = _rows(train_seed(store64, [0, 1], [], cfg, 0, tmp_path / "abs", progress=False).run_dir)
    assert len(rows) == 2
    for x in rows:
        assert float(x["loss_g_cc"]) == 0 and 0 < float(x["loss_g_abs_cc"]) < 2
        assert float(x["loss_g"]) == pytest.approx(2.0 * float(x["loss_g_abs_cc"]), rel=1e-6)
    with pytest.raises(UserError, match="no loss left"):
        TrainConfig(**{**TINY, "gan_mode": "none", "lambda_l1": 0.0})
