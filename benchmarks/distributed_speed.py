"""Throughput of ``audit`` and ``prepare`` on a local Dask cluster: 2 workers against 1.

Builds a synthetic series (``--frames`` frames of ``--size``^2, with its AIA/HMI FITS pairs), a
prediction store (the truth plus 30 G noise), then times in one process:

* ``audit_stores(truth, [pred], n_boot=0, out=...)`` and
* ``prepare_store(out, aia_paths=..., hmi_paths=..., size=...)`` from the FITS pairs,

serially (no Dask), on a quiet :func:`euv2mag.parallel.local_cluster` of 1 worker process and on
one of 2, each reached by its ``tcp://`` address (so the clusters' start-up, reported apart, is
not part of the throughput; every cluster runs one warm-up audit and prepare first, which imports
the libraries in its workers).  The three configurations are timed in ``--repeat`` interleaved
rounds, into fresh output folders, and each keeps its best time, so that a change of the
machine's load affects all three alike.  Prints frames/s and the ratio **2 workers / 1 worker** (target >= 1.7), and the
dashboard-free overhead per task: the wall time per item of mapping a no-op over 400 items with
:meth:`euv2mag.parallel.FrameMap.map` on each cluster, one item per task and in the batches of
:meth:`~euv2mag.parallel.FrameMap.batch_size` (as ``prepare`` submits its frames).

Each configuration also reports the CPU seconds per frame of this process (the client, which
writes the output (for prepare on a cluster: geometry and bookkeeping only), plus the local clusters' schedulers, threads of it) and of the worker
processes, from :mod:`psutil` -- robust to the machine's load, unlike frames/s; the client's
less what this process uses when idle (heartbeats and monitors of its schedulers, nannies and
clients, measured over 5 s: it grows with the wall time, not the frames) -- and from them
the CPU bound of the 2-vs-1 ratio: with 1 worker, worker and client overlap on two cores
(``1 / max(w, c)`` frames/s); with 2 workers the total ``w + c`` shares the machine's cores and the
client alone allows ``1 / c``.  ``--dask-defaults`` starts the workers with Dask's default settings
instead of :data:`euv2mag.parallel.LOCAL_WORKER_CONFIG` (the measurement before that fix).

Thread pools are limited to one thread per process (OMP/MKL/OpenBLAS set before NumPy is
imported; Dask workers inherit them).  The 1-minute load average is printed before and after:
on a shared machine a ratio measured under load understates the speed-up.

``prepare``'s workers write their frames' images into the staging store themselves; ``--client-writes``
also times prepare on each cluster with this process writing them (the path before,
``euv2mag.data.prepare.WORKERS_WRITE = False``), interleaved in the same rounds, and prints both
ratios.  ``--commands prepare`` times prepare only.

Usage: ``python benchmarks/distributed_speed.py [--size 512] [--frames 16] [--repeat 3] [--commands audit,prepare]
[--client-writes] [--dask-defaults]``
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("EUV2MAG_NO_PROGRESS", "1")

import argparse  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402


def _noop(item):
    return item


def build_inputs(root: Path, size: int, frames: int):
    """Synthetic truth store + FITS pairs, and a prediction store (truth + 30 G noise)."""
    from euv2mag.data.store import FrameStore, StoreWriter
    from euv2mag.data.synthetic import SynthParams, synthesize

    hours = 12
    end = np.datetime64("2014-03-01T00:00") + np.timedelta64(hours * (frames - 1), "h")
    params = SynthParams(start="2014-03-01", end=str(end), cadence=f"{hours}h", size=size, seed=1)
    synthesize(root / "truth.zarr", params, fits_dir=root / "fits", progress=False)
    truth = FrameStore(root / "truth.zarr")
    w = StoreWriter.open(root / "pred.zarr", n_frames=truth.n_frames, shape=truth.shape, arrays=("pred",),
                         kind="test", params={})
    rng = np.random.default_rng(0)
    for i in range(truth.n_frames):
        mag = truth.read("mag", i)
        w.write_frame(i, truth.geometry(i), pred=(mag + rng.normal(0, 30, mag.shape)).astype(np.float32))
    w.finish()
    fits = root / "fits"
    return (root / "truth.zarr", root / "pred.zarr", sorted(str(p) for p in fits.glob("aia_*.fits")),
            sorted(str(p) for p in fits.glob("hmi_*.fits")))


def _worker_cpu() -> float:
    """CPU seconds (user + system) this worker process has used so far (run on every worker)."""
    import psutil

    times = psutil.Process().cpu_times()
    return times.user + times.system


def timed(fn, client=None) -> tuple[float, float, float]:
    """``(wall s, CPU s of this process, CPU s of the workers)`` of ``fn()``.

    This process is the client, and also runs the local clusters' schedulers (threads of it);
    its CPU time is that of all its threads.  The workers' is the sum over the cluster's worker
    processes (0 on the serial path); both are robust to the machine's load, unlike the wall time.
    """
    before = sum(client.run(_worker_cpu).values()) if client is not None else 0.0
    c0, t0 = time.process_time(), time.perf_counter()
    fn()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    after = sum(client.run(_worker_cpu).values()) if client is not None else 0.0
    return wall, cpu, after - before


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--commands", default="audit,prepare",
                        help="comma-separated commands to time (audit, prepare; default both)")
    parser.add_argument("--client-writes", action="store_true",
                        help="also time prepare on each cluster with the client writing the images "
                             "(euv2mag.data.prepare.WORKERS_WRITE = False, the path before workers wrote), "
                             "interleaved with the default")
    parser.add_argument("--dask-defaults", action="store_true",
                        help="start the workers with Dask's default settings instead of "
                             "euv2mag.parallel.LOCAL_WORKER_CONFIG (the measurement before it)")
    args = parser.parse_args(argv)
    commands = [c.strip() for c in args.commands.split(",") if c.strip()]
    if not commands or set(commands) - {"audit", "prepare"}:
        parser.error(f"--commands: expected audit and/or prepare, got {args.commands!r}")

    from distributed import Client

    import euv2mag.data.prepare as prep
    from euv2mag.audit import audit_stores
    from euv2mag.parallel import FrameMap, local_cluster

    if args.dask_defaults:
        import euv2mag.parallel

        euv2mag.parallel.LOCAL_WORKER_CONFIG = {}
    print(f"cpus {os.cpu_count()}  load average (1 min) before: {os.getloadavg()[0]:.2f}  "
          f"worker settings: {'Dask defaults' if args.dask_defaults else 'euv2mag.parallel.LOCAL_WORKER_CONFIG'}")
    root = Path(tempfile.mkdtemp(prefix="euv2mag-dist-"))
    try:
        t0 = time.perf_counter()
        truth, pred, aia, hmi = build_inputs(root, args.size, args.frames)
        build = time.perf_counter() - t0
        print(f"inputs: {args.frames} frames of {args.size}^2 (+ FITS pairs) in {build:.1f} s")
        counter = iter(range(10**6))

        def audit(scheduler, frames=None):
            out = root / f"audit-{next(counter)}"
            audit_stores(truth, [pred], n_boot=0, out=out, scheduler=scheduler, indices=frames, progress=False)
            shutil.rmtree(out)

        def prepare(scheduler, n=None, workers_write=True):
            out = root / f"prep-{next(counter)}.zarr"
            prep.WORKERS_WRITE = workers_write
            try:
                prep.prepare_store(out, aia_paths=aia[:n], hmi_paths=hmi[:n], size=args.size, progress=False,
                                   scheduler=scheduler)
            finally:
                prep.WORKERS_WRITE = True
            shutil.rmtree(out)
            Path(str(out) + ".skipped.csv").unlink()

        jobs = {"audit": audit, "prepare": prepare}
        # both clusters stay up together (idle workers cost nothing); the configurations are
        # timed in interleaved rounds so that a change of the machine's load hits all of them
        with local_cluster(1) as one, local_cluster(2) as two:
            print(f"local clusters of 1 and 2 workers started in {time.perf_counter() - t0 - build:.1f} s")
            where = {"serial": None, 1: one.scheduler_address, 2: two.scheduler_address}
            # configuration -> (label, scheduler, client writes prepare's images)
            configs = {"serial": ("serial (no Dask)", None, False), 1: ("1 worker", where[1], False),
                       2: ("2 workers", where[2], False)}
            if args.client_writes and "prepare" in commands:
                configs |= {"1c": ("1 worker, client writes", where[1], True),
                            "2c": ("2 workers, client writes", where[2], True)}
            audit(None, [0])  # warm-up: imports in this process and in the workers
            prepare(None, 1)
            for n in (1, 2):
                audit(where[n], list(range(min(2 * n, args.frames))))
                prepare(where[n], 2 * n)
            clients = {1: Client(where[1]), 2: Client(where[2])}
            # this process's CPU while nothing runs (schedulers, nannies, clients: heartbeats and
            # monitors); it grows with the wall time, not with the frames, and is subtracted below
            c0, t0 = time.process_time(), time.perf_counter()
            time.sleep(5.0)
            idle_rate = (time.process_time() - c0) / (time.perf_counter() - t0)
            # per configuration and command: (wall, client CPU, worker CPU) of the fastest round
            best = {(key, c): (float("inf"), 0.0, 0.0) for key, (_, _, cw) in configs.items() for c in commands
                    if not (cw and c == "audit")}
            for _ in range(args.repeat):
                for key, command in best:
                    label, scheduler, client_writes = configs[key]
                    job = jobs[command]
                    run = (lambda: job(scheduler, workers_write=not client_writes)) if command == "prepare" else \
                        (lambda: job(scheduler))
                    cluster_client = clients.get(key if key in (1, 2) else {"1c": 1, "2c": 2}.get(key))
                    best[key, command] = min(best[key, command], timed(run, cluster_client))
            for client in clients.values():
                client.close()
            overhead, batched = {}, {}
            for n in (1, 2):
                with FrameMap(where[n]) as pool:
                    list(pool.map(_noop, range(50)))
                    t1 = time.perf_counter()
                    list(pool.map(_noop, range(400)))
                    overhead[n] = (time.perf_counter() - t1) / 400
                    k = pool.batch_size(400)
                    t1 = time.perf_counter()
                    list(pool.map(_noop, range(400), batch=k))
                    batched[n] = (k, (time.perf_counter() - t1) / 400)

        print("fastest rounds (wall s, client CPU s, worker CPU s):",
              {f"{key}/{command}": tuple(round(v, 3) for v in run) for (key, command), run in best.items()},
              f"idle client CPU {idle_rate * 1e3:.1f} ms/s")

        def rate(key, command):
            return args.frames / best[key, command][0]

        def client_cpu(run):  # (wall, cpu, workers) -> client CPU per frame, idle background removed
            return max(0.0, run[1] - idle_rate * run[0]) / args.frames

        print(f"{'':28s}" + "".join(f"{c + ' frames/s':>18s}" for c in commands))
        for key, (label, _, _) in configs.items():
            print(f"{label:28s}" + "".join(f"{rate(key, c):18.2f}" if (key, c) in best else f"{'':18s}"
                                           for c in commands))
        for command in commands:
            print(f"ratio 2 workers / 1 worker, {command}: {rate(2, command) / rate(1, command):.2f}x (target >= 1.7x)"
                  + (f"; with the client writing the images {rate('2c', command) / rate('1c', command):.2f}x"
                     if ("2c", command) in best else "")
                  + f"; 1 worker / serial {rate(1, command) / rate('serial', command):.2f}x")
        print(f"CPU seconds per frame (fastest round; robust to the load, unlike frames/s); client = this process "
              f"less its idle {idle_rate * 1e3:.1f} ms CPU per s x wall time:")
        print(f"{'':28s}" + "".join(f"{c + ' client':>16s}{'workers':>9s}" for c in commands))
        for key, (label, _, _) in configs.items():
            print(f"{label:28s}" + "".join(
                f"{client_cpu(best[key, c]):16.3f}{best[key, c][2] / args.frames:9.3f}" if (key, c) in best
                else f"{'':25s}" for c in commands))
        cores = os.cpu_count() or 1
        for key, command in [(k, c) for k, c in best if k in (1, "1c")]:
            c, w = client_cpu(best[key, command]), best[key, command][2] / args.frames
            # 1 worker: worker and client overlap on separate cores -> 1 / max(w, c) frames/s;
            # 2 workers: bounded by the cores (all CPU shared) and by the client alone
            client_rate = 1.0 / c if c > 0 else float("inf")  # 0 when the idle subtraction exceeds it
            one = 1.0 / max(w, c)
            two = min(2.0 / w, client_rate, cores / (w + c))
            two_more = min(2.0 / w, client_rate)
            how = ", client writes" if key == "1c" else ""
            print(f"CPU bound of 2 workers / 1 worker, {command}{how}: {two / one:.2f}x on {cores} cores, "
                  f"{two_more / one:.2f}x with a core free for the client (client {c:.3f} s, worker {w:.3f} s per frame)")
        print(f"overhead per task (no-op mapped over 400 items, no dashboard): {overhead[1] * 1e3:.2f} ms with 1 worker, "
              f"{overhead[2] * 1e3:.2f} ms with 2; per item in batches of FrameMap.batch_size(400): "
              f"{batched[1][1] * 1e3:.2f} ms with 1 worker ({batched[1][0]} items per task), "
              f"{batched[2][1] * 1e3:.2f} ms with 2 ({batched[2][0]} per task)")
        print(f"load average (1 min) after: {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
