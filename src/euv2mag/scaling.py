"""Saturation clipping and the maps between physical units and the [-1, 1] model scale.

Magnetograms are in G, EUV images in DN/s.  Every map here has an exact inverse, and the
8-bit quantisation reproduces a PNG pipeline (KPL19 stored magnetograms clipped at +-100 G as
8-bit PNG): ``p = rint((y + 1) / 2 * 255)`` and back ``y = p / 255 * 2 - 1``, i.e. 200/255 G
per level at +-100 G.  (KPL19's test script used a [0, 100] domain instead of [0, 255] for that
inverse, which turns 0 G into +155 G; ``tests/test_scaling.py`` round-trips 0 G and +-L G
through every map so that slip cannot happen here.)

Off-disk NaNs become the scaled value of 0 G / 0 DN, as the data contract says models see them.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from .errors import UserError

__all__ = [
    "MagScaling",
    "EuvScaling",
    "clip_field",
    "quantize_8bit",
    "dequantize_8bit",
    "KPL19_MAG_SCALING",
]


def clip_field(mag_g: np.ndarray, limit_g: float) -> np.ndarray:
    """Clip a magnetogram at +-``limit_g`` G, keeping NaNs (the saturation of a stored map)."""
    limit_g = _positive(limit_g, "saturation limit (G)")
    return np.clip(np.asarray(mag_g, dtype=np.float32), -limit_g, limit_g)


def quantize_8bit(y: np.ndarray) -> np.ndarray:
    """Map scaled values in [-1, 1] to uint8 as a PNG writer would (``rint((y+1)/2*255)``)."""
    y = np.clip(np.nan_to_num(np.asarray(y, dtype=np.float64), nan=0.0), -1.0, 1.0)
    return np.rint((y + 1.0) * 127.5).astype(np.uint8)


def dequantize_8bit(p: np.ndarray) -> np.ndarray:
    """Inverse of :func:`quantize_8bit` onto the [-1, 1] scale: ``p / 255 * 2 - 1`` (float32)."""
    return (np.asarray(p, dtype=np.float32) / np.float32(127.5) - np.float32(1.0)).astype(np.float32)


def _positive(value, name: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise UserError(f"{name} must be a positive number, got {value!r}")
    return value


@dataclasses.dataclass(frozen=True)
class MagScaling:
    """Map a LOS magnetogram in G to the model's [-1, 1] scale and back.

    Parameters
    ----------
    kind : {"linear", "asinh"}
        ``linear``: ``y = clip(B, -L, L) / L`` (KPL19 with L = 100 G).
        ``asinh``: sign-preserving compression ``y = asinh(B / a) / asinh(L / a)``, which keeps
        weak-field resolution while reaching spot fields of thousands of G.
    limit_g : float
        Saturation limit L in G.
    softening_g : float
        ``a`` of the asinh map in G (ignored for linear).
    clip : bool
        Clip at +-L before scaling (always true in KPL19).  Without clipping the linear map is
        unbounded and the model needs a linear head.
    quantize_8bit : bool
        Round-trip the scaled target through 8 bits, reproducing a PNG pipeline.

    Examples
    --------
    KPL19's scaling clips at +-100 G, so the round trip returns the field clipped:

    >>> import numpy as np
    >>> from euv2mag.scaling import MagScaling
    >>> b = np.array([-1500.0, -100.0, -20.0, 0.0, 35.0, 100.0, 2500.0], dtype=np.float32)
    >>> kpl19 = MagScaling()
    >>> kpl19.to_unit(b)
    array([-1.  , -1.  , -0.2 ,  0.  ,  0.35,  1.  ,  1.  ], dtype=float32)
    >>> kpl19.to_gauss(kpl19.to_unit(b))
    array([-100., -100.,  -20.,    0.,   35.,  100.,  100.], dtype=float32)

    The wide asinh map of the improved variant keeps spot fields up to its limit, and its
    inverse is exact to float32 rounding:

    >>> wide = MagScaling(kind="asinh", limit_g=3000.0, softening_g=30.0)
    >>> back = wide.to_gauss(wide.to_unit(b))
    >>> bool(np.allclose(back, np.clip(b, -3000, 3000), rtol=1e-5, atol=1e-3))
    True

    An off-disk NaN becomes the scaled value of 0 G.  8-bit quantisation (KPL19's PNG files)
    moves a value by at most half a level, 100/255 G = 0.39 G at +-100 G:

    >>> kpl19.to_unit(np.array([np.nan], dtype=np.float32))
    array([0.], dtype=float32)
    >>> png = MagScaling(quantize_8bit=True)
    >>> png.to_gauss(png.to_unit(np.array([0.0, 50.0, 100.0])))
    array([  0.392...,  49.803...,  100. ...], dtype=float32)
    """

    kind: str = "linear"
    limit_g: float = 100.0
    softening_g: float = 30.0
    clip: bool = True
    quantize_8bit: bool = False

    def __post_init__(self):
        if self.kind not in ("linear", "asinh"):
            raise UserError(f"magnetogram scaling must be 'linear' or 'asinh', got {self.kind!r}")
        object.__setattr__(self, "limit_g", _positive(self.limit_g, "saturation limit (G)"))
        object.__setattr__(self, "softening_g", _positive(self.softening_g, "asinh softening (G)"))
        if self.quantize_8bit and not self.clip:
            raise UserError("8-bit quantisation needs a clipped scaling")

    @property
    def bounded(self) -> bool:
        """True when every output lies in [-1, 1] (then a tanh head fits)."""
        return self.clip

    def to_unit(self, mag_g: np.ndarray) -> np.ndarray:
        """Scale a magnetogram in G to the model scale (float32); NaN -> scaled 0 G."""
        b = np.nan_to_num(np.asarray(mag_g, dtype=np.float64), nan=0.0)
        if self.clip:
            b = np.clip(b, -self.limit_g, self.limit_g)
        if self.kind == "linear":
            y = b / self.limit_g
        else:
            a = self.softening_g
            y = np.arcsinh(b / a) / math.asinh(self.limit_g / a)
        if self.quantize_8bit:
            return dequantize_8bit(quantize_8bit(y))
        return y.astype(np.float32)

    def to_gauss(self, y: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`to_unit`: model-scale values back to G (float32)."""
        y = np.asarray(y, dtype=np.float64)
        if self.kind == "linear":
            b = y * self.limit_g
        else:
            a = self.softening_g
            b = a * np.sinh(y * math.asinh(self.limit_g / a))
        return b.astype(np.float32)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, mapping: dict) -> "MagScaling":
        """Build from a mapping; an unknown key is a :class:`UserError`."""
        return _from_dict(cls, mapping, "magnetogram scaling")


@dataclasses.dataclass(frozen=True)
class EuvScaling:
    """Map an EUV image in DN/s to [-1, 1].

    Parameters
    ----------
    kind : {"linear", "log", "asinh"}
        ``linear``: clip to [vmin, vmax] and map linearly.  ``log``: the same on log10 (vmin > 0).
        ``asinh``: ``asinh(x / a) / asinh(1 / a)`` of ``x = (I - vmin) / (vmax - vmin)`` clipped to
        [0, 1] (astropy's ``AsinhStretch``, as ITI uses for AIA 304 with vmax 8800, a 0.001).
    vmin, vmax : float
        Intensity limits in DN/s.
    asinh_a : float
        Softening of the asinh stretch.
    """

    kind: str = "asinh"
    vmin: float = 0.0
    vmax: float = 8800.0
    asinh_a: float = 0.001

    def __post_init__(self):
        if self.kind not in ("linear", "log", "asinh"):
            raise UserError(f"EUV scaling must be 'linear', 'log' or 'asinh', got {self.kind!r}")
        vmin, vmax = float(self.vmin), float(self.vmax)
        if not (math.isfinite(vmin) and math.isfinite(vmax)) or vmax <= vmin:
            raise UserError(f"EUV scaling needs vmin < vmax, got {vmin} and {vmax}")
        if self.kind == "log" and vmin <= 0:
            raise UserError("log EUV scaling needs vmin > 0 DN/s")
        object.__setattr__(self, "vmin", vmin)
        object.__setattr__(self, "vmax", vmax)
        object.__setattr__(self, "asinh_a", _positive(self.asinh_a, "asinh softening"))

    def to_unit(self, euv_dn_s: np.ndarray) -> np.ndarray:
        """Scale an EUV image in DN/s to [-1, 1] (float32); NaN -> scaled 0 DN/s."""
        i = np.clip(np.nan_to_num(np.asarray(euv_dn_s, dtype=np.float64), nan=0.0), self.vmin, self.vmax)
        if self.kind == "linear":
            x = (i - self.vmin) / (self.vmax - self.vmin)
        elif self.kind == "log":
            lo, hi = math.log10(self.vmin), math.log10(self.vmax)
            x = (np.log10(i) - lo) / (hi - lo)
        else:
            x = (i - self.vmin) / (self.vmax - self.vmin)
            x = np.arcsinh(x / self.asinh_a) / math.asinh(1.0 / self.asinh_a)
        return (2.0 * x - 1.0).astype(np.float32)

    def to_dn_s(self, y: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`to_unit` (within the clip range), in DN/s."""
        x = (np.asarray(y, dtype=np.float64) + 1.0) / 2.0
        if self.kind == "linear":
            i = self.vmin + x * (self.vmax - self.vmin)
        elif self.kind == "log":
            lo, hi = math.log10(self.vmin), math.log10(self.vmax)
            i = 10.0 ** (lo + x * (hi - lo))
        else:
            x = self.asinh_a * np.sinh(x * math.asinh(1.0 / self.asinh_a))
            i = self.vmin + x * (self.vmax - self.vmin)
        return i.astype(np.float32)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, mapping: dict) -> "EuvScaling":
        """Build from a mapping; an unknown key is a :class:`UserError`."""
        return _from_dict(cls, mapping, "EUV scaling")


def _from_dict(cls, mapping: dict, what: str):
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(mapping) - names)
    if unknown:
        raise UserError(f"unknown {what} option(s): {', '.join(unknown)}")
    return cls(**mapping)


#: KPL19: HMI clipped at +-100 G, linear, (stored as 8-bit PNG).
KPL19_MAG_SCALING = MagScaling(kind="linear", limit_g=100.0, clip=True, quantize_8bit=False)
