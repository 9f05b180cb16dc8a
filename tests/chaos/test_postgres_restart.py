"""The PostgreSQL primary restarted under synchronous postings sent through a real gunicorn
server: every posting a client retried with its ``X-Idempotency`` key is applied exactly once,
the refused ones not at all, and the server serves again without being restarted itself."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.chaos.harness import (
    PG_VERSION,
    Http,
    Ledger,
    Load,
    assert_applied_exactly_once,
    run,
    serving,
)

pytestmark = [pytest.mark.chaos, pytest.mark.django_db(transaction=True)]

FUNDED = ("@a", "@b", "@c", "@d")


def pick(i: int) -> tuple[str, str, str]:
    """Transfers around the funded accounts; every 7th from @poor, which has nothing (0018)."""
    if i % 7 == 3:
        return "@poor", "@a", "1"
    return FUNDED[i % 4], FUNDED[(i + 1 + (i // 4) % 3) % 4], "1.25"


def test_primary_restarted_during_synchronous_postings(
    log_dir: Path, services_restored: None
) -> None:
    with serving(log_dir, workers=2, threads=2) as server:
        http = Http(server.port)
        ledger = Ledger(http, {**dict.fromkeys(FUNDED, "1000"), "@poor": "0"})
        with Load(ledger, clients=4, pick=pick) as load:
            load.wait_answered(20)
            restarted_at = time.monotonic()
            run("pg_ctlcluster", "--skip-systemctl-redirect", PG_VERSION, "main", "restart")
            restart_took = time.monotonic() - restarted_at
            before = load.answered()
            load.wait_answered(before + 40)
        postings = load.postings
        log = server.log()

    hit = [p for p in postings if p.outcome.transient]
    assert hit, "no request met the restart: the fault was not exercised"
    statuses = sorted({a.status for p in hit for a in p.outcome.transient if a.status})
    print(
        f"restart {restart_took:.1f} s; {len(postings)} postings, {len(hit)} retried, "
        f"transient statuses {statuses}"
    )
    # The outage answers a clean 503 (or the connection drops); never a 500 "internal error".
    assert set(statuses) <= {503}, statuses
    assert "Traceback" not in log, log[-4000:]
    # Each retried posting got its answer soon after PostgreSQL was back: no worker thread
    # kept a dead connection (CONN_MAX_AGE) and failed on it again and again.
    slowest = max(p.outcome.elapsed for p in hit)
    assert slowest < restart_took + 10, f"a posting took {slowest:.1f} s to get through"
    ok = [p for p in postings if p.outcome.succeeded]
    refused = [p for p in postings if not p.outcome.succeeded]
    assert {(p.outcome.status, p.outcome.attempts[-1].code) for p in refused} == {(422, "0018")}
    assert all(p.src == "@poor" for p in refused)
    assert len(ok) >= 40
    balances = assert_applied_exactly_once(ledger, postings)
    assert balances["@poor"] == 0
