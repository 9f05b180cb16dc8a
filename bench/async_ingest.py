"""Asynchronous postings in the benchmark (issue #6): how fast postings are accepted, and how
fast Celery workers apply them.

Two phases per mode (spread, hot), so that each figure is a capacity, not the slower of two:
1. accept: ``BENCH_PROCS`` engine processes post 1:1 transfers through
   ``transaction_create`` with ``TRANSACTION_ASYNC=true`` for the round's seconds (each accepted
   posting is a row, a queue row and a confirmed message to RabbitMQ), no worker running;
2. apply: ``BENCH_ASYNC_WORKERS`` Celery worker processes (one process each) drain the queue;
   applied/s = postings applied / seconds from the workers' start to an empty queue.
"""

# ruff: noqa: S603

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from bench import engine
from bench.common import BENCH_DB, ROOT, connect


def _queued() -> int:
    with connect(BENCH_DB) as conn:
        row = conn.execute("SELECT count(*) FROM transactions_queuedposting").fetchone()
    return int(row[0]) if row else 0


def _statuses(since: float) -> dict[str, int]:
    with connect(BENCH_DB) as conn:
        rows = conn.execute(
            "SELECT status, count(*) FROM transactions_transaction"
            " WHERE created_at >= to_timestamp(%s) GROUP BY status",
            [since],
        ).fetchall()
    return {status: int(count) for status, count in rows}


def _start_workers(count: int) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, **engine.django_env()}
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "midaz",
                "worker",
                "-Q",
                "midaz.postings",
                "-c",
                "1",
                "-n",
                f"bench{i}@%h",
                "--loglevel",
                "WARNING",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(count)
    ]


def _stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for w in workers:
        if w.poll() is None:
            os.killpg(w.pid, signal.SIGTERM)
    for w in workers:
        try:
            w.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(w.pid, signal.SIGKILL)


def _purge() -> None:
    subprocess.run(
        [sys.executable, "-m", "celery", "-A", "midaz", "purge", "-f", "-Q", "midaz.postings"],
        cwd=ROOT,
        env={**os.environ, **engine.django_env()},
        capture_output=True,
        check=False,
    )


def run(mode: str, ids: dict[str, str], seconds: float, procs: int, workers: int) -> dict[str, Any]:
    _purge()
    started = time.time()
    os.environ["TRANSACTION_ASYNC"] = "true"  # the spawned engine processes inherit it
    try:
        accepted = engine.run_engine(mode, ids, seconds, procs)
    finally:
        del os.environ["TRANSACTION_ASYNC"]
    queued = _queued()
    t0 = time.perf_counter()
    running = _start_workers(workers)
    first_commit = first_left = None
    try:
        deadline = t0 + max(120.0, seconds * 20)
        while (left := _queued()) and time.perf_counter() < deadline:
            if first_commit is None and left < queued:
                first_commit, first_left = time.perf_counter(), left
            time.sleep(0.02)
        drained = time.perf_counter() - t0
    finally:
        _stop(running)
    statuses = _statuses(started)
    applied = queued - left
    return {
        "accepted_per_s": accepted["transfers_per_s"],
        "accept_errors": accepted["errors"],
        "queued": queued,
        "applied": applied,
        "left": left,
        # From the first batch's commit to an empty queue: the workers' pace once running.
        "applied_per_s": (first_left or 0) / (t0 + drained - first_commit)
        if first_commit is not None and first_left
        else applied / drained,
        # From the workers' start (their start-up included): a floor.
        "applied_per_s_with_startup": applied / drained if drained else 0.0,
        "drain_seconds": drained,
        "statuses": statuses,
        "workers": workers,
    }
