"""Small paired stores with a known EUV -> magnetogram relation for the model tests."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from euv2mag.data.store import StoreWriter
from euv2mag.geometry import DiskGeometry, default_rsun_px

#: EUV = EUV_OFFSET + EUV_GAIN * clip(B, +-100 G) on the disk (DN/s): the target is a linear
#: function of the input, so a small U-Net learns it in a few hundred iterations.
EUV_OFFSET = 1000.0
EUV_GAIN = 8.0
#: EUV scaling options that map that relation linearly onto [-1, 1].
EUV_OPTIONS = {"euv_kind": "linear", "euv_vmin": 0.0, "euv_vmax": 2000.0}


def field(size: int, rng: np.random.Generator, geometry: DiskGeometry, n_blobs: int = 10) -> np.ndarray:
    """Smooth bipolar Gaussian blobs (peaks 40-400 G, sigma 2-4 px at 64 px), NaN off the disk."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    b = np.zeros((size, size))
    scale = size / 64
    c = (size - 1) / 2
    for _ in range(n_blobs):
        r = rng.uniform(0, 0.8) * geometry.rsun_px
        phi = rng.uniform(0, 2 * np.pi)
        x0, y0 = c + r * np.cos(phi), c + r * np.sin(phi)
        amp = rng.choice([-1, 1]) * rng.uniform(40, 400)
        sig = rng.uniform(2, 4) * scale
        b += amp * np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * sig**2))
    b[~geometry.disk_mask(1.0)] = np.nan
    return b.astype(np.float32)


def make_pair_store(path: Path, n_frames: int = 5, size: int = 64, seed: int = 0) -> Path:
    """Write a complete store of ``n_frames`` (euv, mag) pairs at ``size`` px."""
    rng = np.random.default_rng(seed)
    rsun = default_rsun_px(size)
    writer = StoreWriter.open(
        path, n_frames=n_frames, shape=(size, size), arrays=("euv", "mag"), kind="synthetic",
        params={"test": "model", "seed": seed, "size": size},
    )
    for i in range(n_frames):
        geom = DiskGeometry(
            shape=(size, size), rsun_px=rsun, cdelt_arcsec=959.0 / rsun, b0_deg=3.0, l0_deg=40.0 * i,
            time=f"2015-01-{i + 1:02d}T00:00:00",
        )
        mag = field(size, rng, geom)
        euv = EUV_OFFSET + EUV_GAIN * np.clip(mag, -100, 100)
        writer.write_frame(i, geom, euv=euv, mag=mag)
    writer.finish()
    return path


def write_split(path: Path, train, val=(), test=(), times=None) -> Path:
    """A split JSON in the ``euv2mag split`` format."""
    def block(idx):
        idx = [int(i) for i in idx]
        return {"indices": idx, "times": [times[i] for i in idx] if times is not None else [f"2015-01-{i + 1:02d}T00:00:00" for i in idx]}

    obj = {"scheme": "random", "source": "test", "params": {}, "sets": {"train": block(train), "val": block(val), "test": block(test)},
           "summary": {"n_train": len(train), "n_val": len(val), "n_test": len(test)}}
    path.write_text(json.dumps(obj))
    return path
