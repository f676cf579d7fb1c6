"""``euv2mag download --start T --end T --out DIR``: level-1 AIA/HMI files, one per time step (resumable)."""
from __future__ import annotations

RERUN_HINT = "re-run the same command"


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "download",
        help="download level-1 AIA 304 A and HMI magnetogram files for a period (JSOC/VSO, resumable)",
        description="Download one AIA level-1 file (aia.lev1_euv_12s) and/or one HMI line-of-sight magnetogram "
        "(hmi.M_720s) per time step, the record nearest each step within --tolerance, through sunpy's Fido "
        "(JSOC via drms, or the VSO). Files already present and valid are skipped, truncated ones fetched again; "
        "DIR/manifest.csv lists time, instrument, file, bytes, SHA-256 and status. Needs network access.",
    )
    p.add_argument("--start", required=True, help="first time step, ISO 8601 UTC (e.g. 2011-01-01)")
    p.add_argument("--end", required=True, help="last time step at most, ISO 8601 UTC")
    p.add_argument("--cadence", default="12h", help="time step, e.g. 12h, 30min, 86400s (default 12h)")
    p.add_argument("--out", required=True, help="output folder (files and manifest.csv)")
    p.add_argument("--aia", type=int, default=None, metavar="WAVELENGTH",
                   help="AIA wavelength in Angstrom (default 304 when neither --aia nor --hmi is given)")
    p.add_argument("--hmi", action="store_true", help="HMI line-of-sight magnetograms (hmi.M_720s)")
    p.add_argument("--tolerance", default="6min", help="largest step-to-record time difference (default 6min)")
    p.add_argument("--source", choices=("jsoc", "vso"), default="jsoc", help="archive (default jsoc)")
    p.add_argument("--email", help="JSOC-registered e-mail address (default: $EUV2MAG_JSOC_EMAIL)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _seconds(text: str, parameter: str) -> float:
    from ..errors import UserError
    from .prepare import parse_duration

    try:
        return parse_duration(text)
    except UserError:
        raise UserError(f"expected a duration like 12h, 30min or 60s, got {text!r}", parameter=parameter) from None


def run(args) -> int:
    from ..data.download import download

    aia = args.aia if args.aia is not None else (None if args.hmi else 304)
    result = download(
        args.start, args.end, _seconds(args.cadence, "cadence"), args.out, aia=aia, hmi=args.hmi,
        tolerance_s=_seconds(args.tolerance, "tolerance"), source=args.source, email=args.email,
        progress=False if args.no_progress else None,
    )
    print(f"{result['downloaded']} downloaded, {result['present']} already present, {result['missing']} missing, "
          f"{result['failed']} failed; manifest {result['manifest']}")
    return 1 if result["failed"] else 0
