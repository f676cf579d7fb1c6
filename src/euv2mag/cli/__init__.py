"""The ``euv2mag`` command line: one command with sub-commands.

Each sub-command lives in its own module ``euv2mag.cli.<name>`` with two functions:
``add_parser(subparsers)`` (which must ``set_defaults(func=run)``) and ``run(args) -> int``.
Modules import heavy libraries (torch, sunpy, matplotlib) inside ``run`` so that
``euv2mag --help`` stays fast.  A :class:`~euv2mag.errors.UserError` is printed as one line
and gives exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from .. import __version__
from ..errors import UserError

__all__ = ["main", "COMMANDS"]

#: Sub-commands in the order ``--help`` lists them.
COMMANDS = (
    "synth",
    "prepare",
    "info",
    "split",
    "train",
    "predict",
    "saturation",
    "leakage",
    "regions",
    "audit",
    "report",
    "demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="euv2mag",
        description="Generate solar magnetograms from EUV images and audit how far they can be trusted.",
    )
    parser.add_argument("--version", action="version", version=f"euv2mag {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:  # a sub-command not built into this installation
            if exc.name == f"{__name__}.{name}":
                continue
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``euv2mag`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            # Library chatter (e.g. sunpy metadata notes) is not the user's problem; our own
            # Euv2magWarning and anything else still show.
            warnings.filterwarnings("ignore", module="sunpy")
            return int(args.func(args) or 0)
    except UserError as exc:
        print(f"euv2mag {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"euv2mag {args.command}: interrupted; re-run the same command to resume", file=sys.stderr)
        return 130


def bounded(kind=float, *, low=None, high=None, low_inclusive=True, high_inclusive=True, what: str):
    """An argparse type: a finite number of ``kind`` within ``[low, high]`` (ends as told).

    Parameters
    ----------
    kind : {float, int}
        Type of the value.
    low, high : number, optional
        Bounds (None: unbounded).
    low_inclusive, high_inclusive : bool
        Whether the bounds themselves are allowed.
    what : str
        How the error message describes a valid value, e.g. ``"a fraction in [0, 1)"``.
    """
    import math

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        ok = math.isfinite(value)
        if ok and low is not None:
            ok = value >= low if low_inclusive else value > low
        if ok and high is not None:
            ok = value <= high if high_inclusive else value < high
        if not ok:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    parse.__name__ = what  # argparse names the type in its messages
    return parse


#: argparse type: an integer >= 1.
positive_int = bounded(int, low=1, what="a positive integer")
#: argparse type: a finite float >= 0.
nonnegative_float = bounded(float, low=0, what="a non-negative number")
#: argparse type: an integer >= 0.
nonnegative_int = bounded(int, low=0, what="an integer >= 0")
#: argparse type: a finite float > 0.
positive_float = bounded(float, low=0, low_inclusive=False, what="a positive number")


def power_of_two(text: str) -> int:
    """argparse type: an image size that is a power of two, >= 32."""
    value = positive_int(text)
    if value < 32 or value & (value - 1):
        raise argparse.ArgumentTypeError(f"size must be a power of two >= 32, got {value}")
    return value


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
