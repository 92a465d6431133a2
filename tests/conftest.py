"""Shared fixtures: real servers on free loopback ports, no mocks of Pointsman's own parts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The public evaluation data beside the project; tests needing it skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"public evaluation data not found at ../shared/data (looked in {SHARED_DATA})")
    return SHARED_DATA


@pytest.fixture
def output_dir() -> Path:
    """Where tests save artefacts (screenshots, reports) for a human to look at."""
    path = ROOT / "test-output"
    path.mkdir(exist_ok=True)
    return path


os.environ.setdefault("POINTSMAN_TEST", "1")
