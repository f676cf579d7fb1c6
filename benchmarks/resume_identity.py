"""Is an interrupted and resumed training run bit-identical to the uninterrupted one?

Each trial trains a small configuration (64 px store, ngf = ndf = 8) three times, every time in
a **fresh Python process** (as ``euv2mag train`` and ``euv2mag train --resume`` run):

* ``full``: ``iters`` iterations uninterrupted;
* ``part``: the same run stopped after ``iters / 2`` iterations (its ``last.ckpt``);
* ``resume``: ``part`` continued to ``iters``.

It then compares every tensor of the two final ``last.ckpt`` (G, D, both Adam states) bit for bit
and counts the denormal values (``x != 0`` and ``|x| < finfo(float32).tiny``) in the Adam
moments of both.  ``--busy N`` runs N busy-loop processes beside the trials (scheduling noise on
a shared CPU); ``--threads`` sets ``torch.set_num_threads`` in every training process.

Measured (2 shared Zen 4 cores, torch 2.13.0+cpu, 2 threads), before / after the fix in
:mod:`euv2mag.model._fpenv`:

* default configuration, 40 iterations, one busy-loop process beside: 3 of 3 trials identical,
  0 denormal moments in both, before and after (2 more trials without the busy loop, before: the same);
* ``--cfg '{"gan_mode": "none", "lambda_l1": 1e-16}'`` (gradients near 1e-19, so Adam's second
  moments reach the denormal range), 10 iterations: before, 2 of 2 trials differ in 25 tensors
  (the ``exp_avg_sq`` of most generator layers first) with 160 243 denormal moments in the resumed
  ``last.ckpt`` against 0 in the uninterrupted one; after, 2 of 2 identical, 0 and 0.

Usage::

    PYTHONPATH=src python benchmarks/resume_identity.py --trials 5 --threads 2 --busy 1
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _child(args) -> None:
    """One training process: ``full``, ``part`` or ``resume`` into ``args.run``."""
    import torch

    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(ROOT / "tests"))
    from _model_data import EUV_OPTIONS

    from euv2mag.model.config import TrainConfig
    from euv2mag.model.train import train_seed

    half = args.iters // 2
    cfg = TrainConfig(ngf=8, ndf=8, iters=args.iters, val_every=args.iters, ckpt_every=half, log_every=half,
                      **EUV_OPTIONS, **json.loads(args.cfg))
    kw = dict(progress=False)
    if args.child == "part":
        kw["stop_at"] = half
    train_seed(args.store, [0, 1, 2], [4], cfg, 3, args.run, resume=args.child == "resume", **kw)


def denormals(ckpt: dict) -> int:
    """Denormal float32 values in the Adam moments (``exp_avg``, ``exp_avg_sq``) of a checkpoint."""
    import torch

    tiny = torch.finfo(torch.float32).tiny
    n = 0
    for key in ("opt_G", "opt_D"):
        for state in ckpt.get(key, {}).get("state", {}).values():
            for name in ("exp_avg", "exp_avg_sq"):
                x = state[name]
                n += int(((x != 0) & (x.abs() < tiny)).sum())
    return n


def differing(a: dict, b: dict) -> list[str]:
    """Names of the tensors of G, D and the Adam states that differ between two checkpoints."""
    import torch

    out = []
    for key in ("G", "D"):
        out += [f"{key}.{k}" for k in a.get(key, {}) if not torch.equal(a[key][k], b[key][k])]
    for key in ("opt_G", "opt_D"):
        for p, state in a.get(key, {}).get("state", {}).items():
            out += [f"{key}[{p}].{k}" for k, v in state.items() if not torch.equal(v, b[key]["state"][p][k])]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--iters", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--busy", type=int, default=0, help="busy-loop processes beside the trials")
    ap.add_argument("--cfg", default="{}", help="extra TrainConfig fields as JSON")
    ap.add_argument("--child", choices=("full", "part", "resume"), help=argparse.SUPPRESS)
    ap.add_argument("--store", help=argparse.SUPPRESS)
    ap.add_argument("--run", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(args)
        return 0

    sys.path.insert(0, str(ROOT / "tests"))
    from _model_data import make_pair_store

    from euv2mag.model.checkpoint import load_checkpoint

    env = {**os.environ, "EUV2MAG_NO_PROGRESS": "1", "PYTHONPATH": str(ROOT / "src")}
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            store = make_pair_store(Path(tmp) / "pairs.zarr", n_frames=6, size=64)
            for trial in range(args.trials):
                runs = {}
                for child, folder in (("full", "full"), ("part", "part"), ("resume", "part")):
                    run = Path(tmp) / f"t{trial}-{folder}"
                    t0 = time.perf_counter()
                    subprocess.run([sys.executable, __file__, "--child", child, "--store", str(store), "--run", str(run),
                                    "--iters", str(args.iters), "--threads", str(args.threads), "--cfg", args.cfg],
                                   check=True, env=env)
                    runs[child] = time.perf_counter() - t0
                a = load_checkpoint(Path(tmp) / f"t{trial}-full" / "last.ckpt")
                b = load_checkpoint(Path(tmp) / f"t{trial}-part" / "last.ckpt")
                diff = differing(a, b)
                print(f"trial {trial}: identical={not diff} differing_tensors={len(diff)} "
                      f"denormals full={denormals(a)} resumed={denormals(b)} "
                      f"seconds={runs['full']:.1f}/{runs['part']:.1f}/{runs['resume']:.1f}"
                      + (f" first={diff[:3]}" if diff else ""), flush=True)
    finally:
        for p in busy:
            p.kill()
            p.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
