"""Field history: an earlier magnetogram carried to a frame's time and view, and the history input channels.

The prior of history-based (far-side) models (Jeong et al. 2022, ApJS 262, 50): the latest
magnetogram of one observer (Earth) at ``t - D``, moved by differential rotation and
reprojected into the view of the frame to predict at ``t`` (any observer), with its age ``D``.
:mod:`euv2mag.audit.persistence` uses it as a baseline prediction; a model trained with
``history_channels`` (:class:`euv2mag.model.config.TrainConfig`) reads it as extra input
(:func:`history_channels`) from a *history-input store* (:func:`write_history_store`).

History frame
    The frame of the history store whose time is nearest to ``t - D``, accepted when it lies
    within ``tolerance`` of ``t - D`` (default half the median spacing of the history store's
    frames, :func:`default_tolerance_days`); its actual time is used for the rotation, so a
    frame a little off ``t - D`` changes the age of the information, never the positions.

Rotation and reprojection (:func:`rotate_map`)
    The history map is reprojected onto the frame's pixel grid with sunpy's solar-surface
    propagation (:func:`sunpy.coordinates.propagate_with_solar_surface`, the sidereal
    differential-rotation law ``rotation_model``, default ``howard``, the synthetic Sun's
    default) and reproject's adaptive, anti-aliased, flux-conserving resampling
    (:func:`reproject.reproject_adaptive` with ``conserve_flux=True``, DeForest 2004, with the
    Hann kernel: an unmoved image comes back exactly, so a history of age 0 in the same view is
    the truth on ``mu >= mu_min``).  Each frame's WCS is a helioprojective TAN grid built from
    its :class:`~euv2mag.geometry.DiskGeometry` (:func:`euv2mag.data.maps.wcs_header`), the
    observer at the frame's time and at its own Stonyhurst longitude
    (:func:`euv2mag.data.maps.observer_hgln_deg`), so the history and the target may be seen
    from different observers.  The field is taken as radial (``B_LOS = B_r mu``): the radial
    flux ``B_r A`` per pixel is what is carried and conserved, and the frame's
    ``B_LOS = B_r mu`` uses its own ``mu``.  On the disk, pixels whose surface point was not
    visible at ``t - D`` or was seen there at ``mu < mu_min`` (default :data:`HISTORY_MU_MIN`)
    get 0 G and are not *covered*.

History-input store (:func:`write_history_store`)
    A copy of the chosen frames of a target store (``euv``, ``mag``) with two more image
    arrays: ``hist`` (G, the history at the frame's time and view: NaN off the disk, 0 G on the
    disk where there is no history) and ``hist_cover`` (1 on covered disk pixels, 0 elsewhere),
    the table ``history`` (:data:`HISTORY`: history frame, time, ``age_days``,
    ``covered_fraction`` and, for a frame without history, the reason) and ``source_frames``.
    The age ``D`` is a number of days, ``auto`` (:func:`auto_history_days`: the age at which the
    surface at the observer's disk centre was at Earth's central meridian, for an observer
    ``separation_deg`` west of Earth) or a range ``lo:hi`` from which each frame draws its own
    age (uniform, seeded by ``seed`` and the frame index): a training store with drawn ages
    shows the model both fresh and stale history and every coverage between (an Earth-view
    history of age ``D`` covers roughly the disk but the ``~13 D`` deg wide band that rotated
    in over the east limb since).  A frame whose history frame is older than ``max_age_days``,
    or which has none within the tolerance, gets no history (``hist`` 0 G, ``hist_cover`` 0,
    age NaN) and is listed with the reason: a skip-list entry (``on_stale="error"`` makes it a
    one-line :class:`~euv2mag.errors.UserError` instead).

History input channels (:func:`history_channels`)
    Three channels appended to the model input: the history field in the model's magnetogram
    scaling (the scaling of its target, so equal fields have equal values in input and output),
    the coverage mask, and the age as ``min(age / AGE_SCALE_DAYS, 1)`` on the disk (0 off it;
    1 for a frame without history).  The age is given because what the history is worth
    depends on it beyond what the coverage shows: regions emerge and decay on time scales of
    days, so an equally covered disk means more at 1 day than at 10.
"""
from __future__ import annotations

import dataclasses
import math
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import UserError
from ..tables import Column, TableFile

__all__ = ["HISTORY_MU_MIN", "ROTATION_MODELS", "HISTORY", "HISTORY_ARRAYS", "AGE_SCALE_DAYS", "HistoryParams",
           "history_table_file", "default_tolerance_days", "history_frames", "rotate_map",
           "equatorial_synodic_rate_deg_per_day", "auto_history_days", "parse_history_days", "history_channels",
           "history_ages", "read_history", "write_history_store"]

#: Smallest ``mu`` of a history pixel whose field is carried (module docstring).
HISTORY_MU_MIN = 0.2
#: sunpy's differential-rotation laws (:func:`sunpy.sun.models.differential_rotation`).
ROTATION_MODELS = ("howard", "snodgrass", "allen", "rigid")
_DAY_S = 86400.0

#: Per-frame record of a store built from a history (a ``persistence-D`` prediction or a
#: history-input store): the table ``history`` inside it and, for persistence, the CSV
#: ``<kind>.history.csv`` beside it (file name set per kind by :func:`history_table_file`).
HISTORY = TableFile(
    "history.csv",
    (
        Column("index", "int64", "", "frame index in this store (prediction or history input)"),
        Column("source_index", "int64", "", "frame index in the target (truth) store"),
        Column("time", "str", "", "frame time, ISO 8601 UTC"),
        Column("history_index", "int64", "", "frame of the history store used as history (-1: none)"),
        Column("history_time", "str", "", "its time, ISO 8601 UTC (empty: none)"),
        Column("age_days", "float64", "d", "frame time minus history time (NaN: none)"),
        Column("covered_fraction", "float64", "",
               "share of the disk pixels (rho <= 1) that have history (0 without a history frame)"),
        Column("reason", "str", "", "why the frame has no history frame: none within the tolerance, or "
               "older than the maximum age (empty when it has one)"),
    ),
    "one row per frame of a persistence-D prediction store or a history-input store (euv2mag.data.history)",
)


def history_table_file(kind: str) -> TableFile:
    """:data:`HISTORY` with the file name ``<kind>.history.csv``."""
    return dataclasses.replace(HISTORY, filename=f"{kind}.history.csv")



def _seconds(times) -> np.ndarray:
    from .splits import to_datetime64

    return to_datetime64([str(t) for t in times]).astype("datetime64[ms]").astype(np.int64) / 1000.0


def default_tolerance_days(times: Sequence[str]) -> float:
    """Half the median spacing of the distinct frame ``times`` (ISO 8601 UTC), days; 0 for one frame."""
    t = np.unique(_seconds(times))
    if t.size < 2:
        return 0.0
    return 0.5 * float(np.median(np.diff(t))) / _DAY_S


def history_frames(times: Sequence[str], targets: Sequence[int], days: float,
                   tolerance_days: float) -> tuple[np.ndarray, np.ndarray]:
    """The history frame of every target frame: the frame nearest to ``t - days`` within the tolerance.

    Parameters
    ----------
    times : sequence of str
        ISO 8601 UTC times of all frames of the truth store.
    targets : sequence of int
        Indices (into ``times``) of the frames to predict.
    days : float
        History age ``D``, days.
    tolerance_days : float
        Largest ``|t_history - (t - D)|``, days.

    Returns
    -------
    index : (len(targets),) ndarray of int
        History frame per target (-1: none within the tolerance).
    age_days : (len(targets),) ndarray of float
        ``t - t_history`` in days (NaN: none).

    Examples
    --------
    >>> times = ["2014-01-01T00:00:00", "2014-01-02T00:00:00", "2014-01-03T01:00:00"]
    >>> idx, age = history_frames(times, [2, 1, 0], 2.0, 0.5)
    >>> idx.tolist(), [round(a, 3) for a in age.tolist()]
    ([0, -1, -1], [2.042, nan, nan])
    """
    t = _seconds(times)
    index = np.full(len(targets), -1, dtype=np.int64)
    age = np.full(len(targets), np.nan)
    for k, i in enumerate(targets):
        want = t[int(i)] - days * _DAY_S
        j = int(np.argmin(np.abs(t - want)))
        if abs(t[j] - want) <= tolerance_days * _DAY_S + 1e-3:
            index[k] = j
            age[k] = (t[int(i)] - t[j]) / _DAY_S
    return index, age


def _source_mu(target, history, rotation_model: str) -> np.ndarray:
    """``mu`` at which the history observer saw the surface point that rotated into each target pixel.

    (H, W) float; NaN off the target disk, <= 0 where the point was on the far side.
    """
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from astropy.time import Time
    from sunpy.coordinates import HeliographicStonyhurst, propagate_with_solar_surface

    from .maps import frame_wcs, observer_hgln_deg

    on = np.isfinite(target.mu)
    ys, xs = np.nonzero(on)
    out = np.full(target.shape, np.nan)
    if not ys.size:
        return out
    wcs = frame_wcs(target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coords = wcs.pixel_to_world(xs, ys)
        coords = SkyCoord(coords.frame.make_3d())  # the visible surface point of each pixel
        with propagate_with_solar_surface(rotation_model=rotation_model):
            hgs = coords.transform_to(HeliographicStonyhurst(obstime=Time(history.time)))
    # the geometry's longitudes are counted from its own observer's central meridian
    lon = hgs.lon.to_value(u.deg) - observer_hgln_deg(history)
    _, _, mu = history.hgs_to_pixel(hgs.lat.to_value(u.deg), lon)
    out[ys, xs] = mu
    return out


def rotate_map(history_g: np.ndarray, history, target, *, mu_min: float = HISTORY_MU_MIN,
               rotation_model: str = "howard") -> tuple[np.ndarray, np.ndarray]:
    """The history map carried by differential rotation to the target frame (module docstring).

    Parameters
    ----------
    history_g : (H, W) ndarray
        History LOS field in G (NaN off the disk).
    history, target : DiskGeometry
        Geometries (with times) of the history and the target frame.
    mu_min : float
        Smallest ``mu`` of a history pixel whose field is carried.
    rotation_model : str
        sunpy differential-rotation law.

    Returns
    -------
    pred : (H, W) ndarray of float32
        LOS field in G at the target time: NaN off the disk (``rho > 1``), 0 G on the disk where
        there is no history.
    covered : (H, W) ndarray of bool
        Disk pixels that have history.
    """
    from reproject import reproject_adaptive
    from sunpy.coordinates import propagate_with_solar_surface

    from .maps import frame_wcs

    if not (history.time and target.time):
        raise UserError("a field history needs frame times in the geometry")
    hist = np.asarray(history_g, dtype=np.float64)
    mu_h = history.mu
    usable = np.isfinite(hist) & (mu_h >= mu_min)
    # flux per pixel of the radial field: B_r * A = (B_LOS / mu) * (A_proj / mu), in G Mm^2
    flux = np.zeros(history.shape)
    flux[usable] = hist[usable] * history.projected_pixel_area_mm2 / mu_h[usable] ** 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with propagate_with_solar_surface(rotation_model=rotation_model):
            carried, _ = reproject_adaptive((flux, frame_wcs(history)), frame_wcs(target), shape_out=target.shape,
                                            conserve_flux=True, kernel="hann", boundary_mode="constant",
                                            boundary_fill_value=0.0,
                                            bad_value_mode="constant", bad_fill_value=0.0)
    mu_t = target.mu
    covered = np.isfinite(mu_t) & (_source_mu(target, history, rotation_model) >= mu_min) & np.isfinite(carried)
    pred = np.zeros(target.shape)
    # B_LOS = B_r mu with B_r = flux / (A_proj / mu)
    pred[covered] = carried[covered] * mu_t[covered] ** 2 / target.projected_pixel_area_mm2
    pred[target.rho > 1.0] = np.nan
    return pred.astype(np.float32), covered & (target.rho <= 1.0)


# ---------------------------------------------------------------------------- history inputs
#: The image arrays of a history-input store beside ``euv`` and ``mag``.
HISTORY_ARRAYS = ("hist", "hist_cover")
#: Age that maps to 1 in the age channel, days: the synodic Carrington period (27.2753 d).
AGE_SCALE_DAYS = 27.2753
_STALE = ("skip", "error")


def equatorial_synodic_rate_deg_per_day(rotation_model: str = "howard") -> float:
    """Synodic (seen from Earth) rotation rate of the equator, deg/day, of a sunpy rotation law.

    sunpy's :func:`sunpy.sun.models.differential_rotation` over one day at latitude 0 with
    ``frame_time="synodic"``: 13.34 deg/day for ``howard`` (Howard et al. 1990, the synthetic
    Sun's default), 13.13 for ``snodgrass``, 13.45 for ``allen``, 13.20 for ``rigid`` (the
    Carrington rate).
    """
    import astropy.units as u
    from sunpy.sun.models import differential_rotation

    if rotation_model not in ROTATION_MODELS:
        raise UserError(f"unknown rotation model {rotation_model!r}; choose from {', '.join(ROTATION_MODELS)}",
                        parameter="rotation_model")
    return float(differential_rotation(1 * u.day, 0 * u.deg, model=rotation_model,
                                       frame_time="synodic").to_value(u.deg))


def auto_history_days(separation_deg: float, cadence_days: float | None = None,
                      rotation_model: str = "howard") -> float:
    """The ``auto`` history age for an observer ``separation_deg`` west of Earth, days.

    The age at which the surface now at the observer's disk centre was at Earth's central
    meridian: ``separation / rate`` with the equator's synodic rate
    (:func:`equatorial_synodic_rate_deg_per_day`), rounded to a whole number of ``cadence_days``
    (the history store's frame spacing) when given.

    Examples
    --------
    >>> round(auto_history_days(60.0), 2), auto_history_days(60.0, 2.0), auto_history_days(0.0, 1.0)
    (4.5, 4.0, 0.0)
    """
    sep = float(separation_deg)
    if not (math.isfinite(sep) and 0 <= sep <= 180):
        raise UserError(f"the auto history age needs a separation in [0, 180] deg, got {separation_deg!r}",
                        parameter="history_days")
    days = sep / equatorial_synodic_rate_deg_per_day(rotation_model)
    if cadence_days:
        days = round(days / cadence_days) * cadence_days
    return float(days)


def parse_history_days(value) -> float | str | tuple[float, float]:
    """A history age option: a number of days >= 0, ``"auto"``, or a range ``"lo:hi"`` (or a pair).

    Examples
    --------
    >>> parse_history_days("7"), parse_history_days("auto"), parse_history_days("0:14")
    (7.0, 'auto', (0.0, 14.0))
    """
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "auto":
            return "auto"
        if ":" in text:
            value = tuple(text.split(":"))
    try:
        if isinstance(value, (tuple, list)):
            if len(value) != 2:
                raise ValueError
            lo, hi = (float(v) for v in value)
            if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo <= hi):
                raise ValueError
            return (lo, hi)
        days = float(value)
        if not (math.isfinite(days) and days >= 0):
            raise ValueError
        return days
    except (TypeError, ValueError):
        raise UserError(f"history age must be days >= 0, 'auto' or a range lo:hi, got {value!r}",
                        parameter="history_days") from None


@dataclasses.dataclass(frozen=True)
class HistoryParams:
    """Parameters of a history-input store (:func:`write_history_store`).

    Parameters
    ----------
    days : float, "auto" or (lo, hi)
        History age ``D`` in days, ``auto`` (needs ``separation_deg``) or a range of days from
        which each frame draws its age (:func:`parse_history_days`).
    separation_deg : float, optional
        Stonyhurst longitude of the target observer, deg west of Earth (for ``auto``).
    tolerance_days : float, optional
        Largest distance of the history frame from ``t - D``, days (default: half the history
        store's median frame spacing).
    max_age_days : float, optional
        Largest accepted age of a history frame, days (None: any).
    on_stale : {"skip", "error"}
        A frame without an acceptable history frame: listed with the reason (``skip``) or a
        one-line error (``error``).
    mu_min : float
        Smallest ``mu`` of a history pixel whose field is carried.
    rotation_model : str, optional
        sunpy differential-rotation law (default: the target store's synthetic ``rotation_model``,
        else ``howard``).
    seed : int
        Seed of the per-frame age draws of a range.
    """

    days: object = 0.0
    separation_deg: float | None = None
    tolerance_days: float | None = None
    max_age_days: float | None = None
    on_stale: str = "skip"
    mu_min: float = HISTORY_MU_MIN
    rotation_model: str | None = None
    seed: int = 0

    def __post_init__(self):
        days = parse_history_days(self.days)
        object.__setattr__(self, "days", days)
        if days == "auto" and self.separation_deg is None:
            raise UserError("history age 'auto' needs the observer's separation from Earth", parameter="history_days")
        for name in ("tolerance_days", "max_age_days"):
            value = getattr(self, name)
            if value is not None:
                if not (isinstance(value, (int, float)) and math.isfinite(float(value)) and float(value) >= 0):
                    raise UserError(f"must be a number of days >= 0, got {value!r}", parameter=name)
                object.__setattr__(self, name, float(value))
        if self.max_age_days is not None:
            fixed = days if isinstance(days, float) else (days[0] if isinstance(days, tuple) else None)
            if fixed is not None and fixed > self.max_age_days:
                raise UserError(f"history age {fixed:g} d exceeds the maximum age {self.max_age_days:g} d",
                                parameter="max_age_days")
        if self.on_stale not in _STALE:
            raise UserError(f"must be one of {', '.join(_STALE)}, got {self.on_stale!r}", parameter="on_stale")
        if not 0 < float(self.mu_min) < 1:
            raise UserError(f"must lie in (0, 1), got {self.mu_min!r}", parameter="mu_min")
        if self.rotation_model is not None and self.rotation_model not in ROTATION_MODELS:
            raise UserError(f"unknown rotation model {self.rotation_model!r}; choose from {', '.join(ROTATION_MODELS)}",
                            parameter="rotation_model")

    def frame_days(self, indices: Sequence[int], cadence_days: float, rotation_model: str) -> np.ndarray:
        """The wanted age ``D`` of each target frame ``indices`` (days)."""
        idx = [int(i) for i in indices]
        if self.days == "auto":
            return np.full(len(idx), auto_history_days(self.separation_deg, cadence_days, rotation_model))
        if isinstance(self.days, tuple):
            lo, hi = self.days
            return np.array([np.random.default_rng([int(self.seed), i]).uniform(lo, hi) for i in idx])
        return np.full(len(idx), float(self.days))

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["days"] = list(d["days"]) if isinstance(d["days"], tuple) else d["days"]
        return d


def history_channels(hist_g: np.ndarray, cover: np.ndarray, age_days: float, geometry, mag_scaling) -> np.ndarray:
    """The three history input channels of a frame (module docstring).

    Parameters
    ----------
    hist_g : (H, W) ndarray
        History LOS field in G at the frame's time and view (NaN off the disk).
    cover : (H, W) ndarray
        1 (or True) on disk pixels that have history.
    age_days : float
        Age of the history, days (NaN: none).
    geometry : DiskGeometry
        The frame's geometry.
    mag_scaling : MagScaling
        The model's magnetogram scaling.

    Returns
    -------
    (3, H, W) ndarray of float32
        Scaled history field (0 G where not covered and off the disk), coverage (0/1), and
        ``min(age / AGE_SCALE_DAYS, 1)`` on the disk (1 without history), 0 off the disk.
    """
    on = geometry.disk_mask(1.0)
    covered = (np.nan_to_num(np.asarray(cover, dtype=np.float64)) > 0.5) & on
    field = mag_scaling.to_unit(np.where(covered, np.nan_to_num(np.asarray(hist_g, dtype=np.float64)), 0.0))
    age = 1.0 if not math.isfinite(float(age_days)) else min(max(float(age_days), 0.0) / AGE_SCALE_DAYS, 1.0)
    return np.stack([field, covered.astype(np.float32), np.where(on, age, 0.0)]).astype(np.float32)


def history_ages(store) -> np.ndarray:
    """Per-frame history age of a history-input store, days (NaN: no history).

    Raises
    ------
    UserError
        The store lacks the arrays ``hist``/``hist_cover`` or the table ``history`` (one line
        naming the store).
    """
    missing = [a for a in HISTORY_ARRAYS if not store.has(a)]
    if missing or "history" not in store.table_names():
        raise UserError(f"has no field history (arrays {', '.join(HISTORY_ARRAYS)} and table 'history'); "
                        "write a history-input store with 'euv2mag history' first", path=store.path)
    table = store.table("history")
    ages = np.full(store.n_frames, np.nan)
    ages[table["index"].to_numpy(int)] = table["age_days"].to_numpy(float)
    return ages


def read_history(store, index: int, ages: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """``(hist_g, hist_cover, age_days)`` of frame ``index`` of a history-input store."""
    ages = history_ages(store) if ages is None else ages
    return store.read("hist", index), store.read("hist_cover", index), float(ages[int(index)])


def write_history_store(history_store, target_store, out, *, days=0.0, separation_deg: float | None = None,
                        indices: Sequence[int] | None = None, tolerance_days: float | None = None,
                        max_age_days: float | None = None, on_stale: str = "skip", seed: int = 0,
                        mu_min: float = HISTORY_MU_MIN, rotation_model: str | None = None,
                        progress: bool | None = None) -> Path:
    """Write a history-input store: frames of ``target_store`` with the ``history_store``'s field history.

    Parameters
    ----------
    history_store : path-like
        Store whose ``mag`` (G) is the history (Earth view).
    target_store : path-like
        Store with ``euv`` and ``mag`` of the frames to give a history (any observer; may be
        ``history_store`` itself for an Earth-view training store).
    out : path-like
        The store to write (re-running with the same parameters resumes).
    days : float, "auto", (lo, hi) or str
        History age (:class:`HistoryParams`).
    separation_deg : float, optional
        Target observer's longitude west of Earth, deg (for ``auto``).
    indices : sequence of int, optional
        Target frames, in order (default all: the store keeps the target's frame indices, so its
        splits apply unchanged).
    tolerance_days, max_age_days, on_stale, seed, mu_min, rotation_model :
        See :class:`HistoryParams`.
    progress : bool, optional
        Show a progress bar.

    Returns
    -------
    Path
        ``out``: arrays ``euv``, ``mag``, ``hist``, ``hist_cover``; tables ``history``
        (:data:`HISTORY`), ``source_frames`` and, when all frames are written (their indices
        unchanged), the target's own tables (e.g. the synthetic truth).

    Raises
    ------
    UserError
        Bad options or stores (before anything is written); with ``on_stale="error"``, a frame
        without an acceptable history frame (one line naming the frame and its age).
    """
    from ..progress import progress_bar
    from .store import FrameStore, StoreWriter

    hist, target = FrameStore(history_store), FrameStore(target_store)
    if not hist.has("mag"):
        raise UserError("has no 'mag' array to take the history from", path=hist.path)
    for name in ("euv", "mag"):
        if not target.has(name):
            raise UserError(f"has no {name!r} array", path=target.path)
    model = rotation_model
    if model is None:
        raw = target.attrs.get("params")
        model = raw.get("rotation_model") if isinstance(raw, dict) else None
        model = model if model in ROTATION_MODELS else "howard"
    hp = HistoryParams(days, separation_deg=separation_deg, tolerance_days=tolerance_days, max_age_days=max_age_days,
                       on_stale=on_stale, mu_min=mu_min, rotation_model=model, seed=seed)
    idx = list(range(target.n_frames)) if indices is None else [int(i) for i in indices]
    if not idx or any(not 0 <= i < target.n_frames for i in idx):
        raise UserError(f"frame indices must lie in 0..{target.n_frames - 1}", path=target.path)
    cadence = 2.0 * default_tolerance_days(hist.times)
    tol = cadence / 2.0 if hp.tolerance_days is None else hp.tolerance_days
    want = hp.frame_days(idx, cadence, model)
    th, tt = _seconds(hist.times), _seconds(target.times)
    plan = []
    for k, (i, d) in enumerate(zip(idx, want)):
        j = int(np.argmin(np.abs(th - (tt[i] - d * _DAY_S))))
        age = (tt[i] - th[j]) / _DAY_S
        reason = ""
        if abs(th[j] - (tt[i] - d * _DAY_S)) > tol * _DAY_S + 1e-3:
            reason = f"no history frame within {tol * 24:g} h of {d:g} d before {target.times[i]}"
        elif hp.max_age_days is not None and age > hp.max_age_days + 1e-9:
            reason = f"history age {age:.3g} d exceeds the maximum {hp.max_age_days:g} d"
        if reason and hp.on_stale == "error":
            raise UserError(f"frame {i} ({target.times[i]}): {reason}", path=target.path)
        plan.append((k, i, -1 if reason else j, math.nan if reason else age, reason))
    out = Path(out)
    params = {"history_store": str(Path(hist.path).resolve()), "source_store": str(Path(target.path).resolve()),
              "source_indices": idx, "history": hp.to_dict(), "arrays": ["euv", "mag", *HISTORY_ARRAYS]}
    rows = []
    with StoreWriter.open(out, n_frames=len(idx), shape=target.shape, arrays=["euv", "mag", *HISTORY_ARRAYS],
                          kind="prepared", params=params, provenance=params) as writer, \
            progress_bar("history", len(idx), enabled=progress) as advance:
        pending = set(writer.pending())
        written = FrameStore(out, require_complete=False) if len(pending) < len(idx) else None
        for k, i, j, age, reason in plan:
            geom = target.geometry(i)
            disk = geom.rho <= 1.0
            row = {"index": k, "source_index": i, "time": str(target.times[i]), "history_index": j,
                   "history_time": str(hist.times[j]) if j >= 0 else "", "age_days": age, "covered_fraction": 0.0,
                   "reason": reason}
            if k not in pending:  # resumed: the frame is written already
                covered = np.nan_to_num(written.read("hist_cover", k)) > 0.5
            elif j >= 0:
                field, covered = rotate_map(hist.read("mag", j), hist.geometry(j), geom, mu_min=hp.mu_min,
                                            rotation_model=model)
            else:
                field = np.where(disk, 0.0, np.nan).astype(np.float32)
                covered = np.zeros(geom.shape, dtype=bool)
            if k in pending:
                writer.write_frame(k, geom, euv=target.read("euv", i), mag=target.read("mag", i), hist=field,
                                   hist_cover=np.where(disk, covered, np.nan).astype(np.float32))
            row["covered_fraction"] = float((covered & disk).sum() / max(1, disk.sum()))
            rows.append(row)
            advance()
        writer.write_table("history", HISTORY.frame(rows))
        writer.write_table("source_frames", {"index": np.arange(len(idx)), "source_index": np.asarray(idx),
                                             "time": [str(target.times[i]) for i in idx]})
        for name in target.table_names() if indices is None else ():  # frame numbers still valid
            if name not in ("history", "source_frames"):
                writer.write_table(name, target.table(name))
        writer.finish(n_without_history=int(sum(1 for p in plan if p[2] < 0)))
    return out
