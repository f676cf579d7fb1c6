"""Region re-appearance of the leakage study: windowed search against all pairs at once.

:func:`euv2mag.audit.leakage.position_matches` tests each test region only against the training
regions within ``max_gap_days`` of its time window; until 2026-12-03 it computed the great-circle
distance to every training region of the series.  This benchmark times both on the same random
region tables (four years like the default demo's 2011-2014 series, test regions in September and
October like its kpl19 split) in this process
and checks that they agree; the baseline is the former all-pairs computation written out here.

Measured 2026-12-03 on the 2-core machine (``--test 4000 --train 5000``, default gap of 4
rotations): see docs/benchmarks.rst.  On the default demo's kpl19 split (9235 test and ~42 000
training region observations) the whole leakage study went from ~57 s to 10.6 s of CPU.

Usage::

    PYTHONPATH=src python benchmarks/leakage_speed.py [--test 4000] [--train 5000] [--repeat 2]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from euv2mag.audit.leakage import SYNODIC_CARRINGTON_DAYS, excess_rotation_deg_per_day, position_matches


def _regions(rng, n: int, *, test: bool) -> pd.DataFrame:
    """Region observations over 2011-2014: test ones in September-October (the kpl19 split's test
    months), training ones in the other months."""
    year = rng.integers(0, 4, n) * 365.25
    day_of_year = rng.uniform(243.0, 304.0, n) if test else (rng.uniform(0.0, 304.0, n) + 61.0) % 365.25
    days = year + day_of_year
    times = (np.datetime64("2011-01-01T00:00:00") + (days * 86400).astype("timedelta64[s]")).astype(str)
    return pd.DataFrame({"time": times, "lat_deg": rng.uniform(-35.0, 35.0, n),
                         "carrington_lon_deg": rng.uniform(0.0, 360.0, n)})


def _all_pairs(test, train, tolerance_deg: float, max_gap_days: float, chunk: int = 512) -> np.ndarray:
    """The former computation: every test region against every training region."""
    from astropy.coordinates import angular_separation

    origin = pd.Timestamp("2011-01-01")
    ta = (pd.to_datetime(test["time"]) - origin).dt.total_seconds().to_numpy() / 86400
    tb = (pd.to_datetime(train["time"]) - origin).dt.total_seconds().to_numpy() / 86400
    lat_a, lon_a = np.radians(test["lat_deg"].to_numpy(float)), test["carrington_lon_deg"].to_numpy(float)
    lat_b, lon_b = np.radians(train["lat_deg"].to_numpy(float)), train["carrington_lon_deg"].to_numpy(float)
    drift = excess_rotation_deg_per_day(train["lat_deg"].to_numpy(float))
    out = np.zeros(len(test), dtype=bool)
    for start in range(0, ta.size, chunk):
        sl = slice(start, start + chunk)
        dt = ta[sl, None] - tb[None, :]
        moved = np.radians(lon_b[None, :] + drift[None, :] * dt)
        sep = np.degrees(angular_separation(np.radians(lon_a[sl, None]), lat_a[sl, None], moved, lat_b[None, :]))
        out[sl] = np.any((sep <= tolerance_deg) & (np.abs(dt) <= max_gap_days), axis=1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test", type=int, default=4000, help="test region observations")
    parser.add_argument("--train", type=int, default=5000, help="training region observations")
    parser.add_argument("--repeat", type=int, default=2, help="rounds (the fastest is shown)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    test, train = _regions(rng, args.test, test=True), _regions(rng, args.train, test=False)
    gap = 4 * SYNODIC_CARRINGTON_DAYS
    best = {"all pairs": np.inf, "windowed": np.inf}
    for _ in range(args.repeat):
        t0 = time.process_time()
        expected = _all_pairs(test, train, 5.0, gap)
        t1 = time.process_time()
        found = position_matches(test, train, tolerance_deg=5.0, max_gap_days=gap)
        t2 = time.process_time()
        if found.tolist() != expected.tolist():
            raise SystemExit("the windowed search disagrees with all pairs")
        best["all pairs"] = min(best["all pairs"], t1 - t0)
        best["windowed"] = min(best["windowed"], t2 - t1)
    print(f"{args.test} test x {args.train} training regions, {int(expected.sum())} matched (identical in both)")
    for name, seconds in best.items():
        print(f"  {name:9s} {seconds:7.2f} s of CPU")
    print(f"  speed-up {best['all pairs'] / best['windowed']:.1f}x")


if __name__ == "__main__":
    main()
