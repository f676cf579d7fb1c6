"""``euv2mag import``: magnetograms made by other programs as a prediction store on a truth store's frames.

:func:`import_predictions` turns FITS magnetograms and 8-bit PNG/JPEG images (such as KPL19's
released outputs) into a store of ``kind="prediction"`` that ``euv2mag audit --pred`` accepts:
array ``pred`` (G, NaN off the disk) on the geometry of the truth store given as ``like``, one
frame per truth frame that a file matches, with the truth frame's ``time`` and geometry arrays.

Steps
-----
1. Every file is looked at without reading its image: its format (FITS by name, see
   :data:`~euv2mag.data.fits.FITS_SUFFIXES`; ``.png``, ``.jpg``, ``.jpeg``), its observation time
   and, for FITS, its helioprojective WCS; for PNG/JPEG its size.
2. Files are matched to truth frames by time: each to the nearest truth frame, accepted when at
   most ``tolerance_s`` away; when several files match one truth frame, the closest in time (the
   first given on a tie) is used and the others are skipped.
3. Each matched file becomes the frame:

   FITS
       Read as ``prepare`` reads HMI (:mod:`euv2mag.data.fits`): a :mod:`sunpy` map whose WCS
       (astropy; any image size, pixel scale, roll ``CROTA2``/``PCi_j``, reference pixel)
       places the disk, then the same flux-conserving resampling
       (:func:`~euv2mag.data.fits.disk_transform`, :func:`~euv2mag.data.fits.prepare_array`)
       onto the truth frame's grid: disk centre ``((N-1)/2, (N-1)/2)``, radius the truth's
       ``rsun_px``.  The disk is scaled by the file's own apparent radius ``RSUN_OBS`` (arcsec),
       so a file seen from another distance (``DSUN_OBS``) lands on the same disk; when
       ``RSUN_OBS`` is absent it is ``asin(RSUN_REF / DSUN_OBS)`` with ``RSUN_REF`` from the
       header or 695 700 km.  The data unit is ``BUNIT`` converted to G (astropy units; G
       assumed when absent).  The observation time is ``T_OBS`` or ``DATE-OBS``; a file without
       either takes its time from its name (``time_pattern``).
   PNG/JPEG (8-bit grey)
       A pixel value ``p`` (0..255) is the field ``B = L (2 p / 255 - 1)`` G with
       ``L = png_limit_g``: 0 -> -L, 255 -> +L, 127.5 -> 0 (128 -> +L/255), a step of
       ``2 L / 255`` G.  This is KPL19's scaling: their magnetograms were clipped to +-100 G and
       written as 8-bit images read back as ``p / 255 * 2 - 1`` on the generator's [-1, 1]
       scale (``shared/notes/model-anchors.md``, section 1, "Data").  The image is taken on the
       truth's geometry: it must have the truth frames' size (anything else is skipped, no
       resampling), its first row is the northernmost (an image as displayed, north up; the
       store's rows run northward, so the rows are flipped), and pixels off the truth's disk
       become NaN.  The time comes from the file name (``time_pattern``).  Colour images with
       equal channels are read as grey; others are skipped.

4. Frames are written to a hidden staging store ``.OUT.zarr.staging`` (resumable: re-running
   with the same files and options continues there) and published as ``OUT.zarr`` by
   :func:`~euv2mag.data.prepare.publish_staged`, as in ``prepare``, so ``OUT.zarr`` only ever
   appears complete.  With ``copy_inputs`` the truth's ``mag`` (and ``euv``) of the same frames
   are copied in, as ``euv2mag predict`` does by default; here the default is not to, since the
   truth store is at hand (``audit --truth``) and the copy would only duplicate it.

Times from file names
---------------------
``time_pattern`` is either a :func:`time.strptime`-style pattern whose directives are
``%Y %y %m %d %j %H %M %S %f %%`` (e.g. ``AIA_%Y%m%d_%H%M``), searched anywhere in the file name;
or a regular expression with named groups ``year``, ``month``, ``day`` and optionally ``hour``,
``minute``, ``second`` (e.g. ``(?P<year>\\d{4})(?P<month>\\d\\d)(?P<day>\\d\\d)_(?P<hour>\\d\\d)``),
searched in the file name.  Nothing is evaluated.  The default, :data:`DEFAULT_TIME_PATTERN`,
finds ``YYYYMMDD_HHMM[SS]``, ``YYYY-MM-DDTHH:MM[:SS]`` and the like.  Times are UTC.

Stored tables
-------------
``source_frames`` (``index``, ``source_index`` = the truth frame, ``time``), as ``predict``
writes; ``imported`` (``index``, ``file``, ``format``, ``file_time``, ``dt_s`` = file time minus
truth time, s) and ``skipped``.  The store's ``provenance`` lists the same per frame.

Skip report
-----------
``OUT.zarr.skipped.csv`` (and the table ``skipped``), one row per file not imported, columns
:data:`IMPORT_SKIP_COLUMNS`: ``file``, ``format`` (``fits``, ``png``, ``jpeg`` or empty),
``time`` (ISO 8601 UTC when known) and ``reason`` (no time, no helioprojective WCS, no solar
radius, unreadable, other size, no truth frame within the tolerance, truth frame taken by a
closer file, ...).  With ``strict=True`` the first such file raises
:class:`~euv2mag.errors.UserError` instead and nothing is written; without it, when no file is
usable, the skip report is written and a one-line error names the file (or the report).
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import hashlib
import math
import os
import re
from pathlib import Path

import numpy as np

from .._lock import writer_lock
from ..errors import UserError
from .prepare import _reason, _remove, _seconds, _skip_table, _stored_params, _write_skip_csv, publish_staged, skip_report_path

__all__ = ["import_predictions", "import_frame", "parse_time_pattern", "time_from_name", "png_to_gauss", "gauss_to_png",
           "is_importable_name", "TimePattern", "IMPORT_SKIP_COLUMNS", "DEFAULT_TIME_PATTERN", "IMAGE_SUFFIXES"]

#: Columns of the skip report of ``import``.
IMPORT_SKIP_COLUMNS = ("file", "format", "time", "reason")
#: File-name endings read as 8-bit images (any case).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
#: Regular expression finding a time in a file name by default: ``YYYYMMDD_HHMM[SS]``,
#: ``YYYY-MM-DDTHH:MM[:SS]``, with ``_``, ``T``, ``-`` or nothing between date and time.
DEFAULT_TIME_PATTERN = (r"(?<!\d)(?P<year>\d{4})([-.]?)(?P<month>\d{2})\2(?P<day>\d{2})[_T-]?"
                        r"(?P<hour>\d{2})[:-]?(?P<minute>\d{2})(?:[:-]?(?P<second>\d{2}))?(?!\d)")
#: solar radius (m) assumed when a FITS header gives DSUN_OBS but neither RSUN_OBS nor RSUN_REF
_RSUN_REF_M = 695_700_000.0
#: strptime directive -> regular expression of its text
_DIRECTIVES = {"Y": r"\d{4}", "y": r"\d{2}", "m": r"\d{1,2}", "d": r"\d{1,2}", "j": r"\d{3}", "H": r"\d{1,2}",
               "M": r"\d{1,2}", "S": r"\d{1,2}", "f": r"\d{1,6}"}


# ---------------------------------------------------------------------------- times from names
@dataclasses.dataclass(frozen=True)
class TimePattern:
    """A compiled ``time_pattern``: a regex, and the strptime pattern its match is parsed with (or None)."""

    regex: re.Pattern
    strptime: str | None
    text: str


def parse_time_pattern(text: str | None) -> TimePattern:
    """Compile ``time_pattern`` (module docstring); None gives :data:`DEFAULT_TIME_PATTERN`.

    Raises
    ------
    UserError
        (``parameter="time_pattern"``) an unknown strptime directive, no date in the pattern, an
        invalid regular expression or one without the named groups ``year``, ``month``, ``day``.
    """
    if text is None:
        return TimePattern(re.compile(DEFAULT_TIME_PATTERN), None, DEFAULT_TIME_PATTERN)
    text = str(text)
    if "(?P<" in text:
        try:
            regex = re.compile(text)
        except re.error as exc:
            raise UserError(f"is not a valid regular expression ({exc})", parameter="time_pattern") from None
        missing = {"year", "month", "day"} - set(regex.groupindex)
        if missing:
            raise UserError(f"needs the named groups year, month and day (missing {', '.join(sorted(missing))})",
                            parameter="time_pattern")
        return TimePattern(regex, None, text)
    parts, i, seen = [], 0, set()
    while i < len(text):
        if text[i] == "%":
            code = text[i + 1:i + 2]
            if code == "%":
                parts.append("%")
            elif code in _DIRECTIVES:
                parts.append(f"({_DIRECTIVES[code]})")
                seen.add(code)
            else:
                raise UserError(f"unsupported directive %{code} in {text!r} (use %Y %y %m %d %j %H %M %S %f %%, "
                                "or a regular expression with named groups)", parameter="time_pattern")
            i += 2
        else:
            parts.append(re.escape(text[i]))
            i += 1
    if not ({"Y", "y"} & seen and ({"m", "d"} <= seen or "j" in seen)):
        raise UserError(f"{text!r} holds no full date (%Y or %y with %m and %d, or %j)", parameter="time_pattern")
    return TimePattern(re.compile("".join(parts)), text, text)


def time_from_name(path, pattern: TimePattern) -> str | None:
    """The time (ISO 8601 UTC) that ``pattern`` finds in the name of ``path``, or None."""
    name = Path(path).name
    match = pattern.regex.search(name)
    if match is None:
        return None
    try:
        if pattern.strptime is not None:
            when = _dt.datetime.strptime(match.group(0), pattern.strptime)
        else:
            fields = {k: int(match.group(k) or 0) for k in ("year", "month", "day", "hour", "minute", "second")
                      if k in pattern.regex.groupindex}
            when = _dt.datetime(**fields)
    except ValueError:
        return None
    return when.isoformat(timespec="milliseconds")


# ---------------------------------------------------------------------------- 8-bit scaling
def png_to_gauss(pixels: np.ndarray, limit_g: float) -> np.ndarray:
    """Field in G of 8-bit pixel values: ``B = L (2 p / 255 - 1)`` (0 -> -L, 255 -> +L; KPL19's scaling).

    Parameters
    ----------
    pixels : ndarray of uint8
        Pixel values 0..255.
    limit_g : float
        ``L``, the field (G) of the value 255 (KPL19: 100).

    Returns
    -------
    ndarray of float32
        Field in G, in ``[-L, L]`` by steps of ``2 L / 255``.
    """
    return (float(limit_g) * (np.asarray(pixels, dtype=np.float64) * (2.0 / 255.0) - 1.0)).astype(np.float32)


def gauss_to_png(field_g: np.ndarray, limit_g: float) -> np.ndarray:
    """8-bit pixel values of a field in G (clipped to +-L, rounded): the inverse of :func:`png_to_gauss`.

    NaN becomes the value of 0 G (128).
    """
    b = np.nan_to_num(np.asarray(field_g, dtype=np.float64), nan=0.0)
    return np.rint((np.clip(b / float(limit_g), -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)


# ---------------------------------------------------------------------------- one file
@dataclasses.dataclass
class _Candidate:
    path: str
    format: str
    time: str
    hdu: int = -1
    header: object = None
    scale: float = 1.0  # file unit -> G
    truth_index: int = -1  # the matched truth frame
    dt_s: float = 0.0  # file time - truth frame time, s


def _format_of(path) -> str:
    from .fits import is_fits_name

    name = Path(path).name.lower()
    if is_fits_name(name):
        return "fits"
    if name.endswith(".png"):
        return "png"
    if name.endswith((".jpg", ".jpeg")):
        return "jpeg"
    return ""


def is_importable_name(path) -> bool:
    """Whether ``path`` is named like a FITS, PNG or JPEG file."""
    return bool(_format_of(path))


def _number(header, key):
    try:
        value = float(header.get(key))
    except (TypeError, ValueError):
        return math.nan
    return value


def _fits_candidate(path, pattern: TimePattern) -> _Candidate:
    """Header checks of a FITS prediction (no image read); UserError naming the problem."""
    import astropy.units as u

    from .fits import _check_size, _image_hdu, _obs_time, _open

    with _open(path) as hdul:
        index = _image_hdu(hdul, path)
        _check_size(hdul, index, path)
        header = hdul[index].header.copy()
    ctypes = [str(header.get(k, "")).strip().upper() for k in ("CTYPE1", "CTYPE2")]
    if not all(ctypes):
        raise UserError("has no WCS (CTYPE1/CTYPE2 missing)", path=path)
    if not all(c.startswith(("HPLN", "HPLT")) for c in ctypes):
        raise UserError(f"has no helioprojective WCS (CTYPE1/2 = {ctypes[0]}, {ctypes[1]}; need HPLN/HPLT)", path=path)
    scale_keys = ("CDELT1", "CDELT2") if "CD1_1" not in header else ("CD1_1", "CD2_2")
    for key in ("CRPIX1", "CRPIX2", *scale_keys):
        if not math.isfinite(_number(header, key)):
            raise UserError(f"has no usable WCS keyword {key} ({header.get(key)!r})", path=path)
    rsun_obs, dsun = _number(header, "RSUN_OBS"), _number(header, "DSUN_OBS")
    if not (math.isfinite(rsun_obs) and rsun_obs > 0):
        if not (math.isfinite(dsun) and dsun > 0):
            raise UserError("gives neither RSUN_OBS nor DSUN_OBS: the disk's size is unknown", path=path)
        rsun_ref = _number(header, "RSUN_REF")
        rsun_ref = rsun_ref if math.isfinite(rsun_ref) and rsun_ref > 0 else _RSUN_REF_M
        header["RSUN_OBS"] = (math.degrees(math.asin(min(1.0, rsun_ref / dsun))) * 3600.0, "arcsec, from RSUN_REF/DSUN_OBS")
    bunit = str(header.get("BUNIT", "") or "").strip()
    scale = 1.0
    if bunit:
        try:
            scale = float(u.Unit({"gauss": "G", "mx/cm2": "Mx/cm2", "mx/cm^2": "Mx/cm2"}.get(bunit.lower(), bunit),
                                 parse_strict="raise").to(u.G))
        except (ValueError, TypeError, u.UnitConversionError):
            raise UserError(f"has BUNIT={bunit!r}, not a magnetic field unit", path=path) from None
    if any(header.get(k) not in (None, "") for k in ("T_OBS", "DATE-OBS", "DATE_OBS")):
        time = _obs_time(header, path)
    else:
        time = time_from_name(path, pattern)
        if time is None:
            raise UserError("has no observation time (no T_OBS/DATE-OBS, none in the file name)", path=path)
        header["DATE-OBS"] = (time, "from the file name (euv2mag import)")  # the map's obstime
    return _Candidate(str(path), "fits", time, index, header, scale)


def _image_candidate(path, fmt: str, pattern: TimePattern, shape) -> _Candidate:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            kind, mode, (w, h) = im.format, im.mode, im.size
    except (OSError, UnidentifiedImageError) as exc:
        raise UserError(f"is not a readable PNG/JPEG image ({' '.join(str(exc).split())[:200]})", path=path) from None
    if kind not in ("PNG", "JPEG"):
        raise UserError(f"is a {kind} image, not PNG/JPEG", path=path)
    if mode not in ("L", "LA", "RGB", "RGBA"):
        raise UserError(f"has image mode {mode}; expected 8-bit grey (L) or RGB with equal channels", path=path)
    if (h, w) != tuple(shape):
        raise UserError(f"is {w}x{h} px, the truth frames are {shape[1]}x{shape[0]} "
                        "(PNG/JPEG predictions are taken on the truth's geometry)", path=path)
    time = time_from_name(path, pattern)
    if time is None:
        raise UserError(f"has no time in its file name (pattern {pattern.text!r})", path=path)
    return _Candidate(str(path), fmt, time)


def _read_image(cand: _Candidate, limit_g: float) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(cand.path) as im:
            pixels = np.asarray(im)
    except OSError as exc:
        raise UserError(f"image cannot be read ({' '.join(str(exc).split())[:200]})", path=cand.path) from None
    if pixels.ndim == 3:
        colour = pixels[..., :3] if pixels.shape[2] >= 3 else pixels[..., :1]
        if np.any(colour != colour[..., :1]):
            raise UserError("is a colour image (channels differ); expected 8-bit grey", path=cand.path)
        pixels = colour[..., 0]
    return np.flipud(png_to_gauss(pixels, limit_g))


def import_frame(cand: _Candidate, geometry, limit_g: float | None) -> np.ndarray:
    """The image of one matched file on the truth frame's ``geometry``: (N, N) float32 G, NaN off the disk."""
    from .fits import _make_map, _read_data, disk_transform, prepare_array

    size, rsun_px = geometry.shape[1], geometry.rsun_px
    if cand.format == "fits":
        data = _read_data(cand.path, cand.hdu)
        if not np.isfinite(data).any():
            raise UserError("image is NaN-only", path=cand.path)
        smap = _make_map(data, cand.header, cand.path)
        center, matrix, _ = disk_transform(smap, size, rsun_px)
        out = prepare_array(data, center, matrix, size, rsun_px)
        if cand.scale != 1.0:
            out *= np.float32(cand.scale)
        if not np.isfinite(out).any():
            raise UserError("image has no finite pixel on the solar disk (off-pointed WCS?)", path=cand.path)
        return out
    out = _read_image(cand, limit_g)
    out[geometry.rho > 1.0] = np.nan
    return out


# ---------------------------------------------------------------------------- matching
def _row(path, fmt, time, reason) -> dict:
    return {"file": str(path), "format": fmt, "time": time or "", "reason": reason}


def _match(cands: list[_Candidate], truth_times, tolerance_s: float):
    """``({truth index: candidate}, skip rows)``: nearest truth frame within the tolerance, one file per frame."""
    rows, best = [], {}
    if not cands:
        return best, rows
    tt = np.array([_seconds(t) for t in truth_times])
    for cand in cands:
        dt = _seconds(cand.time) - tt
        j = int(np.argmin(np.abs(dt)))
        if abs(dt[j]) > tolerance_s:
            rows.append(_row(cand.path, cand.format, cand.time, f"no truth frame within {tolerance_s:g} s "
                             f"(nearest {truth_times[j]}, {dt[j]:+.0f} s)"))
            continue
        cand.truth_index, cand.dt_s = j, float(dt[j])
        held = best.get(j)
        if held is None or abs(cand.dt_s) < abs(held.dt_s):
            best[j] = cand
            loser = held
        else:
            loser = cand
        if loser is not None:
            winner = best[j]
            rows.append(_row(loser.path, loser.format, loser.time,
                             f"truth frame {truth_times[j]} is matched by {winner.path} (closer in time or given first)"))
    return dict(sorted(best.items())), rows


def _digest(frames: list[_Candidate]) -> str:
    h = hashlib.sha1()
    for c in frames:
        h.update(f"{os.path.realpath(c.path)}|{os.path.getsize(c.path)}|{c.time}|{c.truth_index}\n".encode())
    return h.hexdigest()


# ---------------------------------------------------------------------------- the job
def import_predictions(
    files,
    like,
    out,
    *,
    tolerance_s: float = 60.0,
    png_limit_g: float | None = None,
    time_pattern: str | None = None,
    strict: bool = False,
    copy_inputs: bool = False,
    progress: bool | None = None,
) -> dict:
    """Import FITS/PNG/JPEG magnetograms as a prediction store on the frames of ``like`` (module docstring).

    Parameters
    ----------
    files : sequence of path-like
        The files (expand folders and patterns with :func:`~euv2mag.data.prepare.expand_paths`).
    like : path-like
        The truth store (complete) whose frame times and geometry the predictions take.
    out : path-like
        The prediction store to write (``kind="prediction"``, array ``pred`` in G).
    tolerance_s : float
        Largest absolute difference (s) between a file's time and its truth frame's time.
    png_limit_g : float, optional
        ``L`` of the 8-bit scaling (G of pixel value 255; :func:`png_to_gauss`); required when
        PNG/JPEG files are given.
    time_pattern : str, optional
        How to find a time in a file name (strptime-style or a regex with named groups; default
        :data:`DEFAULT_TIME_PATTERN`).
    strict : bool
        Raise at the first file that would be skipped, writing nothing.
    copy_inputs : bool
        Copy the truth's ``mag``/``euv`` of the same frames into the store.
    progress : bool, optional
        Show a progress bar (default: unless ``EUV2MAG_NO_PROGRESS`` is set).

    Returns
    -------
    dict
        ``{"store", "frames", "skipped", "skip_report", "resumed_complete"}``.

    Raises
    ------
    UserError
        Bad options (named by ``parameter``), an unusable ``like`` store, an existing ``out``
        made otherwise, no usable file (one line naming it), or (``strict``) any skipped file.
    """
    from ..progress import progress_bar
    from .store import FrameStore, StoreWriter, _is_vacant

    out = Path(out)
    files = [str(f) for f in files]
    if not files:
        raise UserError("give files to import", parameter="files")
    if not (math.isfinite(float(tolerance_s)) and tolerance_s >= 0):
        raise UserError(f"must be a duration >= 0 s, got {tolerance_s!r}", parameter="tolerance_s")
    if png_limit_g is not None and not (math.isfinite(float(png_limit_g)) and png_limit_g > 0):
        raise UserError(f"must be a field > 0 G, got {png_limit_g!r}", parameter="png_limit_g")
    pattern = parse_time_pattern(time_pattern)
    truth = FrameStore(like)
    if out.exists() and not (out / ".zgroup").exists() and not _is_vacant(out):
        raise UserError("exists and is not an euv2mag store; choose another output", path=out)
    if out.resolve() == Path(truth.path).resolve():
        raise UserError("is the truth store itself; choose another output", path=out)
    formats = {f: _format_of(f) for f in files}
    if png_limit_g is None and any(fmt in ("png", "jpeg") for fmt in formats.values()):
        first = next(f for f, fmt in formats.items() if fmt in ("png", "jpeg"))
        raise UserError(f"PNG/JPEG files (e.g. {first}) need the field of pixel value 255 (KPL19: 100 G)",
                        parameter="png_limit_g")

    cands, skipped = [], []
    for path in files:
        fmt = formats[path]
        try:
            if fmt == "fits":
                cands.append(_fits_candidate(path, pattern))
            elif fmt:
                cands.append(_image_candidate(path, fmt, pattern, truth.shape))
            else:
                raise UserError("is neither FITS (.fits, .fts, .fit[.gz|.fz]) nor PNG/JPEG", path=path)
        except UserError as exc:
            if strict:
                raise
            skipped.append(_row(path, fmt, "", _reason(exc, path)))
    matched, rows = _match(cands, truth.times, float(tolerance_s))
    skipped += rows
    if strict and skipped:
        raise UserError(skipped[0]["reason"], path=skipped[0]["file"])
    if not matched:
        _write_skip_csv(out, skipped, IMPORT_SKIP_COLUMNS)
        raise UserError(_nothing_message(skipped, out))

    frames = list(matched.values())
    arrays = ["pred"] + ([name for name in ("mag", "euv") if truth.has(name)] if copy_inputs else [])
    params = {
        "like": str(Path(truth.path).resolve()),
        "tolerance_s": float(tolerance_s),
        "png_limit_g": None if png_limit_g is None else float(png_limit_g),
        "time_pattern": pattern.text,
        "strict": bool(strict),
        "arrays": arrays,
        "inputs_sha1": _digest(frames),
    }
    records = [{"file": c.path, "format": c.format, "file_time": c.time, "truth_index": c.truth_index,
                "time": str(truth.times[c.truth_index]), "dt_s": c.dt_s} for c in frames]
    provenance = {"command": "euv2mag import", "like": params["like"], "frames": records}
    staging = out.with_name(f".{out.name}.staging")
    try:
        with writer_lock(staging, what="store"):
            if out.exists() and not _is_vacant(out):
                existing = FrameStore(out, require_complete=False)
                if existing.attrs.get("params") != _stored_params(params) or existing.kind != "prediction":
                    raise UserError("exists and was made with other inputs or options; delete it or choose another "
                                    "output (re-running with the same ones resumes)", path=out)
                if existing.complete:
                    return {"store": str(out), "frames": existing.n_frames, "skipped": len(skipped),
                            "skip_report": str(skip_report_path(out)), "resumed_complete": True}
            writer = StoreWriter.open(staging, n_frames=len(frames), shape=truth.shape, arrays=arrays, kind="prediction",
                                      params=params, provenance=provenance, lock=False)
            failed = set()
            pending = writer.pending()
            try:
                with progress_bar("import", len(pending), enabled=progress) as advance:
                    for i in pending:
                        cand = frames[i]
                        geometry = truth.geometry(cand.truth_index)
                        try:
                            image = import_frame(cand, geometry, png_limit_g)
                        except UserError as exc:
                            if strict:
                                raise
                            failed.add(i)
                            skipped.append(_row(cand.path, cand.format, cand.time, _reason(exc, cand.path)))
                            advance()
                            continue
                        images = {"pred": image, **{name: truth.read(name, cand.truth_index) for name in arrays[1:]}}
                        writer.write_frame(i, geometry, **images)
                        advance()
            except UserError:
                _remove(staging)  # strict: nothing half-written
                raise
            good = [i for i in range(len(frames)) if i not in failed]
            if not good:
                _remove(staging)
                _write_skip_csv(out, skipped, IMPORT_SKIP_COLUMNS)
                raise UserError(_nothing_message(skipped, out))
            kept = [records[i] for i in good]
            tables = {
                "source_frames": {"index": np.arange(len(good)), "source_index": np.array([r["truth_index"] for r in kept]),
                                  "time": [r["time"] for r in kept]},
                "imported": {"index": np.arange(len(good)), "file": [r["file"] for r in kept],
                             "format": [r["format"] for r in kept], "file_time": [r["file_time"] for r in kept],
                             "dt_s": np.array([r["dt_s"] for r in kept], dtype=np.float64)},
                "skipped": _skip_table(skipped, IMPORT_SKIP_COLUMNS),
            }
            publish_staged(writer, staging, out, good, shape=truth.shape, arrays=arrays, kind="prediction",
                           params=params, provenance={**provenance, "frames": kept}, tables=tables,
                           attrs={"n_skipped": len(skipped)})
    finally:
        with contextlib.suppress(OSError):
            staging.rmdir()  # the lock's folder when nothing was staged
    report = _write_skip_csv(out, skipped, IMPORT_SKIP_COLUMNS)
    return {"store": str(out), "frames": len(good), "skipped": len(skipped), "skip_report": str(report),
            "resumed_complete": False}


def _nothing_message(skipped: list[dict], out: Path) -> str:
    report = skip_report_path(out)
    if len(skipped) == 1:
        row = skipped[0]
        return f"{row['file']}: {row['reason']} (nothing imported; see {report})"
    return f"nothing imported: all {len(skipped)} files skipped (reasons in {report})"
