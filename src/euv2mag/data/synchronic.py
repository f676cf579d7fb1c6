"""Synchronic Carrington maps: the whole Sun at one instant from several views (``euv2mag synchronic``).

What farside magnetograms are used for: a map of the radial field over all Carrington
longitudes at one time, the lower boundary of coronal-field models (PFSS).  This module combines
any frames — the Earth-view magnetogram, generated farside magnetograms, truth stores seen from
other observers — into such a map and records, per grid pixel, where the value came from and
how old it is, so a user can see which part of a boundary is observed, which generated, and
which is stale.

Grid (``CAR``, plate carrée)
    ``n_lat x n_lon`` pixels covering Carrington longitude 0..360 deg and latitude -90..90 deg
    in equal steps (``360 / n_lon``, ``180 / n_lat`` deg); pixel centres at
    ``lon = (j + 0.5) 360 / n_lon``, ``lat = -90 + (i + 0.5) 180 / n_lat``; standard FITS WCS
    ``CRLN-CAR`` / ``CRLT-CAR`` in deg, readable by sunpy (:func:`car_header`).

Per grid pixel and source frame (a LOS map in G and its :class:`~euv2mag.geometry.DiskGeometry`)
    1. Differential rotation to the synchronic time ``t``: a surface point at latitude
       ``lat`` that is at Carrington longitude ``lon`` at ``t`` was at
       ``lon - (w(lat) - w_car) (t - t_src)`` at the source time, with ``w`` the sidereal rate of
       sunpy's law ``rotation_model`` (deg/day) and ``w_car`` = 14.1844 deg/day the Carrington
       rate.
    2. That point's pixel and ``mu`` in the source frame
       (:meth:`~euv2mag.geometry.DiskGeometry.carrington_to_pixel`).
    3. The radial field ``B_r = B_LOS / mu`` (the field taken as radial, as HMI's synoptic maps
       and the synthetic Sun do), averaged over the grid pixel: ``k x k`` sub-points per grid
       pixel, bilinearly interpolated in the source image, with ``k`` the ratio of the grid
       pixel's size on the Sun to the source's pixel size at disk centre (at least 1, at most
       :data:`MAX_OVERSAMPLE`), so a fine source is averaged, not aliased.

    Each grid pixel takes the source that sees it at the largest ``mu`` (ties: the youngest);
    points seen by no source at ``mu >= mu_min`` are NaN with source -1.

Layers (FITS, :func:`write_synchronic`)
    Primary HDU ``br`` (G, float32, CAR WCS, ``DATE-OBS`` = the synchronic time); image
    extensions ``SOURCE`` (int16, index into the ``SOURCES`` table, -1 = none), ``AGE`` (days,
    ``t - t_src`` of the chosen source, NaN where none), ``MU`` (``mu`` of the chosen source);
    binary table ``SOURCES`` (``index``, ``name``, ``time``, ``age_days``, ``used_pixels``).

Sources older than ``max_age_days`` (or from the future by more than that) are not used:
they are listed in :attr:`SynchronicMap.skipped` with the reason.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import UserError
from ..geometry import RSUN_MM, DiskGeometry

__all__ = ["SynchronicSource", "SynchronicMap", "synchronic_map", "car_grid", "car_header", "write_synchronic",
           "read_synchronic", "store_sources", "CARRINGTON_RATE_DEG_PER_DAY", "MAX_OVERSAMPLE"]

#: Sidereal Carrington rotation rate, deg/day (360 deg / 25.38 d).
CARRINGTON_RATE_DEG_PER_DAY = 360.0 / 25.38
#: Most sub-points per grid-pixel axis.
MAX_OVERSAMPLE = 8


@dataclasses.dataclass(frozen=True)
class SynchronicSource:
    """One frame to combine: a LOS magnetogram (G, NaN off disk) and its geometry (``time`` set)."""

    name: str
    mag_g: np.ndarray
    geometry: DiskGeometry

    def __post_init__(self):
        if self.geometry.time is None:
            raise UserError(f"source {self.name}: its geometry has no time")
        if np.shape(self.mag_g) != tuple(self.geometry.shape):
            raise UserError(f"source {self.name}: map shape {np.shape(self.mag_g)} differs from its geometry's "
                            f"{tuple(self.geometry.shape)}")


@dataclasses.dataclass(frozen=True)
class SynchronicMap:
    """A synchronic Carrington map and its layers (see the module docstring).

    Attributes
    ----------
    time : str
        Synchronic time, ISO 8601 UTC.
    br_g, age_days, mu : (n_lat, n_lon) float32 ndarray
        Radial field (G), age of the chosen source (days), its ``mu``; NaN where no source.
    source : (n_lat, n_lon) int16 ndarray
        Index into ``sources`` (-1: none).
    sources : list of dict
        ``name``, ``time``, ``age_days``, ``used_pixels`` of every source used.
    skipped : list of dict
        ``name``, ``time``, ``reason`` of sources left out.
    """

    time: str
    br_g: np.ndarray
    source: np.ndarray
    age_days: np.ndarray
    mu: np.ndarray
    sources: list
    skipped: list

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.br_g.shape)


def _mjd(iso: str) -> float:
    from astropy.time import Time

    try:
        return float(Time(str(iso), scale="utc").mjd)
    except ValueError:
        raise UserError(f"bad time {iso!r}: expected ISO 8601") from None


def car_grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre latitude and Carrington longitude (deg) of the ``(n_lat, n_lon)`` CAR grid."""
    n_lat, n_lon = (int(s) for s in shape)
    lat = -90.0 + (np.arange(n_lat) + 0.5) * 180.0 / n_lat
    lon = (np.arange(n_lon) + 0.5) * 360.0 / n_lon
    return lat, lon


def car_header(shape: tuple[int, int], time: str):
    """Standard CAR WCS of the grid (``CRLN-CAR``/``CRLT-CAR``, deg) with Earth as observer at ``time``.

    The observer keywords (``HGLN_OBS`` = 0, ``HGLT_OBS`` = B0, ``DSUN_OBS``) give sunpy's
    Carrington frame its observer; longitudes are Carrington longitudes as sunpy defines them.
    """
    import astropy.units as u
    from astropy.io import fits
    from astropy.time import Time
    from sunpy.coordinates import sun

    n_lat, n_lon = (int(s) for s in shape)
    when = Time(str(time), scale="utc")
    h = fits.Header()
    h["NAXIS"], h["NAXIS1"], h["NAXIS2"] = 2, n_lon, n_lat
    h["CTYPE1"], h["CTYPE2"] = "CRLN-CAR", "CRLT-CAR"
    h["CUNIT1"], h["CUNIT2"] = "deg", "deg"
    h["CDELT1"], h["CDELT2"] = 360.0 / n_lon, 180.0 / n_lat
    h["CRPIX1"], h["CRPIX2"] = (n_lon + 1) / 2.0, (n_lat + 1) / 2.0
    h["CRVAL1"], h["CRVAL2"] = 180.0, 0.0
    h["LONPOLE"] = 0.0
    h["DATE-OBS"] = when.isot
    h["HGLN_OBS"] = 0.0
    h["HGLT_OBS"] = float(sun.B0(when).to_value(u.deg))
    h["DSUN_OBS"] = float(sun.earth_distance(when).to_value(u.m))
    h["RSUN_REF"] = RSUN_MM * 1e6
    h["BUNIT"] = "G"
    h["CONTENT"] = "synchronic radial field (euv2mag)"
    return h


def _radial_samples(source: SynchronicSource, lat: np.ndarray, lon_src: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Grid-pixel means of ``B_LOS / mu`` and of ``mu`` over ``k x k`` sub-points of each pixel."""
    from scipy.ndimage import map_coordinates

    g = source.geometry
    x, y, mu = g.carrington_to_pixel(lat, lon_src)
    image = np.asarray(source.mag_g, dtype=np.float64)
    finite = np.isfinite(image)
    values = map_coordinates(np.where(finite, image, 0.0), [np.nan_to_num(y, nan=-10.0), np.nan_to_num(x, nan=-10.0)],
                             order=1, mode="constant", cval=np.nan)
    weight = map_coordinates(finite.astype(np.float64), [np.nan_to_num(y, nan=-10.0), np.nan_to_num(x, nan=-10.0)],
                             order=1, mode="constant", cval=0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        br = np.where((weight > 0.99) & (mu > 0), values / weight / mu, np.nan)
    n_lat, n_lon = lat.shape[0] // k, lat.shape[1] // k
    return (br.reshape(n_lat, k, n_lon, k).mean(axis=(1, 3)),
            np.where(mu > 0, mu, np.nan).reshape(n_lat, k, n_lon, k).mean(axis=(1, 3)))


def synchronic_map(sources: Sequence[SynchronicSource], time: str, *, shape: tuple[int, int] = (180, 360),
                   mu_min: float = 0.3, max_age_days: float = 14.0, rotation_model: str = "howard") -> SynchronicMap:
    """Combine ``sources`` into a synchronic Carrington map at ``time`` (module docstring).

    Parameters
    ----------
    sources : sequence of SynchronicSource
        The frames, each with a distinct name.
    time : str
        Synchronic time, ISO 8601 UTC.
    shape : (int, int)
        ``(n_lat, n_lon)`` of the CAR grid (default 1 deg).
    mu_min : float
        Smallest ``mu`` at which a source is used (0 < mu_min <= 1).
    max_age_days : float
        Sources further than this from ``time`` (days, either way) are skipped.
    rotation_model : str
        sunpy's differential-rotation law (``howard``, ``snodgrass``, ``allen``, ``rigid``).

    Returns
    -------
    SynchronicMap

    Raises
    ------
    UserError
        Bad options, duplicate names, or no usable source.
    """
    from ..data.synthetic.cycle import rotation_rate_deg_per_day

    n_lat, n_lon = (int(s) for s in shape)
    if n_lat < 2 or n_lon < 2 or n_lon != 2 * n_lat:
        raise UserError(f"must be (n_lat, n_lon) with n_lon = 2 n_lat (equal steps in deg), got {shape!r}", parameter="shape")
    if not (0.0 < float(mu_min) <= 1.0):
        raise UserError(f"must lie in (0, 1], got {mu_min!r}", parameter="mu_min")
    if not (math.isfinite(max_age_days) and max_age_days >= 0):
        raise UserError(f"must be a non-negative number of days, got {max_age_days!r}", parameter="max_age_days")
    if rotation_model not in ("howard", "snodgrass", "allen", "rigid"):
        raise UserError(f"unknown rotation model {rotation_model!r}", parameter="rotation_model")
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise UserError(f"source names must differ ({', '.join(names)})", parameter="sources")
    t = _mjd(time)
    lat_c, lon_c = car_grid((n_lat, n_lon))
    step_mm = math.radians(180.0 / n_lat) * RSUN_MM

    best_mu = np.full((n_lat, n_lon), -np.inf)
    best_age = np.full((n_lat, n_lon), np.inf)
    br = np.full((n_lat, n_lon), np.nan)
    age = np.full((n_lat, n_lon), np.nan)
    mu_out = np.full((n_lat, n_lon), np.nan)
    chosen = np.full((n_lat, n_lon), -1, dtype=np.int16)
    used, skipped = [], []
    for source in sources:
        dt = t - _mjd(source.geometry.time)
        if abs(dt) > max_age_days:
            skipped.append({"name": source.name, "time": source.geometry.time,
                            "reason": f"{dt:+.2f} days from the synchronic time, beyond max_age_days={max_age_days:g}"})
            continue
        k = int(min(MAX_OVERSAMPLE, max(1, math.ceil(step_mm / source.geometry.mm_per_px))))
        sub = (np.arange(k) + 0.5) / k - 0.5
        lat = (lat_c[:, None] + sub[None, :] * 180.0 / n_lat).ravel()
        lon = (lon_c[:, None] + sub[None, :] * 360.0 / n_lon).ravel()
        lat2, lon2 = np.meshgrid(lat, lon, indexing="ij")
        drift = (rotation_rate_deg_per_day(lat2, rotation_model) - CARRINGTON_RATE_DEG_PER_DAY) * dt
        values, mu = _radial_samples(source, lat2, lon2 - drift, k)
        better = np.isfinite(values) & (mu >= mu_min) & ((mu > best_mu) | ((mu == best_mu) & (abs(dt) < best_age)))
        index = len(used)
        br[better], mu_out[better], age[better], chosen[better] = values[better], mu[better], dt, index
        best_mu[better], best_age[better] = mu[better], abs(dt)
        used.append({"name": source.name, "time": source.geometry.time, "age_days": float(dt)})
    if not used:
        raise UserError("no source within max_age_days of the synchronic time"
                        + (f" ({skipped[0]['name']}: {skipped[0]['reason']})" if skipped else ""), parameter="sources")
    for i, entry in enumerate(used):
        entry["used_pixels"] = int((chosen == i).sum())
    from astropy.time import Time

    return SynchronicMap(time=Time(t, format="mjd", scale="utc").isot, br_g=br.astype(np.float32), source=chosen,
                         age_days=age.astype(np.float32), mu=mu_out.astype(np.float32), sources=used, skipped=skipped)


def store_sources(specs: Sequence[str], *, array: str | None = None) -> list[SynchronicSource]:
    """Sources from ``STORE[:INDEX]`` texts (INDEX default 0): the store's ``mag`` (truth) or ``pred`` frame.

    Raises
    ------
    UserError
        A missing store or frame, an incomplete frame, a store with neither array.
    """
    from .store import FrameStore

    out = []
    for spec in specs:
        text = str(spec)
        head, sep, tail = text.rpartition(":")
        path, index = (head, int(tail)) if sep and tail.strip().isdigit() else (text, 0)
        store = FrameStore(path)
        name = array or next((n for n in ("pred", "mag") if n in store.image_arrays), None)
        if name is None or name not in store.image_arrays:
            raise UserError("holds no magnetogram array (mag or pred)", path=path)
        if not 0 <= index < store.n_frames:
            raise UserError(f"has no frame {index} (it has {store.n_frames})", path=path)
        if not bool(store.frames_done[index]):
            raise UserError(f"frame {index} is not written", path=path)
        out.append(SynchronicSource(name=f"{Path(path).name}:{index}", mag_g=store.read(name, index), geometry=store.geometry(index)))
    return out


def write_synchronic(result: SynchronicMap, path: str | Path) -> Path:
    """Write ``result`` as the multi-extension FITS of the module docstring, atomically."""
    from astropy.io import fits
    from astropy.table import Table

    from .._io import atomic_path

    path = Path(path)
    header = car_header(result.shape, result.time)
    primary = fits.PrimaryHDU(result.br_g, header=header)
    layers = [fits.ImageHDU(result.source, header=header, name="SOURCE"),
              fits.ImageHDU(result.age_days, header=header, name="AGE"),
              fits.ImageHDU(result.mu, header=header, name="MU")]
    layers[0].header["BUNIT"], layers[1].header["BUNIT"], layers[2].header["BUNIT"] = "index", "d", ""
    table = Table(rows=[(i, s["name"], s["time"], s["age_days"], s["used_pixels"]) for i, s in enumerate(result.sources)],
                  names=("index", "name", "time", "age_days", "used_pixels"))
    hdul = fits.HDUList([primary, *layers, fits.table_to_hdu(table)])
    hdul[-1].name = "SOURCES"
    with atomic_path(path) as tmp:
        hdul.writeto(tmp)
    return path


def read_synchronic(path: str | Path) -> SynchronicMap:
    """Read a file of :func:`write_synchronic` back.

    Raises
    ------
    UserError
        Not such a file (missing extensions or WCS).
    """
    from astropy.io import fits

    try:
        with fits.open(path) as hdul:
            br = np.asarray(hdul[0].data, dtype=np.float32)
            source = np.asarray(hdul["SOURCE"].data, dtype=np.int16)
            age = np.asarray(hdul["AGE"].data, dtype=np.float32)
            mu = np.asarray(hdul["MU"].data, dtype=np.float32)
            rows = hdul["SOURCES"].data
            sources = [{"name": str(r["name"]), "time": str(r["time"]), "age_days": float(r["age_days"]),
                        "used_pixels": int(r["used_pixels"])} for r in rows]
            time = str(hdul[0].header["DATE-OBS"])
    except (OSError, KeyError, TypeError) as exc:
        raise UserError(f"is not a synchronic map file ({' '.join(str(exc).split())[:120]})", path=path) from None
    return SynchronicMap(time=time, br_g=br, source=source, age_days=age, mu=mu, sources=sources, skipped=[])
