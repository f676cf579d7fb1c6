"""Reading the study files for the report, tolerantly.

A missing or unreadable file is not an error here: the reader returns ``None`` and the report
section says what is missing.  :func:`headline` turns an audit ``summary.json`` into the
:class:`~euv2mag.report.verdict.Headline` numbers the verdict uses; it looks the numbers up by
their key names (``fulldisk``/``tumf``/``cc`` ...) so it tolerates extra nesting and extra keys.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable

from .verdict import HaleGroup, Headline

__all__ = ["read_csv", "read_json", "flatten", "find_value", "headline", "find_dicts"]


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


def _hale_group(summary: dict, anti: bool) -> HaleGroup:
    hale = None
    for key in ("hale", "hale_breakdown", "hale_law"):
        if isinstance(summary.get(key), dict):
            hale = summary[key]
            break
    if hale is None:
        for value in summary.values():
            if isinstance(value, dict):
                for key in ("hale", "hale_breakdown"):
                    if isinstance(value.get(key), dict):
                        hale = value[key]
    if hale is None:
        return HaleGroup()
    group = None
    for key, value in hale.items():
        k = key.lower()
        is_anti = "anti" in k or "non" in k or k in ("false", "violating")
        if isinstance(value, dict) and is_anti == anti and ("hale" in k or k in ("conforming", "true", "false", "violating")):
            group = value
            break
    if group is None:
        return HaleGroup()
    flat = flatten(group)

    def get(*names):
        v = find_value(flat, names)
        return v

    n = get("n", "n_regions", "n_ref", "count")
    n_matched = get("n_matched", "matched")
    return HaleGroup(
        n=int(n) if n is not None else None,
        n_matched=int(n_matched) if n_matched is not None else None,
        polarity_agreement=get("polarity_agreement", "leading_polarity_agreement"),
        nmf_sign_agreement=get("nmf_sign_agreement"),
        recall=get("recall"),
    )


def headline(summary: dict | None, source: str) -> Headline | None:
    """Headline numbers of an audit ``summary.json`` (None when there is no summary)."""
    if not isinstance(summary, dict):
        return None
    flat = flatten(summary)
    fd = ("fulldisk", "full_disk", "disk")

    def across(qty, stat):
        return find_value(flat, (stat,), within=(qty,), exclude=("region", "param", "hale", "seed")) 

    h = Headline(source=source)
    n_frames = find_value(flat, ("n_frames",))
    h.n_frames = int(n_frames) if n_frames is not None else None
    h.tumf_cc = across("tumf", "cc")
    h.tumf_r2 = across("tumf", "r2")
    h.tumf_slope = across("tumf", "slope")
    h.nmf_cc = across("nmf", "cc")
    h.nmf_r2 = across("nmf", "r2")
    h.nmf_slope = across("nmf", "slope")
    h.pixel_cc = find_value(flat, ("pixel_cc", "pixel_cc_mean", "cc_mean", "mean_cc"), exclude=("region", "hale"))
    if h.pixel_cc is None:
        h.pixel_cc = find_value(flat, ("mean", "cc"), within=("pixel",), exclude=("binned",))
    h.pixel_cc_binned = find_value(flat, ("pixel_cc_binned", "cc_binned", "cc_binned_mean", "pixel_cc_binned_mean", "binned_cc"), exclude=("region", "hale"))
    h.polarity_agreement = find_value(flat, ("polarity_agreement", "polarity_agreement_mean", "pixel_polarity_agreement"),
                                      exclude=("hale", "region", "param"))
    h.recall = find_value(flat, ("recall",), exclude=("hale",))
    h.precision = find_value(flat, ("precision",), exclude=("hale",))
    h.center_offset_deg = find_value(flat, ("center_offset_deg_mean", "mean_center_offset_deg", "centre_offset_deg_mean",
                                            "mean_offset_deg", "center_offset_deg", "offset_mean_deg"), exclude=("hale",))
    n_ref = find_value(flat, ("n_ref", "n_ref_regions", "n_reference"), exclude=("hale",))
    h.n_ref_regions = int(n_ref) if n_ref is not None else None
    n_matched = find_value(flat, ("n_matched", "n_pairs"), exclude=("hale",))
    h.n_matched = int(n_matched) if n_matched is not None else None
    for param in ("area_mm2", "area_msh", "tumf_mx", "nmf_mx", "amf_g", "pil_count", "pil_length_mm",
                  "pil_mean_gradient_g_per_mm", "r_value", "log10_r_mx", "flux_pos_mx", "flux_neg_mx", "max_abs_g"):
        v = find_value(flat, (f"{param}_cc",), exclude=("hale", "seed"))
        if v is None:
            v = find_value(flat, ("cc",), within=(param,), exclude=("hale",))
        if v is not None:
            h.param_cc[param] = v
    h.hale = _hale_group(summary, anti=False)
    h.anti_hale = _hale_group(summary, anti=True)
    return h
