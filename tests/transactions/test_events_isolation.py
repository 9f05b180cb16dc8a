"""The outbox relay publishes around an event it cannot publish: one whose transaction is gone
or whose payload does not render is parked (a queue, a log line, a counter), one the broker
refuses stays for the next run, and every other event of the batch is published."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from django.utils import timezone
from kombu import Connection, Queue
from kombu.messaging import Producer
from prometheus_client import REGISTRY
from uuid_utils.compat import uuid7

from midaz.celery import app as celery_app
from tests.helpers import Api
from tests.transactions.book import Book
from tests.transactions.test_events import drain
from transactions import events
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


@pytest.fixture
def parked() -> Iterator[Any]:
    with celery_app.connection_for_write() as conn:
        queue = events.PARKED.bind(conn)
        queue.declare()
        queue.purge()
        yield lambda: _drain_parked(conn)
        queue.purge()


def _drain_parked(conn: Connection) -> list[dict[str, Any]]:
    bound = events.PARKED.bind(conn)
    got = []
    while (message := bound.get(no_ack=False)) is not None:
        assert message.body is not None
        got.append(orjson.loads(message.body))
        message.ack()
    return got


def _skipped(reason: str) -> float:
    return REGISTRY.get_sample_value("midaz_outbox_events_skipped_total", {"reason": reason}) or 0


def _orphan(book: Any) -> OutboxEvent:
    """An event whose transaction was hard-deleted."""
    return OutboxEvent.objects.create(
        transaction_id=uuid7(),
        organization_id=book.ledger["organizationId"],
        ledger_id=book.ledger["id"],
        status="APPROVED",
        created_at=timezone.now(),
    )


def test_an_event_without_its_transaction_is_parked_and_the_rest_published(
    book: Any, consumer: Any, parked: Any, caplog: pytest.LogCaptureFixture
) -> None:
    book.fund("@alice", "10")
    first = book.ok(book.transfer("@alice", "@bob", "1"))
    orphan = _orphan(book)
    last = book.ok(book.transfer("@alice", "@bob", "2"))
    before = _skipped("transaction_missing")
    with caplog.at_level(logging.ERROR, logger="transactions.events"):
        assert events.relay() == 3  # the inflow and both transfers
    got = {body["payload"]["id"] for _, body in drain(*consumer)}
    assert {first["id"], last["id"]} <= got
    (park,) = parked()
    assert park["eventId"] == str(orphan.id)
    assert park["transactionId"] == str(orphan.transaction_id)
    assert park["reason"] == "transaction_missing"
    assert not OutboxEvent.objects.exists()
    assert _skipped("transaction_missing") == before + 1
    assert any(str(orphan.id) in r.getMessage() for r in caplog.records)


def test_a_payload_that_does_not_render_is_parked(
    book: Any, consumer: Any, parked: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    book.fund("@alice", "10")
    bad = book.ok(book.transfer("@alice", "@bob", "1"))
    good = book.ok(book.transfer("@alice", "@bob", "2"))
    real = events.envelope

    def envelope(event: OutboxEvent, tx: Any, operations: Any) -> dict[str, Any]:
        body = real(event, tx, operations)
        if str(tx.id) == bad["id"]:
            body["payload"]["metadata"] = {"n": 2**70}  # orjson cannot write it
        return body

    monkeypatch.setattr(events, "envelope", envelope)
    assert events.relay() == 2
    got = {body["payload"]["id"] for _, body in drain(*consumer)}
    assert good["id"] in got
    assert bad["id"] not in got
    assert [p["reason"] for p in parked()] == ["unrenderable"]
    assert not OutboxEvent.objects.exists()


def test_an_event_the_broker_refuses_stays_and_the_rest_go(
    book: Any, consumer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    book.fund("@alice", "10")
    for value in ("1", "2", "3", "4"):
        book.ok(book.transfer("@alice", "@bob", value))
    claimed = list(OutboxEvent.objects.order_by("id"))
    refused_ids = {str(claimed[1].id), str(claimed[3].id)}
    real = Producer.publish

    def publish(self: Producer, body: Any, *args: Any, **kw: Any) -> Any:
        if kw.get("message_id") in refused_ids:
            raise RuntimeError("NACK: the broker refused the message")
        return real(self, body, *args, **kw)

    monkeypatch.setattr(Producer, "publish", publish)
    before = _skipped("refused")
    # Small batches: the refused events are not claimed again, so the run ends.
    assert events.relay(batch_size=2) == 3
    assert {str(e.id) for e in OutboxEvent.objects.all()} == refused_ids
    assert _skipped("refused") == before + 2
    assert len(drain(*consumer)) == 3
    monkeypatch.setattr(Producer, "publish", real)
    assert events.relay() == 2  # the broker takes them now
    assert not OutboxEvent.objects.exists()
    assert len(drain(*consumer)) == 2
