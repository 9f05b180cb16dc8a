"""Fixtures of the fault tests (tests/chaos/harness.py has the harness itself)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections

from tests.chaos.harness import services


@pytest.fixture
def services_restored() -> Iterator[None]:
    """Whatever a test stops, ``scripts/services.sh up`` brings back afterwards, pass or fail;
    and the pytest process drops the connections a restart broke."""
    try:
        yield
    finally:
        services("up")
        connections.close_all()


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path
