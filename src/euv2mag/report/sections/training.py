"""Training: loss and validation curves of every run and the checkpoint each run kept.

Reads ``runs/<experiment>/seed-K/metrics.csv`` (columns of :data:`euv2mag.model.train.METRIC_COLUMNS`,
``iteration`` first) and ``best.json``; the curves are the logged values as they are.  The
learning-curve table gives, per experiment, the validation pixel CC (``val_cc``, needs the sign)
and |B| CC (``val_abs_cc``, sign-blind) at the validation steps nearest a quarter, half,
three quarters and all of the iterations, averaged over the experiment's seeds.
"""
from __future__ import annotations

import numpy as np

from .. import figures as F
from ..html import Page
from ..inputs import read_csv, read_json

__all__ = ["render"]

#: metrics.csv columns that are not curves.
_NOT_CURVES = ("iteration", "epoch", "time_s", "seconds", "wall_s", "lr", "seed")


def _numeric(series) -> bool:
    """True for a numeric, non-boolean pandas column."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    return is_numeric_dtype(series.dtype) and not is_bool_dtype(series.dtype)


def render(page: Page, ctx) -> None:
    """The ``training`` section.

    Parameters
    ----------
    page : Page
        The report page.
    ctx : ReportContext
        Shared inputs.
    """
    lay = ctx.layout
    sec = page.section("training", "Training")
    experiments = [e for e in lay.experiments() if lay.seeds(e)]
    if not experiments:
        sec.missing("training runs runs/<experiment>/seed-K/metrics.csv",
                    "euv2mag train DIR/data/synth.zarr --split DIR/splits/kpl19.json --out DIR/runs/main --seeds 0 1 2")
        return
    curves: dict[str, dict] = {}
    sources = []
    best_rows = []
    for exp in experiments:
        for seed in lay.seeds(exp):
            d = lay.seed_dir(exp, seed)
            df = read_csv(d / "metrics.csv")
            if df is not None and "iteration" in df.columns:
                sources.append(lay.rel(d / "metrics.csv"))
                for c in df.columns:
                    if c in _NOT_CURVES or not _numeric(df[c]):
                        continue
                    sub = df[["iteration", c]].dropna()
                    if len(sub) and np.nanmax(np.abs(sub[c].to_numpy(float))) > 0:
                        curves.setdefault(c, {})[f"{exp} seed {seed}"] = (sub["iteration"].to_numpy(), sub[c].to_numpy(float))
            best = read_json(d / "best.json")
            if isinstance(best, dict):
                sources.append(lay.rel(d / "best.json"))
                best_rows.append([f"{exp} seed {seed}", str(best.get("metric", "—")), best.get("iteration"), best.get("value")])
    if curves:
        # keep the panels readable: losses first, then validation metrics
        order = sorted(curves, key=lambda c: (not c.lower().startswith(("loss", "train", "g_", "d_")), c))
        fig = F.fig_training_curves({c: curves[c] for c in order[:9]})
        sec.figure(F.figure_png(fig),
                   "Training curves per run: losses of the generator and discriminator, and the validation metrics in physical "
                   "units (L1 in G, pixel CC, relative TUMF and NMF errors) at each validation step. Runs that differ only in the "
                   "seed should follow each other; the control (leak) run trains on the dataset with a polarity leak.",
                   sources[:12], "training curves")
    curve_rows = _learning_curve_rows(curves, experiments)
    if curve_rows:
        sec.table(["run", "validation metric", "at 1/4", "at 1/2", "at 3/4", "at the end"], curve_rows,
                  "Learning curves on the validation frames (mean over the experiment's seeds; the iteration in brackets). "
                  "A model that finds where the field is but not its sign rises in the |B| CC and stays near 0 in the "
                  "pixel CC; a model that has not finished learning still rises at the end.",
                  [s for s in sources if s.endswith("metrics.csv")], table_id="learning-curve-table")
    if best_rows:
        sec.table(["run", "selection metric", "best iteration", "best value"], best_rows,
                  "The checkpoint kept for each run (best.ckpt), chosen by the validation metric shown.",
                  [s for s in sources if s.endswith("best.json")], table_id="best-table")


def _learning_curve_rows(curves: dict, experiments: list[str]) -> list[list]:
    """Rows of the learning-curve table: val_cc and val_abs_cc at 1/4, 1/2, 3/4 and the end, seed means."""
    rows = []
    for exp in experiments:
        for metric, label in (("val_cc", "pixel CC"), ("val_abs_cc", "|B| CC")):
            series = [v for k, v in (curves.get(metric) or {}).items() if k.startswith(f"{exp} seed ")]
            if not series:
                continue
            end = min(int(it[-1]) for it, _ in series)
            cells = []
            for frac in (0.25, 0.5, 0.75, 1.0):
                target = frac * end
                picks = [(it[np.argmin(np.abs(it - target))], val[np.argmin(np.abs(it - target))]) for it, val in series]
                cells.append(f"{np.mean([v for _, v in picks]):.2f} ({int(picks[0][0])})")
            rows.append([f"{exp} ({len(series)} seed{'s' if len(series) > 1 else ''})", label, *cells])
    return rows
