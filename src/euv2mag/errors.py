"""Exceptions and warnings of euv2mag.

:class:`UserError` is raised for every problem caused by the user's input (a bad file,
a bad option, an incomplete store).  The command line prints its message as one line and
exits with status 2, without a traceback.  Programming errors keep their tracebacks.

Naming the parameter
--------------------
Library code names a bad argument by its Python name, never by a command-line flag::

    raise UserError("must be >= 1", parameter="n_boot")

A Python caller sees ``n_boot: must be >= 1``.  The command line (:func:`euv2mag.cli.main`)
looks for the sub-command's option whose ``dest`` equals ``parameter`` and prints its flag
instead (``euv2mag audit: error: --n-boot: must be >= 1``); when no option has that ``dest`` it
prints the parameter name.  With ``path`` as well the message reads
``<parameter>: <path>: <problem>``.
"""
from __future__ import annotations

__all__ = ["UserError", "Euv2magWarning"]


class UserError(ValueError):
    """A problem with the user's input, reported as one line naming the file and the problem.

    A subclass of :class:`ValueError`, so ``except ValueError`` in a caller's code catches it.

    Parameters
    ----------
    message : str
        The problem; whitespace (newlines included) is collapsed so the message is one line.
    path : path-like, optional
        The file or store at fault; the message starts with it.
    parameter : str, optional
        Python name of the argument at fault (e.g. ``"n_boot"``); the message starts with it,
        and the command line replaces it by the matching option's flag (e.g. ``--n-boot``).

    Attributes
    ----------
    path : str or None
        ``path`` as a string.
    parameter : str or None
        ``parameter`` as given.
    problem : str
        The one-line message without the ``parameter`` and ``path`` prefixes.

    Examples
    --------
    >>> str(UserError("must be >= 1", parameter="n_boot"))
    'n_boot: must be >= 1'
    >>> UserError("must be >= 1", parameter="n_boot").render("--n-boot")
    '--n-boot: must be >= 1'
    >>> str(UserError("no such store", path="a.zarr"))
    'a.zarr: no such store'
    """

    def __init__(self, message: str, *, path: object | None = None, parameter: str | None = None):
        self.path = None if path is None else str(path)
        self.parameter = None if parameter is None else str(parameter)
        self.problem = " ".join(str(message).split())  # always one line
        super().__init__(self.render())

    def render(self, parameter_name: str | None = None) -> str:
        """The one-line message, naming the parameter as ``parameter_name`` (default: its Python name).

        Parameters
        ----------
        parameter_name : str, optional
            How to name :attr:`parameter`, e.g. the command-line flag that sets it.  Ignored when
            the error names no parameter.

        Returns
        -------
        str
            ``[<parameter>: ][<path>: ]<problem>``.
        """
        parts = []
        if self.parameter is not None:
            parts.append(parameter_name or self.parameter)
        if self.path is not None:
            parts.append(self.path)
        return ": ".join([*parts, self.problem])

    def __reduce__(self):
        # keep path and parameter when the error crosses processes (Dask workers pickle it)
        return _rebuild_user_error, (type(self), self.problem, self.path, self.parameter)


def _rebuild_user_error(cls, problem, path, parameter):
    return cls(problem, path=path, parameter=parameter)


class Euv2magWarning(UserWarning):
    """Warnings raised by euv2mag (filter on this category, never globally)."""
