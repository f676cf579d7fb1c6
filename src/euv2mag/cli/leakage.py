"""``euv2mag leakage [STORE | TIMES.csv ... | -] --split SPLIT.json [--split ...] --out DIR``.

Measures the train/test leakage of one or several splits (see :mod:`euv2mag.audit.leakage` for
every output column).  The frames come from a store (times, L0 from its geometry, and the
synthetic truth table ``frame_regions`` when present), from time-list CSV files, or, with no
source or ``-``, from the times recorded in the split file (L0 from sunpy).
"""
from __future__ import annotations

from pathlib import Path

from . import nonnegative_float, positive_float


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "leakage",
        help="measure train/test leakage of splits (time gaps, same solar face, shared regions)",
        description="For every test frame of a split: the time to the nearest training frame, the time to "
        "the nearest training frame showing the same face of the Sun, and (with region data) which of its "
        "regions also appear in training. Several --split options give one row per split in "
        "DIR/leakage_comparison.csv.",
    )
    p.add_argument("source", nargs="*", metavar="STORE_OR_TIMES",
                   help="a store, or time-list CSV files (the ones given to 'euv2mag split --times'); "
                   "omit or '-' to use the times recorded in the split file")
    p.add_argument("--split", action="append", required=True, metavar="SPLIT.json",
                   help="split file written by 'euv2mag split' (repeat to compare splits)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--same-face-deg", type=positive_float, default=13.2,
                   help="largest |ΔL0| (deg) for two frames to show the same face (default 13.2: one day)")
    p.add_argument("--region-tolerance-deg", type=positive_float, default=5.0,
                   help="great-circle distance (deg) for the same region by position (default 5)")
    p.add_argument("--region-max-gap-days", type=positive_float, default=None,
                   help="only training regions within this time count as the same region by position "
                   "(default 4 rotations, 109.1 d)")
    p.add_argument("--rotation-model", choices=("howard", "snodgrass", "allen", "rigid"), default="howard",
                   help="differential-rotation law of sunpy used to advance region positions (default howard)")
    p.add_argument("--region-min-flux-mx", type=nonnegative_float, default=0.0,
                   help="only regions whose flux_mx column is at least this (Mx) count (default 0: all; "
                   "ignored for tables without flux_mx)")
    p.add_argument("--regions", metavar="REGIONS.csv",
                   help="region table with columns frame or time, lat_deg, carrington_lon_deg (optional "
                   "region_id), e.g. regions detected on the frames; replaces the store's truth table")
    p.set_defaults(func=run)


def _frames_from_source(sources: list[str]):
    """(times per frame index or None, l0 per frame or None, truth regions or None, label)."""
    import numpy as np

    from ..data.splits import read_time_lists
    from ..errors import UserError

    if not sources or sources == ["-"]:
        return None, None, None, "split file times"
    first = Path(sources[0])
    if first.is_dir():
        from ..data.store import FrameStore

        if len(sources) != 1:
            raise UserError("give one store, or time-list CSV files, not both")
        store = FrameStore(first)
        times = [str(t) for t in store.times]
        l0 = np.asarray(store.geometry_column("l0_deg"), dtype=float)
        regions = None
        if "frame_regions" in store.table_names():
            regions = store.table("frame_regions")
            for column in ("frame", "region_id", "lat_deg", "carrington_lon_deg"):
                if column not in regions.columns:
                    raise UserError(f"table frame_regions lacks column {column!r}", path=first)
            regions["time"] = [times[int(f)] for f in regions["frame"]]
        return times, l0, regions, str(first)
    strings, _ = read_time_lists(sources)
    return strings, None, None, ", ".join(sources)


def _read_regions(path: str, times: dict):
    """Read a generic region table and give every row its frame index and time."""
    import numpy as np
    import pandas as pd

    from ..data.splits import to_datetime64
    from ..errors import UserError

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
    indices = np.array(sorted(times), dtype=np.int64)
    if "frame" in table.columns:
        table["frame"] = table["frame"].astype(np.int64)
        unknown = ~np.isin(table["frame"], indices)
        if unknown.any():
            raise UserError(f"frame {int(table['frame'][unknown].iloc[0])} of the region table is not in the split",
                            path=p)
    elif "time" in table.columns:
        frame_t = to_datetime64([times[i] for i in indices]).astype(np.int64)
        row_t = to_datetime64(list(table["time"]), path=p).astype(np.int64)
        order = np.argsort(frame_t)
        pos = np.clip(np.searchsorted(frame_t[order], row_t), 0, len(order) - 1)
        best = []
        for r, k in zip(row_t, pos):
            cands = [order[j] for j in (k - 1, k) if 0 <= j < len(order)]
            j = min(cands, key=lambda c: abs(frame_t[c] - r))
            if abs(frame_t[j] - r) > 60_000:
                raise UserError(f"region time {np.datetime64(int(r), 'ms')} matches no frame of the split", path=p)
            best.append(indices[j])
        table["frame"] = best
    else:
        raise UserError("region table needs a 'frame' or a 'time' column", path=p)
    table["time"] = [times[int(f)] for f in table["frame"]]
    return table


def _check_times(split_path, split, frame_times: list[str]) -> None:
    import numpy as np

    from ..data.splits import to_datetime64
    from ..errors import UserError

    for name in ("train", "val", "test", "dropped"):
        idx = split.indices(name)
        if not idx:
            continue
        expected = to_datetime64([frame_times[i] for i in idx]).astype(np.int64)
        recorded = to_datetime64(split.times(name), path=split_path).astype(np.int64)
        bad = np.flatnonzero(np.abs(expected - recorded) > 1000)
        if bad.size:
            i = idx[int(bad[0])]
            raise UserError(f"was made for other frames: frame {i} is {frame_times[i]} here but "
                            f"{split.times(name)[int(bad[0])]} in the split", path=split_path)


def run(args) -> int:
    import pandas as pd

    from .._io import atomic_path, atomic_write_json, ensure_dir, path_inside
    from ..audit.leakage import frame_leakage, l0_for_times, region_leakage, summarize_frame_leakage
    from ..data.splits import load_split

    frame_times, frame_l0, regions, source_label = _frames_from_source(list(args.source))
    out = ensure_dir(args.out)
    rows = []
    names: set[str] = set()
    for split_path in args.split:
        split = load_split(split_path, n_frames=None if frame_times is None else len(frame_times))
        if frame_times is None:
            times = {}
            for name in ("train", "val", "test", "dropped"):
                times.update(zip(split.indices(name), split.times(name)))
        else:
            _check_times(split_path, split, frame_times)
            times = dict(enumerate(frame_times))
        train_idx, test_idx = split.indices("train"), split.indices("test")
        if frame_l0 is None:
            used = train_idx + test_idx
            l0 = dict(zip(used, l0_for_times([times[i] for i in used])))
        else:
            l0 = {i: float(frame_l0[i]) for i in train_idx + test_idx}
        table = frame_leakage(test_idx, [times[i] for i in test_idx], [l0[i] for i in test_idx],
                              train_idx, [times[i] for i in train_idx], [l0[i] for i in train_idx],
                              same_face_deg=args.same_face_deg)
        summary = {
            "scheme": split.scheme,
            "split": str(split_path),
            "source": source_label,
            "n_train": len(train_idx),
            "n_val": len(split.indices("val")),
            **summarize_frame_leakage(table),
            "same_face_deg": args.same_face_deg,
            "rotation_period_days": 27.2753,
        }
        frame_regions = _read_regions(args.regions, times) if args.regions else regions
        if frame_regions is not None and args.region_min_flux_mx > 0 and "flux_mx" in frame_regions.columns:
            frame_regions = frame_regions[frame_regions["flux_mx"] >= args.region_min_flux_mx].reset_index(drop=True)
            summary["region_min_flux_mx"] = args.region_min_flux_mx
        if frame_regions is not None:
            test_rows, stats = region_leakage(frame_regions, train_idx, test_idx,
                                              tolerance_deg=args.region_tolerance_deg,
                                              max_gap_days=args.region_max_gap_days, model=args.rotation_model)
            summary.update(stats)
            grouped = test_rows.groupby("frame")
            table["n_regions"] = table["index"].map(grouped.size()).fillna(0).astype(int)
            for column in ("in_train_truth", "in_train_position"):
                if column in test_rows.columns:
                    counts = grouped[column].sum()
                    table[f"n_regions_{column}"] = table["index"].map(counts).fillna(0).astype(int)
        if len(args.split) == 1:
            target = out
        else:
            name = Path(split_path).stem or "split"
            base, k = name, 2
            while name in names:
                name, k = f"{base}_{k}", k + 1
            names.add(name)
            target = ensure_dir(path_inside(out, name))
        with atomic_path(target / "leakage.csv") as tmp:
            table.to_csv(tmp, index=False, float_format="%.6g")
        atomic_write_json(target / "leakage.json", summary)
        rows.append({"name": target.name if target != out else Path(split_path).stem, **summary})
        print(f"{split.scheme:<9} {split_path}: {summary['n_test']} test / {summary['n_train']} train frames; "
              f"gap min {summary['min_gap_days']:.3g} d, median {summary['median_gap_days']:.3g} d; same face within "
              f"1 rotation {summary['frac_same_face_within_1_rotation']:.3f}, 2 rotations "
              f"{summary['frac_same_face_within_2_rotations']:.3f}"
              + (f"; regions in train (position) {summary['frac_test_regions_in_train_position']:.3f}"
                 if summary.get("frac_test_regions_in_train_position") is not None else ""))
    if len(rows) > 1:
        with atomic_path(out / "leakage_comparison.csv") as tmp:
            pd.DataFrame(rows).to_csv(tmp, index=False, float_format="%.6g")
        print(f"comparison -> {out / 'leakage_comparison.csv'}")
    return 0
