"""argparse value types of the sub-commands: bounded numbers, image sizes, the Dask options.

Each type turns the option's text into a value or raises ``argparse.ArgumentTypeError`` with a
message saying what a valid value is (argparse then prints it as one line, exit status 2).
The sub-command modules import them from :mod:`euv2mag.cli`.
"""
from __future__ import annotations

import argparse
import math

__all__ = ["bounded", "positive_int", "nonnegative_float", "nonnegative_int", "positive_float", "power_of_two",
           "scheduler_address", "add_cluster_options"]


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


def scheduler_address(text: str) -> str:
    """argparse type: ``local`` or a Dask scheduler address ``tcp://HOST:PORT``."""
    from ..errors import UserError
    from ..parallel import check_scheduler

    try:
        return check_scheduler(text, None)[0]
    except UserError as exc:
        raise argparse.ArgumentTypeError(exc.problem) from None


def add_cluster_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--scheduler`` and ``--workers`` (dests ``scheduler``, ``workers``; :mod:`euv2mag.parallel`).

    The same two options, with the same meaning, for every command whose per-frame work can run
    on a Dask cluster (``prepare``, ``synth``, ``audit``, ``saturation``); the command passes
    ``scheduler=args.scheduler, workers=args.workers`` to its library function.
    """
    parser.add_argument("--scheduler", type=scheduler_address, default=None, metavar="local|tcp://HOST:PORT",
                        help="run the per-frame work on Dask: 'local' (a cluster on this machine, one worker per "
                        "core unless --workers) or the address of a running scheduler (default: serial, or a "
                        "local cluster when --workers > 1); results are the same as serial")
    parser.add_argument("--workers", type=positive_int, default=None, metavar="N",
                        help="worker processes of the local cluster (default: 1, serial; not with a tcp:// scheduler)")
