"""Physics, determinism, calibration and CLI tests of the synthetic Sun (``euv2mag synth``)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from euv2mag.audit.calibration import disk_statistics, strong_field_mean
from euv2mag.cli import main
from euv2mag.data import synthetic as S
from euv2mag.data.synthetic import cycle as sc
from euv2mag.data.store import FrameStore


def _params(date="2014-04-01", **kw):
    kw.setdefault("size", 256)
    return S.SynthParams(start=date, end=date, **kw)


def _frame(date, size=256, **kw):
    p = _params(date, size=size, **kw)
    t = float(S.frame_times(p)[0])
    g = S.frame_geometries([t], size)[0]
    return p, t, g


# ------------------------------------------------------------------ cycle, Hale, Joy
def test_cycle24_timing_and_butterfly():
    years = np.linspace(2005, 2024, 19 * 120 + 1)
    r = sc.total_amplitude(years)
    def arg(lo, hi, fn):
        sel = (years > lo) & (years < hi)
        return years[sel][fn(r[sel])]
    assert abs(arg(2005, 2012, np.argmin) - 2008.9) < 0.1
    assert abs(arg(2010, 2017, np.argmax) - 2014.3) < 0.15
    assert abs(arg(2016, 2023, np.argmin) - 2019.9) < 0.1
    assert 105 < r[(years > 2010) & (years < 2017)].max() < 125
    c24 = sc.CYCLES[1]
    lat = sc.butterfly_latitude(c24, np.array([2009.0, 2013.5, 2019.0]))
    assert lat[0] > 25 and 12 < lat[1] < 18 and lat[2] < 9  # equatorward drift (Sporer)


def test_hale_law_from_truth_table():
    p = S.SynthParams(start="2011-01-01", end="2021-12-31", cadence="10d")
    table = S.regions_table(p, S.frame_times(p))
    assert len(table) > 500
    expected = [sc.hale_leading_polarity(c, h) for c, h in zip(table.cycle, table.hemisphere)]
    obey = np.asarray(table.leading_polarity) == np.asarray(expected)
    assert np.array_equal(obey, table.hale_conforming.to_numpy())
    assert obey.mean() >= 0.90
    assert 0.02 < 1 - obey.mean() < 0.06  # anti-Hale ~4 %
    # cycle 24: north leads negative; cycle 25: north leads positive (Hale-conforming rows)
    ok = table[table.hale_conforming]
    assert set(ok[(ok.cycle == 24) & (ok.hemisphere == "N")].leading_polarity) == {-1}
    assert set(ok[(ok.cycle == 25) & (ok.hemisphere == "N")].leading_polarity) == {1}
    assert set(ok[(ok.cycle == 24) & (ok.hemisphere == "S")].leading_polarity) == {1}
    # Joy's law: mean tilt ~ 32.1 sin|lat| (scatter 15 deg / sqrt(n))
    pred = 32.1 * np.sin(np.radians(np.abs(table.lat_deg)))
    assert abs(np.mean(table.tilt_deg - pred)) < 2.0
    # latitudes: |lat| >= 3 deg, hemispheres match the sign
    assert (np.abs(table.lat_deg) >= 3).all()
    assert ((table.lat_deg > 0) == (table.hemisphere == "N")).all()
    # log-normal flux within 1e20..1e23.2 Mx
    assert table.total_flux_mx.min() >= 10**20.5 * 0.999 and table.total_flux_mx.max() <= 10**23.2 * 1.001


def test_hale_orientation_in_rendered_map():
    """The westward (leading) part of big, well-visible regions has the table's leading sign."""
    checked = 0
    for date in ("2014-02-15T00:00", "2014-04-01T00:00", "2012-06-01T00:00", "2011-11-15T00:00"):
        p, t, g = _frame(date, size=512, noise_g=0.0)
        frame = S.render_frame(p, t, g)
        table = S.frame_regions_table(p, [t], [g])
        big = table[(table.mu > 0.6) & (table.flux_mx > 3e21) & (table.age_days > 2)]
        mag = np.nan_to_num(frame["mag"])
        lat_map, lon_map = g.lat_deg, g.carrington_lon_deg
        cols = np.broadcast_to(np.arange(g.shape[1])[None, :], g.shape)
        for row in big.itertuples():
            # isolated regions only: no other region's compact part reaches into this one's
            # (crowded months, e.g. February 2014 at sunspot number 146, overlap neighbours)
            others = table[table.region_id != row.region_id]
            d_oth = np.hypot(np.radians(others.lat_deg - row.lat_deg),
                             np.radians(np.mod(others.carrington_lon_deg - row.carrington_lon_deg + 180, 360) - 180)
                             * math.cos(math.radians(row.lat_deg))) * 695.7
            reach = 0.5 * row.separation_mm + row.plage_radius_mm + 0.5 * others.separation_mm + others.plage_radius_mm
            if np.any((d_oth < reach) & (others.flux_mx > 1e20)):
                continue
            dlat = np.radians(lat_map - row.lat_deg)
            dlon = np.radians(np.mod(lon_map - row.carrington_lon_deg + 180, 360) - 180)
            dist = np.hypot(dlat, dlon * math.cos(math.radians(row.lat_deg))) * 695.7
            near = np.nan_to_num(dist, nan=1e9) < 0.5 * row.separation_mm + row.plage_radius_mm
            pos = near & (mag > 150)
            neg = near & (mag < -150)
            if pos.sum() < 3 or neg.sum() < 3:
                continue
            x_pos = np.average(cols[pos], weights=np.abs(mag[pos]))
            x_neg = np.average(cols[neg], weights=np.abs(mag[neg]))
            leading = 1 if x_pos > x_neg else -1  # columns increase westward
            assert leading == row.leading_polarity, (date, row.region_id)
            checked += 1
    assert checked >= 5


# ------------------------------------------------------------------ rotation and geometry
def test_longitude_shift_after_one_day_matches_sunpy_synodic():
    import astropy.units as u
    from sunpy.sun.models import differential_rotation

    p = S.SynthParams(start="2014-03-01", end="2014-03-02", cadence="1d")
    times = S.frame_times(p)
    geoms = S.frame_geometries(times, 256)
    fr = S.frame_regions_table(p, times, geoms)
    a = fr[fr.frame == 0].set_index("region_id")
    b = fr[fr.frame == 1].set_index("region_id")
    common = a.index.intersection(b.index)
    assert len(common) >= 10
    shift = np.mod(b.loc[common].stonyhurst_lon_deg - a.loc[common].stonyhurst_lon_deg + 180, 360) - 180
    lat = a.loc[common].lat_deg.to_numpy()
    expected = differential_rotation(1 * u.day, lat * u.deg, model="howard", frame_time="synodic").to_value(u.deg)
    assert np.max(np.abs(shift.to_numpy() - expected)) < 0.2


def test_spot_moves_with_differential_rotation_in_the_map(monkeypatch):
    """A rendered sunspot's centroid moves by sunpy's synodic rate in one day (map-level check)."""
    import astropy.units as u
    from sunpy.sun.models import differential_rotation

    t1 = 56700.0 + 6.0
    geoms = S.frame_geometries([t1, t1 + 1.0], 512)
    region = sc.Region(1, 56700.0, 20.0, float(geoms[0].l0_deg) - 5.0, 2e22, 0.0, 1, True, 24, "N", 7)
    # region_states looks the catalogue up in its own module
    monkeypatch.setattr(S.regions, "regions_alive", lambda params, t: [region])
    p = S.SynthParams(start="2014-03-01", end="2014-03-01", size=512, network_junctions=0, noise_g=0)
    centroids = []
    for t, g in zip((t1, t1 + 1.0), geoms):
        br, _ = S.render_field(p, t, g)
        spot = np.nan_to_num(br) > 1000.0  # the leading (positive) umbra
        w = br[spot]
        centroids.append(float(np.sum(g.stonyhurst_lon_deg[spot] * w) / np.sum(w)))
    expected = differential_rotation(1 * u.day, 20.0 * u.deg, frame_time="synodic").to_value(u.deg)
    assert abs((centroids[1] - centroids[0]) - expected) < 0.2


def test_geometry_over_a_year():
    p = S.SynthParams(start="2011-01-01", end="2011-12-31", cadence="1d")
    times = S.frame_times(p)
    geoms = S.frame_geometries(times, 256)
    b0 = np.array([g.b0_deg for g in geoms])
    radius = np.array([g.rsun_arcsec for g in geoms])
    l0 = np.array([g.l0_deg for g in geoms])
    assert b0.max() <= 7.26 and b0.min() >= -7.26 and b0.max() > 7.1 and b0.min() < -7.1
    assert 943.0 < radius.min() < 944.5 and 975.0 < radius.max() < 976.0
    assert all(g.rsun_px == 98.0 for g in geoms)
    step = np.mod(l0[:-1] - l0[1:], 360.0)
    assert abs(step.mean() - 13.2) < 0.05 and step.min() > 13.0 and step.max() < 13.4


# ------------------------------------------------------------------ field strengths
AR_DATES = ("2014-04-01T00:00", "2016-07-07T01:00", "2012-06-01T00:00")


def active_region_means(mag, geom):
    """The one definition of "mean |B| inside an active region" (README, "The synthetic Sun"):
    regions found by ``find_regions`` with default parameters whose centre has mu >= 0.5 (not
    flagged ``low_mu``); per region the area-weighted mean |B_LOS| over its pixels with
    |B_LOS| >= 100 G (:func:`euv2mag.audit.calibration.strong_field_mean`)."""
    from euv2mag.audit.measurement import find_regions

    labels, table = find_regions(mag, geom)
    means = strong_field_mean(mag, geom, labels)
    return means[~table.low_mu.to_numpy(bool)]


@pytest.mark.slow
def test_mean_abs_field_inside_active_regions():
    """Synthetic ARs at 1024^2: mean over regions of the strong-field mean lies in 150-300 G
    (real ARs: 208 +- 54 G, Liu et al. 2021; the real 2016-07-07 map gives 210 G under the same
    definition, test below); umbrae reach 2000-3500 G (their peak grows with the spot's area)."""
    means, peaks = [], []
    for date in AR_DATES:
        p, t, g = _frame(date, size=1024)
        mag = S.render_frame(p, t, g)["mag"]
        means.extend(active_region_means(mag, g))
        peaks.append(float(np.nanmax(np.abs(mag))))
    means = np.asarray(means)
    assert len(means) >= 10
    assert 150.0 <= float(np.mean(means)) <= 300.0, means
    assert np.all(means > 100.0)  # Liu et al.: 0.77 % of ARs below 100 G
    assert max(peaks) < 3600.0 and max(peaks) > 1500.0  # umbrae up to 3500 G (LOS: times mu, pixel-averaged)


@pytest.mark.realdata
def test_mean_abs_field_inside_real_active_regions(shared_data):
    """The same definition on the real 2016-07-07 HMI map (prepared at 1024^2): 171 and 248 G."""
    from euv2mag.data.fits import prepare_hmi

    mag, g = prepare_hmi(shared_data / "hmi" / "hmi_m_720s_20160707_010000_TAI.fits", size=1024)
    means = active_region_means(mag, g)
    assert len(means) == 2
    assert 150.0 <= float(np.mean(means)) <= 300.0
    assert float(np.mean(means)) == pytest.approx(210.0, abs=5.0)


def test_noise_scales_with_resolution_and_disk_is_nan_outside():
    for size in (128, 512):
        p, t, g = _frame("2019-12-01", size=size, network_junctions=0, rate_scale=0.0)
        frame = S.render_frame(p, t, g)
        centre = g.disk_mask(0.3)
        sigma = float(np.std(frame["mag"][centre]))
        assert sigma == pytest.approx(6.0 * size / 4096 * 1.0, rel=0.12)
        assert np.isnan(frame["mag"][~g.disk_mask(1.0) & ~np.isfinite(g.mu)]).all()
        assert np.isfinite(frame["mag"][g.disk_mask(0.99)]).all()
        assert np.isnan(frame["euv"][~np.isfinite(g.mu)]).all()


# ------------------------------------------------------------------ EUV sign blindness, determinism
def test_euv_is_sign_blind_without_leak_and_sign_aware_with_leak():
    p, t, g = _frame("2014-04-01")
    plus = S.render_frame(p, t, g, sign=1.0)
    minus = S.render_frame(p, t, g, sign=-1.0)
    assert np.array_equal(plus["euv"], minus["euv"], equal_nan=True)
    assert np.nanmax(np.abs(plus["br"] + minus["br"])) == 0.0
    leak = S.SynthParams(start=p.start, end=p.end, size=256, polarity_leak=0.5)
    lp = S.render_frame(leak, t, g, sign=1.0)["euv"]
    lm = S.render_frame(leak, t, g, sign=-1.0)["euv"]
    diff = np.nanmax(np.abs(lp - lm))
    assert diff > 10.0  # DN/s
    euv = plus["euv"][g.disk_mask(0.9)]
    assert 30 < np.median(euv) < 120 and euv.max() <= 16383 / 2.9 + 1e-3
    # bright where |B| is strong: plage/quiet-Sun contrast
    babs = np.abs(plus["br"][g.disk_mask(0.9)])
    assert np.median(euv[babs > 150]) > 2.5 * np.median(euv[babs < 5])


def test_same_seed_identical_other_seed_different(tmp_path):
    a = tmp_path / "a.zarr"
    b = tmp_path / "b.zarr"
    c = tmp_path / "c.zarr"
    args = ["--start", "2012-05-01", "--end", "2012-05-02", "--cadence", "12h", "--size", "64"]
    assert main(["synth", str(a), *args, "--seed", "3"]) == 0
    assert main(["synth", str(b), *args, "--seed", "3"]) == 0
    assert main(["synth", str(c), *args, "--seed", "4"]) == 0
    sa, sb, scs = FrameStore(a), FrameStore(b), FrameStore(c)
    assert sa.n_frames == 3 and sa.kind == "synthetic" and sa.attrs["params"]["seed"] == 3
    for name in ("mag", "euv"):
        for i in range(3):
            assert np.array_equal(sa.read(name, i), sb.read(name, i), equal_nan=True)
            assert not np.array_equal(sa.read(name, i), scs.read(name, i), equal_nan=True)
    assert sa.table("regions").equals(sb.table("regions"))
    fr = sa.table("frame_regions")
    assert set(fr.columns) >= {"frame", "region_id", "lat_deg", "stonyhurst_lon_deg", "carrington_lon_deg",
                               "flux_mx", "mu", "leading_polarity", "hale_conforming"}
    assert set(fr.region_id) <= set(sa.table("regions").region_id)
    assert (fr.mu > 0).all()


def test_resume_rewrites_identical_frames(tmp_path):
    import zarr

    out = tmp_path / "s.zarr"
    args = ["synth", str(out), "--start", "2013-01-01", "--end", "2013-01-03", "--cadence", "1d", "--size", "64"]
    assert main(args) == 0
    before = FrameStore(out).read("mag", 1)
    group = zarr.open_group(str(out), mode="r+")
    group["frame_done"][1] = 0
    group["mag"][1] = np.zeros((64, 64), dtype=np.float32)
    group.attrs["complete"] = False
    assert main(args) == 0
    store = FrameStore(out)
    assert store.complete
    assert np.array_equal(store.read("mag", 1), before, equal_nan=True)
    # a different parameter on the same store is refused in one line
    assert main([*args[:-2], "--size", "128"]) == 2


def test_frames_do_not_depend_on_the_run_range():
    p1 = S.SynthParams(start="2012-01-01", end="2012-01-05", cadence="1d", size=64)
    p2 = S.SynthParams(start="2012-01-03", end="2012-01-03", cadence="1d", size=64)
    t = float(S.frame_times(p1)[2])
    g = S.frame_geometries([t], 64)[0]
    assert np.array_equal(S.render_frame(p1, t, g)["mag"], S.render_frame(p2, t, g)["mag"], equal_nan=True)


# ------------------------------------------------------------------ FITS
def test_fits_headers(tmp_path):
    from astropy.io import fits

    out = tmp_path / "s.zarr"
    fdir = tmp_path / "fits"
    assert main(["synth", str(out), "--start", "2016-07-07T01:00", "--end", "2016-07-07T01:00",
                 "--size", "128", "--fits-dir", str(fdir)]) == 0
    store = FrameStore(out)
    g = store.geometry(0)
    with fits.open(fdir / "aia_304_20160707_010000.fits") as f:
        aia = fits.PrimaryHDU(f[0].data.copy(), header=f[0].header.copy())
    with fits.open(fdir / "hmi_m_20160707_010000.fits") as f:
        hmi = fits.PrimaryHDU(f[0].data.copy(), header=f[0].header.copy())
    for h in (aia.header, hmi.header):
        assert h["CTYPE1"] == "HPLN-TAN" and h["CTYPE2"] == "HPLT-TAN"
        assert h["CDELT1"] == pytest.approx(g.cdelt_arcsec)
        assert h["RSUN_OBS"] == pytest.approx(g.rsun_arcsec)
        assert h["CRLN_OBS"] == pytest.approx(g.l0_deg) and h["CRLT_OBS"] == pytest.approx(g.b0_deg)
        assert h["DSUN_OBS"] == pytest.approx(g.dsun_m) and h["QUALITY"] == 0 and h["HGLN_OBS"] == 0
        off = math.hypot(h["CRPIX1"] - 64.5, h["CRPIX2"] - 64.5)
        assert 0.9 < off < 4.3
    assert aia.header["WAVELNTH"] == 304 and aia.header["EXPTIME"] == pytest.approx(2.9)
    assert hmi.header["CROTA2"] == 180.0 and hmi.header["CONTENT"] == "MAGNETOGRAM"
    # HMI data: disk (finite pixels) centred on CRPIX; rotated back it matches the store frame's field
    finite = np.isfinite(hmi.data)
    ys, xs = np.nonzero(finite)
    assert xs.mean() == pytest.approx(hmi.header["CRPIX1"] - 1, abs=0.15)
    assert ys.mean() == pytest.approx(hmi.header["CRPIX2"] - 1, abs=0.15)
    assert np.isfinite(aia.data).all() and aia.data.max() <= 16383.0
    # the same Sun: AIA / EXPTIME near disk centre ~ store EUV level
    centre = (slice(50, 78), slice(50, 78))
    assert np.median(aia.data[centre]) / 2.9 == pytest.approx(np.nanmedian(store.read("euv", 0)[centre]), rel=0.3)


# ------------------------------------------------------------------ CLI errors
@pytest.mark.parametrize("extra", [
    ["--size", "100"], ["--end", "2010-01-01"], ["--cadence", "12x"], ["--polarity-leak", "-1"],
    ["--start", "yesterday-ish"], ["--anti-hale-fraction", "2"], ["--seed", "x"],
])
def test_bad_options_are_one_line_errors(tmp_path, capsys, extra):
    out = tmp_path / "bad.zarr"
    rc = main(["synth", str(out), "--start", "2011-01-01", "--end", "2011-01-02", *extra])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and err.startswith("euv2mag synth: error:")
    assert not out.exists()


def test_cadence_strings():
    assert S.parse_cadence("12h") == 0.5
    assert S.parse_cadence("1d") == 1.0
    assert S.parse_cadence("30min") == pytest.approx(30 / 1440)
    p = S.SynthParams(start="2011-01-01", end="2011-01-02", cadence="6h")
    assert len(S.frame_times(p)) == 5


# ------------------------------------------------------------------ calibration on real HMI
REAL_FILES = {
    "hmi_m_720s_20160707_010000_TAI.fits": "2016-07-07T01:00:00",
    "hmi_m_720s_20190621_060000_TAI.fits": "2019-06-21T06:00:00",
}


def _real_stats(path):
    from euv2mag.data.fits import prepare_hmi

    mag, geom = prepare_hmi(path, size=1024)
    return disk_statistics(mag, geom)


def synthetic_median_stats(date, offsets=(-12, -6, 0, 6, 12), seed=0):
    """Median calibration statistics of synthetic 1024^2 frames at ``date + offsets`` days."""
    from astropy.time import Time

    t0 = float(Time(date, scale="utc").mjd)
    p = S.SynthParams(start=date, end=date, size=1024, seed=seed)
    times = [t0 + d for d in offsets]
    rows = [disk_statistics(S.render_frame(p, t, g)["mag"], g)
            for t, g in zip(times, S.frame_geometries(times, 1024))]
    return {k: float(np.median([r[k] for r in rows])) for k in rows[0]}


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.parametrize("name", sorted(REAL_FILES))
def test_calibration_against_real_hmi(shared_data, name):
    """Every row of the calibration table within a factor 1.5 of the real map (issue 13), the share
    kept by a +-100 G clip within 0.05."""
    real = _real_stats(shared_data / "hmi" / name)
    synth = synthetic_median_stats(REAL_FILES[name])
    for key in ("frac_gt_50", "frac_gt_100", "frac_gt_500", "tumf_mx"):
        r, s = real[key], synth[key]
        if key == "frac_gt_500" and r < 1e-5:  # no umbra on the real disk: < 4 px of 1024^2 allowed
            assert s < 1e-5, (key, r, s)
            continue
        assert 1 / 1.5 <= s / r <= 1.5, (key, r, s)
    assert abs(synth["clip100_share"] - real["clip100_share"]) <= 0.05


#: Real December 2011 (first cycle-24 peak) as issue 13 gives it: the library's one definition.
DEC2011_REAL = S.DEC2011_REAL


@pytest.mark.slow
def test_calibration_at_the_first_cycle24_peak():
    """Synthetic December 2011 (monthly median of 1024^2 frames every third day, seed 0) against the
    real values: within a factor 1.5 on every row, kept share within 0.05.  One realisation: the
    spread over seeds (and the ensemble mean the criterion is read on) is
    ``benchmarks/calibration_spread.py``, documented in docs/synthetic-sun.rst."""
    synth = synthetic_median_stats("2011-12-01T12:00", offsets=tuple(range(0, 31, 3)))  # 1, 4, ... 31 Dec
    for key in ("tumf_mx", "frac_gt_100", "frac_gt_500"):
        assert 1 / 1.5 <= synth[key] / DEC2011_REAL[key] <= 1.5, (key, synth[key], DEC2011_REAL[key])
    assert abs(synth["clip100_share"] - DEC2011_REAL["clip100_share"]) <= 0.05
