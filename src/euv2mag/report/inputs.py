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

__all__ = ["read_csv", "read_json", "flatten", "find_value", "headline", "find_dicts", "audit_block"]


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


def _num(d: dict, *path):
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d if _is_number(d) else None


def _hale_group(block: dict, group: str) -> HaleGroup:
    g = (block.get("hale") or {}).get(group) if isinstance(block.get("hale"), dict) else None
    if not isinstance(g, dict):
        return HaleGroup()
    n = _num(g, "n_ref")
    if n is None:
        n = _num(g, "n_regions")
    nm = _num(g, "n_matched")
    return HaleGroup(
        n=int(round(n)) if n is not None else None,
        n_matched=int(round(nm)) if nm is not None else None,
        polarity_agreement=_num(g, "polarity_agreement"),
        nmf_sign_agreement=_num(g, "nmf_sign_agreement"),
        recall=_num(g, "recall"),
        footprint_polarity_agreement=_num(g, "footprint_polarity_agreement"),
        n_footprint=int(round(_num(g, "n_footprint_determined"))) if _num(g, "n_footprint_determined") is not None else None,
    )


def headline(summary: dict | None, source: str) -> Headline | None:
    """Headline numbers of an audit ``summary.json`` (None when there is no summary).

    Reads ``mean_over_predictions`` (see ``euv2mag audit``): ``fulldisk.tumf|nmf.cc|r2|slope``,
    ``fulldisk.mean_cc``, ``mean_cc_binned``, ``mean_polarity_agreement``, ``regions.recall``,
    ``precision``, ``offset_mean_deg``, ``n_ref``, ``n_matched``, ``regions.parameters.<p>.cc``
    and ``hale.hale|anti_hale``.  Counts averaged over predictions are rounded to integers.
    """
    block = audit_block(summary)
    if block is None:
        return None
    fd = block.get("fulldisk") if isinstance(block.get("fulldisk"), dict) else {}
    reg = block.get("regions") if isinstance(block.get("regions"), dict) else {}
    h = Headline(source=source)
    n_frames = _num(block, "n_frames")
    h.n_frames = int(round(n_frames)) if n_frames is not None else None
    for qty in ("tumf", "nmf"):
        for stat in ("cc", "r2", "slope"):
            setattr(h, f"{qty}_{stat}", _num(fd, qty, stat))
    h.pixel_cc = _num(fd, "mean_cc")
    h.pixel_cc_binned = _num(fd, "mean_cc_binned")
    h.polarity_agreement = _num(fd, "mean_polarity_agreement")
    h.recall = _num(reg, "recall")
    h.precision = _num(reg, "precision")
    h.center_offset_deg = _num(reg, "offset_mean_deg")
    for attr, key in (("n_ref_regions", "n_ref"), ("n_matched", "n_matched")):
        v = _num(reg, key)
        setattr(h, attr, int(round(v)) if v is not None else None)
    h.n_gen_regions = _num(reg, "n_gen")
    params = reg.get("parameters") if isinstance(reg.get("parameters"), dict) else {}
    for p, stats in params.items():
        v = _num(stats, "cc")
        if v is not None:
            h.param_cc[p] = v
    h.hale = _hale_group(block, "hale")
    h.anti_hale = _hale_group(block, "anti_hale")
    return h
