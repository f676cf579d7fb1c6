"""Cross-calibration of EUV intensities from another instrument onto the training set's scale.

A model trained on AIA 304 A (or on the synthetic Sun's Earth view) sees intensities on that
instrument's scale (DN/s); STEREO/EUVI and Solar Orbiter/EUI 304 A differ from it by a
calibration factor and by their response (KPL19 rescaled EUVI before predicting).  The options
(``--euv-calibration``, :func:`parse_calibration`):

``none``
    Intensities are used as they are.
``linear:F``
    Every pixel times ``F`` (a known or fitted instrument ratio, ``F > 0``).
``quantile``
    Quantile matching: the on-disk intensity distribution of the whole set of frames being
    predicted (pooled over those frames, disk pixels ``rho <= 1``) is mapped onto the training
    frames' on-disk distribution (:class:`EuvReference`, the quantiles at :data:`LEVELS`).  The
    map is the piecewise-linear, non-decreasing function through the pairs (set quantile,
    reference quantile) at the same levels; beyond the outermost levels it continues
    proportionally (``y = x * q_ref / q_set`` at the ends, so off-limb pixels, darker than the
    disk, keep their ratios).  The same map is applied to every pixel of every frame of the set.

Why pooled over the set, not frame by frame
    A calibration difference is a property of the instrument, constant over a set of frames
    (or slowly drifting); the Sun's activity differs from frame to frame and from one side of
    the Sun to the other.  Matching every frame separately to the training distribution would
    also erase those real differences (a quiet far side made as bright as the average training
    disk); one map for the whole set corrects the instrument and keeps them.  Its assumption is
    that the set and the training frames have similar activity on average, so use sets of many
    frames (a solar rotation or more).
"""
from __future__ import annotations

import dataclasses
import math
import re
from typing import Iterable, Sequence

import numpy as np

from ..errors import UserError
from ..tables import JsonFile

__all__ = ["CALIBRATIONS", "LEVELS", "Calibration", "parse_calibration", "disk_quantiles", "quantile_transfer",
           "calibrate_frames", "EuvReference"]

#: The ``--euv-calibration`` choices (``F`` any positive number).
CALIBRATIONS = ("none", "linear:F", "quantile")
#: Quantile levels of the reference distribution: 1000 bin centres in (0, 1).
LEVELS = (np.arange(1000) + 0.5) / 1000.0


@dataclasses.dataclass(frozen=True)
class Calibration:
    """A cross-calibration (module docstring): ``method`` none / linear / quantile, ``factor`` of linear."""

    method: str = "none"
    factor: float = 1.0

    def __post_init__(self):
        if self.method not in ("none", "linear", "quantile"):
            raise UserError(f"unknown EUV calibration {self.method!r}; choose from {', '.join(CALIBRATIONS)}",
                            parameter="euv_calibration")
        if not (math.isfinite(float(self.factor)) and float(self.factor) > 0):
            raise UserError(f"linear calibration factor must be a positive number, got {self.factor!r}",
                            parameter="euv_calibration")

    @property
    def label(self) -> str:
        """The option text that makes this calibration."""
        return f"linear:{self.factor:g}" if self.method == "linear" else self.method


def parse_calibration(text) -> Calibration:
    """``--euv-calibration`` text -> :class:`Calibration`.

    Examples
    --------
    >>> parse_calibration("linear:1.25")
    Calibration(method='linear', factor=1.25)
    >>> parse_calibration("quantile").label
    'quantile'

    Raises
    ------
    UserError
        Anything else, or a factor that is not a positive number (one line).
    """
    if isinstance(text, Calibration):
        return text
    raw = str(text).strip()
    if raw in ("none", "quantile"):
        return Calibration(raw)
    match = re.fullmatch(r"linear:(.+)", raw)
    if match:
        try:
            factor = float(match.group(1))
        except ValueError:
            factor = math.nan
        return Calibration("linear", factor)
    raise UserError(f"unknown EUV calibration {raw!r}; choose from none, linear:F (F > 0, e.g. linear:1.3), "
                    "quantile", parameter="euv_calibration")


def disk_quantiles(images: Iterable[np.ndarray], masks: Iterable[np.ndarray], levels=LEVELS) -> np.ndarray:
    """Quantiles of the finite on-disk pixel values pooled over all images.

    Parameters
    ----------
    images : iterable of (H, W) ndarray
        EUV intensities (DN/s).
    masks : iterable of (H, W) ndarray of bool
        The disk pixels of each image (``rho <= 1``).
    levels : array_like
        Quantile levels in [0, 1].

    Returns
    -------
    ndarray of float64
        The quantiles (DN/s), non-decreasing.

    Raises
    ------
    UserError
        When no finite on-disk pixel is given.
    """
    values = [np.asarray(im, dtype=np.float64)[np.asarray(m, dtype=bool)] for im, m in zip(images, masks)]
    pooled = np.concatenate(values) if values else np.zeros(0)
    pooled = pooled[np.isfinite(pooled)]
    if not pooled.size:
        raise UserError("no finite on-disk EUV pixels to take quantiles of", parameter="euv_calibration")
    return np.quantile(pooled, np.asarray(levels, dtype=float))


def quantile_transfer(values, source_q, reference_q) -> np.ndarray:
    """The monotone map taking the quantiles ``source_q`` onto ``reference_q``, applied to ``values``.

    Piecewise linear through the pairs ``(source_q[k], reference_q[k])`` (tied source quantiles
    take the mean of their reference quantiles); beyond the ends proportional (``y = x *
    reference / source`` at the end, when both are positive) or shifted.  Non-decreasing in
    ``values``; NaN stays NaN.

    Examples
    --------
    >>> quantile_transfer([1.0, 2.0, 3.0, 8.0], [2.0, 4.0], [1.0, 3.0]).tolist()
    [0.5, 1.0, 2.0, 6.0]
    """
    x = np.asarray(values, dtype=np.float64)
    sq = np.asarray(source_q, dtype=np.float64)
    rq = np.asarray(reference_q, dtype=np.float64)
    if sq.shape != rq.shape or sq.ndim != 1 or not sq.size:
        raise UserError("quantile calibration needs source and reference quantiles of the same length",
                        parameter="euv_calibration")
    xp, inverse = np.unique(sq, return_inverse=True)
    fp = np.bincount(inverse, weights=rq) / np.bincount(inverse)
    fp = np.maximum.accumulate(fp)
    y = np.interp(x, xp, fp)
    lo, hi = x < xp[0], x > xp[-1]
    y[lo] = x[lo] * (fp[0] / xp[0]) if xp[0] > 0 and fp[0] > 0 else x[lo] - xp[0] + fp[0]
    y[hi] = x[hi] * (fp[-1] / xp[-1]) if xp[-1] > 0 and fp[-1] > 0 else x[hi] - xp[-1] + fp[-1]
    y[np.isnan(x)] = np.nan
    return y


def calibrate_frames(images: Sequence[np.ndarray], masks: Sequence[np.ndarray], calibration,
                     reference_q=None) -> list[np.ndarray]:
    """The frames of one set on the training scale (module docstring), float32.

    Parameters
    ----------
    images : sequence of (H, W) ndarray
        EUV intensities of the set (DN/s).
    masks : sequence of (H, W) ndarray of bool
        Disk pixels of each frame.
    calibration : Calibration or str
        The option (:func:`parse_calibration`).
    reference_q : array_like, optional
        Training quantiles at :data:`LEVELS` (needed by ``quantile``).

    Returns
    -------
    list of (H, W) ndarray of float32
    """
    cal = parse_calibration(calibration)
    if cal.method == "none":
        return [np.asarray(im, dtype=np.float32) for im in images]
    if cal.method == "linear":
        return [(np.asarray(im, dtype=np.float64) * cal.factor).astype(np.float32) for im in images]
    if reference_q is None:
        raise UserError("quantile calibration needs the training set's reference quantiles", parameter="euv_calibration")
    ref = np.asarray(reference_q, dtype=np.float64)
    source = disk_quantiles(images, masks, np.linspace(0.0, 1.0, ref.size) if ref.size != LEVELS.size else LEVELS)
    return [quantile_transfer(im, source, ref).astype(np.float32) for im in images]


@dataclasses.dataclass(frozen=True)
class EuvReference(JsonFile):
    """``euv_reference.json``: the training frames' on-disk EUV quantiles (DN/s) at :data:`LEVELS`.

    Attributes
    ----------
    levels, quantiles : list of float
        Quantile levels and values (DN/s).
    n_frames, n_pixels : int
        Training frames and on-disk pixels pooled.
    source_store : str
        The training store.
    """

    FILENAME = "euv_reference.json"
    DESCRIPTION = "an EUV reference"

    levels: list
    quantiles: list
    n_frames: int
    n_pixels: int
    source_store: str

    @classmethod
    def from_dict(cls, obj, *, path=None) -> "EuvReference":
        ref = super().from_dict(obj, path=path)
        if len(ref.levels) != len(ref.quantiles) or not ref.levels:
            raise UserError("EUV reference levels and quantiles differ in length", path=path)
        return ref

    @classmethod
    def from_store(cls, store, indices: Sequence[int], *, max_frames: int = 60) -> "EuvReference":
        """Quantiles of the on-disk ``euv`` of up to ``max_frames`` of ``indices`` (evenly spaced) of a store."""
        idx = list(indices)
        if len(idx) > max_frames:
            idx = [idx[int(k)] for k in np.linspace(0, len(idx) - 1, max_frames).round().astype(int)]
        images, masks = [], []
        for i in idx:
            images.append(store.read("euv", i))
            masks.append(store.geometry(i).rho <= 1.0)
        q = disk_quantiles(images, masks)
        n_px = int(sum(int(np.isfinite(im[m]).sum()) for im, m in zip(images, masks)))
        return cls(levels=[float(v) for v in LEVELS], quantiles=[float(v) for v in q], n_frames=len(idx),
                   n_pixels=n_px, source_store=str(store.path))
