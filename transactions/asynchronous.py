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
nothing left to do.

Isolation: a batch whose statement fails with an error of a posting's data (a value a column
or a CHECK refuses, a trigger's rule; it should not happen, the accept step checks what the
worker inserts) is applied again posting by posting, each in a savepoint; the one that fails is
DECLINED with a code, the others are applied, so no posting can head a ledger's queue forever.
A declined posting's idempotency record is deleted with it: the key is free again.

One commit for a whole batch is the group commit that lets a hot account take many postings
per lock.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta
from typing import Any

import orjson
import psycopg
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from midaz import metrics
from midaz.db_router import PRIMARY
from midaz.exceptions import Conflict, LedgerError
from transactions.models import IdempotencyRecord, QueuedPosting, Transaction

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


# One immediate retry: a pooled connection that the broker dropped (a RabbitMQ restart, an
# idle timeout) fails its first publish, and kombu reconnects for the second; a broker that is
# down still fails fast (the connection is refused).
_PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0, "interval_max": 0}


def publish(ledger_id: uuid.UUID) -> None:
    """Asks a worker to apply the ledger's queued postings. A failure to publish is logged and
    swallowed: the posting is already durable, and the sweep applies it."""
    from transactions.tasks import apply_postings

    try:
        apply_postings.apply_async(args=(str(ledger_id),), retry=True, retry_policy=_PUBLISH_RETRY)
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


# The SQLSTATE classes of an error that the data of one posting causes: a data exception (a
# value a column cannot take), an integrity violation (a CHECK, a trigger's rule) or a PL/pgSQL
# RAISE ('midaz:<code>'). Any other error (a lost connection, a deadlock, a cancelled query, a
# missing column during a deploy) is not the posting's fault: the batch is rolled back and
# applied again later, and nothing is declined for it.
_HARD_CLASSES = ("22", "23", "P0")
# The Midaz code a posting declined for a hard database error carries (status_description):
# 0125 when a CHECK refused one of its values (an amount out of range), 0047 otherwise.
_CHECK_VIOLATION = "23514"
# A unique violation of a metadata index (mdx_...) is 0498, as for a synchronous posting.
_UNIQUE_VIOLATION = "23505"


def _hard_error(exc: BaseException) -> dict[str, str] | None:
    """The {code, detail} with which to decline the posting that raised ``exc``, or None when
    ``exc`` is not caused by the posting's data."""
    if isinstance(exc, LedgerError):  # 'midaz:<code>' raised by the database
        return {"code": exc.code, "detail": exc.message}
    cause = exc if isinstance(exc, psycopg.Error) else exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None) or ""
    if not isinstance(cause, psycopg.Error) or not sqlstate.startswith(_HARD_CLASSES):
        return None
    diag = getattr(cause, "diag", None)
    if sqlstate == _UNIQUE_VIOLATION and (getattr(diag, "constraint_name", None) or "").startswith(
        "mdx_"
    ):
        # A value a unique metadata index already holds: the code the same posting gets when
        # sent synchronously, without the internal index's name.
        return {
            "code": "0498",
            "detail": "A unique metadata index already holds a value of this posting's metadata.",
        }
    detail = getattr(diag, "message_primary", None) or str(cause)
    code = "0125" if sqlstate == _CHECK_VIOLATION else "0047"
    return {"code": code, "detail": f"The posting cannot be stored: {detail}"}


def _post_bulk(ledger_id: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from transactions.posting import call_function  # posting imports this module

    results: list[dict[str, Any]] = call_function(
        _BULK_SQL, [ledger_id, orjson.dumps(items).decode()]
    )
    return results


def _post_isolated(ledger_id: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The batch in one statement, in a savepoint; if the statement fails with an error of a
    posting's data, the batch again posting by posting, each in its own savepoint: the one
    that fails is declined with a code, the others are applied in their order."""
    try:
        with transaction.atomic():
            return _post_bulk(ledger_id, items)
    except (DatabaseError, psycopg.Error, LedgerError) as exc:
        if _hard_error(exc) is None:
            raise
        logger.warning(
            "a batch of %d asynchronous postings of ledger %s failed (%s); applying them "
            "one by one",
            len(items),
            ledger_id,
            exc,
        )
    transaction.on_commit(metrics.async_batch_isolated)
    results: list[dict[str, Any]] = []
    for item in items:
        try:
            with transaction.atomic():
                results += _post_bulk(ledger_id, [item])
        except (DatabaseError, psycopg.Error, LedgerError) as exc:
            error = _hard_error(exc)
            if error is None:
                raise
            logger.error(
                "asynchronous posting %s of ledger %s declined: it cannot be applied (%s)",
                item["tx"]["id"],
                ledger_id,
                exc,
            )
            results.append({"error": error})
    return results


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
        results = _post_isolated(ledger_id, items)
        declined = [
            (item["tx"]["id"], result["error"])
            for item, result in zip(items, results, strict=True)
            if "error" in result
        ]
        for transaction_id, error in declined:
            # A refused posting wrote nothing (soft mode, or its savepoint rolled back): only
            # its status changes.
            Transaction.objects.filter(pk=transaction_id).update(
                status=Transaction.Status.DECLINED,
                status_description=f"{error['code']}: {error['detail']}"[:256],
                updated_at=now,
            )
        if declined:
            # The key of a declined posting is freed, as Midaz does on a failure: a retry with
            # the same X-Idempotency posts anew instead of replaying an acceptance.
            IdempotencyRecord.objects.filter(
                transaction_id__in=[transaction_id for transaction_id, _ in declined]
            ).delete()
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
    never published, or lost. A ledger that fails is logged and counted
    (``midaz_async_sweep_failures_total``) and the sweep goes on with the next one. Returns
    how many were applied or declined."""
    age = older_than_seconds
    if age is None:
        age = settings.ASYNC_SWEEP_AFTER_SECONDS
    cutoff = timezone.now() - timedelta(seconds=age)
    ledgers = (
        QueuedPosting.objects.using(PRIMARY)
        .filter(created_at__lte=cutoff)
        .values_list("ledger_id", flat=True)
        .distinct()
    )
    done = 0
    for ledger_id in list(ledgers):
        try:
            done += apply_ledger(ledger_id)
        except Exception:
            logger.exception("the sweep could not apply the postings of ledger %s", ledger_id)
            metrics.async_sweep_failed()
    return done


def _queued(ledger_id: uuid.UUID, transaction_id: uuid.UUID) -> bool:
    # On the primary: the replica may still show a row a worker has applied (a spurious 0099),
    # or not yet show one just accepted. Only this ledger's queue: a transaction queued in
    # another ledger is not this one's to wait for (the caller then answers 0007).
    return (
        QueuedPosting.objects.using(PRIMARY)
        .filter(ledger_id=ledger_id, transaction_id=transaction_id)
        .exists()
    )


def settled(ledger_id: uuid.UUID, transaction_id: uuid.UUID) -> None:
    """Before a commit, cancel or revert: if the transaction is still queued, applies it now
    (or waits for the worker applying it, up to ``ASYNC_WAIT_SECONDS``). Raises 409 0099 when
    it is still being applied after that; returns at once for any other transaction. The
    queue is read on the primary."""
    deadline = time.monotonic() + settings.ASYNC_WAIT_SECONDS
    while _queued(ledger_id, transaction_id):
        apply_ledger(ledger_id)  # what no worker holds is applied here
        if not _queued(ledger_id, transaction_id):
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
