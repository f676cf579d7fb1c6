"""``euv2mag synchronic STORE[:INDEX]... --time T --out MAP.fits``: a synchronic Carrington map."""
from __future__ import annotations


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "synchronic",
        help="combine magnetograms from several views into a synchronic Carrington (CAR) map",
        description="Combine frames of truth or prediction stores (e.g. the Earth-view magnetogram and farside "
        "predictions) into a synchronic map of the radial field on a Carrington grid at one time: each source "
        "rotated to that time by differential rotation, B_r = B_LOS/mu averaged per grid pixel, each pixel from "
        "the source that sees it at the largest mu; FITS with CAR WCS and SOURCE, AGE and MU layers.",
    )
    p.add_argument("sources", nargs="+", metavar="STORE[:INDEX]",
                   help="store frames (index default 0); a prediction store's 'pred', else a truth store's 'mag'")
    p.add_argument("--time", required=True, help="synchronic time, ISO 8601 UTC")
    p.add_argument("--out", required=True, help="output FITS file")
    p.add_argument("--resolution", type=float, default=1.0, help="grid step in degrees (default 1)")
    p.add_argument("--mu-min", type=float, default=0.3, help="smallest mu a source is used at (default 0.3)")
    p.add_argument("--max-age-days", type=float, default=14.0,
                   help="sources further than this from --time are skipped and listed (default 14)")
    p.add_argument("--rotation-model", default="howard", choices=("howard", "snodgrass", "allen", "rigid"))
    p.set_defaults(func=run)


def run(args) -> int:
    from ..data.synchronic import store_sources, synchronic_map, write_synchronic
    from ..errors import UserError

    n_lat = round(180.0 / args.resolution) if args.resolution > 0 else 0
    if n_lat < 2 or abs(n_lat * args.resolution - 180.0) > 1e-6:
        raise UserError(f"--resolution: must divide 180 deg, got {args.resolution!r}")
    result = synchronic_map(store_sources(args.sources), args.time, shape=(n_lat, 2 * n_lat), mu_min=args.mu_min,
                            max_age_days=args.max_age_days, rotation_model=args.rotation_model)
    path = write_synchronic(result, args.out)
    covered = float((result.source >= 0).mean())
    print(f"wrote {path}: {len(result.sources)} sources, {covered:.1%} of the grid covered")
    for row in result.skipped:
        print(f"skipped {row['name']}: {row['reason']}")
    return 0
