"""``euv2mag synth OUT.zarr``: make a synthetic paired EUV/magnetogram time series with known truth."""
from __future__ import annotations

from . import add_cluster_options


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "synth",
        help="make a synthetic Sun dataset (paired 304-like EUV and LOS magnetograms, with truth tables)",
        description="Generate a deterministic synthetic time series of full-disk AIA 304-like images (DN/s, "
        "depending on |B| only) and HMI-like LOS magnetograms (G) with active regions that follow "
        "solar cycle 24/25, Hale's and Joy's laws and differential rotation. Re-running the same "
        "command resumes an interrupted run.",
    )
    p.add_argument("out", help="output Zarr store (created, or resumed when made with the same options)")
    p.add_argument("--start", default="2011-01-01", help="first frame time, ISO 8601 UTC (default 2011-01-01)")
    p.add_argument("--end", default="2011-12-31", help="last frame time, inclusive (default 2011-12-31)")
    p.add_argument("--cadence", default="12h", help="frame spacing, e.g. 12h, 1d, 30min (default 12h)")
    p.add_argument("--size", type=str, default="256", help="image side in px, power of two (default 256)")
    p.add_argument("--seed", type=str, default="0", help="random seed (default 0)")
    p.add_argument("--polarity-leak", type=str, default="0.0",
                   help="sign information mixed into the EUV image (default 0: EUV depends on |B| only)")
    p.add_argument("--anti-hale-fraction", type=str, default="0.04",
                   help="fraction of anti-Hale active regions (default 0.04)")
    p.add_argument("--rate-scale", type=str, default="1.0",
                   help="multiplier of the active-region emergence rate (default 1)")
    p.add_argument("--activity", choices=("observed", "analytic"), default="observed",
                   help="emergence-rate envelope: observed monthly sunspot number 2008-01..2022-09 "
                   "(WDC-SILSO) with the analytic cycle outside, or the analytic cycle only (default observed)")
    p.add_argument("--noise", type=str, default="6.0",
                   help="magnetogram noise in G at 4096^2, scaled by size/4096 (default 6)")
    p.add_argument("--fits-dir", default=None,
                   help="also write each frame as level-1-like FITS files in this folder: AIA 304 + HMI seen from Earth, "
                   "EUVI-like 304 from STEREO, EUI/FSI-like 304 from other observers")
    p.add_argument("--observer", nargs="+", default=["earth"], metavar="WHERE",
                   help="where the Sun is seen from: earth (default), stereo-a, stereo-b, hgln=DEG[,hglt=DEG][,dsun=AU] "
                   "or ephemeris=FILE.csv (time,hgln_deg,hglt_deg,dsun_au); several make one store each, "
                   "OUT_<observer>.zarr, of the same Sun")
    add_cluster_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..data.synthetic import SynthParams, synthesize_views

    from ..errors import UserError

    def integer(text, option):
        try:
            return int(text)
        except ValueError:
            raise UserError(f"{option} must be an integer, got {text!r}") from None

    def number(text, option):
        try:
            return float(text)
        except ValueError:
            raise UserError(f"{option} must be a number, got {text!r}") from None

    params = SynthParams(
        start=args.start, end=args.end, cadence=args.cadence, size=integer(args.size, "--size"),
        seed=integer(args.seed, "--seed"), polarity_leak=number(args.polarity_leak, "--polarity-leak"),
        anti_hale_fraction=number(args.anti_hale_fraction, "--anti-hale-fraction"),
        rate_scale=number(args.rate_scale, "--rate-scale"), activity=args.activity, noise_g=number(args.noise, "--noise"),
    )
    views = synthesize_views(args.out, params, args.observer, fits_dir=args.fits_dir,
                             scheduler=args.scheduler, workers=args.workers)
    for label, summary in views.items():
        total = summary["render_s"] + summary["write_s"]
        rate = summary["written"] / total if total > 0 else float("nan")
        seen = "" if label == "earth" else f" seen from {label}"
        print(f"{summary['store']}: {summary['frames']} frames{seen} ({summary['written']} written now, {rate:.2f} frames/s), "
              f"{summary['regions']} active regions in the truth table")
    return 0
