"""Build ``DIR/report.html`` from the files of a study folder (see :mod:`euv2mag.report.layout`).

Each section (one module of :mod:`euv2mag.report.sections`) reads only its own files, through
the definitions their writers use (:mod:`euv2mag.report.inputs`).  A missing file makes the
section say what is missing and which command makes it; a present file that does not follow
its definition makes it say so, with the reader's one-line message.  Every number printed comes
from a file of the study folder, named in the caption ("Source: ..."); the report computes no
science itself (see each section's docstring for what it draws from stored values).
"""
from __future__ import annotations

from pathlib import Path

from .._io import atomic_write_text
from ..errors import UserError
from .html import Page
from .inputs import attempt, headline, read_summary, run_headlines
from .layout import MAIN_EXPERIMENT, StudyLayout

__all__ = ["build_report", "ReportContext"]


class ReportContext:
    """Inputs shared by the sections, opened lazily and once: stores, audit summaries, run configs.

    Parameters
    ----------
    root : path-like
        The study folder.
    """

    def __init__(self, root: Path):
        self.layout = StudyLayout(root)
        self._stores: dict[Path, object] = {}
        self._summaries: dict[object, tuple] = {}

    def rel(self, path) -> str:
        """``path`` relative to the study folder, as printed in the report."""
        return self.layout.rel(Path(path))

    def store(self, path: Path):
        """A complete :class:`~euv2mag.data.store.FrameStore` at ``path``, or None."""
        from ..data.store import FrameStore

        path = Path(path)
        if path not in self._stores:
            try:
                self._stores[path] = FrameStore(path) if path.exists() else None
            except UserError:
                self._stores[path] = None
        return self._stores[path]

    def summary(self, experiment: str):
        """``(AuditSummary or None, error message or None)`` of ``audit/<experiment>/summary.json``."""
        if experiment not in self._summaries:
            self._summaries[experiment] = attempt(read_summary, self.layout.audit_dir(experiment) / "summary.json")
        return self._summaries[experiment]

    def baseline_summary(self, kind: str):
        """``(AuditSummary or None, error message or None)`` of ``audit/baselines/<kind>/summary.json``."""
        key = ("baseline", kind)
        if key not in self._summaries:
            self._summaries[key] = attempt(read_summary, self.layout.baseline_audit_dir(kind) / "summary.json")
        return self._summaries[key]

    def baseline_headlines(self) -> dict:
        """Baseline kind -> :class:`~euv2mag.report.verdict.Headline` of every readable baseline audit, in report order."""
        out = {}
        for kind in self.layout.baselines():
            summary, _ = self.baseline_summary(kind)
            h = headline(summary, self.rel(self.layout.baseline_audit_dir(kind) / "summary.json"))
            if h is not None:
                out[kind] = h
        return out

    def headline(self, experiment: str):
        """The :class:`~euv2mag.report.verdict.Headline` of an experiment's audit, or None."""
        summary, _ = self.summary(experiment)
        return headline(summary, self.rel(self.layout.audit_dir(experiment) / "summary.json"))

    def run_headlines(self, experiment: str) -> dict:
        """Per-run headlines of an experiment's audit (empty without a readable summary)."""
        summary, _ = self.summary(experiment)
        return run_headlines(summary, self.rel(self.layout.audit_dir(experiment) / "summary.json"))

    def _config(self, experiment: str):
        """The :class:`~euv2mag.model.config.TrainConfig` of an experiment's first run with a readable config.toml."""
        from ..model.config import TrainConfig

        for seed in self.layout.seeds(experiment):
            cfg = self.layout.seed_dir(experiment, seed) / "config.toml"
            if cfg.is_file():
                try:
                    return TrainConfig.read(cfg)
                except (UserError, OSError, ValueError, TypeError):
                    continue
        return None

    def mag_limit_g(self, experiment: str) -> float | None:
        """The magnetogram saturation limit (G) a run trained with (config.toml ``mag_limit_g``)."""
        cfg = self._config(experiment)
        return None if cfg is None else float(cfg.mag_limit_g)

    def iterations(self, experiment: str) -> int | None:
        """Training iterations of an experiment's first run (config.toml ``iters``)."""
        cfg = self._config(experiment)
        return None if cfg is None else int(cfg.iters)


def build_report(root: str | Path, out: str | Path | None = None) -> Path:
    """Build the HTML report of the study folder ``root`` and return its path.

    Parameters
    ----------
    root : path-like
        Study folder (see :mod:`euv2mag.report.layout`).
    out : path-like, optional
        Output file; default ``root/report.html``.

    Returns
    -------
    pathlib.Path
        The report written.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from .sections import (comparison, control, dataset, examples, farside, fulldisk, regions, runinfo, saturation,
                           training, variability)

    root = Path(root)
    if not root.is_dir():
        raise UserError("no such study folder", path=root)
    ctx = ReportContext(root)
    lay = ctx.layout
    heads = {exp: h for exp in lay.experiments() if (h := ctx.headline(exp)) is not None}
    runs = ctx.run_headlines(MAIN_EXPERIMENT)
    page = Page("euv2mag: how far can magnetograms generated from EUV images be trusted?")
    page.intro.append(
        "This report collects the reliability study of an EUV-to-magnetogram model (pix2pix as in Kim et al. 2019), "
        "following Liu et al. 2021: what clipping the training magnetograms costs, how much the KPL19 split leaks, "
        "what generated magnetograms reproduce at full-disk and active-region level, set beside trivial baselines, how "
        "much training runs differ, and, as a control, what the same audit reports when polarity information is present in the input. "
        f"Every number comes from a file in the study folder {root.name}/, named under each figure and table.")
    baselines = ctx.baseline_headlines()
    control.render(page, ctx, heads, runs, baselines)
    comparison.render(page, ctx, heads, baselines)
    dataset.render(page, ctx)
    saturation.render(page, ctx)
    examples.render(page, ctx)
    training.render(page, ctx)
    fulldisk.render(page, ctx, heads)
    regions.render(page, ctx, heads)
    variability.render(page, ctx, runs)
    farside.render(page, ctx)
    runinfo.render(page, ctx)
    out = Path(out) if out is not None else lay.report
    atomic_write_text(out, page.render())
    out.chmod(0o644)
    return out
