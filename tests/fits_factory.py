"""Level-1-like AIA/HMI FITS files with a known analytic Sun, for the prepare tests.

The "truth" is a function of helioprojective offsets (arcsec, west/north positive), so any
resampling, rotation or centring error shows up when the prepared image is compared with it.
"""
from __future__ import annotations

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

RSUN_ARCSEC = 950.0
#: (Tx, Ty, amplitude, sigma) of Gaussian blobs, arcsec and G: a positive blob in the north-west
#: quadrant, a negative one in the south-east, a weaker one near the north-east.
BLOBS = ((300.0, 400.0, 1000.0, 60.0), (-250.0, -300.0, -800.0, 60.0), (-450.0, 350.0, 400.0, 80.0))


def truth(tx, ty):
    """Analytic field (G) at helioprojective offsets ``tx, ty`` (arcsec); NaN off the disk."""
    tx = np.asarray(tx, float)
    ty = np.asarray(ty, float)
    value = np.zeros(np.broadcast(tx, ty).shape)
    for x0, y0, amp, sig in BLOBS:
        value += amp * np.exp(-((tx - x0) ** 2 + (ty - y0) ** 2) / (2 * sig**2))
    value += 20.0  # a uniform offset so AIA-like images are positive
    return np.where(np.hypot(tx, ty) <= RSUN_ARCSEC, value, np.nan)


def make_header(instrument="hmi", *, n=512, cdelt=4.0, crota2=180.0, crpix=(250.3, 262.7), time="2016-07-07T01:00:08.000",
                wavelength=304, exptime=2.0, quality=0):
    h = fits.Header()
    h["CTYPE1"], h["CTYPE2"] = "HPLN-TAN", "HPLT-TAN"
    h["CUNIT1"], h["CUNIT2"] = "arcsec", "arcsec"
    h["CRPIX1"], h["CRPIX2"] = crpix
    h["CRVAL1"], h["CRVAL2"] = 0.0, 0.0
    h["CDELT1"], h["CDELT2"] = cdelt, cdelt
    h["CROTA2"] = crota2
    h["RSUN_OBS"] = RSUN_ARCSEC
    h["RSUN_REF"] = 696000000.0
    h["DSUN_OBS"] = 6.96e8 / np.sin(np.radians(RSUN_ARCSEC / 3600.0))
    h["CRLN_OBS"] = 312.4
    h["CRLT_OBS"] = 3.5
    h["QUALITY"] = quality
    if instrument == "hmi":
        h["TELESCOP"], h["INSTRUME"], h["CONTENT"], h["BUNIT"] = "SDO/HMI", "HMI_COMBINED", "MAGNETOGRAM", "Gauss"
        h["T_OBS"] = time
        h["WAVELNTH"] = 6173.0
    else:
        h["TELESCOP"], h["INSTRUME"], h["BUNIT"] = "SDO/AIA", "AIA_4", "DN"
        h["T_OBS"] = time
        h["WAVELNTH"] = wavelength
        h["EXPTIME"] = exptime
    h["DATE-OBS"] = time
    return h


def make_image(header, n=512):
    """The truth sampled at the pixel centres of ``header``'s WCS (astropy, independent of euv2mag)."""
    wcs = WCS(header)
    y, x = np.mgrid[0:n, 0:n]
    lon, lat = wcs.pixel_to_world_values(x, y)
    tx = (np.mod(lon + 180.0, 360.0) - 180.0) * 3600.0
    ty = lat * 3600.0
    return truth(tx, ty)


def write_fits(path, instrument="hmi", *, n=512, compressed=True, data=None, drop=(), scale=1.0, **kw):
    """Write a level-1-like file; returns the path."""
    header = make_header(instrument, n=n, **kw)
    image = make_image(header, n) if data is None else data
    image = image * scale
    if instrument == "aia":
        image = image * header["EXPTIME"]
    for key in drop:
        header.remove(key, ignore_missing=True)
    if compressed:
        hdul = fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data=image.astype(np.float32), header=header, quantize_level=-0.01)])
    else:
        hdul = fits.HDUList([fits.PrimaryHDU(data=image.astype(np.float32), header=header)])
    hdul.writeto(path, overwrite=True)
    return path
