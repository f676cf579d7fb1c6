"""The ``euv2mag`` command line: one command with sub-commands.

Each sub-command lives in its own module ``euv2mag.cli.<name>`` (``import_`` for ``import``, a
Python keyword: :func:`command_module`) with two functions:
``add_parser(subparsers)`` (which must ``set_defaults(func=run)``) and ``run(args) -> int``.
Modules import heavy libraries (torch, sunpy, matplotlib) inside ``run`` so that
``euv2mag --help`` stays fast.

Options may stand anywhere among a sub-command's positionals (:mod:`euv2mag.cli._parse`).

Errors and exit status
----------------------
A :class:`~euv2mag.errors.UserError` is printed as one line and gives exit status 2, never a
traceback.  When it names a ``parameter`` (library code names arguments by their Python name,
``UserError("must be >= 1", parameter="n_boot")``), the line names the sub-command's option
whose ``dest`` is that parameter instead (``euv2mag audit: error: --n-boot: must be >= 1``), or
the parameter itself when no option has that ``dest``.

A full disk (:class:`OSError` with ``errno`` ``ENOSPC`` or ``EDQUOT``, raised wherever a
command writes) is caught here, once for every command, rather than at each write: it is
printed as one line naming the file being written, with status 2.  Nothing is left
half-written by it, since every writer writes to a temporary name and renames
(:func:`euv2mag._io.atomic_path`, the store's chunks, :func:`euv2mag.model.checkpoint.save_checkpoint`,
which turns torch's failed-write ``RuntimeError`` into such an ``OSError``), so re-running
resumes.  Ctrl-C gives status 130.  Both messages say how to continue: "re-run the same
command", or the sub-command module's ``RERUN_HINT`` when it has one (``train``: "re-run the
same command with --resume").  When the
reader of standard output goes away (``euv2mag info STORE | head -1``) the command stops
quietly with status 141, what a program killed by SIGPIPE reports, so that ``set -o pipefail``
still sees that the output was cut short; the rest of its output goes to the null device.
"""
from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
import warnings

from .. import __version__
from ..errors import UserError
from ._parse import flag_of as _flag
from ._parse import parse_args
from ._types import (  # noqa: F401
    add_cluster_options,
    bounded,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
    power_of_two,
)

__all__ = ["main", "build_parser", "command_module", "parse_args", "COMMANDS", "BROKEN_PIPE_STATUS", "DISK_FULL_ERRNOS"]

#: ``errno`` values of a full disk or an exhausted quota, reported as one line (exit status 2).
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})

#: Exit status when standard output is closed early (128 + SIGPIPE, as a shell reports it).
BROKEN_PIPE_STATUS = 141

#: Sub-commands in the order ``--help`` lists them.
COMMANDS = (
    "synth",
    "download",
    "realism",
    "prepare",
    "import",
    "info",
    "split",
    "train",
    "predict",
    "saturation",
    "leakage",
    "regions",
    "audit",
    "baselines",
    "synchronic",
    "farside",
    "history",
    "report",
    "demo",
)


def command_module(name: str) -> str:
    """Module of sub-command ``name``: ``euv2mag.cli.<name>``, with ``_`` appended to a Python keyword (``import_``)."""
    import keyword

    return f"{__name__}.{name}_" if keyword.iskeyword(name) else f"{__name__}.{name}"


def build_parser() -> argparse.ArgumentParser:
    """The ``euv2mag`` parser with one sub-parser per installed command of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="euv2mag",
        description="Generate solar magnetograms from EUV images and audit how far they can be trusted.",
    )
    parser.add_argument("--version", action="version", version=f"euv2mag {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(command_module(name))
        except ModuleNotFoundError as exc:  # a sub-command not built into this installation
            if exc.name == command_module(name):
                continue
            raise
        module.add_parser(sub)
    return parser


def _rerun_hint(args: argparse.Namespace) -> str:
    """How to continue the interrupted command: its module's ``RERUN_HINT`` or "re-run the same command"."""
    module = sys.modules.get(getattr(getattr(args, "func", None), "__module__", "") or "")
    return getattr(module, "RERUN_HINT", "re-run the same command")


def _disk_full_message(exc: OSError, hint: str) -> str:
    """One line for a full disk: the file being written, the problem, and how to continue."""
    where = f"{exc.filename}: " if exc.filename else ""
    problem = "disk quota exceeded" if exc.errno == errno.EDQUOT else "no space left on device"
    return f"{where}{problem}; free some space and {hint} to resume"


def _stdout_to_devnull() -> None:
    """Point file descriptor 1 at the null device so the final flush of a closed pipe is silent."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # stdout replaced by an in-memory stream
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``euv2mag`` console script; returns the exit status.

    Parameters
    ----------
    argv : list of str, optional
        Arguments after the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The command's status; 2 for a :class:`~euv2mag.errors.UserError` (printed as one line,
        its ``parameter`` named by the option's flag) or a full disk, 130 on Ctrl-C, and
        :data:`BROKEN_PIPE_STATUS` when standard output was closed early.
    """
    parser = build_parser()
    args = parse_args(argv, parser)
    try:
        try:
            with warnings.catch_warnings():
                # Library chatter (e.g. sunpy metadata notes) is not the user's problem; our own
                # Euv2magWarning and anything else still show.
                warnings.filterwarnings("ignore", module="sunpy")
                status = int(args.func(args) or 0)
        except UserError as exc:
            name = None if exc.parameter is None else _flag(parser, args.command, exc.parameter)
            print(f"euv2mag {args.command}: error: {exc.render(name)}", file=sys.stderr)
            status = 2
        except OSError as exc:
            if exc.errno not in DISK_FULL_ERRNOS:
                raise
            print(f"euv2mag {args.command}: error: {_disk_full_message(exc, _rerun_hint(args))}", file=sys.stderr)
            status = 2
        except KeyboardInterrupt:
            print(f"euv2mag {args.command}: interrupted; {_rerun_hint(args)} to resume", file=sys.stderr)
            status = 130
        sys.stdout.flush()  # a reader that went away shows here, not at interpreter exit
        return status
    except BrokenPipeError:
        _stdout_to_devnull()
        return BROKEN_PIPE_STATUS


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
