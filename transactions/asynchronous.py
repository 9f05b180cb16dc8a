"""Asynchronous postings (DESIGN.md §5, ``TRANSACTION_ASYNC=true``).

Accept: the request is validated and resolved as for a synchronous posting, then one statement
(``midaz_post`` in accept mode) checks the ledger and the idempotency key and writes the
transaction row with status CREATED together with its queue entry (``QueuedPosting``: the legs
and the options of the apply step). Once that statement has committed the posting is durable:
the answer is 201, and a Celery task is published to RabbitMQ to apply it. If publishing
fails, nothing is lost: the periodic sweep finds the queued row.

Apply: a worker takes the ledger's turn (a transaction-level advisory lock: one batch of a
ledger at a time, so its postings apply in the order they were accepted), claims its queued
postings (oldest first, up to ``ASYNC_BATCH_SIZE``; ``SKIP LOCKED`` leaves alone a posting that
a commit or revert is applying) and applies them all in one database transaction through
``midaz_post_bulk`` (every balance of the batch locked first, in id order; each posting in soft
mode, so a refused one writes nothing and does not stop the others): each becomes APPROVED
(PENDING, NOTED), or DECLINED with the Midaz code of the rule it broke. The queue rows are
deleted in the same transaction, so a posting is applied exactly once: a worker killed before
its commit leaves the rows queued for the next one, and a message delivered again finds
nothing left to do. One commit for a whole batch is the group commit that lets a hot account
take many postings per lock.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from midaz import metrics
from midaz.exceptions import Conflict
from transactions.models import QueuedPosting, Transaction

logger = logging.getLogger(__name__)

_BULK_SQL = "SELECT midaz_post_bulk(%s, %s::jsonb, false)"
# One batch of a ledger at a time, so a ledger's postings are applied in the order they were
# accepted (a second worker waits here, then takes the next batch).
_LEDGER_TURN_SQL = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 11))"
_CLAIM_SQL = """
    SELECT transaction_id, tx, legs, opts, created_at
      FROM transactions_queuedposting
     WHERE ledger_id = %s
     ORDER BY transaction_id
     LIMIT %s
       FOR UPDATE SKIP LOCKED
"""


def publish(ledger_id: uuid.UUID) -> None:
    """Asks a worker to apply the ledger's queued postings. A failure to publish is logged and
    swallowed: the posting is already durable, and the sweep applies it."""
    from transactions.tasks import apply_postings

    try:
        apply_postings.apply_async(args=(str(ledger_id),), retry=False)
    except Exception:
        logger.warning("could not publish the apply task; the sweep will apply", exc_info=True)


def apply_ledger(ledger_id: uuid.UUID | str, *, batch_size: int | None = None) -> int:
    """Applies the ledger's queued postings, a batch per database transaction, until none is
    left that another worker has not claimed. Returns how many were applied or declined."""
    size = batch_size or settings.ASYNC_BATCH_SIZE
    done = 0
    while True:
        applied = _apply_batch(str(ledger_id), size)
        done += applied
        if applied < size:
            return done


def _apply_batch(ledger_id: str, size: int) -> int:
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_LEDGER_TURN_SQL, [f"apply:{ledger_id}"])
            cursor.execute(_CLAIM_SQL, [ledger_id, size])
            rows = cursor.fetchall()
        if not rows:
            return 0
        now = timezone.now()
        items = []
        for _, tx, legs, opts, _accepted in rows:
            tx, legs, opts = (
                orjson.loads(v) if isinstance(v, str | bytes) else v for v in (tx, legs, opts)
            )
            items.append({"tx": tx, "legs": legs, "opts": {**opts, "now": now.isoformat()}})
        from transactions.posting import call_function  # posting imports this module

        results: list[dict[str, Any]] = call_function(
            _BULK_SQL, [ledger_id, orjson.dumps(items).decode()]
        )
        declined = [
            (item["tx"]["id"], result["error"])
            for item, result in zip(items, results, strict=True)
            if "error" in result
        ]
        for transaction_id, error in declined:
            # A refused posting wrote nothing (soft mode): only its status changes.
            Transaction.objects.filter(pk=transaction_id).update(
                status=Transaction.Status.DECLINED,
                status_description=f"{error['code']}: {error['detail']}"[:256],
                updated_at=now,
            )
        QueuedPosting.objects.filter(transaction_id__in=[r[0] for r in rows]).delete()
        if declined:
            logger.info("declined %d asynchronous postings", len(declined))
        # Counted once the batch has committed: a rolled-back batch is applied again later.
        refused = {str(transaction_id) for transaction_id, _ in declined}
        lags = [(now - row[4]).total_seconds() for row in rows]
        statuses = [item["tx"]["status"] for item in items if str(item["tx"]["id"]) not in refused]
        codes = [error["code"] for _, error in declined]
        transaction.on_commit(lambda: metrics.async_applied(lags, statuses, codes))
        return len(rows)


def sweep(*, older_than_seconds: float | None = None) -> int:
    """Applies every queued posting older than ``older_than_seconds`` (default
    ``ASYNC_SWEEP_AFTER_SECONDS``), ledger by ledger: the safety net for a message that was
    never published, or lost. Returns how many were applied or declined."""
    age = older_than_seconds
    if age is None:
        age = settings.ASYNC_SWEEP_AFTER_SECONDS
    cutoff = timezone.now() - timedelta(seconds=age)
    ledgers = (
        QueuedPosting.objects.filter(created_at__lte=cutoff)
        .values_list("ledger_id", flat=True)
        .distinct()
    )
    return sum(apply_ledger(ledger_id) for ledger_id in list(ledgers))


def settled(ledger_id: uuid.UUID, transaction_id: uuid.UUID) -> None:
    """Before a commit, cancel or revert: if the transaction is still queued, applies it now
    (or waits for the worker applying it, up to ``ASYNC_WAIT_SECONDS``). Raises 409 0099 when
    it is still being applied after that; returns at once for any other transaction."""
    deadline = time.monotonic() + settings.ASYNC_WAIT_SECONDS
    while QueuedPosting.objects.filter(transaction_id=transaction_id).exists():
        apply_ledger(ledger_id)  # what no worker holds is applied here
        if not QueuedPosting.objects.filter(transaction_id=transaction_id).exists():
            return
        if time.monotonic() > deadline:
            raise Conflict(
                "The transaction is still being applied; try again in a moment.",
                code="0099",
                entity_type="Transaction",
            )
        time.sleep(0.05)


def accept_options(opts: dict[str, Any], final_status: str) -> dict[str, Any]:
    """The options of the accept statement, carrying those the worker will apply with."""
    apply = {k: v for k, v in opts.items() if k != "idem"}
    apply.update(mode="update", soft=True, idem=None)
    return {**opts, "accept": {"status": final_status, "opts": apply}}
