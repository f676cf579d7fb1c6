"""Benchmark `euv2mag import`: seconds per 4096^2 FITS file, as a ratio to `prepare` in the same run.

For the full-disk HMI files in ``../shared/data/hmi`` (``$EUV2MAG_SHARED_DATA/hmi`` when set), or
the files given on the command line, each of ``--repeat`` rounds (after one warm-up round, imports and caches) times, in a fresh folder:

* ``prepare``: :func:`euv2mag.data.prepare.prepare_store` of the files into a ``--size`` store,
  the baseline;
* ``import``: :func:`euv2mag.data.importing.import_predictions` of the same files onto a truth
  prepared from them once before the rounds (the default: only ``pred`` is written), and
* ``import --copy-inputs``: the same, also copying the truth's ``mag`` into the prediction store.

HMI files are FITS with a helioprojective WCS and a roll of ~180 deg, so both go through the
exact flip-and-rebin path.  With ``--rolled`` (default on) a re-gridded copy of the first file
written by astropy (float32, 4096^2, roll 30 deg, no compression) is also imported: a roll that
is not a flip takes the supersampled bilinear path, which is printed as its own line (its ratio
is still against ``prepare`` of the HMI file).

Each round runs the jobs in turn (the order reversed every other round, against a drifting load)
and records the CPU time (``time.process_time``; one thread, so it is the work done, whatever
else the machine runs) and the wall time of each.   Prints the medians per file and the ratios import/prepare.  Target:
``import`` <= ``prepare`` (CPU ratio <= 1) for the HMI files.

Usage: ``python benchmarks/import_speed.py [FILES...] [--size 1024] [--repeat 3] [--no-rolled]``
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _files(args) -> list[Path]:
    if args.files:
        return [Path(f) for f in args.files]
    folder = Path(os.environ.get("EUV2MAG_SHARED_DATA", REPO.parent / "shared" / "data")) / "hmi"
    found = sorted(folder.glob("hmi_m_720s_*.fits"))
    if not found:
        sys.exit(f"no HMI files found in {folder}; give files on the command line")
    return found


def _rolled_copy(src: Path, dst: Path, roll_deg: float = 30.0) -> Path:
    """A 4096^2 float32 FITS of the same Sun, rolled by ``roll_deg`` (sunpy's rotate), written by astropy."""
    import astropy.units as u
    import numpy as np
    from astropy.io import fits

    from euv2mag.data.fits import read_map

    smap = read_map(src, "hmi")
    rolled = smap.rotate(angle=-(roll_deg - float(smap.meta.get("crota2", 0.0))) * u.deg,
                         order=1, missing=np.nan)
    n = smap.data.shape[0]
    ny, nx = rolled.data.shape
    y0, x0 = (ny - n) // 2, (nx - n) // 2
    sub = rolled.submap([x0, y0] * u.pix, top_right=[x0 + n - 1, y0 + n - 1] * u.pix)
    header = fits.Header()
    for key, value in sub.wcs.to_header().items():
        header[key] = value
    for key in ("DATE-OBS", "T_OBS", "RSUN_OBS", "DSUN_OBS", "RSUN_REF", "CRLN_OBS", "CRLT_OBS", "HGLN_OBS", "HGLT_OBS"):
        if key.lower() in smap.meta:
            header[key] = smap.meta[key.lower()]
    header["BUNIT"] = "G"
    fits.PrimaryHDU(np.asarray(sub.data, dtype=np.float32), header=header).writeto(dst, overwrite=True)
    return dst


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*")
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-rolled", dest="rolled", action="store_false")
    args = parser.parse_args(argv)

    from euv2mag.data.importing import import_predictions
    from euv2mag.data.prepare import prepare_store

    files = _files(args)
    n = len(files)
    names = ("prepare", "import", "import --copy-inputs", "import rolled 30 deg")
    wall = {name: [] for name in names}
    cpu = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rolled = _rolled_copy(files[0], tmp / "rolled.fits") if args.rolled else None
        truth = tmp / "truth.zarr"
        jobs = {
            "prepare": lambda folder: prepare_store(folder / "prep.zarr", hmi_paths=[str(f) for f in files],
                                                    size=args.size, progress=False),
            "import": lambda folder: import_predictions(files, truth, folder / "pred.zarr", progress=False),
            "import --copy-inputs": lambda folder: import_predictions(files, truth, folder / "copy.zarr",
                                                                      copy_inputs=True, progress=False),
            "import rolled 30 deg": lambda folder: import_predictions([rolled], truth, folder / "rolled.zarr",
                                                                      progress=False),
        }
        per_file = {"prepare": n, "import": n, "import --copy-inputs": n, "import rolled 30 deg": 1}
        prepare_store(truth, hmi_paths=[str(f) for f in files], size=args.size, progress=False)  # also a warm-up
        order = [name for name in names if rolled is not None or name != "import rolled 30 deg"]
        for run in range(args.repeat + 1):
            folder = tmp / f"run{run}"
            folder.mkdir()
            for name in (order if run % 2 else order[::-1]):  # alternate the order against drifting load
                w0, c0 = time.perf_counter(), time.process_time()
                jobs[name](folder)
                w1, c1 = time.perf_counter(), time.process_time()
                if run:  # round 0 is a warm-up
                    wall[name].append((w1 - w0) / per_file[name])
                    cpu[name].append((c1 - c0) / per_file[name])
    base_cpu, base_wall = statistics.median(cpu["prepare"]), statistics.median(wall["prepare"])
    print(f"import_speed: {n} HMI file(s) x {args.repeat} rounds (+1 warm-up), 4096^2 -> {args.size}^2, one thread; "
          "medians per file")
    for name in order:
        c, w = statistics.median(cpu[name]), statistics.median(wall[name])
        print(f"  {name:<25} CPU {c:6.3f} s (ratio {c / base_cpu:4.2f})   wall {w:6.3f} s (ratio {w / base_wall:4.2f})")
    ratio = statistics.median(cpu["import"]) / base_cpu
    print(f"  target: import <= prepare (CPU ratio <= 1): {'met' if ratio <= 1 else 'NOT met'} ({ratio:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
