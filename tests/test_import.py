"""`euv2mag import`: FITS and 8-bit PNG predictions made elsewhere, on a truth store's frames, then audited."""
from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

import fits_factory as ff
from euv2mag.errors import UserError

TIMES = ("2016-07-07T01:00:08.000", "2016-07-07T13:00:08.000")
SIZE = 128


@pytest.fixture(scope="module")
def truth(tmp_path_factory):
    """A 128^2 truth store prepared (the real `prepare`) from two HMI-like files of the analytic Sun."""
    from euv2mag.data.prepare import prepare_store

    folder = tmp_path_factory.mktemp("truth")
    files = [ff.write_fits(folder / f"hmi_{k}.fits", n=256, cdelt=8.0, crpix=(125.3, 131.7), time=t, compressed=False)
             for k, t in enumerate(TIMES)]
    prepare_store(folder / "truth.zarr", hmi_paths=files, size=SIZE, progress=False)
    return folder / "truth.zarr"


def write_other_fits(path, time, *, n=200, cdelt=11.0, crota2=33.0, dsun_factor=1.08, bunit="G", header_time=True):
    """A magnetogram of the same Sun as another program writes it (astropy only): other size, pixel
    scale, roll (CROTA2) and observer distance (DSUN_OBS; no RSUN_OBS), disk off-centre."""
    h = fits.Header()
    h["CTYPE1"], h["CTYPE2"] = "HPLN-TAN", "HPLT-TAN"
    h["CUNIT1"], h["CUNIT2"] = "arcsec", "arcsec"
    h["CRPIX1"], h["CRPIX2"] = 96.2, 104.9
    h["CRVAL1"], h["CRVAL2"] = 0.0, 0.0
    h["CDELT1"], h["CDELT2"] = cdelt, cdelt
    h["CROTA2"] = crota2
    h["RSUN_REF"] = 696000000.0
    h["DSUN_OBS"] = ff.make_header()["DSUN_OBS"] * dsun_factor
    h["HGLN_OBS"], h["HGLT_OBS"] = 0.0, 3.5
    if header_time:
        h["DATE-OBS"] = time
    h["BUNIT"] = bunit
    rsun = math.degrees(math.asin(h["RSUN_REF"] / h["DSUN_OBS"])) * 3600.0  # apparent radius, arcsec
    y, x = np.mgrid[0:n, 0:n]
    lon, lat = WCS(h).pixel_to_world_values(x, y)
    tx, ty = (np.mod(lon + 180.0, 360.0) - 180.0) * 3600.0, lat * 3600.0
    image = ff.truth(tx * ff.RSUN_ARCSEC / rsun, ty * ff.RSUN_ARCSEC / rsun)  # the same Sun, seen smaller
    if bunit == "T":
        image = image * 1e-4
    fits.PrimaryHDU(image.astype(np.float32), header=h).writeto(path)
    return path


def stamp(time: str) -> str:
    return time[:19].replace("-", "").replace(":", "").replace("T", "_")


def write_png(path, image_g, limit_g):
    """A KPL19-like 8-bit PNG of a field in G (north up as displayed)."""
    from PIL import Image

    from euv2mag.data.importing import gauss_to_png

    Image.fromarray(np.flipud(gauss_to_png(image_g, limit_g))).save(path)
    return path


def disk_cc(a, b):
    use = np.isfinite(a) & np.isfinite(b)
    return float(np.corrcoef(a[use], b[use])[0, 1]), int(use.sum())


# ---------------------------------------------------------------------------- FITS from another program
def test_fits_from_another_program_is_regridded_onto_the_truth_and_audited(truth, tmp_path):
    from euv2mag.audit import audit_stores
    from euv2mag.data import FrameStore, import_predictions

    files = [write_other_fits(tmp_path / "a.fits", "2016-07-07T01:00:28.000"),  # 20 s after the truth frame
             write_other_fits(tmp_path / "b.fits", "2016-07-07T13:00:00.000", crota2=-71.0, cdelt=9.0, bunit="T")]
    result = import_predictions(files, truth, tmp_path / "pred.zarr", tolerance_s=60, copy_inputs=True, progress=False)
    assert (result["frames"], result["skipped"], result["resumed_complete"]) == (2, 0, False)
    pred, ref = FrameStore(tmp_path / "pred.zarr"), FrameStore(truth)
    assert pred.kind == "prediction" and pred.complete and list(pred.times) == list(ref.times)
    assert pred.image_arrays == ("mag", "pred")
    np.testing.assert_array_equal(pred.read("mag", 1), ref.read("mag", 1))  # the truth, copied
    for k in range(2):
        p, t = pred.read("pred", k), ref.read("mag", k)
        rho = ref.geometry(k).rho
        assert np.isnan(p[rho > 1]).all() and np.isfinite(p[rho < 0.95]).all()  # the truth's disk
        assert np.isnan(p[rho <= 1]).sum() < 0.02 * (rho <= 1).sum()  # limb pixels the input half-covers
        cc, n = disk_cc(p, t)
        assert cc > 0.99 and n > 7000
        # flux-conserving resampling of the same Sun: the unsigned flux agrees to 2 %
        assert np.nansum(np.abs(p)) == pytest.approx(np.nansum(np.abs(t)), rel=0.02)
        assert pred.geometry(k) == ref.geometry(k)
    assert list(pred.table("imported")["file"]) == [str(f) for f in files]
    assert pred.table("imported")["dt_s"].tolist() == pytest.approx([20.0, -8.0])
    assert pred.attrs["provenance"]["frames"][1]["file"] == str(files[1])

    audit = audit_stores(truth, [tmp_path / "pred.zarr"], n_boot=0)
    assert audit.summary.mean_over_predictions.fulldisk.mean_cc > 0.95
    # a wrong roll (CROTA2 ignored) would not: the same file with its roll removed from the header
    bad = write_other_fits(tmp_path / "c.fits", TIMES[0], crota2=33.0)
    with fits.open(bad, mode="update") as hdul:
        hdul[0].header["CROTA2"] = 0.0
    import_predictions([bad], truth, tmp_path / "bad.zarr", progress=False)
    assert disk_cc(FrameStore(tmp_path / "bad.zarr").read("pred", 0), ref.read("mag", 0))[0] < 0.9


def test_the_files_that_made_the_truth_import_to_the_truth_itself(truth):
    """HMI files are FITS with a helioprojective WCS: imported, they give exactly what `prepare` gave."""
    from euv2mag.data import FrameStore, import_predictions

    folder = truth.parent
    out = folder / "same.zarr"
    import_predictions(sorted(folder.glob("hmi_*.fits")), truth, out, tolerance_s=0, progress=False)
    pred, ref = FrameStore(out), FrameStore(truth)
    assert pred.image_arrays == ("pred",)
    for k in range(2):
        np.testing.assert_array_equal(pred.read("pred", k), ref.read("mag", k))


# ---------------------------------------------------------------------------- PNG
def test_png_round_trip_at_a_known_limit_is_within_one_quantisation_step(truth, tmp_path):
    from euv2mag.data import FrameStore, import_predictions
    from euv2mag.data.importing import png_to_gauss

    limit = 100.0
    assert png_to_gauss(np.array([0, 255]), limit).tolist() == [-100.0, 100.0]
    assert png_to_gauss(np.array([128]), limit)[0] == pytest.approx(limit / 255)
    ref = FrameStore(truth)
    files = [write_png(tmp_path / f"kpl19_{stamp(t)}.png", ref.read("mag", k), limit) for k, t in enumerate(TIMES)]
    result = import_predictions(files, truth, tmp_path / "png.zarr", png_limit_g=limit, progress=False)
    assert result["frames"] == 2
    pred = FrameStore(tmp_path / "png.zarr")
    for k in range(2):
        p, t = pred.read("pred", k), ref.read("mag", k)
        assert np.array_equal(np.isnan(p), ref.geometry(k).rho > 1)  # NaN exactly off the truth's disk
        disk = np.isfinite(t)
        err = np.abs(p[disk] - np.clip(t[disk], -limit, limit))
        assert err.max() <= limit / 255 + 1e-3  # half of the 2L/255 step
        assert np.abs(p[disk]).max() == pytest.approx(limit)  # the blobs saturate at +-L
    # north up: the positive blob is in the north-west quadrant of the store (rows northward)
    p = pred.read("pred", 0)
    assert np.nanmean(p[SIZE // 2:, SIZE // 2:]) > np.nanmean(p[:SIZE // 2, SIZE // 2:])


def test_times_from_file_names():
    from euv2mag.data.importing import parse_time_pattern, time_from_name

    default = parse_time_pattern(None)
    assert time_from_name("hmi_m_720s_20160707_010000_TAI.fits", default) == "2016-07-07T01:00:00.000"
    assert time_from_name("pred-2011-01-01T12:30.png", default) == "2011-01-01T12:30:00.000"
    assert time_from_name("AIA0304_2011.png", default) is None
    assert time_from_name("AIA_20110101_1200.png", parse_time_pattern("AIA_%Y%m%d_%H%M")) == "2011-01-01T12:00:00.000"
    regex = parse_time_pattern(r"(?P<year>\d{4})_(?P<day>\d\d)_(?P<month>\d\d)h(?P<hour>\d\d)")
    assert time_from_name("x_2012_31_12h06.png", regex) == "2012-12-31T06:00:00.000"
    assert time_from_name("x_2012_31_13h06.png", regex) is None  # month 13: no time
    for bad, word in (("%Y%m%d_%Q", "%Q"), ("%H%M", "no full date"), (r"(?P<year>\d{4})", "month"), ("(?P<year>[", "regular")):
        with pytest.raises(UserError, match=word) as exc:
            parse_time_pattern(bad)
        assert exc.value.parameter == "time_pattern"


# ---------------------------------------------------------------------------- skipped files, errors
def test_unusable_files_go_to_the_skip_list_with_their_reason(truth, tmp_path):
    import pandas as pd

    from euv2mag.data import FrameStore, import_predictions

    good = write_other_fits(tmp_path / "good.fits", TIMES[0])
    late = write_other_fits(tmp_path / "late.fits", "2016-07-08T07:00:00.000")
    notime = write_other_fits(tmp_path / "undated.fits", TIMES[0], header_time=False)
    nowcs = tmp_path / "nowcs.fits"
    fits.PrimaryHDU(np.zeros((20, 20), np.float32), header=fits.Header({"DATE-OBS": TIMES[1]})).writeto(nowcs)
    volt = write_other_fits(tmp_path / "volt.fits", TIMES[1], bunit="V")
    small = write_png(tmp_path / f"small_{stamp(TIMES[1])}.png", np.zeros((64, 64)), 100)
    unnamed = write_png(tmp_path / "kpl19.png", np.zeros((SIZE, SIZE)), 100)
    second = write_other_fits(tmp_path / "second.fits", "2016-07-07T01:00:50.000")
    named = write_other_fits(tmp_path / f"named_{stamp(TIMES[1])}.fits", TIMES[1], header_time=False)
    files = [good, late, notime, nowcs, volt, small, unnamed, second, named]
    result = import_predictions(files, truth, tmp_path / "p.zarr", png_limit_g=100, progress=False)
    assert (result["frames"], result["skipped"]) == (2, 7)
    store = FrameStore(tmp_path / "p.zarr")
    assert list(store.table("imported")["file"]) == [str(good), str(named)]  # a time from the name
    assert disk_cc(store.read("pred", 1), FrameStore(truth).read("mag", 1))[0] > 0.99
    rows = pd.read_csv(result["skip_report"]).set_index("file")["reason"]
    expected = {late: "no truth frame within 60 s", notime: "no observation time", nowcs: "has no WCS",
                volt: "not a magnetic field unit", small: "is 64x64 px, the truth frames are 128x128",
                unnamed: "no time in its file name", second: f"is matched by {good}"}
    for path, text in expected.items():
        assert text in rows[str(path)], (path, rows[str(path)])
    assert len(store.table("skipped")) == 7

    with pytest.raises(UserError, match="no truth frame within 60 s") as exc:
        import_predictions([good, late], truth, tmp_path / "strict.zarr", strict=True, progress=False)
    assert exc.value.path == str(late)
    assert not (tmp_path / "strict.zarr").exists() and not (tmp_path / ".strict.zarr.staging").exists()


def test_command_line_errors_are_one_line_and_write_nothing(truth, tmp_path, capsys):
    from euv2mag.cli import main

    small = write_png(tmp_path / f"small_{stamp(TIMES[1])}.png", np.zeros((64, 64)), 100)
    out = tmp_path / "o.zarr"
    cases = [
        ([str(small), "--png-limit", "100"], f"{small}: is 64x64 px"),
        ([str(small)], "--png-limit: PNG/JPEG files"),
        ([str(small), "--png-limit", "-3"], "--png-limit: expected a field > 0"),
        ([str(small), "--png-limit", "100", "--tolerance", "soon"], "--tolerance: expected a duration"),
        ([str(small), "--png-limit", "100", "--time-pattern", "%Q"], "--time-pattern: unsupported directive %Q"),
        ([str(tmp_path / "none.fits")], "none.fits: no such file"),
    ]
    for argv, text in cases:
        assert main(["import", *argv, "--like", str(truth), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and text in err, err
        assert not out.exists() and not (tmp_path / ".o.zarr.staging").exists()
    with pytest.raises(SystemExit) as exc:
        main(["import", str(small), "--like", str(truth), "--out", str(out), "--no-such-option"])
    assert exc.value.code == 2 and "unrecognized arguments: --no-such-option" in capsys.readouterr().err


# ---------------------------------------------------------------------------- resume
def test_rerun_resumes_and_an_interrupted_run_leaves_no_store(truth, tmp_path, monkeypatch, capsys):
    from euv2mag.cli import main
    from euv2mag.data import FrameStore, importing

    files = [str(write_other_fits(tmp_path / f"{k}.fits", t)) for k, t in enumerate(TIMES)]
    out = tmp_path / "p.zarr"
    real, calls = importing.import_frame, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(importing, "import_frame", interrupted)
    argv = ["import", *files, "--like", str(truth), "--out", str(out), "--no-progress"]
    assert main(argv) == 130
    assert not out.exists() and (tmp_path / ".p.zarr.staging").exists()  # only the hidden staging store
    monkeypatch.setattr(importing, "import_frame", real)
    assert main(argv) == 0 and "2 frames" in capsys.readouterr().out
    assert not (tmp_path / ".p.zarr.staging").exists()
    assert main(argv) == 0 and "already complete" in capsys.readouterr().out
    once = tmp_path / "once.zarr"
    importing.import_predictions(files, truth, once, progress=False)
    for k in range(2):
        np.testing.assert_array_equal(FrameStore(out).read("pred", k), FrameStore(once).read("pred", k))
    assert main([*argv, "--tolerance", "5min"]) == 2  # other options: refused
    assert "made with other inputs or options" in capsys.readouterr().err
