"""``euv2mag history HISTORY_STORE --out OUT``: a history-input store (:func:`euv2mag.data.history.write_history_store`)."""
from __future__ import annotations


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "history",
        help="write a history-input store: frames with the field history (an earlier magnetogram moved to "
        "their time and view) for a model trained with --history-channels",
        description="For each frame of TARGET (default: HISTORY_STORE itself, e.g. an Earth-view training "
        "store) take the frame of HISTORY_STORE nearest to D days before, carry its 'mag' to the frame's time "
        "by differential rotation and reproject it into the frame's view, and write OUT with the frame's euv "
        "and mag, the arrays hist (G) and hist_cover (0/1) and the table 'history' (history frame, age in "
        "days, covered fraction, the reason for a frame without history).  D is a number of days, 'auto' "
        "(needs --separation: the separation over the equator's synodic rate, rounded to the cadence) or a "
        "range LO:HI from which each frame draws its own age (seeded; for training stores).  A frame whose "
        "history is older than --max-age gets none and is listed (or, with --strict, is an error).",
    )
    p.add_argument("history_store", help="store whose 'mag' is the history (the Earth view)")
    p.add_argument("--target", help="store of the frames to give a history (default: HISTORY_STORE)")
    p.add_argument("--out", required=True, help="the history-input store to write")
    p.add_argument("--days", default="0", metavar="D|auto|LO:HI",
                   help="history age: days, auto, or a range drawn per frame (default 0)")
    p.add_argument("--separation", type=float, default=None, metavar="DEG",
                   help="target observer's longitude west of Earth, deg (for --days auto)")
    p.add_argument("--indices", default="all",
                   help="target frames: all (default; keeps the frame indices, so splits apply), test/val/train "
                   "(need --split) or a comma list")
    p.add_argument("--split", help="split JSON of the target (for --indices test/val/train)")
    p.add_argument("--max-age", type=float, default=None, metavar="DAYS", help="largest history age, days")
    p.add_argument("--strict", action="store_true", help="a frame without an acceptable history is an error")
    p.add_argument("--tolerance-days", type=float, default=None, metavar="DAYS",
                   help="largest distance of the history frame from D days before (default half the cadence)")
    p.add_argument("--seed", type=int, default=0, help="seed of the per-frame ages of a range (default 0)")
    p.add_argument("--rotation-model", default=None, choices=["howard", "snodgrass", "allen", "rigid"],
                   help="sunpy differential-rotation law (default: the synthetic target's own, else howard)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..data.history import write_history_store
    from ..data.splits import resolve_indices
    from ..data.store import FrameStore

    target = args.target or args.history_store
    indices = None
    if args.indices != "all":
        store = FrameStore(target)
        indices = resolve_indices(args.indices, store.n_frames, args.split, times=store.times)
    out = write_history_store(args.history_store, target, args.out, days=args.days, separation_deg=args.separation,
                              indices=indices, tolerance_days=args.tolerance_days, max_age_days=args.max_age,
                              on_stale="error" if args.strict else "skip", seed=args.seed,
                              rotation_model=args.rotation_model)
    table = FrameStore(out).table("history")
    none = int((table["history_index"] < 0).sum())
    print(f"wrote {out}: {len(table)} frames, median age {table['age_days'].median():.3g} d, mean covered fraction "
          f"{table['covered_fraction'].mean():.3f}" + (f"; {none} frames without history (see its table "
                                                       "'history')" if none else ""))
    return 0
