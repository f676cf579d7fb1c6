"""One-to-one matching of active regions between a reference and a generated map, and statistics.

Matching (spec §4): the cost is the great-circle distance between region centres
(``arccos(sin p1 sin p2 + cos p1 cos p2 cos(l1 - l2))``, argument clipped to [-1, 1]); pairs come
from :func:`scipy.optimize.linear_sum_assignment` on that matrix, and pairs farther apart than
``max_distance_deg`` (5 deg) are discarded.  When both tables have a ``frame`` column (e.g. the
region tables of many frames concatenated), regions are matched within each frame only.

``MatchResult.pairs`` columns: ``ref_index``, ``gen_index`` (row positions in the input tables),
``frame`` (when grouped), ``distance_deg``, ``ref_<param>`` and ``gen_<param>`` for each
parameter, ``ratio_<param>`` (gen / ref; NaN when ref is 0), ``delta_r_value`` (gen - ref, dex),
``nmf_sign_agree`` (sign of NMF equal) and ``polarity_agree`` (leading polarity equal).
``missed`` / ``extra``: the unmatched rows of the reference / generated table.

``MatchResult.stats`` keys: ``n_ref``, ``n_gen``, ``n_matched``, ``n_missed``, ``n_extra``,
``recall`` (= matched / n_ref, the paper's "fraction reproduced"), ``precision`` (matched / n_gen),
``f1``, ``offset_mean_deg``, ``offset_median_deg``, ``offset_p16_deg``, ``offset_p84_deg``,
``nmf_sign_agreement``, ``polarity_agreement``, and for each parameter ``<param>_cc`` (Pearson),
``<param>_r2`` (coefficient of determination of gen as a predictor of ref,
``1 - sum((g - r)^2) / sum((r - mean r)^2)``) and ``<param>_median_ratio``.  Fewer than two pairs
(or constant values) give NaN correlations; no pairs give NaN ratios and offsets; an empty
reference table gives ``recall = NaN``, an empty generated table ``precision = NaN``.

Hale's-law breakdown (:func:`hale_breakdown`): for every reference region, the expected leading
polarity for its hemisphere and cycle (cycle 23 before 2008-12, 24 until 2019-12, 25 after; even
cycles lead with - in the north and + in the south, odd cycles the reverse), whether it conforms,
and then recall, leading-polarity agreement and NMF-sign agreement of the matched generated regions
separately for Hale-conforming, anti-Hale and undetermined (no leading polarity) regions.  A
truth column ``hale_conforming`` in the reference table (synthetic data) overrides the rule.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..errors import UserError

__all__ = [
    "MATCH_PARAMETERS",
    "MatchResult",
    "HaleBreakdown",
    "great_circle_deg",
    "match_regions",
    "solar_cycle",
    "hale_leading_polarity",
    "hale_breakdown",
    "attach_truth",
]

#: Region parameters compared between matched pairs.
MATCH_PARAMETERS = (
    "area_mm2",
    "tumf_mx",
    "nmf_mx",
    "amf_g",
    "max_abs_g",
    "pil_count",
    "pil_length_mm",
    "pil_mean_gradient_g_per_mm",
    "r_value",
)


def great_circle_deg(lat1, lon1, lat2, lon2):
    """Great-circle angle between points given in degrees (broadcasts), in degrees."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dl = np.radians(np.asarray(lon1, dtype=float) - np.asarray(lon2, dtype=float))
    c = np.sin(p1) * np.sin(p2) + np.cos(p1) * np.cos(p2) * np.cos(dl)
    return np.degrees(np.arccos(np.clip(c, -1.0, 1.0)))


@dataclasses.dataclass
class MatchResult:
    """Result of :func:`match_regions` (see the module docstring for the columns and keys)."""

    pairs: "object"
    missed: "object"
    extra: "object"
    stats: dict
    ref: "object"
    gen: "object"
    max_distance_deg: float


def _check_table(table, name: str, lon_column: str):
    import pandas as pd

    if table is None:
        table = pd.DataFrame({"lat_deg": [], lon_column: []})
    if not isinstance(table, pd.DataFrame):
        table = pd.DataFrame(table)
    missing = [c for c in ("lat_deg", lon_column) if c not in table.columns]
    if missing:
        raise UserError(f"{name} region table lacks column(s) {', '.join(missing)}")
    return table.reset_index(drop=True)


def _assign(ref, gen, lon_column: str, max_distance_deg: float):
    from scipy.optimize import linear_sum_assignment

    if len(ref) == 0 or len(gen) == 0:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0)
    rlat, rlon = ref["lat_deg"].to_numpy(float), ref[lon_column].to_numpy(float)
    glat, glon = gen["lat_deg"].to_numpy(float), gen[lon_column].to_numpy(float)
    cost = great_circle_deg(rlat[:, None], rlon[:, None], glat[None, :], glon[None, :])
    big = 1e6
    cost = np.where(np.isfinite(cost), cost, big)
    # forbid pairs beyond the limit inside the assignment too, so that a far pair never
    # displaces a valid one
    work = np.where(cost <= max_distance_deg, cost, big)
    ri, gi = linear_sum_assignment(work)
    keep = work[ri, gi] <= max_distance_deg
    return ri[keep], gi[keep], cost[ri[keep], gi[keep]]


def _pair_stats(r: np.ndarray, g: np.ndarray) -> tuple[float, float, float]:
    ok = np.isfinite(r) & np.isfinite(g)
    r, g = r[ok], g[ok]
    cc = r2 = math.nan
    if r.size >= 2 and np.std(r) > 0 and np.std(g) > 0:
        cc = float(np.corrcoef(r, g)[0, 1])
    if r.size >= 2:
        ss = float(np.sum((r - r.mean()) ** 2))
        if ss > 0:
            r2 = 1.0 - float(np.sum((g - r) ** 2)) / ss
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = g / r
    ratio = ratio[np.isfinite(ratio)]
    med = float(np.median(ratio)) if ratio.size else math.nan
    return cc, r2, med


def match_regions(
    ref_table,
    gen_table,
    max_distance_deg: float = 5.0,
    *,
    lon_column: str = "lon_deg",
    parameters: tuple = MATCH_PARAMETERS,
    by: str | None = "frame",
) -> MatchResult:
    """Match reference and generated regions one to one and compute the statistics.

    Parameters
    ----------
    ref_table, gen_table : pandas.DataFrame
        Region tables (:func:`euv2mag.audit.measurement.measure_regions`); need ``lat_deg`` and
        ``lon_column``; parameters missing from a table are skipped.
    max_distance_deg : float
        Largest accepted centre distance (deg).
    lon_column : str
        Longitude column: ``lon_deg`` (Stonyhurst, same frame) or ``carrington_lon_deg``.
    parameters : tuple of str
        Parameters compared between pairs.
    by : str or None
        Group column: when both tables have it, regions are matched within each group only.

    Returns
    -------
    MatchResult
    """
    import pandas as pd

    if not (math.isfinite(max_distance_deg) and max_distance_deg > 0):
        raise UserError(f"max_distance_deg must be a positive number, got {max_distance_deg!r}")
    ref = _check_table(ref_table, "reference", lon_column)
    gen = _check_table(gen_table, "generated", lon_column)
    grouped = by is not None and by in ref.columns and by in gen.columns
    ri_all, gi_all, d_all = [], [], []
    if grouped:
        gen_groups = {key: idx.to_numpy() for key, idx in gen.groupby(by).groups.items()}
        for key, ridx in ref.groupby(by).groups.items():
            ridx = ridx.to_numpy()
            gidx = gen_groups.get(key)
            if gidx is None:
                continue
            ri, gi, d = _assign(ref.iloc[ridx], gen.iloc[gidx], lon_column, max_distance_deg)
            ri_all.append(ridx[ri])
            gi_all.append(gidx[gi])
            d_all.append(d)
    else:
        ri, gi, d = _assign(ref, gen, lon_column, max_distance_deg)
        ri_all, gi_all, d_all = [ri], [gi], [d]
    ri = np.concatenate(ri_all) if ri_all else np.zeros(0, int)
    gi = np.concatenate(gi_all) if gi_all else np.zeros(0, int)
    dist = np.concatenate(d_all) if d_all else np.zeros(0)
    order = np.argsort(ri, kind="stable")
    ri, gi, dist = ri[order].astype(int), gi[order].astype(int), dist[order]

    params = [p for p in parameters if p in ref.columns and p in gen.columns]
    data = {"ref_index": ri, "gen_index": gi}
    if grouped:
        data[by] = ref[by].to_numpy()[ri]
    data["distance_deg"] = dist
    for p in params:
        rv = ref[p].to_numpy(float)[ri]
        gv = gen[p].to_numpy(float)[gi]
        data[f"ref_{p}"] = rv
        data[f"gen_{p}"] = gv
        with np.errstate(divide="ignore", invalid="ignore"):
            data[f"ratio_{p}"] = np.where(rv != 0, gv / np.where(rv != 0, rv, 1.0), np.nan)
    if "r_value" in params:
        data["delta_r_value"] = data["gen_r_value"] - data["ref_r_value"]
    if "nmf_mx" in params:
        data["nmf_sign_agree"] = np.sign(data["ref_nmf_mx"]) == np.sign(data["gen_nmf_mx"])
    if "leading_polarity" in ref.columns and "leading_polarity" in gen.columns:
        rl = ref["leading_polarity"].to_numpy()[ri]
        gl = gen["leading_polarity"].to_numpy()[gi]
        data["ref_leading_polarity"] = rl
        data["gen_leading_polarity"] = gl
        data["polarity_agree"] = (rl == gl) & (rl != 0)
    pairs = pd.DataFrame(data)

    matched_ref = np.zeros(len(ref), bool)
    matched_ref[ri] = True
    matched_gen = np.zeros(len(gen), bool)
    matched_gen[gi] = True
    missed = ref[~matched_ref]
    extra = gen[~matched_gen]

    n_ref, n_gen, n_m = len(ref), len(gen), len(ri)
    recall = n_m / n_ref if n_ref else math.nan
    precision = n_m / n_gen if n_gen else math.nan
    if math.isnan(recall) or math.isnan(precision):
        f1 = math.nan
    else:
        f1 = 2 * recall * precision / (recall + precision) if recall + precision > 0 else 0.0
    stats = {
        "n_ref": n_ref,
        "n_gen": n_gen,
        "n_matched": n_m,
        "n_missed": n_ref - n_m,
        "n_extra": n_gen - n_m,
        "recall": recall,
        "precision": precision,
        "f1": f1,
        "max_distance_deg": float(max_distance_deg),
        "offset_mean_deg": float(dist.mean()) if n_m else math.nan,
        "offset_median_deg": float(np.median(dist)) if n_m else math.nan,
        "offset_p16_deg": float(np.percentile(dist, 16)) if n_m else math.nan,
        "offset_p84_deg": float(np.percentile(dist, 84)) if n_m else math.nan,
        "nmf_sign_agreement": float(np.mean(pairs["nmf_sign_agree"])) if n_m and "nmf_sign_agree" in pairs else math.nan,
        "polarity_agreement": float(np.mean(pairs["polarity_agree"])) if n_m and "polarity_agree" in pairs else math.nan,
    }
    for p in params:
        cc, r2, med = _pair_stats(pairs[f"ref_{p}"].to_numpy(float), pairs[f"gen_{p}"].to_numpy(float))
        stats[f"{p}_cc"] = cc
        stats[f"{p}_r2"] = r2
        stats[f"{p}_median_ratio"] = med
    return MatchResult(pairs, missed, extra, stats, ref, gen, float(max_distance_deg))


# --------------------------------------------------------------------------- Hale's law
def solar_cycle(time) -> int:
    """Solar cycle number of a date: 23 before 2008-12-01, 24 until 2019-12-01, 25 after.

    Parameters
    ----------
    time : str or datetime-like
        ISO 8601 time (also HMI's ``2016.07.07_01:00:00_TAI`` form).
    """
    import pandas as pd

    text = str(time).strip()
    if "_" in text and "." in text[:8]:  # JSOC style 2016.07.07_01:00:00[.000]_TAI
        date = text.split("_")[0].replace(".", "-")
        text = date + "T" + text.split("_")[1]
    try:
        t = pd.Timestamp(text.replace("Z", "").replace("TAI", ""))
    except (ValueError, TypeError):
        raise UserError(f"cannot read the time {time!r} to find the solar cycle") from None
    if t.tzinfo is not None:
        t = t.tz_convert(None)
    if t < pd.Timestamp("2008-12-01"):
        return 23
    if t < pd.Timestamp("2019-12-01"):
        return 24
    return 25


def hale_leading_polarity(lat_deg, cycle) -> np.ndarray:
    """Leading polarity Hale's law expects (+1/-1): even cycles - in the north, + in the south."""
    lat = np.asarray(lat_deg, dtype=float)
    cycle = np.asarray(cycle, dtype=int)
    north = np.where(lat >= 0, -1, 1)
    return np.where(cycle % 2 == 0, north, -north).astype(int)


@dataclasses.dataclass
class HaleBreakdown:
    """Result of :func:`hale_breakdown`.

    Attributes
    ----------
    regions : pandas.DataFrame
        One row per reference region: ``ref_index``, ``lat_deg``, ``hemisphere``, ``cycle``,
        ``leading_polarity``, ``expected_leading_polarity``, ``hale_class`` ("hale", "anti_hale",
        "undetermined"), ``matched``, ``gen_index`` (-1 if unmatched), ``gen_leading_polarity``,
        ``polarity_agree``, ``polarity_failure`` (matched but leading polarity differs),
        ``nmf_sign_agree``.
    summary : dict
        Per class (``hale``, ``anti_hale``, ``undetermined``, ``all``): ``n_regions``,
        ``n_matched``, ``recall``, ``n_polarity_agree``, ``n_polarity_fail``,
        ``polarity_agreement`` (over matched), ``n_nmf_sign_agree``, ``nmf_sign_agreement``.
    """

    regions: "object"
    summary: dict


def hale_breakdown(result: MatchResult, time=None, *, cycle: int | None = None) -> HaleBreakdown:
    """Recall and polarity agreement separately for Hale-conforming and anti-Hale regions.

    Parameters
    ----------
    result : MatchResult
        Output of :func:`match_regions`; its reference table needs ``lat_deg`` and
        ``leading_polarity``.
    time : str, optional
        Observation time, used when the reference table has no ``time`` column.
    cycle : int, optional
        Solar cycle for all regions (overrides ``time``).

    A ``hale_conforming`` column in the reference table (the synthetic truth) overrides the rule;
    rows where that column is missing (None/NaN) fall back to the rule.  The class of a region
    with no leading polarity (0) is "undetermined" unless the truth column says otherwise.  The counts of the three classes add up to the number of reference regions.
    """
    import pandas as pd

    ref = result.ref
    n = len(ref)
    if n and "leading_polarity" not in ref.columns:
        raise UserError("reference region table lacks the leading_polarity column for the Hale breakdown")
    lat = ref["lat_deg"].to_numpy(float) if n else np.zeros(0)
    lead = ref["leading_polarity"].to_numpy(int) if n else np.zeros(0, int)
    if cycle is not None:
        cycles = np.full(n, int(cycle))
    elif "cycle" in ref.columns:
        cycles = ref["cycle"].to_numpy(int)
    elif "time" in ref.columns:
        cycles = np.array([solar_cycle(t) for t in ref["time"]], dtype=int)
    elif time is not None:
        cycles = np.full(n, solar_cycle(time))
    elif n and not ("hale_conforming" in ref.columns and ref["hale_conforming"].notna().all()):
        raise UserError("the Hale breakdown needs a time, a cycle, or a hale_conforming truth column")
    else:
        cycles = np.full(n, -1)
    expected = hale_leading_polarity(lat, cycles) if n else np.zeros(0, int)
    cls = np.where(lead == 0, "undetermined", np.where(lead == expected, "hale", "anti_hale")).astype(object)
    if "hale_conforming" in ref.columns:
        truth = ref["hale_conforming"].to_numpy(dtype=object)
        known = ~pd.isna(truth)
        cls[known] = np.where(truth[known].astype(bool), "hale", "anti_hale")

    pairs = result.pairs
    gen_index = np.full(n, -1)
    gen_index[pairs["ref_index"].to_numpy(int)] = pairs["gen_index"].to_numpy(int)
    matched = gen_index >= 0
    gen_lead = np.zeros(n, int)
    if "leading_polarity" in result.gen.columns and matched.any():
        gen_lead[matched] = result.gen["leading_polarity"].to_numpy(int)[gen_index[matched]]
    pol_agree = matched & (gen_lead == lead) & (lead != 0)
    nmf_agree = np.zeros(n, bool)
    if "nmf_sign_agree" in pairs.columns and len(pairs):
        nmf_agree[pairs["ref_index"].to_numpy(int)] = pairs["nmf_sign_agree"].to_numpy(bool)
    regions = pd.DataFrame(
        {
            "ref_index": np.arange(n),
            "lat_deg": lat,
            "hemisphere": np.where(lat >= 0, "N", "S"),
            "cycle": cycles,
            "leading_polarity": lead,
            "expected_leading_polarity": expected,
            "hale_class": cls,
            "matched": matched,
            "gen_index": gen_index,
            "gen_leading_polarity": gen_lead,
            "polarity_agree": pol_agree,
            "polarity_failure": matched & ~pol_agree,
            "nmf_sign_agree": nmf_agree,
        }
    )
    summary = {}
    for name in ("hale", "anti_hale", "undetermined", "all"):
        sel = np.ones(n, bool) if name == "all" else (cls == name)
        nr, nm = int(sel.sum()), int((sel & matched).sum())
        npa = int((sel & pol_agree).sum())
        nna = int((sel & nmf_agree).sum())
        summary[name] = {
            "n_regions": nr,
            "n_matched": nm,
            "recall": nm / nr if nr else math.nan,
            "n_polarity_agree": npa,
            "n_polarity_fail": nm - npa,
            "polarity_agreement": npa / nm if nm else math.nan,
            "n_nmf_sign_agree": nna,
            "nmf_sign_agreement": nna / nm if nm else math.nan,
        }
    return HaleBreakdown(regions, summary)


def attach_truth(table, truth, max_distance_deg: float = 3.0, *, columns=("hale_conforming", "region_id", "flux_mx")):
    """Copy truth columns (synthetic ``frame_regions``) onto detected regions by nearest centre.

    Parameters
    ----------
    table : pandas.DataFrame
        Detected regions (``lat_deg``, ``lon_deg``; optional ``frame``).
    truth : pandas.DataFrame
        Truth rows with ``lat_deg`` and ``stonyhurst_lon_deg`` (optional ``frame``).
    max_distance_deg : float
        Largest accepted distance (deg); unmatched regions get NaN / None.
    columns : tuple of str
        Truth columns to copy (those absent from ``truth`` are skipped).

    Returns
    -------
    pandas.DataFrame
        A copy of ``table`` with the truth columns added (prefix-free) and ``truth_distance_deg``.
    """
    truth = truth.rename(columns={"stonyhurst_lon_deg": "lon_deg"})
    res = match_regions(table, truth, max_distance_deg, parameters=())
    out = table.reset_index(drop=True).copy()
    out["truth_distance_deg"] = np.nan
    out.loc[res.pairs["ref_index"].to_numpy(int), "truth_distance_deg"] = res.pairs["distance_deg"].to_numpy()
    for c in columns:
        if c not in truth.columns:
            continue
        values = np.full(len(out), None, dtype=object)
        values[res.pairs["ref_index"].to_numpy(int)] = res.gen[c].to_numpy()[res.pairs["gen_index"].to_numpy(int)]
        out[c] = values
    return out
