"""Benchmark `euv2mag import`: seconds per 4096^2 FITS file, as a ratio to `prepare` in the same run.

For the full-disk HMI files in ``../shared/data/hmi`` (``$EUV2MAG_SHARED_DATA/hmi`` when set; or the files given on the command line), each
of ``--repeat`` rounds (after one warm-up round, imports and caches) times, in a fresh folder:

* ``prepare``: :func:`euv2mag.data.prepare.prepare_store` of the files into a ``--size`` store
  (the truth), the baseline;
* ``import``: :func:`euv2mag.data.importing.import_predictions` of the same files onto that
  truth (the default, copying the truth's ``mag`` into the prediction store), and
* ``import --no-copy-inputs``: the same without the copy.

HMI files are FITS with a helioprojective WCS and a roll of ~180 deg, so both go through the
exact flip-and-rebin path.  With ``--rolled`` (default on) a re-gridded copy of the first file
written by astropy (float32, 4096^2, roll 30 deg, no compression) is also imported: a roll that
is not a flip takes the supersampled bilinear path, which is printed as its own line (its ratio
is still against ``prepare`` of the HMI file).

Prints the median seconds per file of each and the ratios import/prepare.  Target: ``import``
<= ``prepare`` (ratio <= 1) for the HMI files.  Thread pools are limited to one thread.

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
    times = {"prepare": [], "import": [], "import --no-copy-inputs": [], "import rolled 30 deg": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rolled = _rolled_copy(files[0], tmp / "rolled.fits") if args.rolled else None
        for run in range(args.repeat + 1):
            folder = tmp / f"run{run}"
            folder.mkdir()
            t0 = time.perf_counter()
            prepare_store(folder / "truth.zarr", hmi_paths=[str(f) for f in files], size=args.size, progress=False)
            t1 = time.perf_counter()
            import_predictions(files, folder / "truth.zarr", folder / "pred.zarr", tolerance_s=60, progress=False)
            t2 = time.perf_counter()
            import_predictions(files, folder / "truth.zarr", folder / "pred-nocopy.zarr", tolerance_s=60,
                               copy_inputs=False, progress=False)
            t3 = time.perf_counter()
            if rolled is not None:
                import_predictions([rolled], folder / "truth.zarr", folder / "pred-rolled.zarr", tolerance_s=60,
                                   copy_inputs=False, progress=False)
            t4 = time.perf_counter()
            if run == 0:
                continue  # warm-up
            times["prepare"].append((t1 - t0) / n)
            times["import"].append((t2 - t1) / n)
            times["import --no-copy-inputs"].append((t3 - t2) / n)
            if rolled is not None:
                times["import rolled 30 deg"].append(t4 - t3)
    med = {name: statistics.median(v) for name, v in times.items() if v}
    base = med["prepare"]
    print(f"import_speed: {n} HMI file(s) x {args.repeat} runs (+1 warm-up), 4096^2 -> {args.size}^2, one thread")
    for name, value in med.items():
        print(f"  {name:<26}{value:7.3f} s per file   ratio to prepare {value / base:5.2f}")
    print(f"  target: import <= prepare (ratio <= 1): {'met' if med['import'] <= base else 'NOT met'} "
          f"({med['import'] / base:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
