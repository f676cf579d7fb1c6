"""``euv2mag baselines TRUTH --split SPLIT --out DIR``: trivial baseline predictions to audit beside a model's."""
from __future__ import annotations

from . import bounded, nonnegative_float

_fraction = bounded(float, low=0, high=1, low_inclusive=False, what="a number in (0, 1]")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "baselines",
        help="write baseline prediction stores (zero, clip-L, sign-coin, hale-oracle, persistence-D) made from "
        "the truth",
        description="Write one prediction store DIR/<kind>.zarr (array 'pred', G, with the truth frames' time "
        "and geometry) per baseline, for euv2mag audit to score beside a model: zero (0 G on the disk), "
        "clip-L (the truth clipped to +-L G), sign-coin (each truth region negated with probability 1/2, "
        "the same coin in every frame), hale-oracle (every anti-Hale truth region negated), persistence-D (the "
        "truth D days earlier rotated to the frame time by differential rotation; regions that emerged since "
        "are absent; frames without a truth frame D days earlier are 0 G and listed in DIR/<kind>.history.csv).  "
        "sign-coin and hale-oracle need a synthetic truth (tables/frame_regions) and negate the truth regions "
        "exactly as euv2mag audit detects them (give --r-max and --max-distance-deg as to the audit).",
    )
    p.add_argument("truth", help="truth store (array 'mag')")
    p.add_argument("--out", required=True, help="output folder of the baseline stores")
    p.add_argument("--kinds", nargs="+", default=["zero", "clip-100", "sign-coin", "hale-oracle"],
                   help="baselines: zero, clip-L (L > 0 in G), sign-coin, hale-oracle, persistence-D (D >= 0 days, "
                   "e.g. persistence-7) (default: zero clip-100 sign-coin hale-oracle)")
    p.add_argument("--indices", default="test",
                   help="frames: test, val, train (need --split), all, or a comma list such as 3,7,9 (default test)")
    p.add_argument("--split", help="split JSON (for --indices test/val/train)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sign-coin draws (default 0)")
    p.add_argument("--r-max", type=_fraction, default=0.95,
                   help="sign-coin, hale-oracle: the audit's disk cut in solar radii, for its truth footprints "
                   "(default: 0.95; use the value given to euv2mag audit)")
    p.add_argument("--max-distance-deg", type=nonnegative_float, default=5.0,
                   help="sign-coin, hale-oracle: the audit's largest distance (deg) of a truth region from the "
                   "generator region whose Hale class it takes (default: 5; use the value given to euv2mag audit)")
    p.add_argument("--history-tolerance-days", type=float, default=None, metavar="DAYS",
                   help="persistence-D: largest distance of the history frame from D days before the frame "
                   "(default: half the truth store's median cadence)")
    p.add_argument("--rotation-model", default=None, choices=["howard", "snodgrass", "allen", "rigid"],
                   help="persistence-D: sunpy differential-rotation law (default: the synthetic truth's own, "
                   "else howard)")
    p.add_argument("--mu-min", type=float, default=None,
                   help="persistence-D: smallest mu of a history pixel whose field is carried (default 0.2)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..audit import AuditParams, DetectionParams
    from ..audit.baselines import write_baselines
    from ..data.store import FrameStore

    audit_params = AuditParams(detection=DetectionParams(r_max=args.r_max), max_distance_deg=args.max_distance_deg)
    paths = write_baselines(args.truth, args.out, kinds=args.kinds, indices=args.indices, split=args.split,
                            seed=args.seed, audit_params=audit_params, history_tolerance_days=args.history_tolerance_days,
                            rotation_model=args.rotation_model, mu_min=args.mu_min)
    for path in paths:
        missing = FrameStore(path).attrs.get("n_without_history")
        note = (f" ({missing} frames without a history frame are 0 G; see {path.name[:-5]}.history.csv)"
                if missing else "")
        print(f"wrote {path}{note}")
    return 0
