"""Every model beside the baselines: one table of the headline numbers with their intervals, and
the Hale breakdown of every row.

Reads ``audit/<experiment>/summary.json`` of every experiment of the study folder
(:meth:`~euv2mag.report.layout.StudyLayout.experiments`: whatever folders ``runs/`` and
``audit/`` hold, not fixed names) and ``audit/baselines/<kind>/summary.json`` of every baseline
(:meth:`~euv2mag.report.layout.StudyLayout.baselines`), all through the typed
:class:`~euv2mag.audit.summary.AuditSummary` and the :class:`~euv2mag.report.verdict.Headline`
numbers.  An experiment's row is the mean over its runs, with the Hale classes of all runs'
region observations together, followed by one row per run when there are several (the spread
over seeds).  Nothing is computed here.
"""
from __future__ import annotations

import re

from ..html import Page, fmt_ci
from ._common import ci_caption

__all__ = ["render", "COLUMNS", "baseline_description"]

#: Columns of the comparison table: header, and the Headline attribute (``group.attr`` for a Hale class).
COLUMNS = (
    ("pixel CC", "pixel_cc"),
    ("binned pixel CC", "pixel_cc_binned"),
    ("|B| CC", "abs_cc"),
    ("binned |B| CC", "abs_cc_binned"),
    ("footprint |B| ratio", "footprint_abs_ratio"),
    ("TUMF ratio", "tumf_ratio"),
    ("NMF CC", "nmf_cc"),
    ("NMF sign agreement", "nmf_sign_agreement"),
    ("strong-field polarity agreement", "polarity_agreement"),
    ("region recall", "recall"),
    ("region precision", "precision"),
    ("footprint polarity, Hale-conforming", "hale.footprint_polarity_agreement"),
    ("footprint polarity, anti-Hale", "anti_hale.footprint_polarity_agreement"),
    ("leading polarity, Hale-conforming (matched)", "hale.polarity_agreement"),
    ("leading polarity, anti-Hale (matched)", "anti_hale.polarity_agreement"),
)
_GROUP_CI = {"footprint_polarity_agreement": "footprint_ci", "polarity_agreement": "polarity_ci"}

BASELINES_COMMAND = ("euv2mag baselines DIR/data/synth.zarr --split DIR/splits/kpl19.json --out DIR/pred/baselines; "
                     "euv2mag audit --truth DIR/data/synth.zarr --pred DIR/pred/baselines/<kind>.zarr "
                     "--out DIR/audit/baselines/<kind> (for each kind)")


def baseline_description(kind: str) -> str:
    """One line saying what a baseline is and what it brackets (:mod:`euv2mag.audit.baselines`)."""
    if kind == "zero":
        return "zero: 0 G everywhere on the disk, the floor (no field: ratios 0, CCs undefined)."
    m = re.fullmatch(r"clip-(.+)", kind)
    if m:
        return (f"{kind}: the truth clipped to ±{m.group(1)} G, the ceiling of a model trained on ±{m.group(1)} G maps "
                "(right signs and places, strong-field flux lost).")
    if kind == "sign-coin":
        return ("sign-coin: the truth with each region's sign a coin toss (the same in every frame), guessed polarity: "
                "perfect |B|, footprint polarity about 0.5 in both Hale classes.")
    if kind == "hale-oracle":
        return ("hale-oracle: the truth with every anti-Hale region negated, polarity from Hale's law alone: footprint "
                "polarity 1 on Hale-conforming and 0 on anti-Hale regions.")
    m = re.fullmatch(r"persistence-(.+)", kind)
    if m:
        return (f"{kind}: the truth of {m.group(1)} days before each frame, persistence: what carrying an earlier "
                "magnetogram forward gets right without reading the EUV image.")
    return f"{kind}: a baseline of euv2mag baselines (see its --help)."


def _cell(head, attr: str) -> str:
    if "." in attr:
        group, metric = attr.split(".")
        g = getattr(head, group)
        return fmt_ci(getattr(g, metric), getattr(g, _GROUP_CI[metric]))
    return fmt_ci(getattr(head, attr), head.ci.get(attr))


def render(page: Page, ctx, heads: dict, baselines: dict) -> None:
    """The ``comparison`` section.

    Parameters
    ----------
    page : Page
        The report page.
    ctx : ReportContext
        Shared inputs.
    heads : dict
        Experiment name -> :class:`~euv2mag.report.verdict.Headline` of its audit.
    baselines : dict
        Baseline kind -> Headline of its audit (``audit/baselines/<kind>``).
    """
    lay = ctx.layout
    sec = page.section("comparison", "Models and baselines side by side")
    rows, sources, boot = [], [], None
    for exp, head in heads.items():
        runs = ctx.run_headlines(exp)
        label = f"{exp} (model" + (f", mean of {len(runs)} runs)" if len(runs) > 1 else ")")
        rows.append([label] + [_cell(head, a) for _, a in COLUMNS])
        if len(runs) > 1:
            rows.extend([f"  {name}"] + [_cell(h, a) for _, a in COLUMNS] for name, h in runs.items())
        sources.append(head.source)
        boot = boot or head.bootstrap
    for kind in lay.baselines():
        _, error = ctx.baseline_summary(kind)
        if error:
            sec.invalid(error, BASELINES_COMMAND)
        elif kind not in baselines:
            sec.missing(f"{ctx.rel(lay.baseline_audit_dir(kind) / 'summary.json')} (baseline {kind} not audited)",
                        BASELINES_COMMAND)
    for kind, head in baselines.items():
        rows.append([f"{kind} (baseline)"] + [_cell(head, a) for _, a in COLUMNS])
        sources.append(head.source)
        boot = boot or head.bootstrap
    if not baselines:
        sec.text("No baseline has been audited in this study folder (it was made before baselines were part of the "
                 "study, or their stage has not run), so the models cannot be set beside a floor and a ceiling here.")
        sec.missing(f"{ctx.rel(lay.root / 'audit' / 'baselines')}/<kind>/summary.json (the baselines)", BASELINES_COMMAND)
    if not rows:
        sec.missing("audit/<experiment>/summary.json (no audited model)", "euv2mag audit ...")
        return
    sec.table(["model or baseline"] + [c for c, _ in COLUMNS], rows,
              "The headline numbers of every model (each experiment's mean over its runs, then each run) and every "
              "baseline, audited the same way on the same test frames. Pixel and |B| CCs are frame means of the "
              "per-frame Pearson r of B and of |B| (raw and block-binned); the footprint |B| ratio is generated over "
              "reference unsigned flux inside the truth regions' footprints, the TUMF ratio the same over the disk (frame "
              "means); NMF CC across frames and the share of frames with the NMF sign right; strong-field polarity "
              "agreement on pixels where both maps are strong (0.5 = chance); region recall and precision of the "
              "detected regions; and the Hale breakdown: leading polarity inside the footprints of Hale-conforming and "
              "anti-Hale truth regions (matched or not) and of matched regions (0.5 = chance). An experiment's Hale "
              "numbers pool the region observations of all its runs. — marks a number the audit could not define (e.g. "
              "a CC of the all-zero map). " + ci_caption(boot), sources, table_id="comparison-table")
    if baselines:
        sec.raw('<ul id="baseline-notes">')
        for kind in baselines:
            sec.raw("<li>")
            sec.text(baseline_description(kind))
            sec.raw("</li>")
        sec.raw("</ul>")
