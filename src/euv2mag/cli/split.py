"""``euv2mag split [STORE] OUT.json --scheme kpl19|rotation|random``: write a split file.

With ``--times FILE.csv [FILE.csv ...]`` the frames are bare timestamps (the sorted,
de-duplicated union of the files) and STORE is omitted or given as ``-``.
"""
from __future__ import annotations

from . import bounded, nonnegative_int


_fraction = bounded(float, low=0, high=1, high_inclusive=False, what="a fraction in [0, 1)")
_month = bounded(int, low=1, high=12, what="a month 1-12")


def add_parser(subparsers) -> None:
    from . import positive_int

    p = subparsers.add_parser(
        "split",
        help="split the frames of a store (or bare time lists) into train/val/test",
        description="Split frames into training, validation and test sets and write the split as JSON. "
        "kpl19: September and October are test (KPL19's split, leaks); rotation: whole Carrington "
        "rotations with a buffer of dropped rotations between test and training; random: frame-level "
        "random split (the worst-leaking baseline).",
    )
    p.add_argument("paths", nargs="+", metavar="[STORE] OUT.json",
                   help="the store to split and the split file to write; with --times give only OUT.json "
                   "(or '-' in place of STORE)")
    p.add_argument("--scheme", required=True, choices=("kpl19", "rotation", "random"), help="split scheme")
    p.add_argument("--times", nargs="+", metavar="FILE.csv",
                   help="split bare times instead of a store: CSV files with a header line and one ISO 8601 "
                   "UTC time per line (their union, sorted, duplicates removed)")
    p.add_argument("--test-fraction", type=_fraction, default=0.2,
                   help="rotation/random: target share of frames in the test set (default 0.2)")
    p.add_argument("--val-fraction", type=_fraction, default=0.0,
                   help="share of frames for validation (default 0: none); kpl19: the last part of each "
                   "year's training frames; rotation: whole blocks of rotations; random: random frames")
    p.add_argument("--buffer-rotations", type=nonnegative_int, default=1,
                   help="rotation: Carrington rotations dropped on each side of the test rotations (default 1)")
    p.add_argument("--block-rotations", type=positive_int, default=3,
                   help="rotation: consecutive rotations assigned together (default 3)")
    p.add_argument("--test-months", type=_month, nargs="+", default=[9, 10], metavar="MONTH",
                   help="kpl19: calendar months that are test (default 9 10)")
    p.add_argument("--seed", type=int, default=0, help="rotation/random: random seed (default 0)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import UserError
    from ..data.splits import make_split, read_time_lists, write_split

    paths = list(args.paths)
    if args.times:
        if len(paths) == 2 and paths[0] == "-":
            paths = paths[1:]
        if len(paths) != 1:
            raise UserError("with --times give only the output file (or '-' then the output file)")
        out = paths[0]
        times, _ = read_time_lists(args.times)
        source = [str(p) for p in args.times]
    else:
        if len(paths) != 2 or paths[0] == "-":
            raise UserError("give a STORE and the output file OUT.json (or --times FILE.csv ... for bare times)")
        from ..data.store import FrameStore

        store_path, out = paths
        store = FrameStore(store_path)
        times = [str(t) for t in store.times]
        source = str(store_path)
    if not str(out).endswith(".json"):
        raise UserError("the output file must end in .json", path=out)
    split = make_split(
        times, args.scheme, source=source, seed=args.seed, test_fraction=args.test_fraction,
        val_fraction=args.val_fraction, buffer_rotations=args.buffer_rotations,
        block_rotations=args.block_rotations, test_months=args.test_months,
    )
    write_split(split, out)
    s = split.summary
    print(f"{args.scheme} split of {s['n_total']} frames -> {out}")
    print(f"  train {s['n_train']}  val {s['n_val']}  test {s['n_test']}  dropped (buffer) {s['n_dropped']}")
    print(f"  test-train gap: min {s['min_gap_test_train_days']:.3g} d, median {s['median_gap_test_train_days']:.3g} d")
    return 0
