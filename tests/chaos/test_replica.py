"""The streaming replica under a real gunicorn server that reads from it
(``READ_FROM_REPLICA``): stopped, reads fall back to the primary and answer the current data;
started again, reads return to it; lagging (replay paused), a writer still reads what it just
wrote."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from tests.chaos.harness import (
    Http,
    Ledger,
    assert_applied_exactly_once,
    database_url,
    post_transfer,
    replica_port,
    send_until_answered,
    services,
    serving,
    wait_until,
)

pytestmark = [pytest.mark.chaos, pytest.mark.django_db(transaction=True)]


def replica_caught_up() -> bool:
    with psycopg.connect(database_url(), autocommit=True) as primary:
        row = primary.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    assert row is not None
    with psycopg.connect(database_url(replica_port()), autocommit=True) as replica:
        done = replica.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [row[0]])
        caught = done.fetchone()
    return bool(caught and caught[0])


@contextmanager
def replay_paused() -> Iterator[None]:
    with psycopg.connect(database_url(replica_port()), autocommit=True) as replica:
        replica.execute("SELECT pg_wal_replay_pause()")
        try:
            yield
        finally:
            replica.execute("SELECT pg_wal_replay_resume()")


def _server_env() -> dict[str, str]:
    return {
        "READ_FROM_REPLICA": "true",
        "DATABASE_REPLICA_URL": database_url(replica_port()),
        "READ_YOUR_WRITES_SECONDS": "60",  # opt-in (off by default): a writer's next reads
    }


# The 5xx or dropped connections the reads met (a server thread's replica connection that
# broke when the replica stopped fails one query; Django then drops it).
FAILED_READS: list[str] = []


# Another client than the one that posts (auth is off in these servers, so the header only
# names the client for read-your-writes, midaz/read_your_writes.py): its reads may lag.
OTHER_CLIENT = {"Authorization": "Bearer another-client"}


def read(http: Http, path: str, headers: dict[str, str] | None = None) -> dict:
    """A GET retried like any client would; it must end in 200."""
    outcome = send_until_answered(http, "GET", path, headers=headers, give_up_after=30)
    FAILED_READS.extend(f"{a.status} {a.error} {path}" for a in outcome.transient)
    assert outcome.final is not None, outcome.attempts
    assert outcome.final.status == 200, (path, outcome.final.status, outcome.final.raw[:500])
    return outcome.final.body


def bob(http: Http, ledger: Ledger, headers: dict[str, str] | None = None) -> Decimal:
    body = read(http, ledger.path("/accounts/alias/@bob/balances"), headers)
    return Decimal(body["items"][0]["available"])


def test_reads_fall_back_to_the_primary_while_the_replica_is_down(
    log_dir: Path, services_restored: None
) -> None:
    FAILED_READS.clear()
    with serving(log_dir, workers=2, threads=2, **_server_env()) as server:
        http = Http(server.port)
        ledger = Ledger(http, {"@alice": "100", "@bob": "0"})
        postings = [post_transfer(ledger, "@alice", "@bob", "10")]
        wait_until(replica_caught_up, 30, "the replica to catch up")
        assert bob(http, ledger) == 10
        services("down-replica")
        try:
            ready = http.request("GET", "/readyz")
            assert ready.status == 200  # the primary serves: degraded, not out of the Service
            assert ready.body["status"] == "degraded"
            assert ready.body["checks"]["replica"]["status"] == "down"
            postings.append(post_transfer(ledger, "@alice", "@bob", "5"))
            tx = postings[-1].tx_id
            started = len(postings)
            # Every read answers, from the primary, with what was just written.
            assert bob(http, ledger) == 15
            got = read(http, ledger.path(f"/transactions/{tx}"))
            assert len(got["operations"]) == 2
            listed = read(http, ledger.path("/accounts?limit=10"))
            assert {a["alias"] for a in listed["items"]} >= {"@alice", "@bob"}
            for _ in range(10):  # each worker thread, on whatever connection it had
                assert bob(http, ledger) == 15
            assert len(postings) == started
        finally:
            services("up")
        wait_until(
            lambda: http.request("GET", "/readyz").body["checks"]["replica"]["status"] == "up",
            30,
            "/readyz to see the replica",
        )
        postings.append(post_transfer(ledger, "@alice", "@bob", "1"))
        wait_until(replica_caught_up, 30, "the replica to catch up")
        assert bob(http, ledger) == 16
        # Reads return to the replica (each worker tries it again within
        # REPLICA_RETRY_SECONDS): with its replay paused, a new posting is not seen by plain
        # balance reads of another client.
        with replay_paused():
            postings.append(post_transfer(ledger, "@alice", "@bob", "2"))
            wait_until(
                lambda: all(bob(http, ledger, OTHER_CLIENT) == 16 for _ in range(8)),
                20,
                "the reads to return to the replica",
            )
        wait_until(replica_caught_up, 30, "the replica to catch up")
        assert bob(http, ledger) == 18
        log = server.log()
    assert all(p.outcome.succeeded for p in postings)
    assert not [p for p in postings if p.outcome.transient]
    # At most one failed read per server thread (2 workers x 2 threads), never a 500.
    print(f"reads that failed once the replica stopped: {FAILED_READS}")
    assert len(FAILED_READS) <= 4, FAILED_READS
    assert all(f.startswith(("503", "None")) for f in FAILED_READS), FAILED_READS
    assert "Traceback" not in log, log[-4000:]
    assert_applied_exactly_once(ledger, postings)


def test_a_lagging_replica_does_not_hide_a_write_from_its_writer(log_dir: Path) -> None:
    with serving(log_dir, **_server_env()) as server:
        http = Http(server.port)
        ledger = Ledger(http, {"@alice": "100", "@bob": "0"})
        wait_until(replica_caught_up, 30, "the replica to catch up")
        with replay_paused():
            posting = post_transfer(ledger, "@alice", "@bob", "30")
            assert posting.outcome.final is not None
            assert posting.outcome.final.status == 201
            assert not replica_caught_up(), "replay is paused: the replica must lag"
            # In its next requests the writer reads its new balance (from the primary, as the
            # replica has not replayed its write); another client is answered by the replica.
            assert [bob(http, ledger) for _ in range(4)] == [Decimal(30)] * 4
            assert bob(http, ledger, OTHER_CLIENT) == 0
            # The writer reads its transaction back at once: the replica misses it, the
            # primary answers, with its operations.
            got = read(http, ledger.path(f"/transactions/{posting.tx_id}"))
            assert got["id"] == posting.tx_id
            assert [op["type"] for op in got["operations"]] == ["DEBIT", "CREDIT"]
            assert {op["accountAlias"]: op["amount"]["value"] for op in got["operations"]} == {
                "@alice": "30",
                "@bob": "30",
            }
            # A pending posting committed at once: the commit finds it on the primary.
            held_key = "held-while-lagging"
            held = send_until_answered(
                http,
                "POST",
                ledger.path("/transactions/json"),
                {
                    "description": held_key,
                    "pending": True,
                    "send": {
                        "asset": "USD",
                        "value": "5",
                        "source": {
                            "from": [
                                {"accountAlias": "@alice", "amount": {"asset": "USD", "value": "5"}}
                            ]
                        },
                        "distribute": {
                            "to": [
                                {"accountAlias": "@bob", "amount": {"asset": "USD", "value": "5"}}
                            ]
                        },
                    },
                },
                {"X-Idempotency": held_key},
            )
            assert held.final is not None
            assert held.final.status == 201, held.final.raw
            committed = send_until_answered(
                http, "POST", ledger.path(f"/transactions/{held.final.body['id']}/commit")
            )
            assert committed.final is not None
            assert committed.final.status == 201, committed.final.raw
            assert committed.final.body["status"]["code"] == "APPROVED"
        wait_until(replica_caught_up, 30, "the replica to catch up")
        assert bob(http, ledger) == 35
    from transactions.models import Transaction

    assert Transaction.objects.get(pk=held.final.body["id"]).status == "APPROVED"
    assert_applied_exactly_once(ledger, [posting], moved={"@alice": -5, "@bob": 5})
