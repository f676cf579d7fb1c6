"""Figures of the study report (matplotlib, Agg; no pyplot global state).

Every function takes plain arrays or pandas tables and returns a
:class:`matplotlib.figure.Figure`; :func:`figure_png` renders it to PNG bytes.  Solar images use
sunpy's colormaps (``sdoaia304`` for EUV, ``hmimag`` for magnetograms), are drawn with
``origin="lower"`` (array row 0 is the southernmost row) and magnetograms in one figure share
one symmetric colour scale in G.
"""
from __future__ import annotations

import io
from typing import Mapping, Sequence

import numpy as np

__all__ = [
    "figure_png",
    "solar_cmap",
    "fig_activity_timeline",
    "fig_leakage_timeline",
    "fig_saturation_scatter",
    "fig_amf_histogram",
    "fig_maps_row",
    "fig_training_curves",
    "fig_scatter_panels",
    "fig_region_overlay",
    "fig_detected_regions",
    "fig_std_map",
    "fig_farside_skill",
    "fig_farside_ages",
]

_SET_COLOURS = {"train": "#4C72B0", "val": "#DD8452", "test": "#C44E52"}


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def figure_png(fig, dpi: int = 90) -> bytes:
    """Render ``fig`` to PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def solar_cmap(name: str):
    """A sunpy colormap by name (``"sdoaia304"``, ``"hmimag"``), registered with matplotlib."""
    import matplotlib
    import sunpy.visualization.colormaps  # noqa: F401  (registers the solar colormaps)

    return matplotlib.colormaps[name]


def _dates(times: Sequence[str]) -> np.ndarray:
    return np.array([np.datetime64(str(t)[:19]) for t in times], dtype="datetime64[s]")


def fig_activity_timeline(times, activity, label: str, sets: Mapping[str, Sequence[str]] | None = None):
    """Activity per frame against time, with the frames of each split set marked below.

    Parameters
    ----------
    times : sequence of str
        ISO times of the frames.
    activity : (N,) array
        Activity measure per frame (e.g. number of visible regions).
    label : str
        Axis label of ``activity`` (with its unit).
    sets : mapping of set name -> ISO times, optional
        Frames of each split set (``train``/``val``/``test``), drawn as ticks.
    """
    fig = _figure(9, 3.2)
    ax = fig.add_subplot()
    t = _dates(times)
    ax.plot(t, np.asarray(activity, float), color="0.25", lw=0.8)
    ax.set_ylabel(label)
    if sets:
        ymax = np.nanmax(activity) if np.size(activity) else 1.0
        step = 0.06 * (ymax if ymax > 0 else 1.0)
        for k, (name, set_times) in enumerate(sets.items()):
            if len(set_times) == 0:
                continue
            ts = _dates(set_times)
            y = np.full(ts.shape, -step * (k + 1))
            ax.plot(ts, y, "|", ms=6, color=_SET_COLOURS.get(name, "k"), label=f"{name} ({len(ts)} frames)")
        ax.legend(loc="upper right", fontsize=8, ncols=3)
    ax.set_xlabel("time (UTC)")
    ax.grid(alpha=0.3)
    return fig


def fig_leakage_timeline(tables: Mapping[str, tuple], rotation_days: float = 27.2753):
    """Per test frame, the gap to the nearest training frame against time, one panel per scheme.

    Parameters
    ----------
    tables : mapping scheme -> (times, gap_days, same_face_gap_days or None)
        ISO times of the test frames and gaps in days.
    rotation_days : float
        Synodic rotation period drawn as a reference line, days.
    """
    n = max(len(tables), 1)
    fig = _figure(9, 2.4 * n)
    axes = fig.subplots(n, 1, squeeze=False)[:, 0]
    for ax, (scheme, (times, gap, same_face)) in zip(axes, tables.items()):
        t = _dates(times)
        ax.plot(t, gap, ".", ms=3, color="#4C72B0", label="nearest training frame")
        if same_face is not None:
            ax.plot(t, same_face, ".", ms=3, color="#C44E52", label="nearest training frame showing the same face")
        ax.axhline(rotation_days, color="0.4", ls="--", lw=0.8, label="one rotation (27.3 d)")
        ax.set_ylim(bottom=0)
        ax.set_ylabel("gap (days)")
        ax.set_title(f"split scheme: {scheme}", fontsize=10, loc="left")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=3, frameon=False)
    axes[-1].set_xlabel("time of test frame (UTC)")
    return fig


def fig_saturation_scatter(table, annotations: Mapping[tuple[str, float], str] | None = None):
    """Clipped vs original TUMF and NMF, one column per saturation limit.

    Parameters
    ----------
    table : pandas.DataFrame
        ``saturation.csv``: columns ``limit_g``, ``tumf_orig_mx``, ``tumf_clip_mx``,
        ``nmf_orig_mx``, ``nmf_clip_mx`` (Mx).
    annotations : mapping (quantity, limit) -> str, optional
        Text drawn in each panel (slope, R², sign flips), quantity ``"tumf"`` or ``"nmf"``.
    """
    limits = sorted(float(v) for v in table["limit_g"].unique())
    fig = _figure(3.0 * len(limits), 5.6)
    axes = fig.subplots(2, len(limits), squeeze=False)
    for j, limit in enumerate(limits):
        sub = table[np.isclose(table["limit_g"].astype(float), limit)]
        for i, qty in enumerate(("tumf", "nmf")):
            ax = axes[i, j]
            x = sub[f"{qty}_orig_mx"].to_numpy(float)
            y = sub[f"{qty}_clip_mx"].to_numpy(float)
            ax.plot(x, y, ".", ms=3, color="#4C72B0")
            finite = np.isfinite(x) & np.isfinite(y)
            if finite.any():
                lo = min(x[finite].min(), y[finite].min(), 0.0)
                hi = max(x[finite].max(), y[finite].max())
                ax.plot([lo, hi], [lo, hi], color="0.5", lw=0.8, ls="--")
            ax.set_title(f"{qty.upper()}, ±{limit:g} G", fontsize=9)
            ax.set_xlabel(f"original {qty.upper()} (Mx)", fontsize=8)
            ax.set_ylabel(f"clipped {qty.upper()} (Mx)", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
            text = (annotations or {}).get((qty, limit))
            if text:
                ax.text(0.03, 0.97, text, transform=ax.transAxes, va="top", fontsize=7,
                        bbox=dict(fc="white", ec="0.7", alpha=0.9))
    return fig


def fig_amf_histogram(amf_g, limits: Sequence[float], label: str = "regions"):
    """Histogram of region mean absolute field (AMF, G) with the saturation limits marked."""
    fig = _figure(6, 3.2)
    ax = fig.add_subplot()
    amf = np.asarray(amf_g, float)
    amf = amf[np.isfinite(amf)]
    amf = amf[amf > 0]
    if amf.size:
        lo = min(float(amf.min()), min(limits) if len(limits) else amf.min()) * 0.8
        hi = max(float(amf.max()), max(limits) if len(limits) else amf.max()) * 1.25
        bins = np.geomspace(lo, hi, 50)
        ax.hist(amf, bins=bins, color="#4C72B0", alpha=0.8, label=f"{label} (n={amf.size})")
        ax.set_xscale("log")
    for limit in limits:
        ax.axvline(limit, color="#C44E52", ls="--", lw=1)
        ax.text(limit, ax.get_ylim()[1] * 0.95, f" ±{limit:g} G", color="#C44E52", fontsize=8, va="top")
    ax.set_xlabel("region mean |B| (AMF, G; log scale)")
    ax.set_ylabel("regions")
    ax.legend(fontsize=8)
    return fig


def fig_maps_row(panels: Sequence[tuple[str, np.ndarray, str]], mag_limit_g: float, euv_range=None):
    """A row of full-disk images: ``(title, image, kind)`` with kind ``"euv"`` or ``"mag"``.

    Magnetograms share the colour scale ±``mag_limit_g`` G (``hmimag``); EUV images use
    ``sdoaia304`` on a logarithmic scale over ``euv_range`` (DN/s; default 1st–99.8th percentile).
    """
    from matplotlib.colors import LogNorm

    n = len(panels)
    fig = _figure(3.0 * n + 0.6, 3.3)
    axes = fig.subplots(1, n, squeeze=False)[0]
    mag_im = euv_im = None
    for ax, (title, image, kind) in zip(axes, panels):
        image = np.asarray(image, float)
        if kind == "euv":
            finite = image[np.isfinite(image) & (image > 0)]
            if euv_range is None and finite.size:
                euv_range = (float(np.percentile(finite, 1)), float(np.percentile(finite, 99.8)))
            lo, hi = euv_range if euv_range else (1.0, 10.0)
            euv_im = ax.imshow(np.clip(image, lo, hi), origin="lower", cmap=solar_cmap("sdoaia304"),
                               norm=LogNorm(vmin=lo, vmax=hi), interpolation="nearest")
        else:
            mag_im = ax.imshow(image, origin="lower", cmap=solar_cmap("hmimag"), vmin=-mag_limit_g,
                               vmax=mag_limit_g, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_facecolor("black")
    if mag_im is not None:
        fig.colorbar(mag_im, ax=axes, shrink=0.8, label="B_LOS (G)")
    if euv_im is not None:
        fig.colorbar(euv_im, ax=axes, shrink=0.8, location="left", label="EUV (DN/s)")
    return fig


def fig_training_curves(curves: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]]):
    """Training curves, one panel per metric, one line per seed.

    Parameters
    ----------
    curves : mapping metric -> mapping seed label -> (iteration, value)
    """
    n = max(len(curves), 1)
    cols = min(n, 3)
    rows = int(np.ceil(n / cols))
    fig = _figure(3.2 * cols, 2.6 * rows)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, (metric, per_seed) in zip(axes, curves.items()):
        for label, (it, val) in per_seed.items():
            ax.plot(it, val, lw=1, marker="." if len(it) < 30 else None, label=label)
        ax.set_title(metric, fontsize=9)
        ax.set_xlabel("iteration", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in axes[len(curves):]:
        ax.set_visible(False)
    return fig


def fig_scatter_panels(panels: Sequence[dict]):
    """Generated vs reference scatter plots.

    Each panel is a dict with ``x``, ``y`` (arrays), ``title``, ``xlabel``, ``ylabel``, optional
    ``text`` (drawn in the corner), ``series`` (label per point group: a dict label -> (x, y)
    replaces ``x``/``y``) and ``density`` (True: 2-D histogram for many points).
    """
    from matplotlib.colors import LogNorm

    n = max(len(panels), 1)
    cols = min(n, 4)
    rows = int(np.ceil(n / cols))
    fig = _figure(3.1 * cols, 3.0 * rows)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, panel in zip(axes, panels):
        series = panel.get("series") or {"": (panel["x"], panel["y"])}
        allx, ally = [], []
        for label, (x, y) in series.items():
            x = np.asarray(x, float)
            y = np.asarray(y, float)
            ok = np.isfinite(x) & np.isfinite(y)
            allx.append(x[ok])
            ally.append(y[ok])
            if panel.get("density") and ok.sum() > 200:
                ax.hist2d(x[ok], y[ok], bins=60, cmap="viridis", norm=LogNorm(), rasterized=True)
            else:
                ax.plot(x[ok], y[ok], ".", ms=3, alpha=0.7, label=label or None)
        if any(a.size for a in allx):
            xs = np.concatenate(allx)
            ys = np.concatenate(ally)
            lo = float(min(xs.min(), ys.min()))
            hi = float(max(xs.max(), ys.max()))
            ax.plot([lo, hi], [lo, hi], color="0.5", lw=0.8, ls="--")
        if len(series) > 1:
            ax.legend(fontsize=7)
        ax.set_title(panel.get("title", ""), fontsize=9)
        ax.set_xlabel(panel.get("xlabel", "reference"), fontsize=8)
        ax.set_ylabel(panel.get("ylabel", "generated"), fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if panel.get("text"):
            ax.text(0.03, 0.97, panel["text"], transform=ax.transAxes, va="top", fontsize=7,
                    bbox=dict(fc="white", ec="0.7", alpha=0.9))
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    return fig


def fig_region_overlay(reference, generated, labels_ref, labels_gen, mag_limit_g: float, titles=("reference", "generated")):
    """Reference and generated magnetograms, each with both region sets as contours.

    Contours: reference regions in yellow (solid), generated regions in cyan (dashed).
    """
    fig = _figure(7.4, 3.6)
    axes = fig.subplots(1, 2)
    cmap = solar_cmap("hmimag")
    for ax, image, title in zip(axes, (reference, generated), titles):
        im = ax.imshow(image, origin="lower", cmap=cmap, vmin=-mag_limit_g, vmax=mag_limit_g, interpolation="nearest")
        if np.any(labels_ref > 0):
            ax.contour(labels_ref > 0, levels=[0.5], colors="yellow", linewidths=1.0, origin="lower")
        if np.any(labels_gen > 0):
            ax.contour(labels_gen > 0, levels=[0.5], colors="cyan", linewidths=1.0, linestyles="--", origin="lower")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_facecolor("black")
    fig.colorbar(im, ax=axes, shrink=0.8, label="B_LOS (G)")
    return fig


def fig_detected_regions(mag_g, labels, regions, *, limb_center_px, limb_radius_px: float, vmax_g: float = 1500.0,
                         title: str = ""):
    """One full-disk magnetogram with its detected regions: contours, labels and the limb cut.

    Parameters
    ----------
    mag_g : (H, W) ndarray
        LOS field in G, north up (array row 0 is the southernmost row), NaN off the disk.
    labels : (H, W) ndarray of int
        Region labels (0 = background); their outline is drawn in red.
    regions : sequence of (label, x_px, y_px)
        Label text and its anchor (column, row) in pixels, e.g. each region's centre; the text
        is drawn 8 px up and right of it; entries with a non-finite position are skipped.
    limb_center_px : (float, float)
        Disk centre (x, y) in pixels.
    limb_radius_px : float
        Radius of the limb cut (px), drawn as a grey dashed circle.
    vmax_g : float
        Colour range ±``vmax_g`` G (``hmimag``; default 1500, the colormap's own range).
    title : str
        Axes title.

    Returns
    -------
    matplotlib.figure.Figure
        8 x 8 in at 100 dpi (an 800 x 800 px PNG).
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 8), dpi=100)
    ax = fig.subplots()
    ax.imshow(mag_g, origin="lower", cmap=solar_cmap("hmimag"), vmin=-vmax_g, vmax=vmax_g, interpolation="nearest")
    labels = np.asarray(labels)
    if labels.max() > 0:
        ax.contour((labels > 0).astype(float), levels=[0.5], colors="red", linewidths=1.2)
    t = np.linspace(0, 2 * np.pi, 361)
    cx, cy = limb_center_px
    ax.plot(cx + limb_radius_px * np.cos(t), cy + limb_radius_px * np.sin(t), color="0.6", lw=0.5, ls="--")
    for label, x, y in regions:
        if np.isfinite(x) and np.isfinite(y):
            ax.text(float(x) + 8, float(y) + 8, str(label), color="red", fontsize=10, weight="bold")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("x [px] (west ->)")
    ax.set_ylabel("y [px] (north ^)")
    return fig


def fig_std_map(std_map, mean_abs_map=None, title: str = "per-pixel std across seeds"):
    """Per-pixel standard deviation across runs (G), optionally next to the mean |B| of the runs."""
    n = 1 if mean_abs_map is None else 2
    fig = _figure(3.6 * n + 0.4, 3.4)
    axes = fig.subplots(1, n, squeeze=False)[0]
    std_map = np.asarray(std_map, float)
    vmax = float(np.nanpercentile(std_map, 99.5)) if np.isfinite(std_map).any() else 1.0
    im = axes[0].imshow(std_map, origin="lower", cmap="magma", vmin=0, vmax=max(vmax, 1e-6), interpolation="nearest")
    axes[0].set_title(title, fontsize=9)
    fig.colorbar(im, ax=axes[0], shrink=0.8, label="std (G)")
    if mean_abs_map is not None:
        im2 = axes[1].imshow(mean_abs_map, origin="lower", cmap="magma", vmin=0, vmax=max(vmax, 1e-6), interpolation="nearest")
        axes[1].set_title("mean |B| across seeds", fontsize=9)
        fig.colorbar(im2, ax=axes[1], shrink=0.8, label="|B| (G)")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_facecolor("black")
    return fig


_SERIES_COLOURS = {"model": "C0", "persistence": "C1", "history": "C2"}
_SERIES_MARKERS = ("o", "s", "^", "D", "v", "P", "X")


def _series_styles(names: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Colour and marker per series name: fixed for model / persistence / history, the next ones for the rest."""
    free = (f"C{i}" for i in range(3, 10))
    return {name: (_SERIES_COLOURS.get(name) or next(free, "0.3"), _SERIES_MARKERS[k % len(_SERIES_MARKERS)])
            for k, name in enumerate(names)}


def _error_bars(ax, x, y, lo, hi, *, colour, marker, label, linestyle="-"):
    """Points ``y`` at ``x`` joined by a line, with error bars from ``lo`` to ``hi`` (a NaN end: no bar;
    a NaN value: no point)."""
    x, y, lo, hi = (np.asarray(a, float) for a in (x, y, lo, hi))
    ok = np.isfinite(y)
    err = np.vstack([np.where(np.isfinite(lo), y - lo, 0.0), np.where(np.isfinite(hi), hi - y, 0.0)])
    ax.errorbar(x[ok], y[ok], yerr=np.clip(err[:, ok], 0.0, None), color=colour, marker=marker, ms=4, lw=1,
                ls=linestyle, capsize=3, label=label)


def fig_farside_skill(skill, metrics: Sequence[tuple[str, str]], order: Sequence[str] | None = None):
    """Skill against the observer's separation from Earth, one panel per metric, one series per prediction.

    Parameters
    ----------
    skill : pandas.DataFrame
        Rows of :data:`euv2mag.audit.farside.SKILL`: ``separation_deg`` (deg), ``prediction`` and, for each
        metric ``m``, the columns ``m``, ``m_lo``, ``m_hi`` (95 % interval; NaN: none).
    metrics : sequence of (column, title)
        The panels.
    order : sequence of str, optional
        Series order (default: the predictions in order of first appearance).

    Notes
    -----
    The series are shifted sideways by a little (1.5 % of the separation range each) so that their
    error bars do not hide one another; the axis ticks are the separations themselves.
    """
    names = list(order) if order is not None else list(dict.fromkeys(skill["prediction"]))
    styles = _series_styles(names)
    seps = np.unique(skill["separation_deg"].to_numpy(float))
    width = float(seps.max() - seps.min()) if seps.size > 1 else 1.0
    fig = _figure(2.8 * max(len(metrics), 1), 2.9)
    axes = fig.subplots(1, max(len(metrics), 1), squeeze=False)[0]
    for ax, (key, title) in zip(axes, metrics):
        for k, name in enumerate(names):
            t = skill[skill["prediction"] == name].sort_values("separation_deg")
            if not len(t):
                continue
            shift = (k - (len(names) - 1) / 2) * 0.015 * width
            _error_bars(ax, t["separation_deg"].to_numpy(float) + shift, t[key], t[f"{key}_lo"], t[f"{key}_hi"],
                        colour=styles[name][0], marker=styles[name][1], label=name)
        ax.set_xticks(seps)
        ax.set_xticklabels([f"{s:g}" for s in seps], fontsize=7)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("separation from Earth (deg)", fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.axhline(0, color="0.7", lw=0.5)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    return fig


def fig_farside_ages(ages, metrics: Sequence[tuple[str, str]], order: Sequence[str] | None = None):
    """Skill against the history age bin: one row of panels per metric, one column per separation.

    Parameters
    ----------
    ages : pandas.DataFrame
        Rows of :data:`euv2mag.audit.farside.AGES`: ``separation_deg``, ``prediction``, ``age_bin``,
        ``n_regions`` and, for each metric ``m``, ``m``, ``m_lo``, ``m_hi`` (Wilson 95 % interval).
    metrics : sequence of (column, title)
        The rows of panels.
    order : sequence of str, optional
        Series order (default: the predictions in order of first appearance).

    Notes
    -----
    The bins are drawn in the order of the table (the writer's: ascending age, ``never`` last);
    separations without any truth region are left out; the tick labels give the bin and its
    number of truth-region observations.
    """
    names = list(order) if order is not None else list(dict.fromkeys(ages["prediction"]))
    styles = _series_styles(names)
    bins = list(dict.fromkeys(ages["age_bin"].astype(str)))
    pos = {b: i for i, b in enumerate(bins)}
    seps = [s for s in np.unique(ages["separation_deg"].to_numpy(float))
            if ages.loc[ages["separation_deg"] == s, "n_regions"].sum() > 0] or [float(ages["separation_deg"].min())]
    fig = _figure(max(3.0, 0.55 * len(bins) + 0.8) * len(seps), 2.5 * max(len(metrics), 1) + 0.3)
    axes = fig.subplots(max(len(metrics), 1), len(seps), squeeze=False, sharey="row")
    for c, sep in enumerate(seps):
        at = ages[ages["separation_deg"] == sep]
        counts = at.drop_duplicates("age_bin").set_index("age_bin")["n_regions"]
        for r, (key, title) in enumerate(metrics):
            ax = axes[r, c]
            for k, name in enumerate(names):
                t = at[at["prediction"] == name]
                if not len(t):
                    continue
                x = np.array([pos[str(b)] for b in t["age_bin"]], float) + (k - (len(names) - 1) / 2) * 0.12
                _error_bars(ax, x, t[key], t[f"{key}_lo"], t[f"{key}_hi"], colour=styles[name][0],
                            marker=styles[name][1], label=name, linestyle=":")
            ax.set_xticks(range(len(bins)))
            ax.set_xticklabels([f"{b}\nn={int(counts.get(b, 0))}" for b in bins], fontsize=6)
            ax.set_xlim(-0.5, len(bins) - 0.5)
            ax.set_ylim(-0.05, 1.05)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
            if r == 0:
                ax.set_title(f"{sep:g}° from Earth", fontsize=9)
            if c == 0:
                ax.set_ylabel(title, fontsize=8)
            if r == len(metrics) - 1:
                ax.set_xlabel("days since on the Earth-facing disk", fontsize=8)
    axes[0, 0].legend(fontsize=7)
    return fig
