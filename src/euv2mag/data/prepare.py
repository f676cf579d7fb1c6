"""``euv2mag prepare``: turn EUV 304 A and HMI LOS level-1 files into a dataset store.

The EUV images come from SDO/AIA (``aia_paths``, ``--aia``) or from any full-disk 304 A imager
euv2mag reads (``euv_paths``, ``--euv``: AIA, STEREO/EUVI, Solar Orbiter/EUI-FSI; see
:mod:`euv2mag.data.fits` for the keywords of each).  Only AIA images pair with HMI
magnetograms (the same observer, SDO); EUVI and EUI images make EUV-only stores, e.g. the
farside input of a trained model.

Inputs are FITS files, or SDOML v2 Zarr stores (:mod:`euv2mag.data.sdoml`), whose frames go
through the same validation, pairing and resampling as FITS files.

Steps
-----
1. Every input file's header is read and validated (:func:`euv2mag.data.fits.read_header`).
2. EUV and HMI frames are paired by observation time (``T_OBS``): pairs are formed greedily
   from the closest in time, each file used once, at most ``pair_tolerance_s`` apart.  With
   only one instrument every valid file is a frame.  Files of one instrument with the same
   observation time are candidates for the same frame: the first (in the order given) whose
   image can be read and prepared is used; the others are reported as duplicates, and a
   candidate that failed is reported with its reason (a bad file never displaces a good one).
3. Each frame is prepared (:func:`euv2mag.data.fits.prepare_header`) and written to a hidden
   staging store ``.OUT.zarr.staging`` beside the output (resumable: re-running with the same
   options continues there; on a Dask cluster each worker writes its frames' images there and
   this process marks a frame done once its worker has returned).  When all frames are done the staging store becomes ``OUT.zarr``
   (renamed, or, if some frames failed while their images were read, copied without them).
   ``OUT.zarr`` therefore only ever appears complete.

Skip report
-----------
``OUT.zarr.skipped.csv`` (also stored as the table ``skipped`` inside the store), one row per
file that did not become (part of) a frame, columns:

``file``
    Path of the input file.
``instrument``
    ``"aia"``, ``"euvi"``, ``"eui"`` or ``"hmi"`` (the instrument asked for when the header
    could not be read: ``"aia"``, ``"euv"`` or ``"hmi"``).
``time``
    Observation time (ISO 8601 UTC) when the header gave one, else empty.
``reason``
    Why it was skipped (unreadable, truncated, other wavelength, QUALITY flag, missing
    geometry keywords, NaN-only image, no partner within the tolerance, an EUVI/EUI image
    given with HMI files (another observer), duplicate time, or partner file skipped).

With ``strict=True`` the first such problem raises :class:`~euv2mag.errors.UserError` instead
and nothing is written.

Frame geometry is HMI's when the frame has a magnetogram, else the EUV image's (both images are
mapped to the same centre and radius; SDO's B0/L0 at two times < 1 min apart agree to < 0.01
deg); an EUVI or EUI frame has its spacecraft's B0, L0 and distance.
"""
from __future__ import annotations

import contextlib
import dataclasses
import glob
import hashlib
import os
import shutil
from pathlib import Path

import numpy as np

from .._io import atomic_path
from .._lock import LOCK_NAME, writer_lock
from ..errors import UserError
from ..geometry import default_rsun_px
from .fits import AIA_WAVELENGTH, FrameHeader, is_fits_name, prepare_header, read_header

__all__ = ["Frame", "expand_paths", "collect_frames", "pair_frames", "choose_candidates", "prepare_store", "publish_staged",
           "skip_report_path", "SKIP_COLUMNS"]

SKIP_COLUMNS = ("file", "instrument", "time", "reason")


@dataclasses.dataclass
class Frame:
    """One output frame: its time and the validated headers of its EUV and/or HMI file.

    ``euv`` is an AIA, EUVI or EUI/FSI header (its ``instrument`` says which).
    ``alternates`` maps ``"euv"``/``"hmi"`` to further files of that instrument with the same
    observation time as the frame's file, in the order given: candidates used in its place when
    its image cannot be read (:func:`choose_candidates`).
    """

    time: str
    euv: FrameHeader | None = None
    hmi: FrameHeader | None = None
    alternates: dict = dataclasses.field(default_factory=dict)

    def files(self) -> dict:
        return {"euv": self.euv.path if self.euv else None, "euv_instrument": self.euv.instrument if self.euv else None,
                "hmi": self.hmi.path if self.hmi else None}


def skip_report_path(out: str | os.PathLike) -> Path:
    """``OUT.zarr.skipped.csv`` beside the store."""
    out = Path(out)
    return out.with_name(out.name + ".skipped.csv")


def expand_paths(items, *, parameter: str, accept=is_fits_name, what: str = "FITS files") -> list[str]:
    """Files named by ``items``: files, folders (their FITS files) and glob patterns.

    Parameters
    ----------
    items : iterable of str or path-like
        Files, folders and glob patterns.
    parameter : str
        Name of the argument ``items`` came from (e.g. ``"hmi_paths"``), named by the errors
        (:class:`~euv2mag.errors.UserError` ``parameter``).
    accept : callable, optional
        Which files of a folder are taken (default: FITS names, :func:`~euv2mag.data.fits.is_fits_name`).
    what : str
        What ``accept`` takes, for the error about a folder holding none (default ``"FITS files"``).

    Returns
    -------
    list of str
        The files, each once, in the order given (folders and patterns sorted).  A Zarr folder
        (an SDOML store, :mod:`euv2mag.data.sdoml`) is kept as one item.

    Raises
    ------
    UserError
        A path that does not exist and matches nothing.
    """
    out: list[str] = []
    from .sdoml import is_zarr_path

    for item in items or ():
        path = Path(item)
        if is_zarr_path(path):  # an SDOML store, year group or channel array (euv2mag.data.sdoml)
            out.append(str(path))
        elif path.is_dir():
            found = sorted(str(p) for p in path.iterdir() if p.is_file() and accept(p))
            if not found:
                raise UserError(f"folder holds no {what}", path=path, parameter=parameter)
            out.extend(found)
        elif path.exists():
            out.append(str(path))
        elif any(ch in str(item) for ch in "*?["):
            found = sorted(glob.glob(str(item)))
            if not found:
                raise UserError("pattern matches no file", path=item, parameter=parameter)
            out.extend(found)
        else:
            raise UserError("no such file", path=item, parameter=parameter)
    seen = set()
    unique = []
    for p in out:
        key = os.path.realpath(p)
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def collect_frames(paths: list[str], instrument: str, *, quality_ignore=None, wavelength=AIA_WAVELENGTH, sdoml_cadence_s=None):
    """Validate the headers of ``paths``; return ``(headers, skipped_rows)``.

    A Zarr folder among ``paths`` is read as an SDOML store (one header per frame, or per step of
    ``sdoml_cadence_s`` seconds, :func:`euv2mag.data.sdoml.read_sdoml_headers`); its store-level
    problems raise.
    """
    from .sdoml import is_zarr_path, read_sdoml_headers

    heads, skipped = [], []
    for path in paths:
        if is_zarr_path(path):
            more, bad = read_sdoml_headers(path, "aia" if instrument == "euv" else instrument, wavelength=wavelength, quality_ignore=quality_ignore,
                                           cadence_s=sdoml_cadence_s)
            heads += more
            skipped += bad
            continue
        try:
            heads.append(read_header(path, expect=instrument, wavelength=wavelength, quality_ignore=quality_ignore))
        except UserError as exc:
            skipped.append({"file": str(path), "instrument": instrument, "time": "", "reason": _reason(exc, path)})
    return heads, skipped


def _reason(exc: UserError, path) -> str:
    text = str(exc)
    prefix = f"{path}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def _seconds(iso: str) -> float:
    return float(np.datetime64(iso, "ms").astype(np.int64)) / 1000.0


def pair_frames(euv: list[FrameHeader], hmi: list[FrameHeader], tolerance_s: float) -> tuple[list[Frame], list[dict]]:
    """Pair EUV and HMI headers by time (closest first, one-to-one, ``|dt| <= tolerance_s``).

    With one list empty, each header of the other is a frame.  A later header with the
    observation time of a header already in a frame becomes one of that frame's
    ``alternates`` (not a row of ``skipped``); :func:`choose_candidates` picks among them.

    Returns
    -------
    frames : list of Frame
        Sorted by time.
    skipped : list of dict
        Rows of the skip report for unpaired files.
    """
    skipped: list[dict] = []
    if hmi:  # a magnetogram pairs with an image of the same observer: SDO's AIA
        skipped += [_skip(h, f"{h.instrument.upper()} images do not pair with HMI (another observer); prepare them without --hmi")
                    for h in euv if h.instrument != "aia"]
        euv = [h for h in euv if h.instrument == "aia"]
    if not euv or not hmi:
        frames, seen = [], {}
        side = "euv" if euv else "hmi"
        for head in euv or hmi:
            if head.time in seen:
                seen[head.time].alternates.setdefault(side, []).append(head)
                continue
            frame = Frame(time=head.time, euv=head if euv else None, hmi=head if hmi else None)
            seen[head.time] = frame
            frames.append(frame)
        return sorted(frames, key=lambda f: f.time), skipped
    ta = np.array([_seconds(h.time) for h in euv])
    th = np.array([_seconds(h.time) for h in hmi])
    dt = np.abs(ta[:, None] - th[None, :])
    order = np.argsort(dt, axis=None, kind="stable")
    used_a, used_h, frames = set(), set(), []
    for flat in order:
        i, j = np.unravel_index(flat, dt.shape)
        if dt[i, j] > tolerance_s:
            break
        if i in used_a or j in used_h:
            continue
        used_a.add(i)
        used_h.add(j)
        frames.append(Frame(time=hmi[j].time, euv=euv[i], hmi=hmi[j]))
    by_time = {("euv", f.euv.time): f for f in frames} | {("hmi", f.hmi.time): f for f in frames}
    for name, heads, used, other in (("euv", euv, used_a, "HMI"), ("hmi", hmi, used_h, "AIA")):
        for k, head in enumerate(heads):
            if k in used:
                continue
            frame = by_time.get((name, head.time))
            if frame is not None:  # same time as a paired file: a candidate for that frame
                frame.alternates.setdefault(name, []).append(head)
            else:
                skipped.append(_skip(head, f"no {other} frame within {tolerance_s:g} s"))
    return sorted(frames, key=lambda f: f.time), skipped


def choose_candidates(frames: list[Frame], size: int, rsun_px: float) -> list[dict]:
    """For each frame with ``alternates``, use the first same-time file whose image is usable.

    The frame's own file comes first, then its alternates in the order given; each is read
    and prepared (:func:`euv2mag.data.fits.prepare_header`) until one succeeds, and that one
    becomes the frame's file.  Frames without alternates are not read here.

    Parameters
    ----------
    frames : list of Frame
        From :func:`pair_frames`; changed in place (``euv``/``hmi`` replaced, ``alternates``
        emptied).
    size : int
        Output size in pixels (as for the store).
    rsun_px : float
        Solar radius in output pixels.

    Returns
    -------
    list of dict
        Skip-report rows: each candidate that failed, with its reason, and each unused one as
        ``duplicate observation time T (also in FILE)``.  When every candidate fails, the
        frame keeps its first file (which fails again when the frame is prepared and is
        reported then) and the others are reported here with their reasons.
    """
    rows: list[dict] = []
    for frame in frames:
        for name, extra in sorted(frame.alternates.items()):
            candidates = [getattr(frame, name), *extra]
            chosen, failures = None, []
            for head in candidates:
                try:
                    prepare_header(head, size, rsun_px)
                except UserError as exc:
                    failures.append((head, _reason(exc, head.path)))
                    continue
                chosen = head
                break
            if chosen is None:
                rows += [_skip(head, why) for head, why in failures[1:]]
                continue
            setattr(frame, name, chosen)
            rows += [_skip(head, why) for head, why in failures]
            rows += [_skip(head, f"duplicate observation time {head.time} (also in {chosen.path})")
                     for head in candidates[len(failures) + 1:]]
        frame.alternates = {}
    return rows


def _skip(head: FrameHeader, reason: str) -> dict:
    return {"file": head.path, "instrument": head.instrument, "time": head.time, "reason": reason}


def _inputs_digest(frames: list[Frame]) -> str:
    h = hashlib.sha1()
    for frame in frames:
        for head in (frame.euv, frame.hmi):
            if head is None:
                continue
            if head.source == "sdoml":
                h.update(f"{os.path.realpath(head.array)}|{head.hdu}|{head.time}\n".encode())
            else:
                h.update(f"{os.path.realpath(head.path)}|{os.path.getsize(head.path)}|{head.time}\n".encode())
    return h.hexdigest()


def _write_skip_csv(out: Path, rows: list[dict], columns=SKIP_COLUMNS) -> Path:
    import pandas as pd

    path = skip_report_path(out)
    frame = pd.DataFrame(rows, columns=list(columns))
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return path


def _load_degradation(source):
    """The aiapy degradation-correction table (file or "JSOC"); UserError when unavailable."""
    try:
        from aiapy.calibrate.util import get_correction_table
    except ImportError:
        raise UserError("needs aiapy (pip install aiapy)", parameter="degradation") from None
    try:
        return get_correction_table(source)
    except Exception as exc:  # noqa: BLE001 - network or file errors from aiapy
        text = " ".join(str(exc).split())[:200]
        raise UserError(f"cannot load the AIA degradation table from {source!r} ({text})") from None


def _degradation_factor(table, time: str, path) -> float:
    import astropy.units as u
    from aiapy.calibrate import degradation
    from astropy.time import Time

    try:
        value = float(np.squeeze(degradation(AIA_WAVELENGTH * u.angstrom, Time(time), correction_table=table)))
    except Exception as exc:  # noqa: BLE001
        raise UserError(f"no AIA degradation factor for {time} ({' '.join(str(exc).split())[:200]})", path=path) from None
    if not (np.isfinite(value) and value > 0):
        raise UserError(f"AIA degradation factor {value} for {time} is unusable", path=path)
    return value


def _prepare_frame(frame: Frame, size: int, rsun_px: float, degradation_table):
    images, geometry = {}, None
    if frame.euv is not None:
        euv, geometry = prepare_header(frame.euv, size, rsun_px)
        if degradation_table is not None:  # AIA only (prepare_store refuses it for other imagers)
            euv /= np.float32(_degradation_factor(degradation_table, frame.euv.time, frame.euv.path))
        images["euv"] = euv
    if frame.hmi is not None:
        mag, geometry = prepare_header(frame.hmi, size, rsun_px)
        images["mag"] = mag
    return images, geometry


def _prepare_task(item):
    """Prepare one frame (serially or on a Dask worker): ``(images, geometry, None)``, or
    ``(None, None, error)`` when its files cannot be used (the caller skips or, strict, raises)."""
    frame, size, rsun_px, degradation_table = item
    try:
        images, geometry = _prepare_frame(frame, size, rsun_px, degradation_table)
    except UserError as exc:
        return None, None, exc
    return images, geometry, None


#: On a Dask cluster, the workers write their frames' images into the staging store (True), or send
#: them back to this process, which writes them (False: the path before workers wrote, kept for
#: ``benchmarks/distributed_speed.py --client-writes`` to compare the two in one run).
WORKERS_WRITE = True

#: Frames written by the workers are marked done in batches of this many (one write per small
#: array and batch: the time, geometry and ``frame_done`` writes cost the client ~18 ms per
#: frame one by one); an interrupted run marks those returned so far before it stops.
MARK_BATCH = 8


def _prepare_write_task(item):
    """Prepare one frame on a Dask worker and write its images into the staging store.

    Returns ``(geometry, None)`` once the images are written (the client then marks the frame
    done), or ``(None, error)`` when its files cannot be used.  A staging store the worker cannot
    write raises :class:`~euv2mag.parallel.ClusterLost` (the frames done so far are kept).
    """
    from ..parallel import ClusterLost
    from .store import write_frame_images

    frame, size, rsun_px, degradation_table, staging, index = item
    try:
        images, geometry = _prepare_frame(frame, size, rsun_px, degradation_table)
    except UserError as exc:
        return None, exc
    try:
        write_frame_images(staging, index, **images)
    except OSError as exc:
        text = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        raise ClusterLost(f"{staging}: a worker cannot write frame {index} ({text}); the frames done so far are kept: "
                          "re-run the same command to resume") from None
    return geometry, None


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink()


def prepare_store(
    out,
    *,
    aia_paths=(),
    hmi_paths=(),
    euv_paths=(),
    size: int = 1024,
    rsun_px: float | None = None,
    pair_tolerance_s: float = 60.0,
    strict: bool = False,
    degradation: str | None = None,
    quality_ignore: int | None = None,
    sdoml_cadence_s: float | None = None,
    progress: bool | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
) -> dict:
    """Prepare EUV/HMI files into the store ``out`` (see the module docstring).

    ``aia_paths`` must be SDO/AIA files; ``euv_paths`` may be AIA, STEREO/EUVI or Solar
    Orbiter/EUI-FSI 304 A files (both lists go to the store's ``euv`` array).  ``degradation``
    (aiapy) corrects AIA only and is refused for a store with EUVI/EUI images.

    ``sdoml_cadence_s`` (s) takes from SDOML inputs only the frame nearest each step of that
    cadence (:func:`euv2mag.data.sdoml.select_cadence`); FITS inputs are unaffected.

    The frames are prepared serially, or on the workers of a Dask cluster (``scheduler``:
    ``"local"`` or ``"tcp://HOST:PORT"``; ``workers``: processes of a local cluster; see
    :mod:`euv2mag.parallel`), which must read the input files and write the output's staging
    folder at the same paths (give absolute paths on a filesystem shared with a remote cluster;
    checked before any frame is prepared): each worker writes its frames' images into the staging
    store, and this process marks them done in frame order once written.  The store is the same,
    byte for byte, either way.

    Returns
    -------
    dict
        ``{"store", "frames", "skipped", "skip_report", "resumed_complete"}``.

    Raises
    ------
    UserError
        Bad options, no usable frame, an existing output made otherwise, (``strict``) any
        skipped file, a scheduler that cannot be used (checked before anything is written), or
        workers that cannot write into the output's folder.
    """
    from ..parallel import ClusterLost, FrameMap
    from ..progress import progress_bar
    from .store import FrameStore, StoreWriter, _is_vacant

    pool = FrameMap(scheduler, workers)
    out = Path(out)
    size = int(size)
    rsun_px = default_rsun_px(size) if rsun_px is None else float(rsun_px)
    if not (np.isfinite(rsun_px) and 1.0 <= rsun_px <= size / 2.0):
        raise UserError(f"must lie in 1..{size / 2:g} for a {size}^2 frame, got {rsun_px:g}", parameter="rsun_px")
    if not aia_paths and not euv_paths and not hmi_paths:
        raise UserError("give EUV and/or HMI files (aia_paths or euv_paths, hmi_paths)")
    if out.exists() and not (out / ".zgroup").exists():
        raise UserError("exists and is not an euv2mag store; choose another output", path=out)

    if sdoml_cadence_s is not None and not (np.isfinite(sdoml_cadence_s) and sdoml_cadence_s >= 1):
        raise UserError(f"must be at least 1 s, got {sdoml_cadence_s!r}", parameter="sdoml_cadence_s")
    aia_heads, skipped = collect_frames(list(aia_paths), "aia", quality_ignore=quality_ignore, sdoml_cadence_s=sdoml_cadence_s)
    euv_heads, more = collect_frames(list(euv_paths), "euv", quality_ignore=quality_ignore, sdoml_cadence_s=sdoml_cadence_s)
    aia_heads += euv_heads
    skipped += more
    euv_given = bool(aia_paths or euv_paths)
    if degradation and any(h.instrument != "aia" for h in aia_heads):
        raise UserError("the AIA degradation correction (aiapy) does not apply to EUVI or EUI images; leave it out "
                        "for a store with them", parameter="degradation")
    hmi_heads, more = collect_frames(list(hmi_paths), "hmi", quality_ignore=quality_ignore, sdoml_cadence_s=sdoml_cadence_s)
    skipped += more
    if degradation and any(h.source == "sdoml" for h in aia_heads):
        raise UserError("SDOML AIA images are already degradation-corrected; drop the degradation correction",
                        parameter="degradation")
    if euv_given and hmi_paths and not (aia_heads and hmi_heads):
        # both instruments were asked for but one has no valid file: nothing can pair
        frames, unpaired = [], [_skip(h, "no valid file of the other instrument to pair with") for h in aia_heads + hmi_heads]
    else:
        frames, unpaired = pair_frames(aia_heads, hmi_heads, pair_tolerance_s)
    skipped += unpaired
    if strict:
        duplicates = [(h, getattr(f, name)) for f in frames for name, heads in f.alternates.items() for h in heads]
        if duplicates:
            head, first = duplicates[0]
            raise UserError(f"duplicate observation time {head.time} (also in {first.path})", path=head.path)
    skipped += choose_candidates(frames, size, rsun_px)
    if strict and skipped:
        row = skipped[0]
        raise UserError(row["reason"], path=row["file"])
    arrays = tuple(name for name, given in (("euv", euv_given), ("mag", hmi_paths)) if given)
    params = {
        "size": size,
        "rsun_px": rsun_px,
        "pair_tolerance_s": float(pair_tolerance_s),
        "strict": bool(strict),
        "degradation": degradation,
        "quality_ignore": quality_ignore,
        "aia_wavelength": AIA_WAVELENGTH,
        "arrays": list(arrays),
        "inputs_sha1": _inputs_digest(frames),
    }
    if sdoml_cadence_s is not None:  # only then, so stores made before the option still resume
        params["sdoml_cadence_s"] = float(sdoml_cadence_s)
    if not frames:
        _write_skip_csv(out, skipped)
        raise UserError(_no_frames_message(skipped, out), path=out)

    with pool:  # connected and its workers checked before anything is written
        # One writer per output store.  The lock is taken on the staging folder ``.OUT.zarr.staging``,
        # not on OUT: the staged store is renamed to OUT at the end, and a folder holding a lock file
        # cannot be renamed onto; the staging name is derived from OUT, so two ``prepare`` runs into
        # one OUT still exclude each other, from the check of OUT below to the rename.  (When frames
        # failed, the good ones are copied into OUT by a StoreWriter that locks OUT itself.)
        staging = out.with_name(f".{out.name}.staging")
        try:
            with writer_lock(staging, what="store"):
                if out.exists() and not _is_vacant(out):
                    existing = FrameStore(out, require_complete=False)
                    if existing.attrs.get("params") != _stored_params(params) or existing.kind != "prepared":
                        raise UserError(
                            "exists and was made with other inputs or options; delete it or choose another output", path=out
                        )
                    if existing.complete:
                        return {"store": str(out), "frames": existing.n_frames, "skipped": len(skipped), "skip_report": str(skip_report_path(out)), "resumed_complete": True}

                degradation_table = _load_degradation(degradation) if (degradation and euv_given) else None
                workers_write = pool.distributed and WORKERS_WRITE
                if workers_write:  # the workers write into the staging folder: they must see it
                    pool.check_shared_folder(staging)
                provenance = {
                    "command": "euv2mag prepare",
                    "frames": [{"time": f.time, **f.files()} for f in frames],
                }
                shape = (size, size)
                writer = StoreWriter.open(staging, n_frames=len(frames), shape=shape, arrays=arrays, kind="prepared", params=params,
                                          provenance=provenance, lock=False)
                failed: dict[int, dict] = {}
                pending = writer.pending()
                try:
                    with progress_bar("prepare", len(pending), enabled=progress) as advance:
                        if workers_write:
                            # prepared and written on the workers, several consecutive frames per
                            # task (the per-task overhead of the client and its scheduler is paid
                            # once per batch); marked done here, in frame order, once written.
                            # ``closing`` (with settle) waits for the tasks in flight before an
                            # error removes the staging folder they write into.
                            done = contextlib.closing(pool.map(
                                _prepare_write_task,
                                [(frames[i], size, rsun_px, degradation_table, str(staging), i) for i in pending],
                                settle=True, batch=pool.batch_size(len(pending))))
                        else:  # prepared here or on the workers; written here, in frame order (one
                            # frame per task: its images come back with it)
                            done = contextlib.closing(
                                pool.map(_prepare_task, [(frames[i], size, rsun_px, degradation_table) for i in pending]))
                        written: dict = {}  # frames written by their workers, not yet marked done

                        def mark_written():
                            batch = dict(written)
                            written.clear()
                            writer.mark_done(batch)

                        with done as results:
                            try:
                                for i, result in zip(pending, results):
                                    if workers_write:
                                        (geometry, exc), images = result, None
                                    else:
                                        images, geometry, exc = result
                                    if exc is not None:
                                        if strict:
                                            raise exc
                                        failed[i] = _failure_rows(frames[i], exc)
                                    elif images is None:
                                        written[i] = geometry
                                        if len(written) >= MARK_BATCH:
                                            mark_written()
                                    else:
                                        writer.write_frame(i, geometry, **images)
                                    advance()
                            finally:  # also when interrupted: those frames' images are complete
                                mark_written()
                except ClusterLost:
                    raise  # not the input: the staged frames are kept, and a re-run resumes
                except UserError:
                    _remove(staging)  # strict: nothing half-written
                    raise
                for rows in failed.values():
                    skipped += rows
                good = [i for i in range(len(frames)) if i not in failed]
                if not good:
                    _remove(staging)
                    _write_skip_csv(out, skipped)
                    raise UserError(_no_frames_message(skipped, out), path=out)
                publish_staged(
                    writer, staging, out, good, shape=shape, arrays=arrays, kind="prepared", params=params,
                    provenance={**provenance, "frames": [provenance["frames"][i] for i in good]},
                    tables={"skipped": _skip_table(skipped)}, attrs={"n_skipped": len(skipped)},
                )
        finally:
            with contextlib.suppress(OSError):
                staging.rmdir()  # the lock's folder when nothing was staged (OUT was complete, or renamed)
        report = _write_skip_csv(out, skipped)
        return {"store": str(out), "frames": len(good), "skipped": len(skipped), "skip_report": str(report), "resumed_complete": False}


def publish_staged(writer, staging: Path, out: Path, good: list[int], *, shape, arrays, kind: str, params: dict,
                   provenance: dict, tables: dict, attrs: dict) -> None:
    """Turn a fully written staging store into ``out``, keeping only the frames ``good``.

    The caller holds the writer lock of ``staging`` and wrote it with ``writer`` (opened with
    ``lock=False``); every frame of ``good`` is done there.  When ``good`` is every frame and
    ``out`` is free, the staging folder is finished (``tables`` written, ``attrs`` recorded) and
    renamed to ``out``: the store appears complete at once.  Otherwise the ``good`` frames are
    copied, in order, into a new store ``out`` (locked, resumable) with ``provenance`` and
    ``tables`` (both must describe the ``good`` frames only), and the staging folder is removed.

    Parameters
    ----------
    writer : StoreWriter
        The staging store's writer.
    staging, out : Path
        The staging store and the final store.
    good : list of int
        Staging frames to keep, in order.
    shape, arrays, kind, params
        As for :meth:`~euv2mag.data.store.StoreWriter.open` (those of the staging store).
    provenance : dict
        Provenance of the ``good`` frames (used when frames are copied).
    tables : dict
        Tables to store (name -> DataFrame or dict of columns).
    attrs : dict
        Extra attributes recorded by :meth:`~euv2mag.data.store.StoreWriter.finish`.
    """
    from .store import FrameStore, StoreWriter, _is_vacant

    writer.flush()  # the frames it wrote are read back below: their geometry must be on disk
    if len(good) == writer.n_frames and (not out.exists() or _is_vacant(out)):
        for name, table in tables.items():
            writer.write_table(name, table)
        writer.finish(**attrs)
        if out.exists():  # only the lock file of a killed copy into OUT (its flock is dead)
            _remove(out)
        os.replace(staging, out)
        # the held lock file moved with the folder: remove it from the finished store now
        # (the lock's own clean-up looks for it under the staging path and finds nothing)
        with contextlib.suppress(OSError):
            (out / LOCK_NAME).unlink()
        return
    source = FrameStore(staging, require_complete=False)
    final = StoreWriter.open(out, n_frames=len(good), shape=shape, arrays=arrays, kind=kind, params=params,
                             provenance=provenance)
    with final:
        todo = set(final.pending())
        for k, i in enumerate(good):
            if k in todo:
                final.write_frame(k, source.geometry(i), **{name: source.read(name, i) for name in arrays})
        for name, table in tables.items():
            final.write_table(name, table)
        final.finish(**attrs)
    _remove(staging)


def _stored_params(params: dict) -> dict:
    """``params`` as the store keeps them (JSON round trip)."""
    import json

    from .._io import _json_safe

    return json.loads(json.dumps(_json_safe(params)))


def _skip_table(rows: list[dict], columns=SKIP_COLUMNS):
    import pandas as pd

    return pd.DataFrame(rows, columns=list(columns)).astype(str)


def _failure_rows(frame: Frame, exc: UserError) -> list[dict]:
    bad = exc.path
    rows = []
    for head in (frame.euv, frame.hmi):
        if head is None:
            continue
        if bad is None or os.path.realpath(bad) == os.path.realpath(head.path):
            rows.append(_skip(head, _reason(exc, head.path)))
        else:
            rows.append(_skip(head, f"partner file {bad} was skipped"))
    return rows


def _no_frames_message(skipped: list[dict], out: Path) -> str:
    report = skip_report_path(out)
    if len(skipped) == 1:
        row = skipped[0]
        return f"no usable frame: {row['file']}: {row['reason']} (see {report})"
    return f"no usable frame: all {len(skipped)} files skipped (reasons in {report})"
