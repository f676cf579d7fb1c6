"""Full-disk magnetogram inputs: HMI LOS FITS files and euv2mag stores as one list of maps.

Studies over many maps (the region study :mod:`euv2mag.audit.region_study`, the saturation
study; the ``euv2mag regions`` and ``euv2mag saturation`` commands) take "HMI FITS files and/or
stores".  :func:`expand_map_inputs` turns such paths into :class:`MapInput` items with a unique,
file-name-safe name each, and checks them (missing paths, files that are neither, stores without
the array, frame indices outside a store, two inputs with the same name) before any work starts.
:meth:`MapInput.load` gives the map in G (NaN off the disk) and its
:class:`~euv2mag.geometry.DiskGeometry`.

:func:`wcs_header` and :func:`frame_wcs` give a store frame's pixel grid as a FITS WCS that sunpy
and reproject understand (helioprojective TAN, the observer at the frame's time), e.g. to
reproject a frame onto another (:mod:`euv2mag.audit.persistence`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from .fits import fits_stem, is_fits_name

__all__ = ["MapInput", "expand_map_inputs", "safe_name", "wcs_header", "frame_wcs", "observer_hgln_deg"]


def wcs_header(geometry, *, hgln_deg: float | None = None):
    """FITS header of a frame's pixel grid: helioprojective TAN WCS and the observer (sunpy's keys).

    The one definition of a frame's WCS and observer keywords: prediction FITS files
    (:func:`euv2mag.model.predict.fits_header`), the synthetic Sun's level-1-like files
    (:mod:`euv2mag.data.synthetic.fits`) and :func:`frame_wcs` all start from it.

    ``NAXIS1/2`` the image size; ``CTYPE1/2`` = HPLN-TAN / HPLT-TAN in arcsec, ``CRPIX1/2`` at
    the disk centre (1-based), ``CRVAL1/2`` = 0, ``CDELT1/2`` the plate scale (arcsec/px), columns
    west and rows north (no roll); ``RSUN_OBS`` (arcsec) and ``R_SUN`` (px) the apparent radius;
    ``DSUN_OBS`` (m) the frame's ``dsun_m``; ``CRLN_OBS``/``CRLT_OBS`` (deg) the Carrington
    longitude and latitude of the disk centre; the observer at Stonyhurst longitude
    ``HGLN_OBS`` = ``hgln_deg`` (default :func:`observer_hgln_deg`: 0 for Earth and Earth-orbit
    observers, a far-side observer's own longitude) and latitude ``HGLT_OBS`` = ``b0_deg``, at
    ``DATE-OBS`` (the frame's ``time``, when it has one).

    ``RSUN_REF`` (m) is ``dsun_m * sin(RSUN_OBS)``, rounded to the metre: the solar radius with
    which ``RSUN_OBS`` was computed from ``DSUN_OBS``, which is what the keyword means in HMI and
    AIA headers (``RSUN_OBS = asin(RSUN_REF / DSUN_OBS)``).  For a store prepared from HMI or AIA
    files it therefore reproduces their convention, 696 000 000 m (within the ~100 m precision
    of their ``RSUN_OBS``); for the synthetic Sun, whose apparent radius is sunpy's
    ``sun.angular_radius`` (IAU nominal radius), it is 695 700 000 m.  A fixed value instead
    would contradict the header's own ``RSUN_OBS`` for one of the two: sunpy intersects lines of
    sight with a sphere of radius ``RSUN_REF`` seen from ``DSUN_OBS``, so its limb would sit
    0.043 % (0.17 px at ``rsun_px`` = 392) away from where the geometry
    (:class:`~euv2mag.geometry.DiskGeometry`, which places the limb at ``rsun_px`` whatever
    ``dsun_m`` says) has it, and pixel <-> heliographic coordinates would disagree there.

    Parameters
    ----------
    geometry : DiskGeometry
        The frame (its ``time`` is needed for ``DATE-OBS`` and the default ``HGLN_OBS``).
    hgln_deg : float, optional
        Stonyhurst longitude of the observer (deg), when the caller knows it exactly (the
        synthetic observers); default :func:`observer_hgln_deg`.

    Returns
    -------
    astropy.io.fits.Header

    Examples
    --------
    A 64-px frame of a 960.4" Sun at the distance where HMI's 696 Mm subtend that angle:

    >>> import math
    >>> from euv2mag.geometry import DiskGeometry
    >>> dsun = 696e6 / math.sin(math.radians(960.4 / 3600))
    >>> h = wcs_header(DiskGeometry((64, 64), rsun_px=24.5, cdelt_arcsec=39.2, dsun_m=dsun))
    >>> h["CTYPE1"], h["CRPIX1"], round(h["RSUN_OBS"], 6), h["R_SUN"]
    ('HPLN-TAN', 32.5, 960.4, 24.5)
    >>> h["RSUN_REF"]
    696000000.0
    """
    import math

    from astropy.io import fits

    from ..geometry import ARCSEC_PER_RAD

    h = fits.Header()
    h["NAXIS"] = 2
    h["NAXIS1"] = int(geometry.shape[1])
    h["NAXIS2"] = int(geometry.shape[0])
    cx, cy = geometry.center_px
    for axis, (ctype, crpix) in enumerate((("HPLN-TAN", cx + 1.0), ("HPLT-TAN", cy + 1.0)), start=1):
        h[f"CTYPE{axis}"] = ctype
        h[f"CUNIT{axis}"] = "arcsec"
        h[f"CDELT{axis}"] = (geometry.cdelt_arcsec, "arcsec per pixel")
        h[f"CRPIX{axis}"] = (crpix, "disk centre (1-based)")
        h[f"CRVAL{axis}"] = 0.0
    h["RSUN_OBS"] = (geometry.rsun_arcsec, "apparent solar radius, arcsec")
    h["R_SUN"] = (geometry.rsun_px, "apparent solar radius, px")
    rsun_ref = round(geometry.dsun_m * math.sin(geometry.rsun_arcsec / ARCSEC_PER_RAD))
    h["RSUN_REF"] = (float(rsun_ref), "solar radius of RSUN_OBS at DSUN_OBS, m")
    h["DSUN_OBS"] = (geometry.dsun_m, "observer-Sun distance, m")
    h["CRLN_OBS"] = (geometry.l0_deg, "Carrington longitude of disk centre, deg")
    h["CRLT_OBS"] = (geometry.b0_deg, "Carrington latitude of disk centre, deg")
    hgln = observer_hgln_deg(geometry) if hgln_deg is None else float(hgln_deg)
    h["HGLN_OBS"] = (hgln, "Stonyhurst longitude of observer, deg")
    h["HGLT_OBS"] = (geometry.b0_deg, "Stonyhurst latitude of observer, deg")
    if geometry.time:
        h["DATE-OBS"] = str(geometry.time)
    return h


def observer_hgln_deg(geometry) -> float:
    """Heliographic Stonyhurst longitude of the frame's observer, deg in [-180, 180).

    A :class:`~euv2mag.geometry.DiskGeometry` holds the Carrington longitude of its disk centre
    ``l0_deg``, which is the observer's Carrington longitude; Stonyhurst longitude 0 is Earth's
    central meridian, whose Carrington longitude is sunpy's ``sun.L0(time)``, so the observer
    sits at ``l0_deg - L0_earth(time)`` (light travel time differences between observers, at
    most ~0.01 deg, are ignored).  0 for a geometry without a time.

    Examples
    --------
    >>> from sunpy.coordinates import sun
    >>> from euv2mag.geometry import DiskGeometry
    >>> t = "2014-03-01T00:00:00"
    >>> l0 = float(sun.L0(t).deg)
    >>> g = DiskGeometry((64, 64), 24.5, 39.0, 0.0, (l0 + 120.0) % 360, time=t)
    >>> round(observer_hgln_deg(g), 6)
    120.0
    """
    if not geometry.time:
        return 0.0
    from sunpy.coordinates import sun

    earth_l0 = float(sun.L0(str(geometry.time)).deg)
    return float((geometry.l0_deg - earth_l0 + 180.0) % 360.0 - 180.0)


def frame_wcs(geometry):
    """:class:`astropy.wcs.WCS` of :func:`wcs_header` (sunpy's coordinate frames registered)."""
    import warnings

    import sunpy.coordinates  # noqa: F401  (registers the WCS <-> helioprojective frame mapping)
    from astropy.wcs import WCS

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # astropy's notes on the observer keywords it reads
        return WCS(wcs_header(geometry))


def safe_name(text: str) -> str:
    """``text`` reduced to letters, digits and ``._+-`` (other runs become ``_``), usable as a file name."""
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", text).strip("._") or "map"


@dataclass(frozen=True)
class MapInput:
    """One magnetogram to process: a FITS file or a frame of a store.

    Attributes
    ----------
    name : str
        Unique, file-name-safe label (the FITS stem, or ``<store>_<frame:05d>``).
    source : str
        The FITS file or store path as given.
    frame : int
        Frame index in the store; -1 for a FITS file.
    store : FrameStore or None
        The opened store (None for a FITS file).
    array : str
        Store array to read (``mag`` or ``pred``).
    """

    name: str
    source: str
    frame: int
    store: object | None
    array: str = "mag"

    def load(self, size: int, *, quality_ignore: int | None = None):
        """The map in G and its :class:`~euv2mag.geometry.DiskGeometry`.

        FITS files are prepared with :func:`euv2mag.data.fits.prepare_hmi` at ``size`` px
        (``quality_ignore``: its QUALITY bits to tolerate; None: its default); store frames are
        read as stored.
        """
        if self.store is None:
            from .fits import prepare_hmi

            extra = {} if quality_ignore is None else {"quality_ignore": quality_ignore}
            return prepare_hmi(self.source, size=size, **extra)
        return self.store.read(self.array, self.frame), self.store.geometry(self.frame)


def expand_map_inputs(paths: Iterable[str | Path], *, indices: Sequence[int] | None = None,
                      array: str = "mag") -> list[MapInput]:
    """Expand FITS files and store folders into one :class:`MapInput` per map.

    Parameters
    ----------
    paths : iterable of path-like
        FITS files and/or euv2mag stores, in the order to process.
    indices : sequence of int, optional
        Frames of every store to use (default: all).
    array : str
        Store array to read.

    Raises
    ------
    UserError
        For a missing path, something that is neither a FITS file nor a store, a store without
        ``array``, an index outside a store, ``indices`` without any store, no input at all, or
        two inputs with the same name (their outputs would collide).
    """
    from .store import FrameStore
    from ..errors import UserError

    items: list[MapInput] = []
    n_stores = 0
    for text in paths:
        path = Path(text)
        if not path.exists():
            raise UserError("no such file or store", path=path)
        if path.is_dir():
            store = FrameStore(path)
            n_stores += 1
            if not store.has(array):
                raise UserError(f"store has no {array!r} array (it holds {', '.join(store.image_arrays)})", path=path)
            chosen = range(store.n_frames) if indices is None else indices
            for i in chosen:
                if not 0 <= int(i) < store.n_frames:
                    raise UserError(f"frame index {i} is outside 0..{store.n_frames - 1}", path=path)
                items.append(MapInput(f"{safe_name(path.name)}_{int(i):05d}", str(text), int(i), store, array))
        elif is_fits_name(path):
            items.append(MapInput(safe_name(fits_stem(path)), str(text), -1, None, array))
        else:
            raise UserError("is neither a FITS file (.fits/.fts/.fit[.gz|.fz]) nor an euv2mag store", path=path)
    if indices is not None and not n_stores:
        raise UserError("frame indices need a store among the inputs")
    if not items:
        raise UserError("no input maps given")
    names = [it.name for it in items]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise UserError(f"two inputs have the same name ({', '.join(dup)}); their outputs would collide")
    return items
