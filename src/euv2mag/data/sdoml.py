"""SDOML-style Zarr archives as a source of AIA and HMI frames for ``euv2mag prepare``.

Layout read (SDOML version 2)
-----------------------------
The SDO machine-learning data set (Galvez et al. 2019, ApJS 242, 7; version 2 by M. Jin,
P. J. Wright and M. C. M. Cheung, NASA HDRL bucket ``gov-nasa-hdrl-data1/contrib/fdl-sdoml/
fdl-sdoml-v2/``: ``sdomlv2.zarr``, ``sdomlv2_small.zarr`` for AIA, ``sdomlv2_hmi.zarr`` for
HMI) is a Zarr (format 2) hierarchy:

* a root group with one group per year (``2011``, ``2012`` ...);
* in each year one array per channel: AIA ``94A, 131A, 171A, 193A, 211A, 304A, 335A, 1600A,
  1700A``; HMI ``Bx, By, Bz``; each of shape ``(time, ny, nx)`` (512 x 512 in the public set),
  one image per index along the first axis, in the row order of the FITS image (row 0 = first
  FITS row, i.e. ``CRPIX2`` counts from it);
* the array's attributes (``.zattrs``) hold the FITS header keywords of the frames, each as
  a list with one value per frame (``T_OBS``, ``WAVELNTH``, ``EXPTIME``, ``CDELT1``,
  ``CRPIX1``, ``RSUN_OBS``, ``DSUN_OBS``, ``CRLN_OBS``, ``CRLT_OBS`` ...); a keyword given as a
  single value applies to every frame.

Values: SDOML v2 AIA images are exposure-normalised and degradation-corrected, in DN/s, so
they are *not* divided by ``EXPTIME`` again and ``prepare(degradation=...)`` is refused for
them; HMI ``Bz`` is the line-of-sight component of the vector field (G), the quantity euv2mag
trains on.  A store with an ``M`` array (line-of-sight magnetogram, as ``hmi.M_720s``) in the
same layout is read in preference to ``Bz``.

Which frames
------------
A path given to ``prepare`` may be the root (every year group holding the channel), one year
group, or one channel array.  Each frame's header is rebuilt from the attributes and checked
exactly as a FITS header (:func:`euv2mag.data.fits.check_header`); the image then goes through
the same resampling as a FITS file (:func:`euv2mag.data.fits.prepare_header`), so a frame from
SDOML and the same image from FITS give the same prepared frame.

Geometry keywords of another image size: when the attributes carry ``NAXIS1``/``NAXIS2``
different from the stored image (keywords of the full-resolution original kept for a binned
image), ``CDELT`` and ``CRPIX`` are rescaled to the stored pixels (``CDELT * f``,
``(CRPIX - 0.5) / f + 0.5`` with ``f = NAXIS / n``), which is exact for a plain rebin.

Not verified here: the test machine cannot reach the public bucket, so this reader is tested on
a small store written in the layout above (tests/test_sdoml.py), not on the public data; in
particular the units (DN/s), the row order and whether the public ``CDELT``/``CRPIX`` describe
the 512 x 512 images or the 4096 x 4096 originals are taken from the documentation, not checked.

Bad stores
----------
A store without the channel, an array that is not 3-D, or an array lacking one of the needed
attributes (or with a per-frame list of the wrong length) raises
:class:`~euv2mag.errors.UserError` naming the array and the attribute; a frame whose own values
are missing or unusable (a ``null`` in a list, a bad ``QUALITY``) is skipped like a bad FITS file.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ..errors import UserError
from .fits import AIA_WAVELENGTH, GEOMETRY_KEYS, FrameHeader, check_header

__all__ = ["SDOML_LAYOUT", "HMI_CHANNELS", "is_zarr_path", "channel_name", "sdoml_arrays", "read_sdoml_headers", "select_cadence",
           "read_sdoml_frame", "required_attributes"]

#: The layout this module reads.
SDOML_LAYOUT = "SDOML v2 (fdl-sdoml-v2: YEAR/CHANNEL arrays (time, ny, nx), per-frame header lists in .zattrs)"
#: HMI arrays used, in order of preference: a line-of-sight magnetogram, else the vector field's Bz.
HMI_CHANNELS = ("M", "Bz")


def is_zarr_path(path) -> bool:
    """Whether ``path`` is a Zarr group or array folder (format 2 or 3)."""
    path = Path(path)
    return path.is_dir() and any((path / name).is_file() for name in (".zgroup", ".zarray", "zarr.json"))


def channel_name(instrument: str, wavelength: int = AIA_WAVELENGTH) -> tuple[str, ...]:
    """Array names to look for: ``("304A",)`` for AIA 304 Å, :data:`HMI_CHANNELS` for HMI."""
    return (f"{int(wavelength)}A",) if instrument == "aia" else HMI_CHANNELS


def required_attributes(instrument: str) -> tuple[str, ...]:
    """Attributes every array must have: the observation time and the geometry keywords (+ AIA's)."""
    extra = ("WAVELNTH", "EXPTIME") if instrument == "aia" else ()
    return ("T_OBS", *GEOMETRY_KEYS, *extra)


def _open(path):
    import zarr

    try:
        return zarr.open(str(path), mode="r")
    except Exception as exc:  # noqa: BLE001 - zarr raises many types for broken metadata
        text = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise UserError(f"is not a readable Zarr store ({text})", path=path) from None


def sdoml_arrays(path, instrument: str, wavelength: int = AIA_WAVELENGTH) -> list[str]:
    """The channel arrays under ``path`` (root, year group or array), as folder paths, years sorted.

    Raises
    ------
    UserError
        ``path`` is not Zarr or holds no array of the channel.
    """
    import zarr

    path = Path(path)
    node = _open(path)
    names = channel_name(instrument, wavelength)
    if isinstance(node, zarr.Array):
        return [str(path)]
    found = []
    for name in names:  # a year group holding the channel directly
        if name in node and isinstance(node[name], zarr.Array):
            found.append(str(path / name))
            break
    if not found:
        for key in sorted(k for k, v in node.groups()):
            group = node[key]
            for name in names:
                if name in group and isinstance(group[name], zarr.Array):
                    found.append(str(path / key / name))
                    break
    if not found:
        raise UserError(f"holds no SDOML {instrument.upper()} array {' or '.join(names)} (looked for YEAR/{names[0]})", path=path)
    return found


def _frame_values(attrs: dict, n: int, array: str, instrument: str) -> dict:
    """Keyword -> list of n values (single values repeated); UserError for missing/misshapen needed ones."""
    for key in required_attributes(instrument):
        if key not in attrs:
            raise UserError(f"SDOML array lacks the attribute {key}", path=array)
    values = {}
    for key, value in attrs.items():
        if len(key) > 8 or key in ("COMMENT", "HISTORY", "") or not key.replace("-", "_").replace("_", "A").isalnum():
            continue  # not a FITS keyword
        if isinstance(value, list):
            if len(value) != n:
                if key in required_attributes(instrument):
                    raise UserError(f"attribute {key} has {len(value)} values for {n} frames", path=array)
                continue
            values[key] = value
        elif isinstance(value, (str, int, float, bool)) or value is None:
            values[key] = [value] * n
    return values


def _usable(value) -> bool:
    if value is None:
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return isinstance(value, (str, int, float, bool))


def _header(values: dict, i: int, shape: tuple[int, int], instrument: str):
    from astropy.io import fits

    header = fits.Header()
    for key, column in values.items():
        value = column[i]
        if _usable(value):
            header[key] = value
    ny, nx = shape
    for axis, n in (("1", nx), ("2", ny)):
        original = header.get("NAXIS" + axis)
        if original not in (None, "") and int(original) != n and "CDELT" + axis in header and "CRPIX" + axis in header:
            f = float(original) / n
            header["CDELT" + axis] = float(header["CDELT" + axis]) * f
            header["CRPIX" + axis] = (float(header["CRPIX" + axis]) - 0.5) / f + 0.5
    header["NAXIS"], header["NAXIS1"], header["NAXIS2"] = 2, nx, ny
    if instrument == "hmi":
        header.pop("CONTENT", None)  # the component is chosen by the array name (HMI_CHANNELS)
        header.setdefault("TELESCOP", "SDO/HMI")
    else:
        header.setdefault("TELESCOP", "SDO/AIA")
    return header


def select_cadence(times: list, cadence_s: float, tolerance_s: float) -> list[int]:
    """Indices of the frames nearest the steps ``t0 + k * cadence_s`` (``t0`` = the earliest time).

    Parameters
    ----------
    times : list
        The ``T_OBS`` values of the frames (unreadable or missing ones are never selected).
    cadence_s, tolerance_s : float
        Step, and the largest step-to-frame distance, in seconds.

    Returns
    -------
    list of int
        Sorted, distinct frame indices.

    Examples
    --------
    >>> select_cadence(["2011-01-01T00:00:07", "2011-01-01T00:06:07", "2011-01-01T12:01:00", None], 43200, 360)
    [0, 2]
    """
    from .download import Record, nearest_records, time_steps

    from .fits import _obs_time

    good = {}
    for i, value in enumerate(times):
        try:
            good[i] = _obs_time({"T_OBS": value}, None)  # the same reading of T_OBS as the headers'
        except (UserError, TypeError, ValueError):
            continue
    if not good:
        return []
    first, last = min(good.values()), max(good.values())
    records = [Record("sdoml", t, key=i) for i, t in good.items()]
    chosen = nearest_records(time_steps(first, last, cadence_s), records, tolerance_s)
    return sorted({r.key for r in chosen if r is not None})


def read_sdoml_headers(path, instrument: str, *, wavelength: int | None = AIA_WAVELENGTH,
                       quality_ignore: int | None = None, cadence_s: float | None = None,
                       tolerance_s: float = 360.0) -> tuple[list[FrameHeader], list[dict]]:
    """Validated per-frame headers of the channel arrays under ``path``, and skip-report rows.

    Parameters
    ----------
    path : path-like
        SDOML root, year group or channel array.
    instrument : {"aia", "hmi"}
    wavelength : int or None
        AIA channel in Angstrom (default 304).
    quality_ignore : int, optional
        As :func:`euv2mag.data.fits.check_header`.
    cadence_s : float, optional
        Take only the frame nearest each step of this cadence (s), within ``tolerance_s``
        (:func:`select_cadence`, steps from the array's earliest ``T_OBS``); None: every frame.
        Only the selected frames' headers are built.
    tolerance_s : float
        See ``cadence_s``.

    Returns
    -------
    heads : list of FrameHeader
        ``source="sdoml"``, ``path`` = ``ARRAY[i]``, ``hdu`` = ``i``.
    skipped : list of dict
        Rows (``file``, ``instrument``, ``time``, ``reason``) for frames whose header fails.

    Raises
    ------
    UserError
        No such channel, an array that is not 3-D, or a missing/misshapen needed attribute.
    """
    import zarr

    heads, skipped = [], []
    for array in sdoml_arrays(path, instrument, AIA_WAVELENGTH if wavelength is None else wavelength):
        node = zarr.open_array(array, mode="r")
        if node.ndim != 3:
            raise UserError(f"SDOML array has shape {node.shape}; expected (time, ny, nx)", path=array)
        n = node.shape[0]
        values = _frame_values(dict(node.attrs), n, array, instrument)
        indices = range(n) if cadence_s is None else select_cadence(values["T_OBS"], cadence_s, tolerance_s)
        for i in indices:
            label = f"{array}[{i}]"
            header = _header(values, i, node.shape[1:], instrument)
            try:
                time = check_header(header, expect=instrument, path=label, wavelength=wavelength, quality_ignore=quality_ignore)
            except UserError as exc:
                reason = str(exc)[len(label) + 2:] if str(exc).startswith(label + ": ") else str(exc)
                skipped.append({"file": label, "instrument": instrument, "time": "", "reason": reason})
                continue
            heads.append(FrameHeader(path=label, instrument=instrument, time=time, hdu=i, header=header,
                                     source="sdoml", array=os.fspath(array)))
    return heads, skipped


def read_sdoml_frame(head: FrameHeader) -> np.ndarray:
    """The image of an SDOML frame as float32 (data units: DN/s for AIA, G for HMI).

    Raises
    ------
    UserError
        The chunk cannot be read (naming ``ARRAY[i]``).
    """
    import zarr

    try:
        return np.asarray(zarr.open_array(head.array, mode="r")[head.hdu], dtype=np.float32)
    except Exception as exc:  # noqa: BLE001 - missing or corrupt chunks
        text = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise UserError(f"image cannot be read ({text})", path=head.path) from None
