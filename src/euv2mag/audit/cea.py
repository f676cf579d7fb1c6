"""Oblique cylindrical-equal-area (CEA) cut-outs of a full-disk map around a region (spec §3.1).

The grid of :func:`cea_cutout` is the WCS ``CEA`` projection with its reference point
(``CRVAL``) at the region centre, as :func:`sunpy.map.make_fitswcs_header` would build it: native
longitude ``phi`` along the columns (westward) in steps of ``cea_deg`` (deg), and rows northward
in equal steps of ``(180 / pi) sin(theta)`` (deg), so every pixel has the same area,
``(radians(cea_deg) R)^2`` (0.12 deg -> 1.457 Mm per side, 2.123 Mm^2 with R = 695.7 Mm,
:func:`~euv2mag.audit.pil.cea_pixel_mm`).  The grid covers the region's extent plus a margin
(Mm).  The full-disk map is sampled there with :func:`scipy.ndimage.map_coordinates`
(bilinear) through :meth:`~euv2mag.geometry.DiskGeometry.hgs_to_pixel`; when the map is finer
than the grid by more than 1.5x it is first box-averaged over ``round(ratio)`` pixels so that
values stay averages, like ``reproject``'s adaptive algorithm.  This avoids a full-disk
reprojection.

Units: field in G, coordinates in deg (Stonyhurst latitude and longitude), lengths in Mm.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from ..geometry import RSUN_MM, DiskGeometry
from .pil import cea_pixel_mm

__all__ = ["unit_vectors", "cea_cutout"]


def _rotation(lat_c: float, lon_c: float) -> np.ndarray:
    """Matrix taking Stonyhurst unit vectors (x to lon=0, z north) to the native frame of the cutout."""
    la, lo = math.radians(lat_c), math.radians(lon_c)
    rz = np.array([[math.cos(lo), math.sin(lo), 0.0], [-math.sin(lo), math.cos(lo), 0.0], [0.0, 0.0, 1.0]])
    ry = np.array([[math.cos(la), 0.0, math.sin(la)], [0.0, 1.0, 0.0], [-math.sin(la), 0.0, math.cos(la)]])
    return ry @ rz


def unit_vectors(lat_deg, lon_deg) -> np.ndarray:
    """Cartesian unit vectors of Stonyhurst positions.

    Parameters
    ----------
    lat_deg, lon_deg : array_like
        Stonyhurst latitude and longitude (deg), broadcast together.

    Returns
    -------
    (3, ...) ndarray
        ``x`` towards (lat, lon) = (0, 0) (the disk centre seen from Earth at B0 = 0),
        ``y`` towards lon = 90 deg (west), ``z`` to solar north.
    """
    la, lo = np.radians(lat_deg), np.radians(lon_deg)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def cea_cutout(
    mag_g: np.ndarray,
    geometry: DiskGeometry,
    lat_c: float,
    lon_c: float,
    region_lat_deg: np.ndarray,
    region_lon_deg: np.ndarray,
    *,
    cea_deg: float = 0.12,
    margin_mm: float = 20.0,
    extra: tuple = (),
):
    """Resample a full-disk map onto an oblique CEA grid centred on a region.

    Parameters
    ----------
    mag_g : ndarray
        Full-disk field (G), NaN where missing.
    geometry : DiskGeometry
        Its geometry.
    lat_c, lon_c : float
        Stonyhurst centre of the grid (deg); native (0, 0) of the projection.
    region_lat_deg, region_lon_deg : ndarray
        Stonyhurst coordinates of the region's pixels (set the extent).
    cea_deg : float
        Pixel size (deg of native longitude; rows are equal steps in ``sin(native lat)``).
    margin_mm : float
        Margin around the region extent (Mm).
    extra : tuple of ndarray
        Integer images (e.g. a label image) sampled with nearest neighbour on the same grid.

    Returns
    -------
    cut : ndarray
        (h, w) field in G on the CEA grid (rows northward, columns westward), NaN off the map.
    extras : list of ndarray
        The ``extra`` images on the grid (0 where outside).
    """
    rot = _rotation(lat_c, lon_c)
    n = rot @ unit_vectors(region_lat_deg, region_lon_deg)
    phi = np.degrees(np.arctan2(n[1], n[0]))
    ycea = np.degrees(np.clip(n[2], -1, 1))  # (180/pi) sin(theta)
    margin_deg = math.degrees(margin_mm / RSUN_MM)
    x0 = math.floor((phi.min() - margin_deg) / cea_deg)
    x1 = math.ceil((phi.max() + margin_deg) / cea_deg)
    y0 = math.floor((ycea.min() - margin_deg) / cea_deg)
    y1 = math.ceil((ycea.max() + margin_deg) / cea_deg)
    y1 = min(y1, math.floor(180.0 / math.pi / cea_deg))
    y0 = max(y0, -math.floor(180.0 / math.pi / cea_deg))
    xs = np.arange(x0, x1 + 1) * cea_deg
    ys = np.arange(y0, y1 + 1) * cea_deg
    gphi = np.radians(xs)[None, :]
    sin_t = np.clip(np.radians(ys), -1, 1)[:, None]
    cos_t = np.sqrt(1.0 - sin_t**2)
    native = np.stack(
        np.broadcast_arrays(cos_t * np.cos(gphi), cos_t * np.sin(gphi), sin_t * np.ones_like(gphi))
    )
    world = np.tensordot(rot.T, native, axes=1)
    lat = np.degrees(np.arcsin(np.clip(world[2], -1, 1)))
    lon = np.degrees(np.arctan2(world[1], world[0]))
    px, py, _ = geometry.hgs_to_pixel(lat, lon)
    # crop the source to the sampled area (+2 px) for speed
    fin = np.isfinite(px) & np.isfinite(py)
    shape = (len(ys), len(xs))
    if not fin.any():
        return np.full(shape, np.nan), [np.zeros(shape, dtype=np.asarray(e).dtype) for e in extra]
    ratio = cea_pixel_mm(cea_deg) / geometry.mm_per_px
    pad = 2 + int(math.ceil(ratio))
    c0 = max(0, int(np.floor(px[fin].min())) - pad)
    c1 = min(geometry.shape[1], int(np.ceil(px[fin].max())) + pad + 1)
    r0 = max(0, int(np.floor(py[fin].min())) - pad)
    r1 = min(geometry.shape[0], int(np.ceil(py[fin].max())) + pad + 1)
    src = np.asarray(mag_g, dtype=np.float64)[r0:r1, c0:c1]
    if ratio > 1.5:
        k = int(round(ratio))
        finite = np.isfinite(src)
        num = ndimage.uniform_filter(np.where(finite, src, 0.0), k, mode="nearest")
        den = ndimage.uniform_filter(finite.astype(np.float64), k, mode="nearest")
        with np.errstate(invalid="ignore", divide="ignore"):
            src = np.where(finite, num / den, np.nan)
    coords = np.stack([np.where(fin, py - r0, -1e6), np.where(fin, px - c0, -1e6)])
    cut = ndimage.map_coordinates(src, coords, order=1, mode="constant", cval=np.nan)
    extras = []
    for image in extra:
        image = np.asarray(image)[r0:r1, c0:c1]
        extras.append(ndimage.map_coordinates(image, coords, order=0, mode="constant", cval=0))
    return cut, extras

