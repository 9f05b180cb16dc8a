"""Transaction events (SEMANTICS.md §12.1) through a transactional outbox.

``midaz_post`` writes an ``OutboxEvent`` row in the database transaction of every committed
create, commit, cancel and revert (when ``RABBITMQ_TRANSACTION_EVENTS_ENABLED``), so an event
exists if and only if its posting committed. The relay (:func:`relay`, run every second by
Celery beat, or ``manage.py relay_events``) claims the rows (``FOR UPDATE SKIP LOCKED``, so
relays can run side by side), publishes each to the topic exchange
``transaction.transaction_events.exchange`` with routing key ``midaz.transaction.<STATUS>``,
persistent and confirmed by RabbitMQ, and deletes them in the same database transaction.

One event never holds up the others. An event that cannot be rendered (its transaction is
gone, or the payload does not serialize) is parked: published instead, without a payload, to
the durable queue ``transaction.transaction_events.parked`` (exchange ``midaz.dead``), logged
and counted (``midaz_outbox_events_skipped_total{reason}``), and removed from the outbox. An
event RabbitMQ refuses stays in the outbox for the next run and is counted too; the rest of
the batch is published either way. Only a lost connection to the broker stops the batch (every
event of it stays, to be published when the broker is back).

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
from kombu import Exchange, Queue
from prometheus_client import Counter

from midaz.api import render
from midaz.celery import DEAD_LETTERS, app
from transactions.models import Operation, OutboxEvent, Transaction
from transactions.serializers import transaction_out

logger = logging.getLogger(__name__)


PARKED = Queue(
    "transaction.transaction_events.parked",
    DEAD_LETTERS,
    routing_key="transaction.events.parked",
    durable=True,
)
SKIPPED = Counter(
    "midaz_outbox_events_skipped",
    "Outbox events not published with their batch: parked (cannot be rendered) or refused by "
    "the broker (left for the next run).",
    ["reason"],
)


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
    many were published. Events the broker refused are not claimed again in this run."""
    published = 0
    refused: set[int] = set()
    while True:
        claimed, count = _relay_batch(batch_size, refused)
        published += count
        if claimed < batch_size:
            return published


def _parked_body(event: OutboxEvent, reason: str, error: BaseException) -> bytes:
    return render.dumps(
        {
            "eventId": str(event.id),
            "source": "midaz",
            "eventType": "transaction",
            "action": event.status,
            "timestamp": event.created_at,
            "organizationId": event.organization_id,
            "ledgerId": event.ledger_id,
            "transactionId": event.transaction_id,
            "reason": reason,
            "error": f"{type(error).__name__}: {error}"[:500],
        }
    )


def _relay_batch(size: int, refused: set[int]) -> tuple[int, int]:
    """(events claimed, events published) of one batch; what is published or parked is
    deleted, what the broker refused is added to ``refused`` and stays."""
    with transaction.atomic():
        events = list(
            OutboxEvent.objects.select_for_update(skip_locked=True)
            .exclude(pk__in=refused)
            .order_by("id")[:size]
        )
        if not events:
            return 0, 0
        ids = {e.transaction_id for e in events}
        txs = {t.id: t for t in Transaction.objects.filter(pk__in=ids)}
        ops: dict[Any, list[Operation]] = defaultdict(list)
        for op in Operation.objects.filter(transaction_id__in=ids).order_by("created_at", "id"):
            ops[op.transaction_id].append(op)
        target = exchange()
        done: list[int] = []
        published = 0
        with app.producer_or_acquire() as producer:
            broken = producer.connection.connection_errors

            def send(body: bytes, event: OutboxEvent, to: Exchange, key: str) -> None:
                producer.publish(
                    body,
                    exchange=to,
                    routing_key=key,
                    content_type="application/json",
                    content_encoding="utf-8",
                    delivery_mode=2,
                    message_id=str(event.id),
                    declare=[to] if to is target else [to, PARKED],
                    retry=True,
                    retry_policy={"max_retries": 3, "interval_start": 0.2},
                )

            for event in events:
                tx = txs.get(event.transaction_id)
                try:
                    if tx is None:
                        raise LookupError("the event's transaction no longer exists")
                    written = [op for op in ops[tx.id] if op.created_at <= event.created_at]
                    body = render.dumps(envelope(event, tx, written))
                except Exception as exc:  # any render failure parks the event
                    reason = "transaction_missing" if tx is None else "unrenderable"
                    try:
                        send(
                            _parked_body(event, reason, exc),
                            event,
                            DEAD_LETTERS,
                            PARKED.routing_key,
                        )
                    except broken:
                        raise
                    except Exception:
                        logger.exception("outbox event %s could not be parked; kept", event.id)
                        refused.add(event.id)
                        SKIPPED.labels(reason="refused").inc()
                        continue
                    logger.error(
                        "outbox event %s (transaction %s, %s) parked: %s",
                        event.id,
                        event.transaction_id,
                        event.status,
                        reason,
                        exc_info=exc,
                        extra={"event_id": event.id, "transaction_id": str(event.transaction_id)},
                    )
                    SKIPPED.labels(reason=reason).inc()
                    done.append(event.id)
                    continue
                try:
                    send(body, event, target, routing_key(event.status))
                except broken:
                    raise  # the broker is away: the whole batch stays for the next run
                except Exception:
                    logger.exception(
                        "outbox event %s refused by the broker; kept for the next run", event.id
                    )
                    refused.add(event.id)
                    SKIPPED.labels(reason="refused").inc()
                    continue
                done.append(event.id)
                published += 1
        OutboxEvent.objects.filter(pk__in=done).delete()
        return len(events), published
