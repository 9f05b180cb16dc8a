"""The worker's liveness is a local heartbeat file (midaz/celery.py, `entrypoint.sh
worker-alive`): it stays fresh while the broker is unreachable and goes stale when the worker
process is stuck, so Kubernetes restarts stuck workers and only those."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
CELERY = (sys.executable, "-m", "celery", "-A", "midaz")


def _alive(beat: Path, max_age: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the project's own script
        [str(ENTRYPOINT), "worker-alive"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
        env={
            "PATH": "/usr/bin:/bin",
            "APP_DIR": str(ROOT),
            "WORKER_HEARTBEAT_FILE": str(beat),
            "WORKER_HEARTBEAT_MAX_AGE_SECONDS": str(max_age),
        },
    )


def _wait(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def worker_without_broker(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """A real worker whose broker is down (a closed port) for its whole life."""
    beat = tmp_path / "heartbeat"
    env = dict(os.environ)
    env.update(
        {
            "CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:1//",
            "WORKER_HEARTBEAT_FILE": str(beat),
            "WORKER_HEARTBEAT_SECONDS": "0.2",
            "METRICS_PORT": "0",
        }
    )
    env.pop("DATABASE_REPLICA_URL", None)
    proc = subprocess.Popen(  # noqa: S603 - a fixed command
        [*CELERY, "worker", "-c", "1", "-P", "solo", "--loglevel", "WARNING", "--without-mingle"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proc, beat
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def test_the_heartbeat_stays_fresh_while_the_broker_is_down_and_stale_when_stuck(
    worker_without_broker: tuple[subprocess.Popen[bytes], Path],
) -> None:
    proc, beat = worker_without_broker
    _wait(beat.exists, 60, "the worker's first heartbeat")
    first = beat.stat().st_mtime
    _wait(lambda: beat.stat().st_mtime > first, 10, "a second heartbeat")
    time.sleep(1.5)
    # Still trying to reach the broker, and alive: the probe does not restart it.
    assert proc.poll() is None
    assert _alive(beat, max_age=2).returncode == 0
    # A worker that no longer runs (frozen here) stops the heartbeat: the probe fails.
    os.killpg(proc.pid, signal.SIGSTOP)
    try:
        time.sleep(3.5)
        stuck = _alive(beat, max_age=2)
        assert stuck.returncode == 1, stuck.stdout
    finally:
        os.killpg(proc.pid, signal.SIGCONT)
    _wait(lambda: _alive(beat, max_age=2).returncode == 0, 10, "the heartbeat to resume")
