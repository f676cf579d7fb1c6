"""Progress display for long work (rich): iterations/s and ETA on stderr.

Set the environment variable ``EUV2MAG_NO_PROGRESS=1`` to silence it (the tests do).
"""
from __future__ import annotations

import contextlib
import os
import sys
from typing import Callable, Iterator

__all__ = ["progress_bar"]


@contextlib.contextmanager
def progress_bar(description: str, total: int | None, *, enabled: bool | None = None) -> Iterator[Callable]:
    """Yield an ``advance(n=1)`` callable that updates a progress bar.

    Parameters
    ----------
    description : str
        Label of the bar.
    total : int or None
        Number of steps (None: unknown).
    enabled : bool, optional
        Force the bar on or off; by default on unless ``EUV2MAG_NO_PROGRESS`` is set.
    """
    if enabled is None:
        enabled = not os.environ.get("EUV2MAG_NO_PROGRESS")
    if not enabled:
        yield lambda n=1: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class SpeedColumn(ProgressColumn):
        def render(self, task):
            speed = task.finished_speed or task.speed
            return Text("   -- it/s" if speed is None else f"{speed:7.2f} it/s")

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        SpeedColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(file=sys.stderr),
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n=1: progress.advance(task, n)
