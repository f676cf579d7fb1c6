"""Functions run by spawned training processes in the tests (module level: spawn pickles them by name)."""
from __future__ import annotations

import time

from euv2mag.errors import UserError


def refuse_while_a_peer_crashes(*, dist):
    """Rank 1 fails at once with an error that is no user error (as a peer's collective does when
    another process leaves it); rank 0 refuses its input a moment later, as training's checks do."""
    if dist.rank == 1:
        raise RuntimeError("a peer left the collective")
    time.sleep(1.0)
    raise UserError("is not a dataset store", path="nowhere.zarr")


def crash_on_rank1(*, dist):
    """A genuine bug on rank 1, no user error anywhere; rank 0 finishes."""
    if dist.rank == 1:
        raise ZeroDivisionError("a bug in rank 1")
    return "done"
