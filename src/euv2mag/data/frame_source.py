"""Where the frames of a split come from: a store, time-list CSV files, or the split file itself.

The leakage study (:func:`euv2mag.audit.leakage_study.leakage_study`) needs, for every frame
index of a split, the frame's time, its disk-centre Carrington longitude L0 and, when there is
one, a table of the regions seen in each frame.  :func:`read_frame_source` reads them from

* an euv2mag store: times and L0 from its geometry, and the synthetic truth table
  ``frame_regions`` when present;
* time-list CSV files (the ones given to ``euv2mag split --times``): times only;
* nothing (or ``-``): the times are those recorded in the split file itself.

:func:`read_region_table` and :func:`assign_region_frames` turn any region table (e.g. regions
detected on the frames) into one row per region per frame with the frame's index and time.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..errors import UserError
from .splits import read_time_lists, to_datetime64

__all__ = ["FrameSource", "TRUTH_REGION_COLUMNS", "read_frame_source", "read_region_table", "assign_region_frames"]

#: Columns a store's ``frame_regions`` truth table must have.
TRUTH_REGION_COLUMNS = ("frame", "region_id", "lat_deg", "carrington_lon_deg")
#: Largest time difference (ms) between a region-table row and the frame it is given to.
_MATCH_MS = 60_000


@dataclasses.dataclass(frozen=True)
class FrameSource:
    """Times, disk-centre longitudes and regions of the frames a split indexes.

    Parameters
    ----------
    times : list of str or None
        ISO 8601 UTC time of frame ``i`` at position ``i``; None: take the times recorded in the
        split file.
    l0_deg : ndarray or None
        (N,) Carrington longitude of the disk centre of each frame (deg); None: computed from the
        times with sunpy.
    regions : pandas.DataFrame or None
        Truth regions, one row per region per frame (``frame``, ``time``, ``region_id``,
        ``lat_deg``, ``carrington_lon_deg`` in deg, and whatever else the store's table holds).
    label : str
        What the frames came from (recorded as ``source`` in ``leakage.json``).
    """

    times: list[str] | None = None
    l0_deg: np.ndarray | None = None
    regions: object | None = None
    label: str = "split file times"


def read_frame_source(sources: str | os.PathLike | Sequence[str | os.PathLike] | None) -> FrameSource:
    """Read the frames from a store, from time-list CSV files, or from nowhere (the split's times).

    Parameters
    ----------
    sources : path-like, sequence of path-like, or None
        One store folder; or one or more time-list CSV files (a header line, then one ISO 8601
        UTC time per line; their sorted, de-duplicated union is indexed); or None, ``[]`` or
        ``["-"]`` for the times recorded in the split file.

    Returns
    -------
    FrameSource

    Raises
    ------
    UserError
        A store given with other paths, a store's ``frame_regions`` table without a needed
        column, or a missing or malformed time list.
    """
    if sources is None:
        sources = []
    elif isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    sources = [str(s) for s in sources]
    if not sources or sources == ["-"]:
        return FrameSource()
    first = Path(sources[0])
    if first.is_dir():
        from .store import FrameStore

        if len(sources) != 1:
            raise UserError("give one store, or time-list CSV files, not both")
        store = FrameStore(first)
        times = [str(t) for t in store.times]
        l0 = np.asarray(store.geometry_column("l0_deg"), dtype=float)
        regions = None
        if "frame_regions" in store.table_names():
            regions = store.table("frame_regions")
            for column in TRUTH_REGION_COLUMNS:
                if column not in regions.columns:
                    raise UserError(f"table frame_regions lacks column {column!r}", path=first)
            regions["time"] = [times[int(f)] for f in regions["frame"]]
        return FrameSource(times, l0, regions, str(first))
    strings, _ = read_time_lists(sources)
    return FrameSource(strings, None, None, ", ".join(sources))


def read_region_table(path: str | os.PathLike):
    """Read a region table CSV: one row per region per frame.

    Parameters
    ----------
    path : path-like
        CSV file with columns ``lat_deg`` and ``carrington_lon_deg`` (deg), a ``frame`` (index)
        or a ``time`` (ISO 8601 UTC) column, optionally ``region_id`` and ``flux_mx`` (Mx).

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    UserError
        A missing or unreadable file, or a missing ``lat_deg`` / ``carrington_lon_deg`` column.
    """
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise UserError("no such region table", path=p)
    try:
        table = pd.read_csv(p)
    except Exception as exc:  # pandas raises many kinds for malformed CSV
        raise UserError(f"cannot read the region table: {exc}", path=p) from None
    for column in ("lat_deg", "carrington_lon_deg"):
        if column not in table.columns:
            raise UserError(f"region table lacks column {column!r}", path=p)
    return table


def assign_region_frames(table, times: Mapping[int, str], *, path: str | os.PathLike | None = None):
    """Give every row of a region table its frame index (of ``times``) and that frame's time.

    Parameters
    ----------
    table : pandas.DataFrame
        Region table with ``lat_deg``, ``carrington_lon_deg`` (deg) and a ``frame`` (index) or
        a ``time`` (ISO 8601 UTC) column; it is not modified.
    times : mapping of int to str
        Frame index -> ISO 8601 UTC time, for the frames of the split.
    path : path-like, optional
        The table's file, named in error messages.

    Returns
    -------
    pandas.DataFrame
        A copy with an int ``frame`` column (for rows given by time: the frame whose time is
        nearest, within 60 s) and ``time`` replaced by that frame's time.

    Raises
    ------
    UserError
        A missing ``lat_deg`` / ``carrington_lon_deg`` column, no ``frame`` or ``time`` column, a
        frame that is not in ``times``, or a time within 60 s of no frame.
    """
    table = table.copy()
    for column in ("lat_deg", "carrington_lon_deg"):
        if column not in table.columns:
            raise UserError(f"region table lacks column {column!r}", path=path)
    indices = np.array(sorted(times), dtype=np.int64)
    if "frame" in table.columns:
        table["frame"] = table["frame"].astype(np.int64)
        unknown = ~np.isin(table["frame"], indices)
        if unknown.any():
            raise UserError(f"frame {int(table['frame'][unknown].iloc[0])} of the region table is not in the split",
                            path=path)
    elif "time" in table.columns:
        frame_t = to_datetime64([times[i] for i in indices]).astype(np.int64)
        row_t = to_datetime64(list(table["time"]), path=path).astype(np.int64)
        order = np.argsort(frame_t)
        pos = np.clip(np.searchsorted(frame_t[order], row_t), 0, len(order) - 1)
        best = []
        for r, k in zip(row_t, pos):
            cands = [order[j] for j in (k - 1, k) if 0 <= j < len(order)]
            j = min(cands, key=lambda c: abs(frame_t[c] - r))
            if abs(frame_t[j] - r) > _MATCH_MS:
                raise UserError(f"region time {np.datetime64(int(r), 'ms')} matches no frame of the split", path=path)
            best.append(indices[j])
        table["frame"] = best
    else:
        raise UserError("region table needs a 'frame' or a 'time' column", path=path)
    table["time"] = [times[int(f)] for f in table["frame"]]
    return table
