"""Time grid and observer geometry of a synthetic series.

Times are Modified Julian Dates (MJD, UTC, days) inside the generator and ISO 8601 UTC strings
at its edges (parameters, tables).  A cadence is a number and a unit ("12h", "1d", "30min",
"90s"); frames fall at ``start + k cadence`` up to ``end`` inclusive, at most
:data:`MAX_FRAMES` of them (one million: 1 s over 11.6 days, 12 min over 22.8 years), so that a
mistyped cadence is refused at once instead of computing an ephemeris for hours.

Observer geometry (step 1 of a frame)
-------------------------------------
Earth view from sunpy's ephemeris: ``B0`` and ``L0`` (deg), ``earth_distance`` (m) and
``angular_radius`` (arcsec); the disk is centred with radius ``rsun_px = default_rsun_px(N)``
px, so ``cdelt = angular radius / rsun_px`` (arcsec/px).
"""
from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

import numpy as np

from ...errors import UserError
from ...geometry import DiskGeometry, default_rsun_px

if TYPE_CHECKING:
    from .params import SynthParams

__all__ = ["parse_cadence", "frame_times", "iso_time", "frame_geometries", "MAX_FRAMES"]

#: Most frames a synthetic series may have (:func:`frame_times` refuses more).
MAX_FRAMES = 1_000_000

_CADENCE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(s|sec|min|m|h|hr|d|day|days)\s*$", re.IGNORECASE)
_UNIT_DAYS = {"s": 1 / 86400, "sec": 1 / 86400, "min": 1 / 1440, "m": 1 / 1440, "h": 1 / 24, "hr": 1 / 24,
              "d": 1.0, "day": 1.0, "days": 1.0}


def parse_cadence(text: str) -> float:
    """Cadence string ("12h", "1d", "30min", "90s") -> days.

    Parameters
    ----------
    text : str
        A positive number and a unit (s, sec, min, m, h, hr, d, day, days; any case).

    Returns
    -------
    float
        The cadence in days.

    Raises
    ------
    euv2mag.errors.UserError
        For text of another form, or a cadence that is not positive.
    """
    match = _CADENCE.match(str(text))
    if not match:
        raise UserError(f"bad cadence {text!r}: use a number and a unit, e.g. 12h, 1d, 30min")
    value = float(match.group(1)) * _UNIT_DAYS[match.group(2).lower()]
    if value <= 0:
        raise UserError(f"bad cadence {text!r}: must be positive")
    return value


def _parse_time(text: str, option: str) -> float:
    """ISO time string -> MJD (UTC); a bad string raises UserError naming ``option``."""
    from astropy.time import Time

    try:
        return float(Time(str(text), scale="utc").mjd)
    except Exception:
        raise UserError(f"bad {option} time {text!r}: expected ISO 8601, e.g. 2011-01-01 or 2011-01-01T12:00") from None


def frame_times(params: SynthParams) -> np.ndarray:
    """Frame times (MJD, UTC): ``start + k cadence`` up to ``end`` inclusive.

    Parameters
    ----------
    params : SynthParams
        Gives ``start``, ``end`` and ``cadence``.

    Returns
    -------
    (n_frames,) float64 ndarray
        Frame times in MJD (UTC, days).

    Raises
    ------
    euv2mag.errors.UserError
        When the options would make more than :data:`MAX_FRAMES` frames (the message says how
        many).
    """
    s, e = _parse_time(params.start, "--start"), _parse_time(params.end, "--end")
    step = parse_cadence(params.cadence)
    n = int(math.floor((e - s) / step + 1e-9)) + 1
    if n > MAX_FRAMES:
        raise UserError(f"{params.start} to {params.end} every {params.cadence} makes {n} frames, more than the "
                        f"maximum of {MAX_FRAMES}; choose a longer cadence or a shorter range", parameter="cadence")
    return s + step * np.arange(n)


def iso_time(mjd: float) -> str:
    """MJD (UTC, days) -> ISO 8601 UTC string with milliseconds."""
    from astropy.time import Time

    return Time(float(mjd), format="mjd", scale="utc").isot


def frame_geometries(times_mjd, size: int) -> list[DiskGeometry]:
    """Earth-view geometry of each frame (sunpy ephemeris), disk centred, radius ``default_rsun_px``.

    Parameters
    ----------
    times_mjd : float or array_like of float
        Frame times, MJD (UTC, days).
    size : int
        Image side N in px.

    Returns
    -------
    list of DiskGeometry
        One per time: shape ``(N, N)``, ``rsun_px`` px, ``cdelt_arcsec`` (arcsec/px), ``b0_deg``
        and ``l0_deg`` (deg), ``dsun_m`` (m), ``time`` (ISO 8601 UTC).
    """
    import astropy.units as u
    from astropy.time import Time
    from sunpy.coordinates import sun

    times = Time(np.atleast_1d(np.asarray(times_mjd, dtype=float)), format="mjd", scale="utc")
    b0 = sun.B0(times).to_value(u.deg)
    l0 = sun.L0(times).to_value(u.deg)
    dist = sun.earth_distance(times).to_value(u.m)
    radius = sun.angular_radius(times).to_value(u.arcsec)
    rsun_px = default_rsun_px(size)
    return [
        DiskGeometry(
            shape=(size, size), rsun_px=rsun_px, cdelt_arcsec=float(radius[i]) / rsun_px,
            b0_deg=float(b0[i]), l0_deg=float(l0[i]), dsun_m=float(dist[i]), time=times[i].isot,
        )
        for i in range(len(times))
    ]
