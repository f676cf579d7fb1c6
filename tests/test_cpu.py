"""CPU time and hypervisor steal of a run (euv2mag._cpu)."""
from __future__ import annotations

import time

import pytest

from euv2mag import _cpu


def test_steal_fraction_is_stolen_share_of_the_machine_time():
    before = {"user": 100.0, "nice": 0.0, "system": 20.0, "idle": 500.0, "steal": 10.0, "guest": 5.0}
    # 10 s user, 2 s system, 5 s idle, 3 s steal; 4 s guest, already part of user, is not summed again
    after = {"user": 110.0, "nice": 0.0, "system": 22.0, "idle": 505.0, "steal": 13.0, "guest": 9.0}
    assert _cpu.steal_fraction(before, after) == pytest.approx(3.0 / 20.0, abs=1e-12)


def test_steal_fraction_without_a_counter_or_time_is_none():
    assert _cpu.steal_fraction({"user": 1.0}, {"user": 2.0}) is None
    same = {"user": 1.0, "steal": 0.5}
    assert _cpu.steal_fraction(same, same) is None


def test_usage_counts_this_process_cpu_seconds():
    start = _cpu.sample()
    end_at = time.process_time() + 0.3
    while time.process_time() < end_at:  # 0.3 s of CPU in this process
        sum(i * i for i in range(1000))
    usage = _cpu.usage_between(start, _cpu.sample())
    assert 0.25 <= usage["cpu_seconds"] <= 1.0
    steal = usage["steal_fraction"]
    assert steal is None or 0.0 <= steal <= 1.0
