"""Exceptions and warnings of euv2mag.

:class:`UserError` is raised for every problem caused by the user's input (a bad file,
a bad option, an incomplete store).  The command line prints its message as one line and
exits with status 2, without a traceback.  Programming errors keep their tracebacks.
"""
from __future__ import annotations

__all__ = ["UserError", "Euv2magWarning"]


class UserError(ValueError):
    """A problem with the user's input, reported as one line naming the file and the problem.

    ``parameter`` names the library parameter at fault; the message then starts with it, and
    the command line shows the option instead.
    """

    def __init__(self, message: str, *, path: object | None = None, parameter: str | None = None):
        self.path = None if path is None else str(path)
        self.parameter = parameter
        self.detail = " ".join(str(message).split())  # always one line
        text = f"{parameter}: {self.detail}" if parameter else self.detail
        super().__init__(f"{self.path}: {text}" if self.path else text)


class Euv2magWarning(UserWarning):
    """Warnings raised by euv2mag (filter on this category, never globally)."""
