"""The sections of the report, one module each, rendered in this order by
:func:`euv2mag.report.build.build_report`: :mod:`.control` (leak control, verdict, physics
checks), :mod:`.dataset` (dataset, splits, leakage), :mod:`.saturation`, :mod:`.examples`,
:mod:`.training`, :mod:`.fulldisk`, :mod:`.regions`, :mod:`.variability`, :mod:`.runinfo`.

Every module has ``render(page, ctx, ...)``; it reads its own files through
:mod:`euv2mag.report.inputs` and the audit's definitions (:mod:`euv2mag.audit.files`).
"""
from __future__ import annotations

__all__ = ["control", "dataset", "saturation", "examples", "training", "fulldisk", "regions", "variability", "runinfo"]
