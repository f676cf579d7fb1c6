"""Speed of ``euv2mag baselines``: frames/s per baseline, against a plain copy of the truth frames.

For a truth store of 4 daily frames (quiet-Sun noise plus 8 bipoles, radial field seen as
``B_r mu``, with a ``frame_regions`` table so that the region baselines run) at 128^2 and 1024^2,
each baseline is written for frames 1-3 with :func:`euv2mag.audit.baselines.write_baselines`
(one kind per call, the whole call timed: reading the truth, making the map, writing the store).
The baseline of the ratios is a plain copy of the same 3 truth frames into a new store
(:class:`~euv2mag.data.store.FrameStore` read + :class:`~euv2mag.data.store.StoreWriter` write),
measured in the same run.  For ``persistence-1`` the time of one
:func:`euv2mag.data.history.rotate_map` (sunpy propagation + reproject) and, within it, of
the visibility check (:func:`euv2mag.data.history._source_mu`) are printed too.

Shared work (issue 12), CPU seconds (``time.process_time``, so a loaded machine moves the
ratios less than wall time), on a 128^2 store of 24 daily frames:

- region baselines: ``sign-coin`` and ``hale-oracle`` of frames 1-23, the old path (each kind's
  :func:`~euv2mag.audit.baselines.baseline_map` detecting the truth regions itself, as
  :func:`~euv2mag.audit.baselines.write_baselines` did per kind before 2026-12-02) against the
  new one (:func:`~euv2mag.audit.pipeline.truth_footprints` once per frame, passed to both);
  the maps must be identical;
- bootstrap: :func:`~euv2mag.audit.summary.bootstrap_intervals` of the ``sign-coin`` audit's
  tables (columns converted to NumPy once, replicates index arrays) against the old path (every
  replicate selects the DataFrame rows and runs :func:`~euv2mag.audit.summary.summarize_tables`
  on them), same replicates; the intervals must be identical.

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
from euv2mag.data.history import _source_mu, rotate_map  # noqa: E402
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


def make_truth(path: Path, size: int, n_frames: int = 4) -> None:
    """``n_frames`` daily frames with 8 bipoles rotating rigidly at 13.2 deg/day, and their ``frame_regions``."""
    import pandas as pd

    rng = np.random.default_rng(0)
    lats = rng.uniform(8, 30, 8) * np.where(np.arange(8) % 2, 1, -1)
    lons = rng.uniform(-70, 20, 8)
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    sigma = 7.0 * size / 1024
    rows = []
    with StoreWriter.open(path, n_frames=n_frames, shape=(size, size), arrays=["mag"], kind="prepared", params={}) as w:
        for k in range(n_frames):
            geom = DiskGeometry((size, size), default_rsun_px(size), 1.9 * 1024 / size, 3.0, (120.0 - 13.2 * k) % 360,
                                time=str(np.datetime64("2016-07-01T00:00:00") + np.timedelta64(k, "D")))
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


def cpu(fn):
    """(result, CPU seconds of this process) of ``fn()``."""
    t0 = time.process_time()
    out = fn()
    return out, time.process_time() - t0


def interleaved(old, new, repeats: int):
    """(result_old, best CPU s of old, result_new, best CPU s of new), the two run in turn ``repeats`` times."""
    t_old = t_new = float("inf")
    for _ in range(repeats):
        res_old, t = cpu(old)
        t_old = min(t_old, t)
        res_new, t = cpu(new)
        t_new = min(t_new, t)
    return res_old, t_old, res_new, t_new


def shared_work(tmp: Path, n_frames: int = 24, n_boot: int = 300) -> None:
    """Old path against new of the region baselines and of the bootstrap (module docstring)."""
    from euv2mag.audit import audit_stores
    from euv2mag.audit.baselines import baseline_map
    from euv2mag.audit.bootstrap import block_bootstrap
    from euv2mag.audit.pipeline import AuditParams, truth_footprints
    from euv2mag.audit.summary import bootstrap_intervals, footprint_intervals, summarize_tables

    truth = tmp / "long.zarr"
    make_truth(truth, 128, n_frames)
    store = FrameStore(truth)
    table = store.table("frame_regions")
    frames = range(1, n_frames)
    inputs = [(store.read("mag", k), store.geometry(k), table[table["frame"] == k].reset_index(drop=True)) for k in frames]
    params = AuditParams()
    kinds = ("sign-coin", "hale-oracle")

    def old():
        return [[baseline_map(kind, mag, geom, regions, audit_params=params) for kind in kinds]
                for mag, geom, regions in inputs]

    def new():
        out = []
        for mag, geom, regions in inputs:
            fp = truth_footprints(mag, geom, params, regions)
            out.append([baseline_map(kind, mag, geom, regions, audit_params=params, footprints=fp) for kind in kinds])
        return out

    print(f"\nshared work, 128^2, {len(inputs)} frames, CPU s (old path / new path, interleaved, best of {REPEATS})")
    maps_old, t_old, maps_new, t_new = interleaved(old, new, REPEATS)
    same = all(np.array_equal(a, b, equal_nan=True) for ro, rn in zip(maps_old, maps_new) for a, b in zip(ro, rn))
    print(f"  sign-coin + hale-oracle maps   old {t_old:6.2f} s  new {t_new:6.2f} s   new/old {t_new / t_old:5.2f}"
          f"   maps identical: {same}")

    write_baselines(truth, tmp / "long-b", kinds=["sign-coin"], indices=",".join(map(str, frames)), progress=False)
    res = audit_stores(truth, [tmp / "long-b" / "sign-coin.zarr"], n_boot=0, progress=False)
    tables = (res.fulldisk, res.regions, res.matches, None)
    names = ["sign-coin"]
    audited = sorted(int(k) for k in res.fulldisk["frame"])
    times = [str(store.times[k + 1]) for k in audited]
    position = {k: i for i, k in enumerate(audited)}
    index = []
    for t in tables[:3]:
        rows = [[] for _ in audited]
        for row, k in enumerate(t["frame"].to_numpy()):
            rows[position[int(k)]].append(row)
        index.append([np.asarray(r, dtype=np.int64) for r in rows])

    def boot_old():  # the DataFrame rows of every replicate selected and summarised, as before 2026-12-02
        def statistic(pos):
            picked = [t.iloc[np.concatenate([ix[p] for p in pos])] for t, ix in zip(tables[:3], index)]
            return summarize_tables(*picked, None, names)
        tree = block_bootstrap(statistic, times, n_boot=n_boot, seed=0)[0]
        footprint_intervals(res.regions, res.matches, names, n_boot=n_boot, level=0.95, seed=0)  # unchanged part
        return tree

    def boot_new():  # the audit's own call
        ci, _ = bootstrap_intervals(*tables, names, audited, times, n_boot=n_boot, block_days=13.6, level=0.95, seed=0)
        return ci.to_dict()

    ci_old, t_old, ci_new, t_new = interleaved(boot_old, boot_new, REPEATS)
    same = _same_leaves(ci_old, ci_new)
    print(f"  bootstrap, {n_boot} replicates        old {t_old:6.2f} s  new {t_new:6.2f} s   new/old {t_new / t_old:5.2f}"
          f"   frame-block intervals identical: {same}")


def _same_leaves(old: dict, new: dict) -> bool:
    """Every interval of ``old`` is in ``new`` with the same values (NaN equal to NaN); the
    footprint measures, which the audit takes from the region-clustered bootstrap, are skipped."""
    from euv2mag.audit.summary import FOOTPRINT_FIELDS

    for key, value in old.items():
        if key in FOOTPRINT_FIELDS:
            continue
        if key not in new:
            return False
        if isinstance(value, dict):
            if not isinstance(new[key], dict) or not _same_leaves(value, new[key]):
                return False
        elif not np.array_equal(np.asarray(value, float), np.asarray(new[key], float), equal_nan=True):
            return False
    return True


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
    with tempfile.TemporaryDirectory() as tmp:
        shared_work(Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
