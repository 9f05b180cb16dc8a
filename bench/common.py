"""Shared pieces of the benchmark suite: configuration from the environment, the statistics,
and small PostgreSQL helpers. Imported by the orchestrator (project .venv) and by the hordak
runner (its own virtualenv), so it imports nothing beyond the standard library and psycopg."""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"

PG_HOST = os.environ.get("BENCH_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("BENCH_PG_PORT", "5432"))
PG_REPLICA_PORT = int(os.environ.get("BENCH_PG_REPLICA_PORT", "5433"))
PG_USER = os.environ.get("BENCH_PG_USER", "midaz")
PG_PASSWORD = os.environ.get("BENCH_PG_PASSWORD", "midaz")
ADMIN_DB = os.environ.get("BENCH_ADMIN_DB", "midaz")

BENCH_DB = "midaz_bench"
PGBENCH_DB = "midaz_bench_pgbench"
HORDAK_DB = "midaz_bench_hordak"

ACCOUNTS = 1000
HOT_ALIAS = "@hot"
SPREAD_FUNDS = "1000000"
HOT_FUNDS = "1000000000"
AMOUNT = "1.00"


def alias(i: int) -> str:
    return f"@acct{i:04d}"


def db_url(name: str, port: int = PG_PORT) -> str:
    return f"postgres://{PG_USER}:{PG_PASSWORD}@{PG_HOST}:{port}/{name}"


@dataclass(frozen=True)
class Config:
    seconds: float
    repeats: int
    procs: int
    http_connections: int
    fixed_rate: int
    sweep: tuple[int, ...]
    sweep_seconds: float
    read_small: int
    read_large: int
    read_requests: int
    profile_seconds: int
    quick: bool

    @classmethod
    def from_env(cls) -> Config:
        quick = os.environ.get("BENCH_QUICK", "") not in ("", "0", "false")
        env = os.environ.get
        seconds = float(env("BENCH_SECONDS", "3" if quick else "10"))
        return cls(
            seconds=seconds,
            repeats=int(env("BENCH_REPEATS", "1" if quick else "3")),
            procs=int(env("BENCH_PROCS", "8")),
            http_connections=int(env("BENCH_HTTP_CONNECTIONS", "16")),
            fixed_rate=int(env("BENCH_FIXED_RATE", "100")),
            sweep=tuple(int(x) for x in env("BENCH_SWEEP", "1,4,8,16,32").split(",")),
            sweep_seconds=float(env("BENCH_SWEEP_SECONDS", str(min(seconds, 2 if quick else 8)))),
            read_small=int(env("BENCH_READ_SMALL", "10000")),
            read_large=int(env("BENCH_READ_LARGE", "100000" if quick else "1000000")),
            read_requests=int(env("BENCH_READ_REQUESTS", "200" if quick else "1000")),
            profile_seconds=int(env("BENCH_PROFILE_SECONDS", "4" if quick else "10")),
            quick=quick,
        )


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of raw samples."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def connect(dbname: str = ADMIN_DB, port: int = PG_PORT, autocommit: bool = True) -> Any:
    import psycopg

    return psycopg.connect(
        host=PG_HOST,
        port=port,
        user=PG_USER,
        password=PG_PASSWORD,
        dbname=dbname,
        autocommit=autocommit,
    )


def recreate_database(name: str) -> None:
    """DROP (forcing out any session) and CREATE an empty database owned by the bench role."""
    from psycopg import sql

    with connect() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def wait_for_replica(timeout: float = 300.0) -> bool:
    """Wait until the streaming replica has replayed everything the primary wrote so far."""
    import time

    with connect() as primary:
        target = primary.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    deadline = time.monotonic() + timeout
    try:
        with connect(port=PG_REPLICA_PORT) as replica:
            while time.monotonic() < deadline:
                row = replica.execute(
                    "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]
                ).fetchone()
                if row and row[0]:
                    return True
                time.sleep(0.2)
    except Exception:
        return False
    return False
