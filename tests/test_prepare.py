"""`euv2mag prepare`: pairing, skip report, strict mode, bad input, resume (euv2mag.data.prepare)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import fits_factory as ff
from euv2mag.cli import main
from euv2mag.data.store import FrameStore


def _run(capsys, *argv):
    rc = main(["prepare", "--no-progress", *map(str, argv)])
    captured = capsys.readouterr()
    return rc, captured.err.strip().splitlines()


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if "staging" in p.name or "partial" in p.name)


def test_pairs_aia_and_hmi_and_reports_unpaired(tmp_path, capsys):
    hmi1 = ff.write_fits(tmp_path / "h1.fits", time="2016-07-07T01:00:08.000")
    hmi2 = ff.write_fits(tmp_path / "h2.fits", time="2016-07-07T13:00:08.000")
    aia1 = ff.write_fits(tmp_path / "a1.fits", "aia", time="2016-07-07T01:00:40.000", crota2=0.0)
    aia3 = ff.write_fits(tmp_path / "a3.fits", "aia", time="2016-07-07T13:05:00.000", crota2=0.0)
    out = tmp_path / "out.zarr"
    rc, err = _run(capsys, "--aia", aia1, aia3, "--hmi", hmi1, hmi2, out, "--size", 128)
    assert rc == 0, err
    store = FrameStore(out)
    assert store.n_frames == 1 and store.has("euv") and store.has("mag") and store.kind == "prepared"
    assert store.times[0].startswith("2016-07-07T01:00:08")
    mag, euv = store.read("mag", 0), store.read("euv", 0)
    both = np.isfinite(mag) & np.isfinite(euv)
    assert np.corrcoef(mag[both], euv[both])[0, 1] > 0.999  # the same analytic Sun in both
    report = pd.read_csv(str(out) + ".skipped.csv")
    assert sorted(report["file"].map(lambda p: p.split("/")[-1])) == ["a3.fits", "h2.fits"]
    assert set(report["reason"]) == {"no HMI frame within 60 s", "no AIA frame within 60 s"}
    assert list(store.table("skipped").columns) == ["file", "instrument", "time", "reason"]
    assert store.attrs["provenance"]["frames"][0]["hmi"].endswith("h1.fits")
    # a wider tolerance pairs the second set too (new params: another output)
    rc, err = _run(capsys, "--aia", aia1, aia3, "--hmi", hmi1, hmi2, tmp_path / "wide.zarr", "--size", 128, "--pair-tolerance", "10min")
    assert rc == 0 and FrameStore(tmp_path / "wide.zarr").n_frames == 2


def test_hmi_only_store_has_only_mag(tmp_path, capsys, test_data):
    out = tmp_path / "hmi.zarr"
    rc, err = _run(capsys, "--hmi", test_data, out, "--size", 128)
    assert rc == 0, err
    store = FrameStore(out)
    assert store.image_arrays == ("mag",) and store.n_frames == 2
    assert list(store.times) == ["2016-07-07T00:59:32.326", "2019-06-21T05:59:31.187"]
    assert store.geometry(0).rsun_px == 49.0 and store.geometry(0).b0_deg == pytest.approx(3.55603456)


def _bad_files(tmp_path):
    good = ff.write_fits(tmp_path / "good.fits", n=128)
    trunc = tmp_path / "truncated.fits"
    trunc.write_bytes(good.read_bytes()[: 2880 * 3 + 1000])
    notfits = tmp_path / "notfits.fits"
    notfits.write_text("this is not a FITS file\n")
    nogeo = ff.write_fits(tmp_path / "nogeo.fits", n=128, drop=("CRLN_OBS",))
    nanonly = ff.write_fits(tmp_path / "nan.fits", n=128, data=np.full((128, 128), np.nan), compressed=False,
                            time="2016-07-08T00:00:00.000")
    aia171 = ff.write_fits(tmp_path / "aia171.fits", "aia", n=128, wavelength=171)
    return {
        "hmi": [(trunc, "truncated"), (notfits, "not a FITS file"), (nogeo, "lacks geometry keyword(s) CRLN_OBS"),
                (nanonly, "NaN-only")],
        "aia": [(aia171, "is AIA 171 A, not 304 A")],
    }


@pytest.mark.parametrize("index", range(5))
def test_bad_file_strict_is_one_line_error_and_no_output(tmp_path, capsys, index):
    cases = [(k, f, why) for k, items in _bad_files(tmp_path).items() for f, why in items]
    instrument, path, why = cases[index]
    out = tmp_path / "out.zarr"
    rc, err = _run(capsys, f"--{instrument}", path, out, "--size", 64, "--strict")
    assert rc == 2 and len(err) == 1
    assert str(path) in err[0] and why in err[0] and "Traceback" not in err[0]
    assert not out.exists() and _leftovers(tmp_path) == []
    # without --strict the only file is skipped: still one line, and the reason is in the report
    rc, err = _run(capsys, f"--{instrument}", path, out, "--size", 64)
    assert rc == 2 and len(err) == 1 and why in err[0]
    assert not out.exists() and _leftovers(tmp_path) == []
    report = pd.read_csv(str(out) + ".skipped.csv")
    assert report["file"].tolist() == [str(path)] and why in report["reason"][0]


def test_bad_files_are_skipped_good_one_kept(tmp_path, capsys):
    bad = _bad_files(tmp_path)
    good = tmp_path / "good.fits"
    out = tmp_path / "out.zarr"
    rc, err = _run(capsys, "--hmi", good, *[p for p, _ in bad["hmi"]], out, "--size", 64)
    assert rc == 0, err
    assert FrameStore(out).n_frames == 1
    report = pd.read_csv(str(out) + ".skipped.csv")
    assert len(report) == 4
    for path, why in bad["hmi"]:
        assert why in report.loc[report["file"] == str(path), "reason"].item()
    assert FrameStore(out).table("skipped").shape == (4, 4)
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "option, message",
    [(["--size", "1000"], "--size: expected a power of two"), (["--rsun-px", "-3"], "--rsun-px"),
     (["--rsun-px", "600", "--size", "1024"], "--rsun-px: must lie in"), (["--pair-tolerance", "soon"], "--pair-tolerance"),
     (["--quality-ignore", "zz"], "--quality-ignore")],
)
def test_bad_option_is_one_line(tmp_path, capsys, option, message):
    good = ff.write_fits(tmp_path / "good.fits", n=64)
    rc, err = _run(capsys, "--hmi", good, tmp_path / "o.zarr", *option)
    assert rc == 2 and len(err) == 1 and message in err[0]
    assert not (tmp_path / "o.zarr").exists()


def test_missing_input_and_foreign_output(tmp_path, capsys):
    rc, err = _run(capsys, "--hmi", tmp_path / "nope.fits", tmp_path / "o.zarr")
    assert rc == 2 and len(err) == 1 and f"--hmi: {tmp_path / 'nope.fits'}: no such file" in err[0]
    (tmp_path / "x.zarr").write_text("not a store")
    good = ff.write_fits(tmp_path / "good.fits", n=64)
    rc, err = _run(capsys, "--hmi", good, tmp_path / "x.zarr", "--size", 64)
    assert rc == 2 and "is not an euv2mag store" in err[0]


def test_interrupted_run_resumes(tmp_path, capsys, monkeypatch):
    import euv2mag.data.prepare as prep

    files = [ff.write_fits(tmp_path / f"h{i}.fits", n=96, time=f"2016-07-0{i + 1}T00:00:00.000") for i in range(3)]
    out = tmp_path / "out.zarr"
    calls = []
    real = prep._prepare_frame
    interrupt = [True]

    def flaky(frame, *args):
        calls.append(frame.time)
        if len(calls) == 2 and interrupt[0]:
            interrupt[0] = False
            raise KeyboardInterrupt
        return real(frame, *args)

    monkeypatch.setattr(prep, "_prepare_frame", flaky)
    rc = main(["prepare", "--no-progress", "--hmi", *map(str, files), str(out), "--size", "64"])
    assert rc == 130 and not out.exists()  # only the hidden staging store exists
    calls.clear()
    rc = main(["prepare", "--no-progress", "--hmi", *map(str, files), str(out), "--size", "64"])
    assert rc == 0 and len(calls) == 2  # the frame written before the interruption is not redone
    store = FrameStore(out)
    assert store.complete and store.n_frames == 3 and _leftovers(tmp_path) == []
    capsys.readouterr()
    assert main(["prepare", "--no-progress", "--hmi", *map(str, files), str(out), "--size", "64"]) == 0
    assert "already complete" in capsys.readouterr().out
    rc, err = _run(capsys, "--hmi", *files, out, "--size", 128)
    assert rc == 2 and "other inputs or options" in err[0]


@pytest.mark.slow
def test_synthetic_fits_round_trip(tmp_path, capsys):
    """synth --fits-dir -> prepare reproduces the synthetic store (issue 3: pixel CC > 0.99).

    The synthetic FITS files hold the store's frames moved by whole pixels (CRPIX off-centre),
    HMI rotated by 180 deg (CROTA2) and AIA in DN with EXPTIME; prepare must undo all of it.
    """
    synth = pytest.importorskip("euv2mag.cli.synth")
    assert synth is not None
    store, fits_dir, out = tmp_path / "s.zarr", tmp_path / "fits", tmp_path / "p.zarr"
    rc = main(["synth", str(store), "--start", "2014-03-01", "--end", "2014-03-01T12:00", "--cadence", "12h",
               "--size", "128", "--seed", "3", "--fits-dir", str(fits_dir)])
    assert rc == 0
    rc, err = _run(capsys, "--aia", fits_dir / "aia_*.fits", "--hmi", fits_dir / "hmi_*.fits", out, "--size", 128)
    assert rc == 0, err
    truth, prepared = FrameStore(store), FrameStore(out)
    assert prepared.n_frames == truth.n_frames == 2
    assert list(prepared.times) == list(truth.times)
    for i in range(2):
        gt, gp = truth.geometry(i), prepared.geometry(i)
        assert gp.rsun_px == pytest.approx(gt.rsun_px, abs=1e-9)
        assert gp.cdelt_arcsec == pytest.approx(gt.cdelt_arcsec, rel=1e-9)
        assert gp.b0_deg == pytest.approx(gt.b0_deg, abs=1e-6) and gp.l0_deg == pytest.approx(gt.l0_deg, abs=1e-6)
        assert gp.dsun_m == pytest.approx(gt.dsun_m, rel=1e-9)
        inside = gt.rho < 0.98
        for name in ("euv", "mag"):
            a, b = truth.read(name, i), prepared.read(name, i)
            keep = inside & np.isfinite(a) & np.isfinite(b)
            assert keep.sum() > 0.99 * inside.sum()
            raw = np.corrcoef(a[keep], b[keep])[0, 1]
            assert raw > 0.99, (name, raw)
            if name == "euv":  # DN/s: EXPTIME normalisation and flux-conserving resampling
                assert float(b[keep].sum()) == pytest.approx(float(a[keep].sum()), rel=0.01)


def test_degradation_table_missing_is_one_line(tmp_path, capsys):
    aia = ff.write_fits(tmp_path / "a.fits", "aia", n=64, crota2=0.0)
    rc, err = _run(capsys, "--aia", aia, tmp_path / "o.zarr", "--size", 64, "--degradation", tmp_path / "none.txt")
    assert rc == 2 and len(err) == 1 and "cannot load the AIA degradation table" in err[0]
    assert not (tmp_path / "o.zarr").exists() and _leftovers(tmp_path) == []


def test_file_cut_inside_its_header_is_one_clear_line(tmp_path, capsys):
    """A download cut inside the compressed HDU's header: astropy's multi-line warning is not shown."""
    good = ff.write_fits(tmp_path / "good.fits", "hmi", n=64)
    cut = tmp_path / "cut.fits"
    cut.write_bytes(good.read_bytes()[:2880 + 1000])
    rc, err = _run(capsys, "--hmi", cut, tmp_path / "o.zarr", "--size", 64, "--strict")
    assert rc == 2 and len(err) == 1
    assert "cut.fits" in err[0] and "truncated or corrupt" in err[0]
    assert not (tmp_path / "o.zarr").exists()


def test_expand_paths_names_the_parameter(tmp_path):
    from euv2mag.data.prepare import expand_paths
    from euv2mag.errors import UserError

    with pytest.raises(UserError) as info:
        expand_paths([tmp_path / "nope.fits"], parameter="hmi_paths")
    assert str(info.value) == f"hmi_paths: {tmp_path / 'nope.fits'}: no such file"
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match=r"^aia_paths: .*empty: folder holds no FITS files$"):
        expand_paths([tmp_path / "empty"], parameter="aia_paths")
    with pytest.raises(UserError, match=r"^aia_paths: .*\*.fits: pattern matches no file$"):
        expand_paths([str(tmp_path / "*.fits")], parameter="aia_paths")
