"""The training configuration: a frozen dataclass that round-trips through TOML.

The defaults are **KPL19's configuration** (variant ``kpl19``): U-Net + 70x70 PatchGAN, BCE GAN
+ 100 L1, Adam 2e-4 (0.5, 0.999) eps 1e-7, batch 1, linear +-100 G magnetogram scaling,
a jitter of ``round(15 N / 1024)`` px shared by the pair, BatchNorm with batch statistics and
active dropout at inference.  One modern choice differs from KPL19 by default and is an option:
the pixels the jitter exposes read 0 G / 0 DN/s (``pad = "zero-field"``); ``pad = "kpl19"``
reproduces KPL19's -1 pad, i.e. -L G of false field in the target.

The improved variant ``cc`` (:func:`variant_defaults`) adds the Pix2PixCC correlation term
(``lambda_cc = 5``, 1 - Pearson on 4 scales inside the disk) and a wide sign-preserving
magnetogram scaling (asinh, L = 3000 G, a = 30 G), keeping the KPL19 networks.  ``gan_mode =
"none"`` gives the pure-regression control.

A resolved configuration (:meth:`TrainConfig.resolved`) has the image size and jitter filled
in; it is written to ``config.toml`` in each run and stored in every checkpoint.
"""
from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

from .._io import atomic_write_text
from ..errors import UserError
from ..scaling import EuvScaling, MagScaling

__all__ = ["TrainConfig", "variant_defaults", "layered_config", "lr_factor", "ARCHITECTURE_KEYS", "VARIANTS"]

VARIANTS = ("kpl19", "cc")

#: Fields that define the network weights' shapes; a checkpoint must agree on all of them.
ARCHITECTURE_KEYS = ("size", "in_channels", "coord_channels", "history_channels", "out_channels", "ngf", "ndf", "n_layers_d", "head")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (except the seed).  Units as stated per field.

    Attributes
    ----------
    variant : {"kpl19", "cc"}
        Name of the preset the options came from (recorded; the fields below are what counts).
    size : int
        Image side in px (0 = take it from the store; resolved runs always have it).
    ngf, ndf : int
        Filters of the first generator / discriminator conv (64 in KPL19).
    n_layers_d : int
        PatchGAN depth (3: 70x70 receptive field).
    in_channels, out_channels : int
        EUV and magnetogram channels (1 each).
    coord_channels : bool
        Give the generator (and the discriminator, which sees the generator's input) two more
        input channels computed from each frame's geometry: sin(heliographic latitude) and
        mu = cos(heliocentric angle), both 0 off the disk
        (:func:`euv2mag.data.torch_dataset.coordinate_channels`).  With them a rule that depends
        on the hemisphere (Hale's law) or on the distance from the limb is learnable by a
        translation-equivariant network; KPL19: no.  The network input has
        :attr:`input_channels` channels.
    history_channels : bool
        Three more input channels after those: a field history (an earlier magnetogram moved to
        the frame's time and view, in the target's scaling), its coverage mask and its age
        (:func:`euv2mag.data.history.history_channels`), read from a history-input store
        (:func:`euv2mag.data.history.write_history_store`); the variant of Jeong et al. 2022
        (ApJS 262, 50).  Training and prediction refuse a store without them.
    head : {"auto", "tanh", "identity"}
        Generator output activation; ``auto``: tanh for a clipped scaling, identity otherwise.
    dropout, n_dropout : float, int
        Dropout probability and number of innermost decoder blocks that use it (0.5, 3).
    gan_mode : {"vanilla", "lsgan", "none"}
        GAN loss; ``none`` trains the generator by regression only (no discriminator).
    lambda_gan, lambda_l1, lambda_cc : float
        Loss weights (KPL19: 1, 100, 0).
    lambda_abs_cc : float
        Weight of the sign-blind correlation term, the multi-scale ``1 - CC`` of ``|G(x)|`` and
        ``|y|`` (default 0).  L1 and the signed CC are best served by 0 G where the sign cannot be
        known (quiet network, anti-Hale regions), which also removes the field's magnitude there;
        this term asks for the magnitude whatever the sign (a lever measured in docs/demo.rst).
    cc_kind : {"pearson", "ccc"}
        Correlation of the CC loss.
    cc_scales : int
        Scales of the CC loss (full map + poolings).
    loss_mask_disk : bool
        Compute the L1 and CC losses inside the solar disk only (KPL19: no, whole image).
    lr, beta1, beta2, adam_eps : float
        Adam settings of both optimisers (2e-4, 0.5, 0.999, 1e-7 as Keras).
    lr_schedule : {"constant", "linear"}
        Learning rate against iteration: ``constant`` (KPL19) or ``linear``, pix2pix's policy:
        ``lr`` for the first half of ``iters``, then a linear decay to 0 at the last iteration
        (:func:`lr_factor`).  A pure function of the iteration, so a resumed run follows it.
    jitter_px : int
        Random shift range in px; -1 = ``round(15 size / 1024)`` (KPL19's 15 px at 1024).
    pad : {"zero-field", "kpl19"}
        Value of the pixels the jitter exposes (see the module docstring).
    two_forward : bool
        KPL19's separate generator forward for the D and the G step (default: one shared forward).
    mag_kind, mag_limit_g, mag_softening_g, mag_clip, mag_quantize_8bit :
        The :class:`~euv2mag.scaling.MagScaling` of the target (G).
    euv_kind, euv_vmin, euv_vmax, euv_asinh_a :
        The :class:`~euv2mag.scaling.EuvScaling` of the input (DN/s).
    iters : int
        Training iterations (one D step + one G step on ``batch`` frames).
    batch : int
        Global batch: frames per optimiser step over all training processes (KPL19: 1).  Each
        frame is normalised by its own BatchNorm statistics, as at batch 1, and the losses are
        averaged over the batch; with ``W`` processes each takes ``batch / W`` of them (see
        :mod:`euv2mag.model.distributed`).  The learning rate is not scaled with it.
    val_every, ckpt_every, log_every : int
        Validation, checkpoint and metrics-row intervals in iterations.
    keep_ckpts : int
        How many of the newest periodic ``ckpt-NNNNNNN.ckpt`` files to keep (0: all).  Each holds
        both networks' weights (~230 MB at 256 px, ~330 MB at 1024 px for ngf = ndf = 64);
        ``last.ckpt`` and ``best.ckpt`` are never pruned.
    val_frames : int
        At most this many validation frames (evenly spaced over the validation set).
    best_metric : {"val_cc", "val_l1_g", "val_tumf_rel_err"}
        Validation metric that picks ``best.ckpt`` (CC: highest; the others: lowest).
        KPL19 picked the checkpoint with the highest pixel CC.
    inference_mode : {"kpl19", "eval"}
        BatchNorm/dropout behaviour at validation and prediction.
    precision : {"fp32", "bf16", "fp16"}
        Autocast precision of the forward passes (fp16 only on CUDA, with a gradient scaler).
    channels_last : bool
        Use the channels-last memory format.
    flush_denormal : bool
        On the CPU, flush denormal floats (below 1.2e-38) to zero during training steps.  Once
        gradients and Adam's moments get small, denormal arithmetic slows the CPU by large
        factors; the flushed values are far below anything that changes a weight in float32.
    fused_adam : bool
        Use PyTorch's fused Adam kernel (the same update formula in one kernel per tensor).
    """

    variant: str = "kpl19"
    size: int = 0
    ngf: int = 64
    ndf: int = 64
    n_layers_d: int = 3
    in_channels: int = 1
    coord_channels: bool = False
    history_channels: bool = False
    out_channels: int = 1
    head: str = "auto"
    dropout: float = 0.5
    n_dropout: int = 3
    gan_mode: str = "vanilla"
    lambda_gan: float = 1.0
    lambda_l1: float = 100.0
    lambda_cc: float = 0.0
    lambda_abs_cc: float = 0.0
    cc_kind: str = "pearson"
    cc_scales: int = 4
    loss_mask_disk: bool = False
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    adam_eps: float = 1e-7
    lr_schedule: str = "constant"
    jitter_px: int = -1
    pad: str = "zero-field"
    two_forward: bool = False
    mag_kind: str = "linear"
    mag_limit_g: float = 100.0
    mag_softening_g: float = 30.0
    mag_clip: bool = True
    mag_quantize_8bit: bool = False
    euv_kind: str = "asinh"
    euv_vmin: float = 0.0
    euv_vmax: float = 8800.0
    euv_asinh_a: float = 0.001
    iters: int = 1000
    batch: int = 1
    val_every: int = 100
    ckpt_every: int = 100
    log_every: int = 10
    keep_ckpts: int = 5
    val_frames: int = 8
    best_metric: str = "val_cc"
    inference_mode: str = "kpl19"
    precision: str = "fp32"
    channels_last: bool = False
    flush_denormal: bool = True
    fused_adam: bool = True

    def __post_init__(self):
        # Coerce numbers so that a TOML int (e.g. lr = 1) or a CLI string behaves as declared.
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            kind = field.type
            try:
                if kind == "int":
                    if isinstance(value, bool) or float(value) != int(value):
                        raise ValueError
                    value = int(value)
                elif kind == "float":
                    if isinstance(value, bool):
                        raise ValueError
                    value = float(value)
                elif kind == "bool":
                    if not isinstance(value, bool):
                        raise ValueError
                elif kind == "str":
                    if not isinstance(value, str):
                        raise ValueError
            except (TypeError, ValueError):
                raise UserError(f"training option {field.name} must be a {kind}, got {value!r}") from None
            object.__setattr__(self, field.name, value)
        choices = {
            "variant": VARIANTS,
            "head": ("auto", "tanh", "identity"),
            "gan_mode": ("vanilla", "lsgan", "none"),
            "cc_kind": ("pearson", "ccc"),
            "pad": ("zero-field", "kpl19"),
            "best_metric": ("val_cc", "val_l1_g", "val_tumf_rel_err"),
            "inference_mode": ("kpl19", "eval"),
            "precision": ("fp32", "bf16", "fp16"),
            "lr_schedule": ("constant", "linear"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise UserError(f"training option {name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        for name in ("ngf", "ndf", "n_layers_d", "in_channels", "out_channels", "cc_scales", "iters", "batch",
                     "val_every", "ckpt_every", "log_every", "val_frames"):
            if getattr(self, name) < 1:
                raise UserError(f"training option {name} must be >= 1, got {getattr(self, name)}")
        for name in ("lambda_gan", "lambda_l1", "lambda_cc", "lambda_abs_cc", "lr", "adam_eps"):
            if getattr(self, name) < 0:
                raise UserError(f"training option {name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise UserError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.keep_ckpts < 0:
            raise UserError(f"training option keep_ckpts must be >= 0 (0 keeps all), got {self.keep_ckpts}")
        if self.jitter_px < -1:
            raise UserError(f"jitter_px must be >= 0 (or -1 for the KPL19 default), got {self.jitter_px}")
        if self.size:
            from .pix2pix import check_size

            check_size(self.size)
        if self.lambda_l1 == 0 and self.lambda_cc == 0 and self.lambda_abs_cc == 0 and self.gan_mode == "none":
            raise UserError("no loss left: gan_mode none needs lambda_l1, lambda_cc or lambda_abs_cc > 0")
        self.mag_scaling  # validates the scaling options
        self.euv_scaling

    # ------------------------------------------------------------------ derived objects
    @property
    def input_channels(self) -> int:
        """Channels of the generator's input: the EUV channels, 2 coordinate and 3 history channels if set."""
        return self.in_channels + (2 if self.coord_channels else 0) + (3 if self.history_channels else 0)

    @property
    def mag_scaling(self) -> MagScaling:
        return MagScaling(
            kind=self.mag_kind,
            limit_g=self.mag_limit_g,
            softening_g=self.mag_softening_g,
            clip=self.mag_clip,
            quantize_8bit=self.mag_quantize_8bit,
        )

    @property
    def euv_scaling(self) -> EuvScaling:
        return EuvScaling(kind=self.euv_kind, vmin=self.euv_vmin, vmax=self.euv_vmax, asinh_a=self.euv_asinh_a)

    @property
    def resolved_head(self) -> str:
        if self.head != "auto":
            return self.head
        return "tanh" if self.mag_scaling.bounded else "identity"

    def resolved(self, size: int) -> "TrainConfig":
        """This configuration for ``size`` px images with the jitter and head made explicit."""
        from .pix2pix import check_size

        size = check_size(size)
        if self.size and self.size != size:
            raise UserError(f"the configuration is for {self.size} px images, the store has {size} px")
        jitter = round(15 * size / 1024) if self.jitter_px < 0 else self.jitter_px
        if jitter >= size // 2:
            raise UserError(f"a jitter of {jitter} px does not fit {size} px images")
        return dataclasses.replace(self, size=size, jitter_px=jitter, head=self.resolved_head)

    def architecture(self) -> dict:
        """The fields that fix the weights' shapes (compared when a checkpoint is loaded)."""
        return {key: getattr(self.resolved(self.size) if self.size else self, key) for key in ARCHITECTURE_KEYS}

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, mapping: dict, *, source: str | None = None) -> "TrainConfig":
        """Build from a plain mapping; an unknown key is a :class:`UserError`."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(mapping) - names)
        if unknown:
            raise UserError(f"unknown training option(s): {', '.join(unknown)}", path=source)
        return cls(**mapping)

    def to_toml(self) -> str:
        import tomli_w

        return tomli_w.dumps(self.to_dict())

    @classmethod
    def from_toml(cls, text: str, *, source: str | None = None) -> "TrainConfig":
        try:
            mapping = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise UserError(f"not a valid TOML configuration: {exc}", path=source) from None
        return cls.from_dict(mapping, source=source)

    def write(self, path: str | Path) -> Path:
        """Write the configuration as TOML (atomically)."""
        return atomic_write_text(path, self.to_toml())

    @classmethod
    def read(cls, path: str | Path) -> "TrainConfig":
        path = Path(path)
        if not path.is_file():
            raise UserError("no such configuration file", path=path)
        return cls.from_toml(path.read_text(encoding="utf-8"), source=str(path))


def lr_factor(schedule: str, iteration: int, iters: int) -> float:
    """The learning rate of iteration ``iteration`` (0-based) as a fraction of ``lr``.

    ``constant``: 1.  ``linear``: 1 for the first half of ``iters``, then
    ``2 (iters - iteration) / iters``, falling linearly to ``2 / iters`` at the last iteration.

    Examples
    --------
    >>> [round(lr_factor("linear", i, 8), 3) for i in range(8)]
    [1.0, 1.0, 1.0, 1.0, 1.0, 0.75, 0.5, 0.25]
    >>> lr_factor("constant", 7, 8)
    1.0
    """
    if schedule == "constant":
        return 1.0
    if schedule == "linear":
        return min(1.0, 2.0 * (iters - iteration) / iters)
    raise UserError(f"lr_schedule must be constant or linear, got {schedule!r}")


def variant_defaults(variant: str) -> dict:
    """Option values a variant preset sets (explicit options override them).

    ``kpl19``: nothing (the dataclass defaults are KPL19).  ``cc``: CC loss (lambda 5, Pearson,
    4 scales), losses inside the disk, asinh magnetogram scaling with L = 3000 G, a = 30 G.
    """
    if variant == "kpl19":
        return {"variant": "kpl19"}
    if variant == "cc":
        return {
            "variant": "cc",
            "lambda_cc": 5.0,
            "cc_kind": "pearson",
            "cc_scales": 4,
            "loss_mask_disk": True,
            "mag_kind": "asinh",
            "mag_limit_g": 3000.0,
            "mag_softening_g": 30.0,
        }
    raise UserError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")


def layered_config(
    variant: str = "kpl19", config_file: str | Path | None = None, options: dict | None = None
) -> TrainConfig:
    """A configuration from three layers, later ones winning: preset, TOML file, explicit options.

    Parameters
    ----------
    variant : {"kpl19", "cc"}
        The preset (:func:`variant_defaults`).
    config_file : path-like, optional
        TOML file of :class:`TrainConfig` fields; its ``size`` is ignored (the store decides).
    options : dict, optional
        Field values that override both (e.g. the options given on the command line); fields
        in the units :class:`TrainConfig` documents.

    Returns
    -------
    TrainConfig
        Unresolved (``size`` 0 unless an option sets it).

    Raises
    ------
    UserError
        Unknown variant, missing or invalid TOML file, unknown field or bad value.

    Examples
    --------
    >>> cfg = layered_config("cc", options={"ngf": 8, "mag_limit_g": 500.0})
    >>> cfg.variant, cfg.lambda_cc, cfg.ngf, cfg.mag_limit_g
    ('cc', 5.0, 8, 500.0)
    """
    values = variant_defaults(variant)
    if config_file is not None:
        path = Path(config_file)
        if not path.is_file():
            raise UserError("no such configuration file", path=path)
        try:
            values.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except tomllib.TOMLDecodeError as exc:
            raise UserError(f"not a valid TOML configuration: {exc}", path=path) from None
        values.pop("size", None)  # the store decides
    values.update(options or {})
    return TrainConfig.from_dict(values, source=None if config_file is None else str(config_file))
