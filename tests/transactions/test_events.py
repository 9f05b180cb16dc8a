"""Transaction events (transactions/events.py): written to the outbox by the posting's own
database transaction, published by the relay to the real RabbitMQ topic exchange, consumed here
from a real queue: exactly one event per committed create, commit, cancel and revert, none for a
refused posting, in Midaz's envelope."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import orjson
import pytest
from kombu import Connection, Queue
from uuid_utils.compat import uuid7

from midaz.celery import app as celery_app
from tests.helpers import Api, assert_error
from tests.transactions.book import Book, amt, send
from transactions import asynchronous, events
from transactions.models import OutboxEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Book:
    b = Book(api, ledger)
    for alias in ("@alice", "@bob"):
        b.account(alias)
    return b


@pytest.fixture
def consumer() -> Iterator[tuple[Connection, Queue]]:
    """A real queue bound to the events exchange for every transaction event."""
    with celery_app.connection_for_write() as conn:
        queue = Queue(
            f"test.events.{uuid7()}",
            events.exchange(),
            routing_key="midaz.transaction.#",
            auto_delete=True,
        )
        queue.bind(conn).declare()
        yield conn, queue
        queue.bind(conn).delete()


def drain(conn: Connection, queue: Queue) -> list[tuple[str, dict[str, Any]]]:
    got = []
    bound = queue.bind(conn)
    while (message := bound.get(no_ack=False)) is not None:
        assert message.body is not None
        got.append((message.delivery_info["routing_key"], orjson.loads(message.body)))
        message.ack()
    return got


def test_one_event_per_committed_posting(
    book: Book, consumer: tuple[Connection, Queue], settings: Any
) -> None:
    assert settings.TRANSACTION_EVENTS_ENABLED  # on by default when a broker is configured
    funded = book.fund("@alice", "100")
    direct = book.ok(book.transfer("@alice", "@bob", "10"))
    held = book.ok(book.transfer("@alice", "@bob", "5", pending=True))
    book.ok(book.action(held["id"], "commit"))
    dropped = book.ok(book.transfer("@alice", "@bob", "7", pending=True))
    book.ok(book.action(dropped["id"], "cancel"))
    reversal = book.ok(book.action(direct["id"], "revert"))
    noted = book.ok(
        book.post(send("USD", "1", [amt("@alice", "1")], [amt("@bob", "1")]), "annotation")
    )
    assert_error(book.transfer("@bob", "@alice", "1000"), 422, "0018")  # refused: no event

    assert events.relay() == 8
    assert events.relay() == 0  # each published once
    got = drain(*consumer)
    keys = Counter((key, body["payload"]["id"]) for key, body in got)
    expected = Counter(
        {
            ("midaz.transaction.APPROVED", funded["id"]): 1,
            ("midaz.transaction.APPROVED", direct["id"]): 1,
            ("midaz.transaction.PENDING", held["id"]): 1,
            ("midaz.transaction.APPROVED", held["id"]): 1,
            ("midaz.transaction.PENDING", dropped["id"]): 1,
            ("midaz.transaction.CANCELED", dropped["id"]): 1,
            ("midaz.transaction.APPROVED", reversal["id"]): 1,
            ("midaz.transaction.NOTED", noted["id"]): 1,
        }
    )
    assert keys == expected
    assert not OutboxEvent.objects.exists()


def test_the_envelope_is_midaz_s(book: Book, consumer: tuple[Connection, Queue]) -> None:
    book.fund("@alice", "50")
    held = book.ok(book.transfer("@alice", "@bob", "20", pending=True))
    book.ok(book.action(held["id"], "commit"))
    events.relay()
    got = [body for key, body in drain(*consumer) if body["payload"]["id"] == held["id"]]
    # eventId is the outbox row id as text: order by its number ("99" sorts after "100").
    pending, approved = sorted(got, key=lambda b: int(b["eventId"]))
    assert set(pending) == {
        "eventId",
        "source",
        "eventType",
        "action",
        "timestamp",
        "version",
        "organizationId",
        "ledgerId",
        "payload",
    }
    assert (pending["source"], pending["eventType"], pending["action"]) == (
        "midaz",
        "transaction",
        "PENDING",
    )
    assert pending["ledgerId"] == book.ledger["id"]
    assert pending["timestamp"].endswith("Z")
    # Each event shows the transaction as it was then: the hold's operations only, then all.
    assert pending["payload"]["status"]["code"] == "PENDING"
    assert [o["type"] for o in pending["payload"]["operations"]] == ["ON_HOLD"]
    assert approved["action"] == "APPROVED"
    assert [o["type"] for o in approved["payload"]["operations"]] == ["ON_HOLD", "DEBIT", "CREDIT"]
    assert Decimal(approved["payload"]["amount"]) == 20


def test_an_asynchronous_posting_emits_when_applied(
    book: Book, consumer: tuple[Connection, Queue], settings: Any
) -> None:
    book.fund("@alice", "10")
    events.relay()
    drain(*consumer)
    settings.TRANSACTION_ASYNC = True
    accepted = book.ok(book.transfer("@alice", "@bob", "4"))
    declined = book.ok(book.transfer("@alice", "@bob", "400"))
    assert events.relay() == 0  # accepted is not committed money
    asynchronous.apply_ledger(book.ledger["id"])
    assert events.relay() == 1
    got = drain(*consumer)
    assert [(key, body["payload"]["id"]) for key, body in got] == [
        ("midaz.transaction.APPROVED", accepted["id"])
    ]
    assert declined["id"] not in {body["payload"]["id"] for _, body in got}


def test_events_can_be_turned_off(book: Book, settings: Any) -> None:
    settings.TRANSACTION_EVENTS_ENABLED = False
    book.fund("@alice", "10")
    assert not OutboxEvent.objects.exists()
