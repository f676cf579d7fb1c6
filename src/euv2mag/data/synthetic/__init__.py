"""The synthetic Sun: deterministic paired HMI-like LOS magnetograms and AIA 304-like images.

Every frame is a pure function of the generator parameters (:class:`SynthParams`) and the
frame time, so a resumed run gives bit-identical frames and any single frame can be re-made
alone.  Physics and sources: ``notes/synthetic-sun-physics.md`` and the README section
"The synthetic Sun".  ``euv2mag synth`` is a thin command over :func:`synthesize`.

Units throughout: fields in G, fluxes in Mx, lengths in Mm, areas in MSH (truth tables) or
Mm^2 (pixels), angles in degrees, times in MJD (UTC, days) inside and ISO 8601 UTC at the edges,
EUV intensity in DN/s (DN in the FITS files).

Pipeline of one frame at time ``t``, by module
----------------------------------------------
1. :mod:`~euv2mag.data.synthetic.timegrid`: frame times and the observer geometry from sunpy
   (``B0``, ``L0``, ``earth_distance``, ``angular_radius``; ``rsun_px = default_rsun_px(N)``).
2. :mod:`~euv2mag.data.synthetic.cycle`: the solar cycle, butterfly diagram, Hale's and Joy's
   laws and differential rotation; the catalogue of emerging regions keyed by ``(seed, day)``.
   :mod:`~euv2mag.data.synthetic.regions`: each region alive at ``t`` as a compact bipole of
   spots and plage whose decayed flux disperses as network (:func:`region_state`), and its
   flux elements.
3. :mod:`~euv2mag.data.synthetic.network`: the quiet-Sun mixed-polarity network, renewed daily.
4. :mod:`~euv2mag.data.synthetic.render`: elements splatted and blurred into the radial field,
   spots added analytically, LOS field plus noise (:func:`render_field`, :func:`render_frame`).
5. :mod:`~euv2mag.data.synthetic.euv`: the 304-like intensity from ``|B_r|`` only.

Around the frames: :mod:`~euv2mag.data.synthetic.params` (:class:`SynthParams`),
:mod:`~euv2mag.data.synthetic.truth` (the ``regions`` and ``frame_regions`` truth tables,
:func:`region_footprint`), :mod:`~euv2mag.data.synthetic.observers` (where the Sun is seen
from: Earth, STEREO-A/B, any heliographic position or an ephemeris file),
:mod:`~euv2mag.data.synthetic.writer` (:func:`synthesize`, the resumable store writer, and
:func:`synthesize_views`, one store per observer) and :mod:`~euv2mag.data.synthetic.fits` (level-1-like AIA/HMI FITS
files of the frames).  The calibration measurements applied alike to synthetic and real maps
are in :mod:`euv2mag.audit.calibration`; :mod:`~euv2mag.data.synthetic.realism` (``euv2mag realism``)
holds the synthetic Sun against real HMI files at their dates.  The observed activity envelope
uses the monthly sunspot number of WDC-SILSO (:mod:`~euv2mag.data.synthetic.silso`; Source:
WDC-SILSO, Royal Observatory of Belgium, Brussels, CC BY-NC 4.0).
"""
from __future__ import annotations

from .params import GENERATOR_VERSION, SynthParams
from .regions import MAX_AGE_DAYS, RegionState, region_state, region_states, regions_alive
from .realism import (CALIBRATION_QUANTITIES, DEC2011_REAL, REALISM_CSV, calibration_statistics, check_real,
                      ensemble_statistics, peak_reference, real_percentile, synthetic_statistics)
from .render import render_field, render_frame
from .timegrid import frame_geometries, frame_times, parse_cadence
from .truth import FRAME_REGION_COLUMNS, frame_regions_table, region_footprint, regions_table
from .observers import Observer, observer_geometries, observer_positions, parse_observer
from .writer import synthesize, synthesize_views, view_store_path

__all__ = [
    "SynthParams",
    "GENERATOR_VERSION",
    "MAX_AGE_DAYS",
    "parse_cadence",
    "frame_times",
    "frame_geometries",
    "regions_alive",
    "region_state",
    "region_states",
    "RegionState",
    "FRAME_REGION_COLUMNS",
    "render_field",
    "render_frame",
    "regions_table",
    "frame_regions_table",
    "region_footprint",
    "synthesize",
    "synthesize_views",
    "view_store_path",
    "Observer",
    "parse_observer",
    "observer_positions",
    "observer_geometries",
    "CALIBRATION_QUANTITIES",
    "REALISM_CSV",
    "calibration_statistics",
    "synthetic_statistics",
    "check_real",
    "DEC2011_REAL",
    "ensemble_statistics",
    "peak_reference",
    "real_percentile",
]
