"""Benchmark: synthetic frame pairs per second at 256^2 and 1024^2 on one core, and the share of
time spent writing the Zarr store (I/O) vs rendering (computation).

Run: ``OMP_NUM_THREADS=1 python benchmarks/synth_speed.py [--frames N]``.  The script pins
BLAS/OpenMP pools to one thread itself (threadpoolctl when available).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("EUV2MAG_NO_PROGRESS", "1")


def bench(size: int, frames: int) -> dict:
    from euv2mag.data.synthetic import SynthParams, synthesize

    params = SynthParams(start="2014-03-01", end=f"2014-03-{1 + (frames - 1) // 2:02d}T12:00",
                         cadence="12h", size=size, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        # warm the per-day region caches and sunpy imports with one frame
        synthesize(os.path.join(tmp, "warm.zarr"), SynthParams(start=params.start, end=params.start, size=size),
                   progress=False)
        t0 = time.perf_counter()
        out = synthesize(os.path.join(tmp, "b.zarr"), params, progress=False)
        wall = time.perf_counter() - t0
    busy = out["render_s"] + out["write_s"]
    return {"size": size, "frames": out["written"], "pairs_per_s": out["written"] / busy,
            "wall_pairs_per_s": out["written"] / wall, "io_share": out["write_s"] / busy,
            "compute_share": out["render_s"] / busy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=10, help="frames per size (default 10)")
    args = parser.parse_args()
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass
    print(f"{'size':>6} {'frames':>6} {'pairs/s':>8} {'incl. setup':>11} {'I/O share':>9} {'compute':>8}")
    for size in (256, 1024):
        r = bench(size, args.frames)
        print(f"{r['size']:>6} {r['frames']:>6} {r['pairs_per_s']:>8.2f} {r['wall_pairs_per_s']:>11.2f} "
              f"{r['io_share']:>9.1%} {r['compute_share']:>8.1%}")
    print("target: >= 1 pair/s at 1024^2 on one core")


if __name__ == "__main__":
    main()
