"""The synthetic store writer: :func:`synthesize` renders a series frame by frame into a Zarr store.

The store (:mod:`euv2mag.data.store`) holds per frame ``euv`` (304-like intensity, DN/s) and
``mag`` (LOS field, G), both float32 ``(N, N)`` with NaN off the disk, the frame geometry
(``b0_deg``, ``l0_deg`` deg, ``dsun_m`` m, ``rsun_px`` px, ``cdelt_arcsec`` arcsec/px, ``time``
ISO 8601 UTC), and the truth tables of :mod:`euv2mag.data.synthetic.truth`; its ``params``
attribute is :meth:`SynthParams.to_dict`.  Every frame is a pure function of the parameters
and its time, so an interrupted run resumes where it stopped with bit-identical frames.

A store shows the Sun from one observer (:mod:`euv2mag.data.synthetic.observers`; Earth by
default): the same parameters seen from several observers (:func:`synthesize_views`) are the
same Sun, one store per observer, each with that observer's geometry and truth tables (the
``frame_regions`` longitudes are measured from that observer's central meridian).  The
observer is recorded in the store's ``provenance`` and, when it is not Earth, in its
``params`` (so a store is resumed only for the same observer).

The frames can be rendered on the workers of a Dask cluster (``scheduler``, ``workers``;
:mod:`euv2mag.parallel`) while this process writes them in frame order.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .render import render_frame
from .timegrid import frame_geometries, frame_times
from .truth import frame_regions_table, regions_table

if TYPE_CHECKING:
    from .params import SynthParams

__all__ = ["synthesize", "synthesize_views", "view_store_path"]


def synthesize(out, params: SynthParams, *, observer=None, fits_dir=None, progress: bool | None = None, on_frame=None,
               scheduler: str | None = None, workers: int | None = None) -> dict:
    """Write (or resume) a synthetic store at ``out``; optionally the FITS pairs in ``fits_dir``.

    Frames not yet written (and, with ``fits_dir``, frames whose FITS pair is missing) are
    rendered with :func:`~euv2mag.data.synthetic.render.render_frame` and written; then the
    truth tables ``regions`` and ``frame_regions`` and the completion flag.

    Parameters
    ----------
    out : str or Path
        Output Zarr store; created, or resumed when it was made with the same ``params``.
    params : SynthParams
        Generator parameters (stored as ``params.to_dict()``).
    observer : Observer or str, optional
        Where the Sun is seen from (:func:`~euv2mag.data.synthetic.observers.parse_observer`
        text or an :class:`~euv2mag.data.synthetic.observers.Observer`); default Earth.
    fits_dir : str or Path, optional
        Folder for the level-1-like FITS files (:mod:`euv2mag.data.synthetic.fits`): AIA 304 / HMI
        pairs seen from Earth, EUVI-like (STEREO) or EUI/FSI-like (other observers) 304 A files.
    progress : bool, optional
        Show a progress bar (default: the package's progress setting).
    on_frame : callable, optional
        Called with the frame index after each frame is written.
    scheduler : str, optional
        Render the frames on Dask: ``"local"`` or ``"tcp://HOST:PORT"`` (:mod:`euv2mag.parallel`);
        this process writes them.  Default: serial (or a local cluster when ``workers`` > 1).
    workers : int, optional
        Worker processes of a local cluster.

    Returns
    -------
    dict
        ``frames`` (in the series), ``written`` (frames written now), ``regions`` (rows of the
        ``regions`` truth table), ``render_s`` and ``write_s`` (seconds spent rendering, or waiting
        for the workers' frames, incl. FITS writing; and writing the store).

    Raises
    ------
    euv2mag.errors.UserError
        When ``out`` holds something else or a store made with other parameters, the options
        would make more than :data:`~euv2mag.data.synthetic.timegrid.MAX_FRAMES` frames, or
        ``fits_dir`` is empty or a file, or the scheduler cannot be used (checked before
        anything is written).  A run refused while writing removes the store when it created
        it; an interrupted run (Ctrl-C, a full disk, a lost cluster) keeps it, and re-running
        resumes.
    """
    from ...parallel import FrameMap

    pool = FrameMap(scheduler, workers)
    times = frame_times(params)
    with pool:  # connected and checked before anything is written
        return _synthesize(out, params, times, fits_dir, progress, on_frame, pool, observer)


def _synthesize(out, params, times, fits_dir, progress, on_frame, pool, observer) -> dict:
    """:func:`synthesize` once the work map is ready (serial, or its cluster connected)."""
    from pathlib import Path

    from ...errors import UserError
    from ...parallel import ClusterLost
    from ..store import StoreWriter
    from .observers import Observer, observer_geometries, parse_observer

    observer = Observer() if observer is None else observer if isinstance(observer, Observer) else parse_observer(observer)
    if fits_dir is not None:  # checked before the store is created: a bad folder leaves nothing
        from ..._io import ensure_dir

        fits_dir = ensure_dir(fits_dir, parameter="fits_dir")
    geometries = frame_geometries(times, params.size) if observer.kind == "earth" else observer_geometries(observer, times, params.size)
    stored = params.to_dict() if observer.kind == "earth" else {**params.to_dict(), "observer": observer.label}
    fresh = not Path(out).exists()
    writer = StoreWriter.open(
        out, n_frames=len(times), shape=(params.size, params.size), arrays=("euv", "mag"), kind="synthetic",
        params=stored,
        provenance={"generator": "euv2mag.data.synthetic", "physics": "notes/synthetic-sun-physics.md",
                    "observer": observer.to_dict()},
    )
    try:
        with writer:  # the writer lock is released however the block ends
            return _fill(writer, params, times, geometries, fits_dir, progress, on_frame, pool, observer)
    except ClusterLost:
        raise  # not the input: the frames written so far are kept, and a re-run resumes
    except UserError:
        if fresh:  # a run refused for bad input leaves no store it created; interruptions resume
            import shutil

            shutil.rmtree(out, ignore_errors=True)
        raise


def _render_task(item):
    """Render one frame (serially or on a Dask worker): ``(euv, mag)`` float32 arrays."""
    params, t_mjd, geometry = item
    frame = render_frame(params, t_mjd, geometry)
    return frame["euv"], frame["mag"]


def _fill(writer, params, times, geometries, fits_dir, progress, on_frame, pool, observer) -> dict:
    """Render and write the pending frames, then the truth tables; the summary of :func:`synthesize`."""
    import time

    from ...progress import progress_bar

    pending = writer.pending()
    hgln = None
    if fits_dir is not None:
        from .fits import view_fits_names
        from .observers import observer_positions

        hgln = observer_positions(observer, times)[0]
        pending = sorted(set(pending) | {
            i for i, g in enumerate(geometries)
            if not all((fits_dir / name).exists() for name in view_fits_names(observer, g.time))
        })
    t_render = t_write = 0.0
    with progress_bar("synth", len(pending), enabled=progress) as advance:
        frames = pool.map(_render_task, [(params, float(times[i]), geometries[i]) for i in pending])
        for i in pending:
            t0 = time.perf_counter()
            euv, mag = next(frames)  # rendered here or by a worker, in frame order
            t1 = time.perf_counter()
            writer.write_frame(i, geometries[i], euv=euv, mag=mag)
            t2 = time.perf_counter()
            if fits_dir is not None:
                from .fits import write_view_fits

                write_view_fits(fits_dir, params, float(times[i]), geometries[i], euv, mag, observer, float(hgln[i]))
            t3 = time.perf_counter()
            t_render += (t1 - t0) + (t3 - t2)
            t_write += t2 - t1
            if on_frame is not None:
                on_frame(i)
            advance()
    regions = regions_table(params, times)
    writer.write_table("regions", regions)
    writer.write_table("frame_regions", frame_regions_table(params, times, geometries))
    writer.finish()
    return {"frames": len(times), "written": len(pending), "regions": len(regions),
            "render_s": t_render, "write_s": t_write}


def view_store_path(out, observer, *, several: bool):
    """The store of ``observer`` in a :func:`synthesize_views` call: ``out`` itself for a single
    observer, else ``<out stem>_<observer>.zarr`` beside it (``sun.zarr`` + ``stereo-a`` ->
    ``sun_stereo-a.zarr``; ``hgln=120,dsun=0.9`` -> ``sun_hgln120_dsun0.9.zarr``;
    ``ephemeris=orbits/solo.csv`` -> ``sun_ephemeris-solo.zarr``)."""
    import re
    from pathlib import Path

    out = Path(out)
    if not several:
        return out
    label = observer.label
    if observer.kind == "ephemeris":
        label = "ephemeris-" + Path(observer.ephemeris).stem
    label = re.sub(r"[^A-Za-z0-9.+-]+", "_", label.replace("=", ""))
    stem = out.name[:-5] if out.name.endswith(".zarr") else out.name
    return out.with_name(f"{stem}_{label}.zarr")


def synthesize_views(out, params: SynthParams, observers=("earth",), *, fits_dir=None, progress: bool | None = None,
                     scheduler: str | None = None, workers: int | None = None) -> dict:
    """The same synthetic Sun seen from several observers: one store each (:func:`view_store_path`).

    Parameters
    ----------
    out : str or Path
        The store (one observer) or the name the observers' stores are derived from.
    params : SynthParams
        Generator parameters, shared by every view.
    observers : sequence of str or Observer
        ``--observer`` texts (:func:`~euv2mag.data.synthetic.observers.parse_observer`); all
        are parsed (and ephemeris files read) before anything is written.
    fits_dir : str or Path, optional
        The FITS files of every view (:func:`synthesize`; names differ per instrument).
    scheduler, workers
        Render on Dask (:func:`synthesize`).

    Returns
    -------
    dict
        Observer label -> ``{"store": path, **summary of synthesize}``.

    Raises
    ------
    UserError
        A bad observer (before anything is written), twice the same observer, or what
        :func:`synthesize` raises.
    """
    from ...errors import UserError
    from .observers import Observer, observer_positions, parse_observer

    parsed = [o if isinstance(o, Observer) else parse_observer(o) for o in observers]
    if not parsed:
        raise UserError("give at least one observer", parameter="observer")
    labels = [o.label for o in parsed]
    if len(set(labels)) != len(labels):
        raise UserError(f"observer given twice ({', '.join(labels)})", parameter="observer")
    times = frame_times(params)
    for o in parsed:  # bad ephemeris files and coverage fail here, before any store exists
        observer_positions(o, times[[0, -1]])
    several = len(parsed) > 1
    results = {}
    for o in parsed:
        path = view_store_path(out, o, several=several)
        results[o.label] = {"store": str(path), **synthesize(path, params, observer=o, fits_dir=fits_dir, progress=progress,
                                                             scheduler=scheduler, workers=workers)}
    return results
