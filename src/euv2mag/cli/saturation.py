"""``euv2mag saturation INPUT... --out DIR``: flux kept by clipping magnetograms to +-L G.

Inputs are HMI full-disk FITS files (prepared with :func:`euv2mag.data.fits.prepare_hmi` at
``--size`` px, disk radius 392/1024 of the side) or euv2mag stores (array ``--array``, default
``mag``; ``--indices`` selects frames).  Writes

``DIR/saturation.csv``
    one row per map and limit (columns in :mod:`euv2mag.audit.saturation`: ``map``, ``source``,
    ``frame``, ``time``, ``limit_g``, ``tumf_orig_mx``, ``tumf_clip_mx``, ``nmf_orig_mx``,
    ``nmf_clip_mx``, ``tumf_kept``, ``nmf_kept``, ``nmf_sign_flip``, ``n_disk``,
    ``frac_above_limit``, ``max_abs_g``, ``size_px``, ``rsun_px``);
``DIR/regions_amf.csv``
    one row per region detected on an original map (``map``, ``frame``, ``time``, ``label``,
    ``lat_deg``, ``lon_deg``, ``mu_center``, ``area_msh``, ``tumf_mx``, ``amf_g``,
    ``max_abs_g``); absent with ``--no-regions``;
``DIR/saturation.json``
    per limit: TUMF and NMF slope / R^2 / R^2 of the fit / CC / kept ratio, sign-flip fraction
    and ``n_maps``; the AMF distribution; the exact definitions (disk cut, threshold,
    resolution, area convention) and the inputs.

Per-map results are cached in ``DIR/.cache`` so that an interrupted run resumes.
"""
from __future__ import annotations

from pathlib import Path

from . import nonnegative_float, positive_float, positive_int

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
    p.set_defaults(func=run)


def run(args) -> int:
    import pandas as pd

    from .._io import atomic_write_json, atomic_write_text, ensure_dir
    from ..audit.detection import DetectionParams
    from ..audit.measurement import find_regions
    from ..audit.saturation import SATURATION_COLUMNS, SaturationParams, amf_statistics, clip_fluxes, summarize_saturation
    from ..data.maps import expand_map_inputs
    from ..progress import progress_bar
    from ..audit.cache import ResultCache

    params = SaturationParams(tuple(args.limits), r_max=args.r_max, threshold_g=args.threshold_g)
    items = expand_map_inputs(args.inputs, indices=args.indices, array=args.array)
    out = ensure_dir(args.out)
    detection = DetectionParams()
    cache = ResultCache(
        out / ".cache",
        {
            "what": "saturation",
            "params": params.to_dict(),
            "size": args.size,
            "array": args.array,
            "regions": not args.no_regions,
            "detection": detection.to_dict(),
        },
    )
    rows, regions = [], []
    with progress_bar("saturation", len(items)) as advance:
        for item in items:
            name, source, frame = item.name, item.source, item.frame
            key = cache.key(source, frame)
            result = cache.get(key)
            if result is None:
                mag, geometry = item.load(args.size, quality_ignore=0xFFFFFFFF if args.ignore_quality else None)
                ident = {"map": name, "source": source, "frame": frame, "time": geometry.time or ""}
                result = {"rows": [{**ident, **row} for row in clip_fluxes(mag, geometry, params)], "regions": []}
                if not args.no_regions:
                    _, table = find_regions(mag, geometry, detection)
                    keep = ["label", "lat_deg", "lon_deg", "mu_center", "area_msh", "tumf_mx", "amf_g", "max_abs_g"]
                    table = table[[c for c in keep if c in table.columns]]
                    result["regions"] = [{"map": name, "frame": frame, "time": ident["time"], **r} for r in table.to_dict("records")]
                cache.put(key, result)
            rows.extend(result["rows"])
            regions.extend(result["regions"])
            advance()

    table = pd.DataFrame(rows, columns=["map", "source", "frame", "time", *SATURATION_COLUMNS])
    atomic_write_text(out / "saturation.csv", table.to_csv(index=False))
    summary = {
        "n_maps": len(items),
        "limits": summarize_saturation(table, params.limits_g),
        "per_map": {
            name: {f"{r['limit_g']:g}": {"tumf_kept": r["tumf_kept"], "nmf_kept": r["nmf_kept"]} for r in rows if r["map"] == name}
            for name in (it.name for it in items)
        },
        "definitions": _definitions(params, table, args),
        "inputs": [str(Path(p)) for p in args.inputs],
    }
    if not args.no_regions:
        amf = pd.DataFrame(regions, columns=["map", "frame", "time", "label", "lat_deg", "lon_deg", "mu_center",
                                             "area_msh", "tumf_mx", "amf_g", "max_abs_g"])
        atomic_write_text(out / "regions_amf.csv", amf.to_csv(index=False))
        summary["amf"] = amf_statistics(amf["amf_g"].to_numpy(dtype=float), params.limits_g)
        summary["definitions"]["detection"] = detection.to_dict()
    atomic_write_json(out / "saturation.json", summary)
    cache.clear()
    for limit, s in summary["limits"].items():
        print(
            f"+-{limit} G: TUMF slope {s['tumf']['slope']:.3f} R2 {s['tumf']['r2']:.3f} | NMF slope {s['nmf']['slope']:.3f} "
            f"R2 {s['nmf']['r2']:.3f} | NMF sign flips {s['sign_flip_fraction']:.1%} of {s['n_maps']} maps"
        )
    if "amf" in summary:
        a = summary["amf"]
        print(f"region AMF: {a['n_regions']} regions, mean {a['mean_g']:.0f} +- {a['std_g']:.0f} G")
    print(f"wrote {out / 'saturation.csv'} and {out / 'saturation.json'}")
    return 0


def _definitions(params, table, args) -> dict:
    from ..geometry import RSUN_MM

    res = sorted({(int(s), float(r)) for s, r in zip(table["size_px"], table["rsun_px"])}) if len(table) else []
    return {
        "disk_cut": f"pixels with plane-of-sky distance rho < {params.r_max} of the apparent solar radius",
        "threshold": f"a pixel counts in a map's TUMF/NMF when |B| > {params.threshold_g:g} G in that map "
        "(applied to the original and the clipped map separately)",
        "area": f"foreshortening-corrected pixel area (R_sun/rsun_px)^2/mu with R_sun = {RSUN_MM} Mm; "
        "flux = sum(B_LOS * area), no 1/mu on B (SHARP USFLUXL convention)",
        "resolution": [
            {"size_px": s, "rsun_px": r, "mm_per_px_at_disk_centre": RSUN_MM / r} for s, r in res
        ],
        "fits_preparation": f"euv2mag.data.fits.prepare_hmi(path, size={args.size}) (north up, disk radius 392/1024 of the side)",
        "slope": "least squares through the origin, clipped = slope * original: sum(x*y)/sum(x^2)",
        "r2": "1 - sum((original - clipped)^2) / sum((original - mean(original))^2), "
        "i.e. scikit-learn r2_score(y_true=original, y_pred=clipped)",
        "r2_fit": "1 - sum((clipped - slope*original)^2) / sum((clipped - mean(clipped))^2)",
        "sign_flip_fraction": "share of maps with sign(NMF_clipped) != sign(NMF_original)",
        "amf": "region AMF = region TUMF / region deprojected area (G), regions detected on the original maps "
        "with euv2mag.audit.measurement.find_regions; std is the sample standard deviation (ddof=1)",
    }
