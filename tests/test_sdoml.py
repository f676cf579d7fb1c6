"""SDOML v2 Zarr stores as a `prepare` source (euv2mag.data.sdoml): same store as from FITS.

The SDOML-layout stores are written with zarr (format 2: YEAR/CHANNEL arrays of shape
(time, ny, nx), per-frame header keyword lists in the array attributes) from the same images
and headers as the FITS files of the prepare tests' factory.
"""
from __future__ import annotations

import numpy as np
import pytest
import zarr

import fits_factory as ff
from euv2mag.cli import main
from euv2mag.data.prepare import prepare_store
from euv2mag.data.store import FrameStore
from euv2mag.errors import UserError

N = 64
#: The 64^2 images are the 512^2 factory geometry binned 8x8: CDELT 4 -> 32 arcsec, CRPIX rescaled.
FULL = {"cdelt": 4.0, "crpix": (250.3, 262.7)}
BINNED = {"cdelt": 32.0, "crpix": ((250.3 - 0.5) / 8 + 0.5, (262.7 - 0.5) / 8 + 0.5)}
TIMES = {"hmi": ["2016-07-07T01:00:08.000", "2016-07-07T13:00:08.000"],
         "aia": ["2016-07-07T01:00:19.000", "2016-07-07T13:00:31.000"]}


def write_sdoml(root, instrument, *, keywords="binned", drop=(), null=None):
    """An SDOML-layout store with the factory's frames; AIA in DN/s, HMI as ``Bz`` (G)."""
    channel = "304A" if instrument == "aia" else "Bz"
    headers, images = [], []
    for t in TIMES[instrument]:
        binned = ff.make_header(instrument, n=N, crota2=0.0 if instrument == "aia" else 180.0, time=t, **BINNED)
        images.append(ff.make_image(binned, N).astype(np.float32))  # DN/s for AIA: not times EXPTIME
        header = binned if keywords == "binned" else ff.make_header(instrument, n=512, time=t, **FULL,
                                                                    crota2=0.0 if instrument == "aia" else 180.0)
        if keywords != "binned":
            header["NAXIS1"] = header["NAXIS2"] = 512  # the full-resolution original's keywords
        headers.append(header)
    group = zarr.open_group(str(root), mode="a", zarr_format=2).require_group("2016")
    array = group.create_array(channel, shape=(len(images), N, N), chunks=(1, N, N), dtype="float32", overwrite=True)
    array[:] = np.stack(images)
    attrs = {k: [h[k] for h in headers] for k in headers[0] if k not in drop and k not in ("COMMENT", "HISTORY")}
    if null:
        key, i = null
        attrs[key][i] = None
    array.attrs.update(attrs)
    return root


def fits_inputs(folder):
    out = {}
    for instrument in ("aia", "hmi"):
        out[instrument] = [
            ff.write_fits(folder / f"{instrument}{k}.fits", instrument, n=N, compressed=False, time=t,
                          crota2=0.0 if instrument == "aia" else 180.0, **BINNED)
            for k, t in enumerate(TIMES[instrument])
        ]
    return out


def test_sdoml_prepares_into_the_same_store_as_fits(tmp_path, capsys):
    files = fits_inputs(tmp_path)
    from_fits = prepare_store(tmp_path / "fits.zarr", aia_paths=files["aia"], hmi_paths=files["hmi"], size=N, progress=False)
    aia = write_sdoml(tmp_path / "sdomlv2_small.zarr", "aia", keywords="full")  # full-resolution keywords, rescaled
    hmi = write_sdoml(tmp_path / "sdomlv2_hmi.zarr", "hmi")
    out = tmp_path / "sdoml.zarr"
    assert main(["prepare", "--no-progress", "--aia", str(aia), "--hmi", str(hmi), str(out), "--size", str(N)]) == 0, capsys.readouterr().err
    a, b = FrameStore(tmp_path / "fits.zarr"), FrameStore(out)
    assert from_fits["frames"] == b.n_frames == 2 and list(a.times) == list(b.times)
    for name in ("euv", "mag"):
        for i in range(2):
            x, y = a.read(name, i), b.read(name, i)
            assert np.array_equal(np.isnan(x), np.isnan(y)) and np.isfinite(x).sum() > 1000
            np.testing.assert_allclose(y, x, rtol=2e-6, atol=1e-4 if name == "mag" else 1e-6, equal_nan=True)
    assert a.geometry(1) == b.geometry(1)
    frames = b.attrs["provenance"]["frames"]
    assert frames[1]["euv"].endswith("sdomlv2_small.zarr/2016/304A[1]") and frames[0]["hmi"].endswith("2016/Bz[0]")
    # the year group or the array itself may be given too: the same arrays
    from euv2mag.data.sdoml import sdoml_arrays

    assert sdoml_arrays(aia / "2016" / "304A", "aia") == sdoml_arrays(aia / "2016", "aia") == [str(aia / "2016" / "304A")]
    assert sdoml_arrays(hmi, "hmi") == [str(hmi / "2016" / "Bz")]


def test_missing_attribute_is_one_line_and_nothing_is_written(tmp_path, capsys):
    hmi = write_sdoml(tmp_path / "hmi.zarr", "hmi", drop=("CRLN_OBS",))
    out = tmp_path / "out.zarr"
    with pytest.raises(UserError) as exc:
        prepare_store(out, hmi_paths=[hmi], size=N, progress=False)
    assert str(exc.value) == f"{hmi}/2016/Bz: SDOML array lacks the attribute CRLN_OBS"
    assert main(["prepare", "--no-progress", "--hmi", str(hmi), str(out), "--size", str(N)]) == 2
    err = capsys.readouterr().err
    assert err == f"euv2mag prepare: error: {hmi}/2016/Bz: SDOML array lacks the attribute CRLN_OBS\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hmi.zarr"]  # no store, staging or report
    with pytest.raises(UserError, match="holds no SDOML AIA array 304A"):
        prepare_store(out, aia_paths=[hmi], size=N, progress=False)


def test_cadence_selection_builds_only_the_chosen_frames(tmp_path):
    from euv2mag.data.sdoml import read_sdoml_headers

    aia = write_sdoml(tmp_path / "aia.zarr", "aia")
    heads, skipped = read_sdoml_headers(aia, "aia", cadence_s=12 * 3600)
    assert [h.hdu for h in heads] == [0, 1] and skipped == []
    heads, _ = read_sdoml_headers(aia, "aia", cadence_s=24 * 3600)  # one step: the first frame only
    assert [h.time for h in heads] == ["2016-07-07T01:00:19.000"]
    with pytest.raises(UserError, match="sdoml_cadence_s: must be at least 1 s"):
        prepare_store(tmp_path / "o.zarr", aia_paths=[aia], size=N, sdoml_cadence_s=0, progress=False)


def test_a_frame_with_a_null_value_is_skipped_and_degradation_is_refused(tmp_path):
    aia = write_sdoml(tmp_path / "aia.zarr", "aia", null=("CRLT_OBS", 1))
    result = prepare_store(tmp_path / "out.zarr", aia_paths=[aia], size=N, progress=False)
    assert (result["frames"], result["skipped"]) == (1, 1)
    row = FrameStore(tmp_path / "out.zarr").table("skipped").iloc[0]
    assert row["file"] == f"{aia}/2016/304A[1]" and row["reason"] == "header lacks geometry keyword(s) CRLT_OBS"
    with pytest.raises(UserError, match="degradation: SDOML AIA images are already degradation-corrected"):
        prepare_store(tmp_path / "d.zarr", aia_paths=[aia], size=N, degradation="JSOC", progress=False)
