"""The study report: one module per section (:mod:`.sections`), the readers of the study files
(:mod:`.inputs`), figures (:mod:`.figures`), page assembly (:mod:`.html`), the verdict generated
from the audit numbers (:mod:`.verdict`) and the builder (:func:`build_report`)."""
from __future__ import annotations

__all__ = ["build_report"]


def build_report(root, out=None):
    """Build ``root/report.html``; see :func:`euv2mag.report.build.build_report`."""
    from .build import build_report as _build

    return _build(root, out)
