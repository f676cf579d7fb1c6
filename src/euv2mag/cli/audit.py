"""``euv2mag audit --truth STORE --pred PRED.zarr [--pred ...] --out DIR``: audit generated magnetograms.

For every frame of the prediction stores (array ``pred``, G) and the truth store (array ``mag``,
G) the audit computes full-disk metrics (:mod:`euv2mag.audit.fulldisk`), detects and measures
active regions on the truth and on every prediction (:mod:`euv2mag.audit.regions`), matches
them (:mod:`euv2mag.audit.match`), and, with several predictions, compares the runs with each
other (:mod:`euv2mag.audit.variability`).  Frames are aligned by time: every prediction store
must have the truth's image shape and the same list of frame times as the other predictions,
and each of its times must be a frame of the truth store (a prediction of the test frames of a
larger store is fine).  Any mismatch is a one-line error naming both files.

Outputs (all written atomically; per-frame results are cached in ``DIR/.cache`` so that an
interrupted audit resumes where it stopped)
------------------------------------------------------------------------------------------
``fulldisk.csv``
    one row per frame and prediction: ``pred`` (prediction name), ``frame`` (index in the
    prediction store), ``truth_frame`` (index in the truth store), ``time``, then the columns of
    :data:`euv2mag.audit.fulldisk.FRAME_COLUMNS` (``ref`` = truth, ``gen`` = prediction).
``regions.csv``
    every region of every map: ``source`` ("truth" or the prediction name), ``frame``,
    ``time``, ``hale_conforming`` (truth regions: True/False/empty when unknown), then the
    columns of :data:`euv2mag.audit.regions.REGION_COLUMNS`.
``matches.csv``
    one row per truth-prediction region pair and per missed/extra region: ``pred``, ``frame``,
    ``time``, ``status`` ("matched", "missed", "extra"), ``ref_label``, ``gen_label``,
    ``distance_deg``, ``hale_conforming`` (of the truth region), and ``ref_<p>``/``gen_<p>`` for
    each compared parameter ``p`` (see :data:`MATCH_PARAMETERS`); for matched and missed truth
    regions also ``fp_gen_leading_polarity`` and ``fp_gen_nmf_mx``: the generated map read inside
    the truth region's footprint (:func:`euv2mag.audit.regions.footprint_polarity`), which
    measures polarity even where the generated field is too weak to be detected.  The Hale
    summary reports ``footprint_polarity_agreement`` over the truth regions of a class where
    both maps show both polarities inside the footprint (their number:
    ``n_footprint_determined``) and ``footprint_nmf_sign_agreement`` where the generated net
    flux inside the footprint is not zero.
``variability.csv`` (two or more predictions)
    one row per frame and pair of predictions: ``frame``, ``time``, ``run_a``, ``run_b`` and the
    columns of :mod:`euv2mag.audit.variability` (pixel CC, polarity disagreement, region overlap).
``pixel_std.zarr`` (two or more predictions)
    Zarr array (N, H, W) float32: per-pixel standard deviation across the predictions (G).
``summary.json``
    ``params``; ``inputs``; per prediction (``predictions.<name>``) and averaged over
    predictions (``mean_over_predictions``): ``fulldisk`` (TUMF and NMF ``cc``/``r2``/``slope``/
    ``r2_fit`` across frames; frame means of ``cc``, ``cc_binned``, ``r2``, ``rmse_g``,
    ``polarity_agreement``; share of frames with the NMF sign right), ``regions`` (counts,
    recall, precision, F1, centre offset mean/median in degrees, leading-polarity and NMF-sign
    agreement of matched pairs, per-parameter ``cc``, ``r2`` and ``median_ratio``), ``hale``
    (for Hale-conforming and anti-Hale truth regions separately: ``n_ref``, ``n_matched``,
    ``recall``, ``polarity_agreement``, ``nmf_sign_agreement``, footprint measures and the
    hemispheric contrast of the leading polarity, reference and generated, which tells a learned
    Hale prior from a hemisphere-blind orientation); ``pooled_over_predictions``
    (``n_predictions``, ``n_matched`` summed over them, and the same ``hale`` block over the region observations of all
    predictions together, so that its counts are the real numbers of observations; averaging
    fractions over runs where some runs match no region would hide them); ``variability``
    (means of the pairwise run comparisons); ``ci``: the same layout with a ``[low, high]`` confidence
    interval for every number but the counts, from a block bootstrap over the audited frames in
    time blocks of ``--ci-block-days`` (:mod:`euv2mag.audit.bootstrap`; region observations of a
    frame stay together), and ``bootstrap`` (method, replicates, block length, number of
    blocks, level, seed).  ``--n-boot 0`` leaves both out.

Hale's law: for a synthetic truth store (``tables/frame_regions``) each detected truth region
takes the generator's ``hale_conforming`` flag of the nearest injected region within
``--max-distance-deg``; otherwise it is decided from the region's leading polarity, hemisphere
and the solar cycle at the frame's date (``hale_class`` column; :func:`euv2mag.audit.match.hale_leading_polarity`).
"""
from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np

from ..audit.bootstrap import DISK_PASSAGE_DAYS
from ..audit.cache import ResultCache
from . import bounded, nonnegative_float, nonnegative_int, positive_float, positive_int

#: Region parameters compared between matched pairs (``ref_<p>``, ``gen_<p>`` in matches.csv).
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
#: Parameters whose CC / R^2 / median ratio go into summary.json (the compared ones but positions and polarity).
SUMMARY_PARAMETERS = tuple(p for p in MATCH_PARAMETERS if p not in ("lat_deg", "lon_deg", "leading_polarity"))


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "audit",
        help="full-disk, active-region and run-to-run audit of prediction stores against the truth",
        description="Compare prediction stores (array 'pred') with a truth store (array 'mag'): full-disk "
        "flux and pixel metrics, detected active regions and their matching, Hale's-law breakdown and, "
        "with several predictions, run-to-run variability.",
    )
    p.add_argument("--truth", required=True, help="truth store (array 'mag')")
    p.add_argument("--pred", required=True, action="append", metavar="PRED.zarr",
                   help="prediction store (array 'pred'); repeat for several runs")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--r-max", type=_fraction, default=0.95, help="disk cut in solar radii (default: 0.95)")
    p.add_argument("--threshold-g", type=nonnegative_float, default=10.0,
                   help="noise threshold of the flux sums in G, per map (default: 10)")
    p.add_argument("--bin", type=positive_int, default=8, help="block size of the binned pixel CC (default: 8)")
    p.add_argument("--strong-g", type=nonnegative_float, default=50.0,
                   help="both maps above this |B| (G) for the polarity agreement (default: 50)")
    p.add_argument("--max-distance-deg", type=nonnegative_float, default=5.0,
                   help="largest centre distance of a region match, degrees (default: 5)")
    p.add_argument("--indices", type=int, nargs="+", metavar="I", help="prediction frames to audit (default: all)")
    p.add_argument("--workers", type=positive_int, default=1,
                   help="processes for the per-frame work (Dask bag; default: 1, no Dask)")
    p.add_argument("--n-boot", type=nonnegative_int, default=1000,
                   help="block-bootstrap replicates of the confidence intervals (default: 1000; 0: none)")
    p.add_argument("--ci-block-days", type=positive_float, default=DISK_PASSAGE_DAYS,
                   help=f"length of the bootstrap's time blocks in days (default: {DISK_PASSAGE_DAYS}, one disk passage)")
    p.add_argument("--ci-level", type=_open_fraction, default=0.95, help="coverage of the intervals (default: 0.95)")
    p.set_defaults(func=run)


_fraction = bounded(float, low=0, high=1, low_inclusive=False, what="a number in (0, 1]")
_open_fraction = bounded(float, low=0, high=1, low_inclusive=False, high_inclusive=False, what="a number in (0, 1)")


# --------------------------------------------------------------------------- per-frame work
def audit_frame(truth_g, preds: dict, geometry, params: dict, truth_regions=None) -> tuple[dict, np.ndarray | None]:
    """Everything the audit computes for one frame; a pure function of its arguments.

    Parameters
    ----------
    truth_g : ndarray
        (H, W) reference LOS field in G.
    preds : dict of str to ndarray
        Prediction name -> (H, W) generated field in G.
    geometry : DiskGeometry
        Geometry of the frame.
    params : dict
        ``fulldisk`` (:class:`FullDiskParams` fields), ``detection`` (:class:`DetectionParams`
        fields), ``max_distance_deg``.
    truth_regions : pandas.DataFrame, optional
        Injected regions visible in this frame (synthetic truth ``frame_regions`` rows) with
        ``lat_deg``, ``stonyhurst_lon_deg``, ``hale_conforming``.

    Returns
    -------
    records : dict
        Lists of row dicts under ``fulldisk``, ``regions``, ``matches``, ``variability``.
    std : ndarray or None
        Per-pixel standard deviation across predictions (two or more), else None.
    """
    from ..audit.fulldisk import FullDiskParams, frame_metrics
    from ..audit.match import match_regions
    from ..audit.regions import DetectionParams, find_regions, footprint_polarity
    from ..audit.variability import frame_variability
    from ..errors import UserError

    fd = FullDiskParams(**params["fulldisk"])
    det = DetectionParams(**params["detection"])
    dmax = float(params["max_distance_deg"])
    records = {"fulldisk": [], "regions": [], "matches": [], "variability": []}

    ref_labels, ref_table = find_regions(truth_g, geometry, det)
    ref_table = ref_table.reset_index(drop=True)
    hale = _truth_hale(ref_table, geometry, truth_regions, dmax)
    for row, (flag, cls) in zip(ref_table.to_dict("records"), hale):
        records["regions"].append({"source": "truth", "hale_conforming": flag, "hale_class": cls, **row})

    tables = {}
    for name, gen in preds.items():
        try:
            records["fulldisk"].append({"pred": name, **frame_metrics(truth_g, gen, geometry, fd)})
        except UserError as exc:
            raise UserError(f"prediction {name}, frame time {geometry.time}: {exc}") from None
        _, table = find_regions(gen, geometry, det)
        table = table.reset_index(drop=True)
        tables[name] = table
        for row in table.to_dict("records"):
            records["regions"].append({"source": name, "hale_conforming": None, "hale_class": None, **row})
        footprint = footprint_polarity(gen, geometry, ref_labels, threshold_g=fd.threshold_g).set_index("label")
        records["matches"].extend(_match_rows(name, ref_table, table, hale, dmax, match_regions, footprint))

    std = None
    if len(preds) > 1:
        rows, std = frame_variability(dict(preds), geometry, fd, tables, dmax)
        records["variability"] = rows
    return records, std


def _truth_hale(ref_table, geometry, truth_regions, dmax) -> list[tuple]:
    """``(hale_conforming, hale_class)`` of each detected truth region.

    ``hale_conforming`` is the generator's flag of the nearest injected region within ``dmax``
    (synthetic truth) or None; ``hale_class`` is "hale"/"anti_hale" from that flag, else from
    Hale's law for the region's hemisphere and the cycle at the frame's date (leading polarity
    vs :func:`euv2mag.audit.match.hale_leading_polarity`), and "undetermined" when the region
    has no leading polarity (or the frame no time).
    """
    from ..audit.match import attach_truth, hale_leading_polarity, solar_cycle

    n = len(ref_table)
    if n == 0:
        return []
    truth = [None] * n
    if truth_regions is not None and len(truth_regions):
        attached = attach_truth(ref_table, truth_regions, dmax, columns=("hale_conforming",))
        truth = [None if v is None or (isinstance(v, float) and math.isnan(v)) else bool(v) for v in attached["hale_conforming"]]
    cycle = solar_cycle(geometry.time) if geometry.time else None
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


def _pair_indices(pairs) -> list[tuple[int, int]]:
    """(ref row, gen row) positions of a MatchResult's pairs."""
    for a, b in (("ref_index", "gen_index"), ("ref_idx", "gen_idx"), ("i_ref", "i_gen")):
        if a in pairs.columns and b in pairs.columns:
            return [(int(i), int(j)) for i, j in zip(pairs[a], pairs[b])]
    raise RuntimeError(f"unexpected match table columns {list(pairs.columns)}")


def _match_rows(name, ref_table, gen_table, hale, dmax, match_regions, footprint=None) -> list[dict]:
    rows = []

    def in_footprint(i):
        """The generated map inside truth region i's footprint (``fp_gen_*``)."""
        label = int(ref_table["label"].iloc[i])
        if footprint is None or label not in footprint.index:
            return {"fp_gen_leading_polarity": None, "fp_gen_nmf_mx": None}
        return {"fp_gen_leading_polarity": int(footprint.at[label, "leading_polarity"]),
                "fp_gen_nmf_mx": float(footprint.at[label, "nmf_mx"])}

    if len(ref_table) and len(gen_table):
        result = match_regions(ref_table, gen_table, max_distance_deg=dmax)
        pairs = _pair_indices(result.pairs)
        dist = result.pairs["distance_deg"].to_numpy(dtype=float) if "distance_deg" in result.pairs else [math.nan] * len(pairs)
    else:
        pairs, dist = [], []
    matched_ref = {i for i, _ in pairs}
    matched_gen = {j for _, j in pairs}

    def values(prefix, table, k):
        return {f"{prefix}_{p}": (table[p].iloc[k] if (k is not None and p in table.columns) else None) for p in MATCH_PARAMETERS}

    for (i, j), d in zip(pairs, dist):
        rows.append({"pred": name, "status": "matched", "ref_label": int(ref_table["label"].iloc[i]),
                     "gen_label": int(gen_table["label"].iloc[j]), "distance_deg": float(d), "hale_conforming": hale[i][0], "hale_class": hale[i][1],
                     **values("ref", ref_table, i), **values("gen", gen_table, j), **in_footprint(i)})
    for i in range(len(ref_table)):
        if i not in matched_ref:
            rows.append({"pred": name, "status": "missed", "ref_label": int(ref_table["label"].iloc[i]), "gen_label": None,
                         "distance_deg": None, "hale_conforming": hale[i][0], "hale_class": hale[i][1], **values("ref", ref_table, i),
                         **values("gen", gen_table, None), **in_footprint(i)})
    for j in range(len(gen_table)):
        if j not in matched_gen:
            rows.append({"pred": name, "status": "extra", "ref_label": None, "gen_label": int(gen_table["label"].iloc[j]),
                         "distance_deg": None, "hale_conforming": None, "hale_class": None, **values("ref", ref_table, None),
                         **values("gen", gen_table, j)})
    return rows


def _task(item):
    """Dask/serial task: read one frame from the stores and run :func:`audit_frame`."""
    from ..data.store import FrameStore

    truth_path, pred_paths, k, t, params, truth_regions = item
    truth = FrameStore(truth_path)
    preds = {name: FrameStore(path).read("pred", k) for name, path in pred_paths.items()}
    records, std = audit_frame(truth.read("mag", t), preds, truth.geometry(t), params, truth_regions)
    return k, t, records, std


# --------------------------------------------------------------------------- inputs
def _parse_times(times) -> np.ndarray:
    try:
        return np.array([np.datetime64(str(t).replace("Z", "")[:23], "ms") for t in times])
    except ValueError:
        return np.asarray([str(t) for t in times])


def open_stores(truth_path, pred_paths):
    """Open and cross-check the stores; return ``(truth, {name: store}, truth index per pred frame)``.

    Raises
    ------
    UserError
        Missing arrays, different image shapes, different frame times (one line naming both files).
    """
    from ..data.store import FrameStore
    from ..errors import UserError

    truth = FrameStore(truth_path)
    if not truth.has("mag"):
        raise UserError("truth store has no 'mag' array", path=truth.path)
    preds = {}
    for path in pred_paths:
        store = FrameStore(path)
        if not store.has("pred"):
            raise UserError("prediction store has no 'pred' array (make it with euv2mag predict)", path=store.path)
        name = Path(path).name
        for suffix in (".zarr", ".zarr/"):
            name = name[: -len(suffix)] if name.endswith(suffix) and len(name) > len(suffix) else name
        if name in preds:
            name = f"{name}_{len(preds)}"
        preds[name] = store
    first_name, first = next(iter(preds.items()))
    for name, store in preds.items():
        if store.shape != truth.shape:
            raise UserError(
                f"{store.path} and {truth.path} differ in image shape "
                f"({store.shape[0]}x{store.shape[1]} vs {truth.shape[0]}x{truth.shape[1]})"
            )
        if store is not first and (store.n_frames != first.n_frames or not np.array_equal(_parse_times(store.times), _parse_times(first.times))):
            raise UserError(f"{store.path} and {first.path} hold different frame times; predictions must cover the same frames")
    truth_times = _parse_times(truth.times)
    lookup = {t: i for i, t in enumerate(truth_times.tolist())}
    index = []
    for k, t in enumerate(_parse_times(first.times).tolist()):
        if t not in lookup:
            raise UserError(f"{first.path} and {truth.path} differ in frame times: {first.times[k]} is not a truth frame")
        index.append(lookup[t])
    return truth, preds, index


def _truth_regions_by_frame(truth):
    if "frame_regions" not in truth.table_names():
        return None
    table = truth.table("frame_regions")
    need = {"frame", "lat_deg", "stonyhurst_lon_deg", "hale_conforming"}
    if not need <= set(table.columns):
        return None
    return {int(f): g[["lat_deg", "stonyhurst_lon_deg", "hale_conforming"]].reset_index(drop=True) for f, g in table.groupby("frame")}


# --------------------------------------------------------------------------- summary
def _mean(values) -> float:
    arr = np.asarray([v for v in values if v is not None], dtype=float)
    arr = arr[np.isfinite(arr)]
    return float(arr.mean()) if arr.size else math.nan


def summarize(fulldisk, regions, matches, variability, pred_names) -> dict:
    """The ``summary.json`` numbers from the four tables (pandas DataFrames)."""
    from ..audit.fulldisk import pearson, r2_score, series_metrics

    per = {}
    for name in pred_names:
        fd = fulldisk[fulldisk["pred"] == name]
        m = matches[matches["pred"] == name] if len(matches) else matches
        out = {
            "n_frames": int(len(fd)),
            "fulldisk": {
                "tumf": series_metrics(fd["tumf_ref_mx"], fd["tumf_gen_mx"]),
                "nmf": series_metrics(fd["nmf_ref_mx"], fd["nmf_gen_mx"]),
                **{f"mean_{c}": _mean(fd[c]) for c in ("cc", "cc_binned", "r2", "rmse_g", "polarity_agreement", "tumf_ratio")},
                "nmf_sign_agreement": _mean(fd["nmf_sign_agree"].astype(float)),
            },
        }
        n_ref = int((regions["source"] == "truth").sum()) if len(regions) else 0
        n_gen = int((regions["source"] == name).sum()) if len(regions) else 0
        pairs = m[m["status"] == "matched"] if len(m) else m
        tp = int(len(pairs))
        recall = tp / n_ref if n_ref else math.nan
        precision = tp / n_gen if n_gen else math.nan
        reg = {
            "n_ref": n_ref,
            "n_gen": n_gen,
            "n_matched": tp,
            "n_missed": n_ref - tp,
            "n_extra": n_gen - tp,
            "recall": recall,
            "precision": precision,
            "f1": 2 * recall * precision / (recall + precision) if tp else (0.0 if n_ref or n_gen else math.nan),
            "offset_mean_deg": _mean(pairs["distance_deg"]) if tp else math.nan,
            "offset_median_deg": float(np.nanmedian(pairs["distance_deg"].astype(float))) if tp else math.nan,
            "leading_polarity_agreement": _mean(
                (pairs["ref_leading_polarity"].astype(float) == pairs["gen_leading_polarity"].astype(float)).astype(float)
            ) if tp else math.nan,
            "nmf_sign_agreement": _mean(
                (np.sign(pairs["ref_nmf_mx"].astype(float)) == np.sign(pairs["gen_nmf_mx"].astype(float))).astype(float)
            ) if tp else math.nan,
            "parameters": {},
        }
        for p in SUMMARY_PARAMETERS:
            if not tp:
                reg["parameters"][p] = {"cc": math.nan, "r2": math.nan, "median_ratio": math.nan}
                continue
            x = pairs[f"ref_{p}"].astype(float).to_numpy()
            y = pairs[f"gen_{p}"].astype(float).to_numpy()
            ok = np.isfinite(x) & np.isfinite(y)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = y[ok] / x[ok]
            ratio = ratio[np.isfinite(ratio)]
            reg["parameters"][p] = {
                "cc": pearson(x[ok], y[ok]),
                "r2": r2_score(x[ok], y[ok]),
                "median_ratio": float(np.median(ratio)) if ratio.size else math.nan,
            }
        out["regions"] = reg
        out["hale"] = _hale_summary(m)
        per[name] = out
    summary = {
        "predictions": per,
        "mean_over_predictions": _average([per[n] for n in pred_names]),
        # region observations of all runs counted together: honest counts for the polarity tests
        "pooled_over_predictions": {
            "n_predictions": len(pred_names),
            "n_matched": int(sum(per[n]["regions"]["n_matched"] for n in pred_names)),
            "hale": _hale_summary(matches),
        },
    }
    if len(variability):
        num = variability.select_dtypes(include=[np.number, bool]).drop(columns=["frame", "truth_frame"], errors="ignore")
        summary["variability"] = {c: _mean(num[c].astype(float)) for c in num.columns}
    return summary


def bootstrap_summary(fulldisk, regions, matches, variability, pred_names, frames, times, *,
                      n_boot: int, block_days: float, level: float, seed: int = 0) -> tuple[dict, dict]:
    """Block-bootstrap intervals of every :func:`summarize` number (resampling audited frames).

    ``frames`` are the audited prediction-frame indices (the ``frame`` column of the tables) and
    ``times`` their observation times.  A replicate keeps every table row of a drawn frame, so
    the region observations of one map stay together.
    """
    from ..audit.bootstrap import block_bootstrap

    position = {int(k): i for i, k in enumerate(frames)}

    def rows_by_position(table):
        if not len(table) or "frame" not in table.columns:
            return None
        rows = [[] for _ in frames]
        for row, k in enumerate(table["frame"].to_numpy()):
            rows[position[int(k)]].append(row)
        return [np.asarray(r, dtype=np.int64) for r in rows]

    tables = (fulldisk, regions, matches, variability)
    index = [rows_by_position(t) for t in tables]

    def statistic(pos):
        picked = [t if ix is None else t.iloc[np.concatenate([ix[p] for p in pos])] for t, ix in zip(tables, index)]
        return summarize(*picked, pred_names)

    return block_bootstrap(statistic, times, n_boot=n_boot, block_days=block_days, level=level, seed=seed)


def _hale_summary(m) -> dict:
    """Recall, leading-polarity and NMF-sign agreement per Hale class of the truth regions."""
    out = {}
    ref = m[m["status"].isin(["matched", "missed"])] if len(m) else m
    for group in ("hale", "anti_hale", "undetermined"):
        sel = ref[ref["hale_class"] == group] if len(ref) else ref
        n_ref = int(len(sel))
        pairs = sel[sel["status"] == "matched"] if n_ref else sel
        tp = int(len(pairs))
        if tp:
            lead_r = pairs["ref_leading_polarity"].astype(float).to_numpy()
            lead_g = pairs["gen_leading_polarity"].astype(float).to_numpy()
            pol = (lead_r == lead_g) & (lead_r != 0)
            nmf = np.sign(pairs["ref_nmf_mx"].astype(float).to_numpy()) == np.sign(pairs["gen_nmf_mx"].astype(float).to_numpy())
        else:
            pol = nmf = np.zeros(0, bool)
        # footprint measure: the generated map inside every truth region of the class, matched or not
        if n_ref and "fp_gen_leading_polarity" in sel.columns:
            fp_lead = sel["fp_gen_leading_polarity"].astype(float).to_numpy()
            ref_lead = sel["ref_leading_polarity"].astype(float).to_numpy()
            # regions where both maps show both polarities inside the footprint (else the
            # generated map is silent there: counted in n_footprint_undetermined, not as a failure)
            determined = (ref_lead != 0) & (fp_lead != 0)
            fp_pol = (fp_lead == ref_lead)[determined]
            fp_nmf_gen = sel["fp_gen_nmf_mx"].astype(float).to_numpy()
            fp_nmf = (np.sign(fp_nmf_gen) == np.sign(sel["ref_nmf_mx"].astype(float).to_numpy()))[fp_nmf_gen != 0]
        else:
            fp_pol = fp_nmf = np.zeros(0, bool)
            determined = np.zeros(0, bool)
        contrast = _hemisphere_contrast(sel, determined)
        out[group] = {
            "n_ref": n_ref,
            "n_matched": tp,
            "recall": tp / n_ref if n_ref else math.nan,
            "n_polarity_fail": int(tp - pol.sum()),
            "polarity_agreement": float(pol.mean()) if tp else math.nan,
            "nmf_sign_agreement": float(nmf.mean()) if tp else math.nan,
            "n_footprint_determined": int(fp_pol.size),
            "footprint_polarity_agreement": float(fp_pol.mean()) if fp_pol.size else math.nan,
            "footprint_nmf_sign_agreement": float(fp_nmf.mean()) if fp_nmf.size else math.nan,
            **contrast,
        }
    return out


def _hemisphere_contrast(sel, determined) -> dict:
    """Whether leading polarity depends on the hemisphere, in the reference and the generated map.

    Over the footprints where both maps show both polarities: ``P(leading + | south) -
    P(leading + | north)`` of the reference (``footprint_ref_hemisphere_contrast``; about +1 or
    -1 for Hale-conforming regions, the sign set by the cycle) and of the generated map, signed so
    that the reference's direction is positive (``footprint_gen_hemisphere_contrast``): near 1
    means the model applies Hale's law as a sign prior, near 0 that its orientation ignores the
    hemisphere, below 0 that it reverses it.  NaN without footprints in both hemispheres.
    """
    nan = {"footprint_ref_hemisphere_contrast": math.nan, "footprint_gen_hemisphere_contrast": math.nan}
    if not len(sel) or not determined.any() or "fp_gen_leading_polarity" not in sel.columns:
        return nan
    lat = sel["ref_lat_deg"].astype(float).to_numpy()[determined]
    ref = sel["ref_leading_polarity"].astype(float).to_numpy()[determined] > 0
    gen = sel["fp_gen_leading_polarity"].astype(float).to_numpy()[determined] > 0
    south, north = lat < 0, lat > 0
    if not south.any() or not north.any():
        return nan
    ref_c = float(ref[south].mean() - ref[north].mean())
    gen_c = float(gen[south].mean() - gen[north].mean())
    return {"footprint_ref_hemisphere_contrast": ref_c,
            "footprint_gen_hemisphere_contrast": gen_c * (1.0 if ref_c >= 0 else -1.0)}


def _average(items: list):
    """Element-wise mean of nested dicts of numbers (counts are summed, not averaged, nowhere: all means)."""
    first = items[0]
    if isinstance(first, dict):
        return {k: _average([it[k] for it in items]) for k in first}
    if isinstance(first, (int, float, bool, np.number)) or first is None:
        return _mean([float(v) if v is not None else math.nan for v in items])
    return first


# --------------------------------------------------------------------------- command
def run(args) -> int:
    import pandas as pd

    from .._io import atomic_path, atomic_write_json, atomic_write_text, ensure_dir
    from ..audit.fulldisk import FRAME_COLUMNS, FullDiskParams
    from ..audit.regions import REGION_COLUMNS, DetectionParams
    from ..errors import UserError
    from ..progress import progress_bar

    truth, preds, truth_index = open_stores(args.truth, args.pred)
    n = len(truth_index)
    frames = list(range(n)) if args.indices is None else list(dict.fromkeys(args.indices))
    for k in frames:
        if not 0 <= k < n:
            raise UserError(f"frame index {k} is outside 0..{n - 1} of the prediction stores")
    fd = FullDiskParams(r_max=args.r_max, threshold_g=args.threshold_g, bin_factor=args.bin, strong_g=args.strong_g)
    det = DetectionParams(r_max=args.r_max)
    params = {"fulldisk": fd.to_dict(), "detection": det.to_dict(), "max_distance_deg": args.max_distance_deg}
    out = ensure_dir(args.out)
    pred_paths = {name: str(store.path) for name, store in preds.items()}
    cache = ResultCache(out / ".cache", {"params": params, "truth": str(truth.path.resolve()),
                                         "preds": {k: str(Path(v).resolve()) for k, v in pred_paths.items()}})
    truth_regions = _truth_regions_by_frame(truth)
    std_tmp = None
    if len(preds) > 1:
        std_tmp = _std_array(cache.folder / "pixel_std.zarr", len(frames), truth.shape)

    results = {}
    todo = []
    for pos, k in enumerate(frames):
        cached = cache.get(f"frame_{k:06d}")
        if cached is not None:
            results[k] = cached
        else:
            t = truth_index[k]
            regions_t = truth_regions.get(t, truth_regions_empty()) if truth_regions is not None else None
            todo.append((pos, (str(truth.path), pred_paths, k, t, params, regions_t)))

    def store_result(pos, k, t, records, std):
        if std_tmp is not None:
            std_tmp[pos] = std
        results[k] = records
        cache.put(f"frame_{k:06d}", records)

    with progress_bar("audit", len(frames)) as advance:
        advance(len(frames) - len(todo))
        if args.workers > 1 and len(todo) > 1:
            import dask.bag as db

            batch = 4 * args.workers
            for start in range(0, len(todo), batch):
                chunk = todo[start : start + batch]
                bag = db.from_sequence([item for _, item in chunk], npartitions=len(chunk))
                for (pos, _), (k, t, records, std) in zip(chunk, bag.map(_task).compute(scheduler="processes", num_workers=args.workers)):
                    store_result(pos, k, t, records, std)
                    advance()
        else:
            for pos, item in todo:
                k, t, records, std = _task(item)
                store_result(pos, k, t, records, std)
                advance()

    times = {k: str(truth.times[truth_index[k]]) for k in frames}
    ident = lambda k: {"frame": k, "truth_frame": truth_index[k], "time": times[k]}  # noqa: E731
    fulldisk = pd.DataFrame([{"pred": r["pred"], **ident(k), **{c: r[c] for c in FRAME_COLUMNS}}
                             for k in frames for r in results[k]["fulldisk"]],
                            columns=["pred", "frame", "truth_frame", "time", *FRAME_COLUMNS])
    regions = pd.DataFrame([{"source": r["source"], "frame": k, "time": times[k], "hale_conforming": r["hale_conforming"],
                             "hale_class": r["hale_class"], **{c: r.get(c) for c in REGION_COLUMNS}}
                            for k in frames for r in results[k]["regions"]],
                           columns=["source", "frame", "time", "hale_conforming", "hale_class", *REGION_COLUMNS])
    match_cols = ["pred", "frame", "time", "status", "ref_label", "gen_label", "distance_deg", "hale_conforming", "hale_class",
                  *[f"ref_{p}" for p in MATCH_PARAMETERS], *[f"gen_{p}" for p in MATCH_PARAMETERS],
                  "fp_gen_leading_polarity", "fp_gen_nmf_mx"]
    matches = pd.DataFrame([{**r, "frame": k, "time": times[k]} for k in frames for r in results[k]["matches"]],
                           columns=match_cols)
    variability = pd.DataFrame([{"frame": k, "time": times[k], **r} for k in frames for r in results[k]["variability"]])

    atomic_write_text(out / "fulldisk.csv", fulldisk.to_csv(index=False))
    atomic_write_text(out / "regions.csv", regions.to_csv(index=False))
    atomic_write_text(out / "matches.csv", matches.to_csv(index=False))
    if len(preds) > 1:
        atomic_write_text(out / "variability.csv", variability.to_csv(index=False))
        with atomic_path(out / "pixel_std.zarr", is_dir=True) as tmp:
            tmp.rmdir()
            shutil.copytree(cache.folder / "pixel_std.zarr", tmp)
    summary = summarize(fulldisk, regions, matches, variability, list(preds))
    summary["params"] = params
    summary["inputs"] = {"truth": str(truth.path), "predictions": pred_paths, "frames": frames,
                         "truth_frames": [truth_index[k] for k in frames]}
    summary["hale_source"] = "generator truth (tables/frame_regions)" if truth_regions is not None else "Hale's law from the date"
    if args.n_boot > 0:
        summary["ci"], summary["bootstrap"] = bootstrap_summary(
            fulldisk, regions, matches, variability, list(preds), frames, [times[k] for k in frames],
            n_boot=args.n_boot, block_days=args.ci_block_days, level=args.ci_level)
    atomic_write_json(out / "summary.json", summary)
    cache.clear()

    mean = summary["mean_over_predictions"]
    print(f"audited {len(frames)} frames x {len(preds)} predictions")
    print(f"TUMF CC {mean['fulldisk']['tumf']['cc']:.3f}  NMF CC {mean['fulldisk']['nmf']['cc']:.3f}  "
          f"pixel CC {mean['fulldisk']['mean_cc']:.3f} (binned {mean['fulldisk']['mean_cc_binned']:.3f})  "
          f"polarity agreement {mean['fulldisk']['mean_polarity_agreement']:.3f}")
    print(f"regions: recall {mean['regions']['recall']:.3f}  precision {mean['regions']['precision']:.3f}  "
          f"median offset {mean['regions']['offset_median_deg']:.2f} deg")
    if "bootstrap" in summary:
        b, ci = summary["bootstrap"], summary["ci"]["mean_over_predictions"]["fulldisk"]
        print(f"{b['level']:.0%} intervals from {b['n_boot']} block-bootstrap replicates over {b['n_blocks']} blocks of "
              f"{b['block_days']:g} d: TUMF CC {ci['tumf']['cc'][0]:.3f} to {ci['tumf']['cc'][1]:.3f}, "
              f"NMF CC {ci['nmf']['cc'][0]:.3f} to {ci['nmf']['cc'][1]:.3f}")
    print(f"wrote {out}/summary.json, fulldisk.csv, regions.csv, matches.csv" + (", variability.csv" if len(preds) > 1 else ""))
    return 0


def truth_regions_empty():
    import pandas as pd

    return pd.DataFrame({"lat_deg": [], "stonyhurst_lon_deg": [], "hale_conforming": []})


def _std_array(path: Path, n: int, shape):
    """(n, H, W) float32 Zarr array of the per-pixel spread, created or re-opened to resume."""
    import zarr

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        arr = zarr.open_array(str(path), mode="r+")
        if arr.shape == (n, *shape):
            return arr
        shutil.rmtree(path)
    return zarr.create_array(str(path), shape=(n, *shape), chunks=(1, *shape), dtype="f4", fill_value=np.nan, zarr_format=2)
