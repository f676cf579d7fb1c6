"""The ``persistence-D`` baseline: the truth D days earlier, rotated to the frame time.

The history frame, the rotation and the per-frame table are :mod:`euv2mag.data.history`'s
(:func:`~euv2mag.data.history.rotate_map`, :data:`~euv2mag.data.history.HISTORY`), which a
history-conditioned model reads as input too; they stay importable from here.

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

# The history frame, the rotation and the HISTORY table live in the data layer (which builds
# the history input channels of a model from them too); they stay importable from here.
from ..data.history import (HISTORY, HISTORY_MU_MIN, ROTATION_MODELS, _seconds,  # noqa: F401
                            default_tolerance_days, history_frames, history_table_file, rotate_map)
from ..errors import UserError

__all__ = ["PersistenceParams"]


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
