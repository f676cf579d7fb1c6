"""Data: sources (the synthetic Sun, FITS files, map inputs), the Zarr dataset store and splits.

Public names are imported from their submodules on first access, so ``import euv2mag.data``
stays light (astropy/sunpy, Zarr and torch load only when a name that needs them is used):

- the store (:mod:`~euv2mag.data.store`): :class:`FrameStore`, :class:`StoreWriter`;
- the synthetic Sun (:mod:`~euv2mag.data.synthetic`): :class:`SynthParams`, :func:`synthesize`;
- real data (:mod:`~euv2mag.data.fits`, :mod:`~euv2mag.data.prepare`,
  :mod:`~euv2mag.data.patches`): :func:`prepare_hmi`, :func:`prepare_aia`, :func:`prepare_store`,
  :func:`read_cea_patch`;
- predictions made elsewhere (:mod:`~euv2mag.data.importing`): :func:`import_predictions`;
- SDOML v2 Zarr stores as a source (:mod:`~euv2mag.data.sdoml`): :func:`read_sdoml_headers`;
- downloads (:mod:`~euv2mag.data.download`): :func:`euv2mag.data.download.download` with a
  :class:`FidoClient` or any :class:`ArchiveClient`;
- map and frame inputs (:mod:`~euv2mag.data.maps`, :mod:`~euv2mag.data.frame_source`):
  :func:`expand_map_inputs`, :func:`read_frame_source`;
- splits (:mod:`~euv2mag.data.splits`): :class:`Split`, :func:`make_split`, :func:`write_split`,
  :func:`load_split`, :func:`bind_split`, :func:`check_split_times`,
  :func:`resolve_indices`;
- EUV cross-calibration (:mod:`~euv2mag.data.crosscal`): :func:`parse_calibration`,
  :func:`calibrate_frames`, :class:`EuvReference`;
- field history (:mod:`~euv2mag.data.history`): :func:`rotate_map`, :class:`HistoryParams`,
  :func:`write_history_store`, :func:`history_channels`;
- training pairs (:mod:`~euv2mag.data.torch_dataset`, needs torch): :class:`PairDataset`.

Examples
--------
>>> import euv2mag.data as data
>>> data.make_split.__module__
'euv2mag.data.splits'
"""
from __future__ import annotations

from .._lazy import lazy_exports

#: Public name -> submodule that defines it.
_SOURCES = {
    "FrameStore": "store",
    "StoreWriter": "store",
    "ARRAY_LAYOUT": "store",
    "SynthParams": "synthetic",
    "synthesize": "synthetic",
    "frame_times": "synthetic",
    "check_real": "synthetic",
    "prepare_hmi": "fits",
    "prepare_aia": "fits",
    "read_map": "fits",
    "read_cea_patch": "patches",
    "prepare_store": "prepare",
    "import_predictions": "importing",
    "read_sdoml_headers": "sdoml",
    "SDOML_LAYOUT": "sdoml",
    "FidoClient": "download",
    "ArchiveClient": "download",
    "MapInput": "maps",
    "expand_map_inputs": "maps",
    "FrameSource": "frame_source",
    "read_frame_source": "frame_source",
    "Split": "splits",
    "SCHEMES": "splits",
    "make_split": "splits",
    "write_split": "splits",
    "load_split": "splits",
    "check_split_times": "splits",
    "bind_split": "splits",
    "resolve_indices": "splits",
    "parse_calibration": "crosscal",
    "calibrate_frames": "crosscal",
    "EuvReference": "crosscal",
    "rotate_map": "history",
    "HistoryParams": "history",
    "write_history_store": "history",
    "history_channels": "history",
    "PairDataset": "torch_dataset",
}

__all__ = list(_SOURCES)

__getattr__, __dir__ = lazy_exports(__name__, _SOURCES, globals())
