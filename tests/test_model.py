"""Architecture, losses, configuration and scalings of the KPL19 pix2pix model."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from euv2mag.errors import UserError
from euv2mag.model.config import TrainConfig, variant_defaults
from euv2mag.model.losses import cc_loss, correlation, gan_loss, l1_loss
from euv2mag.model.pix2pix import (
    ForcedDropout,
    KerasBatchNorm2d,
    PatchDiscriminator,
    UNetGenerator,
    UpConv,
    count_parameters,
    set_inference_mode,
)
from euv2mag.scaling import MagScaling


def hand_count_generator(size: int, ngf: int = 64, cin: int = 1, cout: int = 1) -> int:
    """KPL19 U-Net parameters derived from the architecture description.

    depth d = log2(size); encoder channels c_i = min(ngf 2^i, 8 ngf), i = 0..d-1.
    Encoder conv i: 4x4 kernel, 16 * c_{i-1} * c_i weights (c_{-1} = cin); a bias (c_i) on the
    first and innermost convs, BatchNorm (gamma + beta = 2 c_i) on the others.
    Decoder: the innermost transposed conv takes c_{d-1} channels, every other one takes
    2 c_i (decoder output concatenated with the skip); it maps to c_{i-1} with BatchNorm
    (2 c_{i-1}), and the outermost maps to cout with a bias (cout) and no BN.
    """
    d = int(math.log2(size))
    c = [min(ngf * 2**i, 8 * ngf) for i in range(d)]
    total = 0
    for i in range(d):
        cprev = cin if i == 0 else c[i - 1]
        total += 16 * cprev * c[i]
        total += c[i] if i in (0, d - 1) else 2 * c[i]
    for i in range(d):
        inp = c[i] if i == d - 1 else 2 * c[i]
        out = cout if i == 0 else c[i - 1]
        total += 16 * inp * out
        total += out if i == 0 else 2 * out
    return total


def hand_count_discriminator(cin: int = 2, ndf: int = 64) -> int:
    """70x70 PatchGAN: C64 s2 | C128 s2 BN | C256 s2 BN | C512 s1 BN | C1 s1, all 4x4 with bias.

    (16*2*64 + 64) + (16*64*128 + 128 + 256) + (16*128*256 + 256 + 512)
    + (16*256*512 + 512 + 1024) + (16*512*1 + 1)
    = 2112 + 131456 + 525056 + 2098688 + 8193 = 2 765 505.
    """
    convs = [(cin, ndf), (ndf, 2 * ndf), (2 * ndf, 4 * ndf), (4 * ndf, 8 * ndf), (8 * ndf, 1)]
    total = sum(16 * a * b + b for a, b in convs)
    total += sum(2 * b for _, b in convs[1:4])
    return total


def test_parameter_counts_match_hand_derivation_and_kpl19():
    # 256 px (depth 8): encoder 64,128,256,512,512,512,512,512.
    assert hand_count_generator(256) == 54_408_385
    assert hand_count_generator(1024) == 79_578_305
    assert hand_count_discriminator() == 2_765_505
    for size, expected in ((256, 54_408_385), (1024, 79_578_305)):
        with torch.device("meta"):  # no memory, no compute
            g = UNetGenerator(size)
        assert count_parameters(g) == expected
        assert g.depth == int(math.log2(size))
    with torch.device("meta"):
        d = PatchDiscriminator()
    assert count_parameters(d) == 2_765_505
    # BatchNorm running statistics (mean + var): 9 856 at 256 px, 13 952 at 1024 px.
    with torch.device("meta"):
        g = UNetGenerator(1024)
    assert sum(b.numel() for n, b in g.named_buffers() if "running" in n) == 13_952


def test_bias_placement_and_dropout_blocks():
    g = UNetGenerator(64, ngf=8)
    biased = [i for i, conv in enumerate(g.down) if conv.bias is not None]
    assert biased == [0, g.depth - 1]
    assert [i for i, conv in enumerate(g.up) if conv.bias is not None] == [0]
    # dropout on the decoders producing 2, 4 and 8 px (levels d-1, d-2, d-3)
    drop = [i for i, m in enumerate(g.up_drop) if isinstance(m, ForcedDropout)]
    assert sorted(64 // 2**i for i in drop) == [2, 4, 8]
    assert all(m.p == 0.5 for m in g.up_drop if isinstance(m, ForcedDropout))


@pytest.mark.parametrize("batch,cin,cout,side,bias", [(1, 64, 32, 1, False), (2, 48, 16, 4, True), (1, 32, 8, 8, True)])
def test_upconv_matrix_path_equals_native_transposed_conv(monkeypatch, batch, cin, cout, side, bias):
    """The CPU matrix-product path gives ConvTranspose2d's outputs and gradients to fp32 rounding."""
    torch.manual_seed(3)
    fast = UpConv(cin, cout, bias=bias)
    if bias:
        torch.nn.init.normal_(fast.bias, 0.0, 0.5)
    native = torch.nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=bias)
    native.load_state_dict(fast.state_dict())  # same parameters, interchangeable state dicts
    x = torch.randn(batch, cin, side, side)
    upstream = torch.randn(batch, cout, 2 * side, 2 * side)
    folds = []
    real_fold = torch.nn.functional.fold
    monkeypatch.setattr(torch.nn.functional, "fold", lambda *a, **k: folds.append(1) or real_fold(*a, **k))
    xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    ya, yb = fast(xa), native(xb)
    assert folds, "the matrix-product path was not taken"
    assert ya.shape == yb.shape == (batch, cout, 2 * side, 2 * side)
    (ya * upstream).sum().backward()
    (yb * upstream).sum().backward()
    pairs = [(ya.detach(), yb.detach()), (xa.grad, xb.grad), (fast.weight.grad, native.weight.grad)]
    if bias:
        pairs.append((fast.bias.grad, native.bias.grad))
    for got, want in pairs:
        scale = float(want.abs().max())
        assert scale > 0 and float((got - want).abs().max()) <= 2e-6 * scale
    # larger inputs use the native op unchanged
    folds.clear()
    big = torch.randn(1, cin, 16, 16)
    torch.testing.assert_close(fast(big), native(big), rtol=0, atol=0)
    assert not folds


def test_shapes_and_patchgan_output():
    torch.manual_seed(0)
    g = UNetGenerator(32, ngf=4)
    with torch.no_grad():
        y = g(torch.randn(1, 1, 32, 32))
    assert y.shape == (1, 1, 32, 32) and float(y.abs().max()) <= 1.0
    d = PatchDiscriminator(ndf=4)
    with torch.no_grad():
        assert d(torch.randn(1, 2, 256, 256)).shape == (1, 1, 30, 30)


def test_init_statistics():
    torch.manual_seed(1)
    g = UNetGenerator(256, ngf=16)
    w = torch.cat([c.weight.detach().flatten() for c in g.down[1:5]])
    assert abs(float(w.mean())) < 1e-3 and abs(float(w.std()) - 0.02) < 1e-3
    gam = torch.cat([m.weight.detach() for m in g.modules() if isinstance(m, KerasBatchNorm2d)])
    assert abs(float(gam.mean()) - 1) < 3e-3 and abs(float(gam.std()) - 0.02) < 3e-3


def test_bad_sizes_are_user_errors():
    for size in (48, 16, 100):
        with pytest.raises(UserError, match="power of two"):
            UNetGenerator(size)


def test_inference_modes():
    torch.manual_seed(0)
    g = UNetGenerator(32, ngf=4)
    x = torch.randn(1, 1, 32, 32)
    set_inference_mode(g, "eval")
    with torch.no_grad():
        a, b = g(x), g(x)
    assert torch.equal(a, b)  # deterministic: running stats, no dropout
    set_inference_mode(g, "kpl19")
    before = [m.running_mean.clone() for m in g.modules() if isinstance(m, KerasBatchNorm2d)]
    with torch.no_grad():
        c, d = g(x), g(x)
    assert not torch.equal(c, d)  # dropout active
    after = [m.running_mean for m in g.modules() if isinstance(m, KerasBatchNorm2d)]
    assert all(torch.equal(p, q) for p, q in zip(before, after))  # running stats untouched
    # with dropout off, kpl19 mode equals training-mode BN on the same batch
    g2 = UNetGenerator(32, ngf=4, dropout=0.0)
    set_inference_mode(g2, "kpl19")
    with torch.no_grad():
        e = g2(x)
        g2.train()
        f = g2(x)
    assert torch.allclose(e, f, atol=1e-6)


def test_losses_values():
    x = torch.zeros(1, 1, 4, 4)
    assert math.isclose(float(gan_loss(x, True)), math.log(2), rel_tol=1e-6)
    assert math.isclose(float(gan_loss(torch.full((1, 1, 2, 2), 3.0), False, "lsgan")), 9.0)
    a = torch.rand(2, 1, 16, 16)
    assert math.isclose(float(l1_loss(a + 0.25, a)), 0.25, rel_tol=1e-5)
    mask = torch.zeros(1, 1, 16, 16)
    mask[..., :8, :] = 1
    b = a.clone()
    b[..., 8:, :] += 5
    assert float(l1_loss(b, a, mask)) < 1e-7
    # Pearson is invariant to a gain and offset; CCC is not
    assert float(cc_loss(2 * a + 1, a, n_scales=3)) < 1e-5
    assert float(correlation(2 * a + 1, a, kind="ccc").min()) < 0.5
    assert float(cc_loss(-a, a, n_scales=1)) == pytest.approx(2.0, abs=1e-5)
    # masked correlation ignores the pixels outside the mask
    c = a.clone()
    c[..., 8:, :] = torch.rand(2, 1, 8, 16)
    assert float(correlation(c, a, mask).min()) > 0.9999


@pytest.mark.parametrize(
    "scaling",
    [
        MagScaling("linear", 100.0),
        MagScaling("linear", 3000.0),
        MagScaling("asinh", 3000.0, softening_g=30.0),
        MagScaling("asinh", 625.0, softening_g=50.0),
        MagScaling("linear", 100.0, quantize_8bit=True),
        MagScaling("asinh", 3000.0, quantize_8bit=True),
    ],
)
def test_scalings_round_trip_zero_and_limits(scaling):
    """0 G and +-L G come back exactly (never KPL19's [0, 100] 8-bit slip, 0 G -> +155 G)."""
    lim = scaling.limit_g
    b = np.array([0.0, lim, -lim, 2 * lim, -5 * lim])
    y = scaling.to_unit(b)
    assert y[0] == pytest.approx(0.0, abs=1e-7) if not scaling.quantize_8bit else abs(y[0]) <= 1 / 255 + 1e-6
    assert y[1] == pytest.approx(1.0) and y[2] == pytest.approx(-1.0)
    back = scaling.to_gauss(y)
    # 8-bit: 0 G sits between two levels (127.5): within half a level, i.e. the exact grid value
    tol0 = 1e-4 if not scaling.quantize_8bit else abs(float(scaling.to_gauss(np.array([1 / 255]))[0])) + 1e-3
    assert abs(back[0]) <= tol0
    assert back[1:] == pytest.approx([lim, -lim, lim, -lim], rel=1e-5)


def test_config_toml_round_trip_and_errors(tmp_path):
    cfg = TrainConfig(**variant_defaults("cc"), ngf=16, iters=7).resolved(64)
    assert cfg.jitter_px == 1 and cfg.head == "tanh" and cfg.size == 64
    path = cfg.write(tmp_path / "config.toml")
    assert TrainConfig.read(path) == cfg
    assert TrainConfig().resolved(1024).jitter_px == 15 and TrainConfig().resolved(256).jitter_px == 4
    assert TrainConfig(mag_clip=False).resolved(64).head == "identity"
    (tmp_path / "bad.toml").write_text('ngf = 8\nlearning_rate = 0.1\n')
    with pytest.raises(UserError, match="unknown training option.*learning_rate"):
        TrainConfig.read(tmp_path / "bad.toml")
    with pytest.raises(UserError, match="gan_mode"):
        TrainConfig(gan_mode="wgan")
    with pytest.raises(UserError, match="power of two"):
        TrainConfig().resolved(96)
    with pytest.raises(UserError):
        TrainConfig(iters=2.5)
