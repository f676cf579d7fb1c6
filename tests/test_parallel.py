"""Per-frame work on a Dask cluster (euv2mag.parallel): same outputs as serial, bad schedulers refused.

One LocalCluster of two worker processes serves the module (fixture ``cluster``); the jobs reach
it by its ``tcp://`` address, as they would reach a cluster on SLURM or Kubernetes.  One test
starts its own ``--scheduler local --workers 2`` cluster through the command line (the issue's
acceptance check), one a cluster whose workers cannot import euv2mag.
"""
from __future__ import annotations

import hashlib
import logging
import socket
from pathlib import Path

import numpy as np
import pytest

import fits_factory as ff
from euv2mag.cli import main
from euv2mag.data.store import FrameStore, StoreWriter
from euv2mag.errors import UserError
from euv2mag.geometry import DiskGeometry, default_rsun_px
from euv2mag.parallel import ClusterLost, FrameMap, check_scheduler, local_cluster, local_cpu_count

distributed = pytest.importorskip("distributed")

SIZE = 64
N = 6


@pytest.fixture(scope="module")
def cluster():
    """Address of a quiet two-process LocalCluster, shared by the module's tests."""
    with local_cluster(2) as lc:
        yield lc.scheduler_address


def _geometry(i):
    return DiskGeometry((SIZE, SIZE), default_rsun_px(SIZE), 1.9 * 1024 / SIZE, 2.0, 10.0 + 13.2 * i,
                        time=f"2014-03-{i + 1:02d}T00:00:00")


def _map(i, sign=1.0):
    """A bipole whose strength changes from frame to frame, plus frame-seeded noise (G)."""
    g = _geometry(i)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    mag = np.random.default_rng(i).normal(0, 3, g.shape)
    for dlon, s in ((3.0, 1.0), (-3.0, -0.8)):
        x, y, _ = g.hgs_to_pixel(12.0, -10.0 + dlon)
        mag += s * sign * (900.0 + 90 * i) * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 1.5**2))
    mag[~g.disk_mask(1.0)] = np.nan
    return mag.astype(np.float32)


def _store(path, array, sign=1.0, nan_frame=None):
    w = StoreWriter.open(path, n_frames=N, shape=(SIZE, SIZE), arrays=(array,), kind="test", params={})
    for i in range(N):
        m = _map(i, sign)
        if i == nan_frame:
            m[SIZE // 2, SIZE // 2] = np.nan  # a generated map with NaN on the disk: bad input
        w.write_frame(i, _geometry(i), **{array: m})
    w.finish()
    return path


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("dist")
    return (_store(root / "truth.zarr", "mag"), _store(root / "a.zarr", "pred", 0.7),
            _store(root / "b.zarr", "pred", 1.2))


def _digests(folder: Path) -> dict:
    """SHA-256 of every file under ``folder`` (relative path -> digest)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------- options
def test_scheduler_and_workers_resolve_as_documented():
    assert check_scheduler(None, None) == (None, None)
    assert check_scheduler(None, 1) == (None, None)
    assert check_scheduler(None, 3) == ("local", 3)
    assert check_scheduler("local", None) == ("local", local_cpu_count())
    assert check_scheduler("local", 1) == ("local", 1)
    assert check_scheduler("tcp://10.0.0.5:8786", None) == ("tcp://10.0.0.5:8786", None)
    assert check_scheduler("tcp://node-12.cluster:8786", None)[0] == "tcp://node-12.cluster:8786"
    for bad in ("10.0.0.5:8786", "tcp://host", "tcp://host:0", "tcp://host:70000", "http://host:8786", "lcoal"):
        with pytest.raises(UserError, match="scheduler: expected 'local' or an address tcp://HOST:PORT"):
            check_scheduler(bad, None)
    with pytest.raises(UserError, match="^workers: the cluster at tcp://h:1 has its own workers"):
        check_scheduler("tcp://h:1", 2)
    with pytest.raises(UserError, match="^workers: must be a whole number >= 1"):
        check_scheduler(None, 0)


@pytest.mark.parametrize("command", ["audit", "prepare", "synth", "saturation"])
def test_every_command_takes_the_same_scheduler_options(command, capsys):
    from euv2mag.cli import build_parser, parse_args

    base = {"audit": ["--truth", "t", "--pred", "p", "--out", "o"], "prepare": ["o.zarr", "--hmi", "x"],
            "synth": ["o.zarr"], "saturation": ["x", "--out", "o"]}[command]
    args = parse_args([command, *base, "--scheduler", "tcp://127.0.0.1:8786"], build_parser())
    assert (args.scheduler, args.workers) == ("tcp://127.0.0.1:8786", None)
    args = parse_args([command, "--workers", "2", *base], build_parser())
    assert (args.scheduler, args.workers) == (None, 2)
    with pytest.raises(SystemExit) as exit_:
        parse_args([command, *base, "--scheduler", "127.0.0.1:8786"], build_parser())
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "--scheduler: expected 'local' or an address tcp://HOST:PORT" in err[-1]


# ----------------------------------------------------------------------------- same results
@pytest.mark.slow  # several seconds: worker processes import the libraries on first use
def test_audit_on_a_cluster_writes_the_serial_files(stores, cluster, tmp_path):
    """Same bytes in every file (summary.json with intervals, the tables, pixel_std.zarr)."""
    from euv2mag.audit import audit_stores

    truth, a, b = stores
    serial = audit_stores(truth, [a, b], n_boot=0, out=tmp_path / "serial")
    remote = audit_stores(truth, [a, b], n_boot=0, out=tmp_path / "remote", scheduler=cluster)
    assert _digests(tmp_path / "serial") == _digests(tmp_path / "remote")
    assert "summary.json" in _digests(tmp_path / "remote")
    assert serial.fulldisk.equals(remote.fulldisk) and len(remote.fulldisk) == 2 * N
    assert np.array_equal(np.asarray(serial.pixel_std), np.asarray(remote.pixel_std), equal_nan=True)


@pytest.mark.slow  # several seconds: worker processes import the libraries on first use
def test_audit_cli_local_two_workers_gives_the_summary_of_one(stores, tmp_path, capsys):
    """The issue's check: ``euv2mag audit ... --scheduler local --workers 2`` vs ``--workers 1``."""
    truth, a, _ = stores
    common = ["audit", "--truth", str(truth), "--pred", str(a), "--n-boot", "10"]
    assert main([*common, "--out", str(tmp_path / "one"), "--workers", "1"]) == 0
    assert main([*common, "--out", str(tmp_path / "two"), "--scheduler", "local", "--workers", "2"]) == 0
    capsys.readouterr()
    assert (tmp_path / "one" / "summary.json").read_bytes() == (tmp_path / "two" / "summary.json").read_bytes()
    assert _digests(tmp_path / "one") == _digests(tmp_path / "two")


@pytest.mark.slow  # several seconds: worker processes import the libraries on first use
def test_synth_prepare_and_saturation_on_a_cluster_match_serial(cluster, tmp_path, capsys):
    """synth (store and FITS data), prepare from those FITS plus two unusable files, saturation."""
    from astropy.io import fits

    from euv2mag.audit.saturation import SaturationParams, saturation_study
    from euv2mag.data.prepare import prepare_store
    from euv2mag.data.synthetic import SynthParams, synthesize

    params = SynthParams(start="2014-03-01", end="2014-03-02", cadence="12h", size=SIZE, seed=5)
    runs = {}
    for name, opts in (("serial", {}), ("remote", {"scheduler": cluster})):
        root = tmp_path / name
        summary = synthesize(root / "s.zarr", params, fits_dir=root / "fits", progress=False, **opts)
        assert summary["written"] == 3
        # HMI-only prepare of the 3 synthetic magnetograms, a truncated file and a NaN-only one:
        # both fail while their image is read (on the worker) and are skipped
        good = ff.write_fits(root / "good.fits", n=128)
        trunc = root / "truncated.fits"
        trunc.write_bytes(good.read_bytes()[: 2880 * 3 + 1000])
        good.unlink()
        nan = ff.write_fits(root / "nan.fits", n=128, data=np.full((128, 128), np.nan), compressed=False,
                            time="2016-07-08T00:00:00.000")
        hmi = sorted(str(p) for p in (root / "fits").glob("hmi_*.fits")) + [str(trunc), str(nan)]
        prepared = prepare_store(root / "p.zarr", hmi_paths=hmi, size=SIZE, progress=False, **opts)
        assert (prepared["frames"], prepared["skipped"]) == (3, 2)
        sat = saturation_study([root / "s.zarr"], SaturationParams((100.0, 625.0)), out=root / "sat", **opts)
        assert sat.summary.n_maps == 3
        runs[name] = root
    s, r = runs["serial"], runs["remote"]
    for store in ("s.zarr", "p.zarr"):
        a, b = FrameStore(s / store), FrameStore(r / store)
        assert a.n_frames == b.n_frames == 3
        for array in a.image_arrays:
            for i in range(3):
                assert np.array_equal(a.read(array, i), b.read(array, i), equal_nan=True), (store, array, i)
                assert a.geometry(i) == b.geometry(i)
    assert FrameStore(s / "s.zarr").table("frame_regions").equals(FrameStore(r / "s.zarr").table("frame_regions"))
    for p in sorted((s / "fits").iterdir()):
        with fits.open(p) as x, fits.open(r / "fits" / p.name) as y:
            assert np.array_equal(x[-1].data, y[-1].data, equal_nan=True), p.name
    assert _digests(s / "p.zarr" / "mag") == _digests(r / "p.zarr" / "mag")  # byte for byte
    skipped = [(f.read_text().replace(str(s), "ROOT")) for f in (s / "p.zarr.skipped.csv",)]
    assert skipped == [(r / "p.zarr.skipped.csv").read_text().replace(str(r), "ROOT")]
    assert "truncated" in skipped[0] and "NaN-only" in skipped[0]
    for name in ("saturation.csv", "regions_amf.csv", "saturation.json"):  # the same but for the inputs' folder
        assert (s / "sat" / name).read_text().replace(str(s), "ROOT") == (r / "sat" / name).read_text().replace(str(r), "ROOT")


@pytest.mark.parametrize("batch", [1, 2])
def test_prepare_workers_write_the_frames_and_an_interrupted_run_resumes_to_the_serial_store(cluster, tmp_path,
                                                                                             monkeypatch, batch):
    """The workers write each frame's images into the staging store; the client marks a frame done
    only once its worker has returned.  A run interrupted while marking frame 2 leaves frames 0-1
    done, frame 2's images on disk but not done, and no published store; the re-run redoes frames
    2-4 only and gives the serial store, byte for byte.  With ``batch`` frames per task too (5
    frames on 2 workers are 1 per task by default)."""
    from euv2mag.data import prepare as prep

    monkeypatch.setattr(FrameMap, "batch_size", lambda self, n, max_batch=None: batch if self.distributed else 1)

    fits_dir = tmp_path / "fits"
    fits_dir.mkdir()
    hmi = [str(ff.write_fits(fits_dir / f"hmi_{k}.fits", n=128, compressed=False, time=f"2016-07-0{k + 1}T00:00:00.000"))
           for k in range(5)]
    assert prep.prepare_store(tmp_path / "serial.zarr", hmi_paths=hmi, size=SIZE, progress=False)["frames"] == 5
    out, staging = tmp_path / "p.zarr", tmp_path / ".p.zarr.staging"
    real, marked = StoreWriter.mark_done, []

    def interrupted(self, geometries):
        if 2 in geometries:
            raise KeyboardInterrupt
        real(self, geometries)

    def recorded(self, geometries):
        marked.extend(geometries)
        real(self, geometries)

    written = []
    monkeypatch.setattr(StoreWriter, "write_frame", lambda self, i, *a, **k: written.append(i))  # the client writes no image
    monkeypatch.setattr(StoreWriter, "mark_done", interrupted)
    monkeypatch.setattr(prep, "MARK_BATCH", 1)  # each frame marked as its worker returns
    with pytest.raises(KeyboardInterrupt):
        prep.prepare_store(out, hmi_paths=hmi, size=SIZE, progress=False, scheduler=cluster)
    monkeypatch.setattr(prep, "MARK_BATCH", 2)  # the re-run marks frames 2-3, then 4 at the end
    assert not out.exists() and written == []
    staged = FrameStore(staging, require_complete=False)
    assert staged.frames_done.tolist() == [True, True, False, False, False] and not staged.complete
    frame2 = FrameStore(tmp_path / "serial.zarr").read("mag", 2)
    assert np.isfinite(frame2).sum() > 20  # the disk of a 128^2 test file at 64^2
    assert np.array_equal(staged.read("mag", 2), frame2, equal_nan=True)  # written by its worker, yet not done
    monkeypatch.setattr(StoreWriter, "mark_done", recorded)
    assert prep.prepare_store(out, hmi_paths=hmi, size=SIZE, progress=False, scheduler=cluster)["frames"] == 5
    assert marked == [2, 3, 4] and written == [] and not staging.exists()
    assert _digests(out) == _digests(tmp_path / "serial.zarr")


def test_workers_that_cannot_write_the_output_folder_are_refused_in_one_line(cluster, tmp_path):
    with FrameMap(cluster) as pool:
        pool.check_shared_folder(tmp_path)
        assert list(tmp_path.iterdir()) == []  # the workers' probe files are removed
        with pytest.raises(UserError) as err:
            pool.check_shared_folder(tmp_path / "not-on-the-workers")
    message = str(err.value)
    assert message.startswith(f"scheduler {cluster}: worker tcp://") and "\n" not in message
    assert f"cannot write into {tmp_path / 'not-on-the-workers'} (FileNotFoundError" in message
    assert message.endswith("the output must be on a filesystem the workers share, at the same path")
    with FrameMap() as serial:
        serial.check_shared_folder(tmp_path / "not-on-the-workers")  # nothing to check without workers


# ----------------------------------------------------------------------------- bad input
def test_unreachable_scheduler_is_one_line_exit_2_and_writes_nothing(stores, tmp_path, capsys, monkeypatch):
    from euv2mag import parallel

    monkeypatch.setattr(parallel, "CONNECT_TIMEOUT_S", 1.0)
    truth, a, _ = stores
    address = f"tcp://127.0.0.1:{_free_port()}"  # nobody listens there
    out = tmp_path / "audit"
    rc = main(["audit", "--truth", str(truth), "--pred", str(a), "--out", str(out), "--scheduler", address])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert err[0].startswith(f"euv2mag audit: error: scheduler {address}: cannot connect (")
    assert not out.exists()
    rc = main(["synth", str(tmp_path / "s.zarr"), "--end", "2011-01-02", "--size", "64", "--scheduler", address])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "cannot connect" in err[0], err
    assert list(tmp_path.iterdir()) == []


def test_workers_without_euv2mag_are_refused_before_anything_is_written(stores, tmp_path):
    preload = tmp_path / "hide_euv2mag.py"  # a worker on which ``import euv2mag`` fails
    preload.write_text("import sys\nsys.modules['euv2mag'] = None\n")
    from euv2mag.audit import audit_stores

    truth, a, _ = stores
    import dask

    from euv2mag.parallel import LOCAL_WORKER_CONFIG

    # with euv2mag's worker settings: Dask's defaults would also set MALLOC_TRIM_THRESHOLD_ in this
    # process's environment, which clusters started later by this process would inherit
    with dask.config.set(LOCAL_WORKER_CONFIG), distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
            scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
            silence_logs=logging.ERROR, preload=[str(preload)]) as lc:
        with pytest.raises(UserError) as err:
            audit_stores(truth, [a], n_boot=0, out=tmp_path / "audit", scheduler=lc.scheduler_address)
    message = str(err.value)
    assert message.startswith(f"scheduler {lc.scheduler_address}: worker tcp://")
    assert "cannot import euv2mag (ModuleNotFoundError" in message and "install the same euv2mag environment" in message
    assert "\n" not in message
    assert not (tmp_path / "audit").exists()


def test_bad_input_found_on_a_worker_leaves_no_result_and_a_fixed_rerun_completes(stores, cluster, tmp_path, capsys):
    truth, a, _ = stores
    bad = _store(tmp_path / "bad.zarr", "pred", nan_frame=4)
    out = tmp_path / "audit"
    rc = main(["audit", "--truth", str(truth), "--pred", str(bad), "--out", str(out), "--n-boot", "0",
               "--scheduler", cluster])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "NaN" in err[0], err
    assert sorted(p.name for p in out.iterdir()) == []  # no summary, no table, no cache of the bad input
    rc = main(["audit", "--truth", str(truth), "--pred", str(a), "--out", str(out), "--n-boot", "0",
               "--scheduler", cluster])
    assert rc == 0, capsys.readouterr().err
    assert (out / "summary.json").exists() and not (out / ".cache").exists()


def test_frame_map_yields_in_item_order_and_a_lost_cluster_is_one_line(cluster):
    import time

    def slow_first(i):  # defined here: sent to the workers by value
        time.sleep(0.3 if i == 0 else 0.0)
        return i * i

    with FrameMap(cluster) as pool:
        assert pool.nthreads == 2
        assert list(pool.map(slow_first, range(9))) == [i * i for i in range(9)]
    from distributed.comm.core import CommClosedError

    exc = pool._lost(CommClosedError("in <TCP (closed) ConnectionPool.gather>: Stream is closed"))
    assert isinstance(exc, ClusterLost) and "re-run the same command to resume" in str(exc)
    assert str(exc).startswith(f"scheduler {cluster}: the cluster failed while working (CommClosedError: in <TCP")
    assert pool._lost(ZeroDivisionError("a bug")).__class__ is ZeroDivisionError  # programming errors stay as they are
    with FrameMap() as serial:
        assert list(serial.map(abs, [-2, 3, -4])) == [2, 3, 4] and not serial.distributed


def test_frame_map_in_batches_yields_in_item_order_and_the_results_before_an_error(cluster):
    import time

    def slow_first(i):  # defined here: sent to the workers by value
        time.sleep(0.3 if i == 0 else 0.0)
        if i == 7:
            raise UserError(f"item {i} is bad")
        return i * i

    with FrameMap(cluster) as pool:
        assert [pool.batch_size(n) for n in (5, 8, 17, 32, 1000)] == [1, 1, 2, 4, 8]
        assert pool.batch_size(1000, max_batch=3) == 3
        assert list(pool.map(slow_first, range(7), batch=3)) == [i * i for i in range(7)]  # 3 + 3 + 1 items
        got = []
        with pytest.raises(UserError, match="^item 7 is bad$"):
            for value in pool.map(slow_first, range(12), batch=3):
                got.append(value)
        assert got == [i * i for i in range(7)]  # item 6 shares the failing task and comes first
        with pytest.raises(ValueError, match="batch must be a whole number >= 1"):
            next(pool.map(slow_first, range(3), batch=0))
    with FrameMap() as serial:
        assert serial.batch_size(1000) == 1 and list(serial.map(abs, [-2, 3], batch=4)) == [2, 3]


def test_local_cluster_workers_reuse_freed_frame_memory_as_the_serial_path_does(cluster):
    """A 4 MiB frame allocated and freed 20 times page-faults once, not 20 times, in a worker.

    Dask's default worker environment (``MALLOC_TRIM_THRESHOLD_=65536``) fixes glibc's mmap
    threshold at 128 KiB: every such array would be mapped and zeroed by the kernel anew (about
    500 faults each time, measured), which doubled the CPU time of an audit frame in a worker.
    """
    def faults_per_alloc():  # defined here: sent to the workers by value
        import os
        import resource

        import numpy

        numpy.ones(1 << 20, numpy.float32).sum()  # the first one may be mapped
        before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
        for _ in range(20):
            numpy.ones(1 << 20, numpy.float32).sum()
        faults = (resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before) / 20
        return faults, os.environ.get("MALLOC_TRIM_THRESHOLD_")

    from distributed import Client

    with Client(cluster) as client:
        answers = client.run(faults_per_alloc)
        callbacks = client.run(lambda dask_worker: sorted(dask_worker.periodic_callbacks))
    assert len(answers) == 2
    for faults, trim in answers.values():
        assert faults < 50, f"{faults:.0f} page faults per 4 MiB array (hundreds when each is mapped anew)"
        assert trim is None
    for names in callbacks.values():  # the statistical profiler (for a dashboard) is off
        assert "heartbeat" in names and "profile" not in names
