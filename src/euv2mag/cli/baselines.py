"""``euv2mag baselines TRUTH --split SPLIT --out DIR``: trivial baseline predictions to audit beside a model's."""
from __future__ import annotations


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "baselines",
        help="write baseline prediction stores (zero, clip-L, sign-coin, hale-oracle) made from the truth",
        description="Write one prediction store DIR/<kind>.zarr (array 'pred', G, with the truth frames' time "
        "and geometry) per baseline, for euv2mag audit to score beside a model: zero (0 G on the disk), "
        "clip-L (the truth clipped to +-L G), sign-coin (each truth region negated with probability 1/2, "
        "the same coin in every frame), hale-oracle (every anti-Hale truth region negated).  sign-coin and "
        "hale-oracle need a synthetic truth (tables/frame_regions).",
    )
    p.add_argument("truth", help="truth store (array 'mag')")
    p.add_argument("--out", required=True, help="output folder of the baseline stores")
    p.add_argument("--kinds", nargs="+", default=["zero", "clip-100", "sign-coin", "hale-oracle"],
                   help="baselines: zero, clip-L (L > 0 in G), sign-coin, hale-oracle (default: zero clip-100 "
                   "sign-coin hale-oracle)")
    p.add_argument("--indices", default="test",
                   help="frames: test, val, train (need --split), all, or a comma list such as 3,7,9 (default test)")
    p.add_argument("--split", help="split JSON (for --indices test/val/train)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sign-coin draws (default 0)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..audit.baselines import write_baselines

    paths = write_baselines(args.truth, args.out, kinds=args.kinds, indices=args.indices, split=args.split,
                            seed=args.seed)
    for path in paths:
        print(f"wrote {path}")
    return 0
