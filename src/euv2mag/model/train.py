"""Training loop of the pix2pix models: seeds, checkpoints, bit-exact resume, validation, best checkpoint.

A hand-written loop (not Lightning): it must resume bit-exactly (every RNG state, the optimiser
states and the per-iteration jitter draws), step two optimisers by hand in KPL19's order, and
run on a bare CPU install without a heavy dependency.

One iteration takes ``batch`` samples ``s = it * batch + j`` (``j = 0 .. batch-1``; KPL19: batch
1, ``s = it``): frame ``order[s % n]`` of epoch ``s // n`` (a permutation per epoch drawn from
``(seed, epoch)``), with the jitter draw keyed by ``s``; at ``batch > 1`` the dropout masks are
keyed by ``s`` too (:func:`sample_seed`), at batch 1 they come from the run's torch RNG stream
(restored on resume), as in runs made before batches existed, which therefore reproduce.  Each frame goes through the networks alone (BatchNorm statistics of that
frame, as at batch 1) and the losses are averaged over the batch; with several processes
(:mod:`euv2mag.model.distributed`) each takes ``batch / W`` consecutive samples and DDP averages
the gradients, so the layout changes only float rounding.  Then

1. (``gan_mode != "none"``) a discriminator step on ``BCE(D(x, y), 1) + BCE(D(x, G(x)), 0)``
   (KPL19 minimises the sum; ``loss_d`` logs half of it, as KPL19 prints);
2. a generator step on ``lambda_gan BCE(D(x, G(x)), 1) + lambda_l1 |G(x) - y| + lambda_cc CC
   + lambda_abs_cc CC(|G(x)|, |y|)``.

By default one generator forward serves both steps (the reference PyTorch pix2pix);
``two_forward`` runs KPL19's separate forward for each step (the D step's one without gradients).

Files of a run folder ``runs/NAME/seed-K/``
-------------------------------------------
``config.toml``
    The resolved :class:`~euv2mag.model.config.TrainConfig`.
``run.json``
    Seed, store, split file, the training/validation frame indices and where the validation
    frames came from (``val_source``: "val" = the split's validation set; "train" = a fixed
    evenly spaced subset of the training frames, used when the split has no validation set).
``metrics.csv``
    One row every ``log_every`` iterations and at every validation: the losses of the window and,
    on validation rows, the validation errors in physical units (columns in
    :mod:`euv2mag.model.metrics`).
``ckpt-NNNNNNN.ckpt``
    Periodic checkpoints (generator + discriminator weights, config, iteration); the newest
    ``config.keep_ckpts`` are kept (0: all).
``last.ckpt``
    The full training state (weights, both optimisers, every RNG state, best so far).
``best.ckpt``, ``best.json``
    Weights at the best validation value of ``config.best_metric`` and which metric, iteration
    and value picked them (highest CC, lowest error).

The checkpoint format, its atomic writing and safe loading are in :mod:`euv2mag.model.checkpoint`.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import random
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .._io import atomic_write_json, ensure_dir
from .._lock import writer_lock
from ..errors import UserError
from ._fpenv import flush_denormal_everywhere
from .checkpoint import (
    load_checkpoint,
    make_checkpoint,
    periodic_checkpoint_name,
    prune_checkpoints,
    restore_training_state,
    save_checkpoint,
)
from .config import TrainConfig, lr_factor
from .losses import cc_loss, gan_loss, l1_loss
from .metrics import LOSS_COLUMNS, MAXIMISE, format_value, read_metrics, validation_metrics, write_metrics
from .pix2pix import build_discriminator, build_generator, set_inference_mode

__all__ = [
    "train_runs",
    "train_one_seed",
    "write_runs_summary",
    "train_seed",
    "RunResult",
    "Pix2PixTrainer",
    "resolve_device",
    "select_val_frames",
    "check_run_folder",
    "check_precision",
    "sample_seed",
]

#: Options that may differ when a run is resumed (they change no weight or draw already made).
_RESUMABLE_CHANGES = ("iters", "keep_ckpts")


# ---------------------------------------------------------------------------- building blocks
def resolve_device(name: str = "auto") -> torch.device:
    """The torch device of a device name.

    Parameters
    ----------
    name : {"auto", "cpu", "cuda"}
        ``auto``: CUDA when a GPU is present, else the CPU.

    Returns
    -------
    torch.device

    Raises
    ------
    UserError
        ``cuda`` without a GPU, or another name.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("device 'cuda' was asked for but no CUDA GPU is available")
    if name not in ("cpu", "cuda"):
        raise UserError(f"device must be cpu, cuda or auto, got {name!r}")
    return torch.device(name)


def select_val_frames(train: Sequence[int], val: Sequence[int], n: int) -> tuple[list[int], str]:
    """Validation frames: up to ``n`` evenly spaced frames of ``val``, or of ``train`` if ``val`` is empty.

    Parameters
    ----------
    train, val : sequence of int
        Store indices of the training and validation frames.
    n : int
        Most frames to keep.

    Returns
    -------
    frames : list of int
        The chosen store indices, in the order given.
    source : {"val", "train"}
        Which set they came from (recorded as ``val_source`` in ``run.json``).
    """
    source, pool = ("val", list(val)) if len(val) else ("train", list(train))
    if len(pool) > n:
        pool = [pool[int(i)] for i in np.linspace(0, len(pool) - 1, n).round().astype(int)]
    return pool, source


# ---------------------------------------------------------------------------- validation
def _fork_rng(device: torch.device, seed: int):
    """Run a block with its own seeded torch RNG, leaving the training RNG untouched."""
    stack = contextlib.ExitStack()
    devices = [device.index or 0] if device.type == "cuda" else []
    stack.enter_context(torch.random.fork_rng(devices=devices))
    torch.manual_seed(seed)
    return stack


# ---------------------------------------------------------------------------- the run
@dataclasses.dataclass
class RunResult:
    """Outcome of one seed's run.

    Attributes
    ----------
    run_dir : Path
        The seed's run folder.
    seed : int
        The seed.
    iteration : int
        Training iterations done when the call returned.
    best : dict or None
        The best validation (``metric``, ``mode``, ``iteration``, ``value``), None before one.
    resumed_from : int or None
        Iteration the run was resumed from, None for a fresh run.
    """

    run_dir: Path
    seed: int
    iteration: int
    best: dict | None
    resumed_from: int | None


def check_run_folder(run_dir: str | Path, resume: bool, cfg: TrainConfig | None = None) -> None:
    """Refuse to start a new run over an existing one, or to resume one with another configuration.

    Parameters
    ----------
    run_dir : path-like
        A seed's run folder.
    resume : bool
        Whether the run is to be resumed (then an existing run is expected, not refused).
    cfg : TrainConfig, optional
        The configuration (resolved to the store's size) to resume with: it must equal the run's
        ``config.toml`` but for ``iters`` and ``keep_ckpts``.

    Raises
    ------
    UserError
        ``run_dir`` holds ``last.ckpt`` or ``metrics.csv`` and ``resume`` is False; or ``resume``
        with a ``cfg`` that differs from the run's (the fields named).
    """
    run_dir = Path(run_dir)
    if not resume and ((run_dir / "last.ckpt").exists() or (run_dir / "metrics.csv").exists()):
        raise UserError("holds a training run already; continue it with resume=True or choose another out folder",
                        path=run_dir)
    if resume and cfg is not None and (run_dir / "config.toml").exists():
        old = TrainConfig.read(run_dir / "config.toml")
        changed = [f.name for f in dataclasses.fields(cfg)
                   if getattr(old, f.name) != getattr(cfg, f.name) and f.name not in _RESUMABLE_CHANGES]
        if changed:
            raise UserError(f"cannot resume: the configuration differs from the run's in {', '.join(changed)}", path=run_dir)


def check_precision(cfg: TrainConfig, device_type: str) -> None:
    """Refuse ``precision = "fp16"`` (its gradient scaler needs CUDA) on a ``device_type`` other than "cuda"."""
    if cfg.precision == "fp16" and device_type != "cuda":
        raise UserError("precision fp16 needs a CUDA GPU; use precision bf16 or fp32 on the CPU")


def _autocast(device: torch.device, precision: str):
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def sample_seed(seed: int, sample: int) -> int:
    """Seed of the dropout draws of training sample ``sample`` (``it * batch + j``) of run ``seed``.

    Keyed by the sample, not drawn from one running stream, so that a frame gets the same dropout
    masks whichever process trains it.  Used at ``batch > 1``; batch-1 runs keep the global torch
    RNG stream they always drew from (their results stay reproducible).
    """
    return int(np.random.SeedSequence([int(seed), 2, int(sample)]).generate_state(1, np.uint64)[0] >> np.uint64(1))


class Pix2PixTrainer:
    """Networks, optimisers and one training iteration (a D step then a G step on a batch).

    Parameters
    ----------
    cfg : TrainConfig
        A resolved configuration (``size`` set).
    device : torch.device
        Where the networks live.  Seed torch before constructing (the weights' initialisation).
    dist : DistContext, optional
        This process's place in a multi-process job (:mod:`euv2mag.model.distributed`); the
        networks are then wrapped in DistributedDataParallel for the training step, while
        :attr:`G` and :attr:`D` stay the plain modules (saved without a ``module.`` prefix).

    Notes
    -----
    On the CPU the first :meth:`step` (and any step after ``torch.set_num_threads`` changed the
    thread count) sets ``cfg.flush_denormal`` on every intra-op thread and checks it
    (:func:`~euv2mag.model._fpenv.flush_denormal_everywhere`); later steps set it on the calling
    thread only.  Whether a worker flushes then no longer depends on when the pool was started
    (before loading a checkpoint in a resumed process, inside the first step in a fresh one).
    """

    def __init__(self, cfg: TrainConfig, device: torch.device, dist=None):
        from .distributed import DistContext

        self.cfg, self.device = cfg, device
        self.dist = dist if dist is not None else DistContext(device=device)
        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.G = build_generator(cfg).to(device, memory_format=self.memory_format)
        self.D = (
            build_discriminator(cfg).to(device, memory_format=self.memory_format) if cfg.gan_mode != "none" else None
        )
        # the modules the training step calls: DDP wrappers when distributed (gradients averaged)
        self.G_train = self.dist.wrap(self.G)
        self.D_train = self.dist.wrap(self.D) if self.D is not None else None
        adam = dict(lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.adam_eps)
        if cfg.fused_adam and device.type in ("cpu", "cuda"):
            adam["fused"] = True
        self.opt_G = torch.optim.Adam(self.G.parameters(), **adam)
        self.opt_D = torch.optim.Adam(self.D.parameters(), **adam) if self.D is not None else None
        self.scalers = [torch.amp.GradScaler("cuda"), torch.amp.GradScaler("cuda")] if cfg.precision == "fp16" else None
        self._fp_threads = 0  # intra-op threads when denormal flushing was last set on all of them
        self.G.train()
        if self.D is not None:
            self.D.train()

    def _backward_step(self, loss, opt, which: int) -> None:
        if self.scalers:
            self.scalers[which].scale(loss).backward()
            self.scalers[which].step(opt)
            self.scalers[which].update()
        else:
            loss.backward()
            opt.step()

    def step(self, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None, *,
             seeds: Sequence[int] | None = None) -> dict:
        """One iteration on this process's share of a batch; returns the batch's mean losses as floats.

        Parameters
        ----------
        x, y : torch.Tensor
            Scaled inputs and targets, (b, C, H, W) on the device (b: this process's frames).
        mask : torch.Tensor, optional
            (b, 1, H, W) loss mask (``loss_mask_disk``).
        seeds : sequence of int, optional
            Per frame, the seed of its dropout draws (:func:`sample_seed`); None draws them from
            the global torch RNG.

        Notes
        -----
        Each frame goes through the networks alone, so BatchNorm normalises it by its own
        statistics (KPL19 at batch 1) for any b.  The losses of the b frames are averaged and
        back-propagated once per optimiser (D, then G); with several processes DDP averages the
        gradients over them, so the step equals one process's step on the whole batch up to float
        rounding.  The returned losses are averaged over the whole batch (all processes).
        """
        cfg, G, D = self.cfg, self.G_train, self.D_train
        if self.device.type == "cpu":
            if self._fp_threads != torch.get_num_threads():
                # on every intra-op thread, not only this one (see euv2mag.model._fpenv)
                flush_denormal_everywhere(cfg.flush_denormal)
                self._fp_threads = torch.get_num_threads()
            else:
                torch.set_flush_denormal(cfg.flush_denormal)  # this thread's flag: kept set every step
        b = x.shape[0]
        xs, ys = [x[i:i + 1] for i in range(b)], [y[i:i + 1] for i in range(b)]
        masks = [None] * b if mask is None else [mask[i:i + 1] for i in range(b)]
        fakes, fakes_d = [], []
        for i in range(b):
            if seeds is not None:
                torch.manual_seed(seeds[i])
            if cfg.two_forward and D is not None:
                with torch.no_grad(), _autocast(self.device, cfg.precision):
                    fakes_d.append(G(xs[i]))
            with _autocast(self.device, cfg.precision):
                fakes.append(G(xs[i]))
            if not cfg.two_forward:
                fakes_d.append(fakes[-1].detach())
        sums = dict.fromkeys(LOSS_COLUMNS, 0.0)
        if D is not None:
            self.D.requires_grad_(True)
            self.opt_D.zero_grad(set_to_none=True)
            total = 0.0
            for i in range(b):
                with _autocast(self.device, cfg.precision):
                    loss_fake = gan_loss(D(torch.cat((xs[i], fakes_d[i]), 1)), False, cfg.gan_mode)
                    loss_real = gan_loss(D(torch.cat((xs[i], ys[i]), 1)), True, cfg.gan_mode)
                    loss_d = loss_fake + loss_real
                total = total + loss_d / b
                sums["loss_d"] += 0.5 * loss_d.item()
            self._backward_step(total, self.opt_D, 0)
            self.D.requires_grad_(False)
        self.opt_G.zero_grad(set_to_none=True)
        total = 0.0
        for i in range(b):
            fake = fakes[i]
            with _autocast(self.device, cfg.precision):
                # the plain D: its weights are frozen here, DDP has nothing to reduce
                loss_gan = (gan_loss(self.D(torch.cat((xs[i], fake), 1)), True, cfg.gan_mode) if D is not None
                            else fake.new_zeros(()))
                fake32 = fake.float()
                loss_l1 = l1_loss(fake32, ys[i], masks[i])
                if cfg.lambda_cc:
                    loss_cc = cc_loss(fake32, ys[i], masks[i], kind=cfg.cc_kind, n_scales=cfg.cc_scales)
                else:
                    loss_cc = fake32.new_zeros(())
                if cfg.lambda_abs_cc:  # the sign-blind term: |G(x)| against |y| (odd scalings: |s(B)| = s(|B|))
                    loss_abs_cc = cc_loss(fake32.abs(), ys[i].abs(), masks[i], kind=cfg.cc_kind, n_scales=cfg.cc_scales)
                else:
                    loss_abs_cc = fake32.new_zeros(())
                loss_g = (cfg.lambda_gan * loss_gan + cfg.lambda_l1 * loss_l1 + cfg.lambda_cc * loss_cc
                          + cfg.lambda_abs_cc * loss_abs_cc)
            total = total + loss_g / b
            for key, value in (("loss_g_gan", loss_gan), ("loss_g_l1", loss_l1), ("loss_g_cc", loss_cc),
                               ("loss_g_abs_cc", loss_abs_cc), ("loss_g", loss_g)):
                sums[key] += value.item()
        self._backward_step(total, self.opt_G, 1)
        n = b
        if self.dist.distributed:
            summed = self.dist.sum(torch.tensor([sums[k] for k in LOSS_COLUMNS] + [b], dtype=torch.float64))
            sums, n = dict(zip(LOSS_COLUMNS, summed[:-1].tolist())), summed[-1].item()
        return {key: value / n for key, value in sums.items()}


def train_seed(
    store,
    train_indices: Sequence[int],
    val_indices: Sequence[int],
    cfg: TrainConfig,
    seed: int,
    run_dir: str | Path,
    *,
    resume: bool = False,
    device: str | torch.device = "cpu",
    progress: bool | None = None,
    stop_at: int | None = None,
    run_info: dict | None = None,
    dist=None,
) -> RunResult:
    """Train one seed of a configuration into ``run_dir`` (see the module docstring for its files).

    Parameters
    ----------
    store : FrameStore or path
        Dataset store with ``euv`` and ``mag``.
    train_indices, val_indices : sequence of int
        Training frames; validation frames (empty: a fixed subset of the training frames).
    cfg : TrainConfig
        Configuration; resolved here to the store's image size.
    seed : int
        Seed of the weights' initialisation, the frame order, the jitter and the dropout.
    run_dir : path-like
        Output folder of this seed.
    resume : bool
        Continue from ``run_dir/last.ckpt`` (the configuration must be the same).  Without it an
        existing run folder with a checkpoint is refused.
    device : str or torch.device
        ``cpu``, ``cuda`` or ``auto``.
    progress : bool, optional
        Show the progress bar (default: unless ``EUV2MAG_NO_PROGRESS`` is set).
    stop_at : int, optional
        Stop after this many iterations as if interrupted (tests of resume).
    run_info : dict, optional
        Extra entries for ``run.json`` (store path, split file).
    dist : DistContext, optional
        This process's place in a multi-process job (from :func:`train_runs`); ``device`` is then
        the context's device.  Every process calls this function with the same arguments; rank 0
        alone writes the run folder.

    Returns
    -------
    RunResult

    Raises
    ------
    UserError
        Bad configuration, an existing run without ``resume``, or another process training
        into ``run_dir`` (its writer lock is held for the whole run; one line naming the holder).
    """
    from ..data.store import FrameStore
    from ..data.torch_dataset import PairDataset, jitter_image, jitter_shift
    from ..progress import progress_bar

    from .distributed import DistContext, on_main

    store = store if isinstance(store, FrameStore) else FrameStore(store)
    cfg = cfg.resolved(store.size)
    device = device if isinstance(device, torch.device) else resolve_device(device)
    if dist is None:
        dist = DistContext(device=device)
    elif dist.distributed:
        device = dist.device
    if cfg.batch % dist.world_size:
        raise UserError(f"training option batch ({cfg.batch}) must be a multiple of the {dist.world_size} processes")
    check_precision(cfg, device.type)
    train_indices = [int(i) for i in train_indices]
    if not train_indices:
        raise UserError("the training set is empty", path=store.path)
    val_frames, val_source = select_val_frames(train_indices, val_indices, cfg.val_frames)
    dataset = PairDataset(
        store, train_indices, mag_scaling=cfg.mag_scaling, euv_scaling=cfg.euv_scaling, jitter_px=cfg.jitter_px,
        pad=cfg.pad, seed=seed, coord_channels=cfg.coord_channels, history_channels=cfg.history_channels,
    )
    val_set = PairDataset(store, val_frames, mag_scaling=cfg.mag_scaling, euv_scaling=cfg.euv_scaling,
                          coord_channels=cfg.coord_channels, history_channels=cfg.history_channels)

    run_dir = Path(run_dir)
    last_path = run_dir / "last.ckpt"
    check_run_folder(run_dir, resume, cfg)

    # one writer per run folder: held from here (before the checkpoint is read) to the end; a second
    # training of the same folder is refused with the holder named, and an exception releases it
    main = dist.is_main
    with on_main(dist, lambda: writer_lock(run_dir, what="run folder")):
        # ------------------------------------------------------------- state
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        random.seed(seed)
        trainer = Pix2PixTrainer(cfg, device, dist)
        G, D, opt_G, opt_D, scalers = trainer.G, trainer.D, trainer.opt_G, trainer.opt_D, trainer.scalers
        memory_format = trainer.memory_format
        start = 0
        best: dict | None = None
        window = {"n": 0, "seconds": 0.0, **{k: 0.0 for k in LOSS_COLUMNS}}
        resumed_from = None
        if resume and last_path.exists():
            ckpt = load_checkpoint(last_path, cfg, map_location=device)
            restore_training_state(ckpt, last_path, G, D, opt_G, opt_D, scalers, world_size=dist.world_size)
            start = int(ckpt["iteration"])
            best = ckpt.get("best") or None
            window = dict(ckpt["window"])
            resumed_from = start
        rows = read_metrics(run_dir / "metrics.csv", start) if resumed_from is not None and main else []

        if main:
            ensure_dir(run_dir)
            cfg.write(run_dir / "config.toml")
            atomic_write_json(
                run_dir / "run.json",
                {
                    "seed": int(seed),
                    **(run_info or {}),
                    "image_size": cfg.size,
                    "train_indices": train_indices,
                    "val_indices": val_frames,
                    "val_source": val_source,
                    "device": str(device),
                    "processes": dist.world_size,
                    "torch_version": torch.__version__,
                    "generator_parameters": sum(p.numel() for p in G.parameters()),
                    "discriminator_parameters": sum(p.numel() for p in D.parameters()) if D is not None else 0,
                },
            )
        geoms = [store.geometry(i) for i in train_indices]
        full_disk = [g.disk_mask(1.0) for g in geoms]
        val_geoms = [store.geometry(i) for i in val_frames]
        val_obs = [store.read("mag", i) for i in val_frames] if main else []
        n = len(train_indices)
        per_process = cfg.batch // dist.world_size  # this process's frames of each step
        first = dist.rank * per_process  # ... from this position of the step's global batch

        def payload(iteration: int, full: bool) -> dict:
            if not full:
                return make_checkpoint(cfg, seed, iteration, G, D)
            return make_checkpoint(cfg, seed, iteration, G, D, opt_g=opt_G, opt_d=opt_D, scalers=scalers, best=best,
                                   window=window, world_size=dist.world_size)

        def validate(iteration: int) -> dict:
            preds = []
            with _fork_rng(device, seed * 1_000_003 + 17), torch.no_grad():
                set_inference_mode(G, cfg.inference_mode)
                for k in range(len(val_set)):
                    x, _ = val_set[k]
                    x = x[None].to(device).contiguous(memory_format=memory_format)
                    with _autocast(device, cfg.precision):
                        y = G(x)
                    preds.append(cfg.mag_scaling.to_gauss(y.float().cpu().numpy()[0, 0]))
                G.train()
            return validation_metrics(preds, val_obs, val_geoms)

        G.train()
        if D is not None:
            D.train()
        end = cfg.iters if stop_at is None else min(cfg.iters, int(stop_at))
        t_window = time.perf_counter()
        orders: dict[int, np.ndarray] = {}
        with progress_bar(f"train seed {seed}", cfg.iters, enabled=progress if main else False) as advance:
            advance(start)
            for it in range(start, end):
                if cfg.lr_schedule != "constant":
                    lr = cfg.lr * lr_factor(cfg.lr_schedule, it, cfg.iters)
                    for opt in (opt_G, opt_D):
                        for group in (opt.param_groups if opt is not None else ()):
                            group["lr"] = lr
                # sample s = it * batch + j of the run: frame order[s % n] of epoch s // n (one
                # permutation per epoch), jitter and dropout keyed by s; this process takes the
                # positions j = first .. first + per_process - 1 of the step
                xs, ys, ms, seeds = [], [], [], []
                for s in range(it * cfg.batch + first, it * cfg.batch + first + per_process):
                    epoch, pos = divmod(s, n)
                    if epoch not in orders:
                        orders.clear()
                        orders[epoch] = np.random.default_rng([int(seed), 1, epoch]).permutation(n)
                    k = int(orders[epoch][pos])
                    x, y = dataset[(k, s)]
                    xs.append(x)
                    ys.append(y)
                    seeds.append(sample_seed(seed, s))
                    if cfg.loss_mask_disk:
                        dx, dy = jitter_shift(seed, s, k, cfg.jitter_px)
                        ms.append(torch.from_numpy(np.ascontiguousarray(
                            jitter_image(full_disk[k], dx, dy, cfg.jitter_px, pad=False)))[None])
                x = torch.stack(xs).to(device).contiguous(memory_format=memory_format)
                y = torch.stack(ys).to(device).contiguous(memory_format=memory_format)
                mask = torch.stack(ms).to(device) if ms else None
                # batch 1 keeps its single dropout stream (earlier runs reproduce); larger batches key it
                losses = trainer.step(x, y, mask, seeds=seeds if cfg.batch > 1 else None)
                for key in LOSS_COLUMNS:
                    window[key] += losses[key]
                window["n"] += 1
                done = it + 1
                advance(1)
                is_log = done % cfg.log_every == 0 or done == cfg.iters
                is_val = done % cfg.val_every == 0 or done == cfg.iters
                is_ckpt = done % cfg.ckpt_every == 0 or done == cfg.iters
                if is_log or is_val:
                    now = time.perf_counter()
                    window["seconds"] += now - t_window
                    t_window = now
                    row = {"iteration": done, "seconds": format_value(window["seconds"])}
                    for key in LOSS_COLUMNS:
                        row[key] = format_value(window[key] / max(window["n"], 1))
                    window = {"n": 0, "seconds": 0.0, **{k2: 0.0 for k2 in LOSS_COLUMNS}}
                    if is_val and main:
                        metrics = validate(done)
                        row.update({key: format_value(v) for key, v in metrics.items()})
                        value = metrics[cfg.best_metric]
                        better = (
                            math.isfinite(value)
                            and (not best or (value > best["value"] if MAXIMISE[cfg.best_metric] else value < best["value"]))
                        )
                        if better:
                            best = {"metric": cfg.best_metric, "mode": "max" if MAXIMISE[cfg.best_metric] else "min",
                                    "iteration": done, "value": float(value)}
                            save_checkpoint(run_dir / "best.ckpt", payload(done, full=False))
                            atomic_write_json(run_dir / "best.json", {**best, "metrics": metrics, "val_source": val_source})
                        t_window = time.perf_counter()
                    rows.append(row)
                if is_ckpt and main:
                    save_checkpoint(run_dir / periodic_checkpoint_name(done), payload(done, full=False))
                    save_checkpoint(last_path, payload(done, full=True))
                    write_metrics(run_dir / "metrics.csv", rows)
                    prune_checkpoints(run_dir, cfg.keep_ckpts)
        if end == cfg.iters and main:
            write_metrics(run_dir / "metrics.csv", rows)
        dist.barrier()  # every process returns once rank 0 has written the run's last files
        return RunResult(run_dir=run_dir, seed=int(seed), iteration=end, best=best, resumed_from=resumed_from)


def train_runs(
    store_path: str | Path,
    split_path: str | Path,
    out: str | Path,
    seeds: Sequence[int],
    cfg: TrainConfig,
    *,
    resume: bool = False,
    device: str = "auto",
    progress: bool | None = None,
    devices: int = 1,
    num_nodes: int = 1,
) -> list[RunResult]:
    """Train one run per seed into ``out/seed-K`` on the split's training frames (CLI ``euv2mag train``).

    Everything is checked (store, split, configuration, seeds, existing runs) before any file is
    written; the runs are then trained one after the other and ``out/runs.json`` lists them.

    Parameters
    ----------
    store_path : path-like
        Dataset store with ``euv`` (DN/s) and ``mag`` (G).
    split_path : path-like
        Split JSON (:mod:`euv2mag.data.splits`); its training frames are trained on, its
        validation frames (or, without any, a fixed subset of the training frames) validate.
    out : path-like
        Output folder ``runs/NAME``; seed ``K`` goes to ``out/seed-K``.
    seeds : sequence of int
        One run per seed (integers >= 0), without repeats.
    cfg : TrainConfig
        Configuration, resolved here to the store's image size.
    resume : bool
        Continue interrupted runs from their ``last.ckpt`` (otherwise an existing run is refused).
    device : {"auto", "cpu", "cuda"}
        Where to train.
    progress : bool, optional
        Show progress bars (default: unless ``EUV2MAG_NO_PROGRESS`` is set).
    devices : int
        Training processes per node (GPUs, or CPU processes with gloo); ``cfg.batch`` must be a
        multiple of ``devices * num_nodes``.  Without torchrun, ``devices > 1`` spawns the
        processes here (:func:`euv2mag.model.distributed.spawn`); under torchrun each process
        calls this function and joins the group torchrun set up.
    num_nodes : int
        Nodes (more than one needs torchrun).

    Returns
    -------
    list of RunResult
        One per seed, in the order given (as rank 0 saw them).

    Raises
    ------
    UserError
        Bad store, split (made for other frames included), configuration, a negative or
        repeated seed, ``out`` being a file, or an existing run without ``resume``; a device layout
        :func:`~euv2mag.model.distributed.plan_launch` refuses or a batch that is not a multiple of
        the processes; or another process is training into ``out`` (one line naming it).
    """
    from .distributed import plan_launch, process_group, spawn

    out = Path(out)
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise UserError("give at least one seed", parameter="seeds")
    if min(seeds) < 0:
        raise UserError(f"must be integers >= 0, got {seeds}", parameter="seeds")
    if len(set(seeds)) != len(seeds):
        raise UserError(f"seeds repeat: {seeds}")
    train_idx, val_idx, cfg, info = _checked_training(store_path, split_path, out, seeds, cfg, resume)
    plan = plan_launch(devices, num_nodes, device)
    if cfg.batch % plan.world_size:
        raise UserError(f"must be a multiple of the {plan.world_size} training processes, got {cfg.batch}",
                        parameter="batch")
    check_precision(cfg, plan.device_type)
    # everything a process would refuse before training is checked above, here, before any process
    # is spawned: a refusal inside them costs their start-up and comes back through spawn()
    args = (store_path, train_idx, val_idx, cfg, seeds, out, info, resume, device, progress)
    if plan.kind == "spawn":
        return spawn(plan, _train_all, *args)
    with process_group(plan) as dist:
        return _train_all(*args, dist=dist)


def _checked_training(store_path, split_path, out: Path, seeds: list[int], cfg: TrainConfig, resume: bool):
    """The checks of :func:`train_runs` that need no process group (no file written).

    Returns the training and validation indices, the configuration resolved to the store's
    size and the ``run.json`` entries naming the store and split.
    """
    from ..data.splits import load_split
    from ..data.store import FrameStore
    from ..data.torch_dataset import PairDataset

    if out.exists() and not out.is_dir():
        raise UserError("exists and is not a folder", path=out, parameter="out")
    store = FrameStore(store_path)
    split = load_split(split_path, store=store)
    train_idx, val_idx = split.indices("train"), split.indices("val")
    if not train_idx:
        raise UserError("the split's training set is empty", path=split_path)
    cfg = cfg.resolved(store.size)
    for seed in seeds:
        check_run_folder(out / f"seed-{seed}", resume, cfg)
    # the dataset's own checks (both arrays present, frames in the store; it reads no image)
    PairDataset(store, train_idx, mag_scaling=cfg.mag_scaling, euv_scaling=cfg.euv_scaling, jitter_px=cfg.jitter_px,
                pad=cfg.pad, coord_channels=cfg.coord_channels, cache=False)
    info = {"store": str(Path(store_path).resolve()), "split": str(Path(split_path).resolve()), "split_scheme": split.scheme}
    return train_idx, val_idx, cfg, info


def train_one_seed(
    store_path: str | Path,
    split_path: str | Path,
    out: str | Path,
    seed: int,
    cfg: TrainConfig,
    *,
    resume: bool = False,
    device: str = "auto",
    progress: bool | None = None,
) -> RunResult:
    """Train one seed into ``out/seed-K`` with the checks of :func:`train_runs`, in this process.

    For a caller that trains several seeds of one ``out`` folder at once in separate processes
    (the demo, :func:`euv2mag.demo.run_demo`): unlike :func:`train_runs` it does not take the
    writer lock of ``out`` (the caller holds it; the seed folder's own lock is taken as always)
    and does not write ``out/runs.json`` (the caller does, with :func:`write_runs_summary`, once
    every seed has returned).  The arguments are those of :func:`train_runs` for one seed.

    Raises
    ------
    UserError
        As :func:`train_runs`.
    """
    out, seed = Path(out), int(seed)
    if seed < 0:
        raise UserError(f"must be an integer >= 0, got {seed}", parameter="seed")
    train_idx, val_idx, cfg, info = _checked_training(store_path, split_path, out, [seed], cfg, resume)
    return train_seed(store_path, train_idx, val_idx, cfg, seed, out / f"seed-{seed}", resume=resume, device=device,
                      progress=progress, run_info=info)


def write_runs_summary(out: str | Path, results: Sequence[RunResult], cfg: TrainConfig) -> Path:
    """Write ``out/runs.json``: each seed's run folder, iterations and best validation, and the configuration.

    Returns the path written (atomically).
    """
    summary = {
        "runs": [{"seed": r.seed, "run_dir": str(r.run_dir), "iteration": r.iteration, "best": r.best} for r in results],
        "config": cfg.to_dict(),
    }
    path = Path(out) / "runs.json"
    atomic_write_json(path, summary)
    return path


def _train_all(store_path, train_idx, val_idx, cfg, seeds, out, info, resume, device, progress, *, dist) -> list[RunResult]:
    """The seeds of :func:`train_runs` one after the other, in this process of the job ``dist``."""
    from .distributed import on_main

    results = []
    if dist.distributed:
        device = dist.device
    # one writer per --out folder (its runs.json and every seed folder): a second ``train`` into the
    # same folder is refused, even with other seeds; each seed folder is locked again by train_seed
    with on_main(dist, lambda: writer_lock(out, what="run folder")):
        for seed in seeds:
            check_run_folder(out / f"seed-{seed}", resume, cfg)  # again, now that no other run can start one
            results.append(
                train_seed(store_path, train_idx, val_idx, cfg, seed, out / f"seed-{seed}", resume=resume,
                           device=device, progress=progress, run_info=info, dist=dist)
            )
        if dist.is_main:
            write_runs_summary(out, results, cfg)
    return results
