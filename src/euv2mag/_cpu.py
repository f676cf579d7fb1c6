"""CPU time of a run, and the share of the machine's CPU time its hypervisor took meanwhile.

Wall times measured on a shared virtual machine vary with the host's load: on the 2-core machine
the same deterministic demo took 1473 s of user CPU on one day and 1897 s the next.  Two numbers
make a run time interpretable:

* **CPU seconds** -- user + system CPU time (s) of this process and of its child processes that
  have ended (a process pool's workers once it is shut down);
* **steal fraction** -- of the machine's CPU time (all cores, all processes) during the interval,
  the share the hypervisor gave to other virtual machines (Linux ``steal``; dimensionless,
  0-1; ``None`` where the operating system does not report it).
"""
from __future__ import annotations

import dataclasses

__all__ = ["CpuSample", "sample", "steal_fraction", "usage_between"]

# guest time is already counted in user / nice on Linux
_NOT_SUMMED = ("guest", "guest_nice")


@dataclasses.dataclass(frozen=True)
class CpuSample:
    """CPU counters at one moment.

    Attributes
    ----------
    process_seconds : float
        User + system CPU time (s) of this process and of its ended child processes.
    machine : dict
        The machine's cumulative CPU times by kind (s, summed over cores; ``psutil.cpu_times()``).
    """

    process_seconds: float
    machine: dict


def sample() -> CpuSample:
    """The CPU counters now (:class:`CpuSample`)."""
    import psutil

    t = psutil.Process().cpu_times()
    own = t.user + t.system + t.children_user + t.children_system
    return CpuSample(float(own), {k: float(v) for k, v in psutil.cpu_times()._asdict().items()})


def steal_fraction(before: dict, after: dict) -> float | None:
    """Share of the machine's CPU time between two ``psutil.cpu_times()`` dicts that was stolen.

    Parameters
    ----------
    before, after : dict
        Cumulative CPU times by kind (s); ``steal`` among them on Linux.

    Returns
    -------
    float or None
        Δsteal / Δ(sum of all kinds but guest time), in [0, 1]; None without a ``steal`` counter
        or when no time passed.
    """
    if "steal" not in before or "steal" not in after:
        return None
    total = sum(after[k] - before[k] for k in after if k in before and k not in _NOT_SUMMED)
    if total <= 0:
        return None
    return min(1.0, max(0.0, (after["steal"] - before["steal"]) / total))


def usage_between(start: CpuSample, end: CpuSample) -> dict:
    """``{"cpu_seconds": s, "steal_fraction": f or None}`` of the interval from ``start`` to ``end`` (rounded for records)."""
    steal = steal_fraction(start.machine, end.machine)
    return {"cpu_seconds": round(end.process_seconds - start.process_seconds, 1),
            "steal_fraction": None if steal is None else round(steal, 4)}
