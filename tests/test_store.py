"""The Zarr dataset store: layout, resume, validation, tables; the torch PairDataset; `info`."""
from __future__ import annotations

import json

import numpy as np
import pytest

from euv2mag.cli import main
from euv2mag.data.store import FrameStore, StoreWriter
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
    writer = StoreWriter.open(path, n_frames=3, shape=(N, N), arrays=("euv", "mag"), kind="synthetic", params=PARAMS)
    assert writer.pending() == [2]
    _write(path)
    assert FrameStore(path).complete


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
