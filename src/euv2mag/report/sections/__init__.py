"""The sections of the report, one module each, rendered in this order by
:func:`euv2mag.report.build.build_report`: :mod:`~euv2mag.report.sections.control` (leak control, verdict, physics
checks), :mod:`~euv2mag.report.sections.comparison` (every model beside the baselines),
:mod:`~euv2mag.report.sections.dataset` (dataset, splits, leakage), :mod:`~euv2mag.report.sections.saturation`, :mod:`~euv2mag.report.sections.examples`,
:mod:`~euv2mag.report.sections.training`, :mod:`~euv2mag.report.sections.fulldisk`, :mod:`~euv2mag.report.sections.regions`, :mod:`~euv2mag.report.sections.variability`, :mod:`~euv2mag.report.sections.farside` (only
with a far-side study), :mod:`~euv2mag.report.sections.runinfo`.

Every module has ``render(page, ctx, ...)``; it reads its own files through
:mod:`euv2mag.report.inputs` and the audit's definitions (:mod:`euv2mag.audit.files`).
"""
from __future__ import annotations

__all__ = ["control", "comparison", "dataset", "saturation", "examples", "training", "fulldisk", "regions", "variability",
           "farside", "runinfo"]
