"""Information-ceiling control and verdict: the no-leak and polarity-leak audits side by side,
the generated verdict paragraph, the Hale's-law breakdown and the physics checks.

Reads ``audit/main/summary.json``, ``audit/leak/summary.json`` and, when present,
``audit/kpl19/summary.json`` (the faithful KPL19 reference run; typed
:class:`~euv2mag.audit.summary.AuditSummary`, through the :class:`~euv2mag.report.verdict.Headline`
numbers) and the training config for the number of iterations.  Nothing is computed here.
"""
from __future__ import annotations

import dataclasses

from ..html import Page, fmt_ci
from ..layout import LEAK_EXPERIMENT, MAIN_EXPERIMENT, REFERENCE_EXPERIMENT
from ..verdict import disagreement_notes, expectation_checks, structure_sign_verdicts, verdict_paragraph
from ._common import AUDIT_COMMAND, audit_min_pairs, ci_caption, param_cc_cell

__all__ = ["render"]

_CI_OF = {"polarity_agreement": "polarity_ci", "footprint_polarity_agreement": "footprint_ci",
          "hemisphere_contrast": "hemisphere_ci"}


def _group_cell(head, group: str, metric: str) -> str:
    g = getattr(head, group)
    return fmt_ci(getattr(g, metric), getattr(g, _CI_OF[metric]) if metric in _CI_OF else None)


def _hale_rows(summary):
    """Header and rows of the Hale's-law breakdown table (``pooled_over_predictions.hale``: observations of all runs)."""
    hale = summary.pooled_over_predictions.hale
    groups = {f.name: getattr(hale, f.name) for f in dataclasses.fields(hale)}
    metrics = [f.name for f in dataclasses.fields(next(iter(groups.values())))]
    rows = [[g] + [getattr(v, m) for m in metrics] for g, v in groups.items()]
    return ["group"] + metrics, rows


def render(page: Page, ctx, heads: dict, runs: dict, baselines: dict | None = None) -> None:
    """The ``control`` section.

    Parameters
    ----------
    page : Page
        The report page.
    ctx : ReportContext
        Shared inputs.
    heads : dict
        Experiment name -> :class:`~euv2mag.report.verdict.Headline` of its audit.
    runs : dict
        Run name -> Headline of each run of the main audit.
    baselines : dict, optional
        Baseline kind -> Headline of its audit (``audit/baselines/<kind>``), for the
        "structure vs sign" statement of every experiment.
    """
    lay = ctx.layout
    sec = page.section("control", "Information-ceiling control and verdict")
    main, leak = heads.get(MAIN_EXPERIMENT), heads.get(LEAK_EXPERIMENT)
    n_seeds = len(lay.predictions(MAIN_EXPERIMENT)) or len(lay.seeds(MAIN_EXPERIMENT)) or None
    sec.raw('<div class="verdict" id="verdict"><b>Verdict.</b> ')
    sec.text(verdict_paragraph(main, leak, n_seeds, runs))
    if heads:
        ref = ("set beside the baselines of the comparison table below" if baselines else
               "no baseline audited (euv2mag baselines), so set beside no field (0), the truth itself (1) and chance (0.5)")
        sec.text(f"Learned the structure or the sign? Each model's sign-blind and footprint-polarity numbers, {ref}:")
        sec.raw('<ul id="structure-sign">')
        for item in structure_sign_verdicts(heads, baselines):
            sec.raw(f'<li data-structure="{item.structure}" data-sign="{item.sign}">')
            sec.text(item.text)
            sec.raw("</li>")
        sec.raw("</ul>")
    sec.raw("</div>")
    for exp, what, command in (
            (MAIN_EXPERIMENT, "", AUDIT_COMMAND),
            (LEAK_EXPERIMENT, " (the polarity-leak control)",
             "euv2mag synth ... --polarity-leak 0.5; euv2mag train ...; euv2mag audit ... --out DIR/audit/leak")):
        _, error = ctx.summary(exp)
        if error:
            sec.invalid(error, command)
        elif heads.get(exp) is None:
            sec.missing(f"{ctx.rel(lay.audit_dir(exp) / 'summary.json')}{what}", command)
    main_summary, _ = ctx.summary(MAIN_EXPERIMENT)
    leak_summary, _ = ctx.summary(LEAK_EXPERIMENT)
    ref, ref_summary = heads.get(REFERENCE_EXPERIMENT), ctx.summary(REFERENCE_EXPERIMENT)[0]
    if main is not None:
        cols = [("full-disk TUMF CC", "tumf_cc"), ("full-disk NMF CC", "nmf_cc"), ("pixel CC (mean)", "pixel_cc"),
                ("binned pixel CC (mean)", "pixel_cc_binned"), ("strong-field polarity agreement", "polarity_agreement"),
                ("region recall", "recall"), ("mean centre offset (deg)", "center_offset_deg")]
        # columns: the main runs, the faithful KPL19 reference run when the study has one, the control
        columns = [(main, main_summary)] + ([(ref, ref_summary)] if ref is not None else []) + [(leak, leak_summary)]
        cols_abs = cols[:4] + [("|B| pixel CC (mean)", "abs_cc")] + cols[4:]
        rows = [[label] + [fmt_ci(getattr(h, a), h.ci.get(a)) if h else None for h, _ in columns] for label, a in cols_abs]
        for g, label in (("hale", "Hale-conforming"), ("anti_hale", "anti-Hale")):
            for m in ("polarity_agreement", "nmf_sign_agreement", "recall", "footprint_polarity_agreement", "hemisphere_contrast"):
                rows.append([f"{label} regions: {m.replace('_', ' ')}"] + [_group_cell(h, g, m) if h else None for h, _ in columns])
        params = list(dict.fromkeys(p for h, _ in columns if h for p in h.param_pairs))
        for p in params:
            rows.append([f"region {p} CC"] + [param_cc_cell(h, p, audit_min_pairs(s)) if h else None for h, s in columns])
        header = ["quantity", "no leak (EUV carries no polarity)"]
        if ref is not None:
            header.append("faithful KPL19 configuration, no leak (reference)")
        header.append("polarity leak (control)")
        sec.table(header, rows,
                  "The same audit numbers for the runs trained without and with polarity information in the EUV input"
                  + (", and for the faithful KPL19 configuration trained on the same no-leak data as the reference run" if ref
                     is not None else "") + ". "
                  "Quantities that need the sign of B should improve with the leak; sign-free ones (TUMF, areas) need not. "
                  f"Region-parameter CCs are given from {audit_min_pairs(main_summary)} matched pairs up (count in "
                  "brackets), a dash below. " + ci_caption(main.bootstrap),
                  [h.source for h, _ in columns if h], table_id="control-table")
    for exp, label in ((MAIN_EXPERIMENT, "no leak"), (LEAK_EXPERIMENT, "polarity leak")):
        summary, _ = ctx.summary(exp)
        if summary is None:
            continue
        header, rows = _hale_rows(summary)
        sec.table(header, rows,
                  f"Hale's-law breakdown ({label}): reference regions split by whether their leading polarity obeys Hale's "
                  "law for their hemisphere and cycle (generator truth). A model that learned only the Hale prior from EUV "
                  "morphology agrees on Hale-conforming regions and fails on anti-Hale ones. Counts are region observations "
                  "(the same region on several test frames counts on each), of all runs together when there are several.",
                  [ctx.rel(lay.audit_dir(exp) / "summary.json")], table_id=f"hale-table-{exp}")
    checks = expectation_checks(main, leak, runs)
    if checks:
        rows = [[c.expectation, c.observed, "—" if c.holds is None else ("holds" if c.holds else "does not hold")] for c in checks]
        sec.table(["physical expectation", "observed", "result"], rows,
                  "What physics predicts for a model whose input carries |B| but not its sign, tested on the numbers above.",
                  sorted({s for c in checks for s in c.sources}), table_id="checks-table")
        for note in disagreement_notes(main, leak, checks, ctx.iterations(MAIN_EXPERIMENT)):
            sec.text(note)
