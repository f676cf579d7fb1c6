"""Saturation study: what clipping magnetograms at ±L G does to their full-disk flux, and where the
limits sit in the distribution of active-region mean fields.

Reads ``saturation/saturation.csv``, ``saturation.json`` and ``regions_amf.csv`` through
:func:`euv2mag.report.inputs.read_saturation` / :func:`~euv2mag.report.inputs.read_regions_amf`;
when there is no ``regions_amf.csv``, the AMF of the reference regions of the main audit
(``audit/main/regions.csv``, :data:`euv2mag.audit.files.REGIONS`, source ``truth``).  Slopes,
R² and shares are printed as the saturation command wrote them; nothing is computed here.
"""
from __future__ import annotations

import numpy as np

from .. import figures as F
from ..html import Page, fmt
from ..inputs import attempt, read_regions_amf, read_saturation
from ..layout import MAIN_EXPERIMENT

__all__ = ["render"]

_COMMAND = "euv2mag saturation DIR/data/synth.zarr --limits 100 625 3000 --out DIR/saturation"


def _amf(sec, ctx):
    """``(AMF values in G, source)`` of the regions, or ``(None, None)``."""
    from ...audit.files import REGIONS

    lay = ctx.layout
    amf, error = attempt(read_regions_amf, lay.saturation_dir)
    if error:
        sec.invalid(error, _COMMAND)
    elif amf is not None:
        return amf["amf_g"].to_numpy(float), lay.rel(lay.saturation_dir / "regions_amf.csv")
    path = REGIONS.path(lay.audit_dir(MAIN_EXPERIMENT))
    if path.is_file():
        regions, error = attempt(REGIONS.read, path)
        if error:
            sec.invalid(error, "euv2mag audit ... --out DIR/audit/main")
        else:
            ref = regions[regions["source"] == "truth"]
            return ref["amf_g"].to_numpy(float), lay.rel(path) + " (reference regions)"
    return None, None


def render(page: Page, ctx) -> None:
    """The ``saturation`` section: clipped-versus-original scatter, per-limit table, AMF histogram and table.

    Parameters
    ----------
    page : Page
        The report page.
    ctx : ReportContext
        Shared inputs.
    """
    lay = ctx.layout
    sec = page.section("saturation", "Saturation study")
    csv_path = lay.saturation_dir / "saturation.csv"
    json_path = lay.saturation_dir / "saturation.json"
    pair, error = attempt(read_saturation, lay.saturation_dir)
    if error:
        sec.invalid(error, _COMMAND)
        return
    table, summary = pair
    if table is None:
        sec.missing(f"{lay.rel(csv_path)}", _COMMAND)
        return
    per_limit = {float(e["limit_g"]): e for e in (summary or {}).get("limits", {}).values()
                 if isinstance(e, dict) and "limit_g" in e}
    annotations = {}
    rows = []
    for limit in sorted(per_limit):
        e = per_limit[limit]
        t, n = e.get("tumf", {}), e.get("nmf", {})
        annotations[("tumf", limit)] = f"slope {fmt(t.get('slope'))}\nR² {fmt(t.get('r2'))}"
        annotations[("nmf", limit)] = f"slope {fmt(n.get('slope'))}\nR² {fmt(n.get('r2'))}\nsign flips {fmt(e.get('sign_flip_fraction'))}"
        rows.append([f"±{limit:g} G", e.get("n_maps"), t.get("slope"), t.get("r2"), n.get("slope"), n.get("r2"),
                     e.get("sign_flip_fraction")])
    fig = F.fig_saturation_scatter(table, annotations)
    sec.figure(F.figure_png(fig),
               "Clipped against original full-disk flux, one column per saturation limit: TUMF (top) and NMF (bottom) of each "
               "magnetogram after clipping to ±L G versus before. Points on the dashed line keep all their flux; the slope of "
               "a fit through the origin is the share kept, R² says how well the clipped value predicts the original, and "
               "'sign flips' is the share of maps whose NMF changes sign.",
               [lay.rel(csv_path)] + ([lay.rel(json_path)] if summary is not None else []), "saturation scatter")
    if rows:
        sec.table(["limit", "maps", "TUMF slope", "TUMF R²", "NMF slope", "NMF R²", "NMF sign-flip share"], rows,
                  "Saturation statistics per limit (definitions in the saturation module's documentation). KPL19 trained on "
                  "±100 G; Liu et al. 2021 report slopes 0.45 (TUMF) and 0.67 (NMF) with R² −0.07 and 0.77 and 19.4 % sign "
                  "flips on real HMI test maps.", [lay.rel(json_path)], table_id="saturation-table")
    else:
        sec.missing(f"{lay.rel(json_path)} (per-limit slopes and R²)", "euv2mag saturation ... --out DIR/saturation")
    amf, amf_src = _amf(sec, ctx)
    amf_stats = (summary or {}).get("amf") if isinstance((summary or {}).get("amf"), dict) else None
    limits = sorted(float(v) for v in table["limit_g"].unique())
    if amf is not None and np.isfinite(amf).any():
        fig = F.fig_amf_histogram(amf, limits)
        sec.figure(F.figure_png(fig),
                   "Mean absolute field (AMF) of the detected active regions, with the saturation limits as dashed lines. "
                   "A limit left of most of the histogram saturates the typical active region (on the real Sun, "
                   "AMF = 208 ± 54 G over 3936 regions).", [amf_src], "region AMF histogram")
    if amf_stats is not None:
        rows = [[k, v] for k, v in amf_stats.items() if not isinstance(v, (dict, list))]
        rows += [[f"share of regions with AMF < {k} G", v] for k, v in (amf_stats.get("share_below") or {}).items()]
        sec.table(["quantity", "value"], rows, "Distribution of region AMF (G): count, mean, standard deviation and the share "
                  "of regions below each limit.", [lay.rel(json_path)], table_id="amf-table")
    elif amf is None:
        sec.missing("region AMF values", "euv2mag saturation ... (regions detected on the original maps)")
