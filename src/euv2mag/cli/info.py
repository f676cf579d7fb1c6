"""``euv2mag info STORE``: summarise a dataset or prediction store."""
from __future__ import annotations

import json


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "info",
        help="summarise a store (frames, time range, size, geometry ranges, provenance)",
        description="Summarise an euv2mag Zarr store: frames, time range, image size, geometry "
        "ranges, tables and provenance. Incomplete stores are summarised too.",
    )
    p.add_argument("store", help="path of the Zarr store")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..data.store import FrameStore

    store = FrameStore(args.store, require_complete=False)
    summary = store.summary()
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
        return 0
    print(f"store      {summary['path']}  ({summary['kind']}, {'complete' if summary['complete'] else 'INCOMPLETE'})")
    print(f"frames     {summary['frames_written']}/{summary['frames']}  arrays: {', '.join(summary['arrays'])}")
    print(f"size       {summary['size'][0]} x {summary['size'][1]} px")
    if summary["time_range"]:
        cadence = summary.get("median_cadence_hours")
        extra = f"  (median cadence {cadence:g} h)" if cadence else ""
        print(f"time       {summary['time_range'][0]} .. {summary['time_range'][1]}{extra}")
    for name, unit in (("rsun_px", "px"), ("cdelt_arcsec", "arcsec/px"), ("b0_deg", "deg"), ("l0_deg", "deg"), ("dsun_m", "m")):
        rng = summary.get(f"{name}_range")
        if rng:
            print(f"{name:<12}{rng[0]:.6g} .. {rng[1]:.6g} {unit}")
    if summary["tables"]:
        print(f"tables     {', '.join(summary['tables'])}")
    print(f"version    euv2mag {summary['euv2mag_version']}")
    if summary["params"]:
        print("params     " + json.dumps(summary["params"], default=str))
    if summary["provenance"]:
        print("provenance " + json.dumps(summary["provenance"], default=str)[:2000])
    return 0
