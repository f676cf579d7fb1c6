"""Checkpoints: the format's keys, round trips, RNG capture, safe loading, pruning; the lazy model package."""
from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import euv2mag
from euv2mag.errors import UserError
from euv2mag.model.checkpoint import (
    CHECKPOINT_FORMAT,
    capture_rng_state,
    load_checkpoint,
    load_generator,
    load_weights,
    make_checkpoint,
    periodic_checkpoint_name,
    prune_checkpoints,
    restore_rng_state,
    restore_training_state,
    save_checkpoint,
)
from euv2mag.model.config import TrainConfig
from euv2mag.model.pix2pix import build_discriminator, build_generator

SMALL = dict(ngf=2, ndf=2)


def _networks(cfg):
    torch.manual_seed(0)
    g, d = build_generator(cfg), build_discriminator(cfg)
    opt_g, opt_d = (torch.optim.Adam(m.parameters(), lr=1e-3) for m in (g, d))
    x = torch.rand(1, 1, cfg.size, cfg.size)  # one step, so that the optimisers hold moments
    for opt, loss in ((opt_g, g(x).abs().mean()), (opt_d, d(torch.cat((x, x), 1)).mean())):
        loss.backward()
        opt.step()
    return g, d, opt_g, opt_d


def _equal(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return list(a) == list(b) and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return a == b


def test_format_keys_are_those_of_existing_checkpoints(tmp_path):
    """The format string and the keys (in order) are what runs before the checkpoint module wrote.

    ``num_threads`` and ``world_size`` were added after (optional when read: older files resume
    unchecked, as written by one process).
    """
    assert CHECKPOINT_FORMAT == "euv2mag-pix2pix-1"
    cfg = TrainConfig(**SMALL).resolved(32)
    g, d, opt_g, opt_d = _networks(cfg)
    weights = make_checkpoint(cfg, 4, 7, g, d)
    assert list(weights) == ["format", "config", "seed", "iteration", "G", "D"]
    full = make_checkpoint(cfg, 4, 7, g, d, opt_g=opt_g, opt_d=opt_d, best={"metric": "val_cc"}, window={"n": 2})
    assert list(full) == ["format", "config", "seed", "iteration", "G", "D", "opt_G", "opt_D", "rng", "best", "window",
                          "num_threads", "world_size"]
    assert list(make_checkpoint(cfg, 4, 7, g, opt_g=opt_g)) == ["format", "config", "seed", "iteration", "G", "opt_G",
                                                                 "rng", "best", "window", "num_threads",
                                                                 "world_size"]
    assert full["seed"] == 4 and full["iteration"] == 7 and full["config"] == cfg.to_dict()

    path = save_checkpoint(tmp_path / "last.ckpt", full)
    assert path == tmp_path / "last.ckpt" and [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no temporary left
    back = load_checkpoint(path, cfg)
    assert back.pop("config_obj") == cfg
    assert _equal(back, full)


def test_restore_training_state_and_rng_round_trip(tmp_path):
    cfg = TrainConfig(**SMALL).resolved(32)
    g, d, opt_g, opt_d = _networks(cfg)
    torch.manual_seed(11)
    np.random.seed(12)
    random.seed(13)
    np.random.standard_normal()  # leaves a cached gaussian in NumPy's legacy state
    save_checkpoint(tmp_path / "c.ckpt", make_checkpoint(cfg, 0, 1, g, d, opt_g=opt_g, opt_d=opt_d, window={}))
    expected = (torch.rand(3), np.random.standard_normal(3), [random.random() for _ in range(3)])

    g2, d2, opt_g2, opt_d2 = (build_generator(cfg), build_discriminator(cfg), None, None)
    opt_g2, opt_d2 = torch.optim.Adam(g2.parameters(), lr=1e-3), torch.optim.Adam(d2.parameters(), lr=1e-3)
    restore_training_state(load_checkpoint(tmp_path / "c.ckpt"), tmp_path / "c.ckpt", g2, d2, opt_g2, opt_d2)
    assert _equal(g2.state_dict(), g.state_dict()) and _equal(d2.state_dict(), d.state_dict())
    assert _equal(opt_g2.state_dict(), opt_g.state_dict()) and _equal(opt_d2.state_dict(), opt_d.state_dict())
    got = (torch.rand(3), np.random.standard_normal(3), [random.random() for _ in range(3)])
    assert torch.equal(got[0], expected[0]) and np.array_equal(got[1], expected[1]) and got[2] == expected[2]

    state = capture_rng_state()
    first = (torch.rand(2), np.random.rand(2), random.random())
    restore_rng_state(state)
    again = (torch.rand(2), np.random.rand(2), random.random())
    assert torch.equal(first[0], again[0]) and np.array_equal(first[1], again[1]) and first[2] == again[2]


def test_bad_checkpoints_are_one_line_user_errors(tmp_path):
    cfg = TrainConfig(**SMALL).resolved(32)
    g, d, _, _ = _networks(cfg)
    path = save_checkpoint(tmp_path / "w.ckpt", make_checkpoint(cfg, 0, 3, g, d))
    generator, ckpt = load_generator(path)
    assert ckpt["iteration"] == 3 and _equal(generator.state_dict(), g.state_dict())

    with pytest.raises(UserError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="cannot read the checkpoint"):
        load_checkpoint(tmp_path / "junk.ckpt")
    torch.save({"format": "something-else", "config": {}}, tmp_path / "other.ckpt")
    with pytest.raises(UserError, match="not an euv2mag checkpoint"):
        load_checkpoint(tmp_path / "other.ckpt")
    wider = TrainConfig(ngf=4, ndf=2).resolved(32)
    with pytest.raises(UserError, match=r"another architecture \(ngf 2 vs 4\)") as info:
        load_generator(path, wider)
    assert "\n" not in str(info.value) and str(path) in str(info.value)
    with pytest.raises(UserError, match="weights do not fit the network") as info:
        load_weights(build_generator(wider), ckpt["G"], path)
    assert "\n" not in str(info.value)


def test_prune_keeps_the_newest_periodic_checkpoints_by_iteration(tmp_path):
    names = [periodic_checkpoint_name(k) for k in (5, 10, 100, 10_000_000)]
    assert names == ["ckpt-0000005.ckpt", "ckpt-0000010.ckpt", "ckpt-0000100.ckpt", "ckpt-10000000.ckpt"]
    for name in [*names, "last.ckpt", "best.ckpt", "ckpt-12.ckpt", "ckpt-notes.ckpt"]:
        (tmp_path / name).write_bytes(b"x")
    assert prune_checkpoints(tmp_path, 0) == []
    gone = prune_checkpoints(tmp_path, 2)
    assert [p.name for p in gone] == ["ckpt-0000005.ckpt", "ckpt-0000010.ckpt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.ckpt", "ckpt-0000100.ckpt", "ckpt-10000000.ckpt",
                                                          "ckpt-12.ckpt", "ckpt-notes.ckpt", "last.ckpt"]


def test_import_model_package_does_not_import_torch():
    """``import euv2mag.model`` (and its TrainConfig) leaves torch unimported; a network name imports it."""
    code = (
        "import sys, euv2mag.model as m\n"
        "assert 'torch' not in sys.modules, 'import'\n"
        "cfg = m.layered_config('cc', options={'ngf': 8})\n"
        "assert m.TrainConfig is type(cfg) and 'torch' not in sys.modules, 'TrainConfig'\n"
        "m.UNetGenerator\n"
        "assert 'torch' in sys.modules, 'UNetGenerator'\n"
    )
    src = str(Path(euv2mag.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_every_public_model_name_resolves():
    import importlib

    import euv2mag.model as model

    assert len(set(model.__all__)) == len(model.__all__)
    for name in model.__all__:
        value = getattr(model, name)
        home = importlib.import_module(f"euv2mag.model.{model._SOURCES[name]}")
        assert value is getattr(home, name) and name in home.__all__, name
        assert name in dir(model)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        model.nope
    from euv2mag.model import predict, train  # submodules still import as usual

    assert train.train_runs is model.train_runs and predict.predict_run is model.predict_run


def test_thread_check_only_within_the_same_process_layout(tmp_path):
    """A CPU resume with another thread count is refused for the run's own layout (bit-identity is
    at stake) but allowed for a checkpoint of a multi-process run (equal up to rounding anyway)."""
    cfg = TrainConfig(**SMALL).resolved(32)
    g, d, opt_g, opt_d = _networks(cfg)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        for world in (1, 2):
            save_checkpoint(tmp_path / f"w{world}.ckpt",
                            make_checkpoint(cfg, 0, 1, g, d, opt_g=opt_g, opt_d=opt_d, world_size=world))
        torch.set_num_threads(2)
        with pytest.raises(UserError, match="the run used 1 CPU threads, this process has 2"):
            restore_training_state(load_checkpoint(tmp_path / "w1.ckpt"), tmp_path / "w1.ckpt", g, d, opt_g, opt_d)
        with pytest.raises(UserError, match="the run used 1 CPU threads"):
            restore_training_state(load_checkpoint(tmp_path / "w2.ckpt"), tmp_path / "w2.ckpt", g, d, opt_g, opt_d,
                                   world_size=2)
        ckpt = load_checkpoint(tmp_path / "w2.ckpt")
        assert ckpt["world_size"] == 2
        restore_training_state(ckpt, tmp_path / "w2.ckpt", g, d, opt_g, opt_d, world_size=1)
    finally:
        torch.set_num_threads(before)
