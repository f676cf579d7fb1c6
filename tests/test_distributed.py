"""Multi-device training: 2 gloo processes match one process at the same global batch; bad layouts."""
from __future__ import annotations

import csv
import dataclasses
import json

import pytest
import torch
from _model_data import EUV_OPTIONS, make_pair_store, write_split

from euv2mag.cli import main
from euv2mag.errors import UserError
from euv2mag.model.checkpoint import load_checkpoint
from euv2mag.model.config import TrainConfig
from euv2mag.model.distributed import plan_launch
from euv2mag.model.pix2pix import build_discriminator
from euv2mag.model.train import train_runs

TINY = dict(ngf=4, ndf=4, **EUV_OPTIONS)


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the spawned processes get threads // devices = 1 each as well
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    store = make_pair_store(root / "pairs.zarr", n_frames=6, size=32)
    return store, write_split(root / "split.json", [0, 1, 2, 3], [4], [5])


def _rows(run_dir):
    with (run_dir / "metrics.csv").open() as fh:
        return list(csv.DictReader(fh))


def _null_space(cfg: TrainConfig) -> set[str]:
    """D's conv biases that feed a BatchNorm: their exact gradient is 0 (BN removes any constant), so
    Adam turns the rounding noise of their gradient into +-lr steps; they change no output."""
    d = build_discriminator(cfg.resolved(32))
    names = list(d.model._modules)
    return {f"model.{a}.bias" for a, b in zip(names, names[1:])
            if isinstance(d.model._modules[a], torch.nn.Conv2d)
            and isinstance(d.model._modules[b], torch.nn.BatchNorm2d)}


def _max_param_diff(a: dict, b: dict, skip: set[str]) -> float:
    worst = 0.0
    for net in ("G", "D"):
        assert a[net].keys() == b[net].keys()  # the same names: no DDP "module." prefix
        for key, value in a[net].items():
            if value.is_floating_point() and "running" not in key and not (net == "D" and key in skip):
                worst = max(worst, (value - b[net][key]).abs().max().item())
    return worst


@pytest.mark.slow
def test_two_gloo_processes_match_one_process_and_resume_in_one(data, tmp_path):
    """2 processes x 1 frame = 1 process x 2 frames: weights after 3 steps and the logged losses
    agree to float32 rounding; the 2-process checkpoint resumes in one process to step 6 and
    agrees with the uninterrupted 1-process run; a refusal inside the processes is one UserError."""
    store, split = data
    cfg = TrainConfig(**TINY, batch=2, iters=6, val_every=3, ckpt_every=3, log_every=1)
    one = train_runs(store, split, tmp_path / "one", [0], cfg, device="cpu", progress=False)[0]
    two = train_runs(store, split, tmp_path / "two", [0], cfg.__class__(**{**cfg.to_dict(), "iters": 3}),
                     device="cpu", progress=False, devices=2)[0]
    assert two.iteration == 3 and json.loads((two.run_dir / "run.json").read_text())["processes"] == 2
    skip = _null_space(cfg)
    a = load_checkpoint(one.run_dir / "ckpt-0000003.ckpt")
    b = load_checkpoint(two.run_dir / "last.ckpt")
    assert b["world_size"] == 2
    # Adam moves a weight by up to ~lr = 2e-4 a step: a wrong shard or gradients left unreduced
    # show at that scale; the reduction order changes a few float32 ulps (1.2e-7 at 1 measured)
    diff3 = _max_param_diff(a, b, skip)
    assert diff3 < 1e-6, diff3
    r1, r2 = _rows(one.run_dir)[:3], _rows(two.run_dir)
    for key in ("loss_d", "loss_g_gan", "loss_g_l1", "loss_g", "val_l1_g", "val_cc"):
        for x, y in zip(r1, r2):
            assert (x[key] == y[key] == "") or float(x[key]) == pytest.approx(float(y[key]), rel=2e-5, abs=1e-7), key
    # the DDP checkpoint continues in one process (the configuration may extend iters)
    resumed = train_runs(store, split, tmp_path / "two", [0], cfg, device="cpu", progress=False, resume=True)[0]
    assert resumed.resumed_from == 3 and resumed.iteration == 6
    diff6 = _max_param_diff(load_checkpoint(one.run_dir / "last.ckpt"), load_checkpoint(resumed.run_dir / "last.ckpt"), skip)
    assert diff6 < 1e-6, diff6
    # a refusal raised inside the spawned processes comes back as one UserError, nothing hangs
    with pytest.raises(UserError, match="differs from the run's in lr"):
        train_runs(store, split, tmp_path / "two", [0], cfg.__class__(**{**cfg.to_dict(), "lr": 1e-4}),
                   device="cpu", progress=False, resume=True, devices=2)


def test_bad_layouts_are_one_line_errors(data, tmp_path, capsys, monkeypatch):
    store, split = data
    cfg = TrainConfig(**TINY, batch=3, iters=1)
    with pytest.raises(UserError, match="batch: must be a multiple of the 2 training processes"):
        train_runs(store, split, tmp_path / "r", [0], cfg, device="cpu", devices=2)
    with pytest.raises(UserError, match="needs torchrun"):
        plan_launch(2, 2, "cpu")
    with pytest.raises(UserError, match="CPU processes asked for"):
        plan_launch(10_000, 1, "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="no CUDA GPU"):
            plan_launch(2, 1, "cuda")
    # under torchrun the world must be devices x nodes
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert plan_launch(2, 2, "cpu").kind == "torchrun"
    with pytest.raises(UserError, match="torchrun started 4 processes"):
        plan_launch(2, 1, "cpu")
    monkeypatch.delenv("RANK")
    monkeypatch.delenv("WORLD_SIZE")
    common = ["train", str(store), "--split", str(split), "--device", "cpu", "--iters", "1", "--ngf", "4"]
    assert main([*common, "--out", str(tmp_path / "c"), "--devices", "2", "--batch", "3"]) == 2
    assert "--batch: must be a multiple of the 2 training processes" in capsys.readouterr().err
    assert main([*common, "--out", str(tmp_path / "c"), "--devices", "2", "--num-nodes", "2"]) == 2
    assert "--num-nodes: training on several nodes needs torchrun" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_refusals_come_before_any_process_is_spawned(data, tmp_path, monkeypatch):
    """What a training process would refuse at its start is refused here, by the parent: no spawn."""
    from euv2mag.model import distributed

    def no_spawn(*args, **kwargs):
        raise AssertionError("processes were spawned for a job the parent should have refused")

    monkeypatch.setattr(distributed, "spawn", no_spawn)
    store, split = data
    cfg = TrainConfig(**TINY, batch=2, iters=1)
    with pytest.raises(UserError, match="precision fp16 needs a CUDA GPU"):
        train_runs(store, split, tmp_path / "r", [0], dataclasses.replace(cfg, precision="fp16"), device="cpu",
                   devices=2)
    run = tmp_path / "r" / "seed-0"
    run.mkdir(parents=True)
    cfg.resolved(32).write(run / "config.toml")  # a run made with cfg, resumed with another learning rate
    with pytest.raises(UserError, match="cannot resume: the configuration differs from the run's in lr"):
        train_runs(store, split, tmp_path / "r", [0], dataclasses.replace(cfg, lr=1e-4), device="cpu", devices=2,
                   resume=True)
    assert sorted(p.name for p in run.iterdir()) == ["config.toml"]
    # a store without the EUV the processes would train from
    from euv2mag.data.store import FrameStore, StoreWriter

    full = FrameStore(store)
    with StoreWriter.open(tmp_path / "mag.zarr", n_frames=full.n_frames, shape=full.shape, arrays=("mag",),
                          kind="synthetic", params={"test": "mag only"}) as w:
        for i in range(full.n_frames):
            w.write_frame(i, full.geometry(i), mag=full.read("mag", i))
        w.finish()
    with pytest.raises(UserError, match="mag.zarr: a training store needs an 'euv' array"):
        train_runs(tmp_path / "mag.zarr", split, tmp_path / "m", [0], cfg, device="cpu", devices=2)


@pytest.mark.slow  # two spawned processes importing torch: ~5 s CPU
def test_a_refusal_in_a_process_is_one_user_error_and_a_bug_keeps_its_traceback(capfd):
    """Rank 0 refuses its input after rank 1 has already failed (the order a dying peer's collective
    error gives): the user gets rank 0's UserError, not rank 1's error nor torch's notes."""
    import torch.multiprocessing as mp

    from _ddp_workers import crash_on_rank1, refuse_while_a_peer_crashes
    from euv2mag.model.distributed import spawn

    plan = plan_launch(2, 1, "cpu")
    with pytest.raises(UserError) as refused:
        spawn(plan, refuse_while_a_peer_crashes)
    assert str(refused.value) == "nowhere.zarr: is not a dataset store"
    with pytest.raises(mp.ProcessRaisedException, match="ZeroDivisionError: a bug in rank 1"):
        spawn(plan, crash_on_rank1)
    err = capfd.readouterr().err
    assert "Terminating process" not in err and "Traceback" not in err, err


@pytest.mark.slow  # two spawned processes importing torch: ~5 s CPU
def test_a_refusal_inside_the_processes_reaches_the_user_as_one_line(data, tmp_path, capfd):
    """``train --devices 2 --resume`` of a run whose last.ckpt is damaged: each process refuses the
    checkpoint (only they read it); the command prints one line naming it and exits 2."""
    store, split = data
    common = ["train", str(store), "--split", str(split), "--device", "cpu", "--iters", "1", "--ngf", "4", "--ndf", "4",
              "--batch", "2", "--out", str(tmp_path / "runs")]
    assert main(common) == 0
    ckpt = tmp_path / "runs" / "seed-0" / "last.ckpt"
    ckpt.write_bytes(ckpt.read_bytes()[:100])  # cut short
    capfd.readouterr()
    assert main([*common, "--resume", "--devices", "2"]) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"euv2mag train: error: {ckpt}: cannot read the checkpoint"), err
