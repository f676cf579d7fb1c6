"""``euv2mag import FILES... --like TRUTH --out PRED.zarr``: other programs' magnetograms as a prediction store.

Calls :func:`euv2mag.data.importing.import_predictions` (what is read and how it is resampled
or scaled is documented there) and prints what was written.
"""
from __future__ import annotations


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "import",
        help="import FITS or 8-bit PNG/JPEG magnetograms made elsewhere as a prediction store for audit",
        description="Import magnetograms made by another program as a prediction store (array 'pred', G) on "
        "the frames of a truth store: FITS files with a helioprojective WCS (any size, pixel scale, roll, "
        "observer distance) are resampled onto the truth's geometry as 'prepare' does; 8-bit PNG/JPEG images "
        "(KPL19's outputs) of the truth's size are read as B = L (2p/255 - 1) G with L = --png-limit, north "
        "up, times from their file names. Files are matched to truth frames by time; unusable ones are listed "
        "in OUT.zarr.skipped.csv. The result is accepted by 'euv2mag audit --pred'.",
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="FITS/PNG/JPEG files, folders or glob patterns")
    p.add_argument("--like", required=True, metavar="TRUTH.zarr", help="truth store whose frames and geometry to take")
    p.add_argument("--out", required=True, metavar="PRED.zarr", help="output prediction store")
    p.add_argument("--tolerance", dest="tolerance_s", default="60s",
                   help="largest time difference between a file and its truth frame, e.g. 60s, 30min (default 60s)")
    p.add_argument("--png-limit", dest="png_limit_g", default=None, metavar="L",
                   help="field in G of PNG/JPEG pixel value 255 (0 -> -L, 255 -> +L; KPL19: 100); needed for PNG/JPEG")
    p.add_argument("--time-pattern", default=None, metavar="PATTERN",
                   help="time in the file names: a strptime-style pattern (%%Y %%m %%d %%H %%M %%S %%j %%y %%f) or a "
                   "regular expression with named groups year, month, day[, hour, minute, second]; default finds "
                   "YYYYMMDD_HHMM[SS] and YYYY-MM-DDTHH:MM[:SS]")
    p.add_argument("--strict", action="store_true", help="stop with an error at the first file that would be skipped")
    p.add_argument("--copy-inputs", action="store_true",
                   help="also copy the truth's 'mag' and 'euv' of the same frames into the store (as predict does)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _limit(text):
    import math

    from ..errors import UserError

    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise UserError(f"--png-limit: expected a field > 0 in G, got {text!r}")
    return value


def run(args) -> int:
    from ..data.importing import import_predictions, is_importable_name
    from ..data.prepare import expand_paths
    from ..errors import UserError
    from .prepare import parse_duration

    tolerance = parse_duration(args.tolerance_s, "--tolerance")
    limit = _limit(args.png_limit_g)
    if not args.files:
        raise UserError("give the files to import, e.g. `euv2mag import pred/*.fits --like truth.zarr --out pred.zarr`")
    files = expand_paths(args.files, parameter="files", accept=is_importable_name, what="FITS, PNG or JPEG files")
    result = import_predictions(
        files, args.like, args.out, tolerance_s=tolerance, png_limit_g=limit, time_pattern=args.time_pattern,
        strict=args.strict, copy_inputs=args.copy_inputs, progress=False if args.no_progress else None,
    )
    if result["resumed_complete"]:
        print(f"{result['store']}: already complete ({result['frames']} frames); nothing to do")
    else:
        print(f"wrote {result['store']}: {result['frames']} frames, {result['skipped']} files skipped "
              f"(see {result['skip_report']})")
    return 0
