"""Quiet-Sun mixed-polarity network of the synthetic Sun (step 3 of a frame).

Junction elements on the whole sphere, renewed daily: the epoch of day ``d`` (integer MJD)
places ``network_junctions`` elements uniformly on the sphere with log-normal fluxes (median
``network_flux_mx`` Mx, 0.8 e-fold spread), drawn from a random stream keyed by
``(seed, d)``.  Each epoch lives two days with a triangular weight ``1 - |t - d|``, so the
network changes smoothly between frames.  Signs are random, with a polar-field bias of the
epoch's sign poleward of 55 deg (``P(+) = (1 + 0.35 s) / 2``, ``s`` the smooth polar-field
sign of :func:`euv2mag.data.synthetic.cycle.polar_field_sign`).

Units: positions in degrees (latitude, Carrington longitude), fluxes in Mx, times in MJD (UTC).
"""
from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

import numpy as np

from .cycle import decimal_year, polar_field_sign

if TYPE_CHECKING:
    from .params import SynthParams

__all__ = ["network_elements"]


@functools.lru_cache(maxsize=8)
def _network_epoch(day: int, seed: int, n: int, flux_mx: float):
    """Network junctions of one daily epoch: (lat, carrington lon, signed flux w/o polar bias, uniform)."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 2, int(day) + 1_000_000])
    lat = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
    lon = rng.uniform(0.0, 360.0, n)
    flux = flux_mx * np.exp(0.8 * rng.standard_normal(n))
    u = rng.uniform(0.0, 1.0, n)
    return lat, lon, flux, u


def network_elements(params: SynthParams, t_mjd: float):
    """Quiet-Sun network elements at ``t_mjd``: the two daily epochs around it, weighted.

    Parameters
    ----------
    params : SynthParams
        Gives ``seed``, ``network_junctions`` and ``network_flux_mx``.
    t_mjd : float
        Time, MJD (UTC, days).

    Returns
    -------
    lat, lon, flux : (n,) float64 ndarrays
        Latitude (deg), Carrington longitude (deg) and signed flux (Mx, already multiplied by
        the epoch's triangular weight) of each element.
    """
    lats, lons, fluxes = [], [], []
    base = int(math.floor(t_mjd))
    year = float(decimal_year(t_mjd))
    bias = {"N": polar_field_sign("N", year), "S": polar_field_sign("S", year)}
    for day in (base, base + 1):
        weight = 1.0 - abs(t_mjd - day)
        if weight <= 0:
            continue
        lat, lon, flux, u = _network_epoch(day, params.seed, params.network_junctions, params.network_flux_mx)
        p_plus = np.full(lat.shape, 0.5)
        polar = np.abs(lat) > 55.0
        p_plus[polar & (lat > 0)] = 0.5 * (1.0 + 0.35 * bias["N"])
        p_plus[polar & (lat < 0)] = 0.5 * (1.0 + 0.35 * bias["S"])
        sign = np.where(u < p_plus, 1.0, -1.0)
        lats.append(lat)
        lons.append(lon)
        fluxes.append(weight * sign * flux)
    return np.concatenate(lats), np.concatenate(lons), np.concatenate(fluxes)
