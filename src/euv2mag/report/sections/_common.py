"""Helpers shared by the report sections: frame lookup in stores, interval captions, cells."""
from __future__ import annotations

import math

import numpy as np

from ..html import fmt

__all__ = ["AUDIT_COMMAND", "pred_to_truth_index", "pick_frame", "ci_caption", "param_cc_cell", "audit_min_pairs"]

#: The command that makes an audit folder (printed where one is missing or unusable).
AUDIT_COMMAND = "euv2mag audit --truth DIR/data/synth.zarr --pred DIR/pred/main-seed-0.zarr ... --out DIR/audit/main"


def pred_to_truth_index(truth, pred) -> dict[int, int]:
    """Map prediction-store frame index -> truth-store frame index, by time."""
    where = {str(t): i for i, t in enumerate(truth.times)}
    return {j: where[str(t)] for j, t in enumerate(pred.times) if str(t) in where}


def pick_frame(truth, pred, mapping: dict[int, int]) -> int | None:
    """Prediction frame whose reference has the largest disk-integrated |B| (most activity).

    This only chooses which stored frame to show; the sum is not reported.
    """
    best, best_j = -1.0, None
    for j, i in mapping.items():
        value = float(np.nansum(np.abs(truth.read("mag", i))))
        if value > best:
            best, best_j = value, j
    return best_j


def ci_caption(bootstrap: dict | None) -> str:
    """The sentence that says where the bracketed intervals of a table come from (an audit's ``bootstrap`` record)."""
    if not bootstrap:
        return "No confidence intervals: the audit was run without a bootstrap (--n-boot 0) or by an older version."
    b = bootstrap
    return (f"Brackets: {float(b.get('level', 0.95)):.0%} confidence intervals from {b.get('n_boot')} block-bootstrap replicates "
            f"over the test frames in {b.get('n_blocks')} time blocks of {fmt(b.get('block_days'))} days (frames of one block, "
            "and the regions on them, are resampled together because consecutive frames show the same regions)"
            + (f"; footprint polarity intervals instead resample the {b.get('n_region_clusters')} truth regions, all "
               "observations of a region together (a region's sign is got right or wrong in every frame it crosses)."
               if b.get("footprint_method") else "."))


def audit_min_pairs(summary) -> int:
    """Fewest pairs of a pair statistic of an audit (``params.min_pairs``; 10 when not recorded)."""
    from ...audit.match import MIN_PAIRS

    value = (summary.params or {}).get("min_pairs") if summary is not None else None
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else MIN_PAIRS


def param_cc_cell(head, param: str, min_pairs: int) -> str:
    """A region parameter's CC as printed: the number from ``min_pairs`` matched pairs up, else "—" with the count.

    The audit writes NaN below ``min_pairs``; the report also refuses a finite CC it might be
    handed from fewer pairs, so no CC of a handful of pairs (often exactly ±1) is ever printed.
    """
    if head is None:
        return "—"
    n = head.param_pairs.get(param)
    cc = head.param_cc.get(param)
    if cc is None or not math.isfinite(cc) or n is None or n < min_pairs:
        return "—" if n is None else f"— ({n} pairs)"
    return f"{fmt(cc)} ({n} pairs)"
