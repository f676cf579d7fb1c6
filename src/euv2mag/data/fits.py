"""Read full-disk level-1 FITS files (SDO/HMI magnetograms; SDO/AIA, STEREO/EUVI and Solar
Orbiter/EUI-FSI 304 A images) and map them onto the euv2mag disk grid.

What one frame goes through (:func:`prepare_map`)
-------------------------------------------------
1. The header is checked (:func:`check_header`): instrument, wavelength (304 A for every EUV
   imager), the geometry keywords, an observation time, ``QUALITY`` and a positive exposure
   time for EUV images.  The keywords differ between instruments (:data:`INSTRUMENT_KEYWORDS`):

   ==========  =============================  ========================  ==============  ===============
   imager      apparent radius (arcsec)       observer position         time            exposure
   ==========  =============================  ========================  ==============  ===============
   HMI, AIA    ``RSUN_OBS``                   ``CRLN_OBS, CRLT_OBS``    ``T_OBS``       AIA ``EXPTIME``
   EUVI        ``RSUN``                       ``HGLN_OBS, HGLT_OBS``    ``DATE-AVG``    ``EXPTIME``
   EUI/FSI     ``RSUN_ARC`` (``RSUN_OBS``)    ``HGLN_OBS, HGLT_OBS``    ``DATE-AVG``    ``XPOSURE``
   ==========  =============================  ========================  ==============  ===============

   all with ``CTYPE1/2`` (helioprojective), ``CRPIX1/2``, ``CDELT1/2`` and ``DSUN_OBS``; the
   time falls back on ``DATE-OBS``.  The roll is ``CROTA2`` (HMI, AIA), ``CROTA`` (SECCHI,
   EUI) or the ``PCi_j`` matrix when present; sunpy's instrument map classes
   (``AIAMap``, ``HMIMap``, ``EUVIMap``, ``EUIMap``) read each convention, and everything
   below uses the map's WCS, apparent radius (``rsun_obs``), observer coordinate and exposure
   time, not the raw keywords.  EUI's HRI telescopes and SECCHI's coronagraphs are refused
   (not full-disk EUV imagers).
2. The file is read into a :mod:`sunpy` map (compressed image HDUs included, e.g. the
   Rice-compressed ``CompImageHDU`` of HMI in HDU 1).  The map's own WCS (astropy) gives the
   pixel position of the Sun's centre and the linear map from helioprojective offsets to input
   pixels, which includes ``CROTA2``/``PCi_j`` and ``CDELTi``.
3. Each output pixel of the ``N x N`` frame (rows north, columns west, disk centre at
   ``((N-1)/2, (N-1)/2)``, radius ``rsun_px``) is assigned the mean of the input over its
   footprint, so that ``sum(B) * pixel_area`` is conserved (flux-conserving resampling):

   * when the input's axes are those of the output up to flips, a transpose and a residual
     rotation that moves the limb by at most ``rotation_tolerance_px`` output pixels (HMI's
     ``CROTA2 ~ 180.01``), the rotation is done exactly by array flips and the footprint
     average is an exact separable area-weighted rebinning (two sparse matrix products);
   * otherwise the input is sampled bilinearly on a grid ``k`` times finer than the output
     (``k >= `` the input/output pixel ratio, as :func:`sunpy.map.GenericMap.rotate` would do
     for the rotation) and block-averaged ``k x k``.

   NaN input pixels are left out of each average (normalised by the covered area).
4. Off-disk pixels (``r > rsun_px``) become NaN; EUV images are divided by their exposure
   time (DN/s).  No cross-calibration between EUV instruments is applied here: an EUVI or
   EUI image keeps its own DN/s scale.
5. The frame's :class:`~euv2mag.geometry.DiskGeometry` records the time (``T_OBS`` for SDO, the
   time sunpy's ``HMIMap``/``AIAMap.reference_date`` uses; ``DATE-AVG`` for EUVI and EUI, the
   mid-exposure time at the spacecraft), ``rsun_px``, the new plate scale
   ``rsun_obs / rsun_px``, ``b0_deg`` = the observer's heliographic latitude (``CRLT_OBS``,
   ``HGLT_OBS``), ``l0_deg`` = its Carrington longitude (``CRLN_OBS``, or computed by sunpy from
   ``HGLN_OBS`` and the time) and ``dsun_m = DSUN_OBS``.

SHARP-like CEA patches (already on an equal-area grid, ``CDELT1`` in deg) are read as they are
by :func:`~euv2mag.data.patches.read_cea_patch` (:mod:`euv2mag.data.patches`; its names are
importable from here too).

Every problem with a file raises :class:`~euv2mag.errors.UserError` naming the file.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import warnings
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..geometry import RSUN_MM, DiskGeometry, default_rsun_px
# the CEA patch reader lived here: its names stay importable from this module
from .patches import DEFAULT_DSUN_OBS_M, DEFAULT_RSUN_REF_M, CEAPatch, read_cea_patch, read_fits_image  # noqa: F401

__all__ = [
    "FrameHeader",
    "read_header",
    "verify_fits",
    "check_header",
    "read_map",
    "prepare_map",
    "prepare_array",
    "prepare_hmi",
    "prepare_aia",
    "prepare_euv",
    "prepare_header",
    "disk_transform",
    "area_weights",
    "AIA_WAVELENGTH",
    "EUV_WAVELENGTH",
    "EUV_INSTRUMENTS",
    "INSTRUMENT_KEYWORDS",
    "GEOMETRY_KEYS",
    "DEFAULT_QUALITY_IGNORE",
    "FITS_SUFFIXES",
    "is_fits_name",
    "fits_stem",
]

#: The EUV channel euv2mag uses, in Angstrom (AIA, EUVI and EUI/FSI all have a 304 A channel).
EUV_WAVELENGTH = 304
#: The same, under its historical name.
AIA_WAVELENGTH = EUV_WAVELENGTH
#: Full-disk EUV imagers read as input images (``expect="euv"`` accepts any of them).
EUV_INSTRUMENTS = ("aia", "euvi", "eui")
#: Header keywords without which an HMI or AIA frame has no usable geometry.
GEOMETRY_KEYS = ("CTYPE1", "CTYPE2", "CRPIX1", "CRPIX2", "CDELT1", "CDELT2", "RSUN_OBS", "DSUN_OBS", "CRLN_OBS", "CRLT_OBS")
#: Per instrument: ``radius`` (apparent solar radius in arcsec; any one of them), ``observer``
#: (observer position; any one of the pairs), ``time`` (observation time, first found) and
#: ``exposure`` (s; EUV only) keywords.  All need ``CTYPE1/2, CRPIX1/2, CDELT1/2, DSUN_OBS``.
INSTRUMENT_KEYWORDS = {
    "hmi": {"radius": ("RSUN_OBS",), "observer": (("CRLN_OBS", "CRLT_OBS"),), "time": ("T_OBS", "DATE-OBS", "DATE_OBS"), "exposure": None},
    "aia": {"radius": ("RSUN_OBS",), "observer": (("CRLN_OBS", "CRLT_OBS"),), "time": ("T_OBS", "DATE-OBS", "DATE_OBS"), "exposure": "EXPTIME"},
    "euvi": {"radius": ("RSUN", "RSUN_OBS"), "observer": (("HGLN_OBS", "HGLT_OBS"), ("CRLN_OBS", "CRLT_OBS")),
             "time": ("DATE-AVG", "DATE-OBS", "DATE_OBS"), "exposure": "EXPTIME"},
    "eui": {"radius": ("RSUN_ARC", "RSUN_OBS"), "observer": (("HGLN_OBS", "HGLT_OBS"), ("CRLN_OBS", "CRLT_OBS")),
            "time": ("DATE-AVG", "DATE-OBS", "DATE_OBS"), "exposure": "XPOSURE"},
}
_RSUN_M = RSUN_MM * 1e6
_NAMES = {"hmi": "HMI", "aia": "AIA", "euvi": "EUVI", "eui": "EUI/FSI", "euv": "EUV (AIA, EUVI or EUI/FSI)"}
#: Default largest limb displacement (output pixels) of a residual rotation that the fast
#: flip path may ignore (HMI's CROTA2 = 180.013 deg moves the limb by 0.09 px at 1024^2).
ROTATION_TOLERANCE_PX = 0.1
#: QUALITY bits tolerated by default, per instrument.  HMI level-1.5 "observables created but in
#: sub-optimal conditions" bits that leave a magnetogram usable: QUAL_LOWINTERPNUM (0x10000,
#: fewer temporal averaging points) and QUAL_NOCOSMICRAY (0x400, cosmic-ray lists unread).
#: Every other bit skips the frame.  Pass ``quality_ignore=0`` for the strict ``QUALITY == 0``.
DEFAULT_QUALITY_IGNORE = {"hmi": 0x10000 | 0x400, "aia": 0, "euvi": 0, "eui": 0}
#: File-name endings taken as FITS (case-insensitive), compressed ones included.
FITS_SUFFIXES = (".fits", ".fts", ".fit", ".fits.gz", ".fits.fz")


def is_fits_name(path) -> bool:
    """Whether ``path`` ends like a FITS file (:data:`FITS_SUFFIXES`, any case)."""
    return Path(path).name.lower().endswith(FITS_SUFFIXES)


def fits_stem(path) -> str:
    """The file name of ``path`` without its FITS ending (``a.fits.gz`` -> ``a``)."""
    name = Path(path).name
    for suffix in sorted(FITS_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


@dataclasses.dataclass(frozen=True)
class FrameHeader:
    """What the header of one file says, before its image is read.

    Attributes
    ----------
    path : str
        The file.
    instrument : str
        ``"hmi"``, ``"aia"``, ``"euvi"`` or ``"eui"``.
    time : str
        Observation time (ISO 8601, UTC): ``T_OBS`` (SDO) or ``DATE-AVG`` (EUVI, EUI), else
        ``DATE-OBS``.
    hdu : int
        Index of the image HDU (for an SDOML frame: the frame's index along the array's time
        axis).
    header : astropy.io.fits.Header
        The image header.
    source : {"fits", "sdoml"}
        Where the image is: a FITS file (``path``), or frame ``hdu`` of the SDOML Zarr array
        ``array`` (:mod:`euv2mag.data.sdoml`; ``path`` is then ``ARRAY[i]``, for messages).
    array : str or None
        The SDOML array (folder) of an ``"sdoml"`` frame.
    """

    path: str
    instrument: str
    time: str
    hdu: int
    header: object
    source: str = "fits"
    array: str | None = None


def _open(path):
    from astropy.io import fits

    path = Path(path)
    if not path.exists():
        raise UserError("no such file", path=path)
    if path.is_dir():
        raise UserError("is a folder, not a FITS file", path=path)
    try:
        with open(path, "rb") as fh:
            start = fh.read(9)
    except OSError as exc:
        raise UserError(f"cannot be read: {exc.strerror or exc}", path=path) from None
    if start != b"SIMPLE  =":
        raise UserError("is not a FITS file", path=path)
    try:
        with warnings.catch_warnings():
            # astropy warns (through its logger, over several lines) about broken headers of a
            # truncated file; the checks below turn that into one clear error instead.
            warnings.simplefilter("ignore", fits.verify.VerifyWarning)
            return fits.open(path, memmap=False, lazy_load_hdus=False)
    except Exception as exc:  # noqa: BLE001 - astropy raises many types for broken files
        raise UserError(f"is not a readable FITS file ({_short(exc)})", path=path) from None


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


def _image_hdu(hdul, path) -> int:
    for i, hdu in enumerate(hdul):
        if hdu.header.get("NAXIS", 0) == 2 or (hdu.header.get("ZNAXIS", 0) == 2):
            return i
    raise UserError("holds no 2-D image (the file may be truncated or corrupt)", path=path)


def _check_size(hdul, index: int, path) -> None:
    """Refuse a file shorter than its header says (a truncated download)."""
    info = hdul.fileinfo(index)
    if info is None:
        return
    size = os.path.getsize(path)
    needed = info["datLoc"] + info["datSpan"]
    # FITS pads the last block to 2880 bytes; the data proper must be there.
    if size < needed - 2879 or (info["datSpan"] > 0 and size <= info["datLoc"]):
        raise UserError(f"is truncated ({size} bytes, the header announces {needed})", path=path)


def _obs_time(header, path, keys=("T_OBS", "DATE-OBS", "DATE_OBS")) -> str:
    from astropy.time import Time

    for key in keys:
        value = header.get(key)
        if value in (None, ""):
            continue
        text = str(value).strip()
        scale = "utc"
        if text.endswith("_TAI"):
            text, scale = text[:-4], "tai"
        elif text.endswith("_UTC"):
            text = text[:-4]
        if text.endswith("Z"):
            text = text[:-1]
        # JSOC style 2016.07.07_01:00:08.326
        if len(text) >= 10 and text[4] == "." and text[7] == ".":
            text = text[:4] + "-" + text[5:7] + "-" + text[8:10] + text[10:].replace("_", "T", 1)
        try:
            return Time(text, scale=scale).utc.isot
        except ValueError:
            raise UserError(f"has an unreadable observation time {key}={value!r}", path=path) from None
    raise UserError(f"header lacks an observation time ({' or '.join(keys[:2])})", path=path)


def _instrument(header) -> str:
    """``"hmi"``, ``"aia"``, ``"euvi"``, ``"eui"`` (FSI), or a description of something else."""
    text = " ".join(str(header.get(k, "")) for k in ("TELESCOP", "INSTRUME", "ORIGIN", "CONTENT")).upper()
    detector = str(header.get("DETECTOR", "")).strip().upper()
    if "HMI" in text:
        return "hmi"
    if "AIA" in text:
        return "aia"
    if "SECCHI" in text:
        return "euvi" if detector == "EUVI" else f"SECCHI/{detector or '?'}"
    if "EUI" in text.split() or "SOLO/EUI" in text:
        return "eui" if detector.startswith("FSI") else f"EUI/{detector or '?'}"
    return ""


def _header_instrument(header) -> str:
    """The instrument of ``header`` (``""`` when unknown), for map classes built from metadata."""
    found = _instrument(header)
    return found if found in INSTRUMENT_KEYWORDS else ""


def check_header(header, *, expect: str, path, wavelength: int | None = EUV_WAVELENGTH, quality_ignore: int | None = None) -> str:
    """Validate a level-1 header for use by euv2mag and return its observation time.

    Parameters
    ----------
    header : astropy.io.fits.Header
        Image header.
    expect : {"hmi", "aia", "euv"}
        Instrument the file must come from; ``"euv"`` accepts any of :data:`EUV_INSTRUMENTS`
        (AIA, STEREO/EUVI, Solar Orbiter/EUI-FSI).
    path : path-like
        The file (for messages).
    wavelength : int or None
        Required EUV ``WAVELNTH`` in Angstrom (None: any).
    quality_ignore : int, optional
        QUALITY bits that do not make the frame bad (default
        :data:`DEFAULT_QUALITY_IGNORE` of the instrument; 0 = require ``QUALITY == 0``;
        ``0xFFFFFFFF`` = no check).

    Returns
    -------
    str
        Observation time, ISO 8601 UTC.

    Raises
    ------
    UserError
        Naming the file and the first problem found.
    """
    if expect not in ("hmi", "aia", "euv"):
        raise ValueError(f"expect must be 'hmi', 'aia' or 'euv', not {expect!r}")
    found = _instrument(header)
    accepted = EUV_INSTRUMENTS if expect == "euv" else (expect,)
    if found not in accepted:
        if found.startswith(("SECCHI/", "EUI/")):
            raise UserError(f"is {found}, not a full-disk EUV imager (EUVI or EUI/FSI)", path=path)
        what = _NAMES.get(found, found.upper()) if found else f"TELESCOP={header.get('TELESCOP')!r}"
        article = "an" if _NAMES[expect][0] in "AEHIOU" else "a"
        raise UserError(f"is not {article} {_NAMES[expect]} file ({what})", path=path)
    keys = INSTRUMENT_KEYWORDS[found]
    if found == "hmi":
        content = str(header.get("CONTENT", "MAGNETOGRAM")).upper()
        if "MAGNETOGRAM" not in content:
            raise UserError(f"is not a line-of-sight magnetogram (CONTENT={header.get('CONTENT')!r})", path=path)
    if found != "hmi" and wavelength is not None:
        wave = header.get("WAVELNTH")
        try:
            wave_value = float(wave)
        except (TypeError, ValueError):
            raise UserError(f"has no usable WAVELNTH ({wave!r}); euv2mag needs {_NAMES[found]} {wavelength} A", path=path) from None
        if abs(wave_value - wavelength) > 0.5:
            raise UserError(f"is {_NAMES[found]} {wave_value:g} A, not {wavelength} A", path=path)
    required = ["CTYPE1", "CTYPE2", "CRPIX1", "CRPIX2", "CDELT1", "CDELT2", "DSUN_OBS"]
    present = lambda k: header.get(k) not in (None, "")  # noqa: E731
    radius = next((k for k in keys["radius"] if present(k)), keys["radius"][0])
    observer = next((pair for pair in keys["observer"] if all(map(present, pair))), keys["observer"][0])
    numeric = ["CRPIX1", "CRPIX2", "CDELT1", "CDELT2", "DSUN_OBS", radius, *observer]
    missing = [k for k in (*required, radius, *observer) if not present(k)]
    if missing:
        raise UserError(f"header lacks geometry keyword(s) {', '.join(dict.fromkeys(missing))}", path=path)
    for key in numeric:
        try:
            value = float(header[key])
        except (TypeError, ValueError):
            raise UserError(f"has a non-numeric {key}={header[key]!r}", path=path) from None
        if not math.isfinite(value):
            raise UserError(f"has a non-finite {key}", path=path)
    for key in ("CTYPE1", "CTYPE2"):
        if not str(header[key]).upper().startswith(("HPLN", "HPLT", "SOLAR")):
            raise UserError(f"has {key}={header[key]!r}; euv2mag needs helioprojective (HPLN/HPLT) coordinates", path=path)
    for key in ("CDELT1", "CDELT2", radius, "DSUN_OBS"):
        if float(header[key]) == 0 or (key in (radius, "DSUN_OBS") and float(header[key]) < 0):
            raise UserError(f"has an impossible {key}={header[key]!r}", path=path)
    if float(header["DSUN_OBS"]) <= _RSUN_M:
        raise UserError(f"has DSUN_OBS={header['DSUN_OBS']!r} m: the observer would be inside the Sun", path=path)
    ignore = DEFAULT_QUALITY_IGNORE[found] if quality_ignore is None else int(quality_ignore)
    quality = header.get("QUALITY", 0)
    try:
        quality = int(str(quality), 0) if isinstance(quality, str) else int(quality)
    except (TypeError, ValueError):
        raise UserError(f"has an unreadable QUALITY={quality!r}", path=path) from None
    if quality & 0xFFFFFFFF & ~ignore:
        raise UserError(f"is flagged bad (QUALITY={quality:#x})", path=path)
    if keys["exposure"] is not None:
        key = keys["exposure"]
        exptime = header.get(key)
        try:
            exptime = float(exptime)
        except (TypeError, ValueError):
            raise UserError(f"has no usable {key} ({exptime!r})", path=path) from None
        if not (math.isfinite(exptime) and exptime > 0):
            raise UserError(f"has {key}={exptime!r}; cannot normalise to DN/s", path=path)
    return _obs_time(header, path, keys["time"])


def verify_fits(path) -> None:
    """Check that ``path`` is a complete FITS file holding a 2-D image (e.g. after a download).

    Raises
    ------
    UserError
        The file is missing, not FITS, unreadable, has no 2-D image, or is shorter than its
        header announces (truncated).
    """
    with _open(path) as hdul:
        _check_size(hdul, _image_hdu(hdul, path), path)


def read_header(path, *, expect: str, wavelength: int | None = EUV_WAVELENGTH, quality_ignore: int | None = None) -> FrameHeader:
    """Read and validate the header of an HMI or EUV file without decompressing its image.

    ``expect`` is ``"hmi"``, ``"aia"`` or ``"euv"`` (any of :data:`EUV_INSTRUMENTS`); the
    returned :class:`FrameHeader` names the instrument found.

    Raises
    ------
    UserError
        The file is missing, not FITS, truncated, of another instrument or wavelength, flagged
        bad, or lacks geometry keywords.
    """
    with _open(path) as hdul:
        index = _image_hdu(hdul, path)
        _check_size(hdul, index, path)
        header = hdul[index].header.copy()
    time = check_header(header, expect=expect, path=path, wavelength=wavelength, quality_ignore=quality_ignore)
    return FrameHeader(path=str(path), instrument=_instrument(header), time=time, hdu=index, header=header)


def _read_data(path, index: int) -> np.ndarray:
    with _open(path) as hdul:
        hdu = hdul[index]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                data = hdu.data
                blank = hdu.header.get("BLANK") if data is not None and data.dtype.kind in "iu" else None
                image = np.asarray(data, dtype=np.float32)
                if blank is not None:
                    image[data == blank] = np.nan
        except Exception as exc:  # noqa: BLE001 - decompression/IO errors of a broken file
            raise UserError(f"image cannot be read ({_short(exc)})", path=path) from None
    if image.ndim != 2:
        raise UserError(f"image is {image.ndim}-D, expected 2-D", path=path)
    return image


def read_map(path, expect: str = "hmi", *, wavelength: int | None = EUV_WAVELENGTH, quality_ignore: int | None = None):
    """Read a level-1 HMI magnetogram or EUV image as a validated :mod:`sunpy` map.

    Parameters
    ----------
    path : path-like
        FITS file (compressed image HDUs included).
    expect : {"hmi", "aia", "euv"}
        Instrument the file must come from (``"euv"``: AIA, EUVI or EUI/FSI).
    wavelength : int or None
        Required EUV wavelength in Angstrom (default 304; None accepts any).
    quality_ignore : int, optional
        QUALITY bits tolerated (see :func:`check_header`).

    Returns
    -------
    sunpy.map.GenericMap
        Float32 data in the file's units (G for HMI, DN for EUV images), the file's header,
        as sunpy's instrument class (``HMIMap``, ``AIAMap``, ``EUVIMap``, ``EUIMap``).

    Raises
    ------
    UserError
        Naming the file and the problem (see :func:`check_header`).
    """
    head = read_header(path, expect=expect, wavelength=wavelength, quality_ignore=quality_ignore)
    data = _read_data(path, head.hdu)
    return _make_map(data, head.header, path)


@contextlib.contextmanager
def _quiet_sunpy():
    """sunpy's INFO log lines (e.g. EUVI's "Missing metadata for solar radius") kept off the
    user's terminal: the values sunpy assumes there are checked or documented here."""
    from sunpy import log

    level = log.level
    log.setLevel("WARNING")
    try:
        yield
    finally:
        log.setLevel(level)


def _make_map(data, header, path):
    import sunpy.map

    if header.get("WAVELNTH") not in (None, "") and not header.get("WAVEUNIT"):
        header = header.copy()
        header["WAVEUNIT"] = "angstrom"  # AIA, HMI, EUVI and EUI give WAVELNTH in Angstrom

    try:
        with warnings.catch_warnings(), _quiet_sunpy():
            warnings.simplefilter("ignore")  # sunpy metadata notes about missing optional keys
            return sunpy.map.Map((data, header))
    except Exception as exc:  # noqa: BLE001 - sunpy rejects inconsistent metadata in many ways
        raise UserError(f"header cannot be turned into a map ({_short(exc)})", path=path) from None


# ---------------------------------------------------------------------------- geometry maths
def disk_transform(smap, size: int, rsun_px: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Affine map from output pixels to input pixels, computed with the map's WCS.

    Parameters
    ----------
    smap : sunpy.map.GenericMap
        Input map.
    size : int
        Output side ``N``; the disk centre goes to ``((N-1)/2, (N-1)/2)``.
    rsun_px : float
        Output solar radius in pixels.

    Returns
    -------
    center_in : (2,) ndarray
        Input pixel ``(x, y)`` (0-based) of the Sun's centre.
    matrix : (2, 2) ndarray
        ``in_xy = center_in + matrix @ (out_xy - c_out)``; columns are the input-pixel steps of
        one output pixel west (x) and north (y).
    rsun_arcsec : float
        Apparent solar radius (``RSUN_OBS``) in arcsec.
    """
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    rsun_arcsec = float(smap.rsun_obs.to_value(u.arcsec))
    step = rsun_arcsec / 10.0  # a baseline well inside the TAN projection's linear range
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        points = SkyCoord([0.0, step, 0.0] * u.arcsec, [0.0, 0.0, step] * u.arcsec, frame=smap.coordinate_frame)
        px, py = smap.wcs.world_to_pixel(points)
    px = np.asarray(px, dtype=np.float64)
    py = np.asarray(py, dtype=np.float64)
    if not (np.all(np.isfinite(px)) and np.all(np.isfinite(py))):
        raise UserError("the header's WCS cannot place the solar disk", path=smap.meta.get("_euv2mag_path"))
    arcsec_per_out_px = rsun_arcsec / float(rsun_px)
    matrix = np.array([[px[1] - px[0], px[2] - px[0]], [py[1] - py[0], py[2] - py[0]]]) / step * arcsec_per_out_px
    return np.array([px[0], py[0]]), matrix, rsun_arcsec


def area_weights(n_out: int, n_in: int, center_in: float, step: float, center_out: float | None = None):
    """Sparse ``(n_out, n_in)`` matrix of 1-D footprint averages (flux-conserving rebinning).

    Output pixel ``j`` covers input coordinates ``center_in + step * (j -+ 0.5 - center_out)``;
    its weight on input pixel ``i`` (covering ``i -+ 0.5``) is the overlap length divided by
    ``step``, so a row sums to the covered fraction of the footprint (1 inside the image).

    Parameters
    ----------
    n_out, n_in : int
        Output and input lengths.
    center_in : float
        Input coordinate of the output's centre.
    step : float
        Input pixels per output pixel (> 0).
    center_out : float, optional
        Output coordinate mapped to ``center_in`` (default ``(n_out - 1) / 2``).
    """
    from scipy import sparse

    if center_out is None:
        center_out = (n_out - 1) / 2.0
    j = np.arange(n_out, dtype=np.float64)
    lo = center_in + step * (j - 0.5 - center_out)
    hi = lo + step
    span = int(math.ceil(step)) + 2
    first = np.floor(lo + 0.5).astype(np.int64)
    cols = first[:, None] + np.arange(span)[None, :]
    overlap = np.minimum(hi[:, None], cols + 0.5) - np.maximum(lo[:, None], cols - 0.5)
    keep = (overlap > 0) & (cols >= 0) & (cols < n_in)
    rows = np.broadcast_to(np.arange(n_out)[:, None], cols.shape)
    weights = np.where(keep, overlap / step, 0.0)
    return sparse.csr_matrix(
        (weights[keep].astype(np.float32), (rows[keep], cols[keep])), shape=(n_out, n_in), dtype=np.float32
    )


def _separable(data: np.ndarray, center_in, fx: float, fy: float, size: int) -> tuple[np.ndarray, np.ndarray]:
    finite = np.isfinite(data)
    filled = np.where(finite, data, np.float32(0.0)).astype(np.float32, copy=False)
    wy = area_weights(size, data.shape[0], center_in[1], fy)
    wx = area_weights(size, data.shape[1], center_in[0], fx)

    def apply(image):
        rows = wy @ image  # (size, nx) dense
        return np.asarray((wx @ rows.T).T, dtype=np.float64)

    total = apply(filled)
    if finite.all():
        cover = np.outer(np.asarray(wy.sum(axis=1)).ravel(), np.asarray(wx.sum(axis=1)).ravel())
    else:
        cover = apply(finite.astype(np.float32))
    return total, cover


def _supersampled(data: np.ndarray, center_in, matrix: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    from scipy import ndimage

    k = max(1, int(math.ceil(float(np.max(np.abs(np.linalg.svd(matrix, compute_uv=False)))) - 1e-9)))
    c_out = (size - 1) / 2.0
    # supersampled pixel u -> output coordinate (u + 0.5) / k - 0.5 -> input
    lin = matrix / k
    offset = np.asarray(center_in) + matrix @ np.array([(0.5 / k - 0.5) - c_out] * 2)
    # ndimage works in (row, col) = (y, x) order
    lin_rc = lin[::-1, ::-1]
    off_rc = offset[::-1]
    sampled = ndimage.affine_transform(
        data.astype(np.float32, copy=False), lin_rc, offset=off_rc, output_shape=(size * k, size * k),
        order=1, mode="constant", cval=np.nan, prefilter=False,
    )
    finite = np.isfinite(sampled)
    blocks = np.where(finite, sampled, 0.0).reshape(size, k, size, k).sum(axis=(1, 3), dtype=np.float64)
    cover = finite.reshape(size, k, size, k).sum(axis=(1, 3), dtype=np.float64)
    return blocks / (k * k), cover / (k * k)


def prepare_array(
    data: np.ndarray,
    center_in,
    matrix: np.ndarray,
    size: int,
    rsun_px: float,
    *,
    rotation_tolerance_px: float = ROTATION_TOLERANCE_PX,
    min_cover: float = 0.5,
    mask_off_disk: bool = True,
) -> np.ndarray:
    """Resample one full-disk image onto the centred, north-up ``size x size`` grid.

    Pure array function (no FITS, no sunpy): the per-frame core of :func:`prepare_map`.

    Parameters
    ----------
    data : (ny, nx) ndarray
        Input image in any unit (NaN = missing).
    center_in : (2,) array_like
        Input pixel ``(x, y)`` of the Sun's centre.
    matrix : (2, 2) ndarray
        Input pixels per output pixel (see :func:`disk_transform`).
    size : int
        Output side ``N``.
    rsun_px : float
        Output solar radius; pixels with ``r > rsun_px`` become NaN.
    rotation_tolerance_px : float
        Largest limb displacement (output pixels) of a residual rotation the exact
        flip-and-rebin path may ignore.
    min_cover : float
        Output pixels whose footprint is less than this fraction finite input become NaN.
    mask_off_disk : bool
        Set pixels with ``r > rsun_px`` to NaN (off only for diagnostics: then the finite
        region shows the input's own limb mask).

    Returns
    -------
    (N, N) float32 ndarray
        Footprint-averaged image (same unit as ``data``), NaN off the disk.
    """
    data = np.asarray(data)
    if data.ndim != 2:
        raise UserError(f"expected a 2-D image, got shape {data.shape}")
    center = np.array(center_in, dtype=np.float64)
    a = np.array(matrix, dtype=np.float64)
    image = data
    # bring the input's axes onto the output's by a transpose and flips (exact, free)
    if abs(a[0, 0]) + abs(a[1, 1]) < abs(a[0, 1]) + abs(a[1, 0]):
        image = image.T
        center = center[::-1].copy()
        a = a[::-1, :].copy()
    if a[0, 0] < 0:
        image = image[:, ::-1]
        center[0] = image.shape[1] - 1 - center[0]
        a[0, :] *= -1
    if a[1, 1] < 0:
        image = image[::-1, :]
        center[1] = image.shape[0] - 1 - center[1]
        a[1, :] *= -1
    residual = max(abs(a[0, 1]) / a[0, 0], abs(a[1, 0]) / a[1, 1])  # ~ residual rotation angle, rad
    if residual * rsun_px <= rotation_tolerance_px:
        total, cover = _separable(np.ascontiguousarray(image), center, a[0, 0], a[1, 1], size)
    else:
        total, cover = _supersampled(np.ascontiguousarray(image), center, a, size)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (total / cover).astype(np.float32)
    out[~(cover >= min_cover)] = np.nan
    if mask_off_disk:
        geometry = DiskGeometry(shape=(size, size), rsun_px=rsun_px, cdelt_arcsec=1.0)
        out[geometry.rho > 1.0] = np.nan
    return out


def prepare_map(
    smap,
    size: int = 1024,
    rsun_px: float | None = None,
    *,
    path=None,
    rotation_tolerance_px: float = ROTATION_TOLERANCE_PX,
    mask_off_disk: bool = True,
    per_second: bool = False,
) -> tuple[np.ndarray, DiskGeometry]:
    """North-up, centred, rescaled ``size x size`` image of one map and its geometry.

    Parameters
    ----------
    smap : sunpy.map.GenericMap
        HMI magnetogram (G) or AIA image (DN; divided by ``EXPTIME`` here when the map is from
        AIA, giving DN/s).
    size : int
        Output side in pixels.
    rsun_px : float, optional
        Output solar radius in pixels (default :func:`~euv2mag.geometry.default_rsun_px`).
    path : path-like, optional
        Source file named in error messages.
    rotation_tolerance_px, mask_off_disk
        See :func:`prepare_array`.
    per_second : bool
        The AIA data are already in DN/s (e.g. SDOML): do not divide by ``EXPTIME``.

    Returns
    -------
    image : (N, N) float32 ndarray
        NaN off the disk.
    geometry : DiskGeometry

    Raises
    ------
    UserError
        Bad size or radius, missing header values, or no finite pixel on the disk.
    """
    size = int(size)
    if size < 8:
        raise UserError(f"size must be at least 8 pixels, got {size}")
    rsun_px = default_rsun_px(size) if rsun_px is None else float(rsun_px)
    if not (math.isfinite(rsun_px) and 1.0 <= rsun_px <= size / 2.0):
        raise UserError(f"must lie in 1..{size / 2:g} for a {size}^2 frame, got {rsun_px:g}", parameter="rsun_px")
    meta = smap.meta
    instrument = _header_instrument(meta)
    time = _obs_time(meta, path, INSTRUMENT_KEYWORDS.get(instrument or "aia")["time"])
    with _quiet_sunpy():
        center_in, matrix, rsun_arcsec = disk_transform(smap, size, rsun_px)
    data = np.asarray(smap.data, dtype=np.float32)
    out = prepare_array(
        data, center_in, matrix, size, rsun_px, rotation_tolerance_px=rotation_tolerance_px, mask_off_disk=mask_off_disk
    )
    if instrument in EUV_INSTRUMENTS and not per_second:
        out /= np.float32(float(meta[INSTRUMENT_KEYWORDS[instrument]["exposure"].lower()]))
    if not np.isfinite(out).any():
        raise UserError("image has no finite pixel on the solar disk (NaN-only or off-pointed)", path=path)
    with _quiet_sunpy():
        b0_deg, l0_deg = _observer_angles(smap, instrument, path)
    geometry = DiskGeometry(
        shape=(size, size),
        rsun_px=rsun_px,
        cdelt_arcsec=rsun_arcsec / rsun_px,
        b0_deg=b0_deg,
        l0_deg=l0_deg,
        dsun_m=float(meta["dsun_obs"]),
        time=time,
    )
    return out, geometry


def _observer_angles(smap, instrument: str, path) -> tuple[float, float]:
    """Observer's heliographic latitude (B0) and Carrington longitude (L0), deg.

    The header's ``CRLT_OBS`` and ``CRLN_OBS`` when it has them (SDO always; SECCHI and EUI
    usually); otherwise sunpy's Carrington coordinates of the map's observer (``HGLN_OBS,
    HGLT_OBS, DSUN_OBS``) at the map's date.  sunpy's L0 includes the Sun-observer light travel
    time; SECCHI's ``CRLN_OBS`` agrees with it, EUI's L1 ``CRLN_OBS`` omits it (0.08 deg less at
    1 au, tested).
    """
    meta = smap.meta
    if instrument in ("hmi", "aia") or (meta.get("crlt_obs") not in (None, "") and meta.get("crln_obs") not in (None, "")):
        return float(meta["crlt_obs"]), float(meta["crln_obs"]) % 360.0
    import astropy.units as u

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(smap.carrington_latitude.to_value(u.deg)), float(smap.carrington_longitude.to_value(u.deg)) % 360.0
    except Exception as exc:  # noqa: BLE001 - sunpy raises several types for a missing observer
        raise UserError(f"the header gives no usable observer position ({_short(exc)})", path=path) from None


def _prepare_file(path, expect, size, rsun_px, **kwargs):
    return prepare_header(read_header(path, expect=expect, **kwargs), size, rsun_px)


def prepare_header(head: FrameHeader, size: int = 1024, rsun_px: float | None = None) -> tuple[np.ndarray, DiskGeometry]:
    """Read the image of an already validated file (:func:`read_header`) or SDOML frame and prepare it.

    An SDOML AIA frame is already in DN/s (:mod:`euv2mag.data.sdoml`), so it is not divided
    by ``EXPTIME`` again.
    """
    path = head.path
    if head.source == "sdoml":
        from .sdoml import read_sdoml_frame

        data = read_sdoml_frame(head)
    else:
        data = _read_data(path, head.hdu)
    if not np.isfinite(data).any():
        raise UserError("image is NaN-only", path=path)
    smap = _make_map(data, head.header, path)
    return prepare_map(smap, size, rsun_px, path=path, per_second=head.source == "sdoml")


def prepare_hmi(path, size: int = 1024, rsun_px: float | None = None, *, quality_ignore: int | None = None) -> tuple[np.ndarray, DiskGeometry]:
    """Prepare one HMI line-of-sight magnetogram file.

    Returns
    -------
    mag_g : (N, N) float32 ndarray
        Line-of-sight field in G, north up, disk centred with radius ``rsun_px``, NaN off disk.
    geometry : DiskGeometry
    """
    return _prepare_file(path, "hmi", size, rsun_px, quality_ignore=quality_ignore)


def prepare_euv(
    path, size: int = 1024, rsun_px: float | None = None, *, wavelength: int | None = EUV_WAVELENGTH, quality_ignore: int | None = None
) -> tuple[np.ndarray, DiskGeometry]:
    """Prepare one full-disk EUV image file: SDO/AIA, STEREO/EUVI or Solar Orbiter/EUI-FSI.

    Returns
    -------
    euv_dn_s : (N, N) float32 ndarray
        Intensity in DN/s (divided by the exposure time, ``EXPTIME`` or ``XPOSURE``), north
        up, centred, NaN off disk; each instrument on its own intensity scale.
    geometry : DiskGeometry
        The frame as seen from that instrument's observer (B0, L0, distance).
    """
    return _prepare_file(path, "euv", size, rsun_px, wavelength=wavelength, quality_ignore=quality_ignore)


def prepare_aia(
    path, size: int = 1024, rsun_px: float | None = None, *, wavelength: int | None = AIA_WAVELENGTH, quality_ignore: int | None = None
) -> tuple[np.ndarray, DiskGeometry]:
    """Prepare one AIA level-1 image file (304 A by default).

    Returns
    -------
    euv_dn_s : (N, N) float32 ndarray
        Intensity in DN/s (divided by ``EXPTIME``), north up, centred, NaN off disk.
    geometry : DiskGeometry
    """
    return _prepare_file(path, "aia", size, rsun_px, wavelength=wavelength, quality_ignore=quality_ignore)
