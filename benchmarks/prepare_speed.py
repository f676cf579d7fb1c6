"""Benchmark `euv2mag prepare`: seconds per 4096^2 HMI file, and the I/O vs computation share.

For each full-disk HMI file in ``../shared/data/hmi`` (or the files given on the command line)
it times, over ``--repeat`` runs after one warm-up:

* ``read``     - header check + reading and Rice-decompressing the image (I/O),
* ``map``      - building the sunpy map and the WCS transform (computation),
* ``resample`` - rotation by flips, flux-conserving rebinning, masking (computation),
* ``write``    - writing the 1024^2 frame into a Zarr store (I/O),

and prints one line per stage plus the total.  Target: total <= 3 s per file.

Usage: ``python benchmarks/prepare_speed.py [FILES...] [--size 1024] [--repeat 3]``
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _files(args) -> list[Path]:
    if args.files:
        return [Path(f) for f in args.files]
    folder = REPO.parent / "shared" / "data" / "hmi"
    found = sorted(folder.glob("hmi_m_720s_*.fits"))
    if not found:
        sys.exit(f"no HMI files found in {folder}; give files on the command line")
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*")
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    import numpy as np

    from euv2mag.data.fits import _make_map, _read_data, disk_transform, prepare_array, read_header
    from euv2mag.data.store import StoreWriter
    from euv2mag.geometry import default_rsun_px

    files = _files(args)
    size = args.size
    rsun = default_rsun_px(size)
    stages = {"read": [], "map": [], "resample": [], "write": []}
    with tempfile.TemporaryDirectory() as tmp:
        writer = StoreWriter.open(
            Path(tmp) / "bench.zarr", n_frames=len(files) * (args.repeat + 1), shape=(size, size), arrays=("mag",),
            kind="prepared", params={"bench": True},
        )
        k = 0
        for run in range(args.repeat + 1):
            for path in files:
                t0 = time.perf_counter()
                head = read_header(path, expect="hmi")
                data = _read_data(path, head.hdu)
                t1 = time.perf_counter()
                smap = _make_map(data, head.header, path)
                center, matrix, _ = disk_transform(smap, size, rsun)
                t2 = time.perf_counter()
                image = prepare_array(np.asarray(smap.data), center, matrix, size, rsun)
                t3 = time.perf_counter()
                from euv2mag.geometry import DiskGeometry

                writer.write_frame(k, DiskGeometry(shape=(size, size), rsun_px=rsun, cdelt_arcsec=2.4), mag=image)
                t4 = time.perf_counter()
                k += 1
                if run == 0:
                    continue  # warm-up (imports, caches)
                for name, dt in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                    stages[name].append(dt)
    med = {name: statistics.median(v) for name, v in stages.items()}
    total = sum(med.values())
    io = med["read"] + med["write"]
    print(f"prepare_speed: {len(files)} file(s) x {args.repeat} runs, {data.shape[1]}x{data.shape[0]} -> {size}x{size}")
    for name, value in med.items():
        kind = "I/O" if name in ("read", "write") else "compute"
        print(f"  {name:<9}{value:7.3f} s  ({100 * value / total:4.1f} %, {kind})")
    print(f"  total    {total:7.3f} s per file (target <= 3 s); I/O {100 * io / total:.0f} %, computation {100 * (total - io) / total:.0f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
