"""Training loop of the pix2pix models: seeds, checkpoints, bit-exact resume, validation, best checkpoint.

A hand-written loop (not Lightning): it must resume bit-exactly (every RNG state, the optimiser
states and the per-iteration jitter draws), step two optimisers by hand in KPL19's order, and
run on a bare CPU install without a heavy dependency.

One iteration (batch 1) takes frame ``order[it % n]`` (a permutation per epoch drawn from
``(seed, epoch)``) with the jitter draw keyed by the iteration, then
1. (``gan_mode != "none"``) a discriminator step on ``BCE(D(x, y), 1) + BCE(D(x, G(x)), 0)``
   (KPL19 minimises the sum; ``loss_d`` logs half of it, as KPL19 prints);
2. a generator step on ``lambda_gan BCE(D(x, G(x)), 1) + lambda_l1 |G(x) - y| + lambda_cc CC``.
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
    One row every ``log_every`` iterations and at every validation.  Columns:
    ``iteration`` (iterations done), ``loss_d`` (mean of (BCE_real + BCE_fake) / 2 over the
    window), ``loss_g_gan``, ``loss_g_l1`` (mean |G(x) - y| on the [-1, 1] scale, unweighted),
    ``loss_g_cc`` (1 - CC, unweighted), ``loss_g`` (weighted total), ``seconds`` (wall time of the
    window), then, on validation rows, ``val_l1_g`` (mean |pred - obs| in G on the disk r < R),
    ``val_cc`` (pixel Pearson CC on the disk, mean over frames), ``val_tumf_rel_err`` (mean over
    frames of |TUMF_pred - TUMF_obs| / TUMF_obs), ``val_nmf_rel_err`` (mean of |NMF_pred - NMF_obs|
    / |NMF_obs|) and ``val_nmf_err_frac_tumf`` (mean of |NMF_pred - NMF_obs| / TUMF_obs, stable
    when NMF_obs is near 0).  TUMF and NMF use :func:`euv2mag.audit.fulldisk.flux_mx` (r < 0.95 R,
    |B| > 10 G, foreshortening-corrected pixel areas).  "obs" is the stored magnetogram in G,
    unclipped, so the validation errors include the saturation loss of the scaling.
``ckpt-NNNNNNN.ckpt``
    Periodic checkpoints (generator + discriminator weights, config, iteration); the newest
    ``config.keep_ckpts`` are kept (0: all).
``last.ckpt``
    The full training state (weights, both optimisers, every RNG state, best so far).
``best.ckpt``, ``best.json``
    Weights at the best validation value of ``config.best_metric`` and which metric, iteration
    and value picked them (highest CC, lowest error).

Checkpoints are dicts of tensors and plain values written with ``torch.save`` to a temporary
name then renamed; they load with ``torch.load(weights_only=True)`` and a check that the
architecture matches.
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import math
import random
import re
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .._io import atomic_path, atomic_write_json, ensure_dir
from ..errors import UserError
from .config import ARCHITECTURE_KEYS, TrainConfig
from .losses import cc_loss, gan_loss, l1_loss
from .pix2pix import PatchDiscriminator, UNetGenerator, set_inference_mode

__all__ = [
    "train_runs",
    "train_seed",
    "Pix2PixTrainer",
    "build_generator",
    "build_discriminator",
    "load_checkpoint",
    "save_checkpoint",
    "resolve_device",
    "select_val_frames",
    "CHECKPOINT_FORMAT",
    "METRIC_COLUMNS",
]

CHECKPOINT_FORMAT = "euv2mag-pix2pix-1"
LOSS_COLUMNS = ["loss_d", "loss_g_gan", "loss_g_l1", "loss_g_cc", "loss_g"]
VAL_COLUMNS = ["val_l1_g", "val_cc", "val_tumf_rel_err", "val_nmf_rel_err", "val_nmf_err_frac_tumf"]
METRIC_COLUMNS = ["iteration", *LOSS_COLUMNS, "seconds", *VAL_COLUMNS]
#: Options that may differ when a run is resumed (they change no weight or draw already made).
_RESUMABLE_CHANGES = ("iters", "keep_ckpts")
_PERIODIC_CKPT = re.compile(r"ckpt-(\d{7,})\.ckpt")
_MAXIMISE = {"val_cc": True, "val_l1_g": False, "val_tumf_rel_err": False}


# ---------------------------------------------------------------------------- building blocks
def resolve_device(name: str = "auto") -> torch.device:
    """``cpu``, ``cuda`` or ``auto`` (CUDA when present, else CPU)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for but no CUDA GPU is available")
    if name not in ("cpu", "cuda"):
        raise UserError(f"device must be cpu, cuda or auto, got {name!r}")
    return torch.device(name)


def build_generator(cfg: TrainConfig) -> UNetGenerator:
    """The generator of a resolved configuration."""
    return UNetGenerator(
        cfg.size, cfg.in_channels, cfg.out_channels, ngf=cfg.ngf, dropout=cfg.dropout, n_dropout=cfg.n_dropout,
        head=cfg.resolved_head,
    )


def build_discriminator(cfg: TrainConfig) -> PatchDiscriminator:
    return PatchDiscriminator(cfg.in_channels + cfg.out_channels, ndf=cfg.ndf, n_layers=cfg.n_layers_d)


def select_val_frames(train: Sequence[int], val: Sequence[int], n: int) -> tuple[list[int], str]:
    """Validation frames: up to ``n`` evenly spaced frames of ``val``, or of ``train`` if ``val`` is empty."""
    source, pool = ("val", list(val)) if len(val) else ("train", list(train))
    if len(pool) > n:
        pool = [pool[int(i)] for i in np.linspace(0, len(pool) - 1, n).round().astype(int)]
    return pool, source


def jitter_shift(seed: int, draw: int, k: int, jitter_px: int) -> tuple[int, int]:
    """The (dx, dy) shift :class:`~euv2mag.data.torch_dataset.PairDataset` draws for item ``(k, draw)``."""
    if not jitter_px:
        return 0, 0
    rng = np.random.default_rng([int(seed), int(draw) + 1, int(k)])
    dx, dy = (int(v) for v in rng.integers(-jitter_px, jitter_px + 1, size=2))
    return dx, dy


def _shift_mask(mask: np.ndarray, dx: int, dy: int, j: int) -> np.ndarray:
    if not j:
        return mask
    h, w = mask.shape
    padded = np.pad(mask, j, mode="constant", constant_values=False)
    return padded[j + dy : j + dy + h, j + dx : j + dx + w]


# ---------------------------------------------------------------------------- checkpoints
def _rng_state() -> dict:
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


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(
        ("MT19937", state["numpy_keys"].numpy().astype(np.uint32), state["numpy_pos"], state["numpy_has_gauss"],
         state["numpy_cached_gaussian"])
    )
    random.setstate((3, tuple(state["python"]), None))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def prune_checkpoints(run_dir: Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest periodic ``ckpt-NNNNNNN.ckpt`` files (``keep`` 0 deletes nothing).

    Only files named exactly like periodic checkpoints are touched; ``last.ckpt`` and
    ``best.ckpt`` are never deleted.  Returns the deleted paths.
    """
    if keep <= 0:
        return []
    named = ((_PERIODIC_CKPT.fullmatch(p.name), p) for p in Path(run_dir).glob("ckpt-*.ckpt"))
    periodic = [p for _, p in sorted((int(m.group(1)), p) for m, p in named if m)]
    doomed = periodic[:-keep]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


def save_checkpoint(path: Path, payload: dict) -> Path:
    """``torch.save`` ``payload`` to ``path`` atomically (temporary name, then rename)."""
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def load_checkpoint(path: str | Path, cfg: TrainConfig | None = None, *, map_location="cpu") -> dict:
    """Load a checkpoint safely (``weights_only=True``) and check its format and architecture.

    Parameters
    ----------
    path : path-like
        The ``.ckpt`` file.
    cfg : TrainConfig, optional
        When given, the checkpoint's architecture fields must equal this configuration's.

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


def load_generator(path: str | Path, *, map_location="cpu") -> tuple[UNetGenerator, dict]:
    """The generator of a checkpoint, with its weights, and the checkpoint dict."""
    ckpt = load_checkpoint(path, map_location=map_location)
    g = build_generator(ckpt["config_obj"])
    _load_state(g, ckpt["G"], path)
    return g, ckpt


def _load_state(module: torch.nn.Module, state: dict, path) -> None:
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        raise UserError(f"checkpoint weights do not fit the network ({str(exc).splitlines()[0][:200]})", path=path) from None


# ---------------------------------------------------------------------------- validation
def _val_metrics(pred_g: list[np.ndarray], obs_g: list[np.ndarray], geoms: list) -> dict:
    from ..audit.fulldisk import flux_mx, pearson

    l1, cc, tumf, nmf, nmf_t = [], [], [], [], []
    for pred, obs, geom in zip(pred_g, obs_g, geoms):
        disk = geom.disk_mask(1.0) & np.isfinite(obs)
        l1.append(float(np.mean(np.abs(pred[disk] - obs[disk]))))
        cc.append(pearson(pred[disk], obs[disk]))
        t_obs, n_obs = flux_mx(obs, geom)
        t_pred, n_pred = flux_mx(pred, geom)
        tumf.append(abs(t_pred - t_obs) / t_obs if t_obs > 0 else math.nan)
        nmf.append(abs(n_pred - n_obs) / abs(n_obs) if n_obs != 0 else math.nan)
        nmf_t.append(abs(n_pred - n_obs) / t_obs if t_obs > 0 else math.nan)

    def mean(values):
        values = [v for v in values if math.isfinite(v)]
        return float(np.mean(values)) if values else math.nan

    return {
        "val_l1_g": mean(l1),
        "val_cc": mean(cc),
        "val_tumf_rel_err": mean(tumf),
        "val_nmf_rel_err": mean(nmf),
        "val_nmf_err_frac_tumf": mean(nmf_t),
    }


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
    """Outcome of one seed's run."""

    run_dir: Path
    seed: int
    iteration: int
    best: dict | None
    resumed_from: int | None


def _autocast(device: torch.device, precision: str):
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def _read_metrics(path: Path, upto: int) -> list[dict]:
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [row for row in rows if int(row["iteration"]) <= upto]


def _write_metrics(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=METRIC_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in METRIC_COLUMNS})
    from .._io import atomic_write_text

    atomic_write_text(path, buf.getvalue())


def _fmt(value) -> str:
    if value == "" or value is None:
        return ""
    value = float(value)
    return "" if not math.isfinite(value) else f"{value:.8g}"


class Pix2PixTrainer:
    """Networks, optimisers and one training iteration (a D step then a G step, batch 1).

    Parameters
    ----------
    cfg : TrainConfig
        A resolved configuration (``size`` set).
    device : torch.device
        Where the networks live.  Seed torch before constructing (the weights' initialisation).
    """

    def __init__(self, cfg: TrainConfig, device: torch.device):
        self.cfg, self.device = cfg, device
        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.G = build_generator(cfg).to(device, memory_format=self.memory_format)
        self.D = (
            build_discriminator(cfg).to(device, memory_format=self.memory_format) if cfg.gan_mode != "none" else None
        )
        adam = dict(lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.adam_eps)
        if cfg.fused_adam and device.type in ("cpu", "cuda"):
            adam["fused"] = True
        self.opt_G = torch.optim.Adam(self.G.parameters(), **adam)
        self.opt_D = torch.optim.Adam(self.D.parameters(), **adam) if self.D is not None else None
        self.scalers = [torch.amp.GradScaler("cuda"), torch.amp.GradScaler("cuda")] if cfg.precision == "fp16" else None
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

    def step(self, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None) -> dict:
        """One iteration on the scaled pair ``(x, y)``; returns the losses as floats."""
        cfg, G, D = self.cfg, self.G, self.D
        if self.device.type == "cpu":
            torch.set_flush_denormal(cfg.flush_denormal)  # process-wide flag: set for every step
        out = {}
        if cfg.two_forward and D is not None:
            with torch.no_grad(), _autocast(self.device, cfg.precision):
                fake_d = G(x)
        with _autocast(self.device, cfg.precision):
            fake = G(x)
        if not cfg.two_forward:
            fake_d = fake.detach()
        if D is not None:
            D.requires_grad_(True)
            self.opt_D.zero_grad(set_to_none=True)
            with _autocast(self.device, cfg.precision):
                loss_fake = gan_loss(D(torch.cat((x, fake_d), 1)), False, cfg.gan_mode)
                loss_real = gan_loss(D(torch.cat((x, y), 1)), True, cfg.gan_mode)
                loss_d = loss_fake + loss_real
            self._backward_step(loss_d, self.opt_D, 0)
            D.requires_grad_(False)
            out["loss_d"] = 0.5 * loss_d.item()
        else:
            out["loss_d"] = 0.0
        self.opt_G.zero_grad(set_to_none=True)
        with _autocast(self.device, cfg.precision):
            loss_gan = gan_loss(D(torch.cat((x, fake), 1)), True, cfg.gan_mode) if D is not None else fake.new_zeros(())
            fake32 = fake.float()
            loss_l1 = l1_loss(fake32, y, mask)
            if cfg.lambda_cc:
                loss_cc = cc_loss(fake32, y, mask, kind=cfg.cc_kind, n_scales=cfg.cc_scales)
            else:
                loss_cc = fake32.new_zeros(())
            loss_g = cfg.lambda_gan * loss_gan + cfg.lambda_l1 * loss_l1 + cfg.lambda_cc * loss_cc
        self._backward_step(loss_g, self.opt_G, 1)
        out.update(loss_g_gan=loss_gan.item(), loss_g_l1=loss_l1.item(), loss_g_cc=loss_cc.item(), loss_g=loss_g.item())
        return out


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
    """
    from ..data.store import FrameStore
    from ..data.torch_dataset import PairDataset
    from ..progress import progress_bar

    store = store if isinstance(store, FrameStore) else FrameStore(store)
    cfg = cfg.resolved(store.size)
    device = device if isinstance(device, torch.device) else resolve_device(device)
    if cfg.precision == "fp16" and device.type != "cuda":
        raise UserError("fp16 training needs a CUDA GPU; use --precision bf16 or fp32 on the CPU")
    train_indices = [int(i) for i in train_indices]
    if not train_indices:
        raise UserError("the training set is empty", path=store.path)
    val_frames, val_source = select_val_frames(train_indices, val_indices, cfg.val_frames)
    dataset = PairDataset(
        store, train_indices, mag_scaling=cfg.mag_scaling, euv_scaling=cfg.euv_scaling, jitter_px=cfg.jitter_px,
        pad=cfg.pad, seed=seed,
    )
    val_set = PairDataset(store, val_frames, mag_scaling=cfg.mag_scaling, euv_scaling=cfg.euv_scaling)

    run_dir = Path(run_dir)
    last_path = run_dir / "last.ckpt"
    if run_dir.exists() and not resume and (last_path.exists() or (run_dir / "metrics.csv").exists()):
        raise UserError("holds a training run already; pass --resume to continue it or choose another --out", path=run_dir)
    if resume and (run_dir / "config.toml").exists():
        old = TrainConfig.read(run_dir / "config.toml")
        changed = [f.name for f in dataclasses.fields(cfg)
                   if getattr(old, f.name) != getattr(cfg, f.name) and f.name not in _RESUMABLE_CHANGES]
        if changed:
            raise UserError(f"cannot resume: the configuration differs from the run's in {', '.join(changed)}", path=run_dir)

    # ------------------------------------------------------------- state
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)
    trainer = Pix2PixTrainer(cfg, device)
    G, D, opt_G, opt_D, scalers = trainer.G, trainer.D, trainer.opt_G, trainer.opt_D, trainer.scalers
    memory_format = trainer.memory_format
    start = 0
    best: dict | None = None
    window = {"n": 0, "seconds": 0.0, **{k: 0.0 for k in LOSS_COLUMNS}}
    resumed_from = None
    if resume and last_path.exists():
        ckpt = load_checkpoint(last_path, cfg, map_location=device)
        _load_state(G, ckpt["G"], last_path)
        opt_G.load_state_dict(ckpt["opt_G"])
        if D is not None:
            _load_state(D, ckpt["D"], last_path)
            opt_D.load_state_dict(ckpt["opt_D"])
        if scalers is not None and "scalers" in ckpt:
            for scaler, state in zip(scalers, ckpt["scalers"]):
                scaler.load_state_dict(state)
        _set_rng_state(ckpt["rng"])
        start = int(ckpt["iteration"])
        best = ckpt.get("best") or None
        window = dict(ckpt["window"])
        resumed_from = start
    rows = _read_metrics(run_dir / "metrics.csv", start) if resumed_from is not None else []

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
            "torch_version": torch.__version__,
            "generator_parameters": sum(p.numel() for p in G.parameters()),
            "discriminator_parameters": sum(p.numel() for p in D.parameters()) if D is not None else 0,
        },
    )
    geoms = [store.geometry(i) for i in train_indices]
    full_disk = [g.disk_mask(1.0) for g in geoms]
    val_geoms = [store.geometry(i) for i in val_frames]
    val_obs = [store.read("mag", i) for i in val_frames]
    n = len(train_indices)

    def payload(iteration: int, full: bool) -> dict:
        out = {
            "format": CHECKPOINT_FORMAT,
            "config": cfg.to_dict(),
            "seed": int(seed),
            "iteration": int(iteration),
            "G": G.state_dict(),
        }
        if D is not None:
            out["D"] = D.state_dict()
        if full:
            out["opt_G"] = opt_G.state_dict()
            if D is not None:
                out["opt_D"] = opt_D.state_dict()
            if scalers is not None:
                out["scalers"] = [s.state_dict() for s in scalers]
            out["rng"] = _rng_state()
            out["best"] = best or {}
            out["window"] = dict(window)
        return out

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
        return _val_metrics(preds, val_obs, val_geoms)

    G.train()
    if D is not None:
        D.train()
    end = cfg.iters if stop_at is None else min(cfg.iters, int(stop_at))
    t_window = time.perf_counter()
    with progress_bar(f"train seed {seed}", cfg.iters, enabled=progress) as advance:
        advance(start)
        for it in range(start, end):
            epoch, pos = divmod(it, n)
            k = int(np.random.default_rng([int(seed), 1, epoch]).permutation(n)[pos])
            x, y = dataset[(k, it)]
            x = x[None].to(device).contiguous(memory_format=memory_format)
            y = y[None].to(device).contiguous(memory_format=memory_format)
            mask = None
            if cfg.loss_mask_disk:
                dx, dy = jitter_shift(seed, it, k, cfg.jitter_px)
                m = _shift_mask(full_disk[k], dx, dy, cfg.jitter_px)
                mask = torch.from_numpy(np.ascontiguousarray(m))[None, None].to(device)
            losses = trainer.step(x, y, mask)
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
                row = {"iteration": done, "seconds": _fmt(window["seconds"])}
                for key in LOSS_COLUMNS:
                    row[key] = _fmt(window[key] / max(window["n"], 1))
                window = {"n": 0, "seconds": 0.0, **{k2: 0.0 for k2 in LOSS_COLUMNS}}
                if is_val:
                    metrics = validate(done)
                    row.update({key: _fmt(v) for key, v in metrics.items()})
                    value = metrics[cfg.best_metric]
                    better = (
                        math.isfinite(value)
                        and (not best or (value > best["value"] if _MAXIMISE[cfg.best_metric] else value < best["value"]))
                    )
                    if better:
                        best = {"metric": cfg.best_metric, "mode": "max" if _MAXIMISE[cfg.best_metric] else "min",
                                "iteration": done, "value": float(value)}
                        save_checkpoint(run_dir / "best.ckpt", payload(done, full=False))
                        atomic_write_json(run_dir / "best.json", {**best, "metrics": metrics, "val_source": val_source})
                    t_window = time.perf_counter()
                rows.append(row)
            if is_ckpt:
                save_checkpoint(run_dir / f"ckpt-{done:07d}.ckpt", payload(done, full=False))
                save_checkpoint(last_path, payload(done, full=True))
                _write_metrics(run_dir / "metrics.csv", rows)
                prune_checkpoints(run_dir, cfg.keep_ckpts)
    if end == cfg.iters:
        _write_metrics(run_dir / "metrics.csv", rows)
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
) -> list[RunResult]:
    """Train one run per seed into ``out/seed-K`` on the split's training frames (CLI ``euv2mag train``).

    Everything is checked (store, split, configuration, existing runs) before any file is written.
    """
    from ..data.splits import load_split
    from ..data.store import FrameStore

    store = FrameStore(store_path)
    split = load_split(split_path, store.n_frames)
    train_idx, val_idx = split.indices("train"), split.indices("val")
    if not train_idx:
        raise UserError("the split's training set is empty", path=split_path)
    cfg = cfg.resolved(store.size)
    out = Path(out)
    seeds = [int(s) for s in seeds]
    if len(set(seeds)) != len(seeds):
        raise UserError(f"seeds repeat: {seeds}")
    for seed in seeds:
        run_dir = out / f"seed-{seed}"
        if not resume and ((run_dir / "last.ckpt").exists() or (run_dir / "metrics.csv").exists()):
            raise UserError("holds a training run already; pass --resume to continue it or choose another --out", path=run_dir)
    info = {"store": str(Path(store_path).resolve()), "split": str(Path(split_path).resolve()), "split_scheme": split.scheme}
    results = []
    for seed in seeds:
        results.append(
            train_seed(store, train_idx, val_idx, cfg, seed, out / f"seed-{seed}", resume=resume, device=device,
                       progress=progress, run_info=info)
        )
    summary = {
        "runs": [
            {"seed": r.seed, "run_dir": str(r.run_dir), "iteration": r.iteration, "best": r.best} for r in results
        ],
        "config": cfg.to_dict(),
    }
    atomic_write_json(out / "runs.json", summary)
    return results
