"""A ``--quick`` demo study shared by test_demo.py and test_browser.py (run once per test session).

conftest.py imports the fixture, so both modules get the same session-scoped instance: the demo
runs once (a fixture imported into each module would be two fixtures, the second resuming the
study and rebuilding its report).
"""
from __future__ import annotations

import time

import pytest

from euv2mag.demo import demo_options, run_demo

_RUNS: dict[str, float] = {}


@pytest.fixture(scope="session")
def quick_demo(tmp_path_factory):
    """Path of the study folder of ``euv2mag demo --quick`` (runs it on first use)."""
    root = tmp_path_factory.getbasetemp() / "quick-demo"
    t0 = time.perf_counter()
    run_demo(root, demo_options(quick=True))
    _RUNS.setdefault("first_seconds", time.perf_counter() - t0)
    return root


def first_run_seconds() -> float | None:
    """Wall-clock seconds of the first (full) quick-demo run of this session."""
    return _RUNS.get("first_seconds")
