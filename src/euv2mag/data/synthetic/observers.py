"""Where the synthetic Sun is seen from: observers and the frame geometry each one sees.

The synthetic Sun (regions, their fields, the EUV they light) is a function of time only; an
observer fixes the geometry it is rendered with: the observer's heliographic latitude (``B0``),
the Carrington longitude of its disk centre (``L0``) and its distance (hence the apparent solar
radius).  The same parameters and seed seen from several observers are the same Sun.

Coordinates
-----------
``hgln_deg``, ``hglt_deg``
    Heliographic Stonyhurst longitude and latitude of the observer (deg): longitude 0 is the
    Earth's central meridian, positive west (towards STEREO-A), as in FITS ``HGLN_OBS`` /
    ``HGLT_OBS``.
``dsun_m``
    Observer–Sun distance (m).
``B0 = hglt_deg``; ``L0`` = the observer's Carrington longitude
    From sunpy (``HeliographicStonyhurst`` -> ``HeliographicCarrington(observer="self")``), which
    includes the Sun–observer light travel time, as Earth's ``sunpy.coordinates.sun.L0`` does.

Observers (``--observer``, :func:`parse_observer`)
--------------------------------------------------
``earth``
    sunpy's Earth ephemeris (``sun.B0``, ``sun.L0``, ``sun.earth_distance``): the geometry
    every store had before observers existed, bit for bit.
``stereo-a``, ``stereo-b``
    An analytic approximation of the STEREO drift (no network at run time): the longitude
    grows linearly in time, ``hgln = rate * (t - t_ref) + hgln_ref``, fitted to published
    positions, the distance is a constant, and the spacecraft lies in the ecliptic plane
    (the latitude where the ecliptic crosses that Stonyhurst meridian).  Published positions
    it is checked against (``tests/test_observers.py``): STEREO-A at ``HGLN_OBS`` = 51.80 deg,
    0.956 au on 2009-06-15 (the EUVI header in sunpy's test data); the two spacecraft 44 deg apart
    on 2008-01-08 and 180 deg apart on 2011-02-06 (NASA STEREO); STEREO-A occulted by the Sun
    (hgln ~ 180 deg) 2015-05-13..27 and STEREO-B 2015-02-15..22 (STEREO Science Center).  The
    model agrees with all of them within 2.5 deg; the orbits' eccentricity makes the real
    drift wobble by a few degrees over a year, and the distances vary by +-0.01 au (A) and
    +-0.04 au (B).  STEREO-B's contact was lost on 2014-10-01: the model still extrapolates;
    for real positions use an ephemeris file.
``hgln=DEG[,hglt=DEG][,dsun=AU]``
    A fixed Stonyhurst longitude (it keeps its angle to Earth, like a spacecraft at an
    Earth-trailing or -leading Lagrange point); without ``hglt`` it lies in the ecliptic plane;
    without ``dsun`` at Earth's distance.
``ephemeris=FILE.csv``
    The user's own table (e.g. exported from JPL Horizons): columns ``time`` (ISO 8601 UTC),
    ``hgln_deg``, ``hglt_deg``, ``dsun_au``; linear interpolation in time (longitude unwrapped);
    every frame time must lie within the table's times.

Light travel time differences between observers are not modelled: every observer sees the
Sun at the frame time.
"""
from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import numpy as np

from ...errors import UserError
from ...geometry import RSUN_MM, DiskGeometry, default_rsun_px

__all__ = ["Observer", "parse_observer", "observer_positions", "observer_geometries", "STEREO_MODEL", "AU_M"]

#: One astronomical unit, m (IAU 2012).
AU_M = 1.495978707e11

#: The analytic STEREO drift: ``hgln_deg = rate_deg_per_year * (t - ref_time) / 365.25 d + ref_hgln_deg``
#: and a constant distance.  STEREO-A is anchored on its 2009-06-15 EUVI header (51.80 deg) and
#: the 2015-05-20 occultation (180 deg); STEREO-B on the 2008-01-08 separation (-22 deg) and the
#: 2015-02-18 occultation (-180 deg).
STEREO_MODEL = {
    "stereo-a": {"ref_time": "2009-06-15T00:09:08", "ref_hgln_deg": 51.80, "rate_deg_per_year": 21.62, "dsun_au": 0.960},
    "stereo-b": {"ref_time": "2008-01-08T00:00:00", "ref_hgln_deg": -22.0, "rate_deg_per_year": -22.22, "dsun_au": 1.045},
}

_OBSERVER_NAMES = ("earth", "stereo-a", "stereo-b")
_EPHEMERIS_COLUMNS = ("time", "hgln_deg", "hglt_deg", "dsun_au")


@dataclasses.dataclass(frozen=True)
class Observer:
    """Where a series is seen from (see the module docstring for the kinds).

    Attributes
    ----------
    kind : {"earth", "stereo-a", "stereo-b", "fixed", "ephemeris"}
    hgln_deg, hglt_deg : float or None
        Fixed Stonyhurst longitude / latitude (deg), kind ``"fixed"``; ``hglt_deg`` None = in
        the ecliptic plane.
    dsun_au : float or None
        Fixed distance (au), kind ``"fixed"``; None = Earth's distance.
    ephemeris : str or None
        The ephemeris CSV file, kind ``"ephemeris"``.
    """

    kind: str = "earth"
    hgln_deg: float | None = None
    hglt_deg: float | None = None
    dsun_au: float | None = None
    ephemeris: str | None = None

    def __post_init__(self):
        if self.kind not in (*_OBSERVER_NAMES, "fixed", "ephemeris"):
            raise UserError(f"unknown observer kind {self.kind!r}", parameter="observer")
        if self.kind == "fixed":
            if self.hgln_deg is None or not math.isfinite(self.hgln_deg):
                raise UserError("a fixed observer needs a finite hgln", parameter="observer")
            if self.hglt_deg is not None and not (math.isfinite(self.hglt_deg) and abs(self.hglt_deg) <= 90):
                raise UserError(f"hglt={self.hglt_deg} is not a latitude", parameter="observer")
            if self.dsun_au is not None and not (math.isfinite(self.dsun_au) and self.dsun_au * AU_M > 1.001 * RSUN_MM * 1e6):
                raise UserError(f"dsun={self.dsun_au} au puts the observer inside the Sun", parameter="observer")
        if self.kind == "ephemeris" and not self.ephemeris:
            raise UserError("an ephemeris observer needs a file", parameter="observer")

    @property
    def label(self) -> str:
        """The ``--observer`` text that makes this observer (recorded in stores)."""
        if self.kind == "fixed":
            parts = [f"hgln={self.hgln_deg:g}"]
            if self.hglt_deg is not None:
                parts.append(f"hglt={self.hglt_deg:g}")
            if self.dsun_au is not None:
                parts.append(f"dsun={self.dsun_au:g}")
            return ",".join(parts)
        if self.kind == "ephemeris":
            return f"ephemeris={self.ephemeris}"
        return self.kind

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def parse_observer(text: str) -> Observer:
    """``--observer`` text -> :class:`Observer`.

    Examples
    --------
    >>> parse_observer("earth").kind
    'earth'
    >>> parse_observer("hgln=120,dsun=0.9")
    Observer(kind='fixed', hgln_deg=120.0, hglt_deg=None, dsun_au=0.9, ephemeris=None)
    >>> parse_observer("hgln=180").label
    'hgln=180'

    Raises
    ------
    UserError
        Unknown names or keys, malformed numbers, an observer inside the Sun.
    """
    raw = str(text).strip()
    name = raw.lower()
    if name in _OBSERVER_NAMES:
        return Observer(kind=name)
    if name.startswith("ephemeris="):
        return Observer(kind="ephemeris", ephemeris=raw.split("=", 1)[1])
    if name.startswith("hgln="):
        values: dict[str, float] = {}
        for part in name.split(","):
            key, _, value = part.partition("=")
            key = key.strip()
            if key not in ("hgln", "hglt", "dsun") or key in values or not re.fullmatch(_NUMBER, value.strip()):
                raise UserError(f"bad observer {raw!r}: expected hgln=DEG[,hglt=DEG][,dsun=AU]", parameter="observer")
            values[key] = float(value)
        return Observer(kind="fixed", hgln_deg=values["hgln"], hglt_deg=values.get("hglt"), dsun_au=values.get("dsun"))
    raise UserError(f"unknown observer {raw!r}: use earth, stereo-a, stereo-b, hgln=DEG[,hglt=DEG][,dsun=AU] "
                    "or ephemeris=FILE.csv", parameter="observer")


def _times(times_mjd):
    from astropy.time import Time

    return Time(np.atleast_1d(np.asarray(times_mjd, dtype=float)), format="mjd", scale="utc")


def ecliptic_latitude_deg(times_mjd, hgln_deg) -> np.ndarray:
    """Heliographic latitude (deg) where the ecliptic plane crosses the Stonyhurst meridian ``hgln_deg``.

    The ecliptic's north pole, expressed in Stonyhurst coordinates at each time (sunpy), gives
    the plane's normal ``n``; the point of longitude ``phi`` on that plane has
    ``tan(lat) = -(n_x cos phi + n_y sin phi) / n_z``.  For Earth (``phi = 0``) this is ``B0``.
    """
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from sunpy.coordinates import HeliocentricEarthEcliptic, HeliographicStonyhurst

    times = _times(times_mjd)
    pole = SkyCoord(np.zeros(len(times)) * u.deg, np.full(len(times), 90.0) * u.deg, np.ones(len(times)) * u.AU,
                    frame=HeliocentricEarthEcliptic(obstime=times))
    pole = pole.transform_to(HeliographicStonyhurst(obstime=times))
    plon, plat = pole.lon.to_value(u.rad), pole.lat.to_value(u.rad)
    nx, ny, nz = np.cos(plat) * np.cos(plon), np.cos(plat) * np.sin(plon), np.sin(plat)
    phi = np.radians(np.broadcast_to(np.asarray(hgln_deg, dtype=float), times.shape))
    return np.degrees(np.arctan(-(nx * np.cos(phi) + ny * np.sin(phi)) / nz))


def _read_ephemeris(path: str, times_mjd: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import pandas as pd
    from astropy.time import Time

    file = Path(path)
    if not file.is_file():
        raise UserError("no such ephemeris file", path=file, parameter="observer")
    try:
        table = pd.read_csv(file)
    except Exception as exc:  # noqa: BLE001 - pandas raises many types for a bad CSV
        raise UserError(f"is not a readable CSV ({' '.join(str(exc).split())[:120]})", path=file) from None
    missing = [c for c in _EPHEMERIS_COLUMNS if c not in table.columns]
    if missing:
        raise UserError(f"ephemeris lacks column(s) {', '.join(missing)} (needs {', '.join(_EPHEMERIS_COLUMNS)})", path=file)
    if len(table) < 2:
        raise UserError("ephemeris needs at least two rows", path=file)
    try:
        t = Time(list(table["time"].astype(str)), scale="utc").mjd
        values = {c: table[c].to_numpy(dtype=float) for c in _EPHEMERIS_COLUMNS[1:]}
    except (ValueError, TypeError):
        raise UserError("ephemeris has an unreadable time or number", path=file) from None
    if not all(np.isfinite(v).all() for v in values.values()) or np.any(np.diff(t) <= 0):
        raise UserError("ephemeris rows must be finite and in strictly increasing time", path=file)
    if np.any(values["dsun_au"] * AU_M <= RSUN_MM * 1e6):
        raise UserError("ephemeris puts the observer inside the Sun (dsun_au too small)", path=file)
    outside = (times_mjd < t[0]) | (times_mjd > t[-1])
    if outside.any():
        first = Time(times_mjd[np.argmax(outside)], format="mjd", scale="utc").isot
        raise UserError(f"ephemeris covers {Time(t[0], format='mjd').isot[:19]}..{Time(t[-1], format='mjd').isot[:19]}; "
                        f"frame time {first[:19]} lies outside it", path=file)
    hgln = np.interp(times_mjd, t, np.unwrap(values["hgln_deg"], period=360.0))
    return (np.mod(hgln + 180.0, 360.0) - 180.0, np.interp(times_mjd, t, values["hglt_deg"]),
            np.interp(times_mjd, t, values["dsun_au"]) * AU_M)


def observer_positions(observer: Observer, times_mjd) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stonyhurst longitude, latitude (deg) and distance (m) of ``observer`` at ``times_mjd`` (MJD, UTC).

    Raises
    ------
    UserError
        An ephemeris file that is missing, malformed or does not cover the times.
    """
    import astropy.units as u
    from astropy.time import Time
    from sunpy.coordinates import sun

    times_mjd = np.atleast_1d(np.asarray(times_mjd, dtype=float))
    if observer.kind == "earth":
        times = _times(times_mjd)
        return np.zeros(len(times_mjd)), sun.B0(times).to_value(u.deg), sun.earth_distance(times).to_value(u.m)
    if observer.kind == "ephemeris":
        return _read_ephemeris(observer.ephemeris, times_mjd)
    if observer.kind == "fixed":
        hgln = np.full(len(times_mjd), float(observer.hgln_deg))
        dsun = (np.full(len(times_mjd), observer.dsun_au * AU_M) if observer.dsun_au is not None
                else sun.earth_distance(_times(times_mjd)).to_value(u.m))
    else:
        model = STEREO_MODEL[observer.kind]
        years = (times_mjd - Time(model["ref_time"], scale="utc").mjd) / 365.25
        hgln = model["ref_hgln_deg"] + model["rate_deg_per_year"] * years
        dsun = np.full(len(times_mjd), model["dsun_au"] * AU_M)
    hgln = np.mod(hgln + 180.0, 360.0) - 180.0
    hglt = (np.full(len(times_mjd), float(observer.hglt_deg)) if observer.hglt_deg is not None
            else ecliptic_latitude_deg(times_mjd, hgln))
    return hgln, hglt, dsun


def carrington_longitude_deg(times_mjd, hgln_deg, hglt_deg, dsun_m) -> np.ndarray:
    """Carrington longitude (deg, [0, 360)) of observers at these Stonyhurst positions (sunpy, light time included)."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from sunpy.coordinates import HeliographicCarrington, HeliographicStonyhurst

    times = _times(times_mjd)
    where = SkyCoord(np.asarray(hgln_deg) * u.deg, np.asarray(hglt_deg) * u.deg, np.asarray(dsun_m) * u.m,
                     frame=HeliographicStonyhurst(obstime=times))
    return np.mod(where.transform_to(HeliographicCarrington(observer="self", obstime=times)).lon.to_value(u.deg), 360.0)


def observer_geometries(observer: Observer, times_mjd, size: int) -> list[DiskGeometry]:
    """The frame geometry ``observer`` sees at each time: disk centred, radius ``default_rsun_px(size)``.

    Earth uses :func:`euv2mag.data.synthetic.timegrid.frame_geometries` (sunpy's Earth
    ephemeris); every other observer ``B0 = hglt``, ``L0`` its Carrington longitude, the apparent
    radius ``asin(R_sun / dsun)``.

    Returns
    -------
    list of DiskGeometry
        One per time, ``time`` set (ISO 8601 UTC).
    """
    from .timegrid import frame_geometries

    times_mjd = np.atleast_1d(np.asarray(times_mjd, dtype=float))
    if observer.kind == "earth":
        return frame_geometries(times_mjd, size)
    hgln, hglt, dsun = observer_positions(observer, times_mjd)
    l0 = carrington_longitude_deg(times_mjd, hgln, hglt, dsun)
    radius_arcsec = np.degrees(np.arcsin(RSUN_MM * 1e6 / dsun)) * 3600.0
    rsun_px = default_rsun_px(size)
    times = _times(times_mjd)
    return [
        DiskGeometry(shape=(size, size), rsun_px=rsun_px, cdelt_arcsec=float(radius_arcsec[i]) / rsun_px,
                     b0_deg=float(hglt[i]), l0_deg=float(l0[i]), dsun_m=float(dsun[i]), time=times[i].isot)
        for i in range(len(times_mjd))
    ]
