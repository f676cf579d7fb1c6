"""Run-to-run variability: the audit's per-pixel spread across runs for one test frame, the
headline numbers of each run with their intervals, and the pairwise run comparison.

Reads ``audit/main/pixel_std.zarr`` (:data:`euv2mag.audit.files.PIXEL_STD_ZARR`: the audit's
(N, H, W) per-pixel standard deviation across runs, ddof 1, in G, one slice per audited frame in
the order of ``summary.json`` ``inputs.frames``), ``summary.json`` (per-run headlines) and
``variability.csv`` (:data:`euv2mag.audit.files.VARIABILITY`).  Drawn from stored values: the
mean |B| of the runs' stored maps beside the std map (a display scale for reading the spread,
not a reported number), and the per-pair means over frames of ``variability.csv`` (the same
mean of finite values the audit's ``summary.json`` ``variability`` takes over all pairs).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import figures as F
from ..html import Page, Section, fmt_ci
from ..inputs import attempt
from ..layout import MAIN_EXPERIMENT
from ._common import AUDIT_COMMAND, ci_caption, pick_frame, pred_to_truth_index

__all__ = ["render"]

#: Per-run headline numbers: (column label, Headline -> (value, interval)).
_PER_RUN = (
    ("TUMF CC", lambda h: (h.tumf_cc, h.ci.get("tumf_cc"))),
    ("TUMF slope", lambda h: (h.tumf_slope, h.ci.get("tumf_slope"))),
    ("NMF CC", lambda h: (h.nmf_cc, h.ci.get("nmf_cc"))),
    ("pixel CC (mean)", lambda h: (h.pixel_cc, h.ci.get("pixel_cc"))),
    ("strong-field polarity agreement", lambda h: (h.polarity_agreement, h.ci.get("polarity_agreement"))),
    ("polarity in Hale-conforming footprints", lambda h: (h.hale.footprint_polarity_agreement, h.hale.footprint_ci)),
    ("hemispheric contrast (Hale footprints)", lambda h: (h.hale.hemisphere_contrast, h.hale.hemisphere_ci)),
)


def _per_run_table(sec: Section, runs: dict, source: str) -> None:
    """One row per run (seed) with its headline numbers and their bootstrap intervals."""
    if not runs:
        return
    rows = [[Path(name).name] + [fmt_ci(*get(h)) for _, get in _PER_RUN] for name, h in runs.items()]
    boot = next(iter(runs.values())).bootstrap or None
    caption = ("Headline numbers of each run on the same test frames. Runs differ only in their seed; where the intervals of "
               "two runs do not overlap, the difference is larger than the choice of test frames can explain and comes from "
               "training alone. " + ci_caption(boot))
    sec.table(["run"] + [label for label, _ in _PER_RUN], rows, caption, [source], table_id="per-run-table")


def _std_map(sec, ctx, stores) -> None:
    """The audit's per-pixel std map of the frame with the most flux, or a note of what is missing."""
    import zarr

    from ...audit.files import PIXEL_STD_ZARR

    lay = ctx.layout
    adir = lay.audit_dir(MAIN_EXPERIMENT)
    std_path = adir / PIXEL_STD_ZARR
    summary, _ = ctx.summary(MAIN_EXPERIMENT)
    truth = ctx.store(lay.store)
    if summary is None or truth is None:
        return
    if not std_path.exists():
        sec.missing(f"{lay.rel(std_path)} (the audit's per-pixel spread across runs)",
                    "euv2mag audit --truth ... --pred P0.zarr --pred P1.zarr ... --out DIR/audit/main")
        return
    try:
        std = zarr.open_array(str(std_path), mode="r")
    except Exception as exc:  # zarr raises several types for a broken array
        sec.invalid(f"{lay.rel(std_path)}: not a Zarr array ({type(exc).__name__})", AUDIT_COMMAND)
        return
    frames = [int(k) for k in (summary.inputs or {}).get("frames", [])]
    if std.ndim != 3 or std.shape[0] != len(frames):
        sec.invalid(f"{lay.rel(std_path)}: shape {tuple(std.shape)} does not hold one map per audited frame "
                    f"({len(frames)} in summary.json)", AUDIT_COMMAND)
        return
    first = stores[0][1]
    mapping = {j: i for j, i in pred_to_truth_index(truth, first).items() if j in frames}
    j = pick_frame(truth, first, mapping)
    if j is None:
        return
    t = first.times[j]
    maps = []
    for _, st, _ in stores:
        jj = next((a for a, tt in enumerate(st.times) if tt == t), None)
        if jj is not None:
            maps.append(st.read("pred", jj))
    # mean |B| of the stored maps: the display scale next to the spread, not a reported number
    mean_abs = np.mean(np.abs(np.stack(maps)), axis=0) if len(maps) >= 2 else None
    fig = F.fig_std_map(np.asarray(std[frames.index(j)]), mean_abs)
    sec.figure(F.figure_png(fig),
               f"Per-pixel standard deviation across the {len(stores)} runs (seeds) for one test frame ({t}), as the audit "
               "computed it (sample std, ddof 1), next to their mean |B| on the same scale. Where the std is comparable to |B| "
               "the runs disagree, typically on the polarity of a region.",
               [lay.rel(std_path), lay.rel(adir / "summary.json")] + [lay.rel(p) for _, _, p in stores], "per-pixel std map")


def render(page: Page, ctx, runs: dict) -> None:
    """The ``variability`` section.

    Parameters
    ----------
    page : Page
        The report page.
    ctx : ReportContext
        Shared inputs.
    runs : dict
        Run name -> :class:`~euv2mag.report.verdict.Headline` of each run of the main audit.
    """
    from ...audit.files import VARIABILITY

    lay = ctx.layout
    sec = page.section("variability", "Run-to-run variability")
    adir = lay.audit_dir(MAIN_EXPERIMENT)
    preds = lay.predictions(MAIN_EXPERIMENT)
    stores = [(s, ctx.store(p), p) for s, p in preds.items()]
    stores = [(s, st, p) for s, st, p in stores if st is not None and st.has("pred")]
    if len(stores) >= 2:
        _std_map(sec, ctx, stores)
    _per_run_table(sec, runs, lay.rel(adir / "summary.json"))
    var_path = VARIABILITY.path(adir)
    var, error = attempt(VARIABILITY.read, var_path) if var_path.is_file() else (None, None)
    if error:
        sec.invalid(error, AUDIT_COMMAND)
    elif var is not None and len(var):
        num = [c.name for c in VARIABILITY.columns if c.dtype in ("float64", "int64", "bool") and c.name != "frame"]
        # mean over frames per pair of runs (summary.json ``variability`` is the same mean over all pairs)
        agg = var.groupby(["run_a", "run_b"], sort=False)[num].mean().reset_index()
        rows = [[(v if not isinstance(v, str) else Path(v).name) for v in row] for row in agg.itertuples(index=False)]
        sec.table(list(agg.columns), rows, "Pairwise comparison of the runs (averaged over test frames where the file has one row "
                  "per frame): pixel CC between two runs, the share of strong-field pixels whose polarity differs, and the "
                  "overlap of their detected regions.", [lay.rel(var_path)], table_id="variability-table")
    elif len(stores) < 2:
        sec.missing("two or more prediction stores of the same frames", "euv2mag train ... --seeds 0 1 2; euv2mag predict ...")
    else:
        sec.missing(f"{lay.rel(var_path)}", "euv2mag audit --truth ... --pred P0.zarr --pred P1.zarr ... --out DIR/audit/main")
