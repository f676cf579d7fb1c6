"""Reading the study files for the report, tolerantly.

A missing or unreadable file is not an error here: the reader returns ``None`` and the report
section says what is missing.  :func:`headline` turns an audit ``summary.json`` into the
:class:`~euv2mag.report.verdict.Headline` numbers the verdict uses; it looks the numbers up by
the documented keys of ``euv2mag audit``'s summary.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable

from .verdict import HaleGroup, Headline

__all__ = ["read_csv", "read_json", "flatten", "find_value", "headline", "run_headlines", "find_dicts", "audit_block",
           "number_at", "interval_at"]


def read_csv(path: Path):
    """A CSV file as a pandas DataFrame, or None when absent/unreadable/empty."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path)
    except (OSError, ValueError, pd.errors.EmptyDataError, pd.errors.ParserError):
        return None


def read_json(path: Path):
    """A JSON file as Python objects, or None when absent/unreadable."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def flatten(obj: Any, prefix: tuple = ()) -> dict[tuple, Any]:
    """Leaf values of nested dicts/lists keyed by their path (list items keyed by index)."""
    out: dict[tuple, Any] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(flatten(v, prefix + (str(k),)))
    elif isinstance(obj, list) and obj and all(isinstance(v, dict) for v in obj):
        for i, v in enumerate(obj):
            out.update(flatten(v, prefix + (str(i),)))
    else:
        out[prefix] = obj
    return out


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))


def find_value(flat: dict[tuple, Any], leaf: Iterable[str], *, within: Iterable[str] = (), exclude: Iterable[str] = ()):
    """First numeric value whose last key is one of ``leaf`` and whose path contains every
    token of ``within`` (as a key or key substring) and none of ``exclude``."""
    leaf = tuple(leaf)
    within = tuple(within)
    exclude = tuple(exclude)
    best = None
    for path, value in flat.items():
        if not path or path[-1] not in leaf or not _is_number(value):
            continue
        keys = [p.lower() for p in path[:-1]]
        if not all(any(tok in k for k in keys) for tok in within):
            continue
        if any(any(tok in k for k in keys) for tok in exclude):
            continue
        # prefer the shortest path (the most direct entry)
        if best is None or len(path) < len(best[0]):
            best = (path, value)
    return None if best is None else best[1]


def find_dicts(obj: Any, required_key: str) -> list[dict]:
    """All dicts nested in ``obj`` that hold ``required_key``."""
    out = []
    if isinstance(obj, dict):
        if required_key in obj:
            out.append(obj)
        for v in obj.values():
            out.extend(find_dicts(v, required_key))
    elif isinstance(obj, list):
        for v in obj:
            out.extend(find_dicts(v, required_key))
    return out


def audit_block(summary: dict | None) -> dict | None:
    """The headline block of an audit summary: ``mean_over_predictions`` (averaged over the
    prediction stores of one audit), or the summary itself for a single-block layout."""
    if not isinstance(summary, dict):
        return None
    block = summary.get("mean_over_predictions")
    return block if isinstance(block, dict) else summary


def _walk(d, path):
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def number_at(d: dict, *path):
    """The number at ``path`` of nested dicts (None when absent or not a number)."""
    value = _walk(d, path)
    return value if _is_number(value) else None


def interval_at(d, *path) -> tuple[float, float] | None:
    """A ``[low, high]`` pair at ``path`` of a ``ci`` block (None when absent or malformed)."""
    value = _walk(d, path)
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return float(value[0]), float(value[1])
    return None


def _hale_group(block: dict, group: str, ci_block: dict | None = None) -> HaleGroup:
    g = (block.get("hale") or {}).get(group) if isinstance(block.get("hale"), dict) else None
    if not isinstance(g, dict):
        return HaleGroup()
    n = number_at(g, "n_ref")
    if n is None:
        n = number_at(g, "n_regions")
    nm = number_at(g, "n_matched")
    return HaleGroup(
        n=int(round(n)) if n is not None else None,
        n_matched=int(round(nm)) if nm is not None else None,
        polarity_agreement=number_at(g, "polarity_agreement"),
        nmf_sign_agreement=number_at(g, "nmf_sign_agreement"),
        recall=number_at(g, "recall"),
        footprint_polarity_agreement=number_at(g, "footprint_polarity_agreement"),
        n_footprint=int(round(number_at(g, "n_footprint_determined"))) if number_at(g, "n_footprint_determined") is not None else None,
        polarity_ci=interval_at(ci_block, "hale", group, "polarity_agreement") if ci_block else None,
        footprint_ci=interval_at(ci_block, "hale", group, "footprint_polarity_agreement") if ci_block else None,
        hemisphere_contrast=number_at(g, "footprint_gen_hemisphere_contrast"),
        ref_hemisphere_contrast=number_at(g, "footprint_ref_hemisphere_contrast"),
        hemisphere_ci=interval_at(ci_block, "hale", group, "footprint_gen_hemisphere_contrast") if ci_block else None,
    )


def headline(summary: dict | None, source: str) -> Headline | None:
    """Headline numbers of an audit ``summary.json`` (None when there is no summary).

    Reads ``mean_over_predictions`` (see ``euv2mag audit``): ``fulldisk.tumf|nmf.cc|r2|slope``,
    ``fulldisk.mean_cc``, ``mean_cc_binned``, ``mean_polarity_agreement``, ``regions.recall``,
    ``precision``, ``offset_mean_deg``, ``n_ref``, ``n_matched``, ``regions.parameters.<p>.cc``
    and ``hale.hale|anti_hale``.  Counts averaged over predictions are rounded to integers.
    With a bootstrap (``ci`` and ``bootstrap`` in the summary) the same numbers' intervals go to
    ``Headline.ci`` and the Hale groups' ``polarity_ci`` / ``footprint_ci``.  The Hale groups come
    from ``pooled_over_predictions.hale`` when present (observations of all runs together).
    """
    block = audit_block(summary)
    if block is None:
        return None
    fd = block.get("fulldisk") if isinstance(block.get("fulldisk"), dict) else {}
    reg = block.get("regions") if isinstance(block.get("regions"), dict) else {}
    h = Headline(source=source)
    n_frames = number_at(block, "n_frames")
    h.n_frames = int(round(n_frames)) if n_frames is not None else None
    for qty in ("tumf", "nmf"):
        for stat in ("cc", "r2", "slope"):
            setattr(h, f"{qty}_{stat}", number_at(fd, qty, stat))
    h.pixel_cc = number_at(fd, "mean_cc")
    h.pixel_cc_binned = number_at(fd, "mean_cc_binned")
    h.polarity_agreement = number_at(fd, "mean_polarity_agreement")
    h.recall = number_at(reg, "recall")
    h.precision = number_at(reg, "precision")
    h.center_offset_deg = number_at(reg, "offset_mean_deg")
    for attr, key in (("n_ref_regions", "n_ref"), ("n_matched", "n_matched")):
        v = number_at(reg, key)
        setattr(h, attr, int(round(v)) if v is not None else None)
    h.n_gen_regions = number_at(reg, "n_gen")
    params = reg.get("parameters") if isinstance(reg.get("parameters"), dict) else {}
    for p, stats in params.items():
        v = number_at(stats, "cc")
        if v is not None:
            h.param_cc[p] = v
    ci_all = summary.get("ci") if isinstance(summary.get("ci"), dict) else None
    ci_block = audit_block(ci_all) if ci_all else None
    if ci_block:
        ci_fd = ci_block.get("fulldisk", {})
        ci_reg = ci_block.get("regions", {})
        paths = {f"{q}_{s}": (ci_fd, q, s) for q in ("tumf", "nmf") for s in ("cc", "r2", "slope")}
        paths.update(pixel_cc=(ci_fd, "mean_cc"), pixel_cc_binned=(ci_fd, "mean_cc_binned"),
                     polarity_agreement=(ci_fd, "mean_polarity_agreement"), recall=(ci_reg, "recall"),
                     precision=(ci_reg, "precision"), center_offset_deg=(ci_reg, "offset_mean_deg"))
        for attr, (d, *path) in paths.items():
            interval = interval_at(d, *path)
            if interval is not None:
                h.ci[attr] = interval
        if isinstance(summary.get("bootstrap"), dict):
            h.bootstrap = dict(summary["bootstrap"])
    # Hale classes: region observations pooled over the runs when the audit gives them (real
    # counts), else the per-run average
    pooled = summary.get("pooled_over_predictions")
    if isinstance(pooled, dict) and isinstance(pooled.get("hale"), dict):
        ci_pooled = (ci_all or {}).get("pooled_over_predictions")
        ci_pooled = ci_pooled if isinstance(ci_pooled, dict) else None
        h.hale = _hale_group(pooled, "hale", ci_pooled)
        h.anti_hale = _hale_group(pooled, "anti_hale", ci_pooled)
        n_runs = number_at(pooled, "n_predictions")
        h.hale_runs_pooled = int(n_runs) if n_runs is not None else None
        n_all = number_at(pooled, "n_matched")
        h.n_matched_all_runs = int(n_all) if n_all is not None else None
    else:
        h.hale = _hale_group(block, "hale", ci_block)
        h.anti_hale = _hale_group(block, "anti_hale", ci_block)
    return h


def run_headlines(summary: dict | None, source: str) -> dict[str, Headline]:
    """Headline numbers of every prediction (run) of an audit ``summary.json``, by prediction name.

    Each run's ``predictions.<name>`` block (and its ``ci.predictions.<name>`` intervals) is read
    exactly as :func:`headline` reads the averaged block.
    """
    if not isinstance(summary, dict) or not isinstance(summary.get("predictions"), dict):
        return {}
    ci_all = summary.get("ci") if isinstance(summary.get("ci"), dict) else {}
    ci_runs = ci_all.get("predictions") if isinstance(ci_all.get("predictions"), dict) else {}
    out = {}
    for name, block in summary["predictions"].items():
        if not isinstance(block, dict):
            continue
        one = {"mean_over_predictions": block, "bootstrap": summary.get("bootstrap")}
        if isinstance(ci_runs.get(name), dict):
            one["ci"] = {"mean_over_predictions": ci_runs[name]}
        h = headline(one, source)
        if h is not None:
            out[str(name)] = h
    return out
