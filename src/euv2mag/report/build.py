"""Build ``DIR/report.html`` from the files of a study folder (see :mod:`euv2mag.report.layout`).

Each section reads only its own files; a missing file makes the section say what is missing and
which command makes it.  Every number printed comes from a file of the study folder, named in
the caption ("Source: ..."); numbers computed here from those files (e.g. an 8x8-binned pixel
scatter drawn from the stores) say so.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .._io import atomic_write_text
from ..errors import UserError
from . import figures as F
from .html import Page, Section, fmt, fmt_ci
from .inputs import (
    audit_block,
    find_dicts,
    flatten,
    headline,
    read_csv,
    read_json,
    run_headlines,
)
from .layout import LEAK_EXPERIMENT, MAIN_EXPERIMENT, SCHEMES, StudyLayout
from .verdict import disagreement_notes, expectation_checks, verdict_paragraph

__all__ = ["build_report", "ReportContext"]

_FD_KEYS = ("tumf", "nmf")


class ReportContext:
    """Lazily opened inputs shared by the sections."""

    def __init__(self, root: Path):
        self.layout = StudyLayout(root)
        self._stores: dict[Path, object] = {}

    def rel(self, path) -> str:
        return self.layout.rel(Path(path))

    def store(self, path: Path):
        """A complete :class:`FrameStore` at ``path`` or None."""
        from ..data.store import FrameStore

        path = Path(path)
        if path not in self._stores:
            try:
                self._stores[path] = FrameStore(path) if path.exists() else None
            except UserError:
                self._stores[path] = None
        return self._stores[path]

    def _config_value(self, experiment: str, keys: tuple[str, ...], kinds: tuple[type, ...]):
        """First value under one of ``keys`` in the config.toml of an experiment's runs, else None."""
        import tomllib

        for seed in self.layout.seeds(experiment):
            cfg = self.layout.seed_dir(experiment, seed) / "config.toml"
            if cfg.is_file():
                try:
                    data = tomllib.loads(cfg.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
                for path, value in flatten(data).items():
                    if path and path[-1] in keys and isinstance(value, kinds) and not isinstance(value, bool):
                        return value
        return None

    def mag_limit_g(self, experiment: str) -> float | None:
        """The magnetogram saturation limit (G) a run trained with, from its config.toml."""
        value = self._config_value(experiment, ("limit_g", "mag_limit_g", "saturation_g"), (int, float))
        return None if value is None else float(value)

    def iterations(self, experiment: str) -> int | None:
        """Training iterations of an experiment's first run (config.toml ``iters``)."""
        value = self._config_value(experiment, ("iters", "iterations", "n_iters"), (int,))
        return None if value is None else int(value)


# ---------------------------------------------------------------------------- helpers
def _pred_to_truth_index(truth, pred) -> dict[int, int]:
    """Map prediction-store frame index -> truth-store frame index, by time."""
    where = {str(t): i for i, t in enumerate(truth.times)}
    out = {}
    for j, t in enumerate(pred.times):
        if str(t) in where:
            out[j] = where[str(t)]
    return out


def _pick_frame(truth, pred, mapping: dict[int, int]) -> int | None:
    """Prediction frame whose reference has the largest disk-integrated |B| (most activity)."""
    best, best_j = -1.0, None
    for j, i in mapping.items():
        ref = truth.read("mag", i)
        value = float(np.nansum(np.abs(ref)))
        if value > best:
            best, best_j = value, j
    return best_j


def _numeric(series) -> bool:
    """True for a numeric, non-boolean pandas column."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    return is_numeric_dtype(series.dtype) and not is_bool_dtype(series.dtype)


def _col(df, *names):
    for n in names:
        if df is not None and n in df.columns:
            return n
    return None


# ---------------------------------------------------------------------------- sections
def _section_dataset(page: Page, ctx: ReportContext) -> None:
    lay = ctx.layout
    sec = page.section("dataset", "Dataset, splits and leakage")
    store = ctx.store(lay.store)
    if store is None:
        sec.missing(f"the dataset store {lay.rel(lay.store)}",
                    f"euv2mag synth {lay.rel(lay.store)} --start 2011-01-01 --end 2014-12-31 --cadence 24h --size 128")
    else:
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
                    rows.append([f"generator {key}", params[key] if not isinstance(params[key], str) else params[key]])
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
            counts = np.bincount(fr["frame"].to_numpy(int), minlength=store.n_frames) if len(fr) else np.zeros(store.n_frames)
            activity = counts
            rows.append(["mean visible regions per frame", float(counts.mean())])
        sec.table(["quantity", "value"], rows,
                  "The synthetic dataset: time range, cadence, image size and activity (regions injected by the generator; "
                  "'visible' means on the Earth-facing disk in a frame).",
                  [f"{lay.rel(lay.store)} (attrs, time, tables/regions, tables/frame_regions)"], table_id="dataset-table")
        sets = {}
        split = read_json(lay.split("kpl19"))
        if isinstance(split, dict) and isinstance(split.get("sets"), dict):
            for name in ("train", "val", "test"):
                times = (split["sets"].get(name) or {}).get("times") or []
                if times:
                    sets[name] = times
        if activity is not None and len(activity) == store.n_frames:
            fig = F.fig_activity_timeline(store.times, activity, "visible regions per frame", sets or None)
            sec.figure(F.figure_png(fig),
                       "Activity through the dataset: number of injected active regions on the visible disk per frame (line), "
                       "and below it the frames of each set of the kpl19 split (ticks). Read the activity against the solar-cycle "
                       "phase of the dates, and the ticks for how close test frames sit to training frames in time.",
                       [f"{lay.rel(lay.store)} (tables/frame_regions)", lay.rel(lay.split("kpl19"))], "activity timeline")
    # splits
    rows = []
    for scheme in SCHEMES:
        split = read_json(lay.split(scheme))
        if not isinstance(split, dict):
            continue
        summ = split.get("summary") or {}
        rows.append([scheme, summ.get("n_train"), summ.get("n_val"), summ.get("n_test"), summ.get("min_gap_test_train_days")])
    if rows:
        sec.table(["scheme", "train frames", "validation frames", "test frames", "min test-train gap (days)"], rows,
                  "Split sizes and the smallest time gap between any test frame and any training frame. kpl19 makes September "
                  "and October of each year test; rotation assigns whole Carrington rotations with buffer rotations between "
                  "test and training. A gap shorter than one rotation (27.3 days) lets the same regions appear on both sides.",
                  [lay.rel(lay.split(s)) + " (summary)" for s in SCHEMES if lay.split(s).is_file()], table_id="splits-table")
    else:
        sec.missing("the split files splits/kpl19.json and splits/rotation.json",
                    "euv2mag split DIR/data/synth.zarr --scheme kpl19 DIR/splits/kpl19.json")
    # leakage
    keys = ("n_test", "n_train", "min_gap_days", "median_gap_days", "frac_same_face_within_1_rotation",
            "frac_same_face_within_2_rotations")
    leak_json = {s: read_json(lay.leakage_dir(s) / "leakage.json") for s in SCHEMES}
    present = [s for s in SCHEMES if isinstance(leak_json[s], dict)]
    if present:
        extra = []
        for s in present:
            for k, v in leak_json[s].items():
                if k not in keys and k not in extra and isinstance(v, (int, float)) and not isinstance(v, bool):
                    extra.append(k)
        rows = [[k] + [leak_json[s].get(k) for s in present] for k in (*keys, *extra)]
        sec.table(["quantity"] + present, rows,
                  "Leakage between training and test frames, side by side for the two split schemes: time gaps from each "
                  "test frame to the nearest training frame, and the share of test frames for which a training frame shows "
                  "the same face of the Sun (Carrington longitude of disk centre within one day of rotation) within one or "
                  "two rotations. Shares near 1 mean the model was trained on the same regions it is tested on.",
                  [lay.rel(lay.leakage_dir(s) / "leakage.json") for s in present], table_id="leakage-table")
        tl = {}
        for s in present:
            df = read_csv(lay.leakage_dir(s) / "leakage.csv")
            tcol = _col(df, "time", "test_time")
            gcol = _col(df, "gap_days", "nearest_train_gap_days", "min_gap_days", "gap_to_train_days")
            fcol = _col(df, "same_face_gap_days", "gap_same_face_days", "nearest_same_face_gap_days")
            if df is not None and tcol and gcol:
                tl[s] = (df[tcol].astype(str).tolist(), df[gcol].to_numpy(float), df[fcol].to_numpy(float) if fcol else None)
        if tl:
            fig = F.fig_leakage_timeline(tl)
            sec.figure(F.figure_png(fig),
                       "Leakage timeline: for every test frame, the gap in days to the nearest training frame (blue) and to the "
                       "nearest training frame showing the same face of the Sun (red); the dashed line is one synodic rotation. "
                       "Points below the line mean the same active regions can have been seen in training.",
                       [lay.rel(lay.leakage_dir(s) / "leakage.csv") for s in tl], "leakage timeline")
    else:
        sec.missing("the leakage study (leakage/kpl19/leakage.json, leakage/rotation/leakage.json)",
                    "euv2mag leakage DIR/data/synth.zarr --split DIR/splits/kpl19.json --out DIR/leakage/kpl19")


def _section_saturation(page: Page, ctx: ReportContext) -> None:
    lay = ctx.layout
    sec = page.section("saturation", "Saturation study")
    csv_path = lay.saturation_dir / "saturation.csv"
    json_path = lay.saturation_dir / "saturation.json"
    table = read_csv(csv_path)
    summary = read_json(json_path)
    if table is None or not {"limit_g", "tumf_orig_mx", "tumf_clip_mx", "nmf_orig_mx", "nmf_clip_mx"} <= set(table.columns):
        sec.missing(f"{lay.rel(csv_path)}", "euv2mag saturation DIR/data/synth.zarr --limits 100 625 3000 --out DIR/saturation")
        return
    per_limit = {}
    for entry in find_dicts(summary, "limit_g") if summary is not None else []:
        if isinstance(entry.get("tumf"), dict):
            per_limit[float(entry["limit_g"])] = entry
    annotations = {}
    rows = []
    for limit in sorted(per_limit):
        e = per_limit[limit]
        t, n = e.get("tumf", {}), e.get("nmf", {})
        annotations[("tumf", limit)] = f"slope {fmt(t.get('slope'))}\nR² {fmt(t.get('r2'))}"
        annotations[("nmf", limit)] = f"slope {fmt(n.get('slope'))}\nR² {fmt(n.get('r2'))}\nsign flips {fmt(e.get('sign_flip_fraction'))}"
        rows.append([f"±{limit:g} G", e.get("n_maps"), t.get("slope"), t.get("r2"), n.get("slope"), n.get("r2"),
                     e.get("sign_flip_fraction")])
    fig = F.fig_saturation_scatter(table, annotations)
    sec.figure(F.figure_png(fig),
               "Clipped against original full-disk flux, one column per saturation limit: TUMF (top) and NMF (bottom) of each "
               "magnetogram after clipping to ±L G versus before. Points on the dashed line keep all their flux; the slope of "
               "a fit through the origin is the share kept, R² says how well the clipped value predicts the original, and "
               "'sign flips' is the share of maps whose NMF changes sign.",
               [lay.rel(csv_path)] + ([lay.rel(json_path)] if summary is not None else []), "saturation scatter")
    if rows:
        sec.table(["limit", "maps", "TUMF slope", "TUMF R²", "NMF slope", "NMF R²", "NMF sign-flip share"], rows,
                  "Saturation statistics per limit (definitions in the saturation module's documentation). KPL19 trained on "
                  "±100 G; Liu et al. 2021 report slopes 0.45 (TUMF) and 0.67 (NMF) with R² −0.07 and 0.77 and 19.4 % sign "
                  "flips on real HMI test maps.", [lay.rel(json_path)], table_id="saturation-table")
    else:
        sec.missing(f"{lay.rel(json_path)} (per-limit slopes and R²)", "euv2mag saturation ... --out DIR/saturation")
    # region AMF distribution
    amf, amf_src = None, None
    for name in ("regions_amf.csv", "regions.csv"):
        df = read_csv(lay.saturation_dir / name)
        if df is not None and "amf_g" in df.columns:
            amf, amf_src = df["amf_g"].to_numpy(float), lay.rel(lay.saturation_dir / name)
            break
    if amf is None:
        df = read_csv(lay.audit_dir(MAIN_EXPERIMENT) / "regions.csv")
        if df is not None and "amf_g" in df.columns:
            src_col = _col(df, "source", "map_kind", "kind")
            if src_col:
                df = df[df[src_col].astype(str).str.contains("ref|truth", case=False, regex=True)]
            amf, amf_src = df["amf_g"].to_numpy(float), lay.rel(lay.audit_dir(MAIN_EXPERIMENT) / "regions.csv") + " (reference regions)"
    amf_stats = None
    for entry in find_dicts(summary, "share_below") if summary is not None else []:
        amf_stats = entry
        break
    limits = sorted(float(v) for v in table["limit_g"].unique())
    if amf is not None and np.isfinite(amf).any():
        fig = F.fig_amf_histogram(amf, limits)
        sec.figure(F.figure_png(fig),
                   "Mean absolute field (AMF) of the detected active regions, with the saturation limits as dashed lines. "
                   "A limit left of most of the histogram saturates the typical active region (on the real Sun, "
                   "AMF = 208 ± 54 G over 3936 regions).", [amf_src], "region AMF histogram")
    if amf_stats is not None:
        rows = [[k, v] for k, v in amf_stats.items() if not isinstance(v, (dict, list))]
        rows += [[f"share of regions with AMF < {k} G", v] for k, v in (amf_stats.get("share_below") or {}).items()]
        sec.table(["quantity", "value"], rows, "Distribution of region AMF (G): count, mean, standard deviation and the share "
                  "of regions below each limit.", [lay.rel(json_path)], table_id="amf-table")
    elif amf is None:
        sec.missing("region AMF values", "euv2mag saturation ... (regions detected on the original maps)")


def _section_examples(page: Page, ctx: ReportContext) -> None:
    lay = ctx.layout
    sec = page.section("examples", "Generated magnetograms (the paper's Fig. 1 analogue)")
    truth = ctx.store(lay.store)
    preds = lay.predictions(MAIN_EXPERIMENT)
    if truth is None or len(preds) == 0:
        sec.missing("the dataset store and prediction stores pred/kpl19-seed-K.zarr",
                    "euv2mag predict DIR/runs/kpl19/seed-0 DIR/data/synth.zarr --indices test --split DIR/splits/kpl19.json --out DIR/pred/kpl19-seed-0.zarr")
        return
    stores = [(seed, ctx.store(p)) for seed, p in preds.items()]
    stores = [(s, st) for s, st in stores if st is not None and st.has("pred")]
    if not stores:
        sec.missing("a complete prediction store", "euv2mag predict ...")
        return
    mapping = _pred_to_truth_index(truth, stores[0][1])
    j = _pick_frame(truth, stores[0][1], mapping)
    if j is None:
        sec.text("The prediction store's frame times do not match any frame of the dataset store.")
        return
    i = mapping[j]
    limit = ctx.mag_limit_g(MAIN_EXPERIMENT) or 100.0
    panels = []
    if truth.has("euv"):
        panels.append(("EUV input (304-like)", truth.read("euv", i), "euv"))
    panels.append(("reference magnetogram", truth.read("mag", i), "mag"))
    t = str(truth.times[i])
    for seed, st in stores[:2]:
        m = _pred_to_truth_index(truth, st)
        jj = next((a for a, b in m.items() if b == i), None)
        if jj is not None:
            panels.append((f"generated, seed {seed}", st.read("pred", jj), "mag"))
    fig = F.fig_maps_row(panels, limit)
    sec.figure(F.figure_png(fig),
               f"One test frame ({t}, the test frame with the most magnetic flux): the EUV input (sdoaia304 colours, log scale), "
               f"the reference magnetogram and the magnetograms generated by two training runs that differ only in their seed "
               f"(hmimag colours, one scale ±{limit:g} G for all three, the training saturation limit; the colour bar gives "
               f"the sign). Compare the polarity of each region between the panels: the EUV image shows where the field "
               f"is strong, not its sign.",
               [f"{lay.rel(lay.store)} (frame {i})"] + [lay.rel(preds[s]) for s, _ in stores[:2]], "EUV, reference, run 1, run 2")


def _section_training(page: Page, ctx: ReportContext) -> None:
    lay = ctx.layout
    sec = page.section("training", "Training")
    experiments = [e for e in lay.experiments() if lay.seeds(e)]
    if not experiments:
        sec.missing("training runs runs/<experiment>/seed-K/metrics.csv",
                    "euv2mag train DIR/data/synth.zarr --split DIR/splits/kpl19.json --out DIR/runs/kpl19 --seeds 0 1 2")
        return
    curves: dict[str, dict] = {}
    sources = []
    best_rows = []
    for exp in experiments:
        for seed in lay.seeds(exp):
            d = lay.seed_dir(exp, seed)
            df = read_csv(d / "metrics.csv")
            if df is not None:
                sources.append(lay.rel(d / "metrics.csv"))
                icol = _col(df, "iteration", "iter", "step")
                if icol:
                    for c in df.columns:
                        if c == icol or not _numeric(df[c]):
                            continue
                        if c in ("epoch", "time_s", "seconds", "wall_s", "lr", "seed"):
                            continue
                        sub = df[[icol, c]].dropna()
                        if len(sub) and np.nanmax(np.abs(sub[c].to_numpy(float))) > 0:
                            curves.setdefault(c, {})[f"{exp} seed {seed}"] = (sub[icol].to_numpy(), sub[c].to_numpy(float))
            best = read_json(d / "best.json")
            if isinstance(best, dict):
                sources.append(lay.rel(d / "best.json"))
                best_rows.append([f"{exp} seed {seed}", str(best.get("metric", "—")), best.get("iteration"), best.get("value")])
    if curves:
        # keep the panels readable: losses first, then validation metrics
        order = sorted(curves, key=lambda c: (not c.lower().startswith(("loss", "train", "g_", "d_")), c))
        fig = F.fig_training_curves({c: curves[c] for c in order[:9]})
        sec.figure(F.figure_png(fig),
                   "Training curves per run: losses of the generator and discriminator, and the validation metrics in physical "
                   "units (L1 in G, pixel CC, relative TUMF and NMF errors) at each validation step. Runs that differ only in the "
                   "seed should follow each other; the control (leak) run trains on the dataset with a polarity leak.",
                   sources[:12], "training curves")
    if best_rows:
        sec.table(["run", "selection metric", "best iteration", "best value"], best_rows,
                  "The checkpoint kept for each run (best.ckpt), chosen by the validation metric shown.",
                  [s for s in sources if s.endswith("best.json")], table_id="best-table")


def _fulldisk_series(df):
    pcol = _col(df, "pred", "source", "run", "seed")
    return pcol


def _section_fulldisk(page: Page, ctx: ReportContext, heads: dict) -> None:
    lay = ctx.layout
    sec = page.section("fulldisk", "Full-disk comparison")
    path = lay.audit_dir(MAIN_EXPERIMENT) / "fulldisk.csv"
    df = read_csv(path)
    if df is None or not {"tumf_ref_mx", "tumf_gen_mx", "nmf_ref_mx", "nmf_gen_mx"} <= set(df.columns):
        sec.missing(f"{lay.rel(path)}", "euv2mag audit --truth DIR/data/synth.zarr --pred DIR/pred/kpl19-seed-0.zarr ... --out DIR/audit/kpl19")
        return
    h = heads.get(MAIN_EXPERIMENT)
    spath = lay.rel(lay.audit_dir(MAIN_EXPERIMENT) / "summary.json")
    pcol = _fulldisk_series(df)
    groups = {str(k): g for k, g in df.groupby(pcol)} if pcol else {"": df}
    panels = []
    for qty in _FD_KEYS:
        series = {Path(k).name.replace(".zarr", ""): (g[f"{qty}_ref_mx"], g[f"{qty}_gen_mx"]) for k, g in groups.items()}
        text = None
        if h is not None:
            cc, r2, slope = (h.tumf_cc, h.tumf_r2, h.tumf_slope) if qty == "tumf" else (h.nmf_cc, h.nmf_r2, h.nmf_slope)
            text = f"CC {fmt(cc)}\nR² {fmt(r2)}\nslope {fmt(slope)}"
        panels.append({"series": series, "title": f"full-disk {qty.upper()}", "xlabel": f"reference {qty.upper()} (Mx)",
                       "ylabel": f"generated {qty.upper()} (Mx)", "text": text})
    # binned pixel scatter drawn from the stores
    truth = ctx.store(lay.store)
    preds = lay.predictions(MAIN_EXPERIMENT)
    binned_src = []
    if truth is not None and preds:
        from skimage.measure import block_reduce

        seed, p = next(iter(preds.items()))
        st = ctx.store(p)
        if st is not None and st.has("pred"):
            xs, ys = [], []
            mapping = _pred_to_truth_index(truth, st)
            k = 8 if truth.size >= 256 else 4
            for j, i in list(mapping.items())[:200]:
                geo = truth.geometry(i)
                ref = truth.read("mag", i)
                gen = st.read("pred", j)
                disk = geo.rho < 0.95
                ref = np.where(disk, ref, np.nan)
                gen = np.where(disk, gen, np.nan)
                import warnings

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    rb = block_reduce(ref, (k, k), np.nanmean)
                    gb = block_reduce(gen, (k, k), np.nanmean)
                ok = np.isfinite(rb) & np.isfinite(gb)
                xs.append(rb[ok])
                ys.append(gb[ok])
            if xs:
                text = None
                if h is not None:
                    text = f"mean binned CC {fmt(h.pixel_cc_binned)}\nmean pixel CC {fmt(h.pixel_cc)}"
                panels.append({"x": np.concatenate(xs), "y": np.concatenate(ys), "density": True,
                               "title": f"{k}x{k}-binned pixels, seed {seed}", "xlabel": "reference B (G)",
                               "ylabel": "generated B (G)", "text": text})
                binned_src = [lay.rel(lay.store), lay.rel(p)]
    fig = F.fig_scatter_panels(panels)
    sec.figure(F.figure_png(fig),
               "Generated against reference, over the test frames: full-disk total unsigned flux (TUMF), net flux (NMF), one "
               "colour per run, and block-averaged pixel values (density, log colour). Points on the dashed line are reproduced "
               "exactly. TUMF depends only on |B|, which the EUV image traces; NMF and pixel values depend on the sign.",
               [lay.rel(path), spath] + binned_src, "full-disk scatter plots")
    if h is not None:
        def cell(attr):
            return fmt_ci(getattr(h, attr), h.ci.get(attr))

        rows = [["TUMF across frames", cell("tumf_cc"), cell("tumf_r2"), cell("tumf_slope")],
                ["NMF across frames", cell("nmf_cc"), cell("nmf_r2"), cell("nmf_slope")],
                ["pixel values (mean over frames)", cell("pixel_cc"), None, None],
                ["binned pixel values (mean over frames)", cell("pixel_cc_binned"), None, None],
                ["strong-field polarity agreement (mean)", cell("polarity_agreement"), None, None]]
        sec.table(["quantity", "CC / agreement", "R²", "slope"], rows,
                  "Full-disk headline numbers: correlation, R² (generated as a prediction of the reference) and slope of a fit "
                  "through the origin across test frames; per-frame pixel CCs averaged over frames; polarity agreement on pixels "
                  "where both maps exceed 50 G (0.5 = chance). " + _ci_caption(h.bootstrap), [spath], table_id="fulldisk-table")


def _ci_caption(bootstrap: dict | None) -> str:
    """The sentence that says where the bracketed intervals of a table come from (an audit's ``bootstrap`` record)."""
    if not bootstrap:
        return "No confidence intervals: the audit was run without a bootstrap (--n-boot 0) or by an older version."
    b = bootstrap
    return (f"Brackets: {float(b.get('level', 0.95)):.0%} confidence intervals from {b.get('n_boot')} block-bootstrap replicates "
            f"over the test frames in {b.get('n_blocks')} time blocks of {fmt(b.get('block_days'))} days (frames of one block, "
            "and the regions on them, are resampled together because consecutive frames show the same regions).")


def _section_regions(page: Page, ctx: ReportContext, heads: dict) -> None:
    lay = ctx.layout
    sec = page.section("regions", "Active regions")
    adir = lay.audit_dir(MAIN_EXPERIMENT)
    truth = ctx.store(lay.store)
    preds = lay.predictions(MAIN_EXPERIMENT)
    # overlay
    try:
        from ..audit.detection import detect_regions
    except ImportError:
        detect_regions = None
    if truth is not None and preds and detect_regions is not None:
        seed, p = next(iter(preds.items()))
        st = ctx.store(p)
        if st is not None and st.has("pred"):
            mapping = _pred_to_truth_index(truth, st)
            j = _pick_frame(truth, st, mapping)
            if j is not None:
                i = mapping[j]
                geo = truth.geometry(i)
                ref = truth.read("mag", i)
                gen = st.read("pred", j)
                lab_r = detect_regions(ref, geo)
                lab_g = detect_regions(gen, geo)
                limit = ctx.mag_limit_g(MAIN_EXPERIMENT) or 100.0
                fig = F.fig_region_overlay(ref, gen, lab_r, lab_g, limit, ("reference", f"generated, seed {seed}"))
                sec.figure(F.figure_png(fig),
                           f"Detected active regions on one test frame ({truth.times[i]}): reference regions outlined in yellow "
                           f"(solid), regions detected on the generated map in cyan (dashed), drawn on both maps (±{limit:g} G). "
                           "A yellow outline without a cyan one is a missed region; cyan alone is an extra one.",
                           [f"{lay.rel(lay.store)} (frame {i})", lay.rel(p)], "region overlay")
    h = heads.get(MAIN_EXPERIMENT)
    spath = lay.rel(adir / "summary.json")
    if h is None:
        sec.missing(f"{lay.rel(adir / 'summary.json')}", "euv2mag audit --truth DIR/data/synth.zarr --pred ... --out DIR/audit/kpl19")
        return
    rows = [["reference regions", h.n_ref_regions], ["regions on a generated map (mean per run)", h.n_gen_regions],
            ["matched pairs", h.n_matched], ["recall", h.recall],
            ["precision", h.precision], ["mean centre offset (deg)", h.center_offset_deg]]
    sec.table(["quantity", "value"], rows,
              "Region detection and matching over the test frames: recall = matched / reference regions, precision = matched / "
              "generated regions, centre offset = heliographic distance between matched centres.", [spath], table_id="regions-table")
    matches = read_csv(adir / "matches.csv")
    if matches is not None:
        panels = []
        for param, label in (("area_mm2", "area (Mm²)"), ("tumf_mx", "TUMF (Mx)"), ("nmf_mx", "NMF (Mx)"),
                             ("amf_g", "mean |B| (G)"), ("pil_length_mm", "PIL length (Mm)"), ("r_value", "R value (Mx)"),
                             ("pil_count", "number of PILs"), ("pil_mean_gradient_g_per_mm", "PIL gradient (G/Mm)")):
            rc = _col(matches, f"{param}_ref", f"ref_{param}")
            gc = _col(matches, f"{param}_gen", f"gen_{param}")
            if rc and gc:
                panels.append({"x": matches[rc], "y": matches[gc], "title": label, "xlabel": "reference", "ylabel": "generated",
                               "text": f"CC {fmt(h.param_cc.get(param))}"})
        if panels:
            fig = F.fig_scatter_panels(panels)
            sec.figure(F.figure_png(fig),
                       "Parameters of matched region pairs, generated against reference (CC from the audit summary). Area, TUMF "
                       "and mean |B| need only |B|; NMF, the polarity inversion lines (PIL) and Schrijver's R need the sign and "
                       "its spatial arrangement.", [lay.rel(adir / "matches.csv"), spath], "region parameter scatter")
    if h.param_cc:
        sec.table(["parameter", "CC (matched pairs)"], [[k, v] for k, v in h.param_cc.items()],
                  "Correlation of each region parameter between matched reference and generated regions.", [spath],
                  table_id="param-table")


def _section_variability(page: Page, ctx: ReportContext, runs: dict) -> None:
    lay = ctx.layout
    sec = page.section("variability", "Run-to-run variability")
    adir = lay.audit_dir(MAIN_EXPERIMENT)
    var = read_csv(adir / "variability.csv")
    truth = ctx.store(lay.store)
    preds = lay.predictions(MAIN_EXPERIMENT)
    stores = [(s, ctx.store(p), p) for s, p in preds.items()]
    stores = [(s, st, p) for s, st, p in stores if st is not None and st.has("pred")]
    if len(stores) >= 2 and truth is not None:
        mapping = _pred_to_truth_index(truth, stores[0][1])
        j = _pick_frame(truth, stores[0][1], mapping)
        if j is not None:
            t = stores[0][1].times[j]
            maps = []
            for _, st, _ in stores:
                jj = next((a for a, tt in enumerate(st.times) if tt == t), None)
                if jj is not None:
                    maps.append(st.read("pred", jj))
            if len(maps) >= 2:
                stack = np.stack(maps)
                fig = F.fig_std_map(np.std(stack, axis=0), np.mean(np.abs(stack), axis=0))
                sec.figure(F.figure_png(fig),
                           f"Per-pixel standard deviation across the {len(maps)} runs (seeds) for one test frame ({t}), next to "
                           "their mean |B| on the same scale. Where the std is comparable to |B| the runs disagree, typically on "
                           "the polarity of a region.", [lay.rel(p) for _, _, p in stores], "per-pixel std map")
    _per_run_table(sec, runs, lay.rel(adir / "summary.json"))
    if var is not None and len(var):
        keys = [c for c in ("run_a", "run_b") if c in var.columns]
        num = [c for c in var.columns if c not in keys and c not in ("frame", "index")
               and _numeric(var[c])]
        agg = var.groupby(keys)[num].mean().reset_index() if keys else var[num].mean().to_frame().T
        header = list(agg.columns)
        rows = [[(v if not isinstance(v, str) else Path(v).name) for v in row] for row in agg.itertuples(index=False)]
        sec.table(header, rows, "Pairwise comparison of the runs (averaged over test frames where the file has one row per "
                  "frame): pixel CC between two runs, the share of strong-field pixels whose polarity differs, and the overlap "
                  "of their detected regions.", [lay.rel(adir / "variability.csv")], table_id="variability-table")
    elif len(stores) < 2:
        sec.missing("two or more prediction stores of the same frames", "euv2mag train ... --seeds 0 1 2; euv2mag predict ...")
    else:
        sec.missing(f"{lay.rel(adir / 'variability.csv')}", "euv2mag audit --truth ... --pred P0.zarr --pred P1.zarr ... --out DIR/audit/kpl19")


#: Per-run headline numbers of the variability section: (column label, Headline -> (value, interval)).
_PER_RUN = (
    ("TUMF CC", lambda h: (h.tumf_cc, h.ci.get("tumf_cc"))),
    ("TUMF slope", lambda h: (h.tumf_slope, h.ci.get("tumf_slope"))),
    ("NMF CC", lambda h: (h.nmf_cc, h.ci.get("nmf_cc"))),
    ("pixel CC (mean)", lambda h: (h.pixel_cc, h.ci.get("pixel_cc"))),
    ("strong-field polarity agreement", lambda h: (h.polarity_agreement, h.ci.get("polarity_agreement"))),
    ("polarity in Hale-conforming footprints", lambda h: (h.hale.footprint_polarity_agreement, h.hale.footprint_ci)),
    ("hemispheric contrast (Hale footprints)", lambda h: (h.hale.hemisphere_contrast, h.hale.hemisphere_ci)),
)


def _per_run_table(sec: Section, runs: dict, source: str) -> None:
    """One row per run (seed) with its headline numbers and their bootstrap intervals."""
    if not runs:
        return
    rows = [[Path(name).name] + [fmt_ci(*get(h)) for _, get in _PER_RUN] for name, h in runs.items()]
    boot = next(iter(runs.values())).bootstrap or None
    caption = ("Headline numbers of each run on the same test frames. Runs differ only in their seed; where the intervals of "
               "two runs do not overlap, the difference is larger than the choice of test frames can explain and comes from "
               "training alone. " + _ci_caption(boot))
    sec.table(["run"] + [label for label, _ in _PER_RUN], rows, caption, [source], table_id="per-run-table")


def _hale_rows(summary: dict):
    """Header and rows of the Hale's-law breakdown table (``pooled_over_predictions.hale``, else
    ``mean_over_predictions.hale``)."""
    pooled = summary.get("pooled_over_predictions") if isinstance(summary, dict) else None
    block = pooled if isinstance(pooled, dict) and isinstance(pooled.get("hale"), dict) else audit_block(summary)
    hale = block.get("hale") if isinstance(block, dict) else None
    if not isinstance(hale, dict):
        return None, None
    groups = {k: v for k, v in hale.items() if isinstance(v, dict)}
    metrics = []
    for v in groups.values():
        for m, x in v.items():
            if m not in metrics and not isinstance(x, (dict, list)):
                metrics.append(m)
    rows = [[g] + [v.get(m) for m in metrics] for g, v in groups.items()]
    return ["group"] + metrics, rows


def _section_control(page: Page, ctx: ReportContext, heads: dict, runs: dict) -> None:
    lay = ctx.layout
    sec = page.section("control", "Information-ceiling control and verdict")
    main, leak = heads.get(MAIN_EXPERIMENT), heads.get(LEAK_EXPERIMENT)
    n_seeds = len(lay.predictions(MAIN_EXPERIMENT)) or len(lay.seeds(MAIN_EXPERIMENT)) or None
    sec.raw('<div class="verdict" id="verdict"><b>Verdict.</b> ')
    sec.text(verdict_paragraph(main, leak, n_seeds, runs))
    sec.raw("</div>")
    if main is None:
        sec.missing(f"{lay.rel(lay.audit_dir(MAIN_EXPERIMENT) / 'summary.json')}", "euv2mag audit ... --out DIR/audit/kpl19")
    if leak is None:
        sec.missing(f"{lay.rel(lay.audit_dir(LEAK_EXPERIMENT) / 'summary.json')} (the polarity-leak control)",
                    "euv2mag synth ... --polarity-leak 0.5; euv2mag train ...; euv2mag audit ... --out DIR/audit/leak")
    if main is not None:
        cols = [("full-disk TUMF CC", "tumf_cc"), ("full-disk NMF CC", "nmf_cc"), ("pixel CC (mean)", "pixel_cc"),
                ("binned pixel CC (mean)", "pixel_cc_binned"), ("strong-field polarity agreement", "polarity_agreement"),
                ("region recall", "recall"), ("mean centre offset (deg)", "center_offset_deg")]
        rows = [[label, fmt_ci(getattr(main, a), main.ci.get(a)), fmt_ci(getattr(leak, a), leak.ci.get(a)) if leak else None]
                for label, a in cols]
        ci_of = {"polarity_agreement": "polarity_ci", "footprint_polarity_agreement": "footprint_ci",
                 "hemisphere_contrast": "hemisphere_ci"}

        def group_cell(head, g, m):
            group = getattr(head, g)
            return fmt_ci(getattr(group, m), getattr(group, ci_of[m]) if m in ci_of else None)

        for g, label in (("hale", "Hale-conforming"), ("anti_hale", "anti-Hale")):
            for m in ("polarity_agreement", "nmf_sign_agreement", "recall", "footprint_polarity_agreement", "hemisphere_contrast"):
                rows.append([f"{label} regions: {m.replace('_', ' ')}", group_cell(main, g, m),
                             group_cell(leak, g, m) if leak else None])
        params = list(dict.fromkeys(list(main.param_cc) + (list(leak.param_cc) if leak else [])))
        for p in params:
            rows.append([f"region {p} CC", main.param_cc.get(p), leak.param_cc.get(p) if leak else None])
        sec.table(["quantity", "no leak (EUV carries no polarity)", "polarity leak (control)"], rows,
                  "The same audit numbers for the runs trained without and with polarity information in the EUV input. "
                  "Quantities that need the sign of B should improve with the leak; sign-free ones (TUMF, areas) need not. "
                  + _ci_caption(main.bootstrap),
                  [main.source] + ([leak.source] if leak else []), table_id="control-table")
    for exp, label in ((MAIN_EXPERIMENT, "no leak"), (LEAK_EXPERIMENT, "polarity leak")):
        spath = lay.audit_dir(exp) / "summary.json"
        header, rows = _hale_rows(read_json(spath))
        if header:
            sec.table(header, rows,
                      f"Hale's-law breakdown ({label}): reference regions split by whether their leading polarity obeys Hale's "
                      "law for their hemisphere and cycle (generator truth). A model that learned only the Hale prior from EUV "
                      "morphology agrees on Hale-conforming regions and fails on anti-Hale ones. Counts are region observations "
                      "(the same region on several test frames counts on each), of all runs together when there are several.",
                      [lay.rel(spath)], table_id=f"hale-table-{exp}")
    checks = expectation_checks(main, leak, runs)
    if checks:
        rows = [[c.expectation, c.observed, "—" if c.holds is None else ("holds" if c.holds else "does not hold")] for c in checks]
        sec.table(["physical expectation", "observed", "result"], rows,
                  "What physics predicts for a model whose input carries |B| but not its sign, tested on the numbers above.",
                  sorted({s for c in checks for s in c.sources}), table_id="checks-table")
        notes = disagreement_notes(main, leak, checks, ctx.iterations(MAIN_EXPERIMENT))
        for note in notes:
            sec.text(note)


def _section_runinfo(page: Page, ctx: ReportContext) -> None:
    lay = ctx.layout
    stages = read_json(lay.stages)
    if not isinstance(stages, dict) or not isinstance(stages.get("stages"), dict):
        return
    sec = page.section("provenance", "How this study was run")
    rows = [[name, s.get("status", "—"), s.get("seconds")] for name, s in stages["stages"].items() if isinstance(s, dict)]
    extra = ", ".join(f"{k} = {v}" for k, v in (stages.get("options") or {}).items())
    sec.table(["stage", "status", "seconds"], rows,
              "Stages of euv2mag demo and their run times" + (f" (options: {extra})" if extra else "") + ".",
              [lay.rel(lay.stages)], table_id="stages-table")


def build_report(root: str | Path, out: str | Path | None = None) -> Path:
    """Build the HTML report of the study folder ``root`` and return its path.

    Parameters
    ----------
    root : path-like
        Study folder (see :mod:`euv2mag.report.layout`).
    out : path-like, optional
        Output file; default ``root/report.html``.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    root = Path(root)
    if not root.is_dir():
        raise UserError("no such study folder", path=root)
    ctx = ReportContext(root)
    lay = ctx.layout
    heads = {}
    for exp in lay.experiments():
        spath = lay.audit_dir(exp) / "summary.json"
        h = headline(read_json(spath), lay.rel(spath))
        if h is not None:
            heads[exp] = h
    page = Page("euv2mag: how far can magnetograms generated from EUV images be trusted?")
    page.intro.append(
        "This report collects the reliability study of an EUV-to-magnetogram model (pix2pix as in Kim et al. 2019), "
        "following Liu et al. 2021: what clipping the training magnetograms costs, how much the KPL19 split leaks, "
        "what generated magnetograms reproduce at full-disk and active-region level, how much training runs differ, "
        "and, as a control, what the same audit reports when polarity information is present in the input. "
        f"Every number comes from a file in the study folder {root.name}/, named under each figure and table.")
    main_summary = lay.audit_dir(MAIN_EXPERIMENT) / "summary.json"
    runs = run_headlines(read_json(main_summary), lay.rel(main_summary))
    _section_control(page, ctx, heads, runs)
    _section_dataset(page, ctx)
    _section_saturation(page, ctx)
    _section_examples(page, ctx)
    _section_training(page, ctx)
    _section_fulldisk(page, ctx, heads)
    _section_regions(page, ctx, heads)
    _section_variability(page, ctx, runs)
    _section_runinfo(page, ctx)
    out = Path(out) if out is not None else lay.report
    atomic_write_text(out, page.render())
    out.chmod(0o644)
    return out
