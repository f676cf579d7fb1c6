"""``euv2mag realism FITS... [--out realism.csv]``: the synthetic Sun's calibration table against real HMI maps."""
from __future__ import annotations


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "realism",
        help="compare the synthetic Sun with real HMI LOS magnetograms at their dates (calibration table)",
        description="For each real full-disk HMI LOS FITS file, measure the shares of disk pixels above "
        "50/100/500 G, the TUMF, the share of it kept by a +-100 G clip, the mean strong-field |B| of "
        "active regions and the region count, on the prepared real map and on synthetic frames made for "
        "its date (median over the date and +-6, +-12 days), and print both with their ratio.",
    )
    p.add_argument("fits", nargs="+", help="real HMI LOS full-disk FITS files")
    p.add_argument("--out", default=None, help="also write the table as DIR/realism.csv")
    p.add_argument("--size", type=int, default=1024, help="image side in px for both (default 1024)")
    p.add_argument("--seed", type=int, default=0, help="synthetic seed (default 0)")
    p.add_argument("--activity", choices=("observed", "analytic"), default="observed",
                   help="synthetic activity envelope (default observed)")
    p.add_argument("--offsets", type=float, nargs="+", default=[-12.0, -6.0, 0.0, 6.0, 12.0],
                   help="days around each map's date of the synthetic frames (default -12 -6 0 6 12)")
    p.add_argument("--ignore-quality", action="store_true", help="accept FITS files whatever their QUALITY bits")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..data.synthetic import SynthParams
    from ..data.synthetic.realism import REALISM_CSV, check_real

    base = SynthParams(start="2011-01-01", end="2011-01-01", size=args.size, seed=args.seed, activity=args.activity)
    table = check_real(args.fits, base, size=args.size, offsets_days=args.offsets,
                       quality_ignore=0xFFFFFFFF if args.ignore_quality else None, out=args.out)
    print(f"{'map':<40} {'quantity':<14} {'real':>11} {'synthetic':>11} {'ratio':>6}")
    for row in table.itertuples(index=False):
        print(f"{str(row.map)[-40:]:<40} {row.quantity:<14} {row.real:>11.4g} {row.synthetic:>11.4g} {row.ratio:>6.2f}")
    if args.out:
        print(f"wrote {args.out}/{REALISM_CSV.filename}")
    return 0
