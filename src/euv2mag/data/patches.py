"""SHARP-like CEA patches: FITS files of an active region already on an equal-area grid.

A patch (e.g. the ``magnetogram`` segment of ``hmi.sharp_cea_720s``) is read as it is, with no
resampling: its first 2-D image is the LOS field in G on a cylindrical equal-area (CEA) grid whose
pixel size is ``CDELT1`` in deg, and its header gives ``RSUN_REF`` and ``DSUN_OBS`` (m), with
which the pixel area is ``(radians(CDELT1) RSUN_REF)^2``, and SHARP's own ``R_VALUE`` (log10 R)
and ``USFLUX`` (Mx) to compare with.  :func:`read_cea_patch` gives them as a :class:`CEAPatch`;
:func:`read_fits_image` the first 2-D image of any FITS file (the patches' bitmaps too).  The
audit measures the patches (:mod:`euv2mag.audit.patch`, :mod:`euv2mag.audit.region_study`).

These names are also importable from :mod:`euv2mag.data.fits`, where they were first defined.
Every problem with a file raises :class:`~euv2mag.errors.UserError` naming the file.
"""
from __future__ import annotations

import dataclasses
import math
import warnings
from pathlib import Path

import numpy as np

from ..errors import UserError

__all__ = ["CEAPatch", "read_fits_image", "read_cea_patch", "DEFAULT_RSUN_REF_M", "DEFAULT_DSUN_OBS_M"]

#: ``RSUN_REF`` (m) assumed when a CEA patch header lacks it (the SHARP value).
DEFAULT_RSUN_REF_M = 6.96e8
#: ``DSUN_OBS`` (m) assumed when a CEA patch header lacks it (1 au).
DEFAULT_DSUN_OBS_M = 1.495978707e11


@dataclasses.dataclass(frozen=True)
class CEAPatch:
    """A SHARP-like CEA patch as read by :func:`read_cea_patch`.

    Attributes
    ----------
    path : str
        The file.
    los_g : (H, W) ndarray of float64
        LOS field on the patch's CEA grid (G), as stored (NaN where missing).
    cdelt_deg : float
        CEA pixel size, header ``CDELT1`` (deg).
    rsun_ref_m : float
        Header ``RSUN_REF`` (m); :data:`DEFAULT_RSUN_REF_M` when absent.
    dsun_obs_m : float
        Header ``DSUN_OBS`` (m); :data:`DEFAULT_DSUN_OBS_M` when absent.
    header_r_value : float
        Header ``R_VALUE`` (SHARP's log10 R); NaN when absent or not a number.
    header_usflux_mx : float
        Header ``USFLUX`` (SHARP's total unsigned flux, Mx); NaN when absent or not a number.
    """

    path: str
    los_g: np.ndarray
    cdelt_deg: float
    rsun_ref_m: float
    dsun_obs_m: float
    header_r_value: float
    header_usflux_mx: float


def read_fits_image(path) -> tuple[np.ndarray, object]:
    """The first 2-D image of a FITS file (compressed image HDUs included).

    Parameters
    ----------
    path : path-like
        The FITS file.

    Returns
    -------
    data : (H, W) ndarray of float64
        The image, in the file's unit.
    header : astropy.io.fits.Header
        A copy of its header.

    Raises
    ------
    UserError
        For a missing or unreadable file, or one without a 2-D image.
    """
    from astropy.io import fits

    path = Path(path)
    if not path.is_file():
        raise UserError("no such file", path=path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(path) as hdul:
                hdul.verify("silentfix")
                for hdu in hdul:
                    if hdu.is_image and hdu.data is not None and hdu.data.ndim == 2:
                        return np.asarray(hdu.data, dtype=np.float64), hdu.header.copy()
    except (OSError, ValueError, TypeError) as exc:
        raise UserError(f"cannot read FITS: {exc}", path=path) from None
    raise UserError("has no 2-D image", path=path)


def _header_float(header, key: str, path, default: float | None = None) -> float:
    """``header[key]`` as a finite float, else ``default``; no default: UserError naming the file."""
    value = header.get(key, default)
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value):
        if default is not None:
            return float(default)
        raise UserError(f"header keyword {key} is missing or not a number", path=path)
    return value


def read_cea_patch(path) -> CEAPatch:
    """Read a SHARP-like CEA patch: the LOS field and the header values its parameters need.

    Parameters
    ----------
    path : path-like
        FITS file of the patch (e.g. the ``magnetogram`` segment of ``hmi.sharp_cea_720s``): the
        first 2-D image is the LOS field in G on a CEA grid with ``CDELT1`` in deg
        (``CUNIT1`` ``deg`` or absent).

    Returns
    -------
    CEAPatch
        The field and ``CDELT1`` (deg), ``RSUN_REF``, ``DSUN_OBS`` (m; defaults
        :data:`DEFAULT_RSUN_REF_M`, :data:`DEFAULT_DSUN_OBS_M`), ``R_VALUE`` and ``USFLUX`` (Mx;
        NaN when absent).

    Raises
    ------
    UserError
        For an unreadable file, no 2-D image, ``CDELT1`` missing or not a number, or a
        ``CUNIT1`` other than degrees.
    """
    path = Path(path)
    los, head = read_fits_image(path)
    cdelt = _header_float(head, "CDELT1", path)
    unit = str(head.get("CUNIT1", "deg")).strip().lower()
    if unit not in ("deg", "degree", "degrees", ""):
        raise UserError(f"CUNIT1 is {unit!r}; a CEA patch needs degrees", path=path)
    rsun_ref = _header_float(head, "RSUN_REF", path, DEFAULT_RSUN_REF_M)
    dsun = _header_float(head, "DSUN_OBS", path, DEFAULT_DSUN_OBS_M)
    r_value = _header_float(head, "R_VALUE", path, math.nan) if "R_VALUE" in head else math.nan
    usflux = _header_float(head, "USFLUX", path, math.nan) if "USFLUX" in head else math.nan
    return CEAPatch(str(path), los, cdelt, rsun_ref, dsun, r_value, usflux)
