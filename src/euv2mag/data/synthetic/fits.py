"""Level-1-like FITS files of synthetic frames (``euv2mag synth --fits-dir``).

Seen from Earth, an SDO-like AIA 304 / HMI LOS pair per frame (below).  Seen from another
observer (:mod:`euv2mag.data.synthetic.observers`), one 304 A EUV file per frame in the
conventions of the instrument such an observer carries (:func:`write_view_fits`): STEREO-A/B
get EUVI-like SECCHI files (``euvi_304_A_YYYYMMDD_HHMMSS.fits``: ``INSTRUME`` = SECCHI,
``DETECTOR`` = EUVI, ``OBSRVTRY`` = STEREO_A/B, apparent radius in ``RSUN``, roll ``CROTA`` = 0
and an identity ``PCi_j``,
``EXPTIME`` = 16 s), any other observer EUI/FSI-like files (``eui_fsi304_YYYYMMDD_HHMMSS.fits``:
``OBSRVTRY`` = Solar Orbiter, ``TELESCOP`` = SOLO/EUI/FSI, ``RSUN_ARC``, ``XPOSURE`` = 6 s), both
with ``HGLN_OBS``/``HGLT_OBS``/``DSUN_OBS``, ``CRLN_OBS``/``CRLT_OBS``, ``DATE-OBS`` (start) and
``DATE-AVG`` (the frame time) and data in float DN = the store's DN/s x exposure (the same
synthetic response as the AIA-like files: no instrument cross-calibration, no saturation).
No magnetogram is written for those observers (no magnetograph flies there); the truth is the
store.  ``euv2mag prepare --euv`` reads these files back into the observer's store frames.

Files (one pair per frame, written atomically): ``aia_304_YYYYMMDD_HHMMSS.fits`` and
``hmi_m_YYYYMMDD_HHMMSS.fits``, each a primary HDU of float32 at the requested ``--size``.

Header keywords (both instruments)
----------------------------------
``CTYPE1/2`` = HPLN-TAN / HPLT-TAN, ``CUNIT1/2`` = arcsec, ``CDELT1/2`` (arcsec/px, equal to the
store's ``cdelt_arcsec``), ``CRPIX1/2`` = disk centre (1-based, deliberately off the image centre
by 1-3 whole px, deterministic per frame; the data are the store frame's arrays moved by
that many pixels, so a prepared file reproduces the store exactly), ``CRVAL1/2`` = 0 (the disk centre), ``CROTA2``,
``RSUN_OBS`` (arcsec), ``R_SUN`` (px), ``RSUN_REF`` = 695 700 000 m (the IAU radius of the store's apparent radius;
the keys are :func:`euv2mag.data.maps.wcs_header`'s, shared with prediction files),
``DSUN_OBS`` (m), ``CRLN_OBS`` / ``CRLT_OBS`` (Carrington lon / lat of disk centre, deg),
``HGLN_OBS`` = 0, ``HGLT_OBS`` = ``CRLT_OBS``, ``DATE-OBS`` and ``T_OBS`` (ISO 8601 UTC),
``TIMESYS`` = UTC, ``TELESCOP``, ``INSTRUME``, ``WAVELNTH``, ``WAVEUNIT``, ``QUALITY`` = 0, ``BUNIT``,
``LVL_NUM`` = 1.0, ``ORIGIN`` = euv2mag synthetic.

AIA: ``TELESCOP`` = SDO/AIA, ``INSTRUME`` = AIA_4, ``WAVELNTH`` = 304, ``EXPTIME`` = 2.9 s,
``BUNIT`` = DN, data in DN (= DN/s x EXPTIME, saturating at 16383), ``CROTA2`` = 0, off-limb rim
emission included (no NaN).  ``DATE-OBS`` is the start of the exposure, ``T_OBS`` its middle (the
frame time).

HMI: ``TELESCOP`` = SDO/HMI, ``INSTRUME`` = HMI_FRONT2, ``CONTENT`` = MAGNETOGRAM,
``WAVELNTH`` = 6173, ``BUNIT`` = Gauss, ``CROTA2`` = 180.0: the image is stored rotated by 180 deg
(solar north down, as on board), so ``CRPIX`` refers to the rotated array; off-disk NaN.
``DATE-OBS`` = ``T_OBS`` = the frame time.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ..._io import atomic_path
from ...geometry import DiskGeometry
from .euv import EXPTIME_S

__all__ = ["fits_names", "fits_offsets", "write_fits_pair", "observer_header", "view_fits_names", "write_view_fits",
           "EUVI_EXPTIME_S", "EUI_XPOSURE_S"]

#: Exposure times (s) of the EUVI-like and EUI/FSI-like 304 A files (a power of two for EUVI, so
#: DN = DN/s x exposure and back is exact in float32; EUI's 6 s as in the real header).
EUVI_EXPTIME_S = 16.0
EUI_XPOSURE_S = 6.0


def fits_names(time_iso: str) -> tuple[str, str]:
    """(AIA, HMI) file names of the frame at ``time_iso``."""
    stamp = time_iso[:19].replace("-", "").replace(":", "").replace("T", "_")
    return f"aia_304_{stamp}.fits", f"hmi_m_{stamp}.fits"


def fits_offsets(seed: int, key: int) -> tuple[int, int, int, int]:
    """Deterministic integer disk-centre offsets (px) ``(dx_aia, dy_aia, dx_hmi, dy_hmi)`` in [-3, 3], not 0."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 5, int(key)])
    values = rng.integers(1, 4, 4) * rng.choice([-1, 1], 4)
    return tuple(int(v) for v in values)


def _shift(image: np.ndarray, dx: int, dy: int, fill: float) -> np.ndarray:
    """``image`` moved by ``dx`` columns and ``dy`` rows (integers), uncovered pixels = ``fill``."""
    out = np.full_like(image, fill)
    ny, nx = image.shape
    src = image[max(0, -dy):ny - max(0, dy), max(0, -dx):nx - max(0, dx)]
    out[max(0, dy):max(0, dy) + src.shape[0], max(0, dx):max(0, dx) + src.shape[1]] = src
    return out


def _header(geometry: DiskGeometry, crpix: tuple[float, float], crota2: float, time_obs: str, date_obs: str,
            hgln_deg: float = 0.0):
    """The frame's WCS and observer keys (:func:`euv2mag.data.maps.wcs_header`, the disk centre
    at 1-based ``crpix``) with the SDO keys of these files (``DATE-OBS`` the exposure start)."""
    from ..maps import wcs_header

    centred = dataclasses.replace(geometry, center_px=(crpix[0] - 1.0, crpix[1] - 1.0))
    h = wcs_header(centred, hgln_deg=hgln_deg)
    for key in ("NAXIS", "NAXIS1", "NAXIS2"):  # the data written set them
        h.remove(key)
    h["DATE-OBS"] = (date_obs, "start of observation, UTC")
    h["T_OBS"] = (time_obs, "observation time (mid exposure), UTC")
    h["TIMESYS"] = "UTC"
    h["CROTA2"] = (crota2, "deg")
    h["QUALITY"] = 0
    h["LVL_NUM"] = 1.0
    h["ORIGIN"] = "euv2mag synthetic Sun"
    return h


def observer_header(geometry: DiskGeometry, hgln_deg: float):
    """The WCS and observer keywords of a frame seen from Stonyhurst longitude ``hgln_deg``.

    As the files of :func:`write_fits_pair` (disk centred at ``geometry.center_px``, no roll),
    with ``HGLN_OBS = hgln_deg``: a header sunpy places the frame's pixels with, for any
    observer of :mod:`euv2mag.data.synthetic.observers`.
    """
    cx, cy = geometry.center_px
    h = _header(geometry, (cx + 1, cy + 1), 0.0, geometry.time, geometry.time, hgln_deg)
    h["NAXIS"], h["NAXIS1"], h["NAXIS2"] = 2, geometry.shape[1], geometry.shape[0]
    return h


def write_fits_pair(fits_dir: Path, params, t_mjd: float, geometry: DiskGeometry, euv: np.ndarray,
                    mag: np.ndarray) -> tuple[Path, Path]:
    """Write the AIA and HMI files of one store frame atomically.

    The images are the store frame's own arrays (bit-identical data) moved by a few whole pixels,
    so the disk centre (``CRPIX``) is off the image centre; HMI is then rotated by 180 deg.

    Parameters
    ----------
    fits_dir : Path
        Output folder.
    params : SynthParams
        Generator parameters (seed for the offsets).
    t_mjd : float
        Frame time (MJD, UTC).
    geometry : DiskGeometry
        The store frame's geometry (centred disk).
    euv, mag : (N, N) ndarray
        The frame's EUV (DN/s) and LOS field (G), NaN off disk.
    """
    from astropy.io import fits
    from astropy.time import Time

    from .euv import offlimb_rim

    fits_dir = Path(fits_dir)
    fits_dir.mkdir(parents=True, exist_ok=True)
    key = int(round(t_mjd * 86400.0))
    dxa, dya, dxh, dyh = fits_offsets(params.seed, key)
    cx, cy = geometry.center_px
    t_iso = Time(t_mjd, format="mjd", scale="utc").isot
    aia_name, hmi_name = fits_names(t_iso)

    g_aia = dataclasses.replace(geometry, center_px=(cx + dxa, cy + dya))
    image = _shift(np.asarray(euv, dtype=np.float32), dxa, dya, np.nan)
    image = np.where(np.isfinite(image), image, offlimb_rim(g_aia)).astype(np.float32)
    start = Time(t_mjd - EXPTIME_S / 2 / 86400.0, format="mjd", scale="utc").isot
    h = _header(g_aia, (cx + dxa + 1, cy + dya + 1), 0.0, t_iso, start)
    h["TELESCOP"], h["INSTRUME"] = "SDO/AIA", "AIA_4"
    h["WAVELNTH"], h["WAVEUNIT"] = 304, "angstrom"
    h["EXPTIME"] = (EXPTIME_S, "exposure time, s")
    h["BUNIT"] = "DN"
    h["PIXLUNIT"] = "DN"
    aia_path = fits_dir / aia_name
    with atomic_path(aia_path) as tmp:
        fits.PrimaryHDU(np.clip(image * np.float32(EXPTIME_S), 0, 16383).astype(np.float32), header=h).writeto(tmp)

    # HMI: move the disk so that, after the 180 deg rotation, its centre is at (cx + dxh, cy + dyh).
    hx, hy = cx + dxh, cy + dyh
    rotated = _shift(np.asarray(mag, dtype=np.float32), -dxh, -dyh, np.nan)[::-1, ::-1]
    h = _header(geometry, (hx + 1, hy + 1), 180.0, t_iso, t_iso)
    h["TELESCOP"], h["INSTRUME"] = "SDO/HMI", "HMI_FRONT2"
    h["CONTENT"] = "MAGNETOGRAM"
    h["WAVELNTH"], h["WAVEUNIT"] = 6173.0, "angstrom"
    h["BUNIT"] = "Gauss"
    hmi_path = fits_dir / hmi_name
    with atomic_path(hmi_path) as tmp:
        fits.PrimaryHDU(np.ascontiguousarray(rotated, dtype=np.float32), header=h).writeto(tmp)
    return aia_path, hmi_path


def view_fits_names(observer, time_iso: str) -> tuple[str, ...]:
    """File names of the frame at ``time_iso`` seen by ``observer`` (AIA/HMI pair for Earth)."""
    if observer.kind == "earth":
        return fits_names(time_iso)
    stamp = time_iso[:19].replace("-", "").replace(":", "").replace("T", "_")
    if observer.kind in ("stereo-a", "stereo-b"):
        return (f"euvi_304_{observer.kind[-1].upper()}_{stamp}.fits",)
    return (f"eui_fsi304_{stamp}.fits",)


def write_view_fits(fits_dir: Path, params, t_mjd: float, geometry: DiskGeometry, euv: np.ndarray, mag: np.ndarray,
                    observer, hgln_deg: float) -> tuple[Path, ...]:
    """Write the files of one frame seen by ``observer`` (module docstring); returns their paths.

    Earth: :func:`write_fits_pair`.  Other observers: one EUVI-like or EUI/FSI-like 304 A file
    whose data are the store frame's ``euv`` (DN/s) x the exposure, moved by a few whole pixels
    (the disk centre off the image centre, as for AIA) with the off-limb rim filled in.
    """
    from astropy.io import fits
    from astropy.time import Time

    from .euv import offlimb_rim

    if observer.kind == "earth":
        return write_fits_pair(fits_dir, params, t_mjd, geometry, euv, mag)
    fits_dir = Path(fits_dir)
    fits_dir.mkdir(parents=True, exist_ok=True)
    key = int(round(t_mjd * 86400.0))
    dx, dy, _, _ = fits_offsets(params.seed, key)
    cx, cy = geometry.center_px
    shifted = dataclasses.replace(geometry, center_px=(cx + dx, cy + dy))
    image = _shift(np.asarray(euv, dtype=np.float32), dx, dy, np.nan)
    image = np.where(np.isfinite(image), image, offlimb_rim(shifted)).astype(np.float32)
    t_iso = Time(t_mjd, format="mjd", scale="utc").isot
    stereo = observer.kind in ("stereo-a", "stereo-b")
    exposure = EUVI_EXPTIME_S if stereo else EUI_XPOSURE_S
    start = Time(t_mjd - exposure / 2 / 86400.0, format="mjd", scale="utc").isot
    h = _header(shifted, (cx + dx + 1, cy + dy + 1), 0.0, t_iso, start, hgln_deg)
    for key_name in ("T_OBS", "CROTA2", "RSUN_OBS", "R_SUN", "QUALITY"):  # SDO conventions these instruments do not use
        h.remove(key_name, ignore_missing=True)
    h["DATE-AVG"] = (t_iso, "mid exposure, UTC")
    h["CROTA"] = (0.0, "deg")
    for i, j in ((1, 1), (1, 2), (2, 1), (2, 2)):  # both instruments write the roll as a PC matrix too
        h[f"PC{i}_{j}"] = 1.0 if i == j else 0.0
    h["WAVELNTH"], h["WAVEUNIT"] = 304, "angstrom"
    h["BUNIT"] = "DN"
    if stereo:
        h["OBSRVTRY"] = "STEREO_" + observer.kind[-1].upper()
        h["INSTRUME"], h["DETECTOR"] = "SECCHI", "EUVI"
        h["RSUN"] = (shifted.rsun_arcsec, "apparent solar radius, arcsec")
        h["EXPTIME"] = (exposure, "exposure time, s")
    else:
        h["OBSRVTRY"], h["TELESCOP"] = "Solar Orbiter", "SOLO/EUI/FSI"
        h["INSTRUME"], h["DETECTOR"] = "EUI", "FSI"
        h["RSUN_ARC"] = (shifted.rsun_arcsec, "apparent photospheric solar radius, arcsec")
        h["XPOSURE"] = (exposure, "total effective exposure time, s")
        h["DATE-BEG"] = (start, "start of observation, UTC")
    (name,) = view_fits_names(observer, t_iso)
    path = fits_dir / name
    with atomic_path(path) as tmp:
        fits.PrimaryHDU((image * np.float32(exposure)).astype(np.float32), header=h).writeto(tmp)
    return (path,)
