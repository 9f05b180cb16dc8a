"""`make run` serves a development ledger (DEBUG on, any host, no API keys): this machine only
unless asked."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAKE = shutil.which("make")


def _run_command(*args: str) -> str:
    assert MAKE is not None
    printed = subprocess.run(  # noqa: S603 - a fixed command line, printed only (-n)
        [MAKE, "-n", "run", *args], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return next(line for line in printed.splitlines() if "runserver" in line)


@pytest.mark.skipif(MAKE is None, reason="make is not installed")
def test_make_run_binds_the_loopback_by_default() -> None:
    assert "runserver 127.0.0.1:" in _run_command()


@pytest.mark.skipif(MAKE is None, reason="make is not installed")
def test_make_run_host_opens_it_when_asked() -> None:
    assert "runserver 0.0.0.0:" in _run_command("HOST=0.0.0.0")
