"""One-to-one matching of active regions between a reference and a generated map, and their agreement.

Matching (spec §4): the cost is the great-circle distance between region centres
(``arccos(sin p1 sin p2 + cos p1 cos p2 cos(l1 - l2))``, argument clipped to [-1, 1]); pairs come
from :func:`scipy.optimize.linear_sum_assignment` on that matrix, and pairs farther apart than
``max_distance_deg`` (5 deg) are discarded.  When both tables have a ``frame`` column (e.g. the
region tables of many frames concatenated), regions are matched within each frame only.

``MatchResult.pairs`` columns: ``ref_index``, ``gen_index`` (row positions in the input tables),
``frame`` (when grouped), ``distance_deg``, ``ref_<param>`` and ``gen_<param>`` for each
parameter, ``ratio_<param>`` (gen / ref; NaN when ref is 0), ``delta_r_value`` (gen - ref, dex),
``nmf_sign_agree`` (sign of NMF equal) and ``polarity_agree`` (leading polarity equal and not 0).
``missed`` / ``extra``: the unmatched rows of the reference / generated table.

Agreement of a set of matched pairs (:func:`region_summary`; the one implementation used by
``MatchResult.summary`` and by the audit's ``summary.json``)
-------------------------------------------------------------------------------------------
``n_ref``, ``n_gen`` regions; ``n_matched`` pairs (TP); ``n_missed`` = n_ref - TP;
``n_extra`` = n_gen - TP; ``recall`` = TP / n_ref (NaN when n_ref = 0; the paper's "fraction
reproduced"); ``precision`` = TP / n_gen (NaN when n_gen = 0); ``f1`` = 2 TP / (n_ref + n_gen)
(the harmonic mean of the two, 0 when nothing matched, NaN only when both tables are empty);
``offset_mean_deg``, ``offset_median_deg`` of the centre distances (NaN without pairs);
``leading_polarity_agreement`` (leading polarities equal and not 0) and ``nmf_sign_agreement``
over the pairs (NaN without pairs); per parameter :class:`~euv2mag.audit.summary.ParameterAgreement`:
``n_pairs`` with finite values, Pearson ``cc``, ``r2`` (generated as a prediction of the
reference, ``1 - sum (g - r)^2 / sum (r - mean r)^2``) and ``median_ratio`` of g / r.

**Small samples.** A statistic of pairs of values (a CC, an R^2, a slope, a median ratio) from
fewer than :data:`MIN_PAIRS` (10) pairs is NaN, with its count beside it: with 1-2 matched
regions a CC is +-1 or undefined and tells nothing.  The same rule applies across frames
(:func:`euv2mag.audit.fulldisk.series_metrics`).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..errors import UserError

__all__ = [
    "MATCH_PARAMETERS",
    "SUMMARY_PARAMETERS",
    "MIN_PAIRS",
    "MatchResult",
    "great_circle_deg",
    "match_regions",
    "pair_agreement",
    "region_summary",
    "match_rows",
    "attach_truth",
]

#: Fewest pairs of values a pair statistic (CC, R^2, slope, median ratio) is computed from.
MIN_PAIRS = 10

#: Region parameters compared between matched pairs (``ref_<p>``, ``gen_<p>`` in ``matches.csv``).
MATCH_PARAMETERS = (
    "lat_deg",
    "lon_deg",
    "area_msh",
    "tumf_mx",
    "nmf_mx",
    "amf_g",
    "max_abs_g",
    "pil_count",
    "pil_length_mm",
    "pil_mean_gradient_g_per_mm",
    "r_value",
    "leading_polarity",
)
#: Parameters whose agreement (CC, R^2, median ratio) is summarised: the compared ones but
#: positions and polarity (those have their own measures).
SUMMARY_PARAMETERS = tuple(p for p in MATCH_PARAMETERS if p not in ("lat_deg", "lon_deg", "leading_polarity"))


def great_circle_deg(lat1, lon1, lat2, lon2):
    """Great-circle angle between points given in degrees (broadcasts), in degrees."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dl = np.radians(np.asarray(lon1, dtype=float) - np.asarray(lon2, dtype=float))
    c = np.sin(p1) * np.sin(p2) + np.cos(p1) * np.cos(p2) * np.cos(dl)
    return np.degrees(np.arccos(np.clip(c, -1.0, 1.0)))


@dataclasses.dataclass
class MatchResult:
    """Result of :func:`match_regions` (see the module docstring for the columns).

    Attributes
    ----------
    pairs, missed, extra : pandas.DataFrame
        Matched pairs, unmatched reference rows, unmatched generated rows.
    ref, gen : pandas.DataFrame
        The input tables (index reset).
    max_distance_deg : float
        Largest accepted centre distance (deg).
    min_pairs : int
        Fewest pairs of a pair statistic in :attr:`summary`.
    """

    pairs: "object"
    missed: "object"
    extra: "object"
    ref: "object"
    gen: "object"
    max_distance_deg: float
    min_pairs: int = MIN_PAIRS

    @property
    def summary(self):
        """:class:`~euv2mag.audit.summary.RegionSummary` of the pairs (:func:`region_summary`)."""
        params = [p for p in SUMMARY_PARAMETERS if f"ref_{p}" in self.pairs.columns]
        return region_summary(self.pairs, len(self.ref), len(self.gen), parameters=params, min_pairs=self.min_pairs)

    @property
    def stats(self) -> dict:
        """:attr:`summary` flattened: its scalars, and ``<param>_cc`` / ``_r2`` / ``_median_ratio`` / ``_n_pairs``."""
        s = self.summary.to_dict()
        flat = {k: v for k, v in s.items() if k != "parameters"}
        for p, agreement in s["parameters"].items():
            flat.update({f"{p}_{k}": v for k, v in agreement.items()})
        return flat


def pair_agreement(ref_values, gen_values, *, min_pairs: int = MIN_PAIRS):
    """Agreement of one parameter over matched pairs (module docstring).

    Parameters
    ----------
    ref_values, gen_values : array-like
        (N,) values of the reference and generated regions of N pairs (same unit); pairs with a
        non-finite value are dropped.
    min_pairs : int
        Fewest finite pairs; with fewer, ``cc``, ``r2`` and ``median_ratio`` are NaN.

    Returns
    -------
    ParameterAgreement
        ``n_pairs``, ``cc`` (Pearson), ``r2`` (generated as a prediction of the reference) and
        ``median_ratio`` (median of generated / reference over pairs with a non-zero reference).

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.arange(1.0, 13.0)
    >>> a = pair_agreement(ref, 2 * ref)
    >>> a.n_pairs, round(a.cc, 6), a.median_ratio
    (12, 1.0, 2.0)
    >>> bool(np.isnan(pair_agreement(ref[:3], ref[:3]).cc))
    True
    """
    from .fulldisk import pearson, r2_score
    from .summary import ParameterAgreement

    x = np.asarray(ref_values, dtype=np.float64)
    y = np.asarray(gen_values, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < max(int(min_pairs), 1):
        return ParameterAgreement(n_pairs=int(x.size), cc=math.nan, r2=math.nan, median_ratio=math.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = y / x
    ratio = ratio[np.isfinite(ratio)]
    return ParameterAgreement(n_pairs=int(x.size), cc=pearson(x, y), r2=r2_score(x, y),
                              median_ratio=float(np.median(ratio)) if ratio.size else math.nan)


def region_summary(pairs, n_ref: int, n_gen: int, *, parameters=SUMMARY_PARAMETERS, min_pairs: int = MIN_PAIRS):
    """Detection and agreement numbers of a set of matched region pairs (module docstring).

    Parameters
    ----------
    pairs : pandas.DataFrame
        One row per matched pair with ``distance_deg`` (deg), ``ref_<p>`` and ``gen_<p>`` for
        the parameters, ``ref_leading_polarity`` / ``gen_leading_polarity`` and
        ``ref_nmf_mx`` / ``gen_nmf_mx`` when present (:attr:`MatchResult.pairs`, or the
        ``matched`` rows of ``matches.csv``).
    n_ref, n_gen : int
        Number of reference and generated regions the pairs were matched from.
    parameters : sequence of str
        Parameters whose :func:`pair_agreement` is reported (those without columns are skipped).
    min_pairs : int
        Fewest pairs of a pair statistic.

    Returns
    -------
    RegionSummary
    """
    from ._columns import TableColumns

    cols = TableColumns(pairs)
    return _region_summary_rows(cols, cols.all_rows(), n_ref, n_gen, parameters=parameters, min_pairs=min_pairs)


def _region_summary_rows(cols, rows: np.ndarray, n_ref: int, n_gen: int, *, parameters=SUMMARY_PARAMETERS,
                         min_pairs: int = MIN_PAIRS):
    """:func:`region_summary` of the pairs at positions ``rows`` of a table's columns (``TableColumns``).

    The bootstrap calls it on every replicate with the columns converted once
    (:mod:`euv2mag.audit._columns`); the numbers are those of :func:`region_summary` of the
    DataFrame of those rows, bit for bit.
    """
    from .summary import RegionSummary

    tp = int(rows.size)
    n_ref, n_gen = int(n_ref), int(n_gen)

    def col(name):
        return cols.floats(name)[rows] if name in cols else np.full(tp, np.nan)

    dist = col("distance_deg")
    if tp and "ref_leading_polarity" in cols and "gen_leading_polarity" in cols:
        rl, gl = col("ref_leading_polarity"), col("gen_leading_polarity")
        lead = float(np.mean((rl == gl) & (rl != 0)))
    else:
        lead = math.nan
    if tp and "ref_nmf_mx" in cols and "gen_nmf_mx" in cols:
        nmf = float(np.mean(np.sign(col("ref_nmf_mx")) == np.sign(col("gen_nmf_mx"))))
    else:
        nmf = math.nan
    finite = dist[np.isfinite(dist)]
    return RegionSummary(
        n_ref=n_ref,
        n_gen=n_gen,
        n_matched=tp,
        n_missed=n_ref - tp,
        n_extra=n_gen - tp,
        recall=tp / n_ref if n_ref else math.nan,
        precision=tp / n_gen if n_gen else math.nan,
        f1=2 * tp / (n_ref + n_gen) if n_ref + n_gen else math.nan,
        offset_mean_deg=float(finite.mean()) if finite.size else math.nan,
        offset_median_deg=float(np.median(finite)) if finite.size else math.nan,
        leading_polarity_agreement=lead,
        nmf_sign_agreement=nmf,
        parameters={p: pair_agreement(col(f"ref_{p}"), col(f"gen_{p}"), min_pairs=min_pairs)
                    for p in parameters if f"ref_{p}" in cols and f"gen_{p}" in cols},
    )


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


def match_regions(
    ref_table,
    gen_table,
    max_distance_deg: float = 5.0,
    *,
    lon_column: str = "lon_deg",
    parameters: tuple = SUMMARY_PARAMETERS,
    by: str | None = "frame",
    min_pairs: int = MIN_PAIRS,
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
    min_pairs : int
        Fewest pairs of a pair statistic in ``MatchResult.summary``.

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

    return MatchResult(pairs, missed, extra, ref, gen, float(max_distance_deg), int(min_pairs))


def match_rows(pred: str, ref_table, gen_table, hale_classes: list, max_distance_deg: float = 5.0,
               footprint=None, region_ids=None) -> list[dict]:
    """Rows of ``matches.csv`` for one frame and one prediction (:data:`euv2mag.audit.files.MATCHES`).

    Parameters
    ----------
    pred : str
        Prediction name.
    ref_table, gen_table : pandas.DataFrame
        Regions detected on the truth and on the prediction (index reset), with ``label`` and
        the :data:`MATCH_PARAMETERS`.
    hale_classes : list of tuple
        ``(hale_conforming, hale_class)`` of every truth region
        (:func:`euv2mag.audit.hale.hale_classes`).
    max_distance_deg : float
        Largest centre distance of a match (deg).
    footprint : pandas.DataFrame, optional
        :func:`euv2mag.audit.measurement.footprint_polarity` of the prediction inside the truth
        footprints, indexed by truth label (gives ``fp_gen_leading_polarity``, ``fp_gen_nmf_mx``).
    region_ids : list, optional
        Generator region id (or None) of every truth region (``ref_region_id``;
        :func:`euv2mag.audit.pipeline.truth_footprints`).

    Returns
    -------
    list of dict
        One "matched" row per pair, one "missed" row per unmatched truth region, one "extra" row
        per unmatched generated region (without ``frame`` and ``time``).
    """
    if len(ref_table) and len(gen_table):
        result = match_regions(ref_table, gen_table, max_distance_deg=max_distance_deg, parameters=(), by=None)
        pairs = list(zip(result.pairs["ref_index"].astype(int), result.pairs["gen_index"].astype(int)))
        dist = result.pairs["distance_deg"].to_numpy(dtype=float)
    else:
        pairs, dist = [], []
    matched_ref = {i for i, _ in pairs}
    matched_gen = {j for _, j in pairs}

    def values(prefix, table, k):
        return {f"{prefix}_{p}": (table[p].iloc[k] if (k is not None and p in table.columns) else None) for p in MATCH_PARAMETERS}

    def in_footprint(i):
        label = int(ref_table["label"].iloc[i])
        if footprint is None or label not in footprint.index:
            return {"fp_gen_leading_polarity": None, "fp_gen_nmf_mx": None}
        return {"fp_gen_leading_polarity": int(footprint.at[label, "leading_polarity"]),
                "fp_gen_nmf_mx": float(footprint.at[label, "nmf_mx"])}

    def truth(i):
        flag, cls = hale_classes[i]
        return {"hale_conforming": flag, "hale_class": cls,
                "ref_region_id": region_ids[i] if region_ids is not None else None}

    rows = []
    for (i, j), d in zip(pairs, dist):
        rows.append({"pred": pred, "status": "matched", "ref_label": int(ref_table["label"].iloc[i]),
                     "gen_label": int(gen_table["label"].iloc[j]), "distance_deg": float(d), **truth(i),
                     **values("ref", ref_table, i), **values("gen", gen_table, j), **in_footprint(i)})
    for i in range(len(ref_table)):
        if i not in matched_ref:
            rows.append({"pred": pred, "status": "missed", "ref_label": int(ref_table["label"].iloc[i]), "gen_label": None,
                         "distance_deg": None, **truth(i), **values("ref", ref_table, i), **values("gen", gen_table, None),
                         **in_footprint(i)})
    for j in range(len(gen_table)):
        if j not in matched_gen:
            rows.append({"pred": pred, "status": "extra", "ref_label": None, "gen_label": int(gen_table["label"].iloc[j]),
                         "distance_deg": None, "hale_conforming": None, "hale_class": None, **values("ref", ref_table, None),
                         **values("gen", gen_table, j)})
    return rows


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
