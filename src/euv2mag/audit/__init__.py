"""Audit of generated magnetograms: full-disk metrics, active regions, matching, Hale's law,
run-to-run variability, saturation and leakage, with block-bootstrap intervals (region-clustered
for the footprint polarity measures).

The audit works on plain arrays (G) and :class:`~euv2mag.geometry.DiskGeometry`; each concept
has its module (:mod:`~euv2mag.audit.fulldisk`, :mod:`~euv2mag.audit.detection`, :mod:`~euv2mag.audit.measurement`,
:mod:`~euv2mag.audit.pil`, :mod:`~euv2mag.audit.match`, :mod:`~euv2mag.audit.hale`,
:mod:`~euv2mag.audit.variability`, :mod:`~euv2mag.audit.saturation`,
:mod:`~euv2mag.audit.leakage`, :mod:`~euv2mag.audit.bootstrap`, the far-side study
:mod:`~euv2mag.audit.farside`), and the whole audit of stores
is one call, :func:`audit_stores`, whose files are defined in :mod:`~euv2mag.audit.files` and
:mod:`~euv2mag.audit.summary`.
"""
from .bootstrap import DISK_PASSAGE_DAYS, block_bootstrap, cluster_bootstrap
from .fulldisk import FullDiskParams, frame_metrics, series_metrics
from .hale import hale_leading_polarity, hale_summary, solar_cycle
from .match import MIN_PAIRS, MatchResult, match_regions, region_summary
from .pipeline import AuditParams, AuditResult, audit_frame, audit_stores, truth_footprints
from .detection import DetectionParams, detect_regions
from .measurement import find_regions, footprint_polarity, measure_regions
from .summary import AuditSummary, Intervals
from .farside import farside_study

__all__ = [
    "audit_stores",
    "audit_frame",
    "AuditParams",
    "AuditResult",
    "AuditSummary",
    "Intervals",
    "FullDiskParams",
    "DetectionParams",
    "frame_metrics",
    "series_metrics",
    "detect_regions",
    "measure_regions",
    "find_regions",
    "footprint_polarity",
    "match_regions",
    "MatchResult",
    "region_summary",
    "MIN_PAIRS",
    "hale_summary",
    "hale_leading_polarity",
    "solar_cycle",
    "block_bootstrap",
    "cluster_bootstrap",
    "truth_footprints",
    "DISK_PASSAGE_DAYS",
    "farside_study",
]
