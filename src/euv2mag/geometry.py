"""Full-disk observing geometry: pixels to heliographic coordinates, mu and surface areas.

Conventions (the euv2mag data contract)
---------------------------------------
* Images are solar north up, east left: array **rows increase northward** (row 0 is the
  southernmost row, as in FITS; plot with ``origin="lower"``) and **columns increase westward**.
* The disk centre is at pixel ``(cx, cy) = ((nx - 1) / 2, (ny - 1) / 2)`` unless given, and the
  apparent solar radius is ``rsun_px`` pixels of ``cdelt_arcsec`` each.
* Coordinates are computed exactly for an observer at a finite distance (ray/sphere
  intersection, Thompson 2006, A&A 449, 791), so they agree with ``sunpy``'s
  Helioprojective -> HeliographicStonyhurst transform; ``tests/test_geometry.py`` checks this.
* The surface area of a pixel follows the SHARP convention,
  ``A = (R_sun / rsun_px)**2 / mu`` with ``R_sun = 695.7 Mm`` (the plane-of-sky pixel area at
  the Sun's distance, corrected for foreshortening), so flux in Mx is ``sum(B * A_cm2)``.
"""
from __future__ import annotations

import dataclasses
import math
from functools import cached_property

import numpy as np

from .errors import UserError

__all__ = [
    "DiskGeometry",
    "RSUN_MM",
    "MSH_MM2",
    "MM2_TO_CM2",
    "ARCSEC_PER_RAD",
    "DEFAULT_RSUN_FRACTION",
    "default_rsun_px",
]

#: IAU nominal solar radius in Mm (``sunpy.sun.constants.radius``).
RSUN_MM = 695.7
#: One millionth of the solar hemisphere, 2 pi R_sun^2 1e-6, in Mm^2.
MSH_MM2 = 2.0 * math.pi * RSUN_MM**2 * 1e-6
#: 1 Mm^2 in cm^2.
MM2_TO_CM2 = 1e16
ARCSEC_PER_RAD = 180.0 / math.pi * 3600.0
#: Solar radius as a fraction of the image side in prepared and synthetic frames:
#: KPL19 fixed it at 392 px in 1024^2 images (model-anchors.md).
DEFAULT_RSUN_FRACTION = 392.0 / 1024.0


def default_rsun_px(size: int) -> float:
    """Default apparent solar radius in pixels for an N x N frame (392 px at N = 1024)."""
    return DEFAULT_RSUN_FRACTION * int(size)


@dataclasses.dataclass(frozen=True, eq=True)
class DiskGeometry:
    """Geometry of one full-disk frame.

    Parameters
    ----------
    shape : tuple of int
        Image shape ``(ny, nx)`` in pixels.
    rsun_px : float
        Apparent solar radius in pixels.
    cdelt_arcsec : float
        Plate scale in arcsec per pixel (square pixels).
    b0_deg : float
        Heliographic latitude of the disk centre (CRLT_OBS), degrees.
    l0_deg : float
        Carrington longitude of the disk centre (CRLN_OBS), degrees.
    dsun_m : float
        Observer-Sun distance in metres (informational; the ray geometry uses the
        distance implied by ``rsun_px * cdelt_arcsec`` so that the limb falls at ``rsun_px``).
    center_px : tuple of float, optional
        Disk centre ``(cx, cy)`` in pixels (column, row); default is the image centre.
    time : str, optional
        Observation time, ISO 8601 UTC.

    Examples
    --------
    A 64-pixel frame whose disk radius is KPL19's 392/1024 of the side (24.5 px of 39.2",
    960" in all):

    >>> import numpy as np
    >>> from euv2mag.geometry import DiskGeometry
    >>> geom = DiskGeometry((64, 64), rsun_px=24.5, cdelt_arcsec=39.2)
    >>> geom.center_px
    (31.5, 31.5)
    >>> round(geom.mm_per_px, 2)  # R_sun / rsun_px, Mm
    28.4

    ``mu`` is 1 at disk centre (the four central pixels sit half a pixel off it) and NaN off
    the disk:

    >>> round(float(np.nanmax(geom.mu)), 4)
    0.9996
    >>> bool(np.isnan(geom.mu[0, 0]))
    True
    """

    shape: tuple[int, int]
    rsun_px: float
    cdelt_arcsec: float
    b0_deg: float = 0.0
    l0_deg: float = 0.0
    dsun_m: float = 1.495978707e11
    center_px: tuple[float, float] | None = None
    time: str | None = None

    def __post_init__(self):
        shape = tuple(int(s) for s in self.shape)
        if len(shape) != 2 or min(shape) < 1:
            raise UserError(f"geometry needs a 2-D image shape, got {self.shape!r}")
        object.__setattr__(self, "shape", shape)
        for name in ("rsun_px", "cdelt_arcsec", "dsun_m"):
            value = float(getattr(self, name))
            if not math.isfinite(value) or value <= 0:
                raise UserError(f"geometry value {name}={value!r} must be a positive finite number")
            object.__setattr__(self, name, value)
        for name in ("b0_deg", "l0_deg"):
            value = float(getattr(self, name))
            if not math.isfinite(value):
                raise UserError(f"geometry value {name}={value!r} must be finite")
            object.__setattr__(self, name, value)
        if abs(self.b0_deg) > 90:
            raise UserError(f"geometry value b0_deg={self.b0_deg} is not a latitude")
        if self.center_px is None:
            center = ((shape[1] - 1) / 2.0, (shape[0] - 1) / 2.0)
        else:
            center = (float(self.center_px[0]), float(self.center_px[1]))
        object.__setattr__(self, "center_px", center)
        if self.rsun_arcsec >= 180 * 3600:
            raise UserError("geometry has an impossible angular solar radius")

    # ------------------------------------------------------------------ scalars
    @property
    def size(self) -> int:
        """Image side in pixels (``nx``; frames in a store are square)."""
        return self.shape[1]

    @property
    def rsun_arcsec(self) -> float:
        """Apparent solar radius in arcsec."""
        return self.rsun_px * self.cdelt_arcsec

    @property
    def distance_rsun(self) -> float:
        """Observer distance in solar radii implied by the apparent radius (``1 / sin(alpha)``)."""
        return 1.0 / math.sin(self.rsun_arcsec / ARCSEC_PER_RAD)

    @property
    def mm_per_px(self) -> float:
        """Plane-of-sky pixel size at the Sun in Mm (``R_sun / rsun_px``)."""
        return RSUN_MM / self.rsun_px

    @property
    def projected_pixel_area_mm2(self) -> float:
        """Plane-of-sky pixel area at the Sun in Mm^2 (before the 1/mu correction)."""
        return self.mm_per_px**2

    def rebinned(self, factor: int) -> "DiskGeometry":
        """Geometry of the image block-averaged by ``factor`` x ``factor``."""
        factor = int(factor)
        ny, nx = self.shape
        if factor < 1 or ny % factor or nx % factor:
            raise UserError(f"cannot rebin a {ny}x{nx} image by {factor}")
        cx, cy = self.center_px
        return dataclasses.replace(
            self,
            shape=(ny // factor, nx // factor),
            rsun_px=self.rsun_px / factor,
            cdelt_arcsec=self.cdelt_arcsec * factor,
            center_px=((cx + 0.5) / factor - 0.5, (cy + 0.5) / factor - 0.5),
        )

    def to_dict(self) -> dict:
        """Per-frame values in the names of the store's 1-D arrays."""
        return {
            "time": self.time or "",
            "rsun_px": self.rsun_px,
            "cdelt_arcsec": self.cdelt_arcsec,
            "b0_deg": self.b0_deg,
            "l0_deg": self.l0_deg,
            "dsun_m": self.dsun_m,
        }

    # ------------------------------------------------------------------ per-pixel arrays
    @cached_property
    def _offsets_px(self) -> tuple[np.ndarray, np.ndarray]:
        ny, nx = self.shape
        cx, cy = self.center_px
        x = (np.arange(nx, dtype=np.float64) - cx)[None, :]
        y = (np.arange(ny, dtype=np.float64) - cy)[:, None]
        return x, y

    @cached_property
    def rho(self) -> np.ndarray:
        """(ny, nx) plane-of-sky distance from disk centre in units of the apparent radius."""
        x, y = self._offsets_px
        return np.hypot(x, y) / self.rsun_px

    def disk_mask(self, r_max: float = 1.0) -> np.ndarray:
        """(ny, nx) bool: pixels with ``rho < r_max`` (e.g. 0.95 for the usual limb cut)."""
        return self.rho < r_max

    @cached_property
    def _surface(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Heliocentric (x west, y north, z to observer) of the visible surface, in R_sun, and mu."""
        x_px, y_px = self._offsets_px
        scale = self.cdelt_arcsec / ARCSEC_PER_RAD
        tx = x_px * scale
        ty = y_px * scale
        cos_ty = np.cos(ty)
        dx = np.sin(tx) * cos_ty  # unit ray from the observer
        dy = np.broadcast_to(np.sin(ty), (self.shape[0], self.shape[1]))
        dz = -np.cos(tx) * cos_ty
        d = self.distance_rsun
        b = -d * dz  # = D cos(theta)
        disc = 1.0 - d * d + b * b  # R^2 - D^2 sin^2(theta), R = 1
        with np.errstate(invalid="ignore"):
            t = b - np.sqrt(disc)
        t = np.where(disc >= 0, t, np.nan)
        px = t * dx
        py = t * dy
        pz = d + t * dz
        mu = -(px * dx + py * dy + pz * dz)
        mu = np.clip(mu, 0.0, 1.0, where=np.isfinite(mu), out=mu)
        return px, py, pz, mu

    @cached_property
    def mu(self) -> np.ndarray:
        """(ny, nx) cosine of the heliocentric angle; NaN off the disk."""
        return self._surface[3]

    @cached_property
    def _hgs(self) -> tuple[np.ndarray, np.ndarray]:
        px, py, pz, _ = self._surface
        b0 = math.radians(self.b0_deg)
        lat = np.degrees(np.arcsin(np.clip(py * math.cos(b0) + pz * math.sin(b0), -1, 1)))
        lon = np.degrees(np.arctan2(px, pz * math.cos(b0) - py * math.sin(b0)))
        return lat, lon

    @property
    def lat_deg(self) -> np.ndarray:
        """(ny, nx) heliographic latitude in degrees; NaN off the disk."""
        return self._hgs[0]

    @property
    def stonyhurst_lon_deg(self) -> np.ndarray:
        """(ny, nx) Stonyhurst longitude (0 at the central meridian, west positive), degrees."""
        return self._hgs[1]

    @cached_property
    def carrington_lon_deg(self) -> np.ndarray:
        """(ny, nx) Carrington longitude in degrees in [0, 360); NaN off the disk."""
        return np.mod(self._hgs[1] + self.l0_deg, 360.0)

    @cached_property
    def pixel_area_mm2(self) -> np.ndarray:
        """(ny, nx) foreshortening-corrected surface area per pixel in Mm^2; NaN off the disk.

        ``A = (R_sun / rsun_px)**2 / mu``; pixels with ``mu`` below 1e-3 (the last sliver of
        the limb) get NaN rather than a divergent area.

        Examples
        --------
        The plane-of-sky area of a pixel is ``(695.7 Mm / 24.5)**2``; on the disk it is divided
        by ``mu``, so the area times ``mu`` is the same everywhere:

        >>> import numpy as np
        >>> geom = DiskGeometry((64, 64), rsun_px=24.5, cdelt_arcsec=39.2)
        >>> round(geom.projected_pixel_area_mm2, 1)
        806.3
        >>> on_disk = geom.disk_mask(0.95)
        >>> bool(np.allclose(geom.pixel_area_mm2[on_disk] * geom.mu[on_disk], 806.328))
        True
        >>> bool(np.isnan(geom.pixel_area_mm2[0, 0]))  # off the disk
        True
        """
        mu = self.mu
        with np.errstate(divide="ignore", invalid="ignore"):
            area = self.projected_pixel_area_mm2 / mu
        area[~(mu > 1e-3)] = np.nan
        return area

    @property
    def pixel_area_cm2(self) -> np.ndarray:
        """(ny, nx) foreshortening-corrected surface area per pixel in cm^2; NaN off the disk."""
        return self.pixel_area_mm2 * MM2_TO_CM2

    # ------------------------------------------------------------------ inverse mapping
    def hgs_to_pixel(self, lat_deg, lon_deg):
        """Project Stonyhurst ``(lat, lon)`` in degrees to pixel ``(x, y)``.

        Returns
        -------
        x, y : ndarray of float
            Column and row (pixels), NaN where the point is on the far side.
        mu : ndarray of float
            Cosine of the heliocentric angle (<= 0 on the far side, then x, y are NaN).

        Examples
        --------
        >>> geom = DiskGeometry((64, 64), rsun_px=24.5, cdelt_arcsec=39.2)
        >>> x, y, mu = geom.hgs_to_pixel(0.0, 0.0)  # disk centre (B0 = 0)
        >>> float(x), float(y), float(mu)
        (31.5, 31.5, 1.0)

        North is up (rows increase northward) and west is right:

        >>> x, y, mu = geom.hgs_to_pixel(30.0, 45.0)
        >>> round(float(x), 2), round(float(y), 2), round(float(mu), 3)
        (46.55, 43.78, 0.609)
        >>> x, y, mu = geom.hgs_to_pixel(0.0, 120.0)  # on the far side
        >>> bool(np.isnan(x)), bool(mu < 0)
        (True, True)

        It inverts the per-pixel coordinates of the frame:

        >>> row, col = 40, 20
        >>> x, y, _ = geom.hgs_to_pixel(geom.lat_deg[row, col], geom.stonyhurst_lon_deg[row, col])
        >>> round(float(x), 6), round(float(y), 6)
        (20.0, 40.0)
        """
        lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
        lon = np.radians(np.asarray(lon_deg, dtype=np.float64))
        b0 = math.radians(self.b0_deg)
        xs = np.cos(lat) * np.sin(lon)
        ys = np.sin(lat)
        zs = np.cos(lat) * np.cos(lon)
        x = xs
        y = ys * math.cos(b0) - zs * math.sin(b0)
        z = ys * math.sin(b0) + zs * math.cos(b0)
        d = self.distance_rsun
        # direction from the point to the observer, and mu = n . that direction
        vx, vy, vz = -x, -y, d - z
        norm = np.sqrt(vx * vx + vy * vy + vz * vz)
        mu = (x * vx + y * vy + z * vz) / norm
        tx = np.arctan2(x, d - z)
        ty = np.arcsin(y / norm)
        scale = ARCSEC_PER_RAD / self.cdelt_arcsec
        visible = mu > 0
        cx, cy = self.center_px
        px = np.where(visible, cx + tx * scale, np.nan)
        py = np.where(visible, cy + ty * scale, np.nan)
        return px, py, mu

    def carrington_to_pixel(self, lat_deg, carrington_lon_deg):
        """Like :meth:`hgs_to_pixel` for Carrington longitudes (``lon_hgs = lon_car - L0``)."""
        lon = np.mod(np.asarray(carrington_lon_deg, dtype=np.float64) - self.l0_deg + 180.0, 360.0) - 180.0
        return self.hgs_to_pixel(lat_deg, lon)
