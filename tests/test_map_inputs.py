"""FITS files and stores as one list of maps (data.maps), shared by ``regions`` and ``saturation``."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from _model_data import make_pair_store

from euv2mag.cli import main
from euv2mag.data.maps import expand_map_inputs, safe_name
from euv2mag.data.fits import fits_stem, is_fits_name
from euv2mag.errors import UserError

FIXTURES = Path(__file__).parent / "data"
FITS_2016 = FIXTURES / "hmi_m_720s_20160707_010000_TAI_rebin8.fits"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return make_pair_store(tmp_path_factory.mktemp("maps") / "pairs.zarr", n_frames=4, size=64)


def test_fits_and_store_frames_in_order_with_unique_safe_names(store):
    items = expand_map_inputs([FITS_2016, store], indices=[3, 1])
    assert [(it.name, it.frame) for it in items] == [
        ("hmi_m_720s_20160707_010000_TAI_rebin8", -1), ("pairs.zarr_00003", 3), ("pairs.zarr_00001", 1)]
    mag, geometry = items[1].load(64)
    np.testing.assert_array_equal(mag, items[1].store.read("mag", 3))
    assert geometry.shape == (64, 64)
    assert [it.name for it in expand_map_inputs([store])] == [f"pairs.zarr_{i:05d}" for i in range(4)]
    assert is_fits_name("a.FITS.gz") and is_fits_name("b.fts") and not is_fits_name("c.fits.txt")
    assert fits_stem("x/hmi.m_720s.FITS.fz") == "hmi.m_720s" and fits_stem("a.fits.gz") == "a"
    assert safe_name("hmi.m_720s[3] x") == "hmi.m_720s_3_x" and safe_name("...") == "map"


def test_bad_inputs_are_one_line_user_errors(store, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a map\n")
    copy = tmp_path / "hmi_m_720s_20160707_010000_TAI_rebin8.fits.gz"
    shutil.copy(FITS_2016, copy)
    cases = [
        ([tmp_path / "nope.fits"], {}, "no such file or store"),
        ([notes], {}, "neither a FITS file"),
        ([store], {"array": "pred"}, "has no 'pred' array"),
        ([store], {"indices": [4]}, "outside 0..3"),
        ([FITS_2016], {"indices": [0]}, "need a store"),
        ([], {}, "no input maps"),
        ([FITS_2016, copy], {}, "same name"),
    ]
    for paths, kwargs, message in cases:
        with pytest.raises(UserError, match=message):
            expand_map_inputs(paths, **kwargs)


def test_regions_and_saturation_take_stores_the_same_way(store, tmp_path, capsys):
    assert main(["regions", str(store), "--indices", "0", "--out", str(tmp_path / "r"), "--no-png"]) == 0
    assert main(["regions", "--store", str(store), "--indices", "0", "--out", str(tmp_path / "r2"), "--no-png"]) == 0
    assert (tmp_path / "r" / "regions.json").read_text().count("pairs.zarr") >= 1
    assert main(["saturation", str(store), "--indices", "0", "1", "--out", str(tmp_path / "s"), "--no-regions"]) == 0
    assert main(["regions", "--store", str(FITS_2016), "--out", str(tmp_path / "r3")]) == 2
    assert "is not an euv2mag store" in capsys.readouterr().err
    # bad inputs are found before anything is written: no output folder appears
    for cmd in (["regions", str(tmp_path / "nope.fits")], ["saturation", str(tmp_path / "nope.fits")],
                ["regions", "--patch", str(tmp_path / "nope.fits")]):
        assert main([*cmd, "--out", str(tmp_path / "never")]) == 2
        assert not (tmp_path / "never").exists(), cmd
