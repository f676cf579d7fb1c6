"""Hale's law: the expected leading polarity, the Hale class of truth regions, and the polarity summary per class.

Hale's law: in even cycles (24) the leading polarity of bipolar regions is negative in the north
and positive in the south; odd cycles (23, 25) the reverse.  Cycle boundaries used here: cycle
23 before 2008-12-01, 24 until 2019-12-01, 25 after.

Hale class of a truth region (:func:`hale_classes`)
    ``hale_conforming`` is the generator's flag of the nearest injected region within the match
    distance (synthetic truth, ``tables/frame_regions``), else None.  ``hale_class`` is
    "hale"/"anti_hale" from that flag, else from Hale's law for the region's hemisphere and the
    cycle at the frame's date (its measured leading polarity against
    :func:`hale_leading_polarity`), and "undetermined" when the region has no leading polarity
    or the frame no time.

Per-class summary (:func:`hale_summary`; rows of ``matches.csv`` whose truth region is of the class; fractions NaN over no item)
    ``n_ref`` truth regions; ``n_matched`` of them matched; ``recall``; ``n_polarity_fail``
    (matched pairs whose leading polarities differ or whose reference has none);
    ``polarity_agreement`` (leading polarity equal and non-zero, over matched pairs);
    ``nmf_sign_agreement`` (sign of the region NMF equal, over matched pairs);
    footprint measures, which read the generated map inside every truth region's footprint,
    matched or not (:func:`euv2mag.audit.measurement.footprint_polarity`):
    ``n_footprint_determined`` (both maps show both polarities there),
    ``footprint_polarity_agreement`` (generated leading polarity equals the truth's, over those),
    ``footprint_nmf_sign_agreement`` (over footprints with a non-zero generated net flux);
    and the hemispheric contrast ``P(leading + | south) - P(leading + | north)`` over the
    determined footprints, of the reference (``footprint_ref_hemisphere_contrast``, about +-1
    for Hale-conforming regions) and of the generated map signed so that the reference's
    direction is positive (``footprint_gen_hemisphere_contrast``: 1 = the model applies Hale's
    law as a sign prior, 0 = its orientation ignores the hemisphere, < 0 = reversed; NaN without
    determined footprints in both hemispheres).
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import UserError

__all__ = ["solar_cycle", "hale_leading_polarity", "hale_classes", "hale_summary", "footprint_summary", "footprint_arrays",
           "footprint_measures", "FOOTPRINT_COLUMNS", "HALE_GROUPS"]

#: Hale classes of truth regions, in report order.
HALE_GROUPS = ("hale", "anti_hale", "undetermined")


def solar_cycle(time) -> int:
    """Solar cycle number of a date: 23 before 2008-12-01, 24 until 2019-12-01, 25 after.

    Parameters
    ----------
    time : str or datetime-like
        ISO 8601 time (also HMI's ``2016.07.07_01:00:00_TAI`` form).

    Examples
    --------
    >>> solar_cycle("2014-02-01T00:00:00"), solar_cycle("2021-06-01")
    (24, 25)
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
    """Leading polarity Hale's law expects (+1/-1): even cycles - in the north, + in the south.

    Examples
    --------
    >>> hale_leading_polarity([20.0, -20.0], 24).tolist()
    [-1, 1]
    """
    lat = np.asarray(lat_deg, dtype=float)
    cycle = np.asarray(cycle, dtype=int)
    north = np.where(lat >= 0, -1, 1)
    return np.where(cycle % 2 == 0, north, -north).astype(int)


def hale_classes(ref_table, time, truth_regions=None, max_distance_deg: float = 5.0) -> list[tuple]:
    """``(hale_conforming, hale_class)`` of each detected truth region (see the module docstring).

    Parameters
    ----------
    ref_table : pandas.DataFrame
        Detected truth regions (``lat_deg``, ``lon_deg``, ``leading_polarity``).
    time : str or None
        Observation time of the frame (for the cycle).
    truth_regions : pandas.DataFrame, optional
        Injected regions visible in the frame (``lat_deg``, ``stonyhurst_lon_deg``,
        ``hale_conforming``).
    max_distance_deg : float
        Largest distance (deg) to the injected region whose flag is taken.
    """
    from .match import attach_truth

    n = len(ref_table)
    if n == 0:
        return []
    truth = [None] * n
    if truth_regions is not None and len(truth_regions):
        attached = attach_truth(ref_table, truth_regions, max_distance_deg, columns=("hale_conforming",))
        truth = [None if v is None or (isinstance(v, float) and math.isnan(v)) else bool(v) for v in attached["hale_conforming"]]
    cycle = solar_cycle(time) if time else None
    out = []
    for flag, lat, lead in zip(truth, ref_table["lat_deg"], ref_table["leading_polarity"]):
        if flag is not None:
            cls = "hale" if flag else "anti_hale"
        elif int(lead) == 0 or cycle is None:
            cls = "undetermined"
        else:
            cls = "hale" if int(lead) == int(hale_leading_polarity(lat, cycle)) else "anti_hale"
        out.append((flag, cls))
    return out


def hale_summary(matches) -> dict:
    """Recall, leading-polarity and NMF-sign agreement per Hale class (module docstring).

    Parameters
    ----------
    matches : pandas.DataFrame
        Rows of ``matches.csv`` (:data:`euv2mag.audit.files.MATCHES`) of one or several
        predictions.

    Returns
    -------
    dict
        ``{group: {...}}`` for ``hale``, ``anti_hale``, ``undetermined``; the keys of each
        group are those of :class:`euv2mag.audit.summary.HaleClassSummary`.
    """
    from ._columns import TableColumns

    cols = TableColumns(matches)
    return _hale_summary_rows(cols, cols.all_rows())


def _hale_summary_rows(cols, rows: np.ndarray) -> dict:
    """:func:`hale_summary` of the rows at positions ``rows`` of a table's columns (``TableColumns``).

    The bootstrap calls it on every replicate with the columns converted once
    (:mod:`euv2mag.audit._columns`); the numbers are those of :func:`hale_summary` of the
    DataFrame of those rows, bit for bit.
    """
    out = {}
    ref = rows[cols.isin("status", ("matched", "missed"))[rows]] if rows.size else rows
    for group in HALE_GROUPS:
        sel = ref[cols.equals("hale_class", group)[ref]] if ref.size else ref
        n_ref = int(sel.size)
        pairs = sel[cols.equals("status", "matched")[sel]] if n_ref else sel
        tp = int(pairs.size)
        if tp:
            lead_r = cols.floats("ref_leading_polarity")[pairs]
            lead_g = cols.floats("gen_leading_polarity")[pairs]
            pol = (lead_r == lead_g) & (lead_r != 0)
            nmf = np.sign(cols.floats("ref_nmf_mx")[pairs]) == np.sign(cols.floats("gen_nmf_mx")[pairs])
        else:
            pol = nmf = np.zeros(0, bool)
        footprint = footprint_measures(_footprint_arrays_rows(cols, sel))
        out[group] = {
            "n_ref": n_ref,
            "n_matched": tp,
            "recall": tp / n_ref if n_ref else math.nan,
            "n_polarity_fail": int(tp - pol.sum()),
            "polarity_agreement": float(pol.mean()) if tp else math.nan,
            "nmf_sign_agreement": float(nmf.mean()) if tp else math.nan,
            **footprint,
        }
    return out


def footprint_summary(matches) -> dict:
    """The footprint measures of :func:`hale_summary` alone, per Hale class.

    Parameters
    ----------
    matches : pandas.DataFrame
        Rows of ``matches.csv``.

    Returns
    -------
    dict
        ``{group: {"n_footprint_determined", "footprint_polarity_agreement",
        "footprint_nmf_sign_agreement", "footprint_ref_hemisphere_contrast",
        "footprint_gen_hemisphere_contrast"}}``.
    """
    ref = matches[matches["status"].isin(["matched", "missed"])] if len(matches) else matches
    return {group: _footprint_class(ref[ref["hale_class"] == group] if len(ref) else ref) for group in HALE_GROUPS}


#: Columns of ``matches.csv`` the footprint measures read, in the order of :func:`footprint_arrays`.
FOOTPRINT_COLUMNS = ("ref_leading_polarity", "fp_gen_leading_polarity", "ref_nmf_mx", "fp_gen_nmf_mx", "ref_lat_deg")


def footprint_arrays(rows) -> np.ndarray:
    """(5, N) float64 array of :data:`FOOTPRINT_COLUMNS` of ``matches.csv`` rows (NA as NaN), for :func:`footprint_measures`."""
    if not len(rows) or "fp_gen_leading_polarity" not in rows.columns:
        return np.full((len(FOOTPRINT_COLUMNS), len(rows)), np.nan)
    return np.vstack([_floats(rows[c]) for c in FOOTPRINT_COLUMNS])


def _footprint_arrays_rows(cols, rows: np.ndarray) -> np.ndarray:
    """:func:`footprint_arrays` of the rows at positions ``rows`` of a table's columns (``TableColumns``)."""
    if not rows.size or "fp_gen_leading_polarity" not in cols:
        return np.full((len(FOOTPRINT_COLUMNS), rows.size), np.nan)
    return np.vstack([cols.floats(c)[rows] for c in FOOTPRINT_COLUMNS])


def footprint_measures(arrays: np.ndarray) -> dict:
    """The footprint measures of one Hale class (module docstring) from :func:`footprint_arrays` of its rows.

    The one computation behind :func:`hale_summary`, :func:`footprint_summary` and the
    region-clustered bootstrap (:func:`euv2mag.audit.summary.footprint_intervals`), which calls it
    on column subsets of the arrays.
    """
    ref_lead, fp_lead, ref_nmf, fp_nmf_gen, lat = np.asarray(arrays, dtype=np.float64)
    # both maps show both polarities inside the footprint; elsewhere the generated map
    # is silent there (counted apart, not as a failure)
    determined = (ref_lead != 0) & (fp_lead != 0) & np.isfinite(fp_lead)
    fp_pol = (fp_lead == ref_lead)[determined]
    nonzero = (fp_nmf_gen != 0) & np.isfinite(fp_nmf_gen)
    fp_nmf = (np.sign(fp_nmf_gen) == np.sign(ref_nmf))[nonzero]
    return {
        "n_footprint_determined": int(fp_pol.size),
        "footprint_polarity_agreement": float(fp_pol.mean()) if fp_pol.size else math.nan,
        "footprint_nmf_sign_agreement": float(fp_nmf.mean()) if fp_nmf.size else math.nan,
        **_hemisphere_contrast(lat[determined], ref_lead[determined] > 0, fp_lead[determined] > 0),
    }


def _footprint_class(sel) -> dict:
    """Footprint measures over the truth-region rows ``sel`` of one class (module docstring)."""
    return footprint_measures(footprint_arrays(sel))


def _floats(series) -> np.ndarray:
    return np.asarray(series.astype("float64"), dtype=np.float64)


def _hemisphere_contrast(lat, ref, gen) -> dict:
    """Contrasts over determined footprints: centre latitudes (deg), leading polarity + of the reference, of the map."""
    nan = {"footprint_ref_hemisphere_contrast": math.nan, "footprint_gen_hemisphere_contrast": math.nan}
    south, north = lat < 0, lat > 0
    if not south.any() or not north.any():
        return nan
    ref_c = float(ref[south].mean() - ref[north].mean())
    gen_c = float(gen[south].mean() - gen[north].mean())
    return {"footprint_ref_hemisphere_contrast": ref_c,
            "footprint_gen_hemisphere_contrast": gen_c * (1.0 if ref_c >= 0 else -1.0)}
