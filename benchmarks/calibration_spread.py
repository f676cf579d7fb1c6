"""Calibration table of the synthetic Sun over several seeds (issue 13): the realisation spread.

For the five calibration dates of ``docs/synthetic-sun.rst`` -- the two real HMI maps
(2016-07-07, 2019-06-21; synthetic frames at the date and +-6, +-12 days) and the first cycle-24
peak (November 2011, December 2011, January 2012; frames every third day at 12:00 through the
month) -- the :data:`~euv2mag.data.synthetic.realism.DISK_QUANTITIES` (shares of disk pixels above
50/100/500 G, TUMF, share of the TUMF kept by a +-100 G clip; pixels with r < 0.95 R) are made for
each seed (:func:`~euv2mag.data.synthetic.realism.ensemble_statistics`) and printed beside the
real reference: each seed's value (median over its frames), the median over seeds, the mean over
all frames (the expectation over realisations) and the real value's percentile among all the
synthetic frames.  Ratios are synthetic / real (the kept share: synthetic - real); the criterion of
issue 13 is a factor 1.5 (the kept share within 0.05).

Real references: the two HMI files from ``$EUV2MAG_SHARED_DATA/hmi`` (default ``../shared/data``
beside the repository; without them those rows and the November/January references are left out),
prepared at the frames' size; December 2011 = :data:`~euv2mag.data.synthetic.realism.DEC2011_REAL`;
November 2011 / January 2012 = :func:`~euv2mag.data.synthetic.realism.peak_reference` at the
months' sunspot numbers (WDC-SILSO 139.1 / 94.4).

Run: ``OMP_NUM_THREADS=1 python benchmarks/calibration_spread.py [--seeds 10] [--size 1024]
[--json out.json]`` (10 seeds at 1024^2: 420 frames, ~3-4 min on an idle core).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

#: name -> (centre time, frame offsets in days, monthly SSN or None, real HMI file or None)
DATES = {
    "2016-07-07": ("2016-07-07T01:00:00", (-12, -6, 0, 6, 12), None, "hmi_m_720s_20160707_010000_TAI.fits"),
    "2019-06-21": ("2019-06-21T06:00:00", (-12, -6, 0, 6, 12), None, "hmi_m_720s_20190621_060000_TAI.fits"),
    "2011-11": ("2011-11-01T12:00", tuple(range(0, 30, 3)), 139.1, None),
    "2011-12": ("2011-12-01T12:00", tuple(range(0, 31, 3)), 109.3, None),
    "2012-01": ("2012-01-01T12:00", tuple(range(0, 31, 3)), 94.4, None),
}


def references(size: int, shared: Path) -> dict:
    """Real reference values per date (missing dates/quantities are absent)."""
    from euv2mag.audit.calibration import disk_statistics
    from euv2mag.data.fits import prepare_hmi
    from euv2mag.data.synthetic.realism import DEC2011_REAL, peak_reference

    out = {"2011-12": dict(DEC2011_REAL)}
    for name, (_, _, _, fname) in DATES.items():
        if fname and (shared / "hmi" / fname).is_file():
            mag, geom = prepare_hmi(shared / "hmi" / fname, size=size)
            out[name] = disk_statistics(mag, geom)
    if "2016-07-07" in out:
        for name in ("2011-11", "2012-01"):
            out[name] = peak_reference(out["2016-07-07"], DATES[name][2])
    return out


def _cmp(q: str, s: float, r: float) -> str:
    if q == "clip100_share":
        return f"{s - r:+.3f}"
    return f"{s / r:.2f}" if r > 0 else ("-" if s == 0 else "inf")


def _fmt(q: str, v: float) -> str:
    return f"{v:.3g}" if q == "tumf_mx" else (f"{v:.3f}" if q == "clip100_share" else f"{100 * v:.4f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 (default 10)")
    parser.add_argument("--size", type=int, default=1024, help="image side (default 1024)")
    parser.add_argument("--dates", nargs="+", default=list(DATES), choices=list(DATES))
    parser.add_argument("--json", help="also write every number (per frame, per seed) to this JSON file")
    args = parser.parse_args()
    os.environ.setdefault("EUV2MAG_NO_PROGRESS", "1")
    from euv2mag.data.synthetic import GENERATOR_VERSION, SynthParams
    from euv2mag.data.synthetic.realism import DISK_QUANTITIES, ensemble_statistics, real_percentile

    repo = Path(__file__).resolve().parents[1]
    shared = Path(os.environ.get("EUV2MAG_SHARED_DATA", repo.parent / "shared" / "data"))
    real = references(args.size, shared)
    seeds = list(range(args.seeds))
    dump = {"generator_version": GENERATOR_VERSION, "size": args.size, "seeds": seeds, "dates": {}}
    print(f"generator v{GENERATOR_VERSION}, {args.size}^2, seeds 0..{args.seeds - 1}; ratio = synthetic/real "
          "(kept share: synthetic - real); pct = real value's percentile among all synthetic frames")
    for name in args.dates:
        centre, offsets, _, _ = DATES[name]
        t0 = time.perf_counter()
        ens = ensemble_statistics(SynthParams(start=centre[:16], end=centre[:16], size=args.size), centre,
                                  offsets_days=offsets, seeds=seeds)
        n = len(seeds) * ens["n_frames"]
        print(f"\n== {name}: {ens['n_frames']} frames per seed ({(time.perf_counter() - t0) / n:.2f} s/frame)")
        print(f"{'quantity':>14} {'real':>10} {'seed 0':>16} {'seed range':>22} {'median of seeds':>22} "
              f"{'mean':>22} {'pct':>5}")
        rows = {}
        for q in DISK_QUANTITIES:
            per, med, mean = ens["per_seed"][q], ens["median"][q], ens["mean"][q]
            r = real.get(name, {}).get(q)
            lo, hi = float(per.min()), float(per.max())
            if r is None:
                print(f"{q:>14} {'-':>10} {_fmt(q, per[0]):>16} {_fmt(q, lo) + ' to ' + _fmt(q, hi):>22} "
                      f"{_fmt(q, med):>22} {_fmt(q, mean):>22} {'-':>5}")
            else:
                pct = real_percentile(r, ens["frames"][q])
                print(f"{q:>14} {_fmt(q, r):>10} {_fmt(q, per[0]) + ' (' + _cmp(q, per[0], r) + ')':>16} "
                      f"{_cmp(q, lo, r) + ' to ' + _cmp(q, hi, r):>22} {_fmt(q, med) + ' (' + _cmp(q, med, r) + ')':>22} "
                      f"{_fmt(q, mean) + ' (' + _cmp(q, mean, r) + ')':>22} {pct:>5.0f}")
            rows[q] = {"real": r, "per_seed": [float(x) for x in per], "median": med, "mean": mean,
                       "frames": ens["frames"][q].tolist()}
        dump["dates"][name] = rows
    print("\ncriterion (issue 13): ratio within a factor 1.5, kept share within 0.05")
    if args.json:
        Path(args.json).write_text(json.dumps(dump, indent=1))


if __name__ == "__main__":
    main()
