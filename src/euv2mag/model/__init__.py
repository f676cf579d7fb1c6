"""Models that generate magnetograms (G) from EUV images (DN/s): KPL19's pix2pix and an improved variant.

* :mod:`.pix2pix` — the U-Net generator and 70x70 PatchGAN discriminator of KPL19 (any power-of-two
  size) and the networks of a configuration (:func:`build_generator`, :func:`build_discriminator`).
* :mod:`.losses` — GAN (BCE with logits / LSGAN), L1 and the multi-scale correlation (CC/CCC) loss.
* :mod:`.config` — :class:`TrainConfig`, the frozen, TOML-round-tripping run configuration.
* :mod:`.checkpoint` — the checkpoint format: atomic saving, safe loading, pruning, RNG states.
* :mod:`.metrics` — the columns of a run's ``metrics.csv`` and the validation errors in G and Mx.
* :mod:`.train` — the training loop (seeds, bit-exact resume, validation, best checkpoint).
* :mod:`.distributed` — multi-device training: process layout, DDP process group, spawn or torchrun.
* :mod:`.predict` — magnetograms in G from a trained run, written to a prediction store and FITS.

The names below are imported from their submodule on first access, so ``import euv2mag.model``
does not import torch; :class:`TrainConfig` and :func:`layered_config` never need it.

Examples
--------
>>> import euv2mag.model as model
>>> model.TrainConfig().lambda_l1
100.0
"""
from __future__ import annotations

from .._lazy import lazy_exports

#: Public name -> submodule that defines it.
_SOURCES = {
    "TrainConfig": "config",
    "variant_defaults": "config",
    "layered_config": "config",
    "ARCHITECTURE_KEYS": "config",
    "VARIANTS": "config",
    "UNetGenerator": "pix2pix",
    "PatchDiscriminator": "pix2pix",
    "build_generator": "pix2pix",
    "build_discriminator": "pix2pix",
    "set_inference_mode": "pix2pix",
    "count_parameters": "pix2pix",
    "gan_loss": "losses",
    "l1_loss": "losses",
    "cc_loss": "losses",
    "CHECKPOINT_FORMAT": "checkpoint",
    "save_checkpoint": "checkpoint",
    "load_checkpoint": "checkpoint",
    "load_generator": "checkpoint",
    "prune_checkpoints": "checkpoint",
    "train_runs": "train",
    "train_seed": "train",
    "RunResult": "train",
    "Pix2PixTrainer": "train",
    "resolve_device": "train",
    "sample_seed": "train",
    "plan_launch": "distributed",
    "DistContext": "distributed",
    "METRIC_COLUMNS": "metrics",
    "predict_run": "predict",
    "predict_image": "predict",
    "load_run_generator": "predict",
    "resolve_indices": "predict",
}

__all__ = list(_SOURCES)

__getattr__, __dir__ = lazy_exports(__name__, _SOURCES, globals())
