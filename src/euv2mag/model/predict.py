"""Generate magnetograms in G with a trained run: a prediction store and, optionally, FITS files.

:func:`predict_image` is the core (one EUV image in DN/s -> one magnetogram in G): the run's EUV
scaling, the generator (batch 1), the exact inverse of the run's magnetogram scaling
(:meth:`~euv2mag.scaling.MagScaling.to_gauss`), NaN off the disk (``r > R``, from the frame's
geometry).  With a clipped scaling the output lies within +-L G.

:func:`predict_run` (``euv2mag predict``) writes a store of ``kind="prediction"`` with the array
``pred`` (G) for the chosen frames, and, by default, copies of the input ``mag`` and ``euv`` of the
same frames (so the audit commands read one store; ``copy_inputs=False`` leaves them out).
Frame ``i`` of the prediction store is frame ``source_index[i]`` of the input store: the same
``time`` and geometry arrays, and a table ``tables/source_frames`` (``index``, ``source_index``,
``time``).  The store's attrs carry ``model`` provenance (run folder, seed, checkpoint file,
iteration, inference mode, the run's configuration).  Re-running with the same arguments
resumes; other arguments on an existing output are refused.

Inference mode ``kpl19`` (KPL19 and the reference pix2pix ``test.py``) keeps BatchNorm on the
frame's own statistics and dropout active; its dropout draws are seeded by the run's seed and the
frame's source index, so a prediction is reproducible.  ``eval`` uses running statistics and no
dropout.

FITS files (``fits_dir``): one per frame, ``pred_<source index>_<time>.fits``, float32 G with NaN
off the disk, rows northward as in the store, and a header with the frame's geometry
(:func:`euv2mag.data.maps.wcs_header`: WCS ``HPLN-TAN``/``HPLT-TAN`` in arcsec, ``CDELT1/2``,
``CRPIX1/2`` at the disk centre, ``RSUN_OBS`` (arcsec), ``R_SUN`` (px), ``RSUN_REF``,
``DSUN_OBS``, ``CRLN_OBS``, ``CRLT_OBS``, ``HGLN_OBS`` (the frame's observer), ``HGLT_OBS``,
``DATE-OBS``; ``BUNIT = 'G'``) and the model's provenance (``MODEL``, ``RUNDIR``, ``SEED``,
``CKPTFILE``, ``ITERATN``, ``INFMODE``, ``MAGSCAL``, ``MAGLIMG``, ``SRCINDEX``, ``SRCSTORE``).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .. import __version__
from .._io import atomic_path, ensure_dir
from ..errors import UserError
from ..geometry import DiskGeometry
from .checkpoint import load_generator
from .config import TrainConfig
from .pix2pix import set_inference_mode
from .train import resolve_device
from ..data.splits import resolve_indices  # noqa: F401  (re-exported: its home is euv2mag.data.splits)

__all__ = ["predict_image", "predict_run", "resolve_indices", "fits_header", "load_run_generator"]


def predict_image(
    model: torch.nn.Module,
    euv_dn_s: np.ndarray,
    geometry: DiskGeometry,
    cfg: TrainConfig,
    *,
    device: torch.device | str = "cpu",
    history: tuple | None = None,
) -> np.ndarray:
    """One magnetogram in G from one EUV image in DN/s (the model must already be in its inference mode).

    Parameters
    ----------
    model : torch.nn.Module
        Maps a (1, C, H, W) scaled EUV tensor (C = ``cfg.input_channels``: with
        ``cfg.coord_channels`` the frame's :func:`~euv2mag.data.torch_dataset.coordinate_channels`
        follow the EUV image) to a (1, 1, H, W) scaled magnetogram.
    euv_dn_s : ndarray
        (H, W) EUV image in DN/s (NaN off the disk is read as 0 DN/s).
    geometry : DiskGeometry
        Geometry of the frame (pixels with ``rho > 1`` become NaN).
    cfg : TrainConfig
        The run's configuration (its EUV and magnetogram scalings).
    device : torch.device or str
        Where the model is.
    history : tuple, optional
        ``(hist_g, hist_cover, age_days)`` of the frame (:func:`euv2mag.data.history.read_history`);
        required when ``cfg.history_channels``.

    Returns
    -------
    ndarray
        (H, W) float32 LOS field in G, NaN off the disk.
    """
    x = cfg.euv_scaling.to_unit(euv_dn_s)[None]
    if cfg.coord_channels:
        from ..data.torch_dataset import coordinate_channels

        x = np.concatenate([x, coordinate_channels(geometry)])
    if cfg.history_channels:
        from ..data.history import history_channels

        if history is None:
            raise UserError("the model needs the frame's field history (it was trained with history_channels)")
        x = np.concatenate([x, history_channels(*history, geometry, cfg.mag_scaling)])
    x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None].to(device)
    if cfg.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        y = model(x)
    mag = cfg.mag_scaling.to_gauss(y.float().cpu().numpy()[0, 0])
    mag[geometry.rho > 1.0] = np.nan
    return mag.astype(np.float32)


def load_run_generator(run_dir: str | Path, checkpoint: str = "best", *, device="cpu"):
    """The generator of one of a run's checkpoints, on ``device``.

    Parameters
    ----------
    run_dir : path-like
        Run folder ``runs/NAME/seed-K``.
    checkpoint : str
        ``best``, ``last`` or the name of a checkpoint file inside the run folder.
    device : str or torch.device
        Where the generator goes (channels-last when the run trained so).

    Returns
    -------
    generator : UNetGenerator
        With the checkpoint's weights, in training mode (choose the inference mode with
        :func:`~euv2mag.model.pix2pix.set_inference_mode`).
    ckpt : dict
        The checkpoint (:func:`~euv2mag.model.checkpoint.load_checkpoint`).
    path : Path
        The checkpoint file.

    Raises
    ------
    UserError
        No such run folder or checkpoint, a path outside the run folder, or a checkpoint of
        another architecture than the run's ``config.toml``.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError("no such run folder", path=run_dir)
    name = {"best": "best.ckpt", "last": "last.ckpt"}.get(checkpoint, checkpoint)
    from .._io import path_inside

    path = path_inside(run_dir, name)
    if not path.is_file():
        hint = " (no validation has finished yet; use checkpoint 'last')" if checkpoint == "best" else ""
        raise UserError(f"has no checkpoint {name}{hint}", path=run_dir)
    cfg_path = run_dir / "config.toml"
    expected = TrainConfig.read(cfg_path) if cfg_path.exists() else None
    g, ckpt = load_generator(path, expected, map_location=device)
    cfg = ckpt["config_obj"]
    g = g.to(device)
    if cfg.channels_last:
        g = g.to(memory_format=torch.channels_last)
    return g, ckpt, path


def fits_header(geometry: DiskGeometry, provenance: dict):
    """FITS header of a predicted frame: the frame's WCS and observer, ``BUNIT = 'G'`` and the model's provenance.

    The WCS and observer keywords are :func:`euv2mag.data.maps.wcs_header`'s (the same as the
    synthetic Sun's files of the same geometry); ``provenance`` adds the keys listed in the
    module docstring for the names it holds.
    """
    from ..data.maps import wcs_header

    h = wcs_header(geometry)
    h["BUNIT"] = ("G", "line-of-sight magnetic field")
    h["WCSNAME"] = "Helioprojective-cartesian"
    h["ORIGIN"] = f"euv2mag {__version__}"
    h["CONTENT"] = "magnetogram generated from EUV"
    keys = {
        "MODEL": ("variant", "model variant"),
        "RUNDIR": ("run_dir", "training run folder"),
        "SEED": ("seed", "training seed"),
        "CKPTFILE": ("checkpoint", "checkpoint file"),
        "ITERATN": ("iteration", "training iterations of the checkpoint"),
        "INFMODE": ("inference_mode", "BN/dropout mode at inference"),
        "MAGSCAL": ("mag_scaling", "magnetogram scaling of the model"),
        "MAGLIMG": ("mag_limit_g", "saturation limit of the scaling, G"),
        "SRCINDEX": ("source_index", "frame index in the input store"),
        "SRCSTORE": ("source_store", "input store"),
    }
    for key, (name, comment) in keys.items():
        if name in provenance:
            value = provenance[name]
            h[key] = (str(value) if isinstance(value, (Path,)) else value, comment)
    return h


def _fits_name(source_index: int, time: str | None) -> str:
    stamp = re.sub(r"[^0-9T]", "", time or "")[:15]
    return f"pred_{source_index:05d}_{stamp}.fits" if stamp else f"pred_{source_index:05d}.fits"


def predict_run(
    run_dir: str | Path,
    store_path: str | Path,
    out: str | Path,
    *,
    indices: str | Sequence[int] = "test",
    split: str | Path | None = None,
    checkpoint: str = "best",
    inference_mode: str | None = None,
    fits_dir: str | Path | None = None,
    copy_inputs: bool = True,
    device: str = "auto",
    progress: bool | None = None,
) -> Path:
    """Predict the chosen frames of ``store_path`` with a run and write the prediction store ``out``.

    See the module docstring for the output.  Returns the store path.
    """
    from ..data.store import FrameStore, StoreWriter
    from ..progress import progress_bar

    device = resolve_device(device)
    store = FrameStore(store_path)
    if not store.has("euv"):
        raise UserError("has no 'euv' array to predict from", path=store.path)
    if isinstance(indices, str):
        idx = resolve_indices(indices, store.n_frames, split, times=store.times)
    else:
        idx = resolve_indices(",".join(str(int(i)) for i in indices), store.n_frames)
    g, ckpt, ckpt_path = load_run_generator(run_dir, checkpoint, device=device)
    cfg: TrainConfig = ckpt["config_obj"]
    if cfg.size != store.size:
        raise UserError(f"the model is for {cfg.size} px images, the store has {store.size} px", path=store.path)
    ages = None
    if cfg.history_channels:
        from ..data.history import history_ages

        ages = history_ages(store)  # a store without the history arrays: one line naming it
    mode = inference_mode or cfg.inference_mode
    set_inference_mode(g, mode)
    seed = int(ckpt.get("seed", 0))
    model_info = {
        "run_dir": str(Path(run_dir).resolve()),
        "seed": seed,
        "checkpoint": ckpt_path.name,
        "iteration": int(ckpt["iteration"]),
        "inference_mode": mode,
        "variant": cfg.variant,
        "mag_scaling": cfg.mag_kind,
        "mag_limit_g": cfg.mag_limit_g,
        "config": cfg.to_dict(),
    }
    arrays = ["pred"] + ([name for name in ("mag", "euv") if store.has(name)] if copy_inputs else [])
    params = {
        "model": model_info,
        "source_store": str(Path(store_path).resolve()),
        "source_indices": idx,
        "arrays": arrays,
    }
    if fits_dir is not None:  # before the store, so a bad folder leaves nothing behind
        ensure_dir(fits_dir, parameter="fits_dir")
    writer = StoreWriter.open(
        out, n_frames=len(idx), shape=store.shape, arrays=arrays, kind="prediction", params=params,
        provenance={"model": model_info, "source_store": params["source_store"]},
    )
    with writer:  # the writer lock is released however the block ends
        pending = set(writer.pending())
        with progress_bar("predict", len(idx), enabled=progress) as advance:
            for i, src in enumerate(idx):
                if i not in pending and fits_dir is None:
                    advance(1)
                    continue
                geom = store.geometry(src)
                with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
                    torch.manual_seed(seed * 1_000_003 + src)
                    history = None
                    if ages is not None:
                        from ..data.history import read_history

                        history = read_history(store, src, ages)
                    pred = predict_image(g, store.read("euv", src), geom, cfg, device=device, history=history)
                if i in pending:
                    images = {"pred": pred}
                    for name in arrays[1:]:
                        images[name] = store.read(name, src)
                    writer.write_frame(i, geom, **images)
                if fits_dir is not None:
                    _write_fits(Path(fits_dir), pred, geom, {**model_info, "source_index": src,
                                                              "source_store": params["source_store"]})
                advance(1)
        writer.write_table(
            "source_frames",
            {"index": np.arange(len(idx)), "source_index": np.asarray(idx), "time": [str(store.times[i]) for i in idx]},
        )
        writer.finish(model=model_info)
    return Path(out)


def _write_fits(folder: Path, pred: np.ndarray, geom: DiskGeometry, provenance: dict) -> Path:
    from astropy.io import fits

    path = folder / _fits_name(int(provenance["source_index"]), geom.time)
    header = fits_header(geom, {k: v for k, v in provenance.items() if k != "config"})
    with atomic_path(path) as tmp:
        fits.PrimaryHDU(pred.astype(np.float32), header=header).writeto(tmp, overwrite=True)
    return path
