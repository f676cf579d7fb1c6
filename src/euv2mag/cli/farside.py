"""``euv2mag farside RUN TRAIN_STORE --split SPLIT --out DIR``: the far-side study (:mod:`euv2mag.audit.farside`)."""
from __future__ import annotations


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "farside",
        help="far-side study: a model trained on the Earth view predicts from observers at other longitudes",
        description="Synthesise the training store's Sun seen from observers at the given separations from "
        "Earth, predict their frames with the run (EUV scaled by each --scales factor, then cross-calibrated), "
        "write the persistence baseline (the Earth-view truth rotated into each observer's view), audit all "
        "against each observer's truth, and write farside_skill.csv (skill vs separation with intervals), "
        "farside_ages.csv (skill vs days since the region was last on the Earth-facing disk), "
        "farside_region_ages.csv and farside.json to DIR.  Needs a synthetic training store.",
    )
    p.add_argument("run", help="training run folder (trained on the Earth view of TRAIN_STORE)")
    p.add_argument("train_store", help="the synthetic training store (Earth view)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--split", help="split JSON of the training store (test frames; train frames give the EUV "
                   "reference)")
    p.add_argument("--indices", default="test",
                   help="frames: test, val, train (need --split), all, or a comma list (default test)")
    p.add_argument("--separations", nargs="+", type=float, default=[0.0, 60.0, 120.0, 180.0], metavar="DEG",
                   help="observer longitudes from Earth, deg in [0, 180] (default 0 60 120 180)")
    p.add_argument("--euv-calibration", default="quantile", metavar="METHOD",
                   help="none, linear:F (every pixel times F > 0) or quantile (match the set's on-disk EUV "
                   "distribution to the training frames'; default quantile)")
    p.add_argument("--scales", nargs="+", type=float, default=[0.8, 1.0, 1.2], metavar="F",
                   help="EUV scales applied before the calibration, a miscalibration test (default 0.8 1.0 1.2)")
    p.add_argument("--persistence-days", type=float, default=0.0, metavar="D",
                   help="age of the Earth-view history of the persistence baseline, days (default 0)")
    p.add_argument("--history-tolerance-days", type=float, default=None, metavar="DAYS",
                   help="largest distance of the history frame from D days before (default half the cadence)")
    p.add_argument("--age-bins", nargs="+", type=float, default=[0.0, 1.0, 4.0, 8.0, 14.0], metavar="DAYS",
                   help="edges of the history-age bins, days (default 0 1 4 8 14)")
    p.add_argument("--history-run", metavar="RUN",
                   help="a run trained with --history-channels (on a store from 'euv2mag history'): audited as "
                   "'history' beside the model; persistence then uses the same history frames")
    p.add_argument("--history-days", default="auto", metavar="D|auto",
                   help="history age of --history-run's input and of persistence with it, days, or auto (the "
                   "separation over the equator's synodic rate, rounded to the cadence; default auto)")
    p.add_argument("--max-history-age", type=float, default=None, metavar="DAYS",
                   help="largest history age, days; older history is not used (listed per frame)")
    p.add_argument("--n-boot", type=int, default=200, help="bootstrap replicates of the intervals (default 200)")
    p.add_argument("--workers", type=int, default=1, help="processes of the audits (default 1)")
    p.add_argument("--device", default="cpu", help="torch device of the predictions (default cpu)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..audit.farside import SKILL, farside_study

    summary = farside_study(args.run, args.train_store, args.out, separations=args.separations,
                            indices=args.indices, split=args.split, calibration=args.euv_calibration,
                            scales=args.scales, persistence_days=args.persistence_days,
                            history_tolerance_days=args.history_tolerance_days, age_bins_days=args.age_bins,
                            n_boot=args.n_boot, workers=args.workers, device=args.device,
                            history_run=args.history_run, history_days=args.history_days,
                            max_history_age_days=args.max_history_age)
    skill = SKILL.read(args.out)
    for row in skill.itertuples():
        print(f"{row.separation_deg:5.0f} deg  {row.prediction:<12s} TUMF CC {row.tumf_cc:6.3f}  "
              f"mean |B| CC {row.mean_abs_cc:6.3f}  recall {row.recall:5.2f}")
    extra = ", farside_history_split.csv" if summary.history else ""
    print(f"wrote {args.out}/farside_skill.csv, farside_ages.csv{extra} ({len(summary.times)} frames)")
    return 0
