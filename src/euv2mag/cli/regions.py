"""``euv2mag regions MAP... --out DIR``: detect active regions and measure their parameters.

Full-disk mode (default)
    Inputs are HMI LOS FITS files, prepared with :func:`euv2mag.data.fits.prepare_hmi` at
    ``--size`` px (north up, disk radius 392/1024 of the side), or one euv2mag store given with
    ``--store`` (array ``--array``, frames ``--indices``).  Regions are detected and measured by
    :func:`euv2mag.audit.region_study.detect_regions_in_maps`.  Writes

    ``DIR/regions.csv``
        one row per region of every map: ``map`` (FITS stem or ``<store>_<frame:05d>``), ``source`` (path),
        ``frame`` (store index, -1 for files), ``time``, then the columns of
        :data:`euv2mag.audit.measurement.REGION_COLUMNS` (documented in :mod:`euv2mag.audit.measurement`);
    ``DIR/<map>.png``
        overlay per map: the magnetogram (sunpy ``hmimag`` colormap, +-``--vmax`` G (1500),
        ``origin="lower"``, north up), region contours and their labels, the limb cut;
    ``DIR/regions.json``
        detection parameters (incl. the square footprint), inputs, counts per map.

    Per-map results are cached in ``DIR/.cache/<map>.csv``; re-running skips maps already done.

Patch mode (``--patch``)
    Each input is a SHARP-like CEA patch (FITS with ``CDELT1`` in deg, ``RSUN_REF``, ``DSUN_OBS``;
    the LOS ``magnetogram`` segment).  Its parameters are computed for the whole patch, or for
    the pixels with ``bitmap >= 30`` of ``--bitmap FILE`` (only with one patch), with
    :func:`euv2mag.audit.region_study.measure_patches`, and written as one row per patch to
    ``DIR/regions.csv``: ``map``, ``source``, ``bitmap``, ``r_value``, ``log10_r_mx``,
    ``n_pil_px``, ``r_scale``, ``tumf_mx``, ``nmf_mx``, ``flux_pos_mx``, ``flux_neg_mx``,
    ``area_mm2``, ``area_msh``, ``amf_g``, ``max_abs_g``, ``n_px``, ``pil_count``,
    ``pil_length_mm``, ``pil_mean_gradient_g_per_mm``, and the header's ``header_r_value``,
    ``header_usflux_mx`` (NaN when absent) and ``tumf_over_usflux``.
"""
from __future__ import annotations

from pathlib import Path

from . import nonnegative_float, positive_int


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "regions",
        help="detect active regions and measure their parameters (regions.csv + overlays)",
        description="Detect active regions on full-disk LOS magnetograms (FITS files or a store) "
        "and measure them (centre, area, TUMF, NMF, AMF, PILs, Schrijver R), or measure "
        "SHARP-like CEA patches with --patch.",
    )
    p.add_argument("maps", nargs="*", metavar="MAP", help="HMI LOS FITS files and/or euv2mag stores (or CEA patches with --patch)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--store", help="euv2mag store to read maps from (instead of FITS files)")
    p.add_argument("--indices", type=int, nargs="+", metavar="I", help="store frames to use (default: all)")
    p.add_argument("--array", default="mag", choices=("mag", "pred"), help="store array (default: mag)")
    p.add_argument("--size", type=positive_int, default=1024, help="side in px FITS maps are prepared at (default: 1024)")
    p.add_argument("--r-max", type=float, default=0.95, help="limb cut in solar radii (default: 0.95)")
    p.add_argument("--min-mean-abs-g", type=nonnegative_float, default=None,
                   help="minimum region mean |B|/mu in G (default: DetectionParams, 90)")
    p.add_argument("--vmax", type=nonnegative_float, default=1500.0, help="overlay colour range +-G (default: 1500, the hmimag range)")
    p.add_argument("--no-png", action="store_true", help="do not write overlay PNGs")
    p.add_argument("--patch", action="store_true", help="inputs are SHARP-like CEA patches (one row each)")
    p.add_argument("--bitmap", help="HARP bitmap FITS of the (single) patch; parameters use bitmap >= 30")
    p.set_defaults(func=run)


def run_patch(args, out: Path) -> int:
    """Patch mode: measure the CEA patches ``args.maps`` and print one line per patch."""
    from ..audit.region_study import measure_patches
    from ..errors import UserError

    if not args.maps:
        raise UserError("--patch needs at least one patch FITS file")
    if args.bitmap and len(args.maps) != 1:
        raise UserError("--bitmap applies to exactly one patch; give one MAP")
    table = measure_patches(args.maps, out, bitmap=args.bitmap or None)
    for row in table.to_dict("records"):
        print(f"{row['map']}: R = {row['r_value']:.3f} (header {row['header_r_value']}), "
              f"TUMF {row['tumf_mx']:.4g} Mx, {row['pil_count']} PIL segments, {row['pil_length_mm']:.1f} Mm")
    print(f"wrote {out / 'regions.csv'} ({len(table)} patches)")
    return 0


def run(args) -> int:
    from ..audit.detection import DetectionParams
    from ..audit.region_study import detect_regions_in_maps
    from ..errors import UserError

    out = Path(args.out)
    if args.patch:
        return run_patch(args, out)
    if args.bitmap:
        raise UserError("--bitmap needs --patch")
    kwargs = {"r_max": args.r_max}
    if args.min_mean_abs_g is not None:
        kwargs["min_mean_abs_g"] = args.min_mean_abs_g
    params = DetectionParams(**kwargs)
    if args.store and not Path(args.store).is_dir():
        raise UserError("is not an euv2mag store (a folder)", path=args.store)
    paths = ([args.store] if args.store else []) + list(args.maps)
    if not paths:
        raise UserError("give MAP files or --store STORE")
    result = detect_regions_in_maps(paths, out, params=params, size=args.size, indices=args.indices,
                                    array=args.array, png=not args.no_png, vmax_g=args.vmax)
    counts = result.attrs["regions_per_map"]
    for name, n in counts.items():
        print(f"{name}: {n} regions")
    print(f"wrote {out / 'regions.csv'} ({len(result)} regions from {len(counts)} maps)")
    return 0
