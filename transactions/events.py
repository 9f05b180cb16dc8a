"""Transaction events (SEMANTICS.md §12.1) through a transactional outbox.

``midaz_post`` writes an ``OutboxEvent`` row in the database transaction of every committed
create, commit, cancel and revert (when ``RABBITMQ_TRANSACTION_EVENTS_ENABLED``), so an event
exists if and only if its posting committed. The relay (:func:`relay`, run every second by
Celery beat, or ``manage.py relay_events``) claims the rows (``FOR UPDATE SKIP LOCKED``, so
relays can run side by side), publishes each to the topic exchange
``transaction.transaction_events.exchange`` with routing key ``midaz.transaction.<STATUS>``,
persistent and confirmed by RabbitMQ, and deletes them in the same database transaction.

Delivery is at least once: a relay that dies between RabbitMQ's confirm and its own commit
publishes that batch again. Each message carries the event's id as ``message_id`` (and in
the envelope as ``eventId``) for consumers that must deduplicate.

The envelope is Midaz's: ``{source, eventType, action, timestamp, version, organizationId,
ledgerId, payload}``, ``payload`` the transaction as the API shows it, with the status the
event announces and the operations written up to that event.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from django.conf import settings
from django.db import transaction
from kombu import Exchange

from midaz.api import render
from midaz.celery import app
from transactions.models import Operation, OutboxEvent, Transaction
from transactions.serializers import transaction_out

logger = logging.getLogger(__name__)


def exchange() -> Exchange:
    return Exchange(settings.TRANSACTION_EVENTS_EXCHANGE, type="topic", durable=True)


def routing_key(status: str) -> str:
    return f"midaz.transaction.{status}"


def envelope(event: OutboxEvent, tx: Transaction, operations: list[Operation]) -> dict[str, Any]:
    return {
        "eventId": str(event.id),
        "source": "midaz",
        "eventType": "transaction",
        "action": event.status,
        "timestamp": event.created_at,
        "version": settings.VERSION,
        "organizationId": event.organization_id,
        "ledgerId": event.ledger_id,
        "payload": transaction_out(tx, operations, status=event.status),
    }


def relay(*, batch_size: int = 500) -> int:
    """Publishes every event in the outbox, a batch per database transaction; returns how
    many were published."""
    published = 0
    while True:
        count = _relay_batch(batch_size)
        published += count
        if count < batch_size:
            return published


def _relay_batch(size: int) -> int:
    with transaction.atomic():
        events = list(OutboxEvent.objects.select_for_update(skip_locked=True).order_by("id")[:size])
        if not events:
            return 0
        ids = {e.transaction_id for e in events}
        txs = {t.id: t for t in Transaction.objects.filter(pk__in=ids)}
        ops: dict[Any, list[Operation]] = defaultdict(list)
        for op in Operation.objects.filter(transaction_id__in=ids).order_by("created_at", "id"):
            ops[op.transaction_id].append(op)
        target = exchange()
        with app.producer_or_acquire() as producer:
            for event in events:
                tx = txs[event.transaction_id]
                written = [op for op in ops[tx.id] if op.created_at <= event.created_at]
                producer.publish(
                    render.dumps(envelope(event, tx, written)),
                    exchange=target,
                    routing_key=routing_key(event.status),
                    content_type="application/json",
                    content_encoding="utf-8",
                    delivery_mode=2,
                    message_id=str(event.id),
                    declare=[target],
                    retry=True,
                    retry_policy={"max_retries": 3, "interval_start": 0.2},
                )
        OutboxEvent.objects.filter(pk__in=[e.id for e in events]).delete()
        return len(events)
