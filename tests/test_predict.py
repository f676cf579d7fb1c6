"""Prediction: units round trip, NaN off disk, store layout and geometry, FITS headers, bad input."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from _model_data import EUV_GAIN, EUV_OFFSET, EUV_OPTIONS, make_pair_store, write_split

from euv2mag.cli import main
from euv2mag.data.store import FrameStore
from euv2mag.errors import UserError
from euv2mag.model.config import TrainConfig
from euv2mag.model.predict import predict_image, predict_run, resolve_indices
from euv2mag.model.train import train_seed
from euv2mag.scaling import MagScaling


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def store64(tmp_path_factory):
    return make_pair_store(tmp_path_factory.mktemp("pstore") / "pairs.zarr", n_frames=4, size=64, seed=5)


class Oracle(torch.nn.Module):
    """Returns a fixed scaled target whatever the input (a model that is exactly right)."""

    def __init__(self, target):
        super().__init__()
        self.target = torch.as_tensor(target)[None, None]

    def forward(self, x):
        return self.target.clone()


@pytest.mark.parametrize(
    "scaling", [MagScaling("linear", 100.0), MagScaling("linear", 625.0), MagScaling("asinh", 3000.0, softening_g=30.0),
                MagScaling("linear", 100.0, quantize_8bit=True)]
)
def test_exact_model_gives_the_clipped_magnetogram_in_gauss(store64, scaling):
    store = FrameStore(store64)
    mag, geom = store.read("mag", 1), store.geometry(1)
    mag = mag * (2 * scaling.limit_g / np.nanmax(np.abs(mag)))  # peaks at 2 L so that the clip shows
    cfg = TrainConfig(mag_kind=scaling.kind, mag_limit_g=scaling.limit_g, mag_softening_g=scaling.softening_g,
                      mag_quantize_8bit=scaling.quantize_8bit, **EUV_OPTIONS).resolved(64)
    pred = predict_image(Oracle(scaling.to_unit(mag)), store.read("euv", 1), geom, cfg)
    disk = geom.rho <= 1
    assert np.all(np.isnan(pred[~disk])) and np.all(np.isfinite(pred[disk]))
    expected = np.clip(mag[disk], -scaling.limit_g, scaling.limit_g)
    tol = 0.5 * 2 * scaling.limit_g / 255 + 1e-3 if scaling.quantize_8bit else 1e-4 * scaling.limit_g
    assert np.max(np.abs(pred[disk] - expected)) <= tol
    assert np.max(np.abs(pred[disk])) == pytest.approx(scaling.limit_g, rel=1e-5)


def test_linear_model_of_the_input_recovers_the_field(store64):
    """EUV = 1000 + 8 clip(B) DN/s, scaled linearly on 0..2000: y = 1.25 x is the exact model at +-100 G."""
    store = FrameStore(store64)
    cfg = TrainConfig(**EUV_OPTIONS).resolved(64)
    assert EUV_OFFSET == 1000 and EUV_GAIN == 8

    class Gain(torch.nn.Module):
        def forward(self, x):
            return 1.25 * x

    pred = predict_image(Gain(), store.read("euv", 0), store.geometry(0), cfg)
    mag = store.read("mag", 0)
    disk = store.geometry(0).rho <= 1
    assert np.allclose(pred[disk], np.clip(mag[disk], -100, 100), atol=1e-3)


@pytest.fixture(scope="module")
def tiny_run(store64, tmp_path_factory):
    torch.set_num_threads(1)
    cfg = TrainConfig(ngf=4, ndf=4, iters=4, val_every=2, ckpt_every=2, **EUV_OPTIONS)
    out = tmp_path_factory.mktemp("runs") / "seed-7"
    return train_seed(store64, [0, 1], [2], cfg, 7, out, progress=False).run_dir


def test_prediction_store_layout_geometry_and_fits(store64, tiny_run, tmp_path):
    from astropy.io import fits

    split = write_split(tmp_path / "split.json", [0, 1], val=[2], test=[3])
    argv = ["predict", str(tiny_run), str(store64), "--split", str(split), "--indices", "test", "--out",
            str(tmp_path / "pred.zarr"), "--fits-dir", str(tmp_path / "fits"), "--device", "cpu"]
    assert main(argv) == 0
    pred, src = FrameStore(tmp_path / "pred.zarr"), FrameStore(store64)
    assert pred.kind == "prediction" and pred.n_frames == 1 and set(pred.image_arrays) == {"pred", "mag", "euv"}
    assert pred.times[0] == src.times[3] and pred.geometry(0) == src.geometry(3)
    assert np.array_equal(pred.read("mag", 0), src.read("mag", 3), equal_nan=True)
    p = pred.read("pred", 0)
    disk = src.geometry(3).rho <= 1
    assert np.all(np.isnan(p[~disk])) and np.all(np.abs(p[disk]) <= 100.0 + 1e-3)
    model = pred.attrs["model"]
    assert model["seed"] == 7 and model["checkpoint"] == "best.ckpt" and model["iteration"] in (2, 4)
    assert list(pred.table("source_frames")["source_index"]) == [3]
    # the same command again resumes (nothing to do) and gives the same prediction (seeded dropout)
    assert main(argv) == 0
    assert np.array_equal(FrameStore(tmp_path / "pred.zarr").read("pred", 0), p, equal_nan=True)
    files = sorted((tmp_path / "fits").glob("*.fits"))
    assert [f.name for f in files] == ["pred_00003_20150104T000000.fits"]
    with fits.open(files[0]) as hdul:
        h, data = hdul[0].header, hdul[0].data
    geom = src.geometry(3)
    assert np.array_equal(data, p, equal_nan=True)
    assert h["BUNIT"] == "G" and h["CTYPE1"] == "HPLN-TAN" and h["CTYPE2"] == "HPLT-TAN"
    assert h["CRPIX1"] == pytest.approx(32.5) and h["CDELT1"] == pytest.approx(geom.cdelt_arcsec)
    assert h["RSUN_OBS"] == pytest.approx(geom.rsun_arcsec) and h["CRLN_OBS"] == pytest.approx(geom.l0_deg)
    assert h["CRLT_OBS"] == pytest.approx(3.0) and h["DSUN_OBS"] == pytest.approx(geom.dsun_m)
    assert h["DATE-OBS"] == geom.time and h["SEED"] == 7 and h["SRCINDEX"] == 3 and h["INFMODE"] == "kpl19"
    # the WCS puts the disk centre at helioprojective (0, 0) and the limb at RSUN_OBS
    from astropy.wcs import WCS

    w = WCS(h)
    lon, lat = w.pixel_to_world_values(31.5, 31.5)
    assert abs(lon) < 1e-6 and abs(lat) < 1e-6
    lon, _ = w.pixel_to_world_values(31.5 + geom.rsun_px, 31.5)
    assert lon * 3600 == pytest.approx(geom.rsun_arcsec, rel=1e-4)


def test_eval_mode_is_deterministic_and_differs_from_kpl19(store64, tiny_run, tmp_path):
    a = predict_run(tiny_run, store64, tmp_path / "a.zarr", indices="0,1", checkpoint="last", inference_mode="eval",
                    device="cpu", copy_inputs=False, progress=False)
    b = predict_run(tiny_run, store64, tmp_path / "b.zarr", indices="0,1", checkpoint="last", inference_mode="kpl19",
                    device="cpu", copy_inputs=False, progress=False)
    pa, pb = FrameStore(a).read("pred", 1), FrameStore(b).read("pred", 1)
    assert FrameStore(a).image_arrays == ("pred",)
    assert not np.allclose(pa, pb, equal_nan=True)


def test_bad_prediction_input(store64, tiny_run, tmp_path):
    with pytest.raises(UserError, match="needs a split file"):
        resolve_indices("test", 4)
    with pytest.raises(UserError, match="outside"):
        resolve_indices("1,9", 4)
    with pytest.raises(UserError, match="comma list"):
        resolve_indices("first", 4)
    with pytest.raises(UserError, match="no checkpoint nope.ckpt"):
        predict_run(tiny_run, store64, tmp_path / "x.zarr", indices="all", checkpoint="nope.ckpt", device="cpu")
    with pytest.raises(UserError, match="outside the output folder"):
        predict_run(tiny_run, store64, tmp_path / "x.zarr", indices="all", checkpoint="../../x.ckpt", device="cpu")
    other = make_pair_store(tmp_path / "s32.zarr", n_frames=1, size=32)
    with pytest.raises(UserError, match="64 px images, the store has 32"):
        predict_run(tiny_run, other, tmp_path / "x.zarr", indices="all", device="cpu")
    assert not (tmp_path / "x.zarr").exists()


def test_prediction_feeds_the_coordinate_channels(store64, tmp_path):
    """A coord-channel run predicts from EUV + sin(latitude) + mu; the output depends on them."""
    from euv2mag.data.torch_dataset import coordinate_channels

    cfg = TrainConfig(ngf=4, ndf=4, iters=2, val_every=2, ckpt_every=2, coord_channels=True, **EUV_OPTIONS)
    run = train_seed(store64, [0, 1], [2], cfg, 3, tmp_path / "seed-3", progress=False).run_dir
    out = predict_run(run, store64, tmp_path / "pred.zarr", indices=[3], device="cpu", progress=False)
    p3 = FrameStore(out).read("pred", 0)
    assert np.all(np.isfinite(p3[FrameStore(store64).geometry(3).rho <= 1]))

    class Probe(torch.nn.Module):
        """Returns the input's channel 1 (sin latitude) as the scaled map, and records the input."""

        def forward(self, x):
            self.seen = x.clone()
            return x[:, 1:2]

    store = FrameStore(store64)
    geom = store.geometry(3)
    probe = Probe()
    res = cfg.resolved(64)
    got = predict_image(probe, store.read("euv", 3), geom, res)
    assert tuple(probe.seen.shape) == (1, 3, 64, 64)
    assert np.array_equal(probe.seen[0, 1:].numpy(), coordinate_channels(geom))
    disk = geom.rho <= 1
    assert np.allclose(got[disk], res.mag_scaling.to_gauss(coordinate_channels(geom)[0])[disk], atol=1e-3)


def test_prediction_and_synthetic_fits_share_one_wcs_that_sunpy_reads_back(tiny_run, tmp_path):
    """A prediction FITS and the synthetic Sun's AIA/HMI files of the same frame carry the same WCS and
    observer keys (one definition, data.maps.wcs_header); sunpy places the disk centre, radius and limb
    where the store's geometry has them."""
    import astropy.units as u
    import sunpy.map
    from astropy.coordinates import SkyCoord
    from astropy.io import fits
    from astropy.time import Time
    from sunpy.coordinates import HeliographicStonyhurst

    from euv2mag.data.synthetic.fits import fits_offsets

    synth, fdir = tmp_path / "s.zarr", tmp_path / "synth_fits"
    assert main(["synth", str(synth), "--start", "2016-07-07T01:00", "--end", "2016-07-07T01:00", "--size", "64",
                 "--seed", "11", "--fits-dir", str(fdir)]) == 0
    predict_run(tiny_run, synth, tmp_path / "p.zarr", indices=[0], fits_dir=tmp_path / "pred_fits", device="cpu",
                copy_inputs=False, progress=False)
    geom = FrameStore(synth).geometry(0)
    (pred_file,) = sorted((tmp_path / "pred_fits").glob("*.fits"))
    files = {"pred": pred_file, "aia": fdir / "aia_304_20160707_010000.fits",
             "hmi": fdir / "hmi_m_20160707_010000.fits"}
    heads = {name: fits.getheader(path) for name, path in files.items()}
    same = ("CTYPE1", "CTYPE2", "CUNIT1", "CUNIT2", "CDELT1", "CDELT2", "CRVAL1", "CRVAL2", "RSUN_OBS", "R_SUN",
            "RSUN_REF", "DSUN_OBS", "CRLN_OBS", "CRLT_OBS", "HGLT_OBS")
    for name in ("aia", "hmi"):
        assert {k: heads[name][k] for k in same} == {k: heads["pred"][k] for k in same}, name
        # the Earth observer: 0 exactly in the synthetic files, from l0 and the time in the prediction
        assert heads[name]["HGLN_OBS"] == 0.0 and abs(heads["pred"]["HGLN_OBS"]) < 1e-6
    assert heads["hmi"]["DATE-OBS"] == heads["pred"]["DATE-OBS"] == geom.time
    # sunpy's own constant: the synthetic Sun's apparent radius is the IAU radius at dsun_m
    assert heads["pred"]["RSUN_REF"] == 695_700_000.0

    # where each file has its disk centre (px, 0-based): the synthetic files are shifted on purpose, HMI rotated
    cx, cy = geom.center_px
    dxa, dya, dxh, dyh = fits_offsets(11, int(round(Time(geom.time).mjd * 86400.0)))
    centres = {"pred": (cx, cy), "aia": (cx + dxa, cy + dya), "hmi": (cx + dxh, cy + dyh)}
    for name, path in files.items():
        m = sunpy.map.Map(path)
        x0, y0 = m.wcs.world_to_pixel(SkyCoord(0 * u.arcsec, 0 * u.arcsec, frame=m.coordinate_frame))
        assert abs(float(x0) - centres[name][0]) < 0.5 and abs(float(y0) - centres[name][1]) < 0.5, name
        radius_px = (m.rsun_obs / m.scale[0]).to_value(u.pix)
        assert radius_px == pytest.approx(geom.rsun_px, rel=0.005), name
        # sunpy's limb (sphere RSUN_REF seen from DSUN_OBS) is the geometry's to 0.02 % (a fixed 696 Mm: 0.043 %)
        r = geom.rsun_px * np.array([0.9998, 1.0002])
        sign = -1.0 if name == "hmi" else 1.0  # HMI's columns run east: its west limb is at x < centre
        lon = m.pixel_to_world((centres[name][0] + sign * r) * u.pix, np.full(2, centres[name][1]) * u.pix)
        lon = lon.transform_to(HeliographicStonyhurst(obstime=m.date)).lon.to_value(u.deg)
        assert np.isfinite(lon[0]) and lon[0] > 85.0 and np.isnan(lon[1]), (name, lon)
