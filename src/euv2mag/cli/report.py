"""``euv2mag report DIR``: build the self-contained HTML report of a study folder."""
from __future__ import annotations


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "report",
        help="build DIR/report.html from the files of a study folder",
        description="Build a self-contained HTML report (images embedded, opens from disk) from the CSV, JSON "
        "and Zarr files of a study folder laid out as `euv2mag demo` writes it (data/, splits/, saturation/, "
        "leakage/, runs/, pred/, audit/). Sections whose inputs are missing say which command makes them. "
        "Rebuilding re-runs nothing else.",
    )
    p.add_argument("dir", help="study folder (e.g. the --out of euv2mag demo)")
    p.add_argument("--out", default=None, help="output HTML file (default DIR/report.html)")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from ..report.build import build_report

    out = None
    if args.out is not None:
        out = Path(args.out)
    path = build_report(args.dir, out)
    print(f"report written to {path}")
    return 0
