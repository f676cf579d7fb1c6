"""``euv2mag prepare``: EUV 304 A (AIA, EUVI, EUI/FSI) / HMI LOS level-1 FITS files -> a prepared store.

See :mod:`euv2mag.data.prepare` for the steps and the skip report, and
:mod:`euv2mag.data.fits` for what happens to each image.
"""
from __future__ import annotations

import re

from . import add_cluster_options

_UNITS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "prepare",
        help="read AIA 304 / HMI LOS FITS files, pair, rotate north up, centre, rescale, store",
        description="Prepare SDO/AIA 304 A and SDO/HMI line-of-sight level-1 FITS files (compressed "
        "HDUs included) into an euv2mag Zarr store: pair by T_OBS, rotate north up (CROTA2), centre the "
        "disk, rescale to a common solar radius, flux-conserving resampling to SIZE x SIZE, AIA in DN/s, "
        "NaN off the disk. Skipped files are listed in OUT.zarr.skipped.csv. OUT may be given first or last.",
    )
    p.add_argument("out", nargs="?", help="output Zarr store (e.g. prepared.zarr)")
    p.add_argument("--aia", nargs="+", default=[], metavar="PATH", help="AIA 304 A level-1 files, folders, glob patterns or SDOML v2 Zarr stores")
    p.add_argument("--hmi", nargs="+", default=[], metavar="PATH", help="HMI LOS magnetogram files, folders, glob patterns or SDOML v2 Zarr stores (Bz)")
    p.add_argument("--euv", nargs="+", default=[], metavar="PATH",
                   help="304 A full-disk EUV files of any imager euv2mag reads (SDO/AIA, STEREO/EUVI, Solar Orbiter/EUI-FSI); "
                   "only AIA pairs with --hmi, EUVI/EUI make EUV-only stores (e.g. farside inputs)")
    p.add_argument("--size", default="1024", help="output side N in pixels, a power of two >= 32 (default 1024)")
    p.add_argument("--rsun-px", default=None, help="solar radius in output pixels (default 392/1024 * N)")
    p.add_argument("--pair-tolerance", default="60s", help="largest AIA-HMI time difference of a pair, e.g. 60s, 2min (default 60s)")
    p.add_argument("--strict", action="store_true", help="stop with an error at the first file that would be skipped")
    p.add_argument(
        "--degradation", nargs="?", const="JSOC", default=None, metavar="TABLE",
        help="correct AIA for instrument degradation (aiapy) with this correction-table file "
        "(SSW aia_V*_response_table.txt), or JSOC (network) when no file is given",
    )
    p.add_argument(
        "--quality-ignore", default=None, metavar="MASK",
        help="QUALITY bits (e.g. 0x10400) that do not skip a frame; default: HMI 0x10400 (sub-optimal but "
        "usable observables), AIA 0; 0 = skip any QUALITY != 0",
    )
    p.add_argument("--sdoml-cadence", default=None, help="from SDOML Zarr inputs take one frame per step, e.g. 12h (default: all)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_cluster_options(p)
    p.set_defaults(func=run)


def parse_duration(text: str, option: str = "--pair-tolerance") -> float:
    """Seconds in ``"60s"``, ``"2min"``, ``"1.5h"`` or a bare number of seconds (errors name ``option``)."""
    from ..errors import UserError

    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-z]*)\s*", str(text))
    if not match or match.group(2) not in ("", *_UNITS):
        raise UserError(f"{option}: expected a duration like 60s or 2min, got {text!r}")
    return float(match.group(1)) * _UNITS.get(match.group(2) or "s", 1.0)


def _sdoml_cadence(text: str) -> float:
    from ..errors import UserError

    try:
        return parse_duration(text)
    except UserError:
        raise UserError(f"--sdoml-cadence: expected a duration like 12h or 6min, got {text!r}") from None


def _options(args):
    import math

    from ..errors import UserError

    out = args.out
    if out is None:
        # `--hmi a.fits b.fits OUT.zarr`: argparse gives OUT to the file list
        for name in ("hmi", "aia", "euv"):
            values = getattr(args, name)
            if values and str(values[-1]).rstrip("/").endswith(".zarr"):
                out = values.pop()
                break
    if out is None:
        raise UserError("give the output store, e.g. `euv2mag prepare --hmi FILES -- OUT.zarr` (a name ending in .zarr)")
    try:
        size = int(args.size)
    except ValueError:
        raise UserError(f"--size: expected a power of two >= 32, got {args.size!r}") from None
    if size < 32 or size & (size - 1):
        raise UserError(f"--size: expected a power of two >= 32, got {args.size!r}")
    rsun_px = None
    if args.rsun_px is not None:
        try:
            rsun_px = float(args.rsun_px)
        except ValueError:
            raise UserError(f"--rsun-px: expected a number of pixels, got {args.rsun_px!r}") from None
        if not math.isfinite(rsun_px) or not 1 <= rsun_px <= size / 2:
            raise UserError(f"--rsun-px: must lie in 1..{size / 2:g} for --size {size}, got {args.rsun_px!r}")
    tolerance = parse_duration(args.pair_tolerance)
    quality = None
    if args.quality_ignore is not None:
        try:
            quality = int(str(args.quality_ignore), 0)
        except ValueError:
            raise UserError(f"--quality-ignore: expected an integer bit mask like 0x10400, got {args.quality_ignore!r}") from None
        if quality < 0:
            raise UserError(f"--quality-ignore: expected a non-negative bit mask, got {args.quality_ignore!r}")
    return out, size, rsun_px, tolerance, quality


def run(args) -> int:
    from ..data.prepare import expand_paths, prepare_store
    from ..errors import UserError

    out, size, rsun_px, tolerance, quality = _options(args)
    if not args.aia and not args.euv and not args.hmi:
        raise UserError("give --aia (or --euv) and/or --hmi files")
    aia = expand_paths(args.aia, parameter="aia")  # its errors name the option with dest "aia": --aia
    euv = expand_paths(args.euv, parameter="euv")
    hmi = expand_paths(args.hmi, parameter="hmi")
    result = prepare_store(
        out,
        aia_paths=aia,
        euv_paths=euv,
        hmi_paths=hmi,
        size=size,
        rsun_px=rsun_px,
        pair_tolerance_s=tolerance,
        strict=args.strict,
        degradation=args.degradation,
        quality_ignore=quality,
        sdoml_cadence_s=None if args.sdoml_cadence is None else _sdoml_cadence(args.sdoml_cadence),
        progress=False if args.no_progress else None,
        scheduler=args.scheduler,
        workers=args.workers,
    )
    if result["resumed_complete"]:
        print(f"{result['store']}: already complete ({result['frames']} frames); nothing to do")
    else:
        print(f"wrote {result['store']}: {result['frames']} frames, {result['skipped']} files skipped (see {result['skip_report']})")
    return 0
