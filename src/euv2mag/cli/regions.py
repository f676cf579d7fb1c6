"""``euv2mag regions MAP... --out DIR``: detect active regions and measure their parameters.

Full-disk mode (default)
    Inputs are HMI LOS FITS files, prepared with :func:`euv2mag.data.fits.prepare_hmi` at
    ``--size`` px (north up, disk radius 392/1024 of the side), or one euv2mag store given with
    ``--store`` (array ``--array``, frames ``--indices``).  Regions are detected and measured with
    :func:`euv2mag.audit.measurement.find_regions`.  Writes

    ``DIR/regions.csv``
        one row per region of every map: ``map`` (file name or ``store[i]``), ``source`` (path),
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
    :func:`euv2mag.audit.patch.measure_patch`, and written as one row per patch to
    ``DIR/regions.csv``: ``map``, ``source``, ``bitmap``, ``r_value``, ``log10_r_mx``,
    ``n_pil_px``, ``r_scale``, ``tumf_mx``, ``nmf_mx``, ``flux_pos_mx``, ``flux_neg_mx``,
    ``area_mm2``, ``area_msh``, ``amf_g``, ``max_abs_g``, ``n_px``, ``pil_count``,
    ``pil_length_mm``, ``pil_mean_gradient_g_per_mm``, and the header's ``header_r_value``,
    ``header_usflux_mx`` (NaN when absent) and ``tumf_over_usflux``.
"""
from __future__ import annotations

import math
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


def _read_fits_image(path: Path):
    """(data float64, header) of the first image HDU of a FITS file (compressed or not)."""
    import warnings

    import numpy as np
    from astropy.io import fits

    from ..errors import UserError

    if not path.is_file():
        raise UserError("no such file", path=path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(path) as hdul:
                hdul.verify("silentfix")
                for hdu in hdul:
                    if hdu.is_image and hdu.data is not None and hdu.data.ndim == 2:
                        return np.asarray(hdu.data, dtype=np.float64), hdu.header.copy()
    except (OSError, ValueError, TypeError) as exc:
        raise UserError(f"cannot read FITS: {exc}", path=path) from None
    raise UserError("has no 2-D image", path=path)


def _header_float(header, key, path, default=None):
    from ..errors import UserError

    value = header.get(key, default)
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value):
        if default is not None:
            return float(default)
        raise UserError(f"header keyword {key} is missing or not a number", path=path)
    return value


def run_patch(args, out: Path) -> int:
    import numpy as np
    import pandas as pd

    from .._io import atomic_path, atomic_write_json, ensure_dir
    from ..audit.detection import DetectionParams
    from ..audit.patch import measure_patch
    from ..errors import UserError

    if not args.maps:
        raise UserError("--patch needs at least one patch FITS file")
    if args.bitmap and len(args.maps) != 1:
        raise UserError("--bitmap applies to exactly one patch; give one MAP")
    params = DetectionParams()
    rows = []
    for name in args.maps:
        path = Path(name)
        los, head = _read_fits_image(path)
        cdelt = _header_float(head, "CDELT1", path)
        unit = str(head.get("CUNIT1", "deg")).strip().lower()
        if unit not in ("deg", "degree", "degrees", ""):
            raise UserError(f"CUNIT1 is {unit!r}; a CEA patch needs degrees", path=path)
        rsun_ref = _header_float(head, "RSUN_REF", path, 6.96e8)
        dsun = _header_float(head, "DSUN_OBS", path, 1.495978707e11)
        mask = None
        if args.bitmap:
            bm, _ = _read_fits_image(Path(args.bitmap))
            if bm.shape != los.shape:
                raise UserError(f"bitmap shape {bm.shape} differs from the patch {los.shape}", path=args.bitmap)
            mask = bm >= 30
        if not np.isfinite(los).any():
            raise UserError("patch has no finite pixel", path=path)
        res = measure_patch(los, cdelt, rsun_ref_m=rsun_ref, dsun_obs_m=dsun, mask=mask, params=params)
        usflux = _header_float(head, "USFLUX", path, math.nan) if "USFLUX" in head else math.nan
        row = {"map": path.name, "source": str(path), "bitmap": str(args.bitmap or ""), **res}
        row["header_r_value"] = _header_float(head, "R_VALUE", path, math.nan) if "R_VALUE" in head else math.nan
        row["header_usflux_mx"] = usflux
        row["tumf_over_usflux"] = res["tumf_mx"] / usflux if usflux and math.isfinite(usflux) else math.nan
        rows.append(row)
        print(f"{path.name}: R = {res['r_value']:.3f} (header {row['header_r_value']}), "
              f"TUMF {res['tumf_mx']:.4g} Mx, {res['pil_count']} PIL segments, {res['pil_length_mm']:.1f} Mm")
    table = pd.DataFrame(rows)
    ensure_dir(out)
    with atomic_path(out / "regions.csv") as tmp:
        table.to_csv(tmp, index=False)
    atomic_write_json(out / "regions.json", {"mode": "patch", "params": params.to_dict(), "inputs": args.maps,
                                             "bitmap": args.bitmap})
    print(f"wrote {out / 'regions.csv'} ({len(table)} patches)")
    return 0


def _list_maps(args):
    """The :class:`~euv2mag.cli._maps.MapInput` items of ``--store`` (first) and the MAP files."""
    from ..errors import UserError
    from ..data.maps import expand_map_inputs

    if args.store and not Path(args.store).is_dir():
        raise UserError("is not an euv2mag store (a folder)", path=args.store)
    paths = ([args.store] if args.store else []) + list(args.maps)
    if not paths:
        raise UserError("give MAP files or --store STORE")
    return expand_map_inputs(paths, indices=args.indices, array=args.array)


def overlay_png(path: Path, mag, geometry, labels, table, *, vmax: float = 1500.0, title: str = "", r_max: float = 0.95) -> None:
    """Write an overlay PNG: magnetogram (hmimag), region contours and labels, limb cut.

    Parameters
    ----------
    path : Path
        Output PNG (written atomically).
    mag : ndarray
        Field in G (north up, row 0 south).
    geometry : DiskGeometry
        Its geometry.
    labels : ndarray of int
        Region labels.
    table : pandas.DataFrame
        Region table (``label``, ``lat_deg``, ``lon_deg``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import sunpy.visualization.colormaps  # noqa: F401  (registers hmimag)

    from .._io import atomic_path

    fig, ax = plt.subplots(figsize=(8, 8), dpi=100)
    ax.imshow(mag, origin="lower", cmap=matplotlib.colormaps["hmimag"], vmin=-vmax, vmax=vmax, interpolation="nearest")
    if labels.max() > 0:
        ax.contour((labels > 0).astype(float), levels=[0.5], colors="red", linewidths=1.2)
    t = np.linspace(0, 2 * np.pi, 361)
    cx, cy = geometry.center_px
    ax.plot(cx + r_max * geometry.rsun_px * np.cos(t), cy + r_max * geometry.rsun_px * np.sin(t), color="0.6", lw=0.5, ls="--")
    for row in table.itertuples():
        x, y, _ = geometry.hgs_to_pixel(row.lat_deg, row.lon_deg)
        if np.isfinite(x):
            ax.text(float(x) + 8, float(y) + 8, str(row.label), color="red", fontsize=10, weight="bold")
    ax.set_title(f"{title}  ({len(table)} regions)", fontsize=10)
    ax.set_xlabel("x [px] (west ->)")
    ax.set_ylabel("y [px] (north ^)")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def run(args) -> int:
    import pandas as pd

    from .._io import atomic_path, atomic_write_json, ensure_dir, path_inside
    from ..audit.detection import DetectionParams
    from ..audit.measurement import find_regions
    from ..errors import UserError
    from ..progress import progress_bar

    if args.patch:
        return run_patch(args, Path(args.out))
    if args.bitmap:
        raise UserError("--bitmap needs --patch")
    kwargs = {"r_max": args.r_max}
    if args.min_mean_abs_g is not None:
        kwargs["min_mean_abs_g"] = args.min_mean_abs_g
    params = DetectionParams(**kwargs)
    items = _list_maps(args)  # every input checked before the output folder is made
    out = ensure_dir(args.out)
    cache = ensure_dir(out / ".cache")
    tables, counts = [], {}
    with progress_bar("regions", len(items)) as advance:
        for item in items:
            name, source, frame = item.name, item.source, item.frame
            cached = path_inside(cache, f"{name}.csv")
            png = path_inside(out, f"{name}.png")
            if cached.exists() and (args.no_png or png.exists()):
                table = pd.read_csv(cached)
            else:
                mag, geometry = item.load(args.size)
                labels, table = find_regions(mag, geometry, params)
                table.insert(0, "time", geometry.time or "")
                table.insert(0, "frame", frame)
                table.insert(0, "source", source)
                table.insert(0, "map", name)
                if not args.no_png:
                    overlay_png(png, mag, geometry, labels, table, vmax=args.vmax, title=name, r_max=params.r_max)
                with atomic_path(cached) as tmp:
                    table.to_csv(tmp, index=False)
            counts[name] = int(len(table))
            tables.append(table)
            advance()
    nonempty = [t for t in tables if len(t)]
    result = pd.concat(nonempty, ignore_index=True) if nonempty else tables[0].iloc[0:0]
    with atomic_path(out / "regions.csv") as tmp:
        result.to_csv(tmp, index=False)
    atomic_write_json(out / "regions.json", {"mode": "fulldisk", "params": params.to_dict(), "size": args.size,
                                             "inputs": [it.source for it in items], "regions_per_map": counts})
    for name, n in counts.items():
        print(f"{name}: {n} regions")
    print(f"wrote {out / 'regions.csv'} ({len(result)} regions from {len(items)} maps)")
    return 0
