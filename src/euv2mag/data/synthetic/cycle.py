"""Solar-cycle and active-region emergence model of the synthetic Sun.

Everything here is a pure function of the generator parameters and a time, so that any
frame of a synthetic series can be re-made alone (resumed runs give identical frames).

Times are Modified Julian Dates (UTC, days) unless a name says otherwise; latitudes and
longitudes are degrees (Carrington longitudes in [0, 360)); fluxes are Mx.

Model (sources in ``notes/synthetic-sun-physics.md`` and the README section "The synthetic Sun")
------------------------------------------------------------------------------------------------
* Cycle amplitude: Hathaway, Wilson & Reichmann (1994) shape
  ``R(t) = a x^3 / (exp(x^2 / b^2) - c)``, ``x`` = months since ``t0``, one curve per cycle,
  summed (so consecutive cycles overlap by ~2-3 years).  Cycle 24's ``(t0, b, c)`` were solved
  so that the summed curve has its minimum at 2008.93, maximum at 2014.21 and minimum at
  2019.92 (the issue's 2008.9 / 2014.3 / 2019.9) with the V2.0 peak of 116.4.
* Activity envelope (``activity="observed"``, the default): inside January 2008 - September 2022
  the sunspot number ``R(t)`` that drives emergence is the observed monthly mean total sunspot
  number (V2.0; Source: WDC-SILSO, Royal Observatory of Belgium, Brussels, CC BY-NC 4.0;
  :mod:`~euv2mag.data.synthetic.silso`), interpolated linearly between the months' middles; it is
  shared among the overlapping cycles in proportion to their analytic curves (so latitudes and
  Hale polarities keep following each cycle).  Outside the table the analytic curve is used,
  plus the gap between the table and the curve at the table's first/last month, tapered linearly
  to 0 over :data:`ACTIVITY_TAPER_YEARS`, so ``R(t)`` is continuous at both joins.
  ``activity="analytic"`` uses the analytic curve everywhere (the generator before version 3).
* Emergence rate of active regions: ``rate_scale * 5 * R(t)`` per year over the whole Sun
  (about 2.5 R per year on the Earth-facing side, the NOAA numbering rate), split between the
  hemispheres with a +-30 % asymmetry (the north leads before the cycle maximum).
* Latitudes: ``|lat| ~ N(28 deg exp(-(t - t_min) / 90 months), 6 deg)``, ``|lat| >= 3 deg``
  (Hathaway 2011 standard butterfly path).
* Hale's law: the leading (westward) polarity is +1 in the north for odd cycles, -1 for even
  cycles, opposite in the south; a fraction ``anti_hale_fraction`` (default 4 %) is flipped.
* Joy's law: tilt ``32.1 deg sin|lat| + N(0, 15 deg)`` (Stenflo & Kosovichev 2012), leading
  polarity closer to the equator.
* Total unsigned flux at maximum development: ``log10 Phi ~ N(mu, 0.45)`` clipped to
  [20.5, 23.2] (median ``10**mu``).
"""
from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

__all__ = [
    "CYCLES",
    "Cycle",
    "MJD_J2000",
    "decimal_year",
    "mjd_from_decimal_year",
    "cycle_amplitude",
    "total_amplitude",
    "ACTIVITY_MODELS",
    "ACTIVITY_TAPER_YEARS",
    "activity_amplitude",
    "butterfly_latitude",
    "hale_leading_polarity",
    "polar_field_sign",
    "Region",
    "regions_emerging_on_day",
    "rotation_coefficients",
    "rotation_rate_deg_per_day",
    "CARRINGTON_RATE_DEG_PER_DAY",
]

MJD_J2000 = 51544.5
#: Sidereal Carrington rotation rate (sunpy.sun.constants 'sidereal rotation rate'), deg/day.
CARRINGTON_RATE_DEG_PER_DAY = 14.1844


def decimal_year(mjd):
    """Decimal year of an MJD (Julian years from J2000)."""
    return 2000.0 + (np.asarray(mjd, dtype=float) - MJD_J2000) / 365.25


def mjd_from_decimal_year(year):
    """Inverse of :func:`decimal_year`."""
    return MJD_J2000 + (np.asarray(year, dtype=float) - 2000.0) * 365.25


@dataclasses.dataclass(frozen=True)
class Cycle:
    """One sunspot cycle: HWR94 parameters (``t0`` decimal year, ``b`` months, ``c``), V2.0 peak SSN,
    the decimal year of its start (minimum) for the butterfly path, and its number (parity -> Hale)."""

    number: int
    t0: float
    b: float
    c: float
    peak: float
    start: float

    @functools.cached_property
    def a(self) -> float:
        x = np.linspace(0.01, 300.0, 30001)
        return self.peak / float(np.max(x**3 / (np.exp((x / self.b) ** 2) - self.c)))


#: Cycles 23-26 (V2.0 sunspot numbers).  Cycle 24 is solved for the issue's dates (see module doc);
#: 23 and 25 use the common closure c = 0.71; cycle 26 is a placeholder continuation (peak 140).
CYCLES = (
    Cycle(23, 1996.3, 52.0, 0.71, 180.3, 1996.4),
    Cycle(24, 2008.3, 51.0, -2.0, 116.4, 2008.9),
    Cycle(25, 2019.6, 49.6, 0.71, 160.0, 2019.9),
    Cycle(26, 2030.6, 50.0, 0.71, 140.0, 2030.9),
)


def cycle_amplitude(cycle: Cycle, year) -> np.ndarray:
    """Sunspot number (V2.0) contributed by ``cycle`` at decimal ``year``."""
    x = np.clip((np.asarray(year, dtype=float) - cycle.t0) * 12.0, 0.0, None)
    with np.errstate(over="ignore"):
        return cycle.a * x**3 / (np.exp(np.minimum((x / cycle.b) ** 2, 700.0)) - cycle.c)


def total_amplitude(year) -> np.ndarray:
    """Summed sunspot number (V2.0) of all cycles at decimal ``year``."""
    return sum(cycle_amplitude(c, year) for c in CYCLES)


#: Activity envelopes of the emergence rate (``SynthParams.activity``).
ACTIVITY_MODELS = ("observed", "analytic")
#: Years over which the gap between the observed table and the analytic curve is tapered to 0
#: outside the table (continuity at the joins).
ACTIVITY_TAPER_YEARS = 1.0


@functools.lru_cache(maxsize=1)
def _observed_table():
    from .silso import SILSO_MONTHLY_SSN, silso_month_years

    return silso_month_years(), np.asarray(SILSO_MONTHLY_SSN, dtype=float)


def activity_amplitude(year, activity: str = "observed") -> np.ndarray:
    """Sunspot number (V2.0) that drives the emergence rate at decimal ``year``.

    ``"analytic"``: :func:`total_amplitude`.  ``"observed"``: the monthly mean total sunspot
    number of WDC-SILSO (Source: WDC-SILSO, Royal Observatory of Belgium, Brussels; CC BY-NC 4.0),
    linear between the months' middles, inside the table's span; outside it the analytic curve
    plus the table-minus-curve gap at the nearest end month, tapered linearly to 0 over
    :data:`ACTIVITY_TAPER_YEARS` (continuous at the joins, analytic further out).  Never negative.

    Parameters
    ----------
    year : float or array of float
        Decimal year(s) (:func:`decimal_year`).
    activity : {"observed", "analytic"}
        The envelope.

    Returns
    -------
    ndarray of float
        Sunspot number(s), same shape as ``year``.
    """
    y = np.asarray(year, dtype=float)
    analytic = np.asarray(total_amplitude(y), dtype=float)
    if activity == "analytic":
        return analytic
    if activity != "observed":
        raise ValueError(f"unknown activity model {activity!r}")
    years, ssn = _observed_table()
    inside = np.interp(y, years, ssn)
    gap0 = ssn[0] - float(total_amplitude(years[0]))
    gap1 = ssn[-1] - float(total_amplitude(years[-1]))
    before = analytic + gap0 * np.clip(1.0 - (years[0] - y) / ACTIVITY_TAPER_YEARS, 0.0, 1.0)
    after = analytic + gap1 * np.clip(1.0 - (y - years[-1]) / ACTIVITY_TAPER_YEARS, 0.0, 1.0)
    out = np.where(y < years[0], before, np.where(y > years[-1], after, inside))
    return np.maximum(out, 0.0)


def hemisphere_weights(cycle: Cycle, year) -> tuple[float, float]:
    """(north, south) shares of a cycle's emergence rate: +-30 % asymmetry, north first."""
    peak_year = cycle.start + 5.0
    tilt = 0.3 * math.tanh((peak_year - float(year)) / 2.0)
    return 0.5 * (1.0 + tilt), 0.5 * (1.0 - tilt)


def butterfly_latitude(cycle: Cycle, year) -> np.ndarray:
    """Mean unsigned emergence latitude (deg) of ``cycle`` at decimal ``year`` (Hathaway 2011)."""
    months = (np.asarray(year, dtype=float) - cycle.start) * 12.0
    return np.minimum(28.0 * np.exp(-months / 90.0), 40.0)


def hale_leading_polarity(cycle_number: int, hemisphere: str) -> int:
    """Leading-spot sign by Hale's law: odd cycles +1 in the north, even cycles -1; south opposite."""
    north = 1 if cycle_number % 2 else -1
    return north if hemisphere == "N" else -north


#: Polar-field reversals (decimal year, hemisphere, sign after the reversal).
_REVERSALS = {"N": ((2001.0, -1), (2012.9, 1), (2024.2, -1)), "S": ((2002.0, 1), (2014.0, -1), (2025.0, 1))}


def polar_field_sign(hemisphere: str, year: float) -> float:
    """Smooth polar-field sign in [-1, 1] of a hemisphere at decimal ``year`` (reversal over ~1 yr)."""
    reversals = _REVERSALS[hemisphere]
    value = -float(reversals[0][1])
    for when, after in reversals:
        if year > when - 1.5:
            value = after * math.tanh((year - when) / 0.5)
    return float(value)


@functools.lru_cache(maxsize=8)
def rotation_coefficients(model: str = "howard") -> tuple[float, float, float]:
    """``(A, B, C)`` in deg/day of sunpy's sidereal law ``w = A + B sin^2(lat) + C sin^4(lat)``.

    Read once per model from ``sunpy.sun.models.differential_rotation`` (evaluated at 0, 30 and
    60 deg and solved exactly: every sunpy model is of this form), so that per-frame code needs no
    sunpy/astropy-units call.
    """
    import astropy.units as u
    from sunpy.sun.models import differential_rotation

    lat = np.array([0.0, 30.0, 60.0])
    rate = differential_rotation(1.0 * u.day, lat * u.deg, model=model, frame_time="sidereal").to_value(u.deg)
    s2 = np.sin(np.radians(lat)) ** 2
    a, b, c = np.linalg.solve(np.stack([np.ones(3), s2, s2 * s2], axis=1), np.asarray(rate, dtype=float))
    return float(a), float(b), float(c)


def rotation_rate_deg_per_day(lat_deg, model: str = "howard") -> np.ndarray:
    """Sidereal differential-rotation rate (deg/day) at latitude ``lat_deg`` by sunpy's law ``model``.

    Identical to ``sunpy.sun.models.differential_rotation(1 day, lat, model=model,
    frame_time="sidereal")`` (coefficients from :func:`rotation_coefficients`), vectorised numpy.
    """
    a, b, c = rotation_coefficients(model)
    s2 = np.sin(np.radians(np.asarray(lat_deg, dtype=float))) ** 2
    return a + b * s2 + c * s2 * s2


@dataclasses.dataclass(frozen=True)
class Region:
    """One injected bipolar active region (its state at maximum development).

    Attributes
    ----------
    region_id : int
        ``emergence day (MJD) * 1000 + serial``, unique for a seed.
    emergence_mjd : float
        Start of emergence, MJD.
    lat_deg, carrington_lon_deg : float
        Heliographic latitude and Carrington longitude of the bipole centre at emergence.
    total_flux_mx : float
        Maximum total unsigned flux (both polarities), Mx.
    tilt_deg : float
        Joy's-law tilt, degrees, positive = leading polarity closer to the equator.
    leading_polarity : int
        Sign of the leading (westward) polarity.
    hale_conforming : bool
        Whether the leading sign follows Hale's law for the region's hemisphere and cycle.
    cycle : int
        Cycle number.
    hemisphere : str
        "N" or "S".
    seed : int
        Seed of the region's own random details (plage elements).
    """

    region_id: int
    emergence_mjd: float
    lat_deg: float
    carrington_lon_deg: float
    total_flux_mx: float
    tilt_deg: float
    leading_polarity: int
    hale_conforming: bool
    cycle: int
    hemisphere: str
    seed: int


def regions_emerging_on_day(
    day_mjd: int,
    *,
    seed: int,
    rate_scale: float,
    anti_hale_fraction: float,
    log_flux_mean: float,
    log_flux_sigma: float = 0.45,
    activity: str = "observed",
) -> tuple[Region, ...]:
    """Active regions that start emerging on the UTC day starting at integer MJD ``day_mjd``.

    A pure function of its arguments: the random stream is keyed by ``(seed, day)``, so
    the catalogue of a day does not depend on the time range of a run.  The day's sunspot number
    is :func:`activity_amplitude` at the day's middle, shared among the cycles in proportion to
    their analytic curves (:func:`cycle_amplitude`).
    """
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 1, int(day_mjd) + 1_000_000])
    year = float(decimal_year(day_mjd + 0.5))
    analytic_total = float(total_amplitude(year))
    scale = float(activity_amplitude(year, activity)) / analytic_total if analytic_total > 1e-9 else 0.0
    regions = []
    serial = 0
    for cycle in CYCLES:
        amplitude = scale * float(cycle_amplitude(cycle, year))
        if amplitude <= 0.0:
            continue
        per_day = rate_scale * 5.0 * amplitude / 365.25
        for hemisphere, share in zip(("N", "S"), hemisphere_weights(cycle, year)):
            n = int(rng.poisson(per_day * share))
            for _ in range(n):
                t = day_mjd + float(rng.uniform())
                lat_abs = float(butterfly_latitude(cycle, year)) + 6.0 * float(rng.standard_normal())
                while abs(lat_abs) < 3.0 or abs(lat_abs) > 45.0:
                    lat_abs = float(butterfly_latitude(cycle, year)) + 6.0 * float(rng.standard_normal())
                lat_abs = abs(lat_abs)
                lat = lat_abs if hemisphere == "N" else -lat_abs
                lon = float(rng.uniform(0.0, 360.0))
                log_flux = float(np.clip(log_flux_mean + log_flux_sigma * rng.standard_normal(), 20.5, 23.2))
                tilt = 32.1 * math.sin(math.radians(lat_abs)) + 15.0 * float(rng.standard_normal())
                hale = hale_leading_polarity(cycle.number, hemisphere)
                conforming = bool(rng.uniform() >= anti_hale_fraction)
                regions.append(
                    Region(
                        region_id=int(day_mjd) * 1000 + serial,
                        emergence_mjd=t,
                        lat_deg=lat,
                        carrington_lon_deg=lon,
                        total_flux_mx=10.0**log_flux,
                        tilt_deg=tilt,
                        leading_polarity=hale if conforming else -hale,
                        hale_conforming=conforming,
                        cycle=cycle.number,
                        hemisphere=hemisphere,
                        seed=int(rng.integers(0, 2**31 - 1)),
                    )
                )
                serial += 1
    return tuple(regions)
