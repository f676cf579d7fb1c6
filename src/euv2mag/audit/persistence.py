"""The ``persistence-D`` baseline: the truth D days earlier, rotated to the frame time.

For a frame at time ``t`` the prediction is the truth frame observed ``D`` days earlier,
carried to ``t`` by the Sun's differential rotation and seen from the observer at ``t``: the
prior that history-based (e.g. far-side) models start from (Jeong et al. 2022, ApJS 262, 50).
Regions that emerged after ``t - D`` are absent by construction, regions that decayed since
are still there, and everything is where differential rotation has carried it.

History frame
    The truth frame whose time is nearest to ``t - D`` (any frame of the truth store, not only
    those being predicted), accepted when it lies within ``tolerance`` of ``t - D``; the default
    tolerance is half the median spacing of the store's frame times (so a regular store always
    has one candidate and never hands out a frame one cadence step too old or young).  Its
    actual time is used for the rotation, so a history frame a little off ``t - D`` changes the
    age of the information, never the positions.  A frame without such a history frame is
    never given one of another age: its prediction is 0 G on the whole disk (the "nothing
    known" prior, so that the store still covers the same frames as every other prediction and
    :func:`euv2mag.audit.audit_stores` reads them together; the audit refuses NaN on the disk),
    and it is listed with the reason in the store's table ``history`` and in the CSV
    :data:`HISTORY` beside the store.

Rotation and reprojection
    The history map is reprojected onto the frame's pixel grid with sunpy's solar-surface
    propagation (:func:`sunpy.coordinates.propagate_with_solar_surface`, the sidereal
    differential-rotation law ``rotation_model``, default ``howard``, the synthetic Sun's
    default) and reproject's adaptive, anti-aliased, flux-conserving resampling
    (:func:`reproject.reproject_adaptive` with ``conserve_flux=True``, DeForest 2004, with the
    Hann kernel: an unmoved image comes back exactly, so ``persistence-0`` is the truth on
    ``mu >= mu_min``, where reproject's default Gaussian kernel would blur it by ~1 px).  Each
    frame's WCS is a helioprojective TAN grid built from its
    :class:`~euv2mag.geometry.DiskGeometry` (:func:`euv2mag.data.maps.wcs_header`), the
    observer at the frame's time and at its own Stonyhurst longitude
    (:func:`euv2mag.data.maps.observer_hgln_deg`), so the history and the target may be seen
    from different observers (an Earth-view history carried into a far-side observer's view,
    :mod:`euv2mag.audit.farside`).  (prepare's flux-conserving rebinning,
    :func:`euv2mag.data.fits.prepare_array`, handles affine maps only; a differential rotation
    shears the disk by latitude, so it is not reused here.)

Line-of-sight field (G)
    A magnetogram gives ``B_LOS``, the projection of the field on the line of sight, and the
    same surface field is seen at another heliocentric angle after rotation.  The field is
    taken as radial (``B_LOS = B_r mu``; the approximation of HMI's radial-field estimates and
    synoptic maps, and exactly how the synthetic Sun renders its field): the history's radial
    field ``B_r = B_LOS / mu_hist`` times the pixel's surface area ``A_proj / mu_hist`` is the
    flux per pixel that is carried (and conserved, ``sum B_r A`` over the surface) by the
    reprojection, and the frame's ``B_LOS = B_r mu`` with its own ``mu``.  So a region keeps its
    radial flux while it rotates, and its LOS flux density follows ``mu`` as a real one does.

Where there is no history
    Off the disk (``rho > 1``): NaN, as in every store.  On the disk, pixels whose surface point
    was not visible at ``t - D`` (it rotated in over the east limb since) or was seen there at
    ``mu_hist < mu_min`` (default :data:`HISTORY_MU_MIN`, 0.2: closer to the limb the radial
    estimate ``B_LOS / mu`` amplifies noise beyond use) get 0 G: persistence knows no field
    there, which is the "absent" prior for the newly rotated-in band (about ``13 D`` degrees
    of longitude wide at the east limb), not a guess.  The share of the disk that has history
    is recorded per frame (``covered_fraction``).
"""
from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Sequence

import numpy as np

from ..errors import UserError
from ..tables import Column, TableFile

__all__ = ["HISTORY_MU_MIN", "ROTATION_MODELS", "HISTORY", "PersistenceParams", "default_tolerance_days",
           "history_frames", "rotate_map"]

#: Smallest ``mu`` of a history pixel whose field is carried (module docstring).
HISTORY_MU_MIN = 0.2
#: sunpy's differential-rotation laws (:func:`sunpy.sun.models.differential_rotation`).
ROTATION_MODELS = ("howard", "snodgrass", "allen", "rigid")
_DAY_S = 86400.0

#: Per-frame record of a ``persistence-D`` store: the table ``history`` inside it and the CSV
#: ``<kind>.history.csv`` beside it (file name set per kind by :func:`history_table_file`).
HISTORY = TableFile(
    "history.csv",
    (
        Column("index", "int64", "", "frame index in the prediction store"),
        Column("source_index", "int64", "", "frame index in the truth store"),
        Column("time", "str", "", "frame time, ISO 8601 UTC"),
        Column("history_index", "int64", "", "truth frame used as history (-1: none)"),
        Column("history_time", "str", "", "its time, ISO 8601 UTC (empty: none)"),
        Column("age_days", "float64", "d", "frame time minus history time (NaN: none)"),
        Column("covered_fraction", "float64", "",
               "share of the disk pixels (rho <= 1) that have history (0 without a history frame)"),
        Column("reason", "str", "", "why the frame has no history frame (empty when it has one)"),
    ),
    "one row per frame of a persistence-D prediction store (euv2mag.audit.persistence)",
)


def history_table_file(kind: str) -> TableFile:
    """:data:`HISTORY` with the file name ``<kind>.history.csv``."""
    return dataclasses.replace(HISTORY, filename=f"{kind}.history.csv")


@dataclasses.dataclass(frozen=True)
class PersistenceParams:
    """Parameters of a ``persistence-D`` baseline.

    Parameters
    ----------
    days : float
        Age ``D`` of the history, days (>= 0).
    tolerance_days : float, optional
        Largest distance of the history frame's time from ``t - D``, days; None: half the
        median spacing of the truth store's frames (:func:`default_tolerance_days`).
    mu_min : float
        Smallest ``mu`` of a history pixel whose field is carried, in (0, 1).
    rotation_model : str
        sunpy differential-rotation law (:data:`ROTATION_MODELS`).
    """

    days: float
    tolerance_days: float | None = None
    mu_min: float = HISTORY_MU_MIN
    rotation_model: str = "howard"

    def __post_init__(self):
        if not (math.isfinite(float(self.days)) and float(self.days) >= 0):
            raise UserError(f"persistence age must be a number of days >= 0, got {self.days!r}", parameter="kinds")
        object.__setattr__(self, "days", float(self.days))
        if self.tolerance_days is not None:
            tol = float(self.tolerance_days)
            if not (math.isfinite(tol) and tol >= 0):
                raise UserError(f"must be a number of days >= 0, got {self.tolerance_days!r}",
                                parameter="history_tolerance_days")
            object.__setattr__(self, "tolerance_days", tol)
        if not 0 < float(self.mu_min) < 1:
            raise UserError(f"must lie in (0, 1), got {self.mu_min!r}", parameter="mu_min")
        if self.rotation_model not in ROTATION_MODELS:
            raise UserError(f"unknown rotation model {self.rotation_model!r}; choose from {', '.join(ROTATION_MODELS)}",
                            parameter="rotation_model")


def _seconds(times) -> np.ndarray:
    from ..data.splits import to_datetime64

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

    from ..data.maps import frame_wcs, observer_hgln_deg

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

    from ..data.maps import frame_wcs

    if not (history.time and target.time):
        raise UserError("persistence needs frame times in the geometry")
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
