"""Parsing the ``euv2mag`` command line: options anywhere among a sub-command's positionals.

:func:`parse_args` hands everything after the sub-command name to the sub-command's own
``parse_intermixed_args`` (argparse cannot intermix through a sub-parsers action), so
``euv2mag split STORE --scheme kpl19 OUT.json`` parses like the canonical order.  An option that
takes several values (``nargs="+"``) still consumes every following word that is not an option,
as in plain argparse; end its list with ``--`` or another option.  :func:`flag_of` names a
library parameter by the option that sets it, for one-line error messages.
"""
from __future__ import annotations

import argparse
import sys

__all__ = ["parse_args", "flag_of"]


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def parse_args(argv: list[str] | None = None, parser: argparse.ArgumentParser | None = None) -> argparse.Namespace:
    """Parse a command line, letting options and positionals intermix within the sub-command.

    Parameters
    ----------
    argv : list of str, optional
        Arguments after the program name (default: ``sys.argv[1:]``).
    parser : argparse.ArgumentParser, optional
        The parser of :func:`build_parser` (built when not given).

    Returns
    -------
    argparse.Namespace
        The same namespace ``parser.parse_args`` gives for the canonical order (positionals
        where the usage puts them), with ``command`` set to the sub-command name.

    Notes
    -----
    The top-level parser only takes options without values (``--help``, ``--version``) before
    the sub-command name, so the first word that does not start with ``-`` is the sub-command.
    When anything else precedes it, or it is not a known sub-command, plain ``parse_args``
    reports the problem (or prints help / the version) exactly as before.
    """
    if parser is None:
        from . import build_parser

        parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    sub = _subcommands(parser)
    if not argv or argv[0].startswith("-") or argv[0] not in sub.choices:
        return parser.parse_args(argv)
    namespace = argparse.Namespace()
    for action in parser._actions:  # top-level defaults, as parse_args would set them
        if action.dest is not argparse.SUPPRESS and action.default is not argparse.SUPPRESS:
            setattr(namespace, action.dest, action.default)
    setattr(namespace, sub.dest, argv[0])
    return sub.choices[argv[0]].parse_intermixed_args(argv[1:], namespace)


def flag_of(parser: argparse.ArgumentParser, command: str, parameter: str) -> str:
    """The flag (or positional name) of ``command`` whose ``dest`` is ``parameter``; else ``parameter``."""
    subparser = _subcommands(parser).choices.get(command)
    for action in subparser._actions if subparser is not None else ():
        if action.dest == parameter:
            if action.option_strings:
                return max(action.option_strings, key=lambda flag: (flag.startswith("--"), len(flag)))
            return action.metavar if isinstance(action.metavar, str) else action.dest  # as the usage shows it
    return parameter
