"""Truth tables of the synthetic Sun: the injected regions and their state in every frame.

A synthetic store holds two tables (``tables/regions`` and ``tables/frame_regions``) written by
:func:`~euv2mag.data.synthetic.writer.synthesize` from :func:`regions_table` and
:func:`frame_regions_table`; their columns are :data:`REGION_COLUMNS` and
:data:`FRAME_REGION_COLUMNS`.

Units: fluxes in Mx, lengths in Mm, areas in MSH (millionths of the solar hemisphere), angles in
degrees, ages in days, times ISO 8601 UTC; ``leading_polarity`` is +1/-1, ``mu`` the cosine of
the heliocentric angle.

Truth per frame (:func:`frame_regions_table`): per frame and visible region the flux-weighted
centre and current flux of the compact part, and ``area_msh``, the analytic area of its
footprint above 30 G.  :func:`region_footprint` measures a region's footprint (area, centre) on
a noise-free rendering of that region alone (used by the detection test).
"""
from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import numpy as np

from ...geometry import MSH_MM2, DiskGeometry
from .regions import TRUTH_AREA_THRESHOLD_G, RegionState, region_states, regions_alive
from .render import render_field
from .timegrid import iso_time

if TYPE_CHECKING:
    import pandas

    from .params import SynthParams

__all__ = ["REGION_COLUMNS", "FRAME_REGION_COLUMNS", "regions_table", "frame_regions_table", "region_footprint"]

#: Columns of the ``regions`` truth table (:func:`regions_table`).
REGION_COLUMNS = ("region_id", "emergence_time", "carrington_lon_deg", "lat_deg", "total_flux_mx", "tilt_deg",
                  "leading_polarity", "hale_conforming", "cycle", "hemisphere")
#: Columns of the ``frame_regions`` truth table (:func:`frame_regions_table`).
FRAME_REGION_COLUMNS = ("frame", "region_id", "lat_deg", "stonyhurst_lon_deg", "carrington_lon_deg", "flux_mx", "mu",
                        "leading_polarity", "hale_conforming", "age_days", "separation_mm", "plage_radius_mm",
                        "spot_flux_mx", "dispersed_flux_mx", "area_msh")


def frame_regions_table(params: SynthParams, times_mjd, geometries) -> pandas.DataFrame:
    """One row per (frame, region) whose flux-weighted centre is on the visible disk.

    Columns: ``frame``, ``region_id``, ``lat_deg``, ``stonyhurst_lon_deg``,
    ``carrington_lon_deg`` (flux-weighted centre of the region's compact part: spots + compact
    plage, rotated to the frame time), ``flux_mx`` (current total unsigned flux of the compact
    part), ``mu`` (at the centre), ``leading_polarity``, ``hale_conforming``, ``age_days``,
    ``separation_mm`` (distance of the two polarity centres), ``plage_radius_mm`` (mean radius of
    the two compact plage discs), ``spot_flux_mx`` (both spots), ``dispersed_flux_mx`` (decayed flux
    spread as network, both polarities, not in ``flux_mx``), ``area_msh`` (deprojected area of the
    region's own noise-free footprint above 30 G, :attr:`RegionState.area_msh`).

    Parameters
    ----------
    params : SynthParams
        Generator parameters.
    times_mjd : sequence of float
        Frame times, MJD (UTC, days); ``frame`` is the index in this sequence.
    geometries : sequence of DiskGeometry
        The frames' geometries, one per time.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`FRAME_REGION_COLUMNS` (units in the module docstring).
    """
    import pandas as pd

    rows = []
    for i, (t, geom) in enumerate(zip(times_mjd, geometries)):
        for st in region_states(params, float(t)):
            if st.total_flux <= 0:
                continue
            lat, clon = st.centre
            _, _, mu = geom.carrington_to_pixel(lat, clon)
            mu = float(mu)
            if mu <= 0:
                continue
            region = st.region
            rows.append({
                "frame": i, "region_id": region.region_id, "lat_deg": lat,
                "stonyhurst_lon_deg": float(np.mod(clon - geom.l0_deg + 180.0, 360.0) - 180.0),
                "carrington_lon_deg": clon, "flux_mx": st.total_flux, "mu": mu,
                "leading_polarity": region.leading_polarity, "hale_conforming": region.hale_conforming,
                "age_days": st.age_days, "separation_mm": st.separation_mm,
                "plage_radius_mm": 0.5 * (st.plage_radius_mm[0] + st.plage_radius_mm[1]),
                "spot_flux_mx": st.spot_flux[0] + st.spot_flux[1],
                "dispersed_flux_mx": 2.0 * st.dispersed_flux, "area_msh": st.area_msh,
            })
    return pd.DataFrame(rows, columns=list(FRAME_REGION_COLUMNS))


def regions_table(params: SynthParams, times_mjd) -> pandas.DataFrame:
    """One row per region alive at any of ``times_mjd`` (the injected truth).

    Parameters
    ----------
    params : SynthParams
        Generator parameters.
    times_mjd : iterable of float
        Frame times, MJD (UTC, days).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`REGION_COLUMNS`, one row per region, sorted by ``region_id`` (see the
        module docstring for units).
    """
    import pandas as pd

    seen = {}
    for t in times_mjd:
        for region in regions_alive(params, float(t)):
            seen.setdefault(region.region_id, region)
    rows = [{
        "region_id": r.region_id, "emergence_time": iso_time(r.emergence_mjd),
        "carrington_lon_deg": r.carrington_lon_deg, "lat_deg": r.lat_deg, "total_flux_mx": r.total_flux_mx,
        "tilt_deg": r.tilt_deg, "leading_polarity": r.leading_polarity, "hale_conforming": r.hale_conforming,
        "cycle": r.cycle, "hemisphere": r.hemisphere,
    } for r in sorted(seen.values(), key=lambda r: r.region_id)]
    return pd.DataFrame(rows, columns=list(REGION_COLUMNS))


def region_footprint(params: SynthParams, state: RegionState, geometry: DiskGeometry,
                     threshold_g: float = TRUTH_AREA_THRESHOLD_G) -> dict:
    """Truth footprint of one region from a noise-free rendering of that region alone.

    The region alone (spots, compact plage and its dispersed, decayed flux; no network, no other
    region, no noise) is rendered at ``geometry``; its footprint is the set of pixels with
    ``|B_r| > threshold_g`` (30 G, the AR detector's growth threshold, applied to its radial
    estimate) that are 8-connected to the compact part (spots + compact plage above the same
    threshold): isolated dispersed-flux concentrations away from the region do not count.

    Parameters
    ----------
    params : SynthParams
        Generator parameters (the quiet-Sun network is switched off for this rendering).
    state : RegionState
        The region's state; it is rendered at ``emergence + age``.
    geometry : DiskGeometry
        The frame's geometry.
    threshold_g : float
        |B_r| threshold in G (default :data:`TRUTH_AREA_THRESHOLD_G`, 30 G).

    Returns
    -------
    dict
        ``area_msh`` (deprojected footprint area, MSH), ``lat_deg`` and ``lon_deg`` (Stonyhurst
        flux-weighted centre, deg; NaN for an empty footprint), ``flux_mx`` (unsigned flux of
        the footprint, ``sum |B_r mu| A``, Mx) and ``n_px`` (pixels in the footprint).
    """
    from scipy import ndimage

    alone = dataclasses.replace(params, network_junctions=0)
    t = state.region.emergence_mjd + state.age_days
    br, _ = render_field(alone, t, geometry, states=[state])
    core, _ = render_field(alone, t, geometry, states=[dataclasses.replace(state, dispersed_flux=0.0)])
    area = geometry.pixel_area_mm2
    above = np.isfinite(br) & (np.abs(np.nan_to_num(br)) > threshold_g) & np.isfinite(area)
    seed = above & (np.abs(np.nan_to_num(core)) > threshold_g)
    lab, _ = ndimage.label(above, structure=np.ones((3, 3)))
    keep = np.zeros(lab.max() + 1, dtype=bool)
    keep[np.unique(lab[seed])] = True
    keep[0] = False
    sel = keep[lab]
    n = int(sel.sum())
    if n == 0:
        return {"area_msh": 0.0, "lat_deg": math.nan, "lon_deg": math.nan, "flux_mx": 0.0, "n_px": 0}
    w = np.abs(br[sel] * geometry.mu[sel]) * area[sel]
    la, lo = np.radians(geometry.lat_deg[sel]), np.radians(geometry.stonyhurst_lon_deg[sel])
    v = np.array([np.sum(w * np.cos(la) * np.cos(lo)), np.sum(w * np.cos(la) * np.sin(lo)), np.sum(w * np.sin(la))])
    return {
        "area_msh": float(np.sum(area[sel]) / MSH_MM2),
        "lat_deg": float(np.degrees(np.arctan2(v[2], math.hypot(v[0], v[1])))),
        "lon_deg": float(np.degrees(np.arctan2(v[1], v[0]))),
        "flux_mx": float(np.sum(w) * 1e16),
        "n_px": n,
    }
