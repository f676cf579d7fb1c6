"""Bit-identical resume on several intra-op threads: denormal flushing on every thread, thread count.

``torch.set_flush_denormal`` sets only the calling thread's FTZ/DAZ bits; the intra-op (OpenMP)
workers keep those they were started with.  A fresh ``euv2mag train`` starts its pool in the
first step, after the flag (every thread flushes); a resumed one starts it while loading, before
the flag (the workers keep denormals).  The tests put the pool in each of those states with
:func:`~euv2mag.model._fpenv.flush_denormal_everywhere` before training, as the two processes
would find it.
"""
from __future__ import annotations

import pytest
import torch
from _model_data import EUV_OPTIONS, make_pair_store

from euv2mag.errors import UserError
from euv2mag.model._fpenv import flush_denormal_everywhere, thread_flush_states
from euv2mag.model.checkpoint import load_checkpoint
from euv2mag.model.config import TrainConfig
from euv2mag.model.train import train_seed

#: Gradients of about 1e-19: Adam's ``(1 - beta2) g^2`` falls among the denormals (< 1.2e-38),
#: where a thread that does not flush keeps values that a flushing one sets to zero.
TINY_GRADIENTS = dict(ngf=4, ndf=4, gan_mode="none", lambda_l1=1e-16, iters=10, val_every=10, val_frames=1,
                      ckpt_every=5, log_every=5, **EUV_OPTIONS)


@pytest.fixture()
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    flush_denormal_everywhere(True)
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def store64(tmp_path_factory):
    return make_pair_store(tmp_path_factory.mktemp("store") / "pairs.zarr", n_frames=6, size=64)


def _denormals(ckpt: dict) -> int:
    tiny = torch.finfo(torch.float32).tiny
    return sum(int(((x != 0) & (x.abs() < tiny)).sum())
               for state in ckpt["opt_G"]["state"].values() for x in (state["exp_avg"], state["exp_avg_sq"]))


def _differing(a: dict, b: dict) -> list[str]:
    out = [f"G.{k}" for k in a["G"] if not torch.equal(a["G"][k], b["G"][k])]
    for p, state in a["opt_G"]["state"].items():
        out += [f"opt_G[{p}].{k}" for k, v in state.items() if not torch.equal(v, b["opt_G"]["state"][p][k])]
    return out


def test_resume_on_two_threads_is_bit_identical_whatever_pool_it_finds(store64, tmp_path, two_threads):
    """Uninterrupted (pool flushing) vs interrupted + resumed (pool started without flushing)."""
    if not torch.set_flush_denormal(True):
        pytest.skip("this CPU cannot flush denormals")
    cfg = TrainConfig(**TINY_GRADIENTS)
    flush_denormal_everywhere(True)  # a fresh process: the pool starts inside the first step
    full = train_seed(store64, [0, 1, 2], [4], cfg, 3, tmp_path / "full", progress=False)
    part = train_seed(store64, [0, 1, 2], [4], cfg, 3, tmp_path / "part", progress=False, stop_at=5)
    assert part.iteration == 5
    flush_denormal_everywhere(False)  # a resumed process: the pool started while loading, unflushed
    torch.set_flush_denormal(True)
    assert thread_flush_states() == {True, False}
    resumed = train_seed(store64, [0, 1, 2], [4], cfg, 3, tmp_path / "part", resume=True, progress=False)
    assert resumed.resumed_from == 5 and resumed.iteration == 10
    a, b = load_checkpoint(full.run_dir / "last.ckpt"), load_checkpoint(resumed.run_dir / "last.ckpt")
    assert (_denormals(a), _denormals(b)) == (0, 0)
    assert _differing(a, b) == []
    assert thread_flush_states() == {True}
    assert a["num_threads"] == b["num_threads"] == 2


def test_resume_with_another_thread_count_is_refused(store64, tmp_path, two_threads):
    cfg = TrainConfig(**{**TINY_GRADIENTS, "ckpt_every": 1})
    train_seed(store64, [0, 1, 2], [4], cfg, 3, tmp_path / "run", progress=False, stop_at=1)
    torch.set_num_threads(1)
    with pytest.raises(UserError, match="the run used 2 CPU threads, this process has 1; set OMP_NUM_THREADS=2"):
        train_seed(store64, [0, 1, 2], [4], cfg, 3, tmp_path / "run", resume=True, progress=False)
    assert load_checkpoint(tmp_path / "run" / "last.ckpt")["iteration"] == 1


def test_flush_denormal_everywhere_reaches_every_thread(two_threads):
    if not torch.set_flush_denormal(True):
        pytest.skip("this CPU cannot flush denormals")
    for on in (False, True, False, True):
        flush_denormal_everywhere(on)
        assert thread_flush_states() == {on}
