"""Active-region (AR) detection on full-disk LOS magnetograms, and per-region parameters.

Detection follows ``../shared/notes/ar-detection-spec.md`` §2.1 (the Zhang, Wang & Liu 2010 /
ARISE lineage) with every size in physical units (Mm, MSH) converted per map with the
disk-centre plate scale ``s = geometry.mm_per_px``; a length ``L`` becomes the odd square
footprint ``k(L) = max(1, 2 * round((L / s - 1) / 2) + 1)`` pixels.

D0  pixels outside ``rho <= r_max`` (0.95) or NaN are excluded; ``B* = B_LOS / mu``.
D1  ``B*`` smoothed with a Gaussian of sigma ``smooth_mm / s`` px, NaN-aware (NaN -> 0 then
    divided by the smoothed valid mask).
D2  seeds ``|B*_smooth| > seed_threshold_g`` (30 G).
D3  seeds with ``|lat| > polar_lat_deg`` (55 deg) removed.
D4  closing (3.5 Mm) then opening (10 Mm) of the seeds.
D5  region growing: 8-connected components of ``seeds | (|B*| > grow_threshold_g)`` (unsmoothed)
    that contain a seed.
D6  closing (6 Mm).
D7  regions with a deprojected area ``sum(A_pix) < min_area_msh`` (135 MSH) removed.
D8  neighbours merged: the D7 mask dilated by ``merge_mm`` (20 Mm) is labelled (8-connected) and
    the labels are transferred to the undilated pixels.
D9  rejected unless both polarities are present, ``1/3 < Phi+/|Phi-| < 3``,
    ``1/3.5 < A+/A- < 3.5`` (deprojected areas of positive and negative pixels) and the
    area-weighted mean of the radial estimate ``|B*| = |B_LOS| / mu`` exceeds ``min_mean_abs_g``.
    ARISE applies its 100 G floor to the radial field Br of synoptic maps, hence ``B*`` here.
    Default 90 G, re-tuned from ARISE's 100 G (documented choice): on the 2016-07-07 HMI map
    prepared at 1024^2 the clearly bipolar, flux-balanced plage region at S08 E44 has
    mean |B*| = 98 G, because at ~1.8 Mm/px the 30 G growth (D5) and the closing (D6) take in
    weak network pixels that dilute the mean; 90 G keeps it and still rejects the unbalanced or
    weak network clusters of that map (mean |B*| <= 84 G or flux ratio outside (1/3, 3)).
D10 relabelled 1..N by decreasing TUMF.

Morphology uses square footprints (as ARISE), implemented as separable ``scipy.ndimage``
maximum/minimum filters (exactly the binary dilation/erosion by a k x k square), on the bounding
box of the valid disk only.

Per-region parameters (:func:`measure_regions`; one row per region, the ``regions.csv`` columns)
-------------------------------------------------------------------------------------------------
``label``                      region label in the label image (1 = largest TUMF)
``lat_deg``, ``lon_deg``       Stonyhurst centre: |B|*A-weighted mean of unit vectors (deg)
``carrington_lon_deg``         Carrington longitude of the centre, ``lon + L0`` mod 360 (deg)
``mu_center``                  cosine of the heliocentric angle at the centre
``low_mu``                     True when ``mu_center < params.low_mu`` (0.5): parameters unreliable
``touches_limb``               True when the region reaches the limb cut (``rho > r_max - 2 px``)
``n_px``                       number of pixels of the region
``n_nan_px``                   pixels of the region (inside the cut) whose field is NaN
``area_mm2``, ``area_msh``     deprojected area ``sum(A_pix)`` (Mm^2, MSH = 2 pi R^2 1e-6)
``tumf_mx``                    total unsigned flux ``sum(|B| A)`` (Mx; LOS field, deprojected area,
                               the SHARP ``USFLUXL`` convention)
``nmf_mx``                     net flux ``sum(B A)`` (Mx)
``flux_pos_mx``, ``flux_neg_mx`` positive and negative flux (Mx; the negative one is < 0)
``imbalance``                  ``|NMF| / TUMF``
``amf_g``                      area-weighted mean |B| = TUMF / area (G)
``tumf_radial_mx``             radial convention ``sum(|B| / mu * A)`` (Mx), labelled as such
``amf_radial_g``               ``tumf_radial_mx / area`` (G)
``max_abs_g``                  maximum |B| (G)
``pil_count``                  number of strong-field PIL segments >= ``pil_min_length_mm``
``pil_length_mm``              their total length (Mm)
``pil_mean_gradient_g_per_mm`` mean |grad B| over the region's PIL-mask pixels (G/Mm; NaN if none)
``r_value``                    SHARP-recipe R (log10 of G x 0.12 deg pixel) on the CEA cutout
``log10_r_mx``                 log10 of R in Mx (S times the 2.123 Mm^2 pixel area); NaN if S < 1
``n_pil_px``                   PIL-mask pixels of the cutout (the R mask)
``pos_lat_deg``, ``pos_lon_deg`` flux-weighted centre of the positive polarity (Stonyhurst, deg)
``neg_lat_deg``, ``neg_lon_deg`` same for the negative polarity
``leading_polarity``           sign of the westernmost polarity centre (+1/-1), 0 if one is missing
``hemisphere``                 "N" or "S" from ``lat_deg``

PIL quantities and R are computed on a per-region CEA cutout at ``cea_deg`` (0.12 deg/px,
1.457 Mm/px, spec §3.1): an oblique cylindrical-equal-area grid whose reference point is the
region centre (the WCS ``CEA`` projection with ``CRVAL`` at the centre, as
``sunpy.map.make_fitswcs_header`` would build), covering the region's extent plus a 20 Mm
margin.  The full-disk map is sampled there with :func:`scipy.ndimage.map_coordinates`
(bilinear) through :meth:`DiskGeometry.hgs_to_pixel`; when the map is finer than the grid by
more than 1.5x it is first box-averaged over ``round(ratio)`` pixels so that values stay
averages, like ``reproject``'s adaptive algorithm.  This avoids a full-disk reprojection (the
whole detection + parameters take ~0.1-0.2 s for a 1024^2 map).  Pixels of other regions inside
a cutout count for R (as SHARP does) but are excluded from the PIL count, length and gradient.

Bad input: a map whose shape differs from the geometry, or with no finite pixel inside the limb
cut, raises :class:`~euv2mag.errors.UserError`.  NaN pixels inside the disk are treated as
missing (weight 0 in the smoothing, excluded from sums; counted in ``n_nan_px``).  A map with no
region gives an empty table with all the columns.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import ndimage

from ..errors import UserError
from ..geometry import MM2_TO_CM2, MSH_MM2, RSUN_MM, DiskGeometry
from .pil import (
    PIL_THRESHOLD_G,
    cea_pixel_mm,
    compute_r_value,
    mean_gradient_g_per_mm,
    pil_mask,
    pil_segments,
)

__all__ = [
    "DetectionParams",
    "REGION_COLUMNS",
    "kernel_px",
    "detect_regions",
    "measure_regions",
    "find_regions",
    "footprint_polarity",
    "cea_cutout",
    "empty_region_table",
    "measure_patch",
]

#: Columns of the table returned by :func:`measure_regions`, in order.
REGION_COLUMNS = (
    "label",
    "lat_deg",
    "lon_deg",
    "carrington_lon_deg",
    "mu_center",
    "low_mu",
    "touches_limb",
    "n_px",
    "n_nan_px",
    "area_mm2",
    "area_msh",
    "tumf_mx",
    "nmf_mx",
    "flux_pos_mx",
    "flux_neg_mx",
    "imbalance",
    "amf_g",
    "tumf_radial_mx",
    "amf_radial_g",
    "max_abs_g",
    "pil_count",
    "pil_length_mm",
    "pil_mean_gradient_g_per_mm",
    "r_value",
    "log10_r_mx",
    "n_pil_px",
    "pos_lat_deg",
    "pos_lon_deg",
    "neg_lat_deg",
    "neg_lon_deg",
    "leading_polarity",
    "hemisphere",
)


@dataclasses.dataclass(frozen=True)
class DetectionParams:
    """Detection and measurement parameters, in physical units (spec §2.1, §3).

    Attributes
    ----------
    r_max : float
        Limb cut in units of the apparent radius (keep ``rho <= r_max``).
    smooth_mm : float
        Gaussian sigma of the D1 smoothing (Mm).
    seed_threshold_g, grow_threshold_g : float
        |B*| thresholds of the seeds (smoothed) and of region growing (unsmoothed), G.
    polar_lat_deg : float
        Seeds poleward of this latitude are removed (deg).
    close1_mm, open_mm, close2_mm, merge_mm : float
        Square footprint sizes of the D4 closing/opening, D6 closing and D8 merge dilation (Mm).
    min_area_msh : float
        Minimum deprojected region area (MSH).
    flux_balance, area_balance : float
        Accepted ranges ``1/x < Phi+/|Phi-| < x`` and ``1/y < A+/A- < y``.
    min_mean_abs_g : float
        Minimum area-weighted mean of ``|B_LOS| / mu`` over a region (G); 90 G (ARISE: 100 G on
        synoptic Br; see the module docstring for the re-tuning).
    low_mu : float
        Regions whose centre has ``mu < low_mu`` are flagged ``low_mu``.
    pil_threshold_g : float
        Strong-field threshold of PILs and R (G).
    pil_min_length_mm : float
        Minimum PIL segment length (Mm).
    cea_deg : float
        Pixel size of the per-region CEA grid (deg).
    cutout_margin_mm : float
        Margin around the region on the CEA cutout (Mm).
    footprint : str
        Structuring element shape; only "square" (ARISE) is implemented, recorded in outputs.
    """

    r_max: float = 0.95
    smooth_mm: float = 1.5
    seed_threshold_g: float = 30.0
    grow_threshold_g: float = 30.0
    polar_lat_deg: float = 55.0
    close1_mm: float = 3.5
    open_mm: float = 10.0
    close2_mm: float = 6.0
    min_area_msh: float = 135.0
    merge_mm: float = 20.0
    flux_balance: float = 3.0
    area_balance: float = 3.5
    min_mean_abs_g: float = 90.0
    low_mu: float = 0.5
    pil_threshold_g: float = PIL_THRESHOLD_G
    pil_min_length_mm: float = 10.0
    cea_deg: float = 0.12
    cutout_margin_mm: float = 20.0
    footprint: str = "square"

    def __post_init__(self):
        for f in dataclasses.fields(self):
            if f.name == "footprint":
                continue
            value = float(getattr(self, f.name))
            if not math.isfinite(value) or value < 0:
                raise UserError(f"detection parameter {f.name}={value!r} must be a finite number >= 0")
        if not 0 < self.r_max <= 1:
            raise UserError(f"detection parameter r_max={self.r_max} must be in (0, 1]")
        if self.flux_balance < 1 or self.area_balance < 1:
            raise UserError("detection parameters flux_balance and area_balance must be >= 1")
        if self.cea_deg <= 0:
            raise UserError("detection parameter cea_deg must be > 0")
        if self.footprint != "square":
            raise UserError(f"detection parameter footprint={self.footprint!r}: only 'square' is supported")

    def to_dict(self) -> dict:
        """Parameters as a plain dict (for provenance in output metadata)."""
        return dataclasses.asdict(self)


def kernel_px(length_mm: float, mm_per_px: float) -> int:
    """Odd square-footprint width for a length in Mm: ``max(1, 2 round((L/s - 1)/2) + 1)``."""
    return max(1, 2 * int(round((length_mm / mm_per_px - 1.0) / 2.0)) + 1)


# --------------------------------------------------------------------------- morphology helpers
def _dilate(mask: np.ndarray, k: int) -> np.ndarray:
    if k <= 1:
        return mask
    return ndimage.maximum_filter(mask.view(np.uint8), size=k, mode="constant", cval=0).view(bool)


def _erode(mask: np.ndarray, k: int) -> np.ndarray:
    if k <= 1:
        return mask
    return ndimage.minimum_filter(mask.view(np.uint8), size=k, mode="constant", cval=0).view(bool)


def _closing(mask: np.ndarray, k: int) -> np.ndarray:
    # pad so that the closing is not eroded by the image border
    if k <= 1:
        return mask
    p = k
    padded = np.pad(mask, p)
    return _erode(_dilate(padded, k), k)[p:-p, p:-p]


def _opening(mask: np.ndarray, k: int) -> np.ndarray:
    return _dilate(_erode(mask, k), k)


def _check_inputs(mag_g, geometry: DiskGeometry) -> np.ndarray:
    if not isinstance(geometry, DiskGeometry):
        raise TypeError("geometry must be a euv2mag.geometry.DiskGeometry")
    mag = np.asarray(mag_g)
    if mag.ndim != 2:
        raise UserError(f"magnetogram must be a 2-D image, got shape {mag.shape}")
    if mag.shape != tuple(geometry.shape):
        raise UserError(f"magnetogram shape {mag.shape} does not match its geometry {tuple(geometry.shape)}")
    return mag.astype(np.float64, copy=False)


def _valid_box(valid: np.ndarray) -> tuple[slice, slice]:
    rows = np.flatnonzero(valid.any(axis=1))
    cols = np.flatnonzero(valid.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


# --------------------------------------------------------------------------- detection
def detect_regions(mag_g: np.ndarray, geometry: DiskGeometry, params: DetectionParams = DetectionParams()) -> np.ndarray:
    """Detect active regions on a full-disk LOS magnetogram (spec §2.1, steps D0-D10).

    Parameters
    ----------
    mag_g : ndarray
        (ny, nx) LOS field in Gauss, solar north up (row 0 south), NaN off disk allowed.
    geometry : DiskGeometry
        Geometry of the map.
    params : DetectionParams
        Detection parameters (physical units).

    Returns
    -------
    ndarray of int32
        Label image, 0 = background, 1..N regions ordered by decreasing TUMF.

    Raises
    ------
    UserError
        Shape mismatch with the geometry, or no finite pixel inside the limb cut.
    """
    mag = _check_inputs(mag_g, geometry)
    labels = np.zeros(mag.shape, dtype=np.int32)
    inside = geometry.disk_mask(params.r_max) & np.isfinite(geometry.mu)
    valid = inside & np.isfinite(mag)
    if not valid.any():
        raise UserError("magnetogram has no finite pixel inside the limb cut")
    box = _valid_box(inside)
    s = geometry.mm_per_px

    mu = geometry.mu[box]
    b = mag[box]
    v = valid[box]
    area = geometry.pixel_area_mm2[box]
    lat = geometry.lat_deg[box]
    with np.errstate(invalid="ignore", divide="ignore"):
        bstar = np.where(v, b / mu, 0.0)

    # D1 NaN-aware smoothing
    sigma = params.smooth_mm / s
    if sigma > 0:
        num = ndimage.gaussian_filter(bstar, sigma, mode="constant")
        den = ndimage.gaussian_filter(v.astype(np.float64), sigma, mode="constant")
        with np.errstate(invalid="ignore", divide="ignore"):
            smooth = np.where(v & (den > 1e-6), num / den, 0.0)
    else:
        smooth = bstar
    # D2, D3
    seeds = (np.abs(smooth) > params.seed_threshold_g) & v
    with np.errstate(invalid="ignore"):
        seeds &= ~(np.abs(lat) > params.polar_lat_deg)
    # D4
    seeds = _opening(_closing(seeds, kernel_px(params.close1_mm, s)), kernel_px(params.open_mm, s)) & v
    if not seeds.any():
        return labels
    # D5 region growing
    grow = (np.abs(bstar) > params.grow_threshold_g) & v
    lab, n = ndimage.label(grow | seeds, structure=np.ones((3, 3)))
    keep = np.zeros(n + 1, dtype=bool)
    keep[np.unique(lab[seeds])] = True
    keep[0] = False
    mask = keep[lab]
    # D6
    mask = _closing(mask, kernel_px(params.close2_mm, s)) & v
    # D7 small regions (deprojected area)
    lab, n = ndimage.label(mask, structure=np.ones((3, 3)))
    if n == 0:
        return labels
    areas = np.bincount(lab.ravel(), weights=np.where(mask, area, 0.0).ravel(), minlength=n + 1)
    big = areas >= params.min_area_msh * MSH_MM2
    big[0] = False
    mask = big[lab]
    if not mask.any():
        return labels
    # D8 merge neighbours
    merged, n = ndimage.label(_dilate(mask, kernel_px(params.merge_mm, s)), structure=np.ones((3, 3)))
    lab = np.where(mask, merged, 0)
    # D9 rejection
    flat = lab.ravel()
    sel = flat > 0
    idx = flat[sel]
    bb = np.where(v, b, 0.0).ravel()[sel]
    aa = area.ravel()[sel]
    pos_f = np.bincount(idx, weights=np.where(bb > 0, bb * aa, 0.0), minlength=n + 1)
    neg_f = np.bincount(idx, weights=np.where(bb < 0, -bb * aa, 0.0), minlength=n + 1)
    pos_a = np.bincount(idx, weights=np.where(bb > 0, aa, 0.0), minlength=n + 1)
    neg_a = np.bincount(idx, weights=np.where(bb < 0, aa, 0.0), minlength=n + 1)
    tot_a = np.bincount(idx, weights=np.where(np.isfinite(b.ravel()[sel]), aa, 0.0), minlength=n + 1)
    star_f = np.bincount(idx, weights=np.abs(bstar.ravel()[sel]) * aa, minlength=n + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        fr = pos_f / neg_f
        ar = pos_a / neg_a
        amf = star_f / tot_a  # mean |B*| = |B_LOS| / mu, the radial estimate (ARISE: Br)
    ok = (
        (pos_f > 0)
        & (neg_f > 0)
        & (fr > 1.0 / params.flux_balance)
        & (fr < params.flux_balance)
        & (ar > 1.0 / params.area_balance)
        & (ar < params.area_balance)
        & (amf > params.min_mean_abs_g)
    )
    ok[0] = False
    # D10 relabel by decreasing TUMF
    good = np.flatnonzero(ok)
    order = good[np.argsort(-(pos_f + neg_f)[good], kind="stable")]
    lut = np.zeros(n + 1, dtype=np.int32)
    lut[order] = np.arange(1, order.size + 1, dtype=np.int32)
    labels[box] = lut[lab]
    return labels


# --------------------------------------------------------------------------- CEA cutouts
def _rotation(lat_c: float, lon_c: float) -> np.ndarray:
    """Matrix taking Stonyhurst unit vectors (x to lon=0, z north) to the native frame of the cutout."""
    la, lo = math.radians(lat_c), math.radians(lon_c)
    rz = np.array([[math.cos(lo), math.sin(lo), 0.0], [-math.sin(lo), math.cos(lo), 0.0], [0.0, 0.0, 1.0]])
    ry = np.array([[math.cos(la), 0.0, math.sin(la)], [0.0, 1.0, 0.0], [-math.sin(la), 0.0, math.cos(la)]])
    return ry @ rz


def _unit(lat_deg, lon_deg) -> np.ndarray:
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
    n = rot @ _unit(region_lat_deg, region_lon_deg)
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


# --------------------------------------------------------------------------- measurement
def empty_region_table():
    """An empty region table with all :data:`REGION_COLUMNS`."""
    import pandas as pd

    return pd.DataFrame({c: pd.Series(dtype=_column_dtype(c)) for c in REGION_COLUMNS})


def _column_dtype(name: str) -> str:
    if name in ("label", "n_px", "n_nan_px", "pil_count", "leading_polarity", "n_pil_px"):
        return "int64"
    if name in ("low_mu", "touches_limb"):
        return "bool"
    if name == "hemisphere":
        return "object"
    return "float64"


def _weighted_centre(w, xyz, idx, n):
    sums = np.stack([np.bincount(idx, weights=w * xyz[i], minlength=n + 1) for i in range(3)])
    norm = np.sqrt((sums**2).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        u = sums / norm
    lat = np.degrees(np.arcsin(np.clip(u[2], -1, 1)))
    lon = np.degrees(np.arctan2(u[1], u[0]))
    bad = ~(norm > 0)
    lat[bad] = np.nan
    lon[bad] = np.nan
    return lat, lon


def footprint_polarity(mag_g: np.ndarray, geometry: DiskGeometry, labels: np.ndarray, *, threshold_g: float = 10.0):
    """Polarity of a map inside given region footprints (e.g. a generated map in the reference's regions).

    Region-level polarity from matched pairs needs the generated map to pass the detector; this
    measure does not: it reads the map only inside the footprints ``labels`` found elsewhere, so
    it tests "is the sign right where the regions are" at any field amplitude.

    Parameters
    ----------
    mag_g : (H, W) ndarray
        LOS field in G (NaN ignored).
    geometry : DiskGeometry
        Geometry of the map.
    labels : (H, W) ndarray of int
        Region footprints (0 = background), e.g. from :func:`detect_regions` on the reference.
    threshold_g : float
        Pixels with ``|B|`` at or below this (G) do not count.

    Returns
    -------
    pandas.DataFrame
        One row per label present: ``label``, ``leading_polarity`` (+1/-1: sign of the
        westernmost of the flux-weighted positive and negative centres; 0 when a polarity is
        missing), ``nmf_mx`` (net flux inside the footprint, Mx), ``tumf_mx`` (Mx).
    """
    import pandas as pd

    lab = np.asarray(labels)
    if lab.shape != np.shape(mag_g):
        raise UserError(f"footprints of shape {lab.shape} do not fit a map of shape {np.shape(mag_g)}")
    n = int(lab.max()) if lab.size else 0
    sel = lab > 0
    idx = lab[sel]
    b = np.asarray(mag_g, dtype=np.float64)[sel]
    area = geometry.pixel_area_cm2[sel]
    use = np.isfinite(b) & np.isfinite(area) & (np.abs(b) > threshold_g)
    w_pos = np.where(use & (b > 0), b * np.where(use, area, 0.0), 0.0)
    w_neg = np.where(use & (b < 0), -b * np.where(use, area, 0.0), 0.0)
    xyz = _unit(geometry.lat_deg[sel], geometry.stonyhurst_lon_deg[sel])
    xyz = np.where(np.isfinite(xyz), xyz, 0.0)
    _, plon = _weighted_centre(w_pos, xyz, idx, n)
    _, nlon = _weighted_centre(w_neg, xyz, idx, n)
    fpos = np.bincount(idx, weights=w_pos, minlength=n + 1)
    fneg = np.bincount(idx, weights=w_neg, minlength=n + 1)
    present = np.flatnonzero(np.bincount(idx, minlength=n + 1))
    rows = []
    for k in present[present > 0]:
        both = fpos[k] > 0 and fneg[k] > 0 and np.isfinite(plon[k]) and np.isfinite(nlon[k])
        rows.append({
            "label": int(k),
            "leading_polarity": (1 if plon[k] > nlon[k] else -1) if both else 0,
            "nmf_mx": float(fpos[k] - fneg[k]),
            "tumf_mx": float(fpos[k] + fneg[k]),
        })
    return pd.DataFrame(rows, columns=["label", "leading_polarity", "nmf_mx", "tumf_mx"])


def measure_regions(
    mag_g: np.ndarray,
    geometry: DiskGeometry,
    labels: np.ndarray,
    params: DetectionParams = DetectionParams(),
):
    """Parameters of every labelled region (spec §3); see the module docstring for the columns.

    Parameters
    ----------
    mag_g : ndarray
        (ny, nx) LOS field in G.
    geometry : DiskGeometry
        Geometry of the map.
    labels : ndarray of int
        Label image (0 = background), e.g. from :func:`detect_regions`.
    params : DetectionParams
        Parameters (limb cut, PIL threshold, CEA grid, ``low_mu`` flag).

    Returns
    -------
    pandas.DataFrame
        One row per label present (ascending label), columns :data:`REGION_COLUMNS`.
    """
    import pandas as pd

    mag = _check_inputs(mag_g, geometry)
    labels = np.asarray(labels)
    if labels.shape != mag.shape:
        raise UserError(f"label image shape {labels.shape} does not match the magnetogram {mag.shape}")
    inside = geometry.disk_mask(params.r_max) & np.isfinite(geometry.mu)
    lab = np.where(inside, labels, 0).astype(np.int64)
    n = int(lab.max()) if lab.size else 0
    if n <= 0:
        return empty_region_table()
    sel = lab > 0
    idx = lab[sel]
    present = np.flatnonzero(np.bincount(idx, minlength=n + 1))
    present = present[present > 0]
    b_all = mag[sel]
    fin = np.isfinite(b_all)
    b = np.where(fin, b_all, 0.0)
    a_mm2 = geometry.pixel_area_mm2[sel]
    a_mm2 = np.where(np.isfinite(a_mm2), a_mm2, 0.0)
    a_cm2 = a_mm2 * MM2_TO_CM2
    absb = np.abs(b)
    lat_px = geometry.lat_deg[sel]
    lon_px = geometry.stonyhurst_lon_deg[sel]
    xyz = _unit(lat_px, lon_px)

    def bc(w):
        return np.bincount(idx, weights=w, minlength=n + 1)

    n_px = np.bincount(idx, minlength=n + 1)
    n_nan = np.bincount(idx, weights=(~fin).astype(float), minlength=n + 1)
    area = bc(np.where(fin, a_mm2, 0.0))
    tumf = bc(absb * a_cm2)
    mu_px = geometry.mu[sel]
    with np.errstate(invalid="ignore", divide="ignore"):
        tumf_rad = bc(np.where(mu_px > 0, absb / mu_px, 0.0) * a_cm2)
    fpos = bc(np.where(b > 0, b * a_cm2, 0.0))
    fneg = bc(np.where(b < 0, b * a_cm2, 0.0))
    maxb = np.zeros(n + 1)
    np.maximum.at(maxb, idx, absb)
    lat_c, lon_c = _weighted_centre(absb * a_cm2, xyz, idx, n)
    plat, plon = _weighted_centre(np.where(b > 0, b * a_cm2, 0.0), xyz, idx, n)
    nlat, nlon = _weighted_centre(np.where(b < 0, -b * a_cm2, 0.0), xyz, idx, n)

    # limb contact: any pixel within 2 px of the limb cut
    edge = geometry.rho > params.r_max - 2.0 / geometry.rsun_px
    touches = np.bincount(idx, weights=edge[sel].astype(float), minlength=n + 1) > 0

    rows = []
    field = np.where(inside, mag, np.nan)
    pix_mm = cea_pixel_mm(params.cea_deg)
    for k in present:
        _, _, mu_c = geometry.hgs_to_pixel(lat_c[k], lon_c[k])
        mu_c = float(mu_c)
        pil = _region_pil(field, geometry, lab, int(k), lat_c[k], lon_c[k], idx, lat_px, lon_px, params, pix_mm)
        with np.errstate(invalid="ignore", divide="ignore"):
            amf = tumf[k] / (area[k] * MM2_TO_CM2) if area[k] > 0 else math.nan
            imb = abs(fpos[k] + fneg[k]) / tumf[k] if tumf[k] > 0 else math.nan
        if fpos[k] > 0 and fneg[k] < 0 and np.isfinite(plon[k]) and np.isfinite(nlon[k]):
            leading = 1 if plon[k] > nlon[k] else -1
        else:
            leading = 0
        rows.append(
            {
                "label": int(k),
                "lat_deg": float(lat_c[k]),
                "lon_deg": float(lon_c[k]),
                "carrington_lon_deg": float(np.mod(lon_c[k] + geometry.l0_deg, 360.0)),
                "mu_center": mu_c,
                "low_mu": bool(not mu_c >= params.low_mu),
                "touches_limb": bool(touches[k]),
                "n_px": int(n_px[k]),
                "n_nan_px": int(n_nan[k]),
                "area_mm2": float(area[k]),
                "area_msh": float(area[k] / MSH_MM2),
                "tumf_mx": float(tumf[k]),
                "nmf_mx": float(fpos[k] + fneg[k]),
                "flux_pos_mx": float(fpos[k]),
                "flux_neg_mx": float(fneg[k]),
                "imbalance": float(imb),
                "amf_g": float(amf),
                "tumf_radial_mx": float(tumf_rad[k]),
                "amf_radial_g": float(tumf_rad[k] / (area[k] * MM2_TO_CM2)) if area[k] > 0 else math.nan,
                "max_abs_g": float(maxb[k]),
                **pil,
                "pos_lat_deg": float(plat[k]),
                "pos_lon_deg": float(plon[k]),
                "neg_lat_deg": float(nlat[k]),
                "neg_lon_deg": float(nlon[k]),
                "leading_polarity": int(leading),
                "hemisphere": "N" if lat_c[k] >= 0 else "S",
            }
        )
    table = pd.DataFrame(rows, columns=list(REGION_COLUMNS))
    return table.astype({c: _column_dtype(c) for c in REGION_COLUMNS})


def _region_pil(field, geometry, lab, k, lat_c, lon_c, idx, lat_px, lon_px, params, pix_mm) -> dict:
    """PIL count/length/gradient and R of region ``k`` on its CEA cutout."""
    empty = {
        "pil_count": 0,
        "pil_length_mm": 0.0,
        "pil_mean_gradient_g_per_mm": math.nan,
        "r_value": 0.0,
        "log10_r_mx": math.nan,
        "n_pil_px": 0,
    }
    if not (np.isfinite(lat_c) and np.isfinite(lon_c)):
        return empty
    mine = idx == k
    cut, (labcut,) = cea_cutout(
        field,
        geometry,
        lat_c,
        lon_c,
        lat_px[mine],
        lon_px[mine],
        cea_deg=params.cea_deg,
        margin_mm=params.cutout_margin_mm,
        extra=(lab,),
    )
    r = compute_r_value(cut, params.cea_deg, rsun_ref_m=RSUN_MM * 1e6, scale=1, threshold_g=params.pil_threshold_g)
    mask = pil_mask(cut, params.pil_threshold_g)
    own = ndimage.binary_dilation(labcut == k, np.ones((3, 3)), iterations=2) & ~((labcut > 0) & (labcut != k))
    mask &= own
    seg = pil_segments(mask, pix_mm, params.pil_min_length_mm)
    grad = mean_gradient_g_per_mm(cut, mask, pix_mm)
    return {
        "pil_count": seg.count,
        "pil_length_mm": seg.total_length_mm,
        "pil_mean_gradient_g_per_mm": grad,
        "r_value": r.r_value,
        "log10_r_mx": r.log10_r_mx,
        "n_pil_px": r.n_pil_px,
    }


def find_regions(mag_g: np.ndarray, geometry: DiskGeometry, params: DetectionParams = DetectionParams()):
    """Detect and measure regions: ``(labels, table)`` (see :func:`detect_regions`, :func:`measure_regions`)."""
    labels = detect_regions(mag_g, geometry, params)
    return labels, measure_regions(mag_g, geometry, labels, params)


# --------------------------------------------------------------------------- SHARP-like CEA patches
def measure_patch(
    los_g: np.ndarray,
    cdelt_deg: float,
    *,
    rsun_ref_m: float = 6.96e8,
    dsun_obs_m: float = 1.495978707e11,
    mask: np.ndarray | None = None,
    params: DetectionParams = DetectionParams(),
) -> dict:
    """Parameters of a whole SHARP-like CEA patch (one ``regions.csv`` row in ``--patch`` mode).

    Parameters
    ----------
    los_g : ndarray
        LOS field on the patch's CEA grid (G).
    cdelt_deg : float
        CEA pixel size (header ``CDELT1``, deg).
    rsun_ref_m, dsun_obs_m : float
        Header ``RSUN_REF`` and ``DSUN_OBS`` (m).
    mask : ndarray of bool, optional
        Pixels that belong to the region (e.g. HARP ``bitmap >= 30``); default: the whole patch.
    params : DetectionParams
        PIL threshold, minimum PIL length and the PIL grid (``cea_deg``).

    Returns
    -------
    dict
        ``n_px``, ``area_mm2``, ``area_msh``, ``tumf_mx``, ``nmf_mx``, ``flux_pos_mx``,
        ``flux_neg_mx``, ``amf_g``, ``max_abs_g`` over the mask, with the CEA pixel area
        ``(radians(CDELT1) * RSUN_REF)^2``; ``r_value``, ``log10_r_mx``, ``n_pil_px`` from
        :func:`~euv2mag.audit.pil.compute_r_value` on the whole patch (the bitmap is not used for
        R, as in SHARP); ``pil_count``, ``pil_length_mm``, ``pil_mean_gradient_g_per_mm`` on the
        patch block-averaged to ``params.cea_deg`` (factor ``round(cea_deg / CDELT1)``), PIL pixels
        restricted to blocks at least half inside the mask.
    """
    from skimage.measure import block_reduce

    los = np.asarray(los_g, dtype=np.float64)
    if los.ndim != 2 or los.size == 0:
        raise UserError(f"patch must be a non-empty 2-D image, got shape {los.shape}")
    if not (math.isfinite(cdelt_deg) and cdelt_deg > 0):
        raise UserError(f"patch pixel size CDELT1={cdelt_deg!r} must be a positive number")
    if mask is None:
        mask = np.ones(los.shape, dtype=bool)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != los.shape:
        raise UserError(f"bitmap shape {mask.shape} does not match the patch {los.shape}")
    pix_mm = math.radians(cdelt_deg) * rsun_ref_m / 1e6
    pix_cm2 = pix_mm**2 * MM2_TO_CM2
    sel = mask & np.isfinite(los)
    b = los[sel]
    area_mm2 = sel.sum() * pix_mm**2
    tumf = float(np.sum(np.abs(b)) * pix_cm2)
    fpos = float(np.sum(b[b > 0]) * pix_cm2)
    fneg = float(np.sum(b[b < 0]) * pix_cm2)
    r = compute_r_value(los, cdelt_deg, rsun_ref_m=rsun_ref_m, dsun_obs_m=dsun_obs_m, threshold_g=params.pil_threshold_g)
    f = max(1, int(round(params.cea_deg / cdelt_deg)))
    ny, nx = (los.shape[0] // f) * f, (los.shape[1] // f) * f
    if ny and nx:
        coarse = block_reduce(los[:ny, :nx], (f, f), np.mean)
        inside = block_reduce(mask[:ny, :nx].astype(float), (f, f), np.mean) >= 0.5
        cpix_mm = pix_mm * f
        pmask = pil_mask(coarse, params.pil_threshold_g) & inside
        seg = pil_segments(pmask, cpix_mm, params.pil_min_length_mm)
        grad = mean_gradient_g_per_mm(coarse, pmask, cpix_mm)
    else:
        seg, grad = None, math.nan
    return {
        "n_px": int(sel.sum()),
        "area_mm2": float(area_mm2),
        "area_msh": float(area_mm2 / (2 * math.pi * (rsun_ref_m / 1e6) ** 2 * 1e-6)),
        "tumf_mx": tumf,
        "nmf_mx": fpos + fneg,
        "flux_pos_mx": fpos,
        "flux_neg_mx": fneg,
        "amf_g": float(tumf / (area_mm2 * MM2_TO_CM2)) if area_mm2 > 0 else math.nan,
        "max_abs_g": float(np.max(np.abs(b))) if b.size else math.nan,
        "pil_count": seg.count if seg else 0,
        "pil_length_mm": seg.total_length_mm if seg else 0.0,
        "pil_mean_gradient_g_per_mm": grad,
        "r_value": r.r_value,
        "log10_r_mx": r.log10_r_mx,
        "n_pil_px": r.n_pil_px,
        "r_scale": r.scale,
    }
