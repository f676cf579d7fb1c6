"""The Zarr dataset store: layout, resume, validation, tables; the torch PairDataset; `info`."""
from __future__ import annotations

import json

import numpy as np
import pytest

from euv2mag.cli import main
from euv2mag.data.store import DONE_BATCH, FrameStore, StoreWriter
from euv2mag.errors import UserError
from euv2mag.geometry import DiskGeometry
from euv2mag.scaling import EuvScaling, MagScaling

N = 32
PARAMS = {"generator": "test", "seed": 1}


def _geometry(i):
    return DiskGeometry((N, N), rsun_px=12.0, cdelt_arcsec=80.0, b0_deg=0.1 * i, l0_deg=10.0 * i,
                        time=f"2011-01-0{i + 1}T00:00:00.000")


def _images(i):
    g = _geometry(i)
    mag = np.where(g.disk_mask(), 100.0 * (i + 1) * np.sign(np.arange(N) - 15.5)[None, :], np.nan).astype(np.float32)
    euv = np.where(g.disk_mask(), 50.0 + i, np.nan).astype(np.float32)
    return g, euv, mag


def _write(path, n=3, stop_after=None):
    writer = StoreWriter.open(path, n_frames=n, shape=(N, N), arrays=("euv", "mag"), kind="synthetic", params=PARAMS)
    for count, i in enumerate(writer.pending()):
        if stop_after is not None and count == stop_after:
            return writer
        g, euv, mag = _images(i)
        writer.write_frame(i, g, euv=euv, mag=mag)
    writer.write_table("regions", {"region_id": [1, 2], "hale_conforming": [True, False], "hemisphere": ["N", "S"]})
    writer.finish()
    return writer


def test_round_trip_of_frames_geometry_and_tables(tmp_path):
    path = tmp_path / "s.zarr"
    _write(path)
    store = FrameStore(path)
    assert store.n_frames == 3 and store.shape == (N, N) and store.image_arrays == ("euv", "mag")
    g, euv, mag = _images(2)
    np.testing.assert_array_equal(store.read("mag", 2), mag)
    np.testing.assert_array_equal(store.read("euv", 2), euv)
    assert store.geometry(2) == g
    table = store.table("regions")
    assert list(table["region_id"]) == [1, 2] and list(table["hale_conforming"]) == [True, False]
    assert list(table["hemisphere"]) == ["N", "S"]
    summary = store.summary()
    assert summary["frames"] == 3 and summary["time_range"] == ["2011-01-01T00:00:00.000", "2011-01-03T00:00:00.000"]
    assert summary["median_cadence_hours"] == 24.0 and summary["l0_deg_range"] == [0.0, 20.0]


def test_interrupted_store_is_readable_and_resumes(tmp_path):
    path = tmp_path / "s.zarr"
    _write(path, n=3, stop_after=2)
    with pytest.raises(UserError, match="incomplete .2/3 frames"):
        FrameStore(path)
    partial = FrameStore(path, require_complete=False)
    assert list(partial.frames_done) == [True, True, False]
    with StoreWriter.open(path, n_frames=3, shape=(N, N), arrays=("euv", "mag"), kind="synthetic", params=PARAMS) as writer:
        assert writer.pending() == [2]
        with pytest.raises(UserError, match="is being written by process"):  # one writer at a time
            _write(path)
    _write(path)
    assert FrameStore(path).complete


def test_frames_are_marked_done_in_batches_and_every_written_one_when_the_writer_closes(tmp_path):
    path, n = tmp_path / "s.zarr", DONE_BATCH + 3
    geometries = [DiskGeometry((N, N), rsun_px=12.0, cdelt_arcsec=80.0, l0_deg=float(i), time=f"2011-01-{i + 1:02d}T00:00:00.000")
                  for i in range(n)]
    image = np.where(geometries[0].disk_mask(), 1.0, np.nan).astype(np.float32)

    def done():
        return FrameStore(path, require_complete=False).frames_done.tolist()

    writer = StoreWriter.open(path, n_frames=n, shape=(N, N), arrays=("mag",), kind="synthetic", params=PARAMS)
    for i in range(DONE_BATCH - 1):
        writer.write_frame(i, geometries[i], mag=image)
    assert sum(done()) == 0  # images written, geometry and flags not yet
    writer.write_frame(DONE_BATCH - 1, geometries[DONE_BATCH - 1], mag=image)
    assert done() == [True] * DONE_BATCH + [False] * 3
    with pytest.raises(KeyboardInterrupt), writer:  # an interrupted run keeps every frame it wrote
        writer.write_frame(DONE_BATCH, geometries[DONE_BATCH], mag=image)
        writer.write_frame(DONE_BATCH + 1, geometries[DONE_BATCH + 1], mag=image)
        raise KeyboardInterrupt
    assert done() == [True] * (DONE_BATCH + 2) + [False]
    store = FrameStore(path, require_complete=False)
    assert [store.geometry(i) for i in range(DONE_BATCH + 2)] == geometries[:-1]
    with StoreWriter.open(path, n_frames=n, shape=(N, N), arrays=("mag",), kind="synthetic", params=PARAMS) as writer:
        assert writer.pending() == [n - 1]  # the lock was released; only the last frame is left
        writer.write_frame(n - 1, geometries[n - 1], mag=image)
        writer.finish()
    assert FrameStore(path).geometry(n - 1) == geometries[n - 1]


def test_other_parameters_do_not_silently_resume(tmp_path):
    path = tmp_path / "s.zarr"
    _write(path)
    with pytest.raises(UserError, match="other parameters"):
        StoreWriter.open(path, n_frames=3, shape=(N, N), arrays=("mag",), kind="synthetic", params={"seed": 2})
    (tmp_path / "file.zarr").write_text("x")
    with pytest.raises(UserError, match="not an euv2mag store"):
        StoreWriter.open(tmp_path / "file.zarr", n_frames=1, shape=(N, N), arrays=("mag",), kind="x", params={})


def test_invalid_stores_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="no such store"):
        FrameStore(tmp_path / "missing.zarr")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="not an euv2mag store"):
        FrameStore(tmp_path / "empty")
    path = tmp_path / "s.zarr"
    _write(path)
    store = FrameStore(path)
    with pytest.raises(UserError, match="outside"):
        store.read("mag", 3)
    with pytest.raises(UserError, match="no 'pred'"):
        store.read("pred", 0)


def test_pair_dataset_scales_and_jitters(tmp_path):
    from euv2mag.data.torch_dataset import PairDataset

    path = tmp_path / "s.zarr"
    _write(path)
    mag_scaling = MagScaling("linear", 100.0)
    ds = PairDataset(path, [0, 2], mag_scaling=mag_scaling, euv_scaling=EuvScaling("linear", 0, 100))
    euv, mag = ds[1]
    assert tuple(mag.shape) == (1, N, N) and mag.dtype.is_floating_point
    _, _, raw = _images(2)
    np.testing.assert_allclose(mag[0].numpy(), mag_scaling.to_unit(raw))
    assert float(mag.abs().max()) == 1.0  # 300 G clipped at +-100 G
    jittered = PairDataset(path, [0], jitter_px=3, seed=5)
    a = jittered[(0, 10)]
    b = jittered[(0, 10)]
    assert all(np.array_equal(x.numpy(), y.numpy()) for x, y in zip(a, b))  # same draw -> same shift
    shifts = {tuple(np.argwhere(jittered[(0, d)][1][0].numpy() != 0).min(0)) for d in range(12)}
    assert len(shifts) > 1  # different draws shift differently
    kpl = PairDataset(path, [0], jitter_px=3, pad="kpl19", seed=5)
    zero = PairDataset(path, [0], jitter_px=3, pad="zero-field", seed=5)
    for d in range(20):  # find a draw that exposes padding, then check what fills it
        _, m_kpl = kpl[(0, d)]
        _, m_zero = zero[(0, d)]
        exposed = ~np.isclose(m_kpl[0].numpy(), m_zero[0].numpy())
        if exposed.any():
            assert np.all(m_kpl[0].numpy()[exposed] == -1.0)  # KPL19 artefact: -100 G
            assert np.all(m_zero[0].numpy()[exposed] == 0.0)  # modern: 0 G
            break
    else:
        pytest.fail("no jitter draw exposed the padding")


def test_pair_dataset_rejects_bad_selection(tmp_path):
    from euv2mag.data.torch_dataset import PairDataset

    path = tmp_path / "s.zarr"
    _write(path)
    with pytest.raises(UserError, match="outside"):
        PairDataset(path, [0, 7])
    with pytest.raises(UserError, match="empty"):
        PairDataset(path, [])


def test_info_command(tmp_path, capsys):
    path = tmp_path / "s.zarr"
    _write(path)
    assert main(["info", str(path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["frames"] == 3 and summary["arrays"] == ["euv", "mag"] and summary["tables"] == ["regions"]
    assert main(["info", str(tmp_path / "nope.zarr")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope.zarr" in err[0] and "no such store" in err[0]


def test_atomic_writes_get_the_usual_permissions_and_leave_nothing_on_error(tmp_path):
    import os

    from euv2mag._io import atomic_path, atomic_write_json, path_inside

    mask = os.umask(0o022)
    try:
        out = atomic_write_json(tmp_path / "a.json", {"x": float("nan"), "n": np.int64(3)})
        assert json.loads(out.read_text()) == {"x": None, "n": 3}
        assert out.stat().st_mode & 0o777 == 0o644
        with pytest.raises(RuntimeError):
            with atomic_path(tmp_path / "b.txt") as tmp:
                tmp.write_text("half")
                raise RuntimeError("interrupted")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]
    finally:
        os.umask(mask)
    with pytest.raises(UserError, match="outside the output folder"):
        path_inside(tmp_path, "../escape.txt")
    assert path_inside(tmp_path, "sub/ok.txt") == (tmp_path / "sub" / "ok.txt").resolve()


# ---------------------------------------------------------------------------- xarray
def _assert_xarray_matches(path, arrays):
    """``xarray.open_zarr`` of the store gives the contract's dims, sizes, units and FrameStore's values."""
    import astropy.units as u
    import xarray as xr

    from euv2mag.data.store import ARRAY_LAYOUT, GEOMETRY_FIELDS

    store = FrameStore(path)
    units = {"euv": "DN/s", "mag": "G", "pred": "G", "rsun_px": "pixel", "cdelt_arcsec": "arcsec",
             "b0_deg": "deg", "l0_deg": "deg", "dsun_m": "m"}
    for kwargs in ({"consolidated": False}, {}):  # finished stores are consolidated: the defaults work too
        with xr.open_zarr(path, **kwargs) as ds:
            assert dict(ds.sizes) == {"frame": store.n_frames, "y": store.shape[0], "x": store.shape[1]}
            assert set(ds.data_vars) == {*arrays, "time", "frame_done", *GEOMETRY_FIELDS} <= set(ARRAY_LAYOUT)
            for name in arrays:
                assert ds[name].dims == ("frame", "y", "x") and ds[name].dtype == np.float32
                assert ds[name].attrs["units"] == units[name]
                for i in range(store.n_frames):
                    np.testing.assert_array_equal(ds[name][i].values, store.read(name, i))
            for name in GEOMETRY_FIELDS:
                assert ds[name].dims == ("frame",) and ds[name].attrs["units"] == units[name]
                np.testing.assert_array_equal(ds[name].values, store.geometry_column(name))
            assert ds["time"].dims == ("frame",) and "units" not in ds["time"].attrs
            assert [str(t) for t in ds["time"].values] == [str(t) for t in store.times]
            assert ds.attrs["kind"] == store.kind and ds.attrs["complete"] is True
            parsed = {name: u.Unit(ds[name].attrs["units"]) for name in ds.data_vars if "units" in ds[name].attrs}
            assert parsed["mag"] == u.G and parsed["rsun_px"] == u.pix and parsed["dsun_m"] == u.m
    for name in store.table_names():
        with xr.open_zarr(path, group=f"tables/{name}", consolidated=False) as table:
            expected = store.table(name)
            assert table.sizes == {"row": len(expected)}
            for column in expected.columns:
                values = table[column].values.astype(bool) if expected[column].dtype == bool else table[column].values
                np.testing.assert_array_equal(values, expected[column].to_numpy())


def test_synthetic_store_opens_with_xarray(tmp_path):
    path = tmp_path / "synth.zarr"
    assert main(["synth", str(path), "--start", "2011-01-01", "--end", "2011-01-02", "--size", "32"]) == 0
    assert FrameStore(path).table_names() == ["frame_regions", "regions"]
    _assert_xarray_matches(path, ("euv", "mag"))


def test_prediction_store_opens_with_xarray(tmp_path):
    import torch
    from _model_data import EUV_OPTIONS, make_pair_store

    from euv2mag.model.config import TrainConfig
    from euv2mag.model.predict import predict_run
    from euv2mag.model.train import train_seed

    source = make_pair_store(tmp_path / "pairs.zarr", n_frames=3, size=32, seed=2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cfg = TrainConfig(ngf=4, ndf=4, iters=2, val_every=2, ckpt_every=2, **EUV_OPTIONS)
        run = train_seed(source, [0, 1], [2], cfg, 3, tmp_path / "seed-3", progress=False).run_dir
        pred = predict_run(run, source, tmp_path / "pred.zarr", indices="1,2", device="cpu", progress=False)
    finally:
        torch.set_num_threads(threads)
    assert FrameStore(pred).kind == "prediction"
    _assert_xarray_matches(pred, ("pred", "mag", "euv"))


def test_stores_without_xarray_attributes_still_read_and_gain_them_on_resume(tmp_path):
    import shutil

    import xarray as xr
    import zarr

    path = tmp_path / "s.zarr"
    _write(path)
    fresh = FrameStore(path)
    group = zarr.open_group(str(path), mode="r+", use_consolidated=False)
    arrays = [group[name] for name in group.array_keys()] + [
        group["tables"]["regions"][c] for c in group["tables"]["regions"].array_keys()]
    for array in arrays:  # a store from before the attributes existed
        for key in ("_ARRAY_DIMENSIONS", "units"):
            if key in array.attrs:
                del array.attrs[key]
        assert "_ARRAY_DIMENSIONS" not in array.attrs
    (path / ".zmetadata").unlink()
    old = FrameStore(path)
    for i in range(3):
        for name in ("euv", "mag"):
            np.testing.assert_array_equal(old.read(name, i), fresh.read(name, i))
        assert old.geometry(i) == fresh.geometry(i)
    assert old.table("regions").equals(fresh.table("regions")) and old.summary() == fresh.summary()
    with pytest.raises(KeyError, match="_ARRAY_DIMENSIONS"):
        xr.open_zarr(path, consolidated=False)
    # resuming the old store (same parameters) labels its arrays
    copy = tmp_path / "resumed.zarr"
    shutil.copytree(path, copy)
    _write(copy)
    with xr.open_zarr(copy) as ds:
        assert ds["mag"].dims == ("frame", "y", "x") and ds["mag"].attrs["units"] == "G"
        np.testing.assert_array_equal(ds["mag"][1].values, fresh.read("mag", 1))
