"""``euv2mag saturation INPUT... --out DIR``: flux kept by clipping magnetograms to +-L G.

Inputs are HMI full-disk FITS files (prepared with :func:`euv2mag.data.fits.prepare_hmi` at
``--size`` px, disk radius 392/1024 of the side) or euv2mag stores (array ``--array``, default
``mag``; ``--indices`` selects frames).  Writes

``DIR/saturation.csv``
    one row per map and limit (:data:`euv2mag.audit.saturation.SATURATION_CSV`: ``map``,
    ``source``, ``frame``, ``time``, ``limit_g``, ``tumf_orig_mx``, ``tumf_clip_mx``,
    ``nmf_orig_mx``, ``nmf_clip_mx``, ``tumf_kept``, ``nmf_kept``, ``nmf_sign_flip``, ``n_disk``,
    ``frac_above_limit``, ``max_abs_g``, ``size_px``, ``rsun_px``);
``DIR/regions_amf.csv``
    one row per region detected on an original map
    (:data:`euv2mag.audit.saturation.REGIONS_AMF_CSV`: ``map``, ``frame``, ``time``, ``label``,
    ``lat_deg``, ``lon_deg``, ``mu_center``, ``area_msh``, ``tumf_mx``, ``amf_g``,
    ``max_abs_g``); absent with ``--no-regions``;
``DIR/saturation.json`` (:class:`euv2mag.audit.saturation.SaturationSummary`)
    per limit: TUMF and NMF slope / R^2 / R^2 of the fit / CC / kept ratio, sign-flip fraction
    and ``n_maps``; the AMF distribution; the exact definitions (disk cut, threshold,
    resolution, area convention) and the inputs.

Per-map results are cached in ``DIR/.cache`` so that an interrupted run resumes.  The work is
:func:`euv2mag.audit.saturation.saturation_study`; this module only parses options and prints.
"""
from __future__ import annotations

from pathlib import Path

from . import add_cluster_options, nonnegative_float, positive_float, positive_int


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "saturation",
        help="how much TUMF/NMF a magnetogram keeps when clipped to +-L G",
        description="Clip magnetograms to +-L G and compare the total unsigned (TUMF) and net (NMF) "
        "flux of the clipped and original maps (slope through the origin, R^2, NMF sign flips), "
        "and the mean absolute field (AMF) of the regions detected on the original maps.",
    )
    p.add_argument("inputs", nargs="+", metavar="STORE_OR_FITS", help="HMI LOS FITS files and/or euv2mag stores")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--limits", type=positive_float, nargs="+", default=[100.0, 625.0, 3000.0], metavar="G",
                   help="saturation limits in G (default: 100 625 3000)")
    p.add_argument("--indices", type=int, nargs="+", metavar="I", help="frames of the stores to use (default: all)")
    p.add_argument("--array", default="mag", choices=("mag", "pred"), help="store array to read (default: mag)")
    p.add_argument("--size", type=positive_int, default=1024, help="side in px FITS files are prepared at (default: 1024)")
    p.add_argument("--r-max", type=positive_float, default=0.95, help="disk cut in solar radii (default: 0.95)")
    p.add_argument("--threshold-g", type=nonnegative_float, default=10.0,
                   help="pixels with |B| above this (G) count in a map's flux (default: 10)")
    p.add_argument("--no-regions", action="store_true", help="skip region detection (no AMF distribution)")
    p.add_argument("--ignore-quality", action="store_true", help="accept FITS files whatever QUALITY bits are set (default: prepare_hmi's tolerated bits)")
    add_cluster_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..audit.saturation import SaturationParams, saturation_study

    params = SaturationParams(tuple(args.limits), r_max=args.r_max, threshold_g=args.threshold_g)
    result = saturation_study(args.inputs, params, size=args.size, array=args.array, indices=args.indices,
                              regions=not args.no_regions,
                              quality_ignore=0xFFFFFFFF if args.ignore_quality else None, out=args.out,
                              scheduler=args.scheduler, workers=args.workers)
    summary = result.summary
    for limit, s in summary.limits.items():
        print(
            f"+-{limit} G: TUMF slope {s['tumf']['slope']:.3f} R2 {s['tumf']['r2']:.3f} | NMF slope {s['nmf']['slope']:.3f} "
            f"R2 {s['nmf']['r2']:.3f} | NMF sign flips {s['sign_flip_fraction']:.1%} of {s['n_maps']} maps"
        )
    if summary.amf is not None:
        a = summary.amf
        print(f"region AMF: {a['n_regions']} regions, mean {a['mean_g']:.0f} +- {a['std_g']:.0f} G")
    out = Path(args.out)
    print(f"wrote {out / 'saturation.csv'} and {out / 'saturation.json'}")
    return 0
