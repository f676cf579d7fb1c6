"""STEREO/EUVI and Solar Orbiter/EUI-FSI 304 A images prepare like AIA's, from real headers.

The headers are the real ones sunpy ships in its test data (``euvi_20090615_000900_n4euA_s``:
EUVI-A, 128 px, ``CROTA`` + ``PCi_j``, ``RSUN``, observer 52 deg west of Earth at 0.956 au;
``solo_L1_eui-fsi304-image_20201021T145510206_V03``: EUI/FSI 304, 768 px, non-square pixels,
``RSUN_ARC``, ``XPOSURE``, observer 125 deg from Earth).  The image in each file is synthetic: a
uniform disk, drawn where the header's own linear WCS (``CRPIX``, ``CRVAL``, ``CDELT``,
``PCi_j``) puts the solar disk of the header's apparent radius, with this file-independent
arithmetic rather than sunpy's, so that a prepared frame whose disk is not centred with radius
``rsun_px`` exposes a wrong convention (roll keyword, radius keyword, pixel scale per axis).
"""
from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from sunpy.data.test import get_test_filepath

from euv2mag.data.fits import prepare_map, read_header, read_map
from euv2mag.data.prepare import prepare_store
from euv2mag.data.store import FrameStore
from euv2mag.errors import UserError

from fits_factory import write_fits

EUVI = "euvi_20090615_000900_n4euA_s.header"
EUI = "solo_L1_eui-fsi304-image_20201021T145510206_V03.header"
RADIUS_KEY = {EUVI: "RSUN", EUI: "RSUN_ARC"}
EXPOSURE_KEY = {EUVI: "EXPTIME", EUI: "XPOSURE"}
SIZE = 128


def real_header(name: str, **changes) -> fits.Header:
    header = fits.Header.fromtextfile(get_test_filepath(name))
    for key in ("BSCALE", "BZERO", "BLANK"):  # the synthetic image is written as float32
        header.remove(key, ignore_missing=True)
    header.update(changes)
    return header


def disk_image(header: fits.Header, radius_arcsec: float, value: float, oversample: int = 4) -> np.ndarray:
    """``value`` times the fraction of each pixel inside the disk, by the header's linear WCS."""
    ny, nx = header["NAXIS2"], header["NAXIS1"]
    pc = np.array([[header["PC1_1"], header["PC1_2"]], [header["PC2_1"], header["PC2_2"]]])
    cdelt = np.array([header["CDELT1"], header["CDELT2"]])
    crval = np.array([header["CRVAL1"], header["CRVAL2"]])
    sub = (np.arange(oversample) + 0.5) / oversample - 0.5
    px = (np.arange(nx)[:, None] + sub[None, :]).ravel() + 1.0  # 1-based FITS pixels
    py = (np.arange(ny)[:, None] + sub[None, :]).ravel() + 1.0
    dx = px[None, :] - header["CRPIX1"]
    dy = py[:, None] - header["CRPIX2"]
    sky_x = crval[0] + cdelt[0] * (pc[0, 0] * dx + pc[0, 1] * dy)
    sky_y = crval[1] + cdelt[1] * (pc[1, 0] * dx + pc[1, 1] * dy)
    inside = (sky_x**2 + sky_y**2 <= radius_arcsec**2).astype(np.float64)
    return (value * inside.reshape(ny, oversample, nx, oversample).mean(axis=(1, 3))).astype(np.float32)


def write_real_header_file(tmp_path, name: str, **changes):
    real = real_header(name)
    header = real_header(name, **changes)
    radius = float(real[RADIUS_KEY[name]])
    exposure = float(real[EXPOSURE_KEY[name]])
    image = disk_image(header, radius, value=exposure)  # 1 DN/s on the disk
    path = tmp_path / (name.split("_")[0] + ".fits")
    fits.PrimaryHDU(image, header).writeto(path, overwrite=True)
    return path, header


def measured_disk(image: np.ndarray) -> tuple[np.ndarray, float]:
    """Flux-weighted centre (x, y) and the radius of a disk of the same area, output pixels."""
    image = np.nan_to_num(image)
    total = image.sum()
    y, x = np.indices(image.shape)
    return np.array([(image * x).sum() / total, (image * y).sum() / total]), float(np.sqrt(total / np.pi))


@pytest.mark.parametrize("name", [EUVI, EUI])
def test_real_header_prepares_with_the_disk_its_header_implies(tmp_path, name):
    path, header = write_real_header_file(tmp_path, name, WAVELNTH=304)
    smap = read_map(path, "euv")
    image, geometry = prepare_map(smap, SIZE, mask_off_disk=False, path=path)
    centre, radius = measured_disk(image)
    np.testing.assert_allclose(centre, [(SIZE - 1) / 2] * 2, atol=0.5)
    assert radius == pytest.approx(geometry.rsun_px, rel=0.005)
    # 1 DN/s on the disk: the exposure (EXPTIME for EUVI, XPOSURE for EUI) was divided out
    assert np.nanmedian(image[geometry.rho < 0.9]) == pytest.approx(1.0, abs=1e-5)
    # the frame's geometry is the spacecraft's, not Earth's
    assert geometry.b0_deg == pytest.approx(header["HGLT_OBS"], abs=1e-6)
    assert geometry.l0_deg == pytest.approx(header["CRLN_OBS"], abs=1e-6)
    assert geometry.dsun_m == pytest.approx(header["DSUN_OBS"])
    assert geometry.cdelt_arcsec * geometry.rsun_px == pytest.approx(header[RADIUS_KEY[name]], rel=1e-9)
    assert str(geometry.time).startswith(header["DATE-AVG"][:19])


@pytest.mark.parametrize("name", [EUVI, EUI])
def test_carrington_longitude_from_the_stonyhurst_observer(tmp_path, name):
    """Without CRLN/CRLT_OBS, B0 and L0 come from HGLN/HGLT_OBS through sunpy.

    sunpy's Carrington longitude of an observer includes the Sun-observer light travel time
    (the Sun is seen as it was ``DSUN_OBS / c`` earlier): SECCHI's ``CRLN_OBS`` agrees with it,
    EUI's L1 ``CRLN_OBS`` does not include it and is smaller by that time times the Carrington
    rate (491 s x 14.184 deg/day = 0.081 deg at 0.985 au).
    """
    full = real_header(name, WAVELNTH=304)
    path, _ = write_real_header_file(tmp_path, name, WAVELNTH=304)
    with fits.open(path, mode="update") as hdul:
        for key in ("CRLN_OBS", "CRLT_OBS"):
            del hdul[0].header[key]
    _, geometry = prepare_map(read_map(path, "euv"), 64, path=path)
    assert geometry.b0_deg == pytest.approx(full["CRLT_OBS"], abs=1e-3)
    light_time_deg = full["DSUN_OBS"] / 299792458.0 / 86400.0 * 360.0 / 25.38
    expected = full["CRLN_OBS"] + (light_time_deg if name == EUI else 0.0)
    assert geometry.l0_deg == pytest.approx(expected, abs=0.003)


def test_euv_only_store_from_both_spacecraft(tmp_path):
    euvi, h1 = write_real_header_file(tmp_path, EUVI, WAVELNTH=304)
    eui, h2 = write_real_header_file(tmp_path, EUI)
    result = prepare_store(tmp_path / "far.zarr", euv_paths=[str(euvi), str(eui)], size=64, progress=False)
    assert result["frames"] == 2 and result["skipped"] == 0
    store = FrameStore(tmp_path / "far.zarr")
    assert store.image_arrays == ("euv",)
    frames = store.attrs["provenance"]["frames"]
    assert [f["euv_instrument"] for f in frames] == ["euvi", "eui"]  # 2009 before 2020
    assert [store.geometry(i).dsun_m for i in range(2)] == pytest.approx([h1["DSUN_OBS"], h2["DSUN_OBS"]])
    disk = store.read("euv", 1)
    assert np.nanmedian(disk) == pytest.approx(1.0, abs=1e-4)


def test_euvi_does_not_pair_with_hmi(tmp_path):
    euvi, _ = write_real_header_file(tmp_path, EUVI, WAVELNTH=304)
    hmi = write_fits(tmp_path / "hmi.fits", "hmi", n=128, time="2009-06-15T00:09:08.000")
    aia = write_fits(tmp_path / "aia.fits", "aia", n=128, time="2009-06-15T00:09:08.000")
    result = prepare_store(tmp_path / "pairs.zarr", euv_paths=[str(euvi), str(aia)], hmi_paths=[str(hmi)], size=64, progress=False)
    assert result["frames"] == 1  # AIA + HMI
    skipped = FrameStore(tmp_path / "pairs.zarr").table("skipped")
    assert list(skipped["instrument"]) == ["euvi"]
    assert "do not pair with HMI (another observer)" in skipped["reason"].iloc[0]


@pytest.mark.parametrize(
    "name, changes, expect, message",
    [
        (EUVI, {}, "euv", "is EUVI 171 A, not 304 A"),  # the real header is a 171 A image
        (EUI, {"DETECTOR": "HRI_EUV"}, "euv", "is EUI/HRI_EUV, not a full-disk EUV imager"),
        (EUI, {"XPOSURE": 0.0}, "euv", "has XPOSURE=0.0; cannot normalise to DN/s"),
        (EUI, {"DSUN_OBS": 6.0e8}, "euv", "the observer would be inside the Sun"),
        (EUVI, {"WAVELNTH": 304}, "aia", "is not an AIA file (EUVI)"),
        (EUVI, {"WAVELNTH": 304, "RSUN": ""}, "euv", "lacks geometry keyword(s) RSUN"),
        (EUI, {"HGLN_OBS": "", "CRLN_OBS": ""}, "euv", "lacks geometry keyword(s) HGLN_OBS"),
    ],
)
def test_bad_euv_headers_are_named(tmp_path, name, changes, expect, message):
    path, _ = write_real_header_file(tmp_path, name, **changes)
    with pytest.raises(UserError) as err:
        read_header(path, expect=expect)
    assert str(err.value).startswith(str(path)) and message in str(err.value)


def test_coronagraph_is_refused(tmp_path):
    header = real_header("cor1_20090615_000500_s4c1A.header")
    path = tmp_path / "cor1.fits"
    fits.PrimaryHDU(np.ones((header["NAXIS2"], header["NAXIS1"]), np.float32), header).writeto(path)
    with pytest.raises(UserError, match="is SECCHI/COR1, not a full-disk EUV imager"):
        read_header(path, expect="euv")


def test_cli_prepare_euv(tmp_path, capsys):
    from euv2mag.cli import main

    euvi, _ = write_real_header_file(tmp_path, EUVI, WAVELNTH=304)
    out = tmp_path / "cli.zarr"
    assert main(["prepare", "--euv", str(euvi), "--size", "64", "--no-progress", str(out)]) == 0
    assert "1 frames" in capsys.readouterr().out
    assert main(["prepare", "--aia", str(euvi), "--size", "64", "--no-progress", str(tmp_path / "x.zarr")]) == 2
    assert "is not an AIA file (EUVI)" in capsys.readouterr().err
