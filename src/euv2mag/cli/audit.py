"""``euv2mag audit --truth STORE --pred PRED.zarr [--pred ...] --out DIR``: audit generated magnetograms.

Calls :func:`euv2mag.audit.audit_stores` (what is computed and the files written are documented
there and in :mod:`euv2mag.audit.files`, :mod:`euv2mag.audit.summary`) and prints the headline
numbers.  An interrupted audit resumes when re-run with the same arguments.
"""
from __future__ import annotations

from ..audit.bootstrap import DISK_PASSAGE_DAYS
from . import add_cluster_options, bounded, nonnegative_float, nonnegative_int, positive_float, positive_int

_fraction = bounded(float, low=0, high=1, low_inclusive=False, what="a number in (0, 1]")
_open_fraction = bounded(float, low=0, high=1, low_inclusive=False, high_inclusive=False, what="a number in (0, 1)")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "audit",
        help="full-disk, active-region and run-to-run audit of prediction stores against the truth",
        description="Compare prediction stores (array 'pred') with a truth store (array 'mag'): full-disk "
        "flux and pixel metrics, detected active regions and their matching, Hale's-law breakdown and, "
        "with several predictions, run-to-run variability.",
    )
    p.add_argument("--truth", required=True, help="truth store (array 'mag')")
    p.add_argument("--pred", dest="preds", required=True, action="append", metavar="PRED.zarr",
                   help="prediction store (array 'pred'); repeat for several runs")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--r-max", type=_fraction, default=0.95, help="disk cut in solar radii (default: 0.95)")
    p.add_argument("--threshold-g", type=nonnegative_float, default=10.0,
                   help="noise threshold of the flux sums in G, per map (default: 10)")
    p.add_argument("--bin", type=positive_int, default=8, help="block size of the binned pixel CC (default: 8)")
    p.add_argument("--strong-g", type=nonnegative_float, default=50.0,
                   help="both maps above this |B| (G) for the polarity agreement (default: 50)")
    p.add_argument("--max-distance-deg", type=nonnegative_float, default=5.0,
                   help="largest centre distance of a region match, degrees (default: 5)")
    p.add_argument("--min-pairs", type=positive_int, default=10,
                   help="fewest pairs for a CC, R^2, slope or median ratio; fewer give NaN (default: 10)")
    p.add_argument("--indices", type=int, nargs="+", metavar="I", help="prediction frames to audit (default: all)")
    add_cluster_options(p)
    p.add_argument("--n-boot", type=nonnegative_int, default=1000,
                   help="bootstrap replicates of the confidence intervals: time blocks of frames, truth regions for the "
                   "footprint polarity (default: 1000; 0: none)")
    p.add_argument("--ci-block-days", type=positive_float, default=DISK_PASSAGE_DAYS,
                   help=f"length of the bootstrap's time blocks in days (default: {DISK_PASSAGE_DAYS}, one disk passage)")
    p.add_argument("--ci-level", type=_open_fraction, default=0.95, help="coverage of the intervals (default: 0.95)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..audit import AuditParams, DetectionParams, FullDiskParams, audit_stores

    params = AuditParams(
        fulldisk=FullDiskParams(r_max=args.r_max, threshold_g=args.threshold_g, bin_factor=args.bin, strong_g=args.strong_g),
        detection=DetectionParams(r_max=args.r_max), max_distance_deg=args.max_distance_deg, min_pairs=args.min_pairs,
        ci_block_days=args.ci_block_days, ci_level=args.ci_level,
    )
    result = audit_stores(args.truth, args.preds, params=params, workers=args.workers, scheduler=args.scheduler,
                          n_boot=args.n_boot, out=args.out, indices=args.indices)
    s = result.summary
    fd, reg = s.mean_over_predictions.fulldisk, s.mean_over_predictions.regions
    print(f"audited {len(s.inputs['frames'])} frames x {len(s.predictions)} predictions")
    print(f"TUMF CC {fd.tumf.cc:.3f}  NMF CC {fd.nmf.cc:.3f}  pixel CC {fd.mean_cc:.3f} (binned {fd.mean_cc_binned:.3f})  "
          f"polarity agreement {fd.mean_polarity_agreement:.3f}")
    print(f"regions: recall {reg.recall:.3f}  precision {reg.precision:.3f}  median offset {reg.offset_median_deg:.2f} deg")
    if s.bootstrap is not None:
        b, ci = s.bootstrap, s.intervals("mean_over_predictions", "fulldisk")
        (t0, t1), (n0, n1) = ci.get("tumf", "cc") or (float("nan"),) * 2, ci.get("nmf", "cc") or (float("nan"),) * 2
        print(f"{b.level:.0%} intervals from {b.n_boot} block-bootstrap replicates over {b.n_blocks} blocks of "
              f"{b.block_days:g} d: TUMF CC {t0:.3f} to {t1:.3f}, NMF CC {n0:.3f} to {n1:.3f}")
    print(f"wrote {args.out}/summary.json, fulldisk.csv, regions.csv, matches.csv"
          + (", variability.csv, pixel_std.zarr" if len(s.predictions) > 1 else ""))
    return 0
