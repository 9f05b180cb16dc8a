"""Bulk postings: up to 1,000 transactions in one request and one database transaction
(beyond Midaz; its users asked for it in LerianStudio/midaz#688).

Each item is a JSON create body, checked and resolved in Python like a single post. The apply
step is one call of ``midaz_post_bulk``: every balance the items name is locked first, in id
order (no deadlock with other bulks or single posts), then each item runs through
``midaz_post`` in soft mode, where a refusal is returned rather than raised and leaves nothing
written. So:

* ``atomic``: the first refusal (or an item that fails validation) rolls everything back and
  the answer is that item's Midaz error, naming the item;
* not ``atomic``: each item is posted or refused on its own, with no savepoint per item, and
  the answer lists every item's transaction or error.

A unique metadata index that one item's metadata collides with (a value another item, or a
stored row, holds) fails the single statement that inserts every item's rows: the items are
then applied again one by one, each in a savepoint, and only the colliding one is refused
(409 0498; the whole request, naming it, when ``atomic``).

Everything commits once: a bulk pays one WAL flush, not one per transaction. Idempotency
applies per item (its ``idempotencyKey`` or the hash of its body, as for a single post) and
to the whole request (``X-Idempotency`` or the hash of the whole body): a repeated request
gets the stored answer back, item by item.

Two identical items without an ``idempotencyKey`` are therefore one posting: the second
answers the first's transaction with ``replayed: true``, exactly as a second identical single
post within the implicit key's 300 s would. This is deliberate (a client retrying a batch
that partly went through must not pay twice) and documented in the API; a client that means
two equal payments gives each its own key. The request key is stored as ``bulk:`` + the
header, so the header may hold at most 251 characters (400 0047 beyond).
"""

from __future__ import annotations

import hashlib
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from midaz.api import render
from midaz.exceptions import Conflict, LedgerError, ValidationFailed
from onboarding.models import Ledger
from transactions import posting_metadata
from transactions.models import BulkRecord
from transactions.posting import (
    Idempotency,
    Prepared,
    answer,
    call_function,
    prepare,
    transaction_row,
)
from transactions.spec import TransactionSpec

MAX_ITEMS = 1000
_BULK_SQL = "SELECT midaz_post_bulk(%s, %s::jsonb, %s)"


@dataclass(frozen=True)
class BulkItem:
    """One item of a bulk request: its spec and key, or the error that refused it before the
    database (body validation)."""

    spec: TransactionSpec | None = None
    idempotency: Idempotency | None = None
    error: LedgerError | None = None


@dataclass(frozen=True)
class BulkResult:
    status: int
    body: dict[str, Any]
    replayed: bool


def request_idempotency(body: bytes, header_key: str | None, header_ttl: str | None) -> Idempotency:
    """The key of the whole request: the caller's ``X-Idempotency`` or the hash of the body,
    apart from the keys of single postings."""
    return Idempotency.from_digest(
        hashlib.sha256(b"bulk\n" + body).hexdigest(),
        header_key=header_key,
        header_ttl=header_ttl,
        namespace="bulk:",
    )


def _item_error(index: int, error: LedgerError) -> dict[str, Any]:
    return {"index": index, "status": error.status, "error": error.as_dict()}


def _refused(index: int, error: LedgerError) -> LedgerError:
    """The error of an atomic bulk: the item's own code and status, naming the item."""
    return LedgerError(
        f"Item {index}: {error.message}",
        code=error.code,
        entity_type=error.entity_type,
        fields={**(error.fields or {}), "item": index},
        status=error.status,
    )


def _call_bulk(ledger_id: Any, payload: list[dict[str, Any]], atomic: bool) -> list[Any]:
    result: list[Any] = call_function(
        _BULK_SQL, [ledger_id, orjson.dumps(payload, default=str).decode(), atomic]
    )
    return result


def _metadata_clash(exc: BaseException) -> bool:
    """A unique violation (SQLSTATE 23505) of a metadata index (``mdx_...``,
    onboarding.metadata_indexes): a value of one item's metadata that another item of the bulk,
    or a stored row, already holds."""
    diag = getattr(exc, "diag", None)
    name = getattr(diag, "constraint_name", None) or ""
    return getattr(exc, "sqlstate", None) == "23505" and name.startswith("mdx_")


_CLASH = {
    "code": "0498",
    "detail": "A unique metadata index already holds a value of this posting's metadata.",
}


def _apply(
    ledger_id: Any, payload: list[dict[str, Any]], indexes: list[int], atomic: bool
) -> list[Any]:
    """The items in one call of ``midaz_post_bulk``, in a savepoint. The call inserts every
    item's rows in one statement, so one item whose metadata collides with a unique metadata
    index fails it whole: then the items are applied again one by one, each in its own
    savepoint, and the colliding one answers 0498 (an atomic bulk: the first one is the
    request's refusal, naming it) while the others are posted."""
    if not payload:
        return []
    try:
        with transaction.atomic():
            return _call_bulk(ledger_id, payload, atomic)
    except psycopg.Error as exc:
        if not _metadata_clash(exc):
            raise
    results: list[Any] = []
    for index, item in zip(indexes, payload, strict=True):
        if atomic and results and "error" in results[-1]:
            break  # the request's refusal is this earlier item's own
        try:
            with transaction.atomic():
                results += _call_bulk(ledger_id, [item], atomic)
        except psycopg.Error as exc:
            if not _metadata_clash(exc):
                raise
            if atomic:
                raise _refused(
                    index, Conflict(_CLASH["detail"], code="0498", entity_type="Transaction")
                ) from exc
            results.append({"error": dict(_CLASH)})
    return results


def _stored(ledger: Ledger, idempotency: Idempotency) -> BulkResult | None:
    """Takes the request's key for this database transaction and returns its stored answer,
    if any. 0084: the key is in use by a request in flight, or was used with another body."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 7))",
            [f"{ledger.id}:{idempotency.key}"],
        )
        (locked,) = cursor.fetchone()
    if not locked:
        raise Conflict(
            "The idempotency key is in use by a request in flight.",
            code="0084",
            entity_type="Transaction",
        )
    record = BulkRecord.objects.filter(ledger_id=ledger.id, key=idempotency.key).first()
    if record is None:
        return None
    if record.expires_at <= timezone.now():
        record.delete()
        return None
    if record.request_hash != idempotency.request_hash:
        raise Conflict(
            "The idempotency key was already used with a different request.",
            code="0084",
            entity_type="Transaction",
        )
    return BulkResult(status=record.status, body=record.answer, replayed=True)


def check_total_legs(items: list[BulkItem]) -> None:
    """0047 when the items' source and destination entries add up to more than
    ``MAX_BULK_LEGS``: every leg's balance stays locked until the whole bulk commits, so one
    request must not hold thousands of them for seconds. Checked before any resolution or
    database work; the items refused by validation count for nothing."""
    limit = settings.MAX_BULK_LEGS
    total = 0
    for item in items:
        if item.spec is not None:
            total += len(item.spec.sources) + len(item.spec.destinations)
    if total > limit:
        raise ValidationFailed(
            f"A bulk request may have at most {limit} source and destination entries in all "
            f"(MAX_BULK_LEGS); this one has {total}.",
            code="0047",
            entity_type="Transaction",
            fields={"transactions": f"{total} entries", "MAX_BULK_LEGS": str(limit)},
        )


def bulk_post(
    *, ledger: Ledger, items: list[BulkItem], atomic: bool, idempotency: Idempotency
) -> BulkResult:
    """Posts the items in one database transaction (see the module). Raises, for an atomic
    bulk, the first refused item's error (its code and status, ``fields.item`` its index);
    0084 for a request key in use or reused with another body; 0047 (the whole request, atomic
    or not) when the items have more than ``MAX_BULK_LEGS`` legs together."""
    check_total_legs(items)
    prepared: list[tuple[int, Prepared]] = []
    answers: dict[int, dict[str, Any]] = {}
    for index, item in enumerate(items):
        error = item.error
        if error is None:
            assert item.spec is not None
            try:
                prepared.append((index, prepare(ledger, item.spec, idempotency=item.idempotency)))
                continue
            except LedgerError as exc:
                error = exc
        if atomic:
            raise _refused(index, error)
        answers[index] = _item_error(index, error)

    with transaction.atomic(), ExitStack() as external:
        stored = _stored(ledger, idempotency)
        if stored is not None:
            return stored
        sent = [
            external.enter_context(
                posting_metadata.externalized(transaction_row(p.tx), p.legs, savepoint=False)
            )
            for _, p in prepared
        ]
        payload = [
            {"tx": s.row, "legs": s.legs, "opts": p.opts}
            for s, (_, p) in zip(sent, prepared, strict=True)
        ]
        results = _apply(ledger.id, payload, [index for index, _ in prepared], atomic)
        for n, ((index, item_prepared), result) in enumerate(zip(prepared, results, strict=False)):
            if "error" in result or "replay" in result:
                sent[n].discard()
            if "error" in result:
                refusal = LedgerError(
                    result["error"]["detail"],
                    code=result["error"]["code"],
                    entity_type="Ledger" if result["error"]["code"] == "0037" else "Transaction",
                )
                if atomic:
                    raise _refused(index, refusal)
                answers[index] = _item_error(index, refusal)
            else:
                answers[index] = {
                    "index": index,
                    "status": 201,
                    "replayed": "replay" in result,
                    "transaction": answer(item_prepared, result),
                }
        ordered = [answers[i] for i in range(len(items))]
        failed = sum(1 for a in ordered if "error" in a)
        body = {
            "atomic": atomic,
            "total": len(items),
            "created": len(items) - failed,
            "failed": failed,
            "items": ordered,
        }
        status = 201 if failed == 0 else 207
        # Stored as the client will read it (ids, decimals and times as strings).
        stored_body = orjson.loads(render.dumps(body))
        now = timezone.now()
        BulkRecord.objects.create(
            ledger_id=ledger.id,
            key=idempotency.key,
            request_hash=idempotency.request_hash,
            status=status,
            answer=stored_body,
            created_at=now,
            expires_at=now + idempotency.ttl,
        )
        return BulkResult(status=status, body=body, replayed=False)
