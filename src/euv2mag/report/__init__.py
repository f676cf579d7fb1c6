"""The study report: it reads the result files of a study folder and never recomputes science.

:func:`build_report` writes ``DIR/report.html`` from the folder laid out as
:class:`~euv2mag.report.layout.StudyLayout` describes; each section lives in
:mod:`euv2mag.report.sections`, reads its files through their definitions
(:mod:`euv2mag.report.inputs`) and says which command makes a missing one; the verdict is
generated from the audit numbers (:mod:`euv2mag.report.verdict`); figures are plain-array
functions (:mod:`euv2mag.report.figures`).
"""
from __future__ import annotations

from .._lazy import lazy_exports

#: Public name -> submodule that defines it (imported on first access; matplotlib loads late).
_SOURCES = {
    "build_report": "build",
    "StudyLayout": "layout",
    "Headline": "verdict",
    "verdict_paragraph": "verdict",
    "expectation_checks": "verdict",
    "headline": "inputs",
    "run_headlines": "inputs",
}

__all__ = list(_SOURCES)

__getattr__, __dir__ = lazy_exports(__name__, _SOURCES, globals())
