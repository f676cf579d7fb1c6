"""Exceptions and warnings of euv2mag.

:class:`UserError` is raised for every problem caused by the user's input (a bad file,
a bad option, an incomplete store).  The command line prints its message as one line and
exits with status 2, without a traceback.  Programming errors keep their tracebacks.
"""
from __future__ import annotations

__all__ = ["UserError", "Euv2magWarning"]


class UserError(Exception):
    """A problem with the user's input, reported as one line naming the file and the problem."""

    def __init__(self, message: str, *, path: object | None = None):
        self.path = None if path is None else str(path)
        text = " ".join(str(message).split())  # always one line
        super().__init__(f"{self.path}: {text}" if self.path else text)


class Euv2magWarning(UserWarning):
    """Warnings raised by euv2mag (filter on this category, never globally)."""
