"""Checkpoints of the pix2pix runs: the file format, safe loading, atomic saving and pruning.

A checkpoint is a plain ``dict`` of tensors and Python values written by ``torch.save`` to a
temporary name and then renamed (:func:`save_checkpoint`), and read back with
``torch.load(weights_only=True)`` (:func:`load_checkpoint`), so loading never runs pickled code.

Keys of every checkpoint (:func:`make_checkpoint`)
--------------------------------------------------
``format``
    :data:`CHECKPOINT_FORMAT`.
``config``
    The resolved :class:`~euv2mag.model.config.TrainConfig` as a dict
    (:meth:`~euv2mag.model.config.TrainConfig.to_dict`).
``seed``, ``iteration``
    The run's seed and the number of training iterations done.
``G``, ``D``
    State dicts of the generator and the discriminator (``D`` absent when ``gan_mode = "none"``).

Keys of a full training state (``last.ckpt``; what a bit-exact resume needs)
-----------------------------------------------------------------------------
``opt_G``, ``opt_D``
    State dicts of the two Adam optimisers (``opt_D`` absent without a discriminator).
``scalers``
    State dicts of the two fp16 gradient scalers (only with ``precision = "fp16"``).
``rng``
    Every global RNG state (:func:`capture_rng_state`): torch CPU, NumPy's legacy MT19937,
    Python's ``random`` and, when present, every CUDA device.
``best``
    The best validation so far (``metric``, ``mode``, ``iteration``, ``value``), ``{}`` before one.
``window``
    The running sums of the losses of the metrics window not yet written (see
    :mod:`euv2mag.model.train`).
``num_threads``
    ``torch.get_num_threads()`` when it was written: the split of the CPU work between the
    intra-op threads changes the rounding, so a CPU run resumes only with the same count
    (:func:`restore_training_state`; files without the key are not checked).
``world_size``
    Training processes of the run (1 for files without the key).  Saved by rank 0 from the
    plain modules (no DistributedDataParallel ``module.`` prefix), so any layout loads it; the
    thread check applies only when the layout is the same (a resume in another layout is equal
    up to float rounding, not bit-identical).

Periodic checkpoints are named ``ckpt-NNNNNNN.ckpt`` (:func:`periodic_checkpoint_name`, the
iteration with at least 7 digits); :func:`prune_checkpoints` keeps the newest of them.
"""
from __future__ import annotations

import errno
import random
import re
from pathlib import Path

import numpy as np
import torch

from .._io import atomic_path
from ..errors import UserError
from .config import ARCHITECTURE_KEYS, TrainConfig
from .pix2pix import UNetGenerator, build_generator

__all__ = [
    "CHECKPOINT_FORMAT",
    "make_checkpoint",
    "save_checkpoint",
    "load_checkpoint",
    "load_weights",
    "load_generator",
    "restore_training_state",
    "capture_rng_state",
    "restore_rng_state",
    "periodic_checkpoint_name",
    "prune_checkpoints",
]

#: Value of the ``format`` key; a file without it is not loaded.
CHECKPOINT_FORMAT = "euv2mag-pix2pix-1"
_PERIODIC_CKPT = re.compile(r"ckpt-(\d{7,})\.ckpt")


# ---------------------------------------------------------------------------- RNG states
def capture_rng_state() -> dict:
    """Every global RNG state of the process, as tensors and plain values (``weights_only``-safe).

    Returns
    -------
    dict
        ``torch`` (CPU generator state, uint8 tensor), ``numpy_keys`` (int64 tensor of the 624
        MT19937 words), ``numpy_pos``, ``numpy_has_gauss``, ``numpy_cached_gaussian``,
        ``python`` (list of the 625 ints of ``random.getstate()``) and, when CUDA is available,
        ``cuda`` (one state per device).
    """
    np_state = np.random.get_state()
    py_state = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy_keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
        "numpy_pos": int(np_state[2]),
        "numpy_has_gauss": int(np_state[3]),
        "numpy_cached_gaussian": float(np_state[4]),
        "python": [int(v) for v in py_state[1]],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    """Set every global RNG to a state from :func:`capture_rng_state`.

    Parameters
    ----------
    state : dict
        As returned by :func:`capture_rng_state`.  CUDA states are restored only when CUDA is
        available (a CPU resume of a GPU run keeps the CPU states).
    """
    torch.set_rng_state(state["torch"])
    np.random.set_state(
        ("MT19937", state["numpy_keys"].numpy().astype(np.uint32), state["numpy_pos"], state["numpy_has_gauss"],
         state["numpy_cached_gaussian"])
    )
    random.setstate((3, tuple(state["python"]), None))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ---------------------------------------------------------------------------- building and restoring
def make_checkpoint(
    cfg: TrainConfig,
    seed: int,
    iteration: int,
    generator: torch.nn.Module,
    discriminator: torch.nn.Module | None = None,
    *,
    opt_g: torch.optim.Optimizer | None = None,
    opt_d: torch.optim.Optimizer | None = None,
    scalers: list | None = None,
    best: dict | None = None,
    window: dict | None = None,
    world_size: int = 1,
) -> dict:
    """The checkpoint dict of a run's state (see the module docstring for its keys).

    Parameters
    ----------
    cfg : TrainConfig
        The run's resolved configuration.
    seed : int
        The run's seed.
    iteration : int
        Training iterations done.
    generator, discriminator : torch.nn.Module
        The networks (``discriminator`` None for the regression control).
    opt_g, opt_d : torch.optim.Optimizer, optional
        The optimisers.  Given ``opt_g``, the checkpoint is a full training state: it also holds
        the optimisers, the scalers, every RNG state (captured now), ``best`` and ``window``.
    scalers : list of torch.amp.GradScaler, optional
        The fp16 gradient scalers (D's, G's).
    best : dict, optional
        The best validation so far (stored as ``{}`` when None).
    window : dict, optional
        Running loss sums of the unwritten metrics window (stored as a copy).
    world_size : int
        Training processes of the run (full training states only).

    Returns
    -------
    dict
        Ready for :func:`save_checkpoint`.
    """
    out = {
        "format": CHECKPOINT_FORMAT,
        "config": cfg.to_dict(),
        "seed": int(seed),
        "iteration": int(iteration),
        "G": generator.state_dict(),
    }
    if discriminator is not None:
        out["D"] = discriminator.state_dict()
    if opt_g is not None:
        out["opt_G"] = opt_g.state_dict()
        if discriminator is not None:
            out["opt_D"] = opt_d.state_dict()
        if scalers is not None:
            out["scalers"] = [s.state_dict() for s in scalers]
        out["rng"] = capture_rng_state()
        out["best"] = best or {}
        out["window"] = dict(window or {})
        out["num_threads"] = torch.get_num_threads()
        out["world_size"] = int(world_size)
    return out


def load_weights(module: torch.nn.Module, state: dict, path: str | Path) -> None:
    """Load a state dict into ``module``; a mismatch is a one-line :class:`UserError` naming ``path``.

    Parameters
    ----------
    module : torch.nn.Module
        The network to fill.
    state : dict
        Its state dict from a checkpoint.
    path : path-like
        The checkpoint file (for the message only).
    """
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        raise UserError(f"checkpoint weights do not fit the network ({str(exc).splitlines()[0][:200]})", path=path) from None


def restore_training_state(
    ckpt: dict,
    path: str | Path,
    generator: torch.nn.Module,
    discriminator: torch.nn.Module | None,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer | None,
    scalers: list | None = None,
    *,
    world_size: int = 1,
) -> None:
    """Put a full training state (``last.ckpt``) back into networks, optimisers, scalers and RNGs.

    Parameters
    ----------
    ckpt : dict
        A full checkpoint from :func:`load_checkpoint`.
    path : path-like
        Its file (for messages).
    generator, discriminator, opt_g, opt_d, scalers :
        The run's networks, optimisers and fp16 scalers, built from the same configuration
        (``discriminator``/``opt_d`` None for the regression control; ``scalers`` None unless fp16).
    world_size : int
        Training processes of the resuming job.

    Raises
    ------
    UserError
        The networks are on the CPU, the job has as many processes as the run that wrote the
        checkpoint, and this process has another number of intra-op threads
        (``torch.get_num_threads()``) than that run had.
    """
    saved_threads = ckpt.get("num_threads")
    on_cpu = next(generator.parameters()).device.type == "cpu"
    same_layout = int(ckpt.get("world_size", 1)) == int(world_size)
    if on_cpu and same_layout and saved_threads is not None and int(saved_threads) != torch.get_num_threads():
        raise UserError(
            f"cannot resume bit-identically: the run used {int(saved_threads)} CPU threads, this process has "
            f"{torch.get_num_threads()}; set OMP_NUM_THREADS={int(saved_threads)} (or torch.set_num_threads)",
            path=path,
        )
    load_weights(generator, ckpt["G"], path)
    opt_g.load_state_dict(ckpt["opt_G"])
    if discriminator is not None:
        load_weights(discriminator, ckpt["D"], path)
        opt_d.load_state_dict(ckpt["opt_D"])
    if scalers is not None and "scalers" in ckpt:
        for scaler, state in zip(scalers, ckpt["scalers"]):
            scaler.load_state_dict(state)
    restore_rng_state(ckpt["rng"])


# ---------------------------------------------------------------------------- files
def save_checkpoint(path: str | Path, payload: dict) -> Path:
    """Write ``payload`` with ``torch.save`` atomically (temporary name in the folder, then rename).

    Parameters
    ----------
    path : path-like
        Destination file; an existing file is replaced only once the new one is complete.
    payload : dict
        From :func:`make_checkpoint`.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    OSError
        ``errno.ENOSPC`` naming ``path`` when the write fails for lack of space (torch reports
        that as ``RuntimeError: ... file write failed``); the temporary file is removed and an
        existing ``path`` is left as it was.
    """
    with atomic_path(path) as tmp:
        try:
            torch.save(payload, tmp)
        except RuntimeError as exc:
            text = " ".join(str(exc).split())
            if "No space left" in text or "file write failed" in text:
                # torch's C++ writer reports a full disk as a RuntimeError; make it the OSError
                # (ENOSPC, naming the checkpoint) that euv2mag.cli.main reports as one line
                raise OSError(errno.ENOSPC, f"No space left on device ({text[-120:]})", str(path)) from exc
            raise
    return Path(path)


def load_checkpoint(path: str | Path, cfg: TrainConfig | None = None, *, map_location="cpu") -> dict:
    """Load a checkpoint safely (``weights_only=True``) and check its format and architecture.

    Parameters
    ----------
    path : path-like
        The ``.ckpt`` file.
    cfg : TrainConfig, optional
        When given, the checkpoint's architecture fields (:data:`~euv2mag.model.config.ARCHITECTURE_KEYS`)
        must equal this configuration's.
    map_location : str or torch.device
        Where the tensors are loaded (default the CPU).

    Returns
    -------
    dict
        The checkpoint's keys (module docstring) plus ``config_obj``, its configuration as a
        :class:`~euv2mag.model.config.TrainConfig`.

    Raises
    ------
    UserError
        Missing or unreadable file, not an euv2mag checkpoint, or another architecture.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError("no such checkpoint", path=path)
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # truncated file, pickle with code, ...
        raise UserError(f"cannot read the checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})", path=path) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT or "config" not in ckpt:
        raise UserError(f"is not an euv2mag checkpoint (format {CHECKPOINT_FORMAT})", path=path)
    saved = TrainConfig.from_dict(ckpt["config"], source=str(path))
    if cfg is not None:
        want = {k: getattr(cfg, k) for k in ARCHITECTURE_KEYS}
        have = {k: getattr(saved, k) for k in ARCHITECTURE_KEYS}
        diff = [f"{k} {have[k]} vs {want[k]}" for k in ARCHITECTURE_KEYS if have[k] != want[k]]
        if diff:
            raise UserError(f"checkpoint is for another architecture ({', '.join(diff)})", path=path)
    ckpt["config_obj"] = saved
    return ckpt


def load_generator(
    path: str | Path, cfg: TrainConfig | None = None, *, map_location="cpu"
) -> tuple[UNetGenerator, dict]:
    """The generator of a checkpoint with its weights, and the checkpoint dict.

    Parameters
    ----------
    path : path-like
        The ``.ckpt`` file.
    cfg : TrainConfig, optional
        Expected configuration; its architecture must match (see :func:`load_checkpoint`).
    map_location : str or torch.device
        Where the checkpoint's tensors are loaded; the generator is built on the CPU and
        left there (move it with ``.to(device)``).

    Returns
    -------
    generator : UNetGenerator
        In training mode, as built; choose the inference mode with
        :func:`~euv2mag.model.pix2pix.set_inference_mode`.
    ckpt : dict
        As returned by :func:`load_checkpoint`.
    """
    ckpt = load_checkpoint(path, cfg, map_location=map_location)
    g = build_generator(ckpt["config_obj"])
    load_weights(g, ckpt["G"], path)
    return g, ckpt


def periodic_checkpoint_name(iteration: int) -> str:
    """File name of the periodic checkpoint after ``iteration`` iterations (``ckpt-0000100.ckpt``)."""
    return f"ckpt-{int(iteration):07d}.ckpt"


def prune_checkpoints(run_dir: str | Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest periodic checkpoints of a run folder.

    Parameters
    ----------
    run_dir : path-like
        The run folder.
    keep : int
        How many periodic checkpoints to keep, newest by iteration; 0 deletes nothing.

    Returns
    -------
    list of Path
        The deleted files, oldest first.

    Notes
    -----
    Only files named exactly like periodic checkpoints (``ckpt-`` + at least 7 digits +
    ``.ckpt``) are touched, ordered by their iteration number, not by name; ``last.ckpt`` and
    ``best.ckpt`` are never deleted.
    """
    if keep <= 0:
        return []
    named = ((_PERIODIC_CKPT.fullmatch(p.name), p) for p in Path(run_dir).glob("ckpt-*.ckpt"))
    periodic = [p for _, p in sorted((int(m.group(1)), p) for m, p in named if m)]
    doomed = periodic[:-keep]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed
