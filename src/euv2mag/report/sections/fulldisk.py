"""Full-disk comparison: generated against reference TUMF, NMF and block-averaged pixel values,
and the audit's full-disk headline numbers.

Reads ``audit/main/fulldisk.csv`` (:data:`euv2mag.audit.files.FULLDISK`) and ``summary.json``
(:class:`~euv2mag.audit.summary.AuditSummary`).  The pixel scatter draws stored pixel values of
the dataset and the first prediction store, block-averaged exactly as the audit bins them for
its ``cc_binned`` (:func:`euv2mag.audit.fulldisk.binned_cc`: its NaN-aware block mean, the
summary's ``params.fulldisk.bin_factor`` and disk cut ``r_max``), on the frames the audit used
(``frame`` / ``truth_frame`` of ``fulldisk.csv``); the CCs printed on it are the audit's.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import figures as F
from ..html import Page, fmt, fmt_ci
from ..inputs import attempt
from ..layout import MAIN_EXPERIMENT
from ._common import AUDIT_COMMAND, ci_caption

__all__ = ["render"]

#: Most frames drawn in the pixel scatter (a figure, not a statistic).
_MAX_FRAMES = 200


def _binned_panel(ctx, df, summary, head):
    """The binned pixel-scatter panel and its source files, or ``(None, [])``."""
    from ...audit.fulldisk import block_mean, disk_pixels
    from ...audit.pipeline import AuditParams

    lay = ctx.layout
    truth = ctx.store(lay.store)
    preds = {p.name.removesuffix(".zarr"): (seed, p) for seed, p in lay.predictions(MAIN_EXPERIMENT).items()}
    names = [n for n in dict.fromkeys(df["pred"]) if n in preds]
    if truth is None or summary is None or not names:
        return None, []
    seed, path = preds[names[0]]
    st = ctx.store(path)
    if st is None or not st.has("pred"):
        return None, []
    params = AuditParams.from_dict(summary.params).fulldisk
    k = int(params.bin_factor)
    rows = df[df["pred"] == names[0]].head(_MAX_FRAMES)
    xs, ys = [], []
    for j, i in zip(rows["frame"], rows["truth_frame"]):
        _, disk = disk_pixels(truth.geometry(int(i)), params.r_max)
        ref = np.where(disk, truth.read("mag", int(i)), np.nan).astype(np.float64)
        gen = np.where(disk, st.read("pred", int(j)), np.nan).astype(np.float64)
        if k > 1:
            ref, gen = block_mean(ref, k), block_mean(gen, k)
        ok = np.isfinite(ref) & np.isfinite(gen)
        xs.append(ref[ok])
        ys.append(gen[ok])
    if not xs:
        return None, []
    text = None if head is None else f"mean binned CC {fmt(head.pixel_cc_binned)}\nmean pixel CC {fmt(head.pixel_cc)}"
    panel = {"x": np.concatenate(xs), "y": np.concatenate(ys), "density": True,
             "title": f"{k}x{k}-binned pixels, seed {seed}", "xlabel": "reference B (G)", "ylabel": "generated B (G)",
             "text": text, "k": k, "r_max": params.r_max}
    return panel, [lay.rel(lay.store), lay.rel(path)]


def render(page: Page, ctx, heads: dict) -> None:
    """The ``fulldisk`` section.

    Parameters
    ----------
    page : Page
        The report page.
    ctx : ReportContext
        Shared inputs.
    heads : dict
        Experiment name -> :class:`~euv2mag.report.verdict.Headline` of its audit.
    """
    from ...audit.files import FULLDISK

    lay = ctx.layout
    sec = page.section("fulldisk", "Full-disk comparison")
    path = FULLDISK.path(lay.audit_dir(MAIN_EXPERIMENT))
    if not path.is_file():
        sec.missing(f"{lay.rel(path)}", AUDIT_COMMAND)
        return
    df, error = attempt(FULLDISK.read, path)
    if error:
        sec.invalid(error, AUDIT_COMMAND)
        return
    summary, _ = ctx.summary(MAIN_EXPERIMENT)
    h = heads.get(MAIN_EXPERIMENT)
    spath = lay.rel(lay.audit_dir(MAIN_EXPERIMENT) / "summary.json")
    groups = {str(k): g for k, g in df.groupby("pred", sort=False)}
    panels = []
    for qty in ("tumf", "nmf"):
        series = {Path(k).name.replace(".zarr", ""): (g[f"{qty}_ref_mx"], g[f"{qty}_gen_mx"]) for k, g in groups.items()}
        text = None
        if h is not None:
            cc, r2, slope = (h.tumf_cc, h.tumf_r2, h.tumf_slope) if qty == "tumf" else (h.nmf_cc, h.nmf_r2, h.nmf_slope)
            text = f"CC {fmt(cc)}\nR² {fmt(r2)}\nslope {fmt(slope)}"
        panels.append({"series": series, "title": f"full-disk {qty.upper()}", "xlabel": f"reference {qty.upper()} (Mx)",
                       "ylabel": f"generated {qty.upper()} (Mx)", "text": text})
    binned, binned_src = _binned_panel(ctx, df, summary, h)
    caption = ("Generated against reference, over the test frames: full-disk total unsigned flux (TUMF), net flux (NMF), one "
               "colour per run")
    if binned is not None:
        caption += (f", and pixel values averaged in {binned['k']}x{binned['k']} blocks inside {fmt(binned['r_max'])} solar "
                    "radii, as the audit bins them for its binned CC (density, log colour; one run)")
        panels.append({k: v for k, v in binned.items() if k not in ("k", "r_max")})
    caption += (". Points on the dashed line are reproduced exactly. TUMF depends only on |B|, which the EUV image traces; "
                "NMF and pixel values depend on the sign. The CCs printed in the panels are the audit's.")
    fig = F.fig_scatter_panels(panels)
    sec.figure(F.figure_png(fig), caption, [lay.rel(path), spath] + binned_src, "full-disk scatter plots")
    if h is not None:
        def cell(attr):
            return fmt_ci(getattr(h, attr), h.ci.get(attr))

        strong = fmt((summary.params.get("fulldisk") or {}).get("strong_g", 50.0)) if summary is not None else "50"
        rows = [["TUMF across frames", cell("tumf_cc"), cell("tumf_r2"), cell("tumf_slope")],
                ["NMF across frames", cell("nmf_cc"), cell("nmf_r2"), cell("nmf_slope")],
                ["pixel values (mean over frames)", cell("pixel_cc"), None, None],
                ["binned pixel values (mean over frames)", cell("pixel_cc_binned"), None, None],
                ["strong-field polarity agreement (mean)", cell("polarity_agreement"), None, None],
                ["|B| pixel values, sign ignored (mean over frames)", cell("abs_cc"), None, None],
                ["binned |B| pixel values (mean over frames)", cell("abs_cc_binned"), None, None],
                ["unsigned flux in the truth footprints, generated / reference (mean)", cell("footprint_abs_ratio"), None, None],
                ["full-disk TUMF, generated / reference (mean)", cell("tumf_ratio"), None, None]]
        sec.table(["quantity", "CC / agreement", "R²", "slope"], rows,
                  "Full-disk headline numbers: correlation, R² (generated as a prediction of the reference) and slope of a fit "
                  "through the origin across test frames; per-frame pixel CCs averaged over frames; polarity agreement on pixels "
                  f"where both maps exceed {strong} G (0.5 = chance); the sign-blind rows (|B| CCs, unsigned flux ratios) say "
                  "whether the model draws the field in the right places and strength even where it cannot know the "
                  "sign. " + ci_caption(h.bootstrap), [spath],
                  table_id="fulldisk-table")
