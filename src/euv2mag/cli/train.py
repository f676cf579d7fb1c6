"""``euv2mag train STORE --split SPLIT.json --out runs/NAME``: train one model per seed.

Options come from three layers, later ones winning: the ``--variant`` preset (``kpl19``, the
default, is KPL19's configuration; ``cc`` adds the correlation loss and a wide asinh scaling),
an optional ``--config`` TOML file (the fields of :class:`euv2mag.model.config.TrainConfig`),
and the explicit options below.
"""
from __future__ import annotations

import argparse
import dataclasses

from . import nonnegative_float, nonnegative_int, positive_int

#: How to continue after an interruption or a full disk (read by :func:`euv2mag.cli.main`).
RERUN_HINT = "re-run the same command with --resume"

# option dest -> TrainConfig field (only options given on the command line override)
_FIELDS = {
    "ngf": "ngf",
    "ndf": "ndf",
    "gan_mode": "gan_mode",
    "lambda_gan": "lambda_gan",
    "lambda_l1": "lambda_l1",
    "lambda_cc": "lambda_cc",
    "lambda_abs_cc": "lambda_abs_cc",
    "cc_kind": "cc_kind",
    "cc_scales": "cc_scales",
    "loss_mask_disk": "loss_mask_disk",
    "lr": "lr",
    "lr_schedule": "lr_schedule",
    "jitter": "jitter_px",
    "pad": "pad",
    "two_forward": "two_forward",
    "mag_scaling": "mag_kind",
    "mag_limit": "mag_limit_g",
    "mag_softening": "mag_softening_g",
    "mag_clip": "mag_clip",
    "quantize_8bit": "mag_quantize_8bit",
    "euv_scaling": "euv_kind",
    "euv_vmin": "euv_vmin",
    "euv_vmax": "euv_vmax",
    "euv_asinh_a": "euv_asinh_a",
    "coord_channels": "coord_channels",
    "history_channels": "history_channels",
    "iters": "iters",
    "batch": "batch",
    "val_every": "val_every",
    "ckpt_every": "ckpt_every",
    "log_every": "log_every",
    "keep_ckpts": "keep_ckpts",
    "val_frames": "val_frames",
    "best_metric": "best_metric",
    "inference_mode": "inference_mode",
    "precision": "precision",
    "channels_last": "channels_last",
    "flush_denormal": "flush_denormal",
    "fused_adam": "fused_adam",
}


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train pix2pix (KPL19 by default) once per seed on a split of a store",
        description="Train the KPL19 pix2pix model (or the improved 'cc' variant) on the training frames "
        "of a split, once per seed, into OUT/seed-K/ (config.toml, metrics.csv, checkpoints, best.ckpt, "
        "last.ckpt). The image size is the store's (a power of two >= 32).",
    )
    p.add_argument("store", help="dataset store with euv and mag arrays")
    p.add_argument("--split", required=True, help="split JSON written by 'euv2mag split'")
    p.add_argument("--out", required=True, help="output folder runs/NAME (one seed-K/ folder per seed)")
    p.add_argument("--seeds", type=nonnegative_int, nargs="+", default=[0], help="seeds, one run each (default: 0)")
    p.add_argument("--resume", action="store_true", help="continue interrupted runs from their last.ckpt")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="default: CUDA when present, else CPU")
    p.add_argument("--config", help="TOML file of TrainConfig fields (applied over the variant preset)")
    p.add_argument("--variant", choices=("kpl19", "cc"), default="kpl19",
                   help="preset: kpl19 (default, faithful) or cc (CC loss x5 inside the disk, asinh +-3000 G)")
    g = p.add_argument_group("schedule")
    g.add_argument("--iters", type=positive_int, help="training iterations (default 1000)")
    g.add_argument("--batch", type=positive_int,
                   help="global batch: frames per step over all devices, each with its own BatchNorm statistics "
                        "(default: one per device)")
    g.add_argument("--val-every", type=positive_int, help="validate every N iterations (default 100)")
    g.add_argument("--ckpt-every", type=positive_int, help="checkpoint every N iterations (default 100)")
    g.add_argument("--keep-ckpts", type=nonnegative_int,
                   help="keep the N newest periodic checkpoints, 0 = all (default 5; last/best are always kept)")
    g.add_argument("--log-every", type=positive_int, help="metrics row every N iterations (default 10)")
    g.add_argument("--val-frames", type=positive_int, help="at most N validation frames (default 8)")
    g.add_argument("--best-metric", choices=("val_cc", "val_l1_g", "val_tumf_rel_err"), help="picks best.ckpt (default val_cc)")
    m = p.add_argument_group("model and losses")
    m.add_argument("--ngf", type=positive_int, help="generator base filters (default 64)")
    m.add_argument("--ndf", type=positive_int, help="discriminator base filters (default 64)")
    m.add_argument("--gan-mode", choices=("vanilla", "lsgan", "none"), help="GAN loss; none = pure regression control")
    m.add_argument("--lambda-gan", type=nonnegative_float, help="GAN loss weight (default 1)")
    m.add_argument("--lambda-l1", type=nonnegative_float, help="L1 loss weight (default 100)")
    m.add_argument("--lambda-cc", type=nonnegative_float, help="CC loss weight (default 0; cc variant 5)")
    m.add_argument("--lambda-abs-cc", type=nonnegative_float, help="weight of the CC loss of |B| (default 0)")
    m.add_argument("--cc-kind", choices=("pearson", "ccc"), help="correlation of the CC loss")
    m.add_argument("--cc-scales", type=positive_int, help="scales of the CC loss (default 4)")
    m.add_argument("--loss-mask-disk", action=argparse.BooleanOptionalAction, default=None,
                   help="L1/CC losses inside the solar disk only (kpl19: off, cc: on)")
    m.add_argument("--lr", type=nonnegative_float, help="Adam learning rate (default 2e-4)")
    m.add_argument("--lr-schedule", choices=("constant", "linear"),
                   help="constant (default, KPL19) or linear: decay to 0 over the second half")
    m.add_argument("--two-forward", action="store_true", default=None,
                   help="KPL19's separate generator forward for the D and the G step")
    m.add_argument("--inference-mode", choices=("kpl19", "eval"),
                   help="BN/dropout at validation: kpl19 (batch stats, dropout on; default) or eval")
    d = p.add_argument_group("data and scaling")
    d.add_argument("--jitter", type=nonnegative_int, help="jitter range in px, >= 0 (default round(15 N / 1024))")
    d.add_argument("--pad", choices=("zero-field", "kpl19"), help="value exposed by the jitter (default zero-field; kpl19 = -L G)")
    d.add_argument("--mag-scaling", choices=("linear", "asinh"), help="magnetogram map to [-1, 1]")
    d.add_argument("--mag-limit", type=nonnegative_float, help="saturation limit L in G (default 100)")
    d.add_argument("--mag-softening", type=nonnegative_float, help="asinh softening a in G (default 30)")
    d.add_argument("--mag-clip", action=argparse.BooleanOptionalAction, default=None,
                   help="clip at +-L (default on; off needs/uses a linear head)")
    d.add_argument("--quantize-8bit", action="store_true", default=None, help="round-trip the target through 8 bits (KPL19 PNGs)")
    d.add_argument("--euv-scaling", choices=("linear", "log", "asinh"), help="EUV map to [-1, 1] (default asinh)")
    d.add_argument("--euv-vmin", type=float, help="EUV lower limit in DN/s (default 0)")
    d.add_argument("--euv-vmax", type=float, help="EUV upper limit in DN/s (default 8800)")
    d.add_argument("--euv-asinh-a", type=float, help="asinh softening of the EUV stretch (default 0.001)")
    d.add_argument("--coord-channels", action=argparse.BooleanOptionalAction, default=None,
                   help="add sin(latitude) and mu input channels (default off; KPL19: off)")
    d.add_argument("--history-channels", action=argparse.BooleanOptionalAction, default=None,
                   help="add the field-history input channels (history, coverage, age) of a store written by "
                        "'euv2mag history' (default off)")
    h = p.add_argument_group("hardware")
    h.add_argument("--precision", choices=("fp32", "bf16", "fp16"), help="autocast precision (default fp32; fp16 CUDA only)")
    h.add_argument("--channels-last", action="store_true", default=None, help="channels-last memory format")
    h.add_argument("--no-flush-denormal", dest="flush_denormal", action="store_false", default=None,
                   help="keep denormal floats on the CPU (default: flushed to zero, much faster)")
    h.add_argument("--no-fused-adam", dest="fused_adam", action="store_false", default=None,
                   help="use the multi-tensor instead of the fused Adam kernel")
    h.add_argument("--devices", type=positive_int, default=1,
                   help="training processes per node with DDP: GPUs (NCCL) or CPU processes (gloo); default 1")
    h.add_argument("--num-nodes", type=positive_int, default=1,
                   help="nodes, each launched with torchrun --nnodes M --nproc-per-node N (default 1)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..model.config import layered_config
    from ..model.train import train_runs

    options = {field: getattr(args, dest) for dest, field in _FIELDS.items() if getattr(args, dest, None) is not None}
    cfg = layered_config(args.variant, args.config, options)
    if "batch" not in options and cfg.batch == 1:  # default: one frame per device (the lr stays as set)
        cfg = dataclasses.replace(cfg, batch=args.devices * args.num_nodes)
    results = train_runs(args.store, args.split, args.out, args.seeds, cfg, resume=args.resume, device=args.device,
                         devices=args.devices, num_nodes=args.num_nodes)
    for r in results:
        best = r.best or {}
        extra = f"; best {best.get('metric')} {best.get('value'):.4g} at iteration {best.get('iteration')}" if best else ""
        print(f"{r.run_dir}: {r.iteration} iterations{extra}")
    return 0
