"""``euv2mag download``: level-1 AIA and HMI files for a period, one per instrument and time step.

Quantities
----------
time step
    ``start, start + cadence, ...`` up to and including ``end`` (UTC).  For each step and
    instrument the archive record nearest in time is taken, if it lies within ``tolerance_s``
    seconds of the step; otherwise the step is recorded as ``missing``.
file
    ``aia304_YYYYMMDDTHHMMSS.fits`` or ``hmi_YYYYMMDDTHHMMSS.fits`` (the *step*, not the
    record, names the file, so a re-run finds it again) inside the output folder.

Resume and integrity
--------------------
Every file is fetched to a hidden temporary name in the output folder and renamed into place
only once it is complete and opens as FITS with as many bytes as its header announces
(:func:`euv2mag.data.fits.verify_fits`); an interrupted fetch leaves nothing behind.  A re-run
skips a file that is present, whose size and SHA-256 match the manifest, and that opens as
FITS; a file that is truncated, corrupt, or differs from the manifest is fetched again.  A
file present without a manifest row (the manifest was lost) is kept when it opens as a
complete FITS file.  Steps that were ``missing`` or ``failed`` are searched and fetched again.

Manifest
--------
``manifest.csv`` in the output folder (:data:`MANIFEST`), one row per time step and
instrument, written atomically at the end, every :data:`MANIFEST_EVERY` files and when the run
is interrupted.

Archive clients
---------------
The archive is reached through a *client* with two methods (:class:`ArchiveClient`):

``search(instrument, start, end, *, cadence_s, wavelength, tolerance_s) -> list[Record]``
    Records of ``instrument`` near the steps ``start + k * cadence_s`` up to ``end`` (ISO 8601
    UTC strings): at least the nearest one within ``tolerance_s`` of each step when there is
    one (more are fine: :func:`download` picks the nearest per step).
``fetch(record, path) -> None``
    Write the record's FITS file to ``path``.

The default, :class:`FidoClient`, uses :mod:`sunpy.net.Fido`: JSOC (``aia.lev1_euv_12s`` with
the wavelength, ``hmi.M_720s``; JSOC exports need a registered e-mail address, given as
``email`` or in the environment variable ``EUV2MAG_JSOC_EMAIL``) or the VSO.  The tests use a
local stand-in client; the archive path itself is not exercised by the test suite (no network
to the archives there).
"""
from __future__ import annotations

import dataclasses
import errno
import hashlib
import os
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from .._io import atomic_path
from .._lock import writer_lock
from ..errors import UserError
from ..tables import TableFile, columns

__all__ = [
    "Record",
    "ArchiveClient",
    "FidoClient",
    "MANIFEST",
    "INSTRUMENTS",
    "JSOC_SERIES",
    "EMAIL_ENV",
    "download",
    "time_steps",
    "nearest_records",
    "fido_query",
    "file_name",
    "sha256_file",
]

#: Instruments and what is fetched for each.
INSTRUMENTS = ("aia", "hmi")
#: JSOC series of the level-1 data: AIA EUV (12 s cadence), HMI line-of-sight magnetogram (720 s).
JSOC_SERIES = {"aia": "aia.lev1_euv_12s", "hmi": "hmi.M_720s"}
#: JSOC segment of each series holding the image.
JSOC_SEGMENT = {"aia": "image", "hmi": "magnetogram"}
#: Environment variable holding the JSOC-registered e-mail address.
EMAIL_ENV = "EUV2MAG_JSOC_EMAIL"
#: The manifest is rewritten after this many fetched files (and at the end).
MANIFEST_EVERY = 25
#: Default largest time between a step and the record used for it (s): half HMI's 720 s cadence.
DEFAULT_TOLERANCE_S = 360.0

#: ``manifest.csv``: one row per time step and instrument.
MANIFEST = TableFile(
    "manifest.csv",
    columns([
        ("time", "str", "", "time step (ISO 8601 UTC)"),
        ("instrument", "str", "", "aia or hmi"),
        ("record_time", "str", "", "observation time of the record used (ISO 8601 UTC); empty when none"),
        ("file", "str", "", "file name inside the output folder; empty when none"),
        ("bytes", "Int64", "B", "file size"),
        ("sha256", "str", "", "SHA-256 of the file (hex)"),
        ("status", "str", "", "downloaded (this run), present (kept from before), missing (no record within the tolerance) or failed"),
        ("message", "str", "", "why a step is missing or failed"),
    ]),
    "one row per time step and instrument of a download",
)


@dataclasses.dataclass(frozen=True)
class Record:
    """One archive record.

    Attributes
    ----------
    instrument : str
        ``"aia"`` or ``"hmi"``.
    time : str
        Observation time, ISO 8601 UTC.
    key : object
        What the client needs to fetch it (opaque to :func:`download`).
    """

    instrument: str
    time: str
    key: object = None


class ArchiveClient(Protocol):
    """What :func:`download` needs from an archive (see the module docstring)."""

    def search(self, instrument: str, start: str, end: str, *, cadence_s: float, wavelength: int,
               tolerance_s: float) -> list[Record]: ...

    def fetch(self, record: Record, path: Path) -> None: ...


# ---------------------------------------------------------------------------- pure helpers
def _to_ms(text, parameter: str) -> np.datetime64:
    try:
        value = np.datetime64(str(text).replace("Z", ""), "ms")
    except ValueError:
        raise UserError(f"expected an ISO 8601 time such as 2011-01-01T00:00, got {text!r}", parameter=parameter) from None
    if np.isnat(value):
        raise UserError(f"expected an ISO 8601 time, got {text!r}", parameter=parameter)
    return value


def time_steps(start, end, cadence_s: float) -> list[str]:
    """The time steps ``start, start + cadence, ...`` up to and including ``end``.

    Parameters
    ----------
    start, end : str
        ISO 8601 times (UTC).
    cadence_s : float
        Step in seconds (> 0).

    Returns
    -------
    list of str
        ISO 8601 UTC times to the second.

    Examples
    --------
    >>> time_steps("2011-01-01", "2011-01-02", 12 * 3600)
    ['2011-01-01T00:00:00', '2011-01-01T12:00:00', '2011-01-02T00:00:00']
    """
    t0, t1 = _to_ms(start, "start"), _to_ms(end, "end")
    if not (np.isfinite(cadence_s) and cadence_s >= 1):
        raise UserError(f"must be at least 1 s, got {cadence_s!r}", parameter="cadence")
    if t1 < t0:
        raise UserError(f"end {end} is before start {start}", parameter="end")
    step = np.timedelta64(int(round(cadence_s * 1000)), "ms")
    n = int((t1 - t0) // step) + 1
    return [str((t0 + k * step).astype("datetime64[s]")) for k in range(n)]


def nearest_records(steps: Sequence[str], records: Sequence[Record], tolerance_s: float) -> list[Record | None]:
    """For each step the record nearest in time, or None when none lies within ``tolerance_s``.

    A record may serve two steps only if the cadence is shorter than the record spacing; ties
    go to the earlier record.

    Examples
    --------
    >>> recs = [Record("hmi", "2011-01-01T00:00:45"), Record("hmi", "2011-01-01T12:20:00")]
    >>> [r and r.time for r in nearest_records(["2011-01-01T00:00:00", "2011-01-01T12:00:00"], recs, 360)]
    ['2011-01-01T00:00:45', None]
    """
    if not records:
        return [None] * len(steps)
    times = np.array([_to_ms(r.time, "record").astype(np.int64) for r in records])
    order = np.argsort(times, kind="stable")
    times = times[order]
    out = []
    for step in steps:
        t = _to_ms(step, "step").astype(np.int64)
        k = int(np.searchsorted(times, t))
        best = None
        for j in (k - 1, k):
            if 0 <= j < len(times) and (best is None or abs(times[j] - t) < abs(times[best] - t)):
                best = j
        ok = best is not None and abs(times[best] - t) <= tolerance_s * 1000.0
        out.append(records[order[best]] if ok else None)
    return out


def file_name(instrument: str, step: str, wavelength: int) -> str:
    """File name of ``instrument`` at ``step``: ``aia304_20110101T000000.fits``, ``hmi_...``."""
    stamp = step.replace("-", "").replace(":", "")[:15]
    prefix = f"aia{wavelength}" if instrument == "aia" else "hmi"
    return f"{prefix}_{stamp}.fits"


def sha256_file(path) -> str:
    """SHA-256 (hex) of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _shift(iso: str, seconds: float) -> str:
    return str((_to_ms(iso, "time") + np.timedelta64(int(round(seconds * 1000)), "ms")).astype("datetime64[s]"))


def _is_na(value) -> bool:
    try:
        return bool(value != value) or str(value) == "<NA>"
    except (TypeError, ValueError):
        return True


def _verify(path: Path) -> str | None:
    """None when ``path`` is a complete FITS file with an image, else the reason."""
    from .fits import verify_fits

    try:
        verify_fits(path)
    except UserError as exc:
        return exc.problem
    return None


# ---------------------------------------------------------------------------- the sunpy client
def fido_query(instrument: str, start: str, end: str, *, cadence_s: float, wavelength: int = 304,
               source: str = "jsoc", email: str | None = None) -> tuple:
    """The :mod:`sunpy.net.attrs` of the search for one instrument and period.

    For the JSOC, ``a.Time(start, end)`` with ``a.Sample(cadence)`` becomes the DRMS record set
    ``SERIES[start-end@cadence]``, which steps through the series' ``T_REC`` slots: one record
    per step, in the slot of the step (12 s slots for AIA, 720 s for HMI).  The VSO's sampling
    returns the first record in each ``cadence`` window instead, so the caller widens the
    window by the tolerance (:meth:`FidoClient.search`).

    Parameters
    ----------
    instrument : {"aia", "hmi"}
    start, end : str
        ISO 8601 UTC.
    cadence_s : float
        Sampling (``a.Sample``) in seconds.
    wavelength : int
        AIA channel in Angstrom.
    source : {"jsoc", "vso"}
        JSOC (level 1 via drms, needs ``email``) or the VSO.
    email : str, optional
        JSOC-registered address (``a.jsoc.Notify``).

    Returns
    -------
    tuple of sunpy.net.attr.Attr
    """
    import astropy.units as u
    from sunpy.net import attrs as a

    when = (a.Time(start, end), a.Sample(cadence_s * u.s))
    if source == "jsoc":
        if not email:
            raise UserError(f"JSOC exports need a registered e-mail address (give it, or set {EMAIL_ENV})", parameter="email")
        query = (*when, a.jsoc.Series(JSOC_SERIES[instrument]), a.jsoc.Segment(JSOC_SEGMENT[instrument]), a.jsoc.Notify(email))
        if instrument == "aia":
            query += (a.Wavelength(wavelength * u.angstrom),)
        return query
    if source == "vso":
        if instrument == "aia":
            return (*when, a.Instrument("AIA"), a.Wavelength(wavelength * u.angstrom), a.Level(1))
        return (*when, a.Instrument("HMI"), a.Physobs("LOS_magnetic_field"))
    raise UserError(f"must be 'jsoc' or 'vso', got {source!r}", parameter="source")


class FidoClient:
    """Archive client over :mod:`sunpy.net.Fido` (JSOC or VSO).  Needs network access.

    Parameters
    ----------
    source : {"jsoc", "vso"}
    email : str, optional
        JSOC-registered address (default: ``$EUV2MAG_JSOC_EMAIL``).

    Notes
    -----
    Not exercised by the test suite (no network to the archives there).  Each :meth:`fetch`
    is one Fido fetch (for JSOC one export request), so a long period is slow but resumable.
    """

    def __init__(self, source: str = "jsoc", email: str | None = None):
        self.source = source
        self.email = email or os.environ.get(EMAIL_ENV) or None
        if source == "jsoc" and not self.email:
            raise UserError(f"JSOC exports need a registered e-mail address (give it, or set {EMAIL_ENV})", parameter="email")
        if source not in ("jsoc", "vso"):
            raise UserError(f"must be 'jsoc' or 'vso', got {source!r}", parameter="source")

    def search(self, instrument, start, end, *, cadence_s, wavelength, tolerance_s=DEFAULT_TOLERANCE_S):
        from astropy.time import Time
        from sunpy.net import Fido

        if self.source == "vso":  # first record of each window: start the windows a tolerance early
            start, end = _shift(start, -tolerance_s), _shift(end, tolerance_s)
        query = fido_query(instrument, start, end, cadence_s=cadence_s, wavelength=wavelength, source=self.source, email=self.email)
        try:
            result = Fido.search(*query)
        except Exception as exc:  # noqa: BLE001 - drms, zeep and HTTP errors of many types
            raise OSError(f"{type(exc).__name__}: {exc}") from None
        records = []
        for block, table in enumerate(result):
            column = "T_REC" if "T_REC" in table.colnames else "Start Time"
            for row in range(len(table)):
                value = table[column][row]
                text = str(value)
                if column == "T_REC":  # JSOC: 2011.01.01_00:00:00_TAI or ..._Z
                    scale = "tai" if text.endswith("_TAI") else "utc"
                    text = text.replace("_TAI", "").replace("_Z", "").replace("Z", "")
                    text = text[:4] + "-" + text[5:7] + "-" + text[8:10] + "T" + text[11:]
                    iso = Time(text, scale=scale).utc.isot
                else:
                    iso = Time(value).utc.isot
                records.append(Record(instrument, iso, (result, block, row)))
        return records

    def fetch(self, record, path):
        import tempfile

        from sunpy.net import Fido

        result, block, row = record.key
        with tempfile.TemporaryDirectory(dir=Path(path).parent, prefix=".fetch-") as tmp:
            try:
                files = Fido.fetch(result[block, row], path=str(Path(tmp) / "{file}"), progress=False)
            except Exception as exc:  # noqa: BLE001 - drms export and HTTP errors of many types
                raise OSError(f"{type(exc).__name__}: {exc}") from None
            if getattr(files, "errors", None) or len(files) != 1:
                raise OSError(f"fetch failed: {getattr(files, 'errors', '')}")
            os.replace(files[0], path)


# ---------------------------------------------------------------------------- download
def _load_manifest(out: Path) -> dict:
    path = MANIFEST.path(out)
    if not path.is_file():
        return {}
    try:
        table = MANIFEST.read(path)
    except UserError:
        return {}  # an unreadable manifest is rebuilt from the files themselves
    return {(row["time"], row["instrument"]): row for row in table.to_dict("records")}


def _keep(path: Path, previous: dict | None) -> dict | None:
    """The manifest row of a present, valid file (None when it must be fetched again)."""
    if not path.is_file():
        return None
    size = path.stat().st_size
    if previous is not None and previous.get("status") in ("downloaded", "present") and previous.get("sha256"):
        recorded = previous.get("bytes")
        if recorded is None or _is_na(recorded) or int(recorded) != size:
            return None
        digest = sha256_file(path)
        if digest != previous["sha256"] or _verify(path) is not None:
            return None
        return {"bytes": size, "sha256": digest}
    if _verify(path) is not None:
        return None
    return {"bytes": size, "sha256": sha256_file(path)}


def download(start, end, cadence_s: float, out, *, aia: int | None = 304, hmi: bool = True,
             client: ArchiveClient | None = None, tolerance_s: float = DEFAULT_TOLERANCE_S,
             source: str = "jsoc", email: str | None = None, progress: bool | None = None) -> dict:
    """Download one AIA and/or HMI level-1 file per time step into ``out`` (resumable).

    Parameters
    ----------
    start, end : str
        ISO 8601 UTC; the steps are ``start + k * cadence_s`` up to ``end``.
    cadence_s : float
        Time step in seconds (e.g. 43200 for 12 h).
    out : path-like
        Output folder (created; holds the files and ``manifest.csv``).
    aia : int or None
        AIA wavelength in Angstrom (None: no AIA).
    hmi : bool
        Also fetch HMI ``M_720s`` line-of-sight magnetograms.
    client : ArchiveClient, optional
        The archive (default :class:`FidoClient` with ``source`` and ``email``).
    tolerance_s : float
        Largest time between a step and its record, s.
    source, email
        For the default client.
    progress : bool, optional
        Progress bar (default: on unless ``EUV2MAG_NO_PROGRESS`` is set).

    Returns
    -------
    dict
        ``{"manifest", "downloaded", "present", "missing", "failed"}`` (counts and the
        manifest path).

    Raises
    ------
    UserError
        Bad times, cadence or tolerance, nothing asked for, another download holding ``out``.
    """
    from ..progress import progress_bar

    out = Path(out)
    steps = time_steps(start, end, float(cadence_s))
    if not (np.isfinite(tolerance_s) and tolerance_s >= 0):
        raise UserError(f"must be >= 0 s, got {tolerance_s!r}", parameter="tolerance_s")
    instruments = [name for name, wanted in (("aia", aia is not None), ("hmi", hmi)) if wanted]
    if not instruments:
        raise UserError("nothing to download: give an AIA wavelength and/or hmi=True", parameter="aia")
    wavelength = int(aia) if aia is not None else 304
    if out.exists() and not out.is_dir():
        raise UserError("exists and is not a folder", path=out)
    if client is None:
        client = FidoClient(source=source, email=email)
    rows: dict = {}
    counts = {"downloaded": 0, "present": 0, "missing": 0, "failed": 0}
    with writer_lock(out, what="download folder"):
        _remove_leftovers(out)
        previous = _load_manifest(out)
        todo: list[tuple[str, str]] = []
        for instrument in instruments:
            for step in steps:
                name = file_name(instrument, step, wavelength)
                kept = _keep(out / name, previous.get((step, instrument)))
                if kept is not None:
                    old = previous.get((step, instrument)) or {}
                    rows[(step, instrument)] = {"time": step, "instrument": instrument, "record_time": old.get("record_time") or "",
                                                "file": name, **kept, "status": "present", "message": ""}
                else:
                    if (out / name).is_file() and _verify(out / name) is not None:
                        (out / name).unlink()  # truncated or corrupt: never leave it for prepare
                    todo.append((step, instrument))
        by_instrument: dict = {}
        for instrument in instruments:
            wanted = [s for s, i in todo if i == instrument]
            if wanted:
                # one search from the first to the last step still to fetch
                try:
                    records = client.search(instrument, wanted[0], wanted[-1], cadence_s=float(cadence_s),
                                            wavelength=wavelength, tolerance_s=float(tolerance_s))
                except (OSError, ConnectionError, TimeoutError) as exc:
                    _write_manifest(out, rows, previous)
                    text = " ".join(str(exc).split())[:200] or type(exc).__name__
                    raise UserError(f"the {instrument.upper()} archive search failed ({text}); re-run to resume") from None
                by_instrument[instrument] = dict(zip(wanted, nearest_records(wanted, records, tolerance_s)))
        fetched = 0
        try:
            with progress_bar("download", len(todo), enabled=progress) as advance:
                for step, instrument in todo:
                    record = by_instrument[instrument][step]
                    name = file_name(instrument, step, wavelength)
                    row = {"time": step, "instrument": instrument, "record_time": record.time if record else "",
                           "file": "", "bytes": None, "sha256": "", "status": "missing", "message": ""}
                    if record is None:
                        row["message"] = f"no {instrument.upper()} record within {tolerance_s:g} s"
                    else:
                        row.update(_fetch_one(client, record, out / name))
                        if row["status"] == "downloaded":
                            row["file"] = name
                            fetched += 1
                            if fetched % MANIFEST_EVERY == 0:
                                _write_manifest(out, {**rows, (step, instrument): row}, previous)
                    rows[(step, instrument)] = row
                    advance()
        finally:
            _write_manifest(out, rows, previous)
    for row in rows.values():
        counts[row["status"]] += 1
    return {"manifest": str(MANIFEST.path(out)), **counts}


def _fetch_one(client, record: Record, path: Path) -> dict:
    """Fetch ``record`` to ``path`` through a temporary name; the manifest fields of the result."""
    try:
        with atomic_path(path) as tmp:
            client.fetch(record, tmp)
            problem = _verify(tmp)
            if problem is not None:
                raise _Incomplete(problem)
            size, digest = tmp.stat().st_size, sha256_file(tmp)
    except _Incomplete as exc:
        return {"status": "failed", "message": f"fetched file {exc}"}
    except (OSError, ConnectionError, TimeoutError) as exc:
        if getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT):
            raise  # a full disk stops the run (one line from the command line); re-running resumes
        text = " ".join(str(exc).split())[:200] or type(exc).__name__
        return {"status": "failed", "message": f"fetch failed: {text}"}
    return {"status": "downloaded", "bytes": size, "sha256": digest}


class _Incomplete(Exception):
    pass


def _remove_leftovers(out: Path) -> None:
    """Remove temporary files of a run killed mid-fetch (``.NAME.partial``, ``.fetch-*``)."""
    import shutil

    for path in out.iterdir():
        if path.name.startswith(".") and (path.name.endswith(".partial") or path.name.startswith(".fetch-")):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def _write_manifest(out: Path, rows: dict, previous: dict) -> None:
    """Write the manifest: this run's rows, plus earlier rows of steps this run did not cover."""
    merged = {key: row for key, row in previous.items() if key not in rows}
    merged.update(rows)
    table = MANIFEST.frame(sorted(merged.values(), key=lambda r: (r["instrument"], r["time"])))
    MANIFEST.write(table, out)
