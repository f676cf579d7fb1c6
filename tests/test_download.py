"""`euv2mag download` (euv2mag.data.download): steps, nearest records, resume, checksums, manifest.

The archives cannot be reached from the test machine: a local stand-in client (same two
methods as :class:`euv2mag.data.download.FidoClient`) serves small FITS files written with the
prepare tests' factory.  The Fido path itself is only checked for the query it builds.
"""
from __future__ import annotations

import numpy as np
import pytest

import fits_factory as ff
from euv2mag.cli import main
from euv2mag.data import download as dl
from euv2mag.errors import UserError


class LocalArchive:
    """Stand-in archive: records at given times; fetch writes a small level-1-like FITS file.

    ``cut`` names record times whose file is served truncated; ``interrupt_at`` makes the n-th
    fetch (1-based) write half a file and raise KeyboardInterrupt, as a Ctrl-C mid-file would.
    """

    def __init__(self, times: dict, *, cut=(), interrupt_at=None, fail=()):
        self.times = times
        self.cut, self.fail, self.interrupt_at = set(cut), set(fail), interrupt_at
        self.searches, self.fetched = [], []

    def search(self, instrument, start, end, *, cadence_s, wavelength, tolerance_s):
        self.searches.append((instrument, start, end, cadence_s, wavelength, tolerance_s))
        lo, hi = np.datetime64(start) - np.timedelta64(int(tolerance_s), "s"), np.datetime64(end) + np.timedelta64(int(tolerance_s), "s")
        return [dl.Record(instrument, t, key=t) for t in self.times[instrument] if lo <= np.datetime64(t) <= hi]

    def fetch(self, record, path):
        self.fetched.append((record.instrument, record.time))
        if record.time in self.fail:
            raise ConnectionError("archive said 503")
        ff.write_fits(path, record.instrument, n=32, cdelt=64.0, crpix=(16.5, 16.5), compressed=False, time=record.time)
        if record.time in self.cut or len(self.fetched) == self.interrupt_at:
            data = path.read_bytes()
            path.write_bytes(data[: len(data) // 2])
            if len(self.fetched) == self.interrupt_at:
                raise KeyboardInterrupt


TIMES = {
    "aia": ["2011-01-01T00:00:07", "2011-01-01T12:00:31", "2011-01-02T00:02:00", "2011-01-02T12:00:11"],
    "hmi": ["2011-01-01T00:01:30", "2011-01-01T11:58:30", "2011-01-02T00:10:30", "2011-01-02T12:00:00"],
}


def _get(tmp_path, archive, **kw):
    kw = {"aia": 304, "hmi": True, "progress": False, **kw}
    return dl.download("2011-01-01", "2011-01-02T12:00", 12 * 3600, tmp_path / "raw", client=archive, **kw)


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_steps_and_nearest_records():
    assert dl.time_steps("2011-01-01T00:00", "2011-01-01T23:59", 6 * 3600) == [
        "2011-01-01T00:00:00", "2011-01-01T06:00:00", "2011-01-01T12:00:00", "2011-01-01T18:00:00"]
    recs = [dl.Record("aia", t) for t in ("2011-01-01T06:04:00", "2011-01-01T05:57:00", "2011-01-01T12:07:00")]
    got = dl.nearest_records(["2011-01-01T06:00:00", "2011-01-01T12:00:00"], recs, 360)
    assert got[0].time == "2011-01-01T05:57:00" and got[1] is None  # 3 min beats 4 min; 7 min > 6 min
    for bad in ({"start": "yesterday"}, {"cadence_s": 0}, {"end": "2010-12-31"}):
        args = {"start": "2011-01-01", "end": "2011-01-02", "cadence_s": 3600, **bad}
        with pytest.raises(UserError, match=next(iter(bad)).split("_")[0]):
            dl.time_steps(**args)


def test_fido_query_for_a_period():
    """The JSOC/VSO query for a period: series, segment, wavelength, sampling, time range."""
    import astropy.units as u
    from sunpy.net import attrs as a

    q = dl.fido_query("aia", "2011-01-01T00:00:00", "2011-12-31T12:00:00", cadence_s=43200, wavelength=304, email="me@x.org")
    kinds = {type(x).__name__: x for x in q}
    assert kinds["Series"].value == "aia.lev1_euv_12s" and kinds["Segment"].value == "image"
    assert kinds["Notify"].value == "me@x.org" and kinds["Sample"].value == pytest.approx(43200)
    assert kinds["Wavelength"].min.to_value(u.angstrom) == pytest.approx(304)
    assert kinds["Time"].start.isot.startswith("2011-01-01T00:00:00") and kinds["Time"].end.isot.startswith("2011-12-31T12:00:00")
    h = {type(x).__name__: x for x in dl.fido_query("hmi", "2011-01-01", "2011-01-02", cadence_s=3600, email="me@x.org")}
    assert h["Series"].value == "hmi.M_720s" and h["Segment"].value == "magnetogram" and "Wavelength" not in h
    v = dl.fido_query("hmi", "2011-01-01", "2011-01-02", cadence_s=3600, source="vso")
    assert a.Instrument("HMI") in v and a.Physobs("LOS_magnetic_field") in v
    with pytest.raises(UserError, match="email: .*EUV2MAG_JSOC_EMAIL"):
        dl.fido_query("aia", "2011-01-01", "2011-01-02", cadence_s=3600)


def test_download_writes_files_and_manifest_then_resumes_without_fetching(tmp_path):
    archive = LocalArchive(TIMES)
    result = _get(tmp_path, archive)
    out = tmp_path / "raw"
    # steps 00/12 h of two days; HMI's 2011-01-02T00:10:30 is 10.5 min from its step: missing
    assert (result["downloaded"], result["missing"], result["failed"], result["present"]) == (7, 1, 0, 0)
    # one search per instrument, over the period
    assert archive.searches[0] == ("aia", "2011-01-01T00:00:00", "2011-01-02T12:00:00", 43200.0, 304, 360.0)
    table = dl.MANIFEST.read(out)
    assert list(table.columns) == list(dl.MANIFEST.names) and len(table) == 8
    row = table[(table.instrument == "hmi") & (table.time == "2011-01-01T12:00:00")].iloc[0]
    assert row.file == "hmi_20110101T120000.fits" and row.record_time == "2011-01-01T11:58:30"
    assert row.bytes == (out / row.file).stat().st_size and row.sha256 == dl.sha256_file(out / row.file)
    miss = table[table.status == "missing"].iloc[0]
    assert (miss.instrument, miss.time, miss.message) == ("hmi", "2011-01-02T00:00:00", "no HMI record within 360 s")
    assert _leftovers(out) == []
    # re-run: everything present and valid is skipped; only the missing step is searched again
    again = LocalArchive(TIMES)
    result = _get(tmp_path, again)
    assert (result["present"], result["downloaded"], result["missing"]) == (7, 0, 1) and again.fetched == []
    assert [s[0] for s in again.searches] == ["hmi"]
    import pandas as pd

    expected = table.assign(status=table.status.replace("downloaded", "present"))
    pd.testing.assert_frame_equal(dl.MANIFEST.read(out), expected)


def test_truncated_or_changed_files_are_fetched_again(tmp_path):
    _get(tmp_path, LocalArchive(TIMES))
    out = tmp_path / "raw"
    first = dl.MANIFEST.read(out).set_index("file")
    cut, flipped = out / "aia304_20110101T000000.fits", out / "hmi_20110102T120000.fits"
    cut.write_bytes(cut.read_bytes()[:5000])  # a download cut short outside euv2mag
    data = bytearray(flipped.read_bytes())
    data[-100] ^= 0xFF  # same size, other bytes: the checksum catches it
    flipped.write_bytes(bytes(data))
    archive = LocalArchive(TIMES)
    result = _get(tmp_path, archive)
    assert sorted(archive.fetched) == [("aia", "2011-01-01T00:00:07"), ("hmi", "2011-01-02T12:00:00")]
    assert (result["downloaded"], result["present"]) == (2, 5)
    for path in (cut, flipped):
        assert dl.sha256_file(path) == first.loc[path.name, "sha256"]
    # without a manifest, files that open as complete FITS are kept, a truncated one is not;
    # when its fetch fails, the truncated file is gone rather than left for prepare
    dl.MANIFEST.path(out).unlink()
    cut.write_bytes(cut.read_bytes()[:5000])
    archive = LocalArchive(TIMES, fail={"2011-01-01T00:00:07"})
    result = _get(tmp_path, archive)
    assert archive.fetched == [("aia", "2011-01-01T00:00:07")] and (result["present"], result["failed"]) == (6, 1)
    assert not cut.exists()


def test_interrupted_mid_file_leaves_nothing_half_written_and_resumes(tmp_path):
    out = tmp_path / "raw"
    with pytest.raises(KeyboardInterrupt):
        _get(tmp_path, LocalArchive(TIMES, interrupt_at=3))
    assert _leftovers(out) == []  # neither the half file nor a lock
    files = sorted(p.name for p in out.glob("*.fits"))
    assert files == ["aia304_20110101T000000.fits", "aia304_20110101T120000.fits"]
    assert sorted(dl.MANIFEST.read(out).file.dropna()) == files
    archive = LocalArchive(TIMES)
    result = _get(tmp_path, archive)
    assert (result["present"], result["downloaded"], len(archive.fetched)) == (2, 5, 5)


def test_a_killed_run_leaves_temporaries_that_the_next_run_removes(tmp_path):
    """SIGKILL mid-fetch leaves a hidden partial file (no Python clean-up runs): the re-run removes it."""
    out = tmp_path / "raw"
    _get(tmp_path, LocalArchive({"aia": TIMES["aia"][:1], "hmi": []}), hmi=False)
    (out / ".aia304_20110101T120000.fits.x1y2.partial").write_bytes(b"SIMPLE  =    half")
    (out / ".fetch-abc").mkdir()
    archive = LocalArchive(TIMES)
    result = _get(tmp_path, archive)
    assert _leftovers(out) == [] and (result["present"], result["downloaded"]) == (1, 6)


def test_search_failure_is_one_line(tmp_path):
    class Down(LocalArchive):
        def search(self, *args, **kw):
            raise ConnectionError("Max retries exceeded with url: jsoc.stanford.edu")

    with pytest.raises(UserError, match=r"^the AIA archive search failed \(Max retries exceeded with url: jsoc.stanford.edu\); re-run"):
        _get(tmp_path, Down(TIMES))
    assert _leftovers(tmp_path / "raw") == []


def test_bad_fetches_are_failed_rows_and_retried(tmp_path):
    archive = LocalArchive(TIMES, cut={"2011-01-01T12:00:31"}, fail={"2011-01-02T12:00:00"})
    result = _get(tmp_path, archive)
    out = tmp_path / "raw"
    assert (result["failed"], result["downloaded"]) == (2, 5)
    table = dl.MANIFEST.read(out).set_index(["instrument", "time"])
    assert table.loc[("aia", "2011-01-01T12:00:00"), "message"].startswith("fetched file is truncated")
    assert table.loc[("hmi", "2011-01-02T12:00:00"), "message"] == "fetch failed: archive said 503"
    assert not (out / "aia304_20110101T120000.fits").exists() and _leftovers(out) == []
    archive = LocalArchive(TIMES)
    result = _get(tmp_path, archive)
    assert sorted(archive.fetched) == [("aia", "2011-01-01T12:00:31"), ("hmi", "2011-01-02T12:00:00")]
    assert (result["failed"], result["downloaded"], result["present"]) == (0, 2, 5)


def test_download_command(tmp_path, monkeypatch, capsys):
    archive = LocalArchive(TIMES)
    monkeypatch.setattr(dl, "FidoClient", lambda source, email: archive)
    argv = ["download", "--start", "2011-01-01", "--end", "2011-01-01T12:00", "--out", str(tmp_path / "d"), "--hmi", "--no-progress"]
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("2 downloaded, 0 already present, 0 missing, 0 failed")
    assert sorted(p.name for p in (tmp_path / "d").glob("*.fits")) == ["hmi_20110101T000000.fits", "hmi_20110101T120000.fits"]
    monkeypatch.undo()
    monkeypatch.delenv(dl.EMAIL_ENV, raising=False)
    assert main([*argv[:-1], "--aia", "304"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"euv2mag download: error: --email: JSOC exports need a registered e-mail address (give it, or set {dl.EMAIL_ENV})")
    assert main(["download", "--start", "2011-01-01", "--end", "2011-01-01", "--out", str(tmp_path / "e"), "--cadence", "soon"]) == 2
    assert "--cadence: expected a duration" in capsys.readouterr().err
