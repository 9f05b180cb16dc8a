"""gunicorn workers killed with SIGKILL in the middle of requests: the master starts new ones,
the clients' retries with the same ``X-Idempotency`` key are applied exactly once, including a
posting whose worker died after PostgreSQL had committed it (the retry is a replay)."""

from __future__ import annotations

import os
import signal
import threading
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from tests.chaos.harness import (
    Attempt,
    Http,
    Ledger,
    Load,
    Outcome,
    Posting,
    assert_applied_exactly_once,
    database_url,
    send_until_answered,
    serving,
    transfer,
    wait_until,
)

pytestmark = [pytest.mark.chaos, pytest.mark.django_db(transaction=True)]


_WAITING = (
    "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%%midaz_post(%%'"
    " AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
)
_ACTIVE = (
    "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%%midaz_post(%%'"
    " AND pid <> pg_backend_pid() AND state = 'active'"
)


def _backends(dsn: str, sql: str) -> int:
    """How many backends (of other sessions) run ``midaz_post`` in the state ``sql`` counts."""
    with psycopg.connect(dsn, autocommit=True) as probe:
        row = probe.execute(sql).fetchone()
    return int(row[0]) if row else 0


def test_worker_killed_after_the_database_committed_its_posting(log_dir: Path) -> None:
    dsn = database_url()
    with serving(log_dir, workers=1, threads=2) as server:
        http = Http(server.port)
        ledger = Ledger(http, {"@alice": "100", "@bob": "0"})
        key = "chaos-killed-in-flight"
        path = ledger.path("/transactions/json")
        body = transfer("@alice", "@bob", "30", key)
        headers = {"X-Idempotency": key}
        # Hold @bob's balance so that the posting stops inside midaz_post, key claimed.
        blocker = psycopg.connect(dsn, autocommit=False)
        try:
            blocker.execute(
                "SELECT 1 FROM transactions_balance WHERE alias = '@bob' AND ledger_id = %s"
                " FOR UPDATE",
                [ledger.id],
            )
            first = Outcome()

            def send_once() -> None:
                try:
                    answer = Http(server.port).request("POST", path, body, headers)
                    first.final = answer
                except OSError as exc:
                    first.attempts.append(Attempt(None, type(exc).__name__))

            sender = threading.Thread(target=send_once)
            sender.start()
            wait_until(
                lambda: _backends(dsn, _WAITING) == 1,
                30,
                "the posting to wait on @bob's balance",
            )
            (worker,) = server.worker_pids()
            os.kill(worker, signal.SIGKILL)
            sender.join(30)
            assert not sender.is_alive()
            assert first.final is None, "the client of the killed worker got an answer"
            assert first.attempts
            assert first.attempts[0].status is None
        finally:
            blocker.rollback()
            blocker.close()
        # The orphaned backend goes on once the lock is free: it commits, and cannot answer.
        wait_until(lambda: _backends(dsn, _ACTIVE) == 0, 30, "the orphaned posting")
        new_workers = server.wait_for_workers()
        assert worker not in new_workers, "the master did not replace the killed worker"

        from transactions.models import Transaction

        committed = list(
            Transaction.objects.filter(ledger_id=ledger.id, description=key).values_list(
                "id", flat=True
            )
        )
        retry = send_until_answered(http, "POST", path, body, headers, give_up_after=30)
        assert retry.succeeded, retry.attempts
        assert retry.final is not None
        if committed:  # what PostgreSQL does: the statement finished after its client died
            assert retry.final.replayed, "the retry posted again instead of replaying"
            assert retry.final.body["id"] == str(committed[0])
        else:
            assert not retry.final.replayed
        posting = Posting(key, "@alice", "@bob", Decimal(30), retry)
        print(f"committed after the worker died: {bool(committed)}")
    balances = assert_applied_exactly_once(ledger, [posting])
    assert (balances["@alice"], balances["@bob"]) == (70, 30)


FUNDED = ("@a", "@b", "@c", "@d")


def test_workers_killed_under_load(log_dir: Path) -> None:
    with serving(log_dir, workers=2, threads=2) as server:
        http = Http(server.port)
        ledger = Ledger(http, dict.fromkeys(FUNDED, "1000"))

        def pick(i: int) -> tuple[str, str, str]:
            return FUNDED[i % 4], FUNDED[(i + 1 + (i // 4) % 3) % 4], "0.75"

        killed: list[int] = []
        with Load(ledger, clients=6, pick=pick) as load:
            for _ in range(3):
                load.wait_answered(load.answered() + 25)
                victim = server.worker_pids()[0]
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)

                def replaced(victim: int = victim) -> bool:
                    pids = server.worker_pids()
                    return victim not in pids and len(pids) == server.workers

                wait_until(replaced, 30, "the master to replace the killed worker")
            load.wait_answered(load.answered() + 25)
            assert not set(killed) & set(server.worker_pids())
        postings = load.postings
    hit = [p for p in postings if p.outcome.transient]
    print(f"{len(postings)} postings, {len(hit)} retried after a worker died")
    assert hit, "no request was in flight on a killed worker: the fault was not exercised"
    assert all(a.status is None for p in hit for a in p.outcome.transient), (
        "a killed worker's request must fail as a dropped connection, never a 5xx"
    )
    assert all(p.outcome.succeeded for p in postings)
    assert_applied_exactly_once(ledger, postings)
