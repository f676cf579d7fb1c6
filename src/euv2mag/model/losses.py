"""Training losses on the model's [-1, 1] scale: GAN, L1 and the multi-scale correlation loss.

* :func:`gan_loss` — ``vanilla``: binary cross-entropy on logits (KPL19's hand-written BCE with a
  sigmoid, written stably); ``lsgan``: mean squared error to 1/0 (pix2pixHD/Pix2PixCC).
* :func:`l1_loss` — mean absolute difference, optionally only inside a mask (the solar disk).
* :func:`cc_loss` — Pix2PixCC's correlation term: ``1 - r`` with r Pearson's correlation or
  Lin's concordance correlation coefficient (CCC), computed per image (inside the disk mask when
  given), averaged over the batch and over ``n_scales`` scales (the full map and successive 3x3
  stride-2 average poolings, as Pix2PixCC).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import UserError

__all__ = ["gan_loss", "l1_loss", "cc_loss", "correlation", "GAN_MODES"]

GAN_MODES = ("vanilla", "lsgan", "none")


def gan_loss(logits: torch.Tensor, target_is_real: bool, mode: str = "vanilla") -> torch.Tensor:
    """GAN loss of discriminator outputs ``logits`` against the label real (1) or fake (0)."""
    target = torch.full_like(logits, 1.0 if target_is_real else 0.0)
    if mode == "vanilla":
        return F.binary_cross_entropy_with_logits(logits, target)
    if mode == "lsgan":
        return F.mse_loss(logits, target)
    raise UserError(f"GAN mode must be one of {', '.join(GAN_MODES[:2])} for a GAN loss, got {mode!r}")


def l1_loss(fake: torch.Tensor, real: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean |fake - real| (over ``mask`` pixels when given; mask broadcastable, 1 = use)."""
    diff = (fake - real).abs()
    if mask is None:
        return diff.mean()
    mask = mask.to(diff.dtype).expand_as(diff)
    return (diff * mask).sum() / mask.sum().clamp_min(1.0)


def correlation(
    fake: torch.Tensor, real: torch.Tensor, mask: torch.Tensor | None = None, *, kind: str = "pearson", eps: float = 1e-8
) -> torch.Tensor:
    """Per-image correlation (B,) between ``fake`` and ``real`` of shape (B, C, H, W).

    ``kind="pearson"``: ``cov / (sd_f sd_r)``; ``kind="ccc"``: Lin's concordance,
    ``2 cov / (var_f + var_r + (mean_f - mean_r)**2)``.  Pixels where ``mask`` is 0 are ignored.
    """
    if kind not in ("pearson", "ccc"):
        raise UserError(f"CC loss kind must be 'pearson' or 'ccc', got {kind!r}")
    b = fake.shape[0]
    f = fake.reshape(b, -1).float()
    r = real.reshape(b, -1).float()
    if mask is None:
        w = torch.ones_like(f)
    else:
        w = mask.to(f.dtype).expand_as(fake).reshape(b, -1)
    n = w.sum(1).clamp_min(1.0)
    mf = (w * f).sum(1) / n
    mr = (w * r).sum(1) / n
    df = (f - mf[:, None]) * w
    dr = (r - mr[:, None]) * w
    cov = (df * dr).sum(1) / n
    vf = (df * df).sum(1) / n
    vr = (dr * dr).sum(1) / n
    if kind == "pearson":
        return cov / (torch.sqrt(vf * vr) + eps)
    return 2.0 * cov / (vf + vr + (mf - mr) ** 2 + eps)


def cc_loss(
    fake: torch.Tensor,
    real: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    kind: str = "pearson",
    n_scales: int = 4,
) -> torch.Tensor:
    """Multi-scale ``1 - correlation`` loss (Pix2PixCC), averaged over the batch and the scales.

    Parameters
    ----------
    fake, real : Tensor (B, C, H, W)
        Generated and target maps on the model scale.
    mask : Tensor (B or 1, 1, H, W), optional
        1 inside the solar disk; pooled with the images (a pooled pixel counts when its mask
        average exceeds 0.5).
    kind : {"pearson", "ccc"}
    n_scales : int
        The full map plus ``n_scales - 1`` successive 3x3 / stride-2 average poolings.
    """
    if n_scales < 1:
        raise UserError(f"the CC loss needs at least one scale, got {n_scales}")
    total = fake.new_zeros(())
    m = None if mask is None else mask.to(fake.dtype)
    for scale in range(n_scales):
        if scale:
            fake = F.avg_pool2d(fake, 3, 2, 1, count_include_pad=False)
            real = F.avg_pool2d(real, 3, 2, 1, count_include_pad=False)
            if m is not None:
                m = F.avg_pool2d(m, 3, 2, 1, count_include_pad=False)
        use = None if m is None else (m > 0.5)
        total = total + (1.0 - correlation(fake, real, use, kind=kind)).mean()
    return total / n_scales
