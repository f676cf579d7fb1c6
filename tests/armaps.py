"""Analytic full-disk test maps with Gaussian bipoles (helpers for the region/PIL/match tests).

Field values are built on the solar surface from great-circle distances, so a bipole keeps its
physical size wherever it is placed on the disk.  ``radial=True`` gives the line-of-sight
projection of a radial field (``B_LOS = B_r * mu``), the physical case for foreshortening tests.
"""
from __future__ import annotations

import math

import numpy as np

from euv2mag.geometry import RSUN_MM, DiskGeometry


def geometry(size: int = 1024, b0_deg: float = 0.0, time: str = "2016-07-07T00:00:00") -> DiskGeometry:
    """KPL19-like frame: radius 392/1024 of the side, 959.6 arcsec apparent radius."""
    rsun_px = 392.0 / 1024.0 * size
    return DiskGeometry((size, size), rsun_px=rsun_px, cdelt_arcsec=959.6 / rsun_px, b0_deg=b0_deg, time=time)


def spot_positions(lat, lon, sep_mm, tilt_deg=0.0):
    """(lat, lon) of the leading (west) and following spot of a bipole centred at (lat, lon)."""
    half = sep_mm / 2.0 / RSUN_MM  # rad
    dlat = math.degrees(half * math.sin(math.radians(tilt_deg)))
    dlon = math.degrees(half * math.cos(math.radians(tilt_deg)) / math.cos(math.radians(lat)))
    return (lat - dlat, lon + dlon), (lat + dlat, lon - dlon)


def spot(geom: DiskGeometry, lat, lon, amp_g, sigma_mm, sigma_ns_mm=None) -> np.ndarray:
    """Gaussian of surface distance, amplitude ``amp_g``, width ``sigma_mm``; 0 off disk.

    ``sigma_ns_mm`` makes it elliptical: that width north-south, ``sigma_mm`` east-west.
    """
    la, lo = np.radians(geom.lat_deg), np.radians(geom.stonyhurst_lon_deg)
    c = np.sin(la) * math.sin(math.radians(lat)) + np.cos(la) * math.cos(math.radians(lat)) * np.cos(lo - math.radians(lon))
    d_mm = np.arccos(np.clip(c, -1, 1)) * RSUN_MM
    if sigma_ns_mm is None:
        q = (d_mm / sigma_mm) ** 2
    else:
        d_ns = (la - math.radians(lat)) * RSUN_MM
        d_ew2 = np.maximum(d_mm**2 - d_ns**2, 0.0)
        q = d_ew2 / sigma_mm**2 + d_ns**2 / sigma_ns_mm**2
    out = amp_g * np.exp(-0.5 * q)
    return np.where(np.isfinite(out), out, 0.0)


def bipole(
    geom, lat, lon, *, amp_g=800.0, sigma_mm=6.0, sep_mm=25.0, leading=1, tilt_deg=0.0, radial=False,
    sigma_ns_mm=None, same_sign=False,
):
    """Map of one bipole (leading polarity ``leading`` on the west side; ``same_sign``: both spots +)."""
    (la1, lo1), (la2, lo2) = spot_positions(lat, lon, sep_mm, tilt_deg)
    follow = 1.0 if same_sign else -1.0
    b = leading * (spot(geom, la1, lo1, amp_g, sigma_mm, sigma_ns_mm) + follow * spot(geom, la2, lo2, amp_g, sigma_mm, sigma_ns_mm))
    if radial:
        b = b * np.where(np.isfinite(geom.mu), geom.mu, 0.0)
    return b


def disk_map(geom, bipoles, noise_g=0.0, seed=0, radial=False) -> np.ndarray:
    """Sum of bipoles (dicts of :func:`bipole` keywords) + Gaussian noise; NaN off disk."""
    b = np.zeros(geom.shape)
    for kw in bipoles:
        b += bipole(geom, radial=radial, **kw)
    if noise_g:
        b += np.random.default_rng(seed).normal(0.0, noise_g, geom.shape)
    b[~np.isfinite(geom.mu)] = np.nan
    return b.astype(np.float32)
