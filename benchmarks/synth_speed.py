"""Benchmark: synthetic frame pairs per second at 256^2 and 1024^2 on one core, the share of
time spent writing the Zarr store (I/O) vs rendering (computation), and the ratio to a baseline
measured in the same run.

The baseline is the same generator with ``activity="analytic"`` (the emergence envelope of the
generator before version 3: the analytic cycle, ~60 in sunspot number in late 2011 instead of the
observed 109-139), so the ratio shows what the observed activity envelope and the larger sunspots
cost.  The default dates are November 2011, the busiest month of the first cycle-24 peak in the
observed envelope (monthly sunspot number 139.1, WDC-SILSO), and March 2014 (the second peak).

Run: ``OMP_NUM_THREADS=1 python benchmarks/synth_speed.py [--frames N] [--dates 2011-11-01 ...]``.
The script pins BLAS/OpenMP pools to one thread itself (threadpoolctl when available).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("EUV2MAG_NO_PROGRESS", "1")


def bench(size: int, frames: int, date: str, activity: str = "observed") -> dict:
    from astropy.time import Time

    from euv2mag.data.synthetic import SynthParams, synthesize

    end = Time(Time(date, scale="utc").mjd + 0.5 * (frames - 1), format="mjd", scale="utc").isot[:16]
    params = SynthParams(start=date, end=end, cadence="12h", size=size, seed=0, activity=activity)
    with tempfile.TemporaryDirectory() as tmp:
        # warm the per-day region caches and sunpy imports with one frame
        synthesize(os.path.join(tmp, "warm.zarr"),
                   SynthParams(start=params.start, end=params.start, size=size, activity=activity), progress=False)
        t0 = time.perf_counter()
        out = synthesize(os.path.join(tmp, "b.zarr"), params, progress=False)
        wall = time.perf_counter() - t0
    busy = out["render_s"] + out["write_s"]
    return {"size": size, "date": date, "activity": activity, "frames": out["written"],
            "pairs_per_s": out["written"] / busy, "wall_pairs_per_s": out["written"] / wall,
            "io_share": out["write_s"] / busy, "compute_share": out["render_s"] / busy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=10, help="frames per size and date (default 10)")
    parser.add_argument("--dates", nargs="+", default=["2011-11-01", "2014-03-01"],
                        help="first frame of each series (default 2011-11-01 2014-03-01)")
    args = parser.parse_args()
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass
    print(f"{'size':>6} {'date':>10} {'frames':>6} {'pairs/s':>8} {'incl. setup':>11} {'I/O share':>9} "
          f"{'compute':>8} {'baseline pairs/s':>16} {'ratio':>6}")
    for size in (256, 1024):
        for date in args.dates:
            r = bench(size, args.frames, date)
            b = bench(size, args.frames, date, activity="analytic")
            print(f"{r['size']:>6} {date:>10} {r['frames']:>6} {r['pairs_per_s']:>8.2f} {r['wall_pairs_per_s']:>11.2f} "
                  f"{r['io_share']:>9.1%} {r['compute_share']:>8.1%} {b['pairs_per_s']:>16.2f} "
                  f"{r['pairs_per_s'] / b['pairs_per_s']:>6.2f}")
    print("target: >= 1 pair/s at 1024^2 on one core; baseline = activity='analytic' in the same run")


if __name__ == "__main__":
    main()
