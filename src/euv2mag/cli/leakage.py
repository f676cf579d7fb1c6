"""``euv2mag leakage [STORE | TIMES.csv ... | -] --split SPLIT.json [--split ...] --out DIR``.

Measures the train/test leakage of one or several splits with
:func:`euv2mag.audit.leakage_study.leakage_study` (output files defined there; the measures in
:mod:`euv2mag.audit.leakage`).  The frames come from a store (times, L0 from its geometry, and the
synthetic truth table ``frame_regions`` when present), from time-list CSV files, or, with no
source or ``-``, from the times recorded in the split file (L0 from sunpy).
"""
from __future__ import annotations

from pathlib import Path

from ..audit.leakage_study import ROTATION_MODELS, LeakageParams, leakage_study
from . import nonnegative_float, positive_float


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "leakage",
        help="measure train/test leakage of splits (time gaps, same solar face, shared regions)",
        description="For every test frame of a split: the time to the nearest training frame, the time to "
        "the nearest training frame showing the same face of the Sun, and (with region data) which of its "
        "regions also appear in training. Several --split options give one row per split in "
        "DIR/leakage_comparison.csv.",
    )
    p.add_argument("source", nargs="*", metavar="STORE_OR_TIMES",
                   help="a store, or time-list CSV files (the ones given to 'euv2mag split --times'); "
                   "omit or '-' to use the times recorded in the split file")
    p.add_argument("--split", action="append", required=True, metavar="SPLIT.json",
                   help="split file written by 'euv2mag split' (repeat to compare splits)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--same-face-deg", type=positive_float, default=13.2,
                   help="largest |ΔL0| (deg) for two frames to show the same face (default 13.2: one day)")
    p.add_argument("--region-tolerance-deg", type=positive_float, default=5.0,
                   help="great-circle distance (deg) for the same region by position (default 5)")
    p.add_argument("--region-max-gap-days", type=positive_float, default=None,
                   help="only training regions within this time count as the same region by position "
                   "(default 4 rotations, 109.1 d)")
    p.add_argument("--rotation-model", choices=ROTATION_MODELS, default="howard",
                   help="differential-rotation law of sunpy used to advance region positions (default howard)")
    p.add_argument("--region-min-flux-mx", type=nonnegative_float, default=0.0,
                   help="only regions whose flux_mx column is at least this (Mx) count (default 0: all; "
                   "ignored for tables without flux_mx)")
    p.add_argument("--regions", metavar="REGIONS.csv",
                   help="region table with columns frame or time, lat_deg, carrington_lon_deg (optional "
                   "region_id), e.g. regions detected on the frames; replaces the store's truth table")
    p.set_defaults(func=run)


def run(args) -> int:
    params = LeakageParams(same_face_deg=args.same_face_deg, region_tolerance_deg=args.region_tolerance_deg,
                           region_max_gap_days=args.region_max_gap_days, rotation_model=args.rotation_model,
                           region_min_flux_mx=args.region_min_flux_mx)
    study = leakage_study(args.split, list(args.source), params, regions=args.regions, out=args.out)
    for result in study.splits:
        s = result.summary
        print(f"{s.scheme:<9} {s.split}: {s.n_test} test / {s.n_train} train frames; "
              f"gap min {s.min_gap_days:.3g} d, median {s.median_gap_days:.3g} d; same face within "
              f"1 rotation {s.frac_same_face_within_1_rotation:.3f}, 2 rotations "
              f"{s.frac_same_face_within_2_rotations:.3f}"
              + (f"; regions in train (position) {s.frac_test_regions_in_train_position:.3f}"
                 if s.frac_test_regions_in_train_position is not None else ""))
    if len(study.splits) > 1:
        print(f"comparison -> {Path(args.out) / 'leakage_comparison.csv'}")
    return 0
