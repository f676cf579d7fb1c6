"""Shared fixtures.  Real-data tests use ../shared/data and skip cleanly when it is absent."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from _demo_fixture import quick_demo  # noqa: F401  (one session fixture for test_demo.py and test_browser.py)

os.environ.setdefault("EUV2MAG_NO_PROGRESS", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("EUV2MAG_SHARED_DATA", REPO.parent / "shared" / "data"))
TEST_DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder of the real SDO/HMI files (../shared/data); skips the test when absent."""
    if not (SHARED_DATA / "hmi").is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def test_data() -> Path:
    """Folder of the small fixtures committed under tests/data."""
    return TEST_DATA
