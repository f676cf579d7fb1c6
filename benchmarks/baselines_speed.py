"""Speed of ``euv2mag baselines``: frames/s per baseline, against a plain copy of the truth frames.

For a truth store of 4 daily frames (quiet-Sun noise plus 8 bipoles, radial field seen as
``B_r mu``, with a ``frame_regions`` table so that the region baselines run) at 128^2 and 1024^2,
each baseline is written for frames 1-3 with :func:`euv2mag.audit.baselines.write_baselines`
(one kind per call, the whole call timed: reading the truth, making the map, writing the store).
The baseline of the ratios is a plain copy of the same 3 truth frames into a new store
(:class:`~euv2mag.data.store.FrameStore` read + :class:`~euv2mag.data.store.StoreWriter` write),
measured in the same run.  For ``persistence-1`` the time of one
:func:`euv2mag.audit.persistence.rotate_map` (sunpy propagation + reproject) and, within it, of
the visibility check (:func:`euv2mag.audit.persistence._source_mu`) are printed too.

One thread (OMP/MKL set before NumPy is imported).  Run: ``python benchmarks/baselines_speed.py``.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("EUV2MAG_NO_PROGRESS", "1")

import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from euv2mag.audit.baselines import write_baselines  # noqa: E402
from euv2mag.audit.persistence import _source_mu, rotate_map  # noqa: E402
from euv2mag.data.store import FrameStore, StoreWriter  # noqa: E402
from euv2mag.geometry import DiskGeometry, default_rsun_px  # noqa: E402

KINDS = ("zero", "clip-100", "sign-coin", "hale-oracle", "persistence-1")
FRAMES = "1,2,3"
REPEATS = 2


def best_of(fn, repeats=REPEATS):
    """Smallest wall time of ``repeats`` calls (s)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def make_truth(path: Path, size: int) -> None:
    """4 daily frames with 8 bipoles rotating rigidly at 13.2 deg/day, and their ``frame_regions``."""
    import pandas as pd

    rng = np.random.default_rng(0)
    lats = rng.uniform(8, 30, 8) * np.where(np.arange(8) % 2, 1, -1)
    lons = rng.uniform(-70, 20, 8)
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    sigma = 7.0 * size / 1024
    rows = []
    with StoreWriter.open(path, n_frames=4, shape=(size, size), arrays=["mag"], kind="prepared", params={}) as w:
        for k in range(4):
            geom = DiskGeometry((size, size), default_rsun_px(size), 1.9 * 1024 / size, 3.0, (120.0 - 13.2 * k) % 360,
                                time=f"2016-07-0{k + 1}T00:00:00")
            br = rng.normal(0, 8, geom.shape)
            for j, (lat, lon) in enumerate(zip(lats, lons + 13.2 * k)):
                lead = -1.0 if lat > 0 else 1.0
                for dlon, sign in ((4.0, lead), (-4.0, -lead)):
                    x, y, _ = geom.hgs_to_pixel(lat, lon + dlon)
                    if np.isfinite(x):
                        br += sign * 1500 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
                rows.append({"frame": k, "region_id": j, "lat_deg": lat, "stonyhurst_lon_deg": lon,
                             "hale_conforming": bool(j % 4), "separation_mm": 97.0, "plage_radius_mm": 15.0})
            mag = (br * geom.mu).astype(np.float32)
            mag[geom.rho > 1] = np.nan
            w.write_frame(k, geom, mag=mag)
        w.write_table("frame_regions", pd.DataFrame(rows))
        w.finish()


def copy_frames(truth: Path, out: Path) -> None:
    store = FrameStore(truth)
    idx = [int(i) for i in FRAMES.split(",")]
    with StoreWriter.open(out, n_frames=len(idx), shape=store.shape, arrays=["pred"], kind="prediction",
                          params={"copy": 1}, overwrite=True) as w:
        for i, src in enumerate(idx):
            w.write_frame(i, store.geometry(src), pred=store.read("mag", src))
        w.finish()


def main() -> int:
    n = len(FRAMES.split(","))
    print(f"baselines speed, one thread (OMP/MKL=1), {n} frames per store, best of {REPEATS}; "
          f"python {sys.version.split()[0]}")
    for size in (128, 1024):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            truth = tmp / "t.zarr"
            make_truth(truth, size)
            write_baselines(truth, tmp / "warm", kinds=["persistence-1"], indices="1", progress=False)  # imports
            t_copy = best_of(lambda: copy_frames(truth, tmp / "copy.zarr"))
            print(f"\n{size}^2")
            print(f"  plain copy of the truth frames  {n / t_copy:8.2f} frames/s   (baseline)")
            for kind in KINDS:
                t = best_of(lambda: write_baselines(truth, tmp / "b", kinds=[kind], indices=FRAMES, progress=False))
                print(f"  {kind:<30s}  {n / t:8.2f} frames/s   {t / t_copy:7.1f} x the copy's time")
            store = FrameStore(truth)
            hist, g0, g1 = store.read("mag", 0), store.geometry(0), store.geometry(1)
            t_rot = best_of(lambda: rotate_map(hist, g0, g1))
            t_mu = best_of(lambda: _source_mu(g1, g0, "howard"))
            print(f"  one rotate_map                  {t_rot:8.3f} s, of which the visibility check {t_mu:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
