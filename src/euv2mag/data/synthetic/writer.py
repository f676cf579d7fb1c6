"""The synthetic store writer: :func:`synthesize` renders a series frame by frame into a Zarr store.

The store (:mod:`euv2mag.data.store`) holds per frame ``euv`` (304-like intensity, DN/s) and
``mag`` (LOS field, G), both float32 ``(N, N)`` with NaN off the disk, the frame geometry
(``b0_deg``, ``l0_deg`` deg, ``dsun_m`` m, ``rsun_px`` px, ``cdelt_arcsec`` arcsec/px, ``time``
ISO 8601 UTC), and the truth tables of :mod:`euv2mag.data.synthetic.truth`; its ``params``
attribute is :meth:`SynthParams.to_dict`.  Every frame is a pure function of the parameters
and its time, so an interrupted run resumes where it stopped with bit-identical frames, and
the frames can be rendered on the workers of a Dask cluster (``scheduler``, ``workers``;
:mod:`euv2mag.parallel`) while this process writes them in frame order.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .render import render_frame
from .timegrid import frame_geometries, frame_times
from .truth import frame_regions_table, regions_table

if TYPE_CHECKING:
    from .params import SynthParams

__all__ = ["synthesize"]


def synthesize(out, params: SynthParams, *, fits_dir=None, progress: bool | None = None, on_frame=None,
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
    fits_dir : str or Path, optional
        Folder for the level-1-like AIA 304 / HMI FITS pairs (:mod:`euv2mag.data.synthetic.fits`).
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
        return _synthesize(out, params, times, fits_dir, progress, on_frame, pool)


def _synthesize(out, params, times, fits_dir, progress, on_frame, pool) -> dict:
    """:func:`synthesize` once the work map is ready (serial, or its cluster connected)."""
    from pathlib import Path

    from ...errors import UserError
    from ...parallel import ClusterLost
    from ..store import StoreWriter

    if fits_dir is not None:  # checked before the store is created: a bad folder leaves nothing
        from ..._io import ensure_dir

        fits_dir = ensure_dir(fits_dir, parameter="fits_dir")
    geometries = frame_geometries(times, params.size)
    fresh = not Path(out).exists()
    writer = StoreWriter.open(
        out, n_frames=len(times), shape=(params.size, params.size), arrays=("euv", "mag"), kind="synthetic",
        params=params.to_dict(),
        provenance={"generator": "euv2mag.data.synthetic", "physics": "notes/synthetic-sun-physics.md"},
    )
    try:
        with writer:  # the writer lock is released however the block ends
            return _fill(writer, params, times, geometries, fits_dir, progress, on_frame, pool)
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


def _fill(writer, params, times, geometries, fits_dir, progress, on_frame, pool) -> dict:
    """Render and write the pending frames, then the truth tables; the summary of :func:`synthesize`."""
    import time

    from ...progress import progress_bar

    pending = writer.pending()
    if fits_dir is not None:
        from .fits import fits_names

        pending = sorted(set(pending) | {
            i for i, g in enumerate(geometries)
            if not all((fits_dir / name).exists() for name in fits_names(g.time))
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
                from .fits import write_fits_pair

                write_fits_pair(fits_dir, params, float(times[i]), geometries[i], euv, mag)
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
