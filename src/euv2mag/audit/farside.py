"""The far-side study: how a model trained on Earth-view pairs does when it looks from elsewhere.

A run trained on the Earth view of a synthetic Sun predicts magnetograms from the EUV seen by
observers at Stonyhurst longitudes ``separations`` (deg from Earth, e.g. 60, 120, 180: the
same Sun at the same times, :func:`euv2mag.data.synthetic.synthesize` with the training store's
parameters and a fixed observer), and each prediction is audited
(:func:`euv2mag.audit.audit_stores`) against that observer's own truth.

What is written (``out/``)
--------------------------
``euv_reference.json``
    The training frames' on-disk EUV quantiles (:class:`euv2mag.data.crosscal.EuvReference`).
``sep-<S>/truth.zarr``
    The observer's store (separation 0: the training store itself is the truth).
``sep-<S>/input-x<f>.zarr``, ``sep-<S>/model-x<f>.zarr``
    The EUV of the frames scaled by ``f`` (a miscalibration; ``f = 1`` is the observer's own
    intensities) and then cross-calibrated (:mod:`euv2mag.data.crosscal`), and the model's
    predictions from it.
``sep-<S>/persistence.zarr``, ``sep-<S>/persistence.history.csv``
    The ``persistence`` baseline: the Earth-view truth ``persistence_days`` before each frame
    (0: the Earth frame at the same time) rotated by differential rotation into the observer's
    view at the frame time (:func:`euv2mag.data.history.rotate_map`).  Where that surface
    was not on the Earth-facing disk it is 0 G (``covered_fraction`` per frame).
``sep-<S>/audit/``
    The audit of the predictions ``model`` (f = 1), ``model-x<f>`` and ``persistence``.
:data:`SKILL` ``farside_skill.csv``
    One row per separation and prediction: TUMF CC, ``mean_abs_cc``, region recall and
    footprint polarity of Hale and anti-Hale regions, with the audit's bootstrap intervals
    (time blocks; the footprint polarity's resample truth regions).
:data:`REGION_AGES` ``farside_region_ages.csv``
    Every truth region detected on the observer's truth maps, linked to the generator's
    region, with its history age.
:data:`AGES` ``farside_ages.csv``
    Recall and footprint polarity per history-age bin and prediction, with counts and Wilson
    95 % intervals.
:data:`HISTORY_SPLIT` ``farside_history_split.csv`` (with ``history_run``)
    Recall and footprint polarity of ``model``, ``history`` and ``persistence`` for the truth
    regions that emerged before the history frame and those that emerged after it, by Hale
    class, with counts and Wilson 95 % intervals.
:class:`FarsideSummary` ``farside.json``
    The study's parameters and where everything is.

The history-conditioned variant (``history_run``; Jeong et al. 2022, ApJS 262, 50)
    A run trained with ``history_channels`` (:class:`euv2mag.model.config.TrainConfig`) on a
    history-input store of the Earth view (:func:`euv2mag.data.history.write_history_store`)
    sees, beside the observer's cross-calibrated EUV, the latest Earth-view truth
    ``history_days`` before (``auto``: the separation over the equator's synodic rate, rounded
    to the training store's cadence, :func:`euv2mag.data.history.auto_history_days`) moved to
    the frame time and into the observer's view, its coverage and its age
    (``sep-<S>/input-history.zarr``).  Its predictions are audited as ``history``; the
    ``persistence`` baseline is then that very history input (the same history frame, age and
    rotation, ``pred = hist``), so the two are compared on equal information.  A history frame
    older than ``max_history_age_days`` is not used: the frame gets no history (0 G, coverage
    0) and is listed with the reason in the store's ``history`` table and
    ``sep-<S>/persistence.history.csv`` (a skip-list entry).  The region split asks what the
    history channel buys and where it must fail: a region that emerged after the history frame
    is in no history, so there the model has only the EUV.

History age ("days since the region was last on the Earth-facing disk")
    For a truth region detected at frame time ``t``: the generator region nearest to its
    centre (within ``link_deg``) gives its latitude ``lat``, Carrington longitude ``lon(t)``
    and emergence time ``t_e``.  Going back in time on a grid of :data:`AGE_STEP_DAYS`, the
    centre is carried back by the region's differential rotation relative to the Carrington
    frame (``lon(t') = lon(t) - (w(lat) - w_carr) (t - t')``, the generator's own law) and
    Earth's ``B0(t')`` and ``L0(t')`` (sunpy) give its heliocentric angle seen from Earth,
    ``mu_E = sin B0 sin lat + cos B0 cos lat cos(lon - L0)``.  The age is ``t - t'`` for the
    latest ``t' in [t_e, t]`` with ``mu_E > 0``: 0 for a region on the Earth-facing disk now;
    NaN ("never") for one that emerged on the far side and has not been seen from Earth since,
    which no history-based method can know.

Intervals
    Skill intervals are the audit's block bootstrap (blocks of a disk passage); those of the
    footprint polarity its region-clustered bootstrap (all observations of a truth region
    resampled together, :mod:`euv2mag.audit.bootstrap`).  The age bins
    pool region observations of several frames (the same region recurs): the Wilson intervals
    there treat them as independent and are too narrow by about the square root of the frames
    per region; read them as a guide, not a test.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import UserError
from ..tables import Column, JsonFile, TableFile

__all__ = ["SEPARATIONS", "SCALES", "AGE_BINS_DAYS", "AGE_STEP_DAYS", "LINK_DEG", "FarsideParams", "SKILL", "AGES",
           "REGION_AGES", "HISTORY_SPLIT", "history_split_rows", "FarsideSummary", "days_since_earth_view",
           "earth_l0_b0", "wilson_interval", "write_cross_persistence", "farside_study"]

#: Default observer separations from Earth, deg (0: the Earth view, the reference).
SEPARATIONS = (0.0, 60.0, 120.0, 180.0)
#: Default EUV intensity scales (1: as observed; 0.8, 1.2: a 20 % miscalibration).
SCALES = (0.8, 1.0, 1.2)
#: Default edges of the history-age bins, days (the last bin is open; "never" apart).
AGE_BINS_DAYS = (0.0, 1.0, 4.0, 8.0, 14.0)
#: Time step of the look-back for the history age, days.
AGE_STEP_DAYS = 0.05
#: Largest distance between a detected truth region and the generator region it is linked to, deg.
LINK_DEG = 10.0
_DAY_S = 86400.0


@dataclasses.dataclass(frozen=True)
class FarsideParams:
    """Options of :func:`farside_study` (see its parameters)."""

    separations: tuple = SEPARATIONS
    scales: tuple = SCALES
    calibration: str = "quantile"
    persistence_days: float = 0.0
    history_tolerance_days: float | None = None
    age_bins_days: tuple = AGE_BINS_DAYS
    link_deg: float = LINK_DEG
    n_boot: int = 200
    history_days: object = "auto"
    max_history_age_days: float | None = None

    def __post_init__(self):
        from ..data.crosscal import parse_calibration
        from .persistence import PersistenceParams

        seps = tuple(float(s) for s in self.separations)
        if not seps or any(not (math.isfinite(s) and 0 <= s <= 180) for s in seps) or len(set(seps)) != len(seps):
            raise UserError(f"separations must be distinct angles in [0, 180] deg, got {list(self.separations)}",
                            parameter="separations")
        object.__setattr__(self, "separations", seps)
        scales = tuple(sorted(set(float(s) for s in self.scales) | {1.0}))
        if any(not (math.isfinite(s) and s > 0) for s in scales):
            raise UserError(f"scales must be positive numbers, got {list(self.scales)}", parameter="scales")
        object.__setattr__(self, "scales", scales)
        object.__setattr__(self, "calibration", parse_calibration(self.calibration).label)
        PersistenceParams(self.persistence_days, tolerance_days=self.history_tolerance_days)
        object.__setattr__(self, "persistence_days", float(self.persistence_days))
        bins = tuple(float(b) for b in self.age_bins_days)
        if len(bins) < 1 or any(not math.isfinite(b) or b < 0 for b in bins) or list(bins) != sorted(set(bins)):
            raise UserError(f"age bins must be increasing numbers of days >= 0, got {list(self.age_bins_days)}",
                            parameter="age_bins_days")
        object.__setattr__(self, "age_bins_days", bins)
        if not (math.isfinite(float(self.link_deg)) and 0 < float(self.link_deg) <= 90):
            raise UserError(f"must lie in (0, 90] deg, got {self.link_deg!r}", parameter="link_deg")
        if int(self.n_boot) < 0:
            raise UserError(f"must be >= 0, got {self.n_boot!r}", parameter="n_boot")
        from ..data.history import HistoryParams

        hp = HistoryParams(self.history_days, separation_deg=0.0, tolerance_days=self.history_tolerance_days,
                           max_age_days=self.max_history_age_days)
        if isinstance(hp.days, tuple):
            raise UserError("the far-side history age is a number of days or 'auto', not a range",
                            parameter="history_days")
        object.__setattr__(self, "history_days", hp.days)
        object.__setattr__(self, "max_history_age_days", hp.max_age_days)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def _ci_columns(name: str, unit: str, meaning: str) -> tuple[Column, ...]:
    return (Column(name, "float64", unit, meaning),
            Column(f"{name}_lo", "float64", unit, f"{name}: lower end of the 95 % interval"),
            Column(f"{name}_hi", "float64", unit, f"{name}: upper end of the 95 % interval"))


SKILL = TableFile(
    "farside_skill.csv",
    (
        Column("separation_deg", "float64", "deg", "observer's Stonyhurst longitude (angle from Earth)"),
        Column("prediction", "str", "", "model (f = 1), model-x<f> (EUV scaled by f), history (the "
               "history-conditioned run) or persistence"),
        Column("kind", "str", "", "model or persistence"),
        Column("scale", "float64", "", "EUV intensity scale before calibration (NaN: persistence)"),
        Column("calibration", "str", "", "EUV cross-calibration (empty: persistence)"),
        Column("n_frames", "int64", "", "frames audited"),
        *_ci_columns("tumf_cc", "", "Pearson r of the TUMF series, prediction vs truth"),
        *_ci_columns("mean_abs_cc", "", "mean over frames of the Pearson r of |B| on the disk"),
        *_ci_columns("recall", "", "share of truth regions matched"),
        *_ci_columns("fp_polarity_hale", "", "footprint polarity agreement, Hale-conforming truth regions"),
        *_ci_columns("fp_polarity_anti_hale", "", "footprint polarity agreement, anti-Hale truth regions"),
        Column("n_fp_hale", "int64", "", "Hale regions with a determined footprint polarity"),
        Column("n_fp_anti_hale", "int64", "", "anti-Hale regions with a determined footprint polarity"),
        Column("covered_fraction", "float64", "",
               "persistence and history: mean share of the disk with history (NaN: model)"),
    ),
    "far-side skill per separation and prediction (euv2mag.audit.farside)",
)

REGION_AGES = TableFile(
    "farside_region_ages.csv",
    (
        Column("separation_deg", "float64", "deg", "observer's angle from Earth"),
        Column("time", "str", "", "frame time, ISO 8601 UTC"),
        Column("ref_label", "int64", "", "label of the detected truth region in the audit"),
        Column("lat_deg", "float64", "deg", "latitude of the detected truth region"),
        Column("lon_deg", "float64", "deg", "longitude of its centre from the observer's central meridian"),
        Column("region_id", "int64", "", "linked generator region (-1: none within link_deg)"),
        Column("link_deg", "float64", "deg", "distance to the linked region's centre"),
        Column("days_since_earth_view", "float64", "d",
               "frame time minus the last time the region's centre had Earth-view mu > 0 (NaN: never since emergence)"),
    ),
    "truth regions of the far-side frames and their history ages (euv2mag.audit.farside)",
)

AGES = TableFile(
    "farside_ages.csv",
    (
        Column("separation_deg", "float64", "deg", "observer's angle from Earth"),
        Column("prediction", "str", "", "model or persistence"),
        Column("age_bin", "str", "", "history-age bin, e.g. '1-4 d', '>= 14 d', 'never'"),
        Column("age_lo_days", "float64", "d", "lower edge (NaN: never)"),
        Column("age_hi_days", "float64", "d", "upper edge, exclusive (inf: open; NaN: never)"),
        Column("n_regions", "int64", "", "truth-region observations in the bin"),
        Column("n_matched", "int64", "", "of those matched by the prediction"),
        *_ci_columns("recall", "", "n_matched / n_regions, Wilson 95 % interval"),
        Column("n_fp_determined", "int64", "", "regions with a determined footprint polarity"),
        *_ci_columns("fp_polarity", "", "footprint polarity agreement, Wilson 95 % interval"),
    ),
    "far-side skill per history-age bin (euv2mag.audit.farside)",
)

HISTORY_SPLIT = TableFile(
    "farside_history_split.csv",
    (
        Column("separation_deg", "float64", "deg", "observer's angle from Earth"),
        Column("prediction", "str", "", "model, history or persistence"),
        Column("history_days", "float64", "d", "history age asked for at this separation"),
        Column("group", "str", "", "emerged_before / emerged_after the frame's history frame, or no_history "
               "(the frame had none: too old or none within the tolerance)"),
        Column("hale_class", "str", "", "hale, anti_hale or all (with undetermined)"),
        Column("n_regions", "int64", "", "linked truth-region observations in the group"),
        Column("n_matched", "int64", "", "of those matched by the prediction"),
        *_ci_columns("recall", "", "n_matched / n_regions, Wilson 95 % interval"),
        Column("n_fp_determined", "int64", "", "regions with a determined footprint polarity"),
        *_ci_columns("fp_polarity", "", "footprint polarity agreement, Wilson 95 % interval"),
    ),
    "far-side skill for regions that emerged before vs after the history frame (euv2mag.audit.farside)",
)


@dataclasses.dataclass(frozen=True)
class FarsideSummary(JsonFile):
    """``farside.json``: parameters, inputs and folders of a far-side study."""

    FILENAME = "farside.json"
    DESCRIPTION = "a far-side study summary"

    params: dict
    run_dir: str
    train_store: str
    indices: list
    times: list
    folders: dict
    #: With a history run: ``run``, ``days`` and ``n_without_history`` per separation, ``max_age_days``.
    history: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def from_dict(cls, obj, *, path=None):
        """As :meth:`JsonFile.from_dict`; a summary written before ``history`` existed reads with none."""
        if isinstance(obj, dict) and "history" not in obj:
            obj = {**obj, "history": {}}
        return super().from_dict(obj, path=path)


# ---------------------------------------------------------------------------- pure functions
def earth_l0_b0(times_mjd) -> tuple[np.ndarray, np.ndarray]:
    """Earth's ``L0`` and ``B0`` (deg) at the times (MJD, UTC).

    sunpy's ``sun.L0`` / ``sun.B0`` at whole-day nodes spanning the times, interpolated linearly
    (``L0`` unwrapped): both vary smoothly (the error is below 1e-3 deg), and sunpy per time is
    slow (a look-back grid has thousands of times).
    """
    from astropy.time import Time
    from sunpy.coordinates import sun

    t = np.atleast_1d(np.asarray(times_mjd, dtype=float))
    nodes = np.arange(np.floor(t.min()) - 1.0, np.ceil(t.max()) + 2.0, 1.0)
    nt = Time(nodes, format="mjd", scale="utc")
    l0 = np.degrees(np.unwrap(np.radians(np.asarray(sun.L0(nt).deg, dtype=float))))
    b0 = np.asarray(sun.B0(nt).deg, dtype=float)
    return np.mod(np.interp(t, nodes, l0), 360.0), np.interp(t, nodes, b0)


def days_since_earth_view(t_mjd: float, lat_deg: float, carrington_lon_deg: float, emergence_mjd: float,
                          relative_rate_deg_per_day: float, grid_mjd, earth_l0_deg, earth_b0_deg) -> float:
    """Days since the region's centre was last on the Earth-facing disk (module docstring).

    Parameters
    ----------
    t_mjd : float
        Frame time (MJD).
    lat_deg, carrington_lon_deg : float
        The centre at ``t_mjd`` (deg).
    emergence_mjd : float
        Emergence time of the region (MJD); earlier times do not count.
    relative_rate_deg_per_day : float
        The centre's rotation rate minus the Carrington rate (deg/day).
    grid_mjd, earth_l0_deg, earth_b0_deg : array_like
        Ascending time grid (MJD) covering ``[emergence_mjd, t_mjd]`` and Earth's ``L0``, ``B0`` on it (deg).

    Returns
    -------
    float
        Days (>= 0); NaN when the centre had ``mu_E <= 0`` at every grid time since emergence.
    """
    g = np.asarray(grid_mjd, dtype=float)
    sel = (g >= emergence_mjd - 1e-9) & (g <= t_mjd + 1e-9)
    g = np.concatenate([g[sel], [t_mjd]])
    l0 = np.concatenate([np.asarray(earth_l0_deg, dtype=float)[sel], [np.nan]])
    b0 = np.concatenate([np.asarray(earth_b0_deg, dtype=float)[sel], [np.nan]])
    if not np.isfinite(l0[-1]):  # Earth at t itself: interpolate on the grid (L0 unwrapped)
        full_g = np.asarray(grid_mjd, dtype=float)
        l0[-1] = np.interp(t_mjd, full_g, np.unwrap(np.radians(earth_l0_deg))) * 180 / np.pi
        b0[-1] = np.interp(t_mjd, full_g, np.asarray(earth_b0_deg, dtype=float))
    lon = carrington_lon_deg - relative_rate_deg_per_day * (t_mjd - g)
    la, b = np.radians(lat_deg), np.radians(b0)
    mu = np.sin(b) * np.sin(la) + np.cos(b) * np.cos(la) * np.cos(np.radians(lon - l0))
    seen = np.nonzero(mu > 0)[0]
    if not seen.size:
        return math.nan
    return float(max(0.0, t_mjd - g[seen.max()]))


def wilson_interval(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k / n`` (95 % by default); NaNs for ``n = 0``.

    Examples
    --------
    >>> [round(v, 3) for v in wilson_interval(8, 10)]
    [0.49, 0.943]
    """
    if n <= 0:
        return math.nan, math.nan
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, centre - half), min(1.0, centre + half)


def _bin_label(lo: float, hi: float) -> str:
    return f">= {lo:g} d" if math.isinf(hi) else f"{lo:g}-{hi:g} d"


def _age_bins(edges: Sequence[float]):
    bounds = list(edges) + [math.inf]
    return [(_bin_label(lo, hi), lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])] + [("never", math.nan, math.nan)]


# ---------------------------------------------------------------------------- persistence from the Earth view
def write_cross_persistence(history_store, target_store, out, indices: Sequence[int], *, days: float = 0.0,
                            tolerance_days: float | None = None, progress: bool | None = None) -> Path:
    """``persistence`` from another observer: ``history_store``'s truth ``days`` before each frame of
    ``target_store`` rotated into the target's view (store ``out``, array ``pred`` in G, table ``history``).

    Parameters
    ----------
    history_store, target_store : path-like
        Truth stores (``mag``, G): the history's observer (Earth) and the target observer.
    out : path-like
        The prediction store to write (replaced).
    indices : sequence of int
        Target frames.
    days : float
        History age ``D`` (days).
    tolerance_days : float, optional
        Largest distance of the history frame's time from ``t - D`` (default half the history
        store's median frame spacing).
    progress : bool, optional
        Show a progress bar.

    Returns
    -------
    Path
        ``out``; the per-frame table :data:`euv2mag.data.history.HISTORY` is written inside
        it and as ``<out stem>.history.csv`` beside it.
    """
    from ..data.store import FrameStore, StoreWriter
    from ..progress import progress_bar
    from .baselines import _store_rotation_model, zero_map
    from .persistence import PersistenceParams, _seconds, default_tolerance_days, history_table_file, rotate_map

    hist, target = FrameStore(history_store), FrameStore(target_store)
    if not (hist.has("mag") and target.has("mag")):
        raise UserError("persistence needs 'mag' in the history and the target store", path=hist.path)
    tol = default_tolerance_days(hist.times) if tolerance_days is None else tolerance_days
    pp = PersistenceParams(days, tolerance_days=tol, rotation_model=_store_rotation_model(target))
    th, tt = _seconds(hist.times), _seconds(target.times)
    out = Path(out)
    kind = out.name[:-5] if out.name.endswith(".zarr") else out.name
    spec = history_table_file(kind)
    params = {"baseline": f"persistence-{pp.days:g}", "history_store": str(Path(hist.path).resolve()),
              "source_store": str(Path(target.path).resolve()), "source_indices": list(indices), "arrays": ["pred"],
              "persistence": dataclasses.asdict(pp)}
    rows = []
    with StoreWriter.open(out, n_frames=len(indices), shape=target.shape, arrays=["pred"], kind="prediction",
                          params=params, provenance={"baseline": params["baseline"]}, overwrite=True) as writer, \
            progress_bar("persistence", len(indices), enabled=progress) as advance:
        for k, i in enumerate(indices):
            geom = target.geometry(i)
            want = tt[i] - pp.days * _DAY_S
            j = int(np.argmin(np.abs(th - want)))
            row = {"index": k, "source_index": int(i), "time": str(target.times[i]), "history_index": -1,
                   "history_time": "", "age_days": math.nan, "covered_fraction": 0.0, "reason": ""}
            if abs(th[j] - want) <= pp.tolerance_days * _DAY_S + 1e-3:
                pred, covered = rotate_map(hist.read("mag", j), hist.geometry(j), geom, mu_min=pp.mu_min,
                                           rotation_model=pp.rotation_model)
                disk = geom.rho <= 1.0
                row.update(history_index=j, history_time=str(hist.times[j]), age_days=(tt[i] - th[j]) / _DAY_S,
                           covered_fraction=float(covered.sum() / max(1, disk.sum())))
            else:
                pred = zero_map(geom)
                row["reason"] = f"no history frame within {pp.tolerance_days * 24:g} h of {pp.days:g} d before {target.times[i]}"
            rows.append(row)
            writer.write_frame(k, geom, pred=pred)
            advance()
        table = spec.frame(rows)
        writer.write_table("source_frames", {"index": np.arange(len(indices)), "source_index": np.asarray(indices),
                                             "time": [str(target.times[i]) for i in indices]})
        writer.write_table("history", table)
        writer.finish(baseline=params["baseline"], n_without_history=int((table["history_index"] < 0).sum()))
    spec.write(table, out.parent)
    return out


# ---------------------------------------------------------------------------- the study
def _synth_params(store):
    from ..data.synthetic.params import SynthParams

    raw = store.attrs.get("params")
    if not isinstance(raw, dict) or raw.get("generator") != "euv2mag.synthetic":
        raise UserError("the far-side study needs a synthetic training store (the same Sun seen from other "
                        "observers is synthesised from its parameters)", path=store.path)
    names = {f.name for f in dataclasses.fields(SynthParams)}
    return SynthParams(**{k: v for k, v in raw.items() if k in names})


def _write_input(store, out: Path, indices: Sequence[int], scale: float, calibration, reference_q) -> Path:
    """Store ``out``: every frame of ``store`` with ``euv`` scaled by ``scale`` then calibrated, ``mag`` copied.

    The quantile map is fitted on the frames ``indices`` (the set being predicted) and applied to
    every frame; the frames keep their indices, so a prediction's seeded dropout is the one it
    has on ``store`` itself.
    """
    from ..data.crosscal import calibrate_frames, disk_quantiles, parse_calibration, quantile_transfer
    from ..data.store import FrameStore, StoreWriter

    if out.exists():
        try:
            if FrameStore(out).complete:
                return out
        except UserError:
            pass
    cal = parse_calibration(calibration)
    n = store.n_frames
    transfer = None
    if cal.method == "quantile":
        source = disk_quantiles([store.read("euv", i).astype(np.float64) * scale for i in indices],
                                [store.geometry(i).rho <= 1.0 for i in indices])
        transfer = (source, np.asarray(reference_q, dtype=np.float64))
    params = {"source_store": str(Path(store.path).resolve()), "fitted_on_indices": list(indices), "euv_scale": scale,
              "euv_calibration": cal.label, "arrays": ["euv", "mag"]}
    with StoreWriter.open(out, n_frames=n, shape=store.shape, arrays=["euv", "mag"], kind="prepared",
                          params=params, provenance=params, overwrite=True) as writer:
        for i in range(n):
            geom = store.geometry(i)
            euv = store.read("euv", i).astype(np.float64) * scale
            if transfer is not None:
                euv = quantile_transfer(euv, *transfer).astype(np.float32)
            else:
                euv = calibrate_frames([euv], [geom.rho <= 1.0], cal)[0]
            writer.write_frame(i, geom, euv=euv, mag=store.read("mag", i))
        writer.finish()
    return out


def _num(value) -> float:
    return math.nan if value is None else float(value)


def _skill_row(sep, name, summary, n_cov=math.nan, scale=math.nan, calibration="") -> dict:
    p = summary.predictions[name]
    ci = summary.ci or None

    def interval(*path):
        got = ci.get("predictions", name, *path) if ci else None
        return got if got is not None else (math.nan, math.nan)

    row = {"separation_deg": sep, "prediction": name, "kind": "persistence" if name == "persistence" else "model",
           "scale": scale, "calibration": calibration, "n_frames": int(p.n_frames), "covered_fraction": n_cov}
    values = {
        "tumf_cc": (p.fulldisk.tumf.cc, ("fulldisk", "tumf", "cc")),
        "mean_abs_cc": (p.fulldisk.mean_abs_cc, ("fulldisk", "mean_abs_cc")),
        "recall": (p.regions.recall, ("regions", "recall")),
        "fp_polarity_hale": (p.hale.hale.footprint_polarity_agreement,
                             ("hale", "hale", "footprint_polarity_agreement")),
        "fp_polarity_anti_hale": (p.hale.anti_hale.footprint_polarity_agreement,
                                  ("hale", "anti_hale", "footprint_polarity_agreement")),
    }
    for key, (value, path) in values.items():
        lo, hi = interval(*path)
        row.update({key: _num(value), f"{key}_lo": lo, f"{key}_hi": hi})
    row["n_fp_hale"] = int(p.hale.hale.n_footprint_determined)
    row["n_fp_anti_hale"] = int(p.hale.anti_hale.n_footprint_determined)
    return row


def _region_ages(sep: float, matches, truth, link_deg: float) -> list[dict]:
    """:data:`REGION_AGES` rows of the truth regions in an audit's ``matches`` (one prediction's rows)."""
    from ..data.splits import to_datetime64
    from ..data.synthetic.cycle import rotation_rate_deg_per_day
    from ..data.synthetic.cycle import CARRINGTON_RATE_DEG_PER_DAY

    names = truth.table_names()
    if "frame_regions" not in names or "regions" not in names:
        raise UserError("the far-side truth store has no generator tables (frame_regions, regions)", path=truth.path)
    fr, reg = truth.table("frame_regions"), truth.table("regions")
    model = (truth.attrs.get("params") or {}).get("rotation_model", "howard")
    emergence = dict(zip(reg["region_id"].astype(int), _mjd(to_datetime64(list(reg["emergence_time"].astype(str))))))
    times = [str(t) for t in truth.times]
    lookup = {t: i for i, t in enumerate(_mjd(to_datetime64(times)).round(6).tolist())}
    ref = matches[matches["status"].isin(["matched", "missed"])].drop_duplicates(["time", "ref_label"])
    t_ref = _mjd(to_datetime64(list(ref["time"].astype(str)))) if len(ref) else np.zeros(0)
    if not len(ref):
        return []
    emerg = [emergence.get(int(r), np.nan) for r in fr["region_id"]]
    t0 = float(np.nanmin(emerg)) if len(fr) else float(t_ref.min())
    grid = np.arange(min(t0, float(t_ref.min())) - AGE_STEP_DAYS, float(t_ref.max()) + AGE_STEP_DAYS, AGE_STEP_DAYS)
    l0, b0 = earth_l0_b0(grid)
    by_frame = {int(f): g for f, g in fr.groupby("frame")}
    rows = []
    for (_, r), t in zip(ref.iterrows(), t_ref):
        i = lookup.get(round(float(t), 6))
        cand = by_frame.get(i) if i is not None else None
        row = {"separation_deg": sep, "time": str(r["time"]), "ref_label": int(r["ref_label"]),
               "lat_deg": float(r["ref_lat_deg"]), "lon_deg": float(r["ref_lon_deg"]), "region_id": -1,
               "link_deg": math.nan, "days_since_earth_view": math.nan}
        if cand is not None and len(cand):
            la1, lo1 = np.radians(row["lat_deg"]), np.radians(row["lon_deg"])
            la2, lo2 = np.radians(cand["lat_deg"].to_numpy(float)), np.radians(cand["stonyhurst_lon_deg"].to_numpy(float))
            d = np.degrees(np.arccos(np.clip(np.sin(la1) * np.sin(la2) + np.cos(la1) * np.cos(la2) * np.cos(lo1 - lo2),
                                             -1, 1)))
            k = int(np.argmin(d))
            if d[k] <= link_deg:
                c = cand.iloc[k]
                rid = int(c["region_id"])
                rel = float(rotation_rate_deg_per_day(float(c["lat_deg"]), model)) - CARRINGTON_RATE_DEG_PER_DAY
                row.update(region_id=rid, link_deg=float(d[k]), days_since_earth_view=days_since_earth_view(
                    float(t), float(c["lat_deg"]), float(c["carrington_lon_deg"]), emergence.get(rid, -np.inf), rel,
                    grid, l0, b0))
        rows.append(row)
    return rows


def _mjd(datetimes) -> np.ndarray:
    return (np.asarray(datetimes).astype("datetime64[ms]").astype(np.int64) / 1000.0) / _DAY_S + 40587.0


def _age_rows(sep: float, name: str, matches, ages, edges) -> list[dict]:
    """:data:`AGES` rows of one prediction."""
    from .hale import _floats

    m = matches[(matches["pred"] == name) & matches["status"].isin(["matched", "missed"])]
    key = {(str(a.time), int(a.ref_label)): a.days_since_earth_view for a in ages.itertuples()
           if int(a.region_id) >= 0}
    age = np.array([key.get((str(t), int(lab)), -1.0) for t, lab in zip(m["time"], m["ref_label"])], dtype=float)
    linked = age != -1.0
    matched = (m["status"] == "matched").to_numpy()
    ref_lead, fp_lead = _floats(m["ref_leading_polarity"]), _floats(m["fp_gen_leading_polarity"])
    determined = (ref_lead != 0) & (fp_lead != 0) & np.isfinite(fp_lead)
    agree = fp_lead == ref_lead
    rows = []
    for label, lo, hi in _age_bins(edges):
        sel = linked & (np.isnan(age) if label == "never" else (age >= lo) & (age < hi))
        n, k = int(sel.sum()), int((sel & matched).sum())
        nd, kd = int((sel & determined).sum()), int((sel & determined & agree).sum())
        r_lo, r_hi = wilson_interval(k, n)
        p_lo, p_hi = wilson_interval(kd, nd)
        rows.append({"separation_deg": sep, "prediction": name, "age_bin": label, "age_lo_days": lo,
                     "age_hi_days": hi, "n_regions": n, "n_matched": k, "recall": k / n if n else math.nan,
                     "recall_lo": r_lo, "recall_hi": r_hi, "n_fp_determined": nd,
                     "fp_polarity": kd / nd if nd else math.nan, "fp_polarity_lo": p_lo, "fp_polarity_hi": p_hi})
    return rows


def history_split_rows(sep: float, history_days: float, matches, region_ages, history_table, regions,
                       predictions: Sequence[str] = ("model", "history", "persistence")) -> list[dict]:
    """:data:`HISTORY_SPLIT` rows of one separation.

    Parameters
    ----------
    sep, history_days : float
        Separation (deg) and history age asked for (days).
    matches : DataFrame
        The audit's :data:`~euv2mag.audit.files.MATCHES` rows of the separation.
    region_ages : DataFrame
        :data:`REGION_AGES` rows of the separation (truth regions linked to generator regions).
    history_table : DataFrame
        The history-input store's :data:`~euv2mag.data.history.HISTORY` table (``time``,
        ``history_time``; empty ``history_time``: no history).
    regions : DataFrame
        The truth store's generator table ``regions`` (``region_id``, ``emergence_time``).
    predictions : sequence of str
        Predictions to count.

    Returns
    -------
    list of dict
        Per prediction, group (``emerged_before``, ``emerged_after``, ``no_history``) and Hale
        class (``hale``, ``anti_hale``, ``all``): counts, recall and footprint polarity with
        Wilson 95 % intervals (they treat observations of one region in several frames as
        independent, as :data:`AGES` does).
    """
    from ..data.splits import to_datetime64
    from .hale import _floats

    emergence = dict(zip(regions["region_id"].astype(int), to_datetime64(list(regions["emergence_time"].astype(str)))))
    hist_time = {str(t): str(h) for t, h in zip(history_table["time"], history_table["history_time"])}
    linked = region_ages[region_ages["region_id"] >= 0]
    group = {}
    for r in linked.itertuples():
        h = hist_time.get(str(r.time), "")
        if not h:
            g = "no_history"
        else:
            g = "emerged_after" if emergence[int(r.region_id)] > to_datetime64([h])[0] else "emerged_before"
        group[(str(r.time), int(r.ref_label))] = g
    rows = []
    for name in predictions:
        m = matches[(matches["pred"] == name) & matches["status"].isin(["matched", "missed"])]
        g = np.array([group.get((str(t), int(lab)), "") for t, lab in zip(m["time"], m["ref_label"])], dtype=object)
        matched = (m["status"] == "matched").to_numpy()
        ref_lead, fp_lead = _floats(m["ref_leading_polarity"]), _floats(m["fp_gen_leading_polarity"])
        determined = (ref_lead != 0) & (fp_lead != 0) & np.isfinite(fp_lead) & np.isfinite(ref_lead)
        agree = fp_lead == ref_lead
        hale = m["hale_class"].astype(str).to_numpy()
        for grp in ("emerged_before", "emerged_after", "no_history"):
            for cls in ("hale", "anti_hale", "all"):
                sel = (g == grp) & ((hale == cls) if cls != "all" else True)
                n, k = int(sel.sum()), int((sel & matched).sum())
                nd, kd = int((sel & determined).sum()), int((sel & determined & agree).sum())
                r_lo, r_hi = wilson_interval(k, n)
                p_lo, p_hi = wilson_interval(kd, nd)
                rows.append({"separation_deg": sep, "prediction": name, "history_days": history_days, "group": grp,
                             "hale_class": cls, "n_regions": n, "n_matched": k, "recall": k / n if n else math.nan,
                             "recall_lo": r_lo, "recall_hi": r_hi, "n_fp_determined": nd,
                             "fp_polarity": kd / nd if nd else math.nan, "fp_polarity_lo": p_lo,
                             "fp_polarity_hi": p_hi})
    return rows


def _persistence_from_history(history_input: Path, out: Path) -> Path:
    """The ``persistence`` store of a history-input store: ``pred`` = its ``hist`` (same frames, table ``history``)."""
    from ..data.store import FrameStore, StoreWriter
    from .persistence import history_table_file

    src = FrameStore(history_input)
    table = src.table("history")
    params = {"baseline": "persistence-history", "history_input": str(Path(src.path).resolve()), "arrays": ["pred"]}
    with StoreWriter.open(out, n_frames=src.n_frames, shape=src.shape, arrays=["pred"], kind="prediction",
                          params=params, provenance={"baseline": params["baseline"]}, overwrite=True) as writer:
        for k in range(src.n_frames):
            writer.write_frame(k, src.geometry(k), pred=src.read("hist", k))
        writer.write_table("source_frames", src.table("source_frames"))
        writer.write_table("history", table)
        writer.finish(baseline=params["baseline"], n_without_history=int((table["history_index"] < 0).sum()))
    spec = history_table_file(out.name[:-5] if out.name.endswith(".zarr") else out.name)
    spec.write(spec.frame(table.to_dict("records")), out.parent)
    return out


def farside_study(run_dir, train_store, out, *, separations: Sequence[float] = SEPARATIONS, indices: str = "test",
                  split=None, calibration: str = "quantile", scales: Sequence[float] = SCALES,
                  persistence_days: float = 0.0, history_tolerance_days: float | None = None,
                  age_bins_days: Sequence[float] = AGE_BINS_DAYS, link_deg: float = LINK_DEG, n_boot: int = 200,
                  history_run=None, history_days="auto", max_history_age_days: float | None = None,
                  checkpoint: str = "best", device: str = "cpu", workers: int = 1,
                  progress: bool | None = None) -> FarsideSummary:
    """Run the far-side study (module docstring) and write its files to ``out``.

    Parameters
    ----------
    run_dir : path-like
        A training run (:func:`euv2mag.model.train.train_runs`) on the Earth view of ``train_store``.
    train_store : path-like
        The synthetic training store (Earth view): its parameters make the other observers' Sun,
        its training frames the EUV reference, its truth the persistence history.
    out : path-like
        Output folder (re-running resumes: stores already complete are kept, audits use their cache).
    separations : sequence of float
        Observer longitudes from Earth, deg in [0, 180] (0: the Earth view itself).
    indices : str
        Frames to predict: ``test``/``val``/``train`` (need ``split``), ``all`` or a comma list.
    split : path-like, optional
        Split JSON of ``train_store``; its ``train`` frames give the EUV reference (all frames without one).
    calibration : str
        ``none``, ``linear:F`` or ``quantile`` (:mod:`euv2mag.data.crosscal`).
    scales : sequence of float
        EUV scales applied before the calibration (1 is always included: the model as observed).
    persistence_days : float
        Age of the Earth-view history of the persistence baseline, days (0: the same time).
    history_tolerance_days : float, optional
        Largest distance of the history frame from ``t - persistence_days``, days.
    age_bins_days : sequence of float
        Edges of the history-age bins, days.
    link_deg : float
        Largest distance of a detected truth region from its generator region, deg.
    n_boot : int
        Block-bootstrap replicates of the audit's intervals (0: none).
    history_run : path-like, optional
        A run trained with ``history_channels`` (module docstring); its predictions are audited
        as ``history``, and ``persistence`` then uses the same history frames.
    history_days : float or "auto"
        History age of ``history_run``'s input and of ``persistence`` with it, days (``auto``:
        per separation, :func:`euv2mag.data.history.auto_history_days`).
    max_history_age_days : float, optional
        Largest accepted history age, days; older history is not used (skip-list entries).
    checkpoint, device : str
        Checkpoint of the run and torch device of the predictions.
    workers : int
        Processes of the audits.
    progress : bool, optional
        Show progress bars.

    Returns
    -------
    FarsideSummary
        Also written as ``out/farside.json``; the tables :data:`SKILL`, :data:`AGES` and
        :data:`REGION_AGES` are in ``out``.

    Raises
    ------
    UserError
        Bad options (one line, before anything is written), a store that is not synthetic, a
        run whose image size differs from the store's, a ``history_run`` not trained with
        history channels.
    """
    import pandas as pd

    from .._io import ensure_dir
    from .._lock import writer_lock
    from ..data.crosscal import EuvReference, parse_calibration
    from ..data.splits import resolve_indices
    from ..data.store import FrameStore
    from ..data.synthetic.observers import Observer
    from ..data.synthetic.writer import synthesize
    from ..model.predict import predict_run
    from .files import MATCHES
    from .pipeline import audit_stores

    fp = FarsideParams(separations=tuple(separations), scales=tuple(scales), calibration=calibration,
                       persistence_days=persistence_days, history_tolerance_days=history_tolerance_days,
                       age_bins_days=tuple(age_bins_days), link_deg=link_deg, n_boot=n_boot,
                       history_days=history_days, max_history_age_days=max_history_age_days)
    cal = parse_calibration(fp.calibration)
    if not Path(run_dir).is_dir():
        raise UserError("is not a run folder", path=run_dir)
    if history_run is not None:
        from ..model.config import TrainConfig

        if not (Path(history_run) / "config.toml").is_file():
            raise UserError("is not a run folder (no config.toml)", path=history_run)
        if not TrainConfig.read(Path(history_run) / "config.toml").history_channels:
            raise UserError("was not trained with history channels (train it on a store written by "
                            "'euv2mag history' with --history-channels)", path=history_run)
        if fp.persistence_days:
            raise UserError("with a history run, persistence uses the history run's age; leave persistence_days "
                            "at 0 and set history_days", parameter="persistence_days")
    train = FrameStore(train_store)
    params = _synth_params(train)
    if not train.has("euv"):
        raise UserError("has no 'euv' array", path=train.path)
    idx = resolve_indices(indices, train.n_frames, split, times=train.times)
    train_idx = resolve_indices("train", train.n_frames, split, times=train.times) if split else list(range(train.n_frames))
    out = ensure_dir(out, parameter="out")
    with writer_lock(out):
        reference = EuvReference.from_store(train, train_idx)
        reference.write(out)
        skill, region_ages, ages, split_rows, folders = [], [], [], [], {}
        hist_info = {"days": {}, "n_without_history": {}}
        for sep in fp.separations:
            folder = ensure_dir(out / f"sep-{sep:g}")
            if sep == 0:
                truth_path = Path(train.path)
            else:
                truth_path = folder / "truth.zarr"
                synthesize(truth_path, params, observer=Observer(kind="fixed", hgln_deg=sep), progress=progress)
            truth = FrameStore(truth_path)
            preds = {}
            for scale in fp.scales:
                name = "model" if scale == 1.0 else f"model-x{scale:g}"
                inp = _write_input(truth, folder / f"input-x{scale:g}.zarr", idx, scale, cal, reference.quantiles)
                preds[name] = predict_run(run_dir, inp, folder / f"{name}.zarr", indices=",".join(map(str, idx)),
                                          checkpoint=checkpoint,
                                          copy_inputs=False, device=device, progress=progress)
            if history_run is None:
                preds["persistence"] = write_cross_persistence(train.path, truth_path, folder / "persistence.zarr",
                                                               idx, days=fp.persistence_days,
                                                               tolerance_days=fp.history_tolerance_days,
                                                               progress=progress)
            else:
                from ..data.history import write_history_store
                from .baselines import _store_rotation_model

                hin = write_history_store(train.path, folder / "input-x1.zarr", folder / "input-history.zarr",
                                          days=fp.history_days, separation_deg=sep, indices=idx,
                                          tolerance_days=fp.history_tolerance_days,
                                          max_age_days=fp.max_history_age_days,
                                          rotation_model=_store_rotation_model(truth), progress=progress)
                preds["history"] = predict_run(history_run, hin, folder / "history.zarr", indices="all",
                                               checkpoint=checkpoint, copy_inputs=False, device=device,
                                               progress=progress)
                preds["persistence"] = _persistence_from_history(hin, folder / "persistence.zarr")
            result = audit_stores(truth_path, {k: str(v) for k, v in preds.items()}, out=folder / "audit",
                                  n_boot=fp.n_boot, workers=workers, progress=progress)
            summary = result.summary
            history = pd.DataFrame(FrameStore(preds["persistence"]).table("history"))
            for name in preds:
                scale = (math.nan if name == "persistence" else 1.0 if name in ("model", "history")
                         else float(name[7:]))
                cov = float(history["covered_fraction"].mean()) if name in ("persistence", "history") else math.nan
                skill.append(_skill_row(sep, name, summary, cov, scale, "" if name == "persistence" else cal.label))
            matches = MATCHES.read(folder / "audit")
            rows = _region_ages(sep, matches[matches["pred"] == "model"], truth, fp.link_deg)
            region_ages.extend(rows)
            ages_df = REGION_AGES.frame(rows)
            for name in ("model", *(("history",) if history_run is not None else ()), "persistence"):
                ages.extend(_age_rows(sep, name, matches, ages_df, fp.age_bins_days))
            if history_run is not None:
                from ..data.history import auto_history_days, default_tolerance_days

                days = (auto_history_days(sep, 2.0 * default_tolerance_days(train.times), _store_rotation_model(truth))
                        if fp.history_days == "auto" else float(fp.history_days))
                hist_info["days"][f"{sep:g}"] = days
                hist_info["n_without_history"][f"{sep:g}"] = int((history["history_index"] < 0).sum())
                split_rows.extend(history_split_rows(sep, days, matches, ages_df, history, truth.table("regions")))
            folders[f"{sep:g}"] = folder.name
        SKILL.write(SKILL.frame(skill), out)
        REGION_AGES.write(REGION_AGES.frame(region_ages), out)
        AGES.write(AGES.frame(ages), out)
        if history_run is not None:
            HISTORY_SPLIT.write(HISTORY_SPLIT.frame(split_rows), out)
            hist_info.update(run=str(Path(history_run).resolve()), max_age_days=fp.max_history_age_days,
                             history_days_option=fp.history_days)
        summary = FarsideSummary(params=fp.to_dict(), run_dir=str(Path(run_dir).resolve()),
                                 train_store=str(Path(train.path).resolve()), indices=[int(i) for i in idx],
                                 times=[str(train.times[i]) for i in idx], folders=folders,
                                 history=hist_info if history_run is not None else {})
        summary.write(out)
    return summary
