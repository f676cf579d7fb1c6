"""Parameters of detected active regions on full-disk LOS magnetograms (spec §3).

:func:`measure_regions` measures every region of a label image (e.g. from
:func:`~euv2mag.audit.detection.detect_regions`); :func:`find_regions` detects and measures;
:func:`footprint_polarity` reads a map's polarity inside footprints found on another map.

Per-region parameters (:data:`REGION_COLUMNS`; one row per region, the ``regions.csv`` columns)
-----------------------------------------------------------------------------------------------
``label``
    region label in the label image (1 = largest TUMF)
``lat_deg``, ``lon_deg``
    Stonyhurst centre: ``|B| A``-weighted mean of unit vectors (deg)
``carrington_lon_deg``
    Carrington longitude of the centre, ``lon + L0`` mod 360 (deg)
``mu_center``
    cosine of the heliocentric angle at the centre
``low_mu``
    True when ``mu_center < params.low_mu`` (0.5): parameters unreliable
``touches_limb``
    True when the region reaches the limb cut (``rho > r_max - 2 px``)
``n_px``
    number of pixels of the region
``n_nan_px``
    pixels of the region (inside the cut) whose field is NaN
``area_mm2``, ``area_msh``
    deprojected area ``sum(A_pix)`` (Mm^2, MSH = 2 pi R^2 1e-6)
``tumf_mx``
    total unsigned flux ``sum(|B| A)`` (Mx; LOS field, deprojected area,
    the SHARP ``USFLUXL`` convention)
``nmf_mx``
    net flux ``sum(B A)`` (Mx)
``flux_pos_mx``, ``flux_neg_mx``
    positive and negative flux (Mx; the negative one is < 0)
``imbalance``
    ``|NMF| / TUMF``
``amf_g``
    area-weighted mean |B| = TUMF / area (G)
``tumf_radial_mx``
    radial convention ``sum(|B| / mu * A)`` (Mx), labelled as such
``amf_radial_g``
    ``tumf_radial_mx / area`` (G)
``max_abs_g``
    maximum |B| (G)
``pil_count``
    number of strong-field PIL segments >= ``pil_min_length_mm``
``pil_length_mm``
    their total length (Mm)
``pil_mean_gradient_g_per_mm``
    mean |grad B| over the region's PIL-mask pixels (G/Mm; NaN if none)
``r_value``
    SHARP-recipe R (log10 of G x 0.12 deg pixel) on the CEA cutout
``log10_r_mx``
    log10 of R in Mx (S times the 2.123 Mm^2 pixel area); NaN if S < 1
``n_pil_px``
    PIL-mask pixels of the cutout (the R mask)
``pos_lat_deg``, ``pos_lon_deg``
    flux-weighted centre of the positive polarity (Stonyhurst, deg)
``neg_lat_deg``, ``neg_lon_deg``
    same for the negative polarity
``leading_polarity``
    sign of the westernmost polarity centre (+1/-1), 0 if one is missing
``hemisphere``
    "N" or "S" from ``lat_deg``

Units: field in G, flux in Mx (``1 G Mm^2 = 1e16 Mx``), areas in Mm^2 and MSH (millionths of
the solar hemisphere), lengths in Mm, angles in deg, as the column names say.

PIL quantities and R are computed on a per-region CEA cutout at ``cea_deg`` (0.12 deg/px,
1.457 Mm/px, spec §3.1; :func:`~euv2mag.audit.cea.cea_cutout`) covering the region's extent plus
a 20 Mm margin (the whole detection + parameters take ~0.1-0.2 s for a 1024^2 map).  Pixels of
other regions inside a cutout count for R (as SHARP does) but are excluded from the PIL count,
length and gradient.

Bad input: a map whose shape differs from the geometry, or a label image of another shape,
raises :class:`~euv2mag.errors.UserError`.  NaN pixels inside the disk are treated as missing
(excluded from sums; counted in ``n_nan_px``).  A map with no region gives an empty table with
all the columns (:func:`empty_region_table`).
"""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from ..errors import UserError
from ..geometry import MM2_TO_CM2, MSH_MM2, RSUN_MM, DiskGeometry
from .cea import cea_cutout, unit_vectors
from .detection import DetectionParams, check_map, detect_regions
from .pil import cea_pixel_mm, compute_r_value, mean_gradient_g_per_mm, pil_mask, pil_segments

__all__ = [
    "REGION_COLUMNS",
    "empty_region_table",
    "measure_regions",
    "find_regions",
    "footprint_polarity",
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
        Region footprints (0 = background), e.g. from
        :func:`~euv2mag.audit.detection.detect_regions` on the reference.
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
    xyz = unit_vectors(geometry.lat_deg[sel], geometry.stonyhurst_lon_deg[sel])
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
        Label image (0 = background), e.g. from :func:`~euv2mag.audit.detection.detect_regions`.
    params : DetectionParams
        Parameters (limb cut, PIL threshold, CEA grid, ``low_mu`` flag).

    Returns
    -------
    pandas.DataFrame
        One row per label present (ascending label), columns :data:`REGION_COLUMNS`.
    """
    import pandas as pd

    mag = check_map(mag_g, geometry)
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
    xyz = unit_vectors(lat_px, lon_px)

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
    """Detect the regions of a full-disk LOS magnetogram and measure them.

    Parameters
    ----------
    mag_g : (H, W) ndarray
        LOS field in G, solar north up (row 0 south), NaN off disk allowed.
    geometry : DiskGeometry
        Geometry of the map.
    params : DetectionParams
        Detection and measurement parameters (physical units).

    Returns
    -------
    labels : (H, W) ndarray of int32
        Label image of :func:`~euv2mag.audit.detection.detect_regions` (0 = background,
        1..N by decreasing TUMF).
    table : pandas.DataFrame
        :func:`measure_regions` of those labels, columns :data:`REGION_COLUMNS`.
    """
    labels = detect_regions(mag_g, geometry, params)
    return labels, measure_regions(mag_g, geometry, labels, params)
