"""KPL19's pix2pix networks: a depth-log2(N) U-Net generator and a 70x70 PatchGAN discriminator.

Both follow the public Keras code of Kim et al. 2019 (tykimos/SolarMagGAN; facts in
``shared/notes/model-anchors.md`` §1):

Generator (:class:`UNetGenerator`), for an N x N image with N = 2**d, d >= 5
    * Encoder: d convolutions 4x4, stride 2, padding 1; channels ``min(ngf * 2**i, 8 * ngf)``
      (64-128-256-512-512-... for ngf 64), down to a 1x1 bottleneck.  BatchNorm after every
      encoder conv except the first and the innermost; LeakyReLU(0.2) before every conv but the first.
    * Decoder: ReLU, transposed conv 4x4 stride 2 padding 1 (Keras "valid" + 1-px crop), BatchNorm;
      dropout 0.5 on the outputs of the 3 innermost decoder blocks (2x2, 4x4, 8x8 px);
      skip connections concatenate the encoder's pre-activation output (after BN).  The outermost
      transposed conv maps to the output channels, then tanh (or identity for unbounded scalings).
    * Biases exactly where Keras has them: on the outermost and innermost down-convs and on the
      last up-conv (all other convs are followed by BatchNorm and have none).
    * BatchNorm: momentum 0.1 (Keras 0.9), eps 1.01e-5; init N(0, 0.02) kernels, N(1, 0.02) gamma.

Discriminator (:class:`PatchDiscriminator`), on concat(EUV, magnetogram)
    C64 s2 (no BN) - C128 s2 BN - C256 s2 BN - C512 s1 BN - C1 s1, kernels 4x4, padding 1,
    LeakyReLU 0.2; every conv has a bias (as in Keras).  Outputs logits (the sigmoid lives in the
    loss); a 30x30 map at 256 px, 126x126 at 1024 px.

Parameter counts (1 -> 1 channel, ngf = ndf = 64): G 54 408 385 at 256 px, 79 578 305 at 1024 px;
D 2 765 505 (``tests/test_model.py`` derives them by hand).

Inference modes (:func:`set_inference_mode`): ``"eval"`` is PyTorch's eval mode (running BN
statistics, no dropout); ``"kpl19"`` keeps BatchNorm on the batch's statistics and dropout
active, as KPL19's Keras code (``training=1``) and the reference pix2pix ``test.py`` do.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UserError

if TYPE_CHECKING:
    from .config import TrainConfig

__all__ = [
    "UNetGenerator",
    "PatchDiscriminator",
    "build_generator",
    "build_discriminator",
    "KerasBatchNorm2d",
    "UpConv",
    "ForcedDropout",
    "set_inference_mode",
    "init_weights",
    "check_size",
    "count_parameters",
    "BN_EPS",
    "BN_MOMENTUM",
]

#: BatchNorm epsilon of KPL19's Keras code.
BN_EPS = 1.01e-5
#: PyTorch momentum equal to Keras' 0.9.
BN_MOMENTUM = 0.1


def check_size(size: int) -> int:
    """Validate an image side: a power of two >= 32 (the U-Net depth is log2(size))."""
    try:
        size = int(size)
    except (TypeError, ValueError):
        raise UserError(f"image size must be an integer, got {size!r}") from None
    if size < 32 or size & (size - 1):
        raise UserError(f"image size must be a power of two >= 32 for the U-Net, got {size}")
    return size


class KerasBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d that can keep using batch statistics outside training (KPL19 inference).

    When ``force_batch_stats`` is set and the module is in eval mode, it normalises with the
    current batch's statistics and leaves the running statistics untouched.
    """

    def __init__(self, num_features: int):
        super().__init__(num_features, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.force_batch_stats = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training and self.force_batch_stats:
            return F.batch_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)
        return super().forward(x)


class UpConv(nn.ConvTranspose2d):
    """The decoder's 4x4, stride-2, padding-1 transposed convolution, faster on small CPU inputs.

    Same parameters and the same arithmetic as :class:`torch.nn.ConvTranspose2d` (state dicts
    are interchangeable).  On the CPU, for inputs of at most ``gemm_max_side`` px a side (the
    innermost U-Net blocks), it is computed as one matrix product ``W^T x`` followed by
    :func:`torch.nn.functional.fold` (col2im) instead of oneDNN's transposed convolution, which
    spends most of its time re-laying out the large weights (1024 x 512 x 4 x 4 at ngf 64) for a
    handful of pixels: 2-3x faster forward + backward on 1-8 px inputs on a 2-core AVX-512 CPU
    (``benchmarks/train_throughput.py``).  Results agree with the native op to float32 rounding
    (relative 1e-6).  GPUs and larger inputs use the native op.
    """

    #: Largest input side (px) computed with the matrix-product path on the CPU.
    gemm_max_side = 8

    def __init__(self, in_channels: int, out_channels: int, bias: bool):
        super().__init__(in_channels, out_channels, 4, 2, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Transposed convolution of ``x`` (N, C_in, H, W) -> (N, C_out, 2H, 2W) (see the class)."""
        n, cin, h, w = x.shape
        if x.device.type != "cpu" or max(h, w) > self.gemm_max_side or not x.is_contiguous():
            return super().forward(x)
        cout = self.weight.shape[1]
        # under autocast, matmul runs in the lower precision exactly like the native op would
        cols = torch.matmul(self.weight.reshape(cin, cout * 16).t(), x.reshape(n, cin, h * w))
        out = F.fold(cols, (2 * h, 2 * w), 4, padding=1, stride=2)
        if self.bias is not None:
            out = out + self.bias.to(out.dtype).view(1, -1, 1, 1)
        return out


class ForcedDropout(nn.Dropout):
    """Dropout that can stay active in eval mode (``force_active``), as in KPL19's inference."""

    def __init__(self, p: float):
        super().__init__(p)
        self.force_active = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, self.p, self.training or self.force_active, False)


def set_inference_mode(model: nn.Module, mode: str) -> nn.Module:
    """Put ``model`` in eval mode, with KPL19's batch-stat BN and active dropout when ``mode == "kpl19"``."""
    if mode not in ("kpl19", "eval"):
        raise UserError(f"inference mode must be 'kpl19' or 'eval', got {mode!r}")
    model.eval()
    for module in model.modules():
        if isinstance(module, KerasBatchNorm2d):
            module.force_batch_stats = mode == "kpl19"
        elif isinstance(module, ForcedDropout):
            module.force_active = mode == "kpl19"
    return model


def init_weights(model: nn.Module, gain: float = 0.02) -> None:
    """KPL19/pix2pix init: conv kernels ~ N(0, gain), BN gamma ~ N(1, gain), biases and beta 0."""
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(module.weight, 0.0, gain)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.normal_(module.weight, 1.0, gain)
            nn.init.zeros_(module.bias)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class UNetGenerator(nn.Module):
    """KPL19's U-Net generator for ``size`` x ``size`` images (see the module docstring).

    Parameters
    ----------
    size : int
        Image side in pixels, a power of two >= 32; the depth is log2(size).
    in_channels, out_channels : int
        Channels of the EUV input and of the magnetogram output.
    ngf : int
        Filters of the first conv (64 in KPL19; smaller for fast tests).
    dropout : float
        Dropout probability on the innermost decoder blocks (0.5).
    n_dropout : int
        How many of the innermost decoder blocks get dropout (3).
    head : {"tanh", "identity"}
        Output activation: tanh for clipped scalings in [-1, 1], identity for unbounded ones.
    """

    def __init__(
        self,
        size: int,
        in_channels: int = 1,
        out_channels: int = 1,
        ngf: int = 64,
        dropout: float = 0.5,
        n_dropout: int = 3,
        head: str = "tanh",
    ):
        super().__init__()
        size = check_size(size)
        if head not in ("tanh", "identity"):
            raise UserError(f"generator head must be 'tanh' or 'identity', got {head!r}")
        self.size = size
        self.depth = depth = int(round(math.log2(size)))
        self.head = head
        ch = [min(ngf * 2**i, ngf * 8) for i in range(depth)]
        self.channels = ch
        self.down = nn.ModuleList()
        self.down_norm = nn.ModuleList()
        for i in range(depth):
            cin = in_channels if i == 0 else ch[i - 1]
            has_norm = 0 < i < depth - 1
            self.down.append(nn.Conv2d(cin, ch[i], 4, 2, 1, bias=not has_norm))
            self.down_norm.append(KerasBatchNorm2d(ch[i]) if has_norm else nn.Identity())
        # up[i] produces the resolution of encoder level i - 1 (up[0]: the output image).
        self.up = nn.ModuleList()
        self.up_norm = nn.ModuleList()
        self.up_drop = nn.ModuleList()
        for i in range(depth):
            cin = ch[i] if i == depth - 1 else 2 * ch[i]
            cout = out_channels if i == 0 else ch[i - 1]
            self.up.append(UpConv(cin, cout, bias=i == 0))
            self.up_norm.append(KerasBatchNorm2d(cout) if i > 0 else nn.Identity())
            drop = i > 0 and i >= depth - n_dropout and dropout > 0
            self.up_drop.append(ForcedDropout(dropout) if drop else nn.Identity())
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        h = x
        for i in range(self.depth):
            if i > 0:
                h = F.leaky_relu(h, 0.2)
            h = self.down_norm[i](self.down[i](h))
            skips.append(h)
        for i in range(self.depth - 1, -1, -1):
            if i < self.depth - 1:
                h = torch.cat((skips[i], h), 1)
            h = self.up[i](F.relu(h))
            if i > 0:
                h = self.up_drop[i](self.up_norm[i](h))
        return torch.tanh(h) if self.head == "tanh" else h


class PatchDiscriminator(nn.Module):
    """KPL19's 70x70 PatchGAN (``n_layers = 3``) on concat(input, output); returns logits.

    Parameters
    ----------
    in_channels : int
        Channels of the concatenated pair (EUV + magnetogram = 2).
    ndf : int
        Filters of the first conv (64).
    n_layers : int
        Stride-2 convs after the first (3 gives the 70x70 receptive field).
    """

    def __init__(self, in_channels: int = 2, ndf: int = 64, n_layers: int = 3):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, 4, stride, 1),
                KerasBatchNorm2d(ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, 1, 1))
        self.model = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, pair: torch.Tensor) -> torch.Tensor:
        return self.model(pair)


def build_generator(cfg: "TrainConfig") -> UNetGenerator:
    """The generator of a resolved configuration, freshly initialised.

    Parameters
    ----------
    cfg : TrainConfig
        Resolved configuration (``size`` in px set, ``head`` explicit or ``auto``).

    Returns
    -------
    UNetGenerator
        On the CPU, weights drawn from torch's global RNG (seed it first for a reproducible run).
    """
    return UNetGenerator(
        cfg.size, cfg.input_channels, cfg.out_channels, ngf=cfg.ngf, dropout=cfg.dropout, n_dropout=cfg.n_dropout,
        head=cfg.resolved_head,
    )


def build_discriminator(cfg: "TrainConfig") -> PatchDiscriminator:
    """The PatchGAN discriminator of a configuration, freshly initialised.

    Parameters
    ----------
    cfg : TrainConfig
        Configuration (its ``input_channels + out_channels``, ``ndf`` and ``n_layers_d``).

    Returns
    -------
    PatchDiscriminator
        On the CPU, weights drawn from torch's global RNG.
    """
    return PatchDiscriminator(cfg.input_channels + cfg.out_channels, ndf=cfg.ndf, n_layers=cfg.n_layers_d)
