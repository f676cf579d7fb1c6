"""Make the small HMI fixtures in tests/data from the real files in ../shared/data.

Each 4096^2 full-disk magnetogram is block-averaged 8 x 8 (NaN-aware: a block is NaN when
any of its pixels is, so the limb mask stays the pipeline's own) to 512^2, and written as a
Rice-compressed ``CompImageHDU`` (int32, BSCALE 0.1 G, as the JSOC files) with the original
header, whose plate scale and reference pixel are adjusted consistently:
``CDELTi' = 8 CDELTi`` and ``CRPIXi' = (CRPIXi - 0.5) / 8 + 0.5`` (FITS 1-based pixel
centres).  Everything else (CROTA2, RSUN_OBS, DSUN_OBS, CRLN_OBS, CRLT_OBS, T_OBS, QUALITY)
is unchanged.

Usage: ``python tests/data/make_fixtures.py [SHARED_DATA]`` (default ``../shared/data``).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from astropy.io import fits

FACTOR = 8
FILES = ("hmi_m_720s_20160707_010000_TAI.fits", "hmi_m_720s_20190621_060000_TAI.fits")
HERE = Path(__file__).resolve().parent


def rebin_file(src: Path, dst: Path, factor: int = FACTOR) -> None:
    """Write the ``factor``-times block-averaged copy of ``src`` to ``dst``."""
    with fits.open(src) as hdul:
        hdu = hdul[1] if len(hdul) > 1 else hdul[0]
        data = np.asarray(hdu.data, dtype=np.float64)
        header = hdu.header.copy()
    ny, nx = data.shape
    blocks = data.reshape(ny // factor, factor, nx // factor, factor).mean(axis=(1, 3))  # NaN if any NaN
    for axis in ("1", "2"):
        header[f"CDELT{axis}"] = header[f"CDELT{axis}"] * factor
        header[f"CRPIX{axis}"] = (header[f"CRPIX{axis}"] - 0.5) / factor + 0.5
    for key in ("BSCALE", "BZERO", "BLANK", "CHECKSUM", "DATASUM"):
        header.remove(key, ignore_missing=True, remove_all=True)
    header["HISTORY"] = f"euv2mag tests/data/make_fixtures.py: {factor}x{factor} block average of {src.name}"
    blank = -2147483648
    scaled = np.where(np.isfinite(blocks), np.round(blocks * 10.0), blank).astype(np.int32)
    comp = fits.CompImageHDU(data=scaled, header=header, compression_type="RICE_1")
    comp.header["BSCALE"] = 0.1
    comp.header["BZERO"] = 0.0
    comp.header["BLANK"] = blank
    fits.HDUList([fits.PrimaryHDU(), comp]).writeto(dst, overwrite=True, checksum=False)


def main(argv: list[str]) -> int:
    shared = Path(argv[1]) if len(argv) > 1 else HERE.parents[2] / "shared" / "data"
    for name in FILES:
        dst = HERE / name.replace(".fits", f"_rebin{FACTOR}.fits")
        rebin_file(shared / "hmi" / name, dst)
        print(f"wrote {dst} ({dst.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
