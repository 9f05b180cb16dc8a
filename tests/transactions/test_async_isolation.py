"""Asynchronous postings cannot stall a ledger (issue 16, items 1 and 8): the poison bodies are
refused at accept; a queued posting that the database refuses all the same is DECLINED with a
code while the postings around it are applied; the sweep goes on past a ledger that fails;
commit, cancel and revert work in a ledger that had a poison row; a declined posting frees its
idempotency key. The worker cases run a real Celery worker on RabbitMQ."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from midaz import context, metrics
from tests.helpers import Api, assert_error
from tests.transactions import test_async
from tests.transactions.book import Book, amt, rest, send, share
from tests.transactions.test_async import Worker, _dsn, wait_for
from transactions import asynchronous
from transactions.models import IdempotencyRecord, QueuedPosting, Transaction

D = Decimal
worker = test_async.worker  # the fixture: a real Celery worker of the postings queue
LONG = "x" * 300  # longer than operation.description (256): only the apply step can refuse it


@pytest.fixture
def book(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Book:
    b = Book(api, ledger)
    for alias in ("@alice", "@bob", "@carol"):
        b.account(alias)
    b.fund("@alice", "100")
    return b


def status_of(tx_id: str) -> tuple[str, str]:
    tx = Transaction.objects.get(pk=tx_id)
    return tx.status, tx.status_description or ""


def poison_queued(tx_id: str, field: str = "description", value: Any = LONG) -> None:
    """Makes a queued posting one the apply step must refuse (by hand, past the accept step's
    checks, as a row written by an older version would be)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE transactions_queuedposting SET legs = jsonb_set(legs, %s, to_jsonb(%s::text))"
            " WHERE transaction_id = %s",
            [["0", field], value, tx_id],
        )
        assert cursor.rowcount == 1


POISON = {
    "oversized and negative shares": send(
        "USD", "10", [amt("@alice", "10")], [share("@bob", 150), share("@external/USD", -50)]
    ),
    "oversized share and remaining": send(
        "USD", "10", [amt("@alice", "10")], [share("@bob", 150), rest("@external/USD")]
    ),
    "share of share over 100": send(
        "USD", "10", [amt("@alice", "10")], [share("@bob", 100, 150), share("@carol", -50)]
    ),
    "pending hold, negative destination share": {
        **send("USD", "10", [amt("@alice", "10")], [share("@bob", 150), share("@carol", -50)]),
        "pending": True,
    },
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(POISON))
def test_the_poison_bodies_are_refused_at_accept(book: Book, settings: Any, name: str) -> None:
    settings.TRANSACTION_ASYNC = True
    before = book.snapshot()
    response = book.post(POISON[name])
    assert 400 <= response.status_code < 500, response.content
    assert_error(response, response.status_code, response.json()["code"])
    assert book.snapshot() == before
    assert not QueuedPosting.objects.exists()


@pytest.mark.django_db
def test_a_row_refused_by_the_database_is_declined_and_the_rest_applied(
    book: Book, settings: Any
) -> None:
    settings.TRANSACTION_ASYNC = True
    first = book.ok(book.transfer("@alice", "@bob", "1"))
    poison = book.ok(book.transfer("@alice", "@bob", "2"))
    third = book.ok(book.transfer("@alice", "@carol", "3"))
    poison_queued(poison["id"])
    assert asynchronous.apply_ledger(book.ledger["id"]) == 3
    assert status_of(first["id"])[0] == "APPROVED"
    status, description = status_of(poison["id"])
    assert status == "DECLINED"
    assert description.startswith("0047: ")
    assert status_of(third["id"])[0] == "APPROVED"
    assert not QueuedPosting.objects.exists()
    assert (book.balance("@alice")[0], book.balance("@bob")[0]) == (D(96), D(1))
    declined = book.ok(book.api.get(book.path(f"/transactions/{poison['id']}")), 200)
    assert declined["status"]["code"] == "DECLINED"
    assert declined["operations"] == []


@pytest.mark.django_db
def test_a_negative_leg_past_the_check_is_declined_0125(book: Book, settings: Any) -> None:
    """The issue's poison pill itself, with the queue's CHECK dropped (inside this test's
    transaction): the operation's own constraint refuses the leg, the posting is declined."""
    settings.TRANSACTION_ASYNC = True
    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE transactions_queuedposting DROP CONSTRAINT queuedposting_legs_positive"
        )
    poison = book.ok(book.transfer("@alice", "@bob", "10"))
    poison_queued(poison["id"], "amount", "-5")
    after = book.ok(book.transfer("@alice", "@bob", "4"))
    asynchronous.apply_ledger(book.ledger["id"])
    status, description = status_of(poison["id"])
    assert (status, description[:6]) == ("DECLINED", "0125: ")
    assert status_of(after["id"])[0] == "APPROVED"
    assert book.balance("@bob")[0] == D(4)


@pytest.mark.django_db
def test_commit_cancel_and_revert_work_behind_a_poison_row(book: Book, settings: Any) -> None:
    settings.TRANSACTION_ASYNC = True
    poison = book.ok(book.transfer("@alice", "@bob", "5"))
    poison_queued(poison["id"])
    held = book.ok(book.transfer("@alice", "@bob", "20", pending=True))
    dropped = book.ok(book.transfer("@alice", "@carol", "10", pending=True))
    direct = book.ok(book.transfer("@alice", "@carol", "7"))
    assert book.ok(book.action(held["id"], "commit"))["status"]["code"] == "APPROVED"
    assert book.ok(book.action(dropped["id"], "cancel"))["status"]["code"] == "CANCELED"
    reversal = book.ok(book.action(direct["id"], "revert"))
    assert reversal["parentTransactionId"] == direct["id"]
    assert status_of(poison["id"])[0] == "DECLINED"
    assert book.balance("@bob")[0] == D(20)
    assert book.balance("@carol")[0] == D(0)
    assert book.balance("@alice")[:2] == (D(80), D(0))


def _ledger_with_queued(api: Api, organization_id: str) -> tuple[Book, str]:
    other = Book(api, api.create_ledger(organization_id))
    api.create_asset(other.ledger, code="USD")
    other.account("@alice")
    other.account("@bob")
    other.fund("@alice", "10")
    return other, other.ok(other.transfer("@alice", "@bob", "4"))["id"]


def _sweep_failures() -> float:
    return sum(
        sample.value
        for family in metrics.ASYNC_SWEEP_FAILURES.collect()
        for sample in family.samples
        if sample.name.endswith("_total")
    )


@pytest.mark.django_db(transaction=True)
def test_the_sweep_goes_on_past_a_ledger_that_fails(
    book: Book, api: Api, settings: Any, caplog: Any
) -> None:
    settings.TRANSACTION_ASYNC = True
    settings.METRICS_ENABLED = True
    stuck = book.ok(book.transfer("@alice", "@bob", "3"))["id"]
    others = [_ledger_with_queued(api, book.ledger["organizationId"]) for _ in range(2)]
    failures = _sweep_failures()
    # Ledger one cannot be applied for now: a balance it needs is locked elsewhere, and the
    # sweep's lock wait gives up.
    blocker = psycopg.connect(_dsn(), autocommit=False)
    try:
        blocker.execute(
            "SELECT 1 FROM transactions_balance WHERE alias = '@bob' AND ledger_id = %s FOR UPDATE",
            [book.ledger["id"]],
        )
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '300ms'")
        try:
            assert asynchronous.sweep(older_than_seconds=0) == 4  # a funding and a transfer each
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
    finally:
        blocker.rollback()
        blocker.close()
    for other, tx_id in others:
        assert status_of(tx_id)[0] == "APPROVED"
        assert other.balance("@bob")[0] == D(4)
    assert status_of(stuck)[0] == "CREATED"
    assert _sweep_failures() == failures + 1
    assert any(book.ledger["id"] in r.getMessage() for r in caplog.records)
    assert asynchronous.sweep(older_than_seconds=0) == 1  # the lock is gone: applied now
    assert status_of(stuck)[0] == "APPROVED"


@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
def test_settled_and_the_sweep_read_the_queue_on_the_primary(book: Book, settings: Any) -> None:
    """With reads routed to the replica, the queue checks that decide what a commit does (and
    which ledgers the sweep applies) still go to the primary: a lagging replica would show a
    row a worker has applied (a spurious 409 0099), or not yet one just accepted."""
    settings.TRANSACTION_ASYNC = True
    held = book.ok(book.transfer("@alice", "@bob", "25", pending=True))
    settings.READ_FROM_REPLICA = True
    # A fresh context, as a worker task or a new request has: nothing pins reads to the primary.
    context.pinned_to_primary.set(False)
    context.replica_has_writes.set(None)
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        asynchronous.settled(uuid.UUID(book.ledger["id"]), uuid.UUID(held["id"]))
        asynchronous.sweep(older_than_seconds=0)
    assert [q["sql"] for q in on_replica.captured_queries if "queuedposting" in q["sql"]] == []
    assert status_of(held["id"])[0] == "PENDING"


# --- a real Celery worker on RabbitMQ ----------------------------------------------------------


def _drained(ids: list[str]) -> bool:
    return not QueuedPosting.objects.filter(transaction_id__in=ids).exists()


@pytest.mark.django_db(transaction=True)
def test_a_worker_declines_the_poison_row_and_applies_the_postings_after_it(
    book: Book, settings: Any, worker: Worker
) -> None:
    settings.TRANSACTION_ASYNC = True
    ids = [
        book.ok(book.transfer("@alice", "@bob", "1", description=f"p{n}"))["id"] for n in range(3)
    ]
    poison_queued(ids[1])  # the worker is not running yet: the three wait in the queue
    worker.start()
    wait_for(lambda: _drained(ids), what="the worker to get past the poison row")
    assert [status_of(i)[0] for i in ids] == ["APPROVED", "DECLINED", "APPROVED"], [
        status_of(i) for i in ids
    ]
    assert status_of(ids[1])[1].startswith("0047: ")
    later = [
        book.ok(book.transfer("@alice", "@carol", "5", description=f"l{n}"))["id"] for n in range(3)
    ]
    wait_for(lambda: _drained(later), what="the postings after it")
    assert {status_of(i)[0] for i in later} == {"APPROVED"}
    assert (book.balance("@bob")[0], book.balance("@carol")[0]) == (D(2), D(15))


@pytest.mark.django_db(transaction=True)
def test_a_declined_postings_key_is_freed_and_a_retry_posts_anew(
    book: Book, settings: Any, worker: Worker
) -> None:
    settings.TRANSACTION_ASYNC = True
    worker.start()
    key = {"X-Idempotency": f"retry-{time.monotonic_ns()}"}
    first = book.transfer("@alice", "@bob", "150", headers=key)  # beyond @alice's 100
    declined = book.ok(first)["id"]
    wait_for(lambda: _drained([declined]), what="the worker to decline it")
    assert status_of(declined)[0] == "DECLINED"
    assert status_of(declined)[1].startswith("0018: ")
    assert not IdempotencyRecord.objects.filter(transaction_id=declined).exists()
    book.fund("@alice", "60")  # not the fixture's funding again (that body would be a replay)
    again = book.transfer("@alice", "@bob", "150", headers=key)
    retried = book.ok(again)["id"]
    assert again.get("X-Idempotency-Replayed") != "true"
    assert retried != declined
    wait_for(lambda: _drained([retried]), what="the worker to apply the retry")
    assert status_of(retried)[0] == "APPROVED", status_of(retried)
    assert book.balance("@bob")[0] == D(150)
    # Now the key is held by the applied posting: a third request is a replay of it.
    third = book.transfer("@alice", "@bob", "150", headers=key)
    assert third["X-Idempotency-Replayed"] == "true"
    assert book.ok(third)["id"] == retried
