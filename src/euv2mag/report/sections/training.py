"""Training: loss and validation curves of every run and the checkpoint each run kept.

Reads ``runs/<experiment>/seed-K/metrics.csv`` (columns of :data:`euv2mag.model.train.METRIC_COLUMNS`,
``iteration`` first) and ``best.json``; the curves are the logged values as they are.
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
                    "euv2mag train DIR/data/synth.zarr --split DIR/splits/kpl19.json --out DIR/runs/kpl19 --seeds 0 1 2")
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
    if best_rows:
        sec.table(["run", "selection metric", "best iteration", "best value"], best_rows,
                  "The checkpoint kept for each run (best.ckpt), chosen by the validation metric shown.",
                  [s for s in sources if s.endswith("best.json")], table_id="best-table")
