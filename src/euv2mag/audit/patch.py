"""Parameters of a whole SHARP-like CEA patch (``euv2mag regions --patch``).

A SHARP CEA patch (e.g. ``hmi.sharp_cea_720s`` ``magnetogram`` segment, read with
:func:`euv2mag.data.patches.read_cea_patch`) is already on an equal-area grid: every pixel has the
area ``(radians(CDELT1) RSUN_REF)^2``.  :func:`measure_patch` sums the LOS flux over the patch
(or over a HARP bitmap mask), computes Schrijver's R on the whole patch with the SHARP recipe
(:func:`~euv2mag.audit.pil.compute_r_value`) and counts the strong-field PILs on the patch
block-averaged to the full-disk CEA grid (``cea_deg`` of
:class:`~euv2mag.audit.detection.DetectionParams`), so that patch and full-disk PIL numbers are
comparable.

Units: field in G, flux in Mx, areas in Mm^2 and MSH (with the header's ``RSUN_REF``), lengths
in Mm, ``CDELT1`` in deg, ``RSUN_REF`` and ``DSUN_OBS`` in m.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import UserError
from ..geometry import MM2_TO_CM2
from .detection import DetectionParams
from .pil import compute_r_value, mean_gradient_g_per_mm, pil_mask, pil_segments

__all__ = ["measure_patch"]


def measure_patch(
    los_g: np.ndarray,
    cdelt_deg: float,
    *,
    rsun_ref_m: float = 6.96e8,
    dsun_obs_m: float = 1.495978707e11,
    mask: np.ndarray | None = None,
    params: DetectionParams = DetectionParams(),
) -> dict:
    """Parameters of a whole SHARP-like CEA patch (one row of the patch-mode ``regions.csv``).

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
