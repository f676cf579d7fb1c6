"""Active regions: an overlay of the detected regions on one test frame, detection and matching
numbers, and the parameters of matched region pairs.

Reads ``audit/main/summary.json`` (:class:`~euv2mag.audit.summary.AuditSummary`: counts,
recall, precision, per-parameter agreement with its ``n_pairs``) and ``matches.csv``
(:data:`euv2mag.audit.files.MATCHES`: ``ref_<p>`` / ``gen_<p>`` for p in
:data:`euv2mag.audit.match.SUMMARY_PARAMETERS`).  No region-parameter CC is printed from fewer
than the audit's ``min_pairs`` matched pairs (the summary gives NaN there; the report shows a
dash and the count).

The overlay needs outlines, which the audit does not store (``regions.csv`` has centres and
areas, not label images).  They are re-detected here on the shown frame with the audit's own
detection parameters (``params.detection`` of the summary), so they are the regions the audit
counted; the caption says so.  Without a summary there is no overlay.
"""
from __future__ import annotations

from .. import figures as F
from ..html import Page
from ..inputs import attempt
from ..layout import MAIN_EXPERIMENT
from ._common import AUDIT_COMMAND, audit_min_pairs, param_cc_cell, pick_frame, pred_to_truth_index

__all__ = ["render"]

#: Axis labels of the matched-pair panels, by region parameter.
PARAMETER_LABELS = {
    "area_msh": "area (MSH)", "tumf_mx": "TUMF (Mx)", "nmf_mx": "NMF (Mx)", "amf_g": "mean |B| (G)",
    "max_abs_g": "max |B| (G)", "pil_length_mm": "PIL length (Mm)", "r_value": "R value (log10 G px)",
    "pil_count": "number of PILs", "pil_mean_gradient_g_per_mm": "PIL gradient (G/Mm)",
}


def _overlay(sec, ctx, summary) -> None:
    from ...audit.pipeline import AuditParams
    from ...audit.detection import detect_regions

    lay = ctx.layout
    truth = ctx.store(lay.store)
    preds = lay.predictions(MAIN_EXPERIMENT)
    if truth is None or not preds or summary is None:
        return
    seed, p = next(iter(preds.items()))
    st = ctx.store(p)
    if st is None or not st.has("pred"):
        return
    mapping = pred_to_truth_index(truth, st)
    j = pick_frame(truth, st, mapping)
    if j is None:
        return
    i = mapping[j]
    geo = truth.geometry(i)
    ref, gen = truth.read("mag", i), st.read("pred", j)
    # outlines are not stored by the audit: re-detect with the audit's own parameters (module docstring)
    detection = AuditParams.from_dict(summary.params).detection
    lab_r, lab_g = detect_regions(ref, geo, detection), detect_regions(gen, geo, detection)
    limit = ctx.mag_limit_g(MAIN_EXPERIMENT) or 100.0
    fig = F.fig_region_overlay(ref, gen, lab_r, lab_g, limit, ("reference", f"generated, seed {seed}"))
    sec.figure(F.figure_png(fig),
               f"Detected active regions on one test frame ({truth.times[i]}): reference regions outlined in yellow "
               f"(solid), regions detected on the generated map in cyan (dashed), drawn on both maps (±{limit:g} G). "
               "A yellow outline without a cyan one is a missed region; cyan alone is an extra one. The outlines are "
               "detected again for this figure with the audit's own detection parameters (summary.json params.detection).",
               [f"{lay.rel(lay.store)} (frame {i})", lay.rel(p), lay.rel(lay.audit_dir(MAIN_EXPERIMENT) / "summary.json")],
               "region overlay")


def _matched_panels(sec, ctx, head, min_pairs: int) -> None:
    from ...audit.files import MATCHES
    from ...audit.match import SUMMARY_PARAMETERS

    lay = ctx.layout
    adir = lay.audit_dir(MAIN_EXPERIMENT)
    path = MATCHES.path(adir)
    if not path.is_file():
        sec.missing(lay.rel(path), AUDIT_COMMAND)
        return
    matches, error = attempt(MATCHES.read, path)
    if error:
        sec.invalid(error, AUDIT_COMMAND)
        return
    pairs = matches[matches["status"] == "matched"]
    if not len(pairs):
        sec.text("No region of a generated map was matched to a reference region, so there are no matched pairs to show.")
        return
    panels = []
    for param in SUMMARY_PARAMETERS:
        x = pairs[f"ref_{param}"].to_numpy(dtype=float, na_value=float("nan"))
        y = pairs[f"gen_{param}"].to_numpy(dtype=float, na_value=float("nan"))
        panels.append({"x": x, "y": y, "title": PARAMETER_LABELS.get(param, param), "xlabel": "reference",
                       "ylabel": "generated", "text": f"CC {param_cc_cell(head, param, min_pairs)}"})
    fig = F.fig_scatter_panels(panels)
    sec.figure(F.figure_png(fig),
               f"Parameters of the {len(pairs)} matched region pairs of all runs, generated against reference. The CC in each "
               f"panel is the audit's (mean over runs, with the matched pairs per run); below {min_pairs} pairs the audit gives "
               "none and the panel shows a dash. Area, TUMF and mean |B| need only |B|; NMF, the polarity inversion lines "
               "(PIL) and Schrijver's R need the sign and its spatial arrangement.",
               [lay.rel(path), lay.rel(adir / "summary.json")], "region parameter scatter")


def render(page: Page, ctx, heads: dict) -> None:
    """The ``regions`` section.

    Parameters
    ----------
    page : Page
        The report page.
    ctx : ReportContext
        Shared inputs.
    heads : dict
        Experiment name -> :class:`~euv2mag.report.verdict.Headline` of its audit.
    """
    lay = ctx.layout
    sec = page.section("regions", "Active regions")
    adir = lay.audit_dir(MAIN_EXPERIMENT)
    summary, error = ctx.summary(MAIN_EXPERIMENT)
    _overlay(sec, ctx, summary)
    h = heads.get(MAIN_EXPERIMENT)
    spath = lay.rel(adir / "summary.json")
    if error:
        sec.invalid(error, AUDIT_COMMAND)
        return
    if h is None:
        sec.missing(spath, "euv2mag audit --truth DIR/data/synth.zarr --pred ... --out DIR/audit/main")
        return
    min_pairs = audit_min_pairs(summary)
    rows = [["reference regions", h.n_ref_regions], ["regions on a generated map (mean per run)", h.n_gen_regions],
            ["matched pairs", h.n_matched], ["recall", h.recall],
            ["precision", h.precision], ["mean centre offset (deg)", h.center_offset_deg]]
    sec.table(["quantity", "value"], rows,
              "Region detection and matching over the test frames: recall = matched / reference regions, precision = matched / "
              "generated regions, centre offset = heliographic distance between matched centres.", [spath], table_id="regions-table")
    _matched_panels(sec, ctx, h, min_pairs)
    if h.param_pairs:
        rows = [[p, param_cc_cell(h, p, min_pairs).split(" (")[0], n] for p, n in h.param_pairs.items()]
        sec.table(["parameter", "CC (matched pairs)", "matched pairs"], rows,
                  "Correlation of each region parameter between matched reference and generated regions (mean over runs), "
                  f"given from {min_pairs} matched pairs up; a dash where there are fewer.", [spath], table_id="param-table")
