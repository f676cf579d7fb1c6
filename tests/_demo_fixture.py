"""A ``--quick`` demo study shared by test_demo.py and test_browser.py (run once per test session).

The demo resumes finished stages, so a second request for the fixture in the same session (from
the other module) only rebuilds the report.
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
