"""The audit as a Python library: ``audit_stores`` on tiny stores, its typed summary and its files."""
from __future__ import annotations

import math

import numpy as np
import pytest

from euv2mag.audit import AuditParams, AuditResult, AuditSummary, audit_stores
from euv2mag.audit.files import FULLDISK, MATCHES, REGIONS
from euv2mag.data.store import StoreWriter
from euv2mag.errors import UserError
from euv2mag.geometry import DiskGeometry, default_rsun_px

SIZE = 128
N = 12


def _geometry(i):
    return DiskGeometry((SIZE, SIZE), default_rsun_px(SIZE), 1.9 * 1024 / SIZE, 2.0, 10.0 + 13.2 * i,
                        time=f"2014-03-{i + 1:02d}T00:00:00")


def _map(i, sign=1.0):
    """Two bipoles whose strength changes from frame to frame (so TUMF and NMF vary)."""
    g = _geometry(i)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    mag = np.random.default_rng(i).normal(0, 3, g.shape)
    for lat, lon, peak, lead in ((15.0, -20.0, 900.0 + 80 * i, -1), (-12.0, 25.0, 1400.0 - 60 * i, 1)):
        for dlon, s, f in ((4.0, lead, 1.0), (-4.0, -lead, 0.7 + 0.02 * i)):
            x, y, _ = g.hgs_to_pixel(lat, lon + dlon)
            mag += s * f * peak * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 2.0**2))
    mag[~g.disk_mask(1.0)] = np.nan
    return (sign * mag).astype(np.float32)


def _store(path, array, sign=1.0):
    w = StoreWriter.open(path, n_frames=N, shape=(SIZE, SIZE), arrays=(array,), kind="test", params={})
    for i in range(N):
        w.write_frame(i, _geometry(i), **{array: _map(i, sign)})
    w.finish()
    return path


def _same(a, b) -> bool:
    """Equal nested dicts, NaN equal to NaN."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == b


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    return _store(root / "truth.zarr", "mag"), _store(root / "self.zarr", "pred"), _store(root / "neg.zarr", "pred", -1.0)


def test_self_and_negation_from_python_alone(stores, tmp_path):
    truth, same, neg = stores
    result = audit_stores(truth, [same, neg], n_boot=0)
    s = result.summary
    assert isinstance(s, AuditSummary) and list(s.predictions) == ["self", "neg"]
    me, other = s.predictions["self"], s.predictions["neg"]
    assert me.regions.recall == 1.0 and me.regions.precision == 1.0 and other.regions.recall == 1.0
    assert me.fulldisk.tumf.n == N and me.fulldisk.tumf.cc == pytest.approx(1.0, abs=1e-12)
    assert me.fulldisk.nmf.cc == pytest.approx(1.0, abs=1e-12)
    assert other.fulldisk.tumf.cc == pytest.approx(1.0, abs=1e-12) and other.fulldisk.tumf.slope == pytest.approx(1.0)
    assert other.fulldisk.nmf.cc == pytest.approx(-1.0, abs=1e-12)
    assert other.fulldisk.mean_polarity_agreement == 0.0 and other.regions.leading_polarity_agreement == 0.0
    # about 2 regions x 12 frames matched: parameter statistics are given, unsigned ones survive the negation
    area = other.regions.parameters["area_msh"]
    assert area.n_pairs == other.regions.n_ref >= 20 and area.cc == pytest.approx(1.0) and area.median_ratio == pytest.approx(1.0)
    assert other.regions.parameters["nmf_mx"].cc == pytest.approx(-1.0)
    # nothing written without out
    assert not any(tmp_path.iterdir())
    # the pixel spread of +B and -B is |B| * sqrt(2) (ddof 1)
    mag0 = _map(0)
    disk = np.isfinite(result.pixel_std[0])
    assert np.allclose(result.pixel_std[0][disk], np.abs(mag0[disk]) * math.sqrt(2), rtol=1e-5, atol=1e-3)


def test_min_pairs_rule_and_written_files_read_back(stores, tmp_path):
    truth, same, neg = stores
    out = tmp_path / "audit"
    few = audit_stores(truth, {"self": same}, indices=range(5), n_boot=0, out=out)
    tumf = few.summary.predictions["self"].fulldisk.tumf
    assert tumf.n == 5 and math.isnan(tumf.cc) and math.isnan(tumf.slope)  # fewer than 10 frames
    assert few.summary.predictions["self"].regions.parameters["area_msh"].n_pairs >= 9  # ~2 regions x 5 frames
    # the files follow their definitions and read back identical
    back = AuditResult.read(out)
    assert _same(back.summary.to_dict()["predictions"], few.summary.to_dict()["predictions"])  # NaN -> null -> NaN
    for spec, table in ((FULLDISK, few.fulldisk), (REGIONS, few.regions), (MATCHES, few.matches)):
        again = spec.read(out)
        assert list(again.columns) == list(spec.names)
        assert again.dtypes.to_dict() == table.dtypes.to_dict()
    assert back.summary.predictions["self"].fulldisk.mean_cc == pytest.approx(1.0)
    assert math.isnan(back.summary.predictions["self"].fulldisk.tumf.cc)
    assert back.summary.params["min_pairs"] == 10 and AuditParams.from_dict(back.summary.params) == AuditParams()
    assert not (out / ".cache").exists()


def test_bad_input_names_the_parameter(stores):
    truth, same, _ = stores
    with pytest.raises(UserError, match="n_boot"):
        audit_stores(truth, [same], n_boot=-1)
    with pytest.raises(UserError, match="indices"):
        audit_stores(truth, [same], indices=[N + 3], n_boot=0)
    with pytest.raises(UserError, match="given twice"):
        audit_stores(truth, [same, same], n_boot=0)
    with pytest.raises(ValueError, match="min_pairs"):  # UserError is a ValueError
        AuditParams(min_pairs=1)


def test_interrupted_audit_of_a_replaced_store_is_not_answered_from_the_cache(stores, tmp_path, monkeypatch):
    """Audit interrupted after 2 frames, the prediction store replaced, re-run: the new store's numbers.

    On a cache keyed by paths the re-run took frames 0-1 from the old store's cached results.
    """
    import shutil

    from euv2mag.audit import pipeline

    truth, same, neg = stores
    pred = _store(tmp_path / "model.zarr", "pred")  # the first model: the truth itself
    out = tmp_path / "audit"
    real = pipeline._frame_task
    calls = []

    def interrupted(item):
        if len(calls) == 2:
            raise KeyboardInterrupt  # the user stops the audit after two frames
        calls.append(item)
        return real(item)

    monkeypatch.setattr(pipeline, "_frame_task", interrupted)
    with pytest.raises(KeyboardInterrupt):
        audit_stores(truth, [pred], out=out, n_boot=0)
    assert len(list((out / ".cache").rglob("*.json"))) == 2  # frames 0 and 1 are cached
    monkeypatch.setattr(pipeline, "_frame_task", real)
    shutil.rmtree(pred)
    shutil.copytree(neg, pred)  # another model's predictions under the same path
    resumed = audit_stores(truth, [pred], out=out, n_boot=0)
    fresh = audit_stores(truth, [pred], n_boot=0)
    assert _same(resumed.summary.to_dict(), fresh.summary.to_dict())
    assert resumed.fulldisk.equals(fresh.fulldisk)
    assert resumed.summary.predictions["model"].fulldisk.nmf.cc == pytest.approx(-1.0, abs=1e-12)


def test_summary_mean_leaves_out_missing_values():
    """The summary's mean: NaN, None and NA left out, booleans as 0/1, text coerced to NaN; NaN over nothing."""
    import pandas as pd

    from euv2mag.audit.summary import _mean

    assert _mean([1.0, None, 3.0, math.nan]) == 2.0
    assert _mean([True, False, True]) == pytest.approx(2 / 3)
    assert _mean([pd.NA, 4.0, "x"]) == 4.0
    assert _mean(pd.Series([1, None, 5], dtype="Int64")) == 3.0
    assert math.isnan(_mean([])) and math.isnan(_mean([None, math.inf]))
