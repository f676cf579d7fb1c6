"""Training throughput of the demo's runs when more worker processes than cores share the CPU.

The demo runs every call on one CPU thread in a pool of worker processes
(:func:`euv2mag.demo.default_processes`).  With one process per core its training runs go in
rounds; with more processes than cores they share the cores, which keeps every core busy to the
end but makes each core switch between several training processes.  This benchmark measures
what that sharing costs: K processes, each training the demo's main configuration (``cc``
variant, coordinate channels, sign-blind |B| CC loss, 128 px, ngf = ndf = 16, fp32, one
thread) on fixed random tensors, start together and step for the same wall time; the result is
the iterations done by all of them per second, and its ratio against K = the number of cores
measured in the same run.  Rounds interleave the values of K (medians over rounds), so a change
in the machine's speed during the run hits them alike.

Usage::

    python benchmarks/demo_processes.py                 # K = cores, cores + 1, 5; 30 s each, 2 rounds
    python benchmarks/demo_processes.py --k 2 5 --seconds 60 --rounds 3
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import time


def _train_for(seconds: float, start_at: float, out) -> None:
    """Worker: build the demo's main trainer, wait for ``start_at``, step for ``seconds``; put the count."""
    import torch

    from euv2mag.demo import DemoOptions, training_options
    from euv2mag.model.config import layered_config
    from euv2mag.model.train import Pix2PixTrainer

    torch.set_num_threads(1)
    torch.manual_seed(0)
    o = DemoOptions()  # the default demo's main configuration, as its plan builds it
    cfg = layered_config(o.variant, None, {**training_options(o)[1], "size": o.size})
    trainer = Pix2PixTrainer(cfg, torch.device("cpu"))
    x, y = torch.randn(1, cfg.input_channels, o.size, o.size), torch.randn(1, 1, o.size, o.size)
    mask = torch.ones(1, 1, o.size, o.size)
    for _ in range(3):  # warm-up (allocator, oneDNN primitives)
        trainer.step(x, y, mask)
    while time.time() < start_at:
        time.sleep(0.01)
    n, end = 0, start_at + seconds
    while time.time() < end:
        trainer.step(x, y, mask)
        n += 1
    out.put(n)


def throughput(k: int, seconds: float) -> float:
    """Iterations per second of ``k`` concurrent one-thread training processes."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 20.0  # time for every process to import torch and warm up
    procs = [ctx.Process(target=_train_for, args=(seconds, start_at, out)) for _ in range(k)]
    for p in procs:
        p.start()
    counts = [out.get() for _ in procs]
    for p in procs:
        p.join()
    return sum(counts) / seconds


def main(argv=None) -> None:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, nargs="+", default=sorted({cores, cores + 1, 5}),
                    help="process counts to compare (the first is the baseline; default: cores, cores + 1, 5)")
    ap.add_argument("--seconds", type=float, default=30.0, help="stepping time per measurement (s)")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds (median)")
    args = ap.parse_args(argv)
    ks = [cores, *[k for k in args.k if k != cores]]
    rates: dict[int, list[float]] = {k: [] for k in ks}
    for r in range(args.rounds):
        for k in ks:
            rates[k].append(throughput(k, args.seconds))
            print(f"round {r + 1}: {k} processes {rates[k][-1]:.2f} iterations/s", flush=True)
    base = statistics.median(rates[cores])
    print(f"\n{cores} cores; median over {args.rounds} rounds of {args.seconds:g} s")
    for k in ks:
        rate = statistics.median(rates[k])
        print(f"{k} processes: {rate:.2f} iterations/s ({1000 * cores / rate:.0f} ms per iteration per core), "
              f"{rate / base:.3f}x the {cores}-process throughput")


if __name__ == "__main__":
    main()
