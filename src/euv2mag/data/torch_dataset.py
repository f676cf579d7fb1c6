"""PyTorch ``Dataset`` of scaled (EUV, magnetogram) pairs read from a store.

torch is imported here only; the rest of ``euv2mag.data`` works without it.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..errors import UserError
from ..scaling import EuvScaling, MagScaling
from .store import FrameStore

__all__ = ["PairDataset", "coordinate_channels", "jitter_shift", "jitter_image", "jitter_pair"]


def coordinate_channels(geometry) -> np.ndarray:
    """The two coordinate input channels of a frame: sin(latitude) and mu, 0 off the disk.

    Parameters
    ----------
    geometry : DiskGeometry
        The frame's geometry (disk centre, radius in px, B0).

    Returns
    -------
    (2, H, W) ndarray of float32
        Channel 0: sin of the heliographic latitude (+1 at the north pole, -1 at the south
        pole; dimensionless); channel 1: mu = cos of the heliocentric angle (1 at disk centre,
        0 at the limb).  Both are 0 off the disk (``rho >= 1``), the value the jitter pads with.

    Notes
    -----
    Both quantities lie in [-1, 1] like the scaled EUV image, so no further scaling is needed.
    Their sign and size depend on where a pixel lies on the Sun, which a convolutional network
    cannot otherwise tell: with them, Hale's law (opposite leading polarities in the two
    hemispheres) is a function of the input.
    """
    off = ~geometry.disk_mask(1.0)
    lat = np.where(off, 0.0, np.sin(np.radians(np.nan_to_num(geometry.lat_deg))))
    mu = np.where(off, 0.0, np.nan_to_num(geometry.mu))
    return np.stack([lat, mu]).astype(np.float32)


def jitter_shift(seed: int, draw: int | None, k: int, jitter_px: int) -> tuple[int, int]:
    """The random shift ``(dx, dy)`` in px of item ``k`` at draw ``draw``: the only jitter draw.

    Parameters
    ----------
    seed : int
        Base seed of the jitter (the run's seed).
    draw : int or None
        Draw number; the training loop passes its iteration (0-based), so a resumed run draws
        the same shifts.  ``None`` (an item asked for without a draw) is a draw of its own.
    k : int
        Item number in the dataset (position in its list of frames, not the store index).
    jitter_px : int
        Jitter range in px; both shifts are uniform integers in ``[-jitter_px, jitter_px]``.

    Returns
    -------
    dx, dy : int
        Shifts in px along columns (x, eastward-to-westward) and rows (y); ``(0, 0)`` when
        ``jitter_px`` is 0.

    Notes
    -----
    The generator is ``numpy.random.default_rng([seed, 0 if draw is None else draw + 1, k])``:
    the shift depends on nothing but these numbers, never on the global RNG state.

    Examples
    --------
    >>> jitter_shift(0, 5, 2, 0)
    (0, 0)
    >>> dx, dy = jitter_shift(3, 10, 1, 4)
    >>> -4 <= dx <= 4 and -4 <= dy <= 4 and (dx, dy) == jitter_shift(3, 10, 1, 4)
    True
    """
    if not jitter_px:
        return 0, 0
    rng = np.random.default_rng([int(seed), 0 if draw is None else int(draw) + 1, int(k)])
    dx, dy = (int(v) for v in rng.integers(-int(jitter_px), int(jitter_px) + 1, size=2))
    return dx, dy


def jitter_image(image: np.ndarray, dx: int, dy: int, jitter_px: int, *, pad) -> np.ndarray:
    """Shift one image by ``(dx, dy)`` px, filling the exposed border with ``pad``.

    Parameters
    ----------
    image : (H, W) ndarray
        Scaled image, or a boolean mask (e.g. the solar disk, shifted with ``pad=False``).
    dx, dy : int
        Shift in px along columns and rows, each within ``[-jitter_px, jitter_px]``.
    jitter_px : int
        Jitter range in px (the width of the padding); 0 returns ``image`` itself.
    pad : scalar
        Value of the exposed pixels, in the units of ``image``.

    Returns
    -------
    (H, W) ndarray
        C-contiguous shifted copy, same dtype as ``image``.

    Notes
    -----
    KPL19's augmentation: pad by ``jitter_px`` on every side with a constant and crop the
    original size at offset ``(jitter_px + dy, jitter_px + dx)``.
    """
    if not jitter_px:
        return image
    j = int(jitter_px)
    h, w = image.shape
    padded = np.pad(image, j, mode="constant", constant_values=pad)
    return np.ascontiguousarray(padded[j + dy : j + dy + h, j + dx : j + dx + w])


def jitter_pair(
    euv: np.ndarray, mag: np.ndarray, dx: int, dy: int, jitter_px: int, *, euv_pad: float, mag_pad: float
) -> tuple[np.ndarray, np.ndarray]:
    """Shift both scaled images by the same ``(dx, dy)`` in ``[-jitter_px, jitter_px]`` px.

    Parameters
    ----------
    euv, mag : (H, W) ndarray of float32
        Scaled EUV image and magnetogram (both on [-1, 1]).
    dx, dy : int
        Shift in px (see :func:`jitter_shift`).
    jitter_px : int
        Jitter range in px.
    euv_pad, mag_pad : float
        Scaled values of the exposed pixels of each image.

    Returns
    -------
    euv, mag : (H, W) ndarray of float32
        The shifted pair (:func:`jitter_image` of each).
    """
    return (jitter_image(euv, dx, dy, jitter_px, pad=euv_pad), jitter_image(mag, dx, dy, jitter_px, pad=mag_pad))


class PairDataset(torch.utils.data.Dataset):
    """Scaled (euv, mag) tensor pairs of shape (1, H, W) for the given frame indices.

    Parameters
    ----------
    store : FrameStore or path
        Store with ``euv`` and ``mag`` arrays.
    indices : sequence of int
        Frame indices; item ``k`` is frame ``indices[k]``.
    mag_scaling, euv_scaling :
        Maps from G and DN/s to [-1, 1].
    jitter_px : int
        Random shift range (KPL19: 15 px at 1024^2, i.e. ``round(15 * N / 1024)``).
    pad : {"zero-field", "kpl19"}
        Value of the pixels the jitter exposes.  ``zero-field`` (default): the scaled value of
        0 G in the target and of 0 DN/s in the input.  ``kpl19``: -1 in both, as KPL19's code
        does, which is -L G (e.g. -100 G) of false strong negative field in the target.
    seed : int
        Base seed of the jitter.  Item ``(k, draw)`` is shifted by :func:`jitter_shift` ``(seed,
        draw, k)``, so a training loop that passes its iteration as ``draw`` gets the same shifts
        after a resume (a plain item ``k`` uses ``draw=None``).
    cache : bool
        Keep the scaled frames in memory after the first read.
    coord_channels : bool
        Append the two :func:`coordinate_channels` of each frame to its EUV image (the input
        is then (3, H, W)); the jitter shifts them with the image, exposing 0.
    history_channels : bool
        Append the three :func:`~euv2mag.data.history.history_channels` of each frame (after
        the coordinate channels), read from a history-input store; a store without them is a
        :class:`~euv2mag.errors.UserError` naming it.  The jitter shifts them alike, exposing 0.
    """

    def __init__(
        self,
        store: FrameStore | str,
        indices: Sequence[int],
        *,
        mag_scaling: MagScaling = MagScaling(),
        euv_scaling: EuvScaling = EuvScaling(),
        jitter_px: int = 0,
        pad: str = "zero-field",
        seed: int = 0,
        cache: bool = True,
        coord_channels: bool = False,
        history_channels: bool = False,
    ):
        self.store = store if isinstance(store, FrameStore) else FrameStore(store)
        for name in ("euv", "mag"):
            if not self.store.has(name):
                raise UserError(f"a training store needs an {name!r} array", path=self.store.path)
        self.indices = [int(i) for i in indices]
        if not self.indices:
            raise UserError("the selection of frames is empty", path=self.store.path)
        bad = [i for i in self.indices if not 0 <= i < self.store.n_frames]
        if bad:
            raise UserError(
                f"frame indices {bad[:5]} are outside the store's 0..{self.store.n_frames - 1}", path=self.store.path
            )
        if pad not in ("zero-field", "kpl19"):
            raise UserError(f"pad must be 'zero-field' or 'kpl19', got {pad!r}")
        if jitter_px < 0 or jitter_px >= min(self.store.shape) // 2:
            raise UserError(f"jitter of {jitter_px} px does not fit a {self.store.size} px image")
        self.mag_scaling = mag_scaling
        self.euv_scaling = euv_scaling
        self.jitter_px = int(jitter_px)
        self.pad = pad
        self.seed = int(seed)
        self.coord_channels = bool(coord_channels)
        self.history_channels = bool(history_channels)
        if self.history_channels:
            from .history import history_ages

            self._ages = history_ages(self.store)
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] | None = {} if cache else None

    def __len__(self) -> int:
        return len(self.indices)

    def scaled_frame(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scaled (euv, mag) float32 arrays of item ``k`` without jitter.

        ``euv`` is (H, W), or (C, H, W) with coordinate and/or history channels; ``mag`` is (H, W).
        """
        if self._cache is not None and k in self._cache:
            return self._cache[k]
        index = self.indices[k]
        euv = self.euv_scaling.to_unit(self.store.read("euv", index))
        extra = []
        if self.coord_channels:
            extra.append(coordinate_channels(self.store.geometry(index)))
        if self.history_channels:
            from .history import history_channels, read_history

            hist, cover, age = read_history(self.store, index, self._ages)
            extra.append(history_channels(hist, cover, age, self.store.geometry(index), self.mag_scaling))
        if extra:
            euv = np.concatenate([euv[None], *extra])
        mag = self.mag_scaling.to_unit(self.store.read("mag", index))
        if self._cache is not None:
            self._cache[k] = (euv, mag)
        return euv, mag

    def __getitem__(self, item):
        k, draw = (item, None) if np.isscalar(item) else (int(item[0]), int(item[1]))
        euv, mag = self.scaled_frame(int(k))
        if self.jitter_px:
            dx, dy = jitter_shift(self.seed, draw, int(k), self.jitter_px)
            if self.pad == "kpl19":
                euv_pad = mag_pad = -1.0
            else:
                euv_pad = float(self.euv_scaling.to_unit(np.zeros(1))[0])
                mag_pad = float(self.mag_scaling.to_unit(np.zeros(1))[0])
            if euv.ndim == 3:  # coordinate and history channels: shifted alike, exposing 0
                euv0, mag = jitter_pair(euv[0], mag, dx, dy, self.jitter_px, euv_pad=euv_pad, mag_pad=mag_pad)
                euv = np.stack([euv0, *(jitter_image(c, dx, dy, self.jitter_px, pad=0.0) for c in euv[1:])])
            else:
                euv, mag = jitter_pair(euv, mag, dx, dy, self.jitter_px, euv_pad=euv_pad, mag_pad=mag_pad)
        x = euv if euv.ndim == 3 else euv[None]
        return torch.from_numpy(x.copy()), torch.from_numpy(mag[None].copy())
