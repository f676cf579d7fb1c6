"""Dataset, splits and leakage: what the synthetic dataset holds, how the split schemes divide it,
and how close test frames sit to training frames.

Reads the dataset store (``data/synth.zarr``: summary, ``tables/regions``,
``tables/frame_regions``), the splits through :func:`euv2mag.data.splits.load_split`, and the
leakage files through :func:`euv2mag.report.inputs.read_leakage`.  The only arithmetic describes
the dataset from the generator's own tables (numbers of injected and visible regions, their median
flux); it is not an audit result.
"""
from __future__ import annotations

import numpy as np

from .. import figures as F
from ..html import Page
from ..inputs import attempt, read_leakage, read_split
from ..layout import SCHEMES

__all__ = ["render"]

_LEAKAGE_KEYS = ("n_test", "n_train", "min_gap_days", "median_gap_days", "frac_same_face_within_1_rotation",
                 "frac_same_face_within_2_rotations")
_SPLIT_COMMAND = "euv2mag split DIR/data/synth.zarr --scheme kpl19 DIR/splits/kpl19.json"
_LEAKAGE_COMMAND = "euv2mag leakage DIR/data/synth.zarr --split DIR/splits/kpl19.json --out DIR/leakage/kpl19"


def _dataset_table(sec, ctx, store, split):
    lay = ctx.layout
    s = store.summary()
    params = s.get("params") or {}
    rows = [
        ["frames", s["frames"]],
        ["first frame (UTC)", s["time_range"][0] if s["time_range"] else "—"],
        ["last frame (UTC)", s["time_range"][1] if s["time_range"] else "—"],
        ["median cadence (h)", s.get("median_cadence_hours")],
        ["image size (px)", f"{s['size'][0]} x {s['size'][1]}"],
        ["solar radius (px)", s["rsun_px_range"][0] if s.get("rsun_px_range") else None],
        ["store kind", s["kind"]],
    ]
    if isinstance(params, dict):
        for key in ("seed", "polarity_leak", "anti_hale_fraction", "anti_hale_rate"):
            if key in params:
                rows.append([f"generator {key}", params[key]])
    activity = None
    tables = store.table_names()
    if "regions" in tables:
        regions = store.table("regions")
        rows.append(["injected regions", len(regions)])
        if "hale_conforming" in regions.columns and len(regions):
            hc = regions["hale_conforming"].astype(bool)
            rows.append(["Hale-conforming regions", int(hc.sum())])
            rows.append(["anti-Hale regions", int((~hc).sum())])
        if "total_flux_mx" in regions.columns and len(regions):
            rows.append(["median region flux (Mx)", float(np.median(regions["total_flux_mx"]))])
    if "frame_regions" in tables:
        fr = store.table("frame_regions")
        activity = np.bincount(fr["frame"].to_numpy(int), minlength=store.n_frames) if len(fr) else np.zeros(store.n_frames)
        rows.append(["mean visible regions per frame", float(activity.mean())])
    sec.table(["quantity", "value"], rows,
              "The synthetic dataset: time range, cadence, image size and activity (regions injected by the generator; "
              "'visible' means on the Earth-facing disk in a frame).",
              [f"{lay.rel(lay.store)} (attrs, time, tables/regions, tables/frame_regions)"], table_id="dataset-table")
    if activity is not None and len(activity) == store.n_frames:
        sets = {name: split.times(name) for name in ("train", "val", "test") if split is not None and split.times(name)}
        fig = F.fig_activity_timeline(store.times, activity, "visible regions per frame", sets or None)
        sec.figure(F.figure_png(fig),
                   "Activity through the dataset: number of injected active regions on the visible disk per frame (line), "
                   "and below it the frames of each set of the kpl19 split (ticks). Read the activity against the solar-cycle "
                   "phase of the dates, and the ticks for how close test frames sit to training frames in time.",
                   [f"{lay.rel(lay.store)} (tables/frame_regions)", lay.rel(lay.split("kpl19"))], "activity timeline")


def _leakage(sec, ctx) -> None:
    lay = ctx.layout
    read = {}
    for s in SCHEMES:
        pair, error = attempt(read_leakage, lay.leakage_dir(s))
        table, summary = pair or (None, None)
        if error:
            sec.invalid(error, _LEAKAGE_COMMAND.replace("kpl19", s))
        elif summary is not None:
            read[s] = (table, summary)
    if not read:
        sec.missing("the leakage study (leakage/kpl19/leakage.json, leakage/rotation/leakage.json)", _LEAKAGE_COMMAND)
        return
    present = list(read)
    extra = []
    for s in present:
        for k, v in read[s][1].items():
            if k not in _LEAKAGE_KEYS and k not in extra and isinstance(v, (int, float)) and not isinstance(v, bool):
                extra.append(k)
    rows = [[k] + [read[s][1].get(k) for s in present] for k in (*_LEAKAGE_KEYS, *extra)]
    sec.table(["quantity"] + present, rows,
              "Leakage between training and test frames, side by side for the two split schemes: time gaps from each "
              "test frame to the nearest training frame, and the share of test frames for which a training frame shows "
              "the same face of the Sun (Carrington longitude of disk centre within one day of rotation) within one or "
              "two rotations. Shares near 1 mean the model was trained on the same regions it is tested on.",
              [lay.rel(lay.leakage_dir(s) / "leakage.json") for s in present], table_id="leakage-table")
    tl = {s: (t["time"].astype(str).tolist(), t["gap_days"].to_numpy(float), t["same_face_gap_days"].to_numpy(float))
          for s, (t, _) in read.items() if t is not None}
    if tl:
        fig = F.fig_leakage_timeline(tl)
        sec.figure(F.figure_png(fig),
                   "Leakage timeline: for every test frame, the gap in days to the nearest training frame (blue) and to the "
                   "nearest training frame showing the same face of the Sun (red); the dashed line is one synodic rotation. "
                   "Points below the line mean the same active regions can have been seen in training.",
                   [lay.rel(lay.leakage_dir(s) / "leakage.csv") for s in tl], "leakage timeline")


def render(page: Page, ctx) -> None:
    """The ``dataset`` section: dataset table and activity timeline, split sizes, leakage table and timeline.

    Parameters
    ----------
    page : Page
        The report page.
    ctx : ReportContext
        Shared inputs.
    """
    lay = ctx.layout
    sec = page.section("dataset", "Dataset, splits and leakage")
    splits = {}
    for scheme in SCHEMES:
        split, error = attempt(read_split, lay.split(scheme))
        if error:
            sec.invalid(error, _SPLIT_COMMAND.replace("kpl19", scheme))
        elif split is not None:
            splits[scheme] = split
    store = ctx.store(lay.store)
    if store is None:
        sec.missing(f"the dataset store {lay.rel(lay.store)}",
                    f"euv2mag synth {lay.rel(lay.store)} --start 2011-01-01 --end 2014-12-31 --cadence 24h --size 128")
    else:
        _dataset_table(sec, ctx, store, splits.get("kpl19"))
    if splits:
        rows = [[scheme, sp.summary.get("n_train"), sp.summary.get("n_val"), sp.summary.get("n_test"),
                 sp.summary.get("min_gap_test_train_days")] for scheme, sp in splits.items()]
        sec.table(["scheme", "train frames", "validation frames", "test frames", "min test-train gap (days)"], rows,
                  "Split sizes and the smallest time gap between any test frame and any training frame. kpl19 makes September "
                  "and October of each year test; rotation assigns whole Carrington rotations with buffer rotations between "
                  "test and training. A gap shorter than one rotation (27.3 days) lets the same regions appear on both sides.",
                  [lay.rel(lay.split(s)) + " (summary)" for s in splits], table_id="splits-table")
    else:
        sec.missing("the split files splits/kpl19.json and splits/rotation.json", _SPLIT_COMMAND)
    _leakage(sec, ctx)
