"""Speed of the audit per frame pair on one core, against the time to read the frame from Zarr.

Measures, for a 1024^2 (reference, generated) pair of synthetic magnetograms with bipolar
regions (and a 4096^2 map: the real HMI 2016-07-07 file from ../shared/data when present,
else a synthetic one):

* full-disk metrics (:func:`euv2mag.audit.fulldisk.frame_metrics`),
* region detection + parameters of both maps (:func:`euv2mag.audit.measurement.find_regions` x 2),
* matching (:func:`euv2mag.audit.match.match_regions`),
* reading one frame from a Zarr store (:meth:`FrameStore.read`), the baseline of the ratios.

Target: the whole audit of a 1024^2 pair <= 0.5 s on one core.  Thread pools are limited to one
thread (OMP/MKL/OpenBLAS set before NumPy is imported).  Run: ``python benchmarks/audit_speed.py``.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from euv2mag.audit.fulldisk import frame_metrics  # noqa: E402
from euv2mag.audit.match import match_regions  # noqa: E402
from euv2mag.audit.measurement import find_regions  # noqa: E402
from euv2mag.data.store import FrameStore, StoreWriter  # noqa: E402
from euv2mag.geometry import DiskGeometry, default_rsun_px  # noqa: E402

SHARED = Path(os.environ.get("EUV2MAG_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
REPEATS = 3


def best_of(fn, repeats=REPEATS):
    """Smallest wall time of ``repeats`` calls (s), and the last result."""
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def synthetic_map(size: int, seed: int, flip: bool = False) -> tuple[np.ndarray, DiskGeometry]:
    """Quiet-Sun noise plus 8 bipoles (peak 600-2500 G) placed with DiskGeometry.hgs_to_pixel."""
    geom = DiskGeometry((size, size), default_rsun_px(size), 1.9 * 1024 / size, 3.0, 120.0, time="2016-07-07T01:00:00")
    rng = np.random.default_rng(seed)
    noise = np.random.default_rng(seed + 100)
    mag = noise.normal(0, 8, geom.shape).astype(np.float32)
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    sigma = 7.0 * size / 1024  # ~12 Mm: each bipole well above the 135 MSH size cut
    for k in range(8):
        lat = (1 if k % 2 else -1) * rng.uniform(8, 30)
        lon = rng.uniform(-60, 60)
        peak = rng.uniform(600, 2500)
        lead = (-1 if lat > 0 else 1) * (-1 if (flip and k % 3 == 0) else 1)
        for dlon, sign in ((4.0, lead), (-4.0, -0.8 * lead)):
            x, y, _ = geom.hgs_to_pixel(lat, lon + dlon)
            r = int(6 * sigma) + 1
            x0, y0 = int(x), int(y)
            sl = (slice(max(y0 - r, 0), y0 + r), slice(max(x0 - r, 0), x0 + r))
            mag[sl] += sign * peak * np.exp(-((xx[sl] - x) ** 2 + (yy[sl] - y) ** 2) / (2 * sigma**2))
    mag[~geom.disk_mask(1.0)] = np.nan
    return mag, geom


def zarr_read_time(mag: np.ndarray, geom: DiskGeometry) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.zarr"
        w = StoreWriter.open(path, n_frames=2, shape=geom.shape, arrays=("mag",), kind="prepared", params={"bench": 1})
        for i in range(2):
            w.write_frame(i, geom, mag=mag)
        w.finish()
        store = FrameStore(path)
        t, _ = best_of(lambda: store.read("mag", 1))
    return t


def bench_pair(ref, gen, geom) -> dict:
    frame_metrics(ref, gen, geom)  # warm the geometry cache (shared by all frames of a store)
    t_full, _ = best_of(lambda: frame_metrics(ref, gen, geom))
    t_regions, (ta, tb) = best_of(lambda: (find_regions(ref, geom)[1], find_regions(gen, geom)[1]))
    t_match, res = best_of(lambda: match_regions(ta, tb))
    return {"fulldisk": t_full, "regions_both": t_regions, "match": t_match, "n_regions": (len(ta), len(tb)),
            "n_matched": len(res.pairs)}


def main() -> int:
    print(f"audit speed, one thread (OMP/MKL=1), best of {REPEATS}; python {sys.version.split()[0]}")
    ref, geom = synthetic_map(1024, 1)
    gen, _ = synthetic_map(1024, 1, flip=True)
    gen = gen + np.where(np.isfinite(gen), np.random.default_rng(5).normal(0, 10, gen.shape), 0).astype(np.float32)
    r = bench_pair(ref, gen, geom)
    t_read = zarr_read_time(ref, geom)
    total = r["fulldisk"] + r["regions_both"] + r["match"]
    print(f"\n1024^2 pair ({r['n_regions'][0]} / {r['n_regions'][1]} regions, {r['n_matched']} matched)")
    print(f"  read one frame from Zarr       {t_read:8.4f} s   (baseline)")
    print(f"  full-disk metrics              {r['fulldisk']:8.4f} s   {r['fulldisk'] / t_read:6.1f} x read")
    print(f"  regions + parameters (2 maps)  {r['regions_both']:8.4f} s   {r['regions_both'] / t_read:6.1f} x read")
    print(f"  matching                       {r['match']:8.4f} s   {r['match'] / t_read:6.1f} x read")
    print(f"  whole audit of the pair        {total:8.4f} s   {total / t_read:6.1f} x read   "
          f"(target <= 0.5 s: {'met' if total <= 0.5 else 'NOT met'})")

    real = SHARED / "hmi" / "hmi_m_720s_20160707_010000_TAI.fits"
    if real.exists():
        from euv2mag.data.fits import prepare_hmi

        big, gbig = prepare_hmi(real, size=4096)
        source = f"real HMI {real.name} prepared at 4096^2"
    else:
        big, gbig = synthetic_map(4096, 2)
        source = "synthetic 4096^2 map"
    big_gen = -big  # a second map of the same size (polarity reversed)
    rb = bench_pair(big, big_gen, gbig)
    t_read_big = zarr_read_time(big, gbig)
    total_big = rb["fulldisk"] + rb["regions_both"] + rb["match"]
    print(f"\n4096^2: {source} ({rb['n_regions'][0]} regions)")
    print(f"  read one frame from Zarr       {t_read_big:8.4f} s   (baseline)")
    print(f"  full-disk metrics              {rb['fulldisk']:8.4f} s   {rb['fulldisk'] / t_read_big:6.1f} x read")
    print(f"  regions + parameters (2 maps)  {rb['regions_both']:8.4f} s   {rb['regions_both'] / t_read_big:6.1f} x read")
    print(f"  matching                       {rb['match']:8.4f} s   {rb['match'] / t_read_big:6.1f} x read")
    print(f"  whole audit of the pair        {total_big:8.4f} s   {total_big / t_read_big:6.1f} x read   "
          f"({total_big / total:.1f} x the 1024^2 pair)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
