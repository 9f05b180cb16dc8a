"""The posting engine: create, commit, cancel and revert transactions (DESIGN.md §4).

Python parses, validates and resolves the request; the apply step (locks, rules, balance
arithmetic, rows) is one call of the PostgreSQL function ``midaz_post`` inside one database
transaction. A refused posting leaves no trace: the whole transaction rolls back.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import psycopg
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from uuid_utils.compat import uuid7

from midaz.db_router import PRIMARY
from midaz.exceptions import (
    BusinessRuleViolation,
    Conflict,
    LedgerError,
    ValidationFailed,
    not_found,
)
from onboarding import ledger_settings, metadata_indexes
from onboarding.models import Ledger
from transactions import asynchronous, posting_metadata, route_check
from transactions.conversion import (
    Conversion,
    conversions,
    is_counterpart,
    reversal_entry_rate,
    with_rates_used,
)
from transactions.models import Operation, Transaction
from transactions.records import OperationRecord, TransactionRecord
from transactions.resolve import EXACT, Leg, Resolution, resolve
from transactions.serializers import transaction_out
from transactions.spec import (
    DEFAULT_BALANCE_KEY,
    Entry,
    TransactionSpec,
    spec_from_dict,
    spec_to_dict,
)

logger = logging.getLogger(__name__)
IMPLICIT_KEY_TTL = timedelta(seconds=300)
EXPLICIT_KEY_TTL = timedelta(hours=24)
_POST_SQL = "SELECT midaz_post(%s::jsonb, %s::jsonb, %s::jsonb)"
# The answer status an idempotency record stores for a posting accepted for a worker.
ACCEPTED_PREFIX = "ASYNC:"
_RAISED = re.compile(r"midaz:(\d{4})")

# Operations a reversal does not mirror: holds and releases (a committed hold reverts from its
# DEBIT and CREDIT rows) and overdraft companions (folded into their legs).
_NOT_REVERTED = ("ON_HOLD", "RELEASE", "OVERDRAFT")
# kind of posting -> operation type label of its direct legs
_LABELS = {"block": "BLOCK", "unblock": "UNBLOCK"}


# The idempotency record's key column (transactions.IdempotencyRecord.key, BulkRecord.key).
MAX_KEY = 256
# The longest lifetime a key gets: a larger X-TTL is clamped to it (Midaz takes any positive
# X-TTL; 300000000000 s would overflow a date, and a key kept for years only fills the table).
MAX_KEY_TTL_SECONDS = 30 * 24 * 3600
_TTL_DIGITS = re.compile(r"[0-9]+")


def check_key(stored: str, *, field: str, allowed: int) -> None:
    """Refuses (400 0047) a caller's key that its column cannot hold: longer than the column
    once stored (``stored`` is the key as stored, with its namespace), or holding a character
    PostgreSQL text cannot (NUL) or that is not Unicode text (a lone surrogate)."""
    problem = None
    if len(stored) > MAX_KEY:
        problem = f"{field} must be 1 to {allowed} characters long."
    elif "\x00" in stored:
        problem = f"{field} must not contain NUL characters."
    else:
        try:
            stored.encode()
        except UnicodeEncodeError:
            problem = f"{field} must be valid Unicode text."
    if problem is not None:
        raise ValidationFailed(
            problem, code="0047", entity_type="Transaction", fields={field: "invalid"}
        )


@dataclass(frozen=True)
class Idempotency:
    """The key of a create request: the caller's ``X-Idempotency`` or the body's hash."""

    key: str
    request_hash: str
    ttl: timedelta
    explicit: bool = False

    @classmethod
    def for_request(
        cls, *, body: Any, kind: str, header_key: str | None, header_ttl: str | None
    ) -> Idempotency:
        digest = hashlib.sha256(
            kind.encode() + b"\n" + orjson.dumps(body, option=orjson.OPT_SORT_KEYS, default=str)
        ).hexdigest()
        return cls.from_digest(digest, header_key=header_key, header_ttl=header_ttl)

    @classmethod
    def from_digest(
        cls, digest: str, *, header_key: str | None, header_ttl: str | None, namespace: str = ""
    ) -> Idempotency:
        """The key of a request whose body hashes to ``digest``: ``X-Idempotency`` or the
        digest, living ``X-TTL`` seconds when that is a positive integer, else 24 h for a
        caller's key and 300 s for a digest. ``namespace`` keeps kinds of records apart."""
        ttl = EXPLICIT_KEY_TTL if header_key else IMPLICIT_KEY_TTL
        if header_key is not None:
            check_key(
                namespace + header_key, field="X-Idempotency", allowed=MAX_KEY - len(namespace)
            )
        if header_ttl:
            # Like Midaz, a value that is not a positive integer means the default; unlike
            # Python's int(), only ASCII digits count (no "1_0", " 1" or other scripts' digits).
            seconds = 0
            if _TTL_DIGITS.fullmatch(header_ttl):
                # int() of thousands of digits raises: a long number is simply a large one.
                seconds = int(header_ttl) if len(header_ttl) <= 12 else MAX_KEY_TTL_SECONDS
            if seconds > 0:
                ttl = timedelta(seconds=min(seconds, MAX_KEY_TTL_SECONDS))
        return cls(
            key=namespace + (header_key or digest),
            request_hash=digest,
            ttl=ttl,
            explicit=bool(header_key),
        )


@dataclass(frozen=True)
class PostingResult:
    body: dict[str, Any]
    replayed: bool
    # The state the transaction is left in (APPROVED, PENDING, NOTED; CREATED when accepted for
    # a worker); "" for a replay.
    status: str = ""


# --- the idempotency cache (Valkey), in front of the durable record -----------------------------


def _cache_key(ledger: Ledger, key: str) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"idem:v2:{ledger.organization_id}:{ledger.id}:{digest}"


def check_ledger(ledger: Ledger) -> None:
    """Raises 0037 unless the ledger is (or was) one of its organization's. Runs before any
    cache, settings, route, rate or alias lookup, so that no answer depends on a ledger of
    another organization; cheap (the pair is cached in the process, ledger_settings). A
    deleted ledger passes here and is refused by ``midaz_post``."""
    if not ledger_settings.owned_by(ledger.id, ledger.organization_id):
        raise LedgerError("The ledger was not found.", code="0037", entity_type="Ledger")


def _cached_answer(ledger: Ledger, idempotency: Idempotency) -> PostingResult | None:
    """A replay straight from the cache. The cache is only a shortcut: when it is down or
    flushed, the PostgreSQL record answers the same way."""
    try:
        raw = cache.get(_cache_key(ledger, idempotency.key))
    except Exception:
        logger.warning("idempotency cache unavailable", exc_info=True)
        return None
    if raw is None:
        return None
    stored = orjson.loads(raw)
    if stored["hash"] != idempotency.request_hash:
        raise Conflict(
            "The idempotency key was already used with a different request.",
            code="0084",
            entity_type="Transaction",
        )
    return PostingResult(body=stored["body"], replayed=True)


def _cache_answer(ledger: Ledger, idempotency: Idempotency, body: dict[str, Any]) -> None:
    payload = orjson.dumps(
        {"hash": idempotency.request_hash, "body": body}, default=str, option=orjson.OPT_UTC_Z
    )
    try:
        cache.set(
            _cache_key(ledger, idempotency.key),
            payload,
            timeout=int(idempotency.ttl.total_seconds()),
        )
    except Exception:
        logger.warning("idempotency cache unavailable", exc_info=True)


def error_from_database(exc: Exception) -> Exception:
    """A ``midaz:<code>`` raised by ``midaz_post`` becomes its LedgerError; anything else is
    returned as it is."""
    diag = getattr(exc, "diag", None) or getattr(exc.__cause__, "diag", None)
    primary = getattr(diag, "message_primary", None) or str(exc)
    match = _RAISED.search(primary)
    if match is None:
        return exc
    detail = getattr(diag, "message_detail", None)
    code = match.group(1)
    return LedgerError(detail, code=code, entity_type="Ledger" if code == "0037" else "Transaction")


def call_function(sql: str, args: list[Any]) -> Any:
    """One round trip to a ledger function that answers jsonb, decoded.

    The arguments travel as bound parameters of a prepared statement on a plain psycopg
    cursor: Django's client-side cursor would quote the JSON text into the SQL string, which
    the profile showed as the largest single cost of a posting. A ``midaz:<code>`` refusal
    becomes its LedgerError.
    """
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        try:
            cursor.execute(sql, args, prepare=True)
        except psycopg.Error as exc:
            error = error_from_database(exc)
            if error is exc:
                # Not a refusal: the connection may be broken (a database restart). Django's
                # cursors would say so; this raw one must, or Django keeps the dead connection
                # (CONN_MAX_AGE) and every later posting of this thread fails with it.
                connection.errors_occurred = True
            raise error from exc
        row = cursor.fetchone()
    assert row is not None
    answer = row[0]
    # Django registers a text loader for jsonb on its connections; decode here either way.
    return orjson.loads(answer) if isinstance(answer, str | bytes) else answer


def _call_post(tx_row: dict[str, Any], legs: list[dict[str, Any]], opts: dict[str, Any]) -> Any:
    """One round trip to ``midaz_post``."""
    return call_function(
        _POST_SQL,
        [
            orjson.dumps(tx_row, default=str).decode(),
            orjson.dumps(legs, default=str).decode(),
            orjson.dumps(opts, default=str).decode(),
        ],
    )


@dataclass(frozen=True)
class _Legs:
    """Builds the legs ``midaz_post`` applies for one posting: each resolved leg with its
    route's rubric (routes on) and its conversion (a cross-asset entry)."""

    spec: TransactionSpec
    rubrics: dict[tuple[bool, int], route_check.Rubric] | None = None
    convs: dict[tuple[bool, int], Conversion] | None = None

    def row(self, leg: Leg, *, kind: str, op_type: str, direction: str) -> dict[str, Any]:
        entry = leg.entry
        rubric = (self.rubrics or {}).get((leg.is_source, leg.index))
        row = {
            "op": str(uuid7()),
            # The id of the overdraft companion operation, used only if the leg draws or
            # repays overdraft; made here so that operations sort by id in applied order.
            "od_op": str(uuid7()),
            "od_rubric": rubric.overdraft if rubric else None,
            "alias": entry.account_alias,
            "key": entry.balance_key,
            "amount": str(leg.amount),
            "source": leg.is_source,
            "kind": kind,
            "type": op_type,
            "direction": direction,
            "description": entry.description or self.spec.description,
            "chart_of_accounts": entry.chart_of_accounts,
            "metadata": dict(entry.metadata) if entry.metadata else {},
            "route": entry.route,
            "route_id": str(entry.route_id) if entry.route_id else None,
            "route_code": rubric.code if rubric else None,
            "route_description": rubric.description if rubric else None,
        }
        conv = (self.convs or {}).get((leg.is_source, leg.index))
        if conv is not None:
            row |= {"asset": conv.asset, "amount": str(conv.amount), "rate": conv.record()}
        return row

    def moved(self, leg: Leg, *, kind: str, op_type: str, direction: str) -> list[dict[str, Any]]:
        """A leg whose money moves now (a direct posting, or a commit), followed, when it is
        converted, by the two external legs that balance each asset (transactions/conversion)."""
        rows = [self.row(leg, kind=kind, op_type=op_type, direction=direction)]
        conv = (self.convs or {}).get((leg.is_source, leg.index))
        if conv is None:
            return rows
        record = {**conv.record(), "of": leg.entry.account_alias}
        # The posting's asset leaves the ledger for a converted destination (enters for a
        # converted source); the leg's own asset does the opposite.
        sides = [
            (conv.from_asset, conv.source_amount, None, not leg.is_source),
            (conv.asset, conv.amount, conv.asset, leg.is_source),
        ]
        for asset, amount, leg_asset, credit in sides:
            rows.append(
                {
                    **rows[0],
                    "op": str(uuid7()),
                    "od_op": str(uuid7()),
                    "od_rubric": None,
                    "alias": f"@external/{asset}",
                    "key": DEFAULT_BALANCE_KEY,
                    "amount": str(amount),
                    "source": not credit,
                    "kind": "credit" if credit else "debit",
                    "type": "CREDIT" if credit else "DEBIT",
                    "direction": "credit" if credit else "debit",
                    "metadata": {},
                    "route": None,
                    "route_id": None,
                    "route_code": None,
                    "route_description": None,
                    "asset": leg_asset,
                    "rate": record,
                }
            )
            if leg_asset is None:
                del rows[-1]["asset"]
        return rows


def _operations(
    legs: list[dict[str, Any]], snapshots: list[dict[str, Any]], tx: TransactionRecord
) -> list[OperationRecord]:
    """In-memory operations for the answer, from the legs sent and the snapshots returned (in
    the order applied: a leg that moved nothing has none, an overdraft companion follows its
    leg)."""
    by_op = {leg["op"]: leg for leg in legs}
    operations = []
    for snap in snapshots:
        companion_of = snap.get("companion_of")
        leg = by_op[companion_of or snap["id"]]
        operations.append(
            OperationRecord(
                id=uuid.UUID(snap["id"]),
                organization_id=tx.organization_id,
                ledger_id=tx.ledger_id,
                transaction_id=tx.id,
                description=leg["description"],
                type=snap["type"] if companion_of else leg["type"],
                direction=snap["direction"] if companion_of else leg["direction"],
                asset_code=leg.get("asset") or tx.asset_code,
                chart_of_accounts=leg["chart_of_accounts"],
                amount=Decimal(snap["amount"]),
                available_before=Decimal(snap["available_before"]),
                on_hold_before=Decimal(snap["on_hold_before"]),
                version_before=snap["version_before"],
                available_after=Decimal(snap["available_after"]),
                on_hold_after=Decimal(snap["on_hold_after"]),
                version_after=snap["version_after"],
                overdraft_used_before=Decimal(snap["overdraft_used_before"]),
                overdraft_used_after=Decimal(snap["overdraft_used_after"]),
                account_id=uuid.UUID(snap["account_id"]),
                account_alias=snap["account_alias"],
                balance_id=uuid.UUID(snap["balance_id"]),
                balance_key=snap["balance_key"],
                balance_affected=tx.status != Transaction.Status.NOTED,
                route=leg["route"],
                route_id=uuid.UUID(leg["route_id"]) if leg["route_id"] else None,
                route_code=snap["route_code"] if companion_of else leg.get("route_code"),
                route_description=snap["route_description"]
                if companion_of
                else leg.get("route_description"),
                metadata={} if companion_of else leg["metadata"],
                rate=None if companion_of else leg.get("rate"),
                created_at=tx.created_at,
                updated_at=tx.updated_at,
            )
        )
    return operations


def _new_transaction(
    ledger: Ledger,
    spec: TransactionSpec,
    *,
    status: str,
    now: datetime,
    parent_id: uuid.UUID | None,
) -> TransactionRecord:
    return TransactionRecord(
        id=uuid7(),
        organization_id=ledger.organization_id,
        ledger_id=ledger.id,
        parent_transaction_id=parent_id,
        description=spec.description,
        code=spec.code,
        status=status,
        status_description=status,
        amount=spec.value,
        asset_code=spec.asset,
        chart_of_accounts_group_name=spec.chart_of_accounts_group_name,
        source=[e.account_alias for e in spec.sources],
        destination=[e.account_alias for e in spec.destinations],
        body=spec_to_dict(spec) if spec.pending else None,
        route=spec.route,
        route_id=spec.route_id,
        fees_skipped=spec.skip_fees,
        tracer_skipped=spec.skip_tracer,
        metadata=dict(spec.metadata),
        created_at=spec.transaction_date or now,
        updated_at=now,
    )


def transaction_row(tx: Transaction | TransactionRecord) -> dict[str, Any]:
    """The transaction as ``midaz_post`` inserts it: column names as keys."""
    return {
        "id": tx.id,
        "created_at": tx.created_at,
        "updated_at": tx.updated_at,
        "deleted_at": None,
        "metadata": tx.metadata,
        "organization_id": tx.organization_id,
        "ledger_id": tx.ledger_id,
        "parent_transaction_id": tx.parent_transaction_id,
        "description": tx.description,
        "code": tx.code,
        "status": tx.status,
        "status_description": tx.status_description,
        "amount": str(tx.amount),
        "asset_code": tx.asset_code,
        "chart_of_accounts_group_name": tx.chart_of_accounts_group_name,
        "source": tx.source,
        "destination": tx.destination,
        "body": tx.body,
        "route": tx.route,
        "route_id": tx.route_id,
        "fees_skipped": tx.fees_skipped,
        "tracer_skipped": tx.tracer_skipped,
    }


@dataclass(frozen=True)
class Prepared:
    """A posting ready for ``midaz_post``: the transaction row, its legs and the options."""

    tx: TransactionRecord
    legs: list[dict[str, Any]]
    opts: dict[str, Any]
    answer_status: str


def _route_rubrics(
    ledger: Ledger, spec: TransactionSpec, resolution: Resolution, action: str
) -> dict[tuple[bool, int], route_check.Rubric] | None:
    """The legs' rubrics when the ledger validates routes (None otherwise); raises the route
    errors of ``transactions.route_check``."""
    if not ledger_settings.cached(ledger.id)["accounting"]["validateRoutes"]:
        return None
    return route_check.check(
        ledger_id=ledger.id,
        spec=spec,
        sources=resolution.sources,
        destinations=resolution.destinations,
        action=action,
    )


def prepare(
    ledger: Ledger,
    spec: TransactionSpec,
    *,
    kind: str = "json",
    idempotency: Idempotency | None = None,
    parent_id: uuid.UUID | None = None,
    accept: bool = False,
) -> Prepared:
    """Resolves the spec (0073, 0090, 0125) and builds what ``midaz_post`` takes; with
    ``accept``, the statement that accepts it for a worker to apply (transactions/asynchronous).
    Raises 0037 first when the ledger is not of its organization: nothing of a ledger of
    another organization (settings, routes, rates, aliases) is read before that."""
    check_ledger(ledger)
    resolution = resolve(spec)
    annotation = kind == "annotation"
    if annotation:
        status, answer_status = Transaction.Status.NOTED, Transaction.Status.NOTED
    elif spec.pending:
        status, answer_status = Transaction.Status.PENDING, Transaction.Status.PENDING
    else:
        status, answer_status = Transaction.Status.APPROVED, Transaction.Status.CREATED
    rubrics = _route_rubrics(
        ledger,
        spec,
        resolution,
        route_check.REVERT
        if parent_id is not None
        else route_check.HOLD
        if spec.pending and not annotation
        else route_check.DIRECT,
    )
    now = timezone.now()
    convs = conversions(ledger.id, spec, resolution, now)
    if convs and spec.pending:
        spec = with_rates_used(spec, convs)  # the commit converts at the hold's rates
    tx = _new_transaction(
        ledger,
        spec,
        status=Transaction.Status.CREATED if accept else status,
        now=now,
        parent_id=parent_id,
    )
    label = _LABELS.get(kind)
    b = _Legs(spec, rubrics, convs)
    legs: list[dict[str, Any]] = []
    for leg in resolution.sources:
        if spec.pending and rubrics is not None:
            # Routes on: the double-entry split of a hold (SEMANTICS.md §5.2), available first.
            legs += [
                b.row(leg, kind="debit", op_type="DEBIT", direction="debit"),
                b.row(leg, kind="onhold", op_type="ON_HOLD", direction="debit"),
            ]
        elif spec.pending:
            legs.append(b.row(leg, kind="hold", op_type="ON_HOLD", direction="debit"))
        else:
            legs += b.moved(leg, kind="debit", op_type=label or "DEBIT", direction="debit")
    for leg in resolution.destinations:
        if spec.pending:
            legs.append(b.row(leg, kind="check", op_type="CREDIT", direction="credit"))
        else:
            legs += b.moved(leg, kind="credit", op_type=label or "CREDIT", direction="credit")
    opts: dict[str, Any] = {
        "mode": "insert",
        "check_rules": True,
        "pending": spec.pending,
        "apply": not annotation,
        "now": now,
        "skip_fees": spec.skip_fees,
        "skip_tracer": spec.skip_tracer,
        "routes": rubrics is not None,
        "events": settings.TRANSACTION_EVENTS_ENABLED,
        "idem": None,
    }
    if idempotency is not None:
        opts["idem"] = {
            "key": idempotency.key,
            "hash": idempotency.request_hash,
            "expires_at": now + idempotency.ttl,
            # Accepted for a worker: a replay shows the posting as it is now (_replayed_answer).
            "answer_status": ACCEPTED_PREFIX + answer_status if accept else answer_status,
        }
    if accept:
        opts = asynchronous.accept_options(opts, status)
    return Prepared(tx=tx, legs=legs, opts=opts, answer_status=answer_status)


def answer(prepared: Prepared, result: dict[str, Any]) -> dict[str, Any]:
    """The answer of a posting from what ``midaz_post`` returned (operations, or a replay)."""
    if "replay" in result:
        return _replayed_answer(result["replay"])
    tx = prepared.tx
    if "accepted" in result:  # asynchronous: no operation yet
        return transaction_out(tx, [], status=prepared.answer_status)
    return transaction_out(
        tx, _operations(prepared.legs, result["ops"], tx), status=prepared.answer_status
    )


def transaction_create(
    *,
    ledger: Ledger,
    spec: TransactionSpec,
    kind: str = "json",
    idempotency: Idempotency | None = None,
    parent_id: uuid.UUID | None = None,
) -> PostingResult:
    """Posts a transaction. Outside a database transaction this is one statement (one round
    trip, its own transaction); inside one (revert) it joins it. Locks the involved balances
    in id order. Raises 0037 (ledger), resolution errors (0073, 0090, 0125), balance rules
    (0018, 0019, 0024, 0034, 0098, 0168), 0490 and idempotency conflicts (0084).

    Only ``ledger.id`` and ``ledger.organization_id`` are used: the function checks the ledger
    itself, so callers need not load it."""
    # Explicit keys are the ones clients retry with: answer those from the cache when possible.
    # A body-hash key is new on almost every call, so it goes straight to the database, which
    # detects a replay in the same round trip as the posting.
    check_ledger(ledger)
    if (
        idempotency is not None
        and idempotency.explicit
        and (cached := _cached_answer(ledger, idempotency)) is not None
    ):
        return cached
    accept = settings.TRANSACTION_ASYNC and parent_id is None
    prepared = prepare(
        ledger, spec, kind=kind, idempotency=idempotency, parent_id=parent_id, accept=accept
    )
    with posting_metadata.externalized(transaction_row(prepared.tx), prepared.legs) as sent:
        result = _call_post(sent.row, sent.legs, prepared.opts)
        if "replay" in result:
            sent.discard()
    body = answer(prepared, result)
    if "accepted" in result:
        if connection.in_atomic_block:
            transaction.on_commit(lambda: asynchronous.publish(ledger.id))
        else:
            asynchronous.publish(ledger.id)
    # An asynchronous posting's answer is never cached (neither the acceptance nor a replay):
    # it is not final, the worker may still decline it (and then frees the key), so a replay
    # reads the record and shows the transaction as it is now.
    asynchronous_answer = "accepted" in result or str(
        result.get("replay", {}).get("answer_status", "")
    ).startswith(ACCEPTED_PREFIX)
    if idempotency is not None and idempotency.explicit and not asynchronous_answer:
        if connection.in_atomic_block:
            key = idempotency
            transaction.on_commit(lambda: _cache_answer(ledger, key, body))
        else:
            _cache_answer(ledger, idempotency, body)
    replayed = "replay" in result
    return PostingResult(
        body=body, replayed=replayed, status="" if replayed else str(prepared.tx.status)
    )


def _replayed_answer(replay: dict[str, Any]) -> dict[str, Any]:
    """The first answer again: the transaction with the operations its create wrote (not those
    of a later commit or cancel) and the status it first showed. A posting accepted for a
    worker shows what it is now instead (CREATED while queued, then APPROVED, PENDING or
    NOTED with its operations; a declined one frees its key). Read on the primary: a replica
    that lags may not have the transaction yet."""
    tx = Transaction.objects.using(PRIMARY).get(pk=replay["transaction_id"])
    shown = str(replay["answer_status"])
    if shown.startswith(ACCEPTED_PREFIX):
        if tx.status == Transaction.Status.CREATED:
            return transaction_out(tx, [], status=shown.removeprefix(ACCEPTED_PREFIX))
        return transaction_out(tx, tx.operations.order_by("created_at", "id"))
    operations = tx.operations.filter(created_at=tx.created_at).order_by("id")
    return transaction_out(tx, operations, status=shown)


# SQLSTATE of a lock wait that ran past lock_timeout (psycopg.errors.LockNotAvailable).
_LOCK_NOT_AVAILABLE = "55P03"
# How long a commit or cancel waits for its transaction's row (a metadata PATCH holds it for a
# few milliseconds) before answering 0486.
SETTLE_LOCK_TIMEOUT_MS = 2000


def _locked_pending(ledger: Ledger, transaction_id: uuid.UUID) -> Transaction:
    """Locks the transaction row, waiting at most ``SETTLE_LOCK_TIMEOUT_MS`` for it: a metadata
    PATCH holds the row for the few milliseconds of its write and only delays the settlement; a
    concurrent commit or cancel either finishes within the wait (then the row is no longer
    pending: 0099) or still holds it (0486). Raises 0007 (missing) and 0099 (not pending); any
    other database error as it is (it is not a busy transaction, and saying so would hide it).
    The wait applies to this one statement: the previous lock_timeout is put back after it (a
    failure rolls the enclosing atomic block back, and the setting with it)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('lock_timeout'), set_config('lock_timeout', %s, true)",
            [f"{max(1, int(SETTLE_LOCK_TIMEOUT_MS))}ms"],
        )
        row = cursor.fetchone()
    try:
        tx = (
            Transaction.objects.select_for_update().filter(ledger=ledger, pk=transaction_id).first()
        )
    except DatabaseError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
            raise
        raise Conflict(
            "Another commit or cancel of this transaction is in progress.",
            code="0486",
            entity_type="Transaction",
        ) from exc
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [row[0] if row else "0"])
    if tx is None:
        raise not_found("0007", "Transaction", "The transaction was not found.")
    if tx.status != Transaction.Status.PENDING:
        raise Conflict(
            f"The transaction is {tx.status}; only a PENDING transaction can be committed or "
            "canceled.",
            code="0099",
            entity_type="Transaction",
        )
    return tx


def _settle(ledger: Ledger, transaction_id: uuid.UUID, *, commit: bool) -> dict[str, Any]:
    asynchronous.settled(ledger.id, transaction_id)
    with transaction.atomic():
        tx = _locked_pending(ledger, transaction_id)
        assert tx.body is not None
        spec = spec_from_dict(tx.body)
        resolution = resolve(spec)
        # The settlement takes the shape of its hold, whatever the ledger's routes are now: a
        # hold split by routes (SEMANTICS.md §5.2) wrote a DEBIT per source, a plain one none.
        split = tx.operations.filter(type=Operation.Type.DEBIT).exists()
        try:
            r = _route_rubrics(
                ledger, spec, resolution, route_check.COMMIT if commit else route_check.CANCEL
            )
        except LedgerError:
            if commit:
                raise
            # A cancel only gives back what its hold took, so it is always possible: its
            # route deleted or changed, or validateRoutes turned on since, it goes without
            # rubrics.
            r = None
        b = _Legs(spec, r, conversions(ledger.id, spec, resolution, timezone.now()))
        legs: list[dict[str, Any]] = []
        if commit:
            # A split hold is settled as ON_HOLD (SEMANTICS.md §5.2).
            settled = "ON_HOLD" if split else "DEBIT"
            for leg in resolution.sources:
                legs += b.moved(leg, kind="settle", op_type=settled, direction="debit")
            for leg in resolution.destinations:
                legs += b.moved(leg, kind="credit", op_type="CREDIT", direction="credit")
            tx.status = Transaction.Status.APPROVED
        elif split:
            # A split hold's cancel releases the hold, then credits available back (two ops).
            for leg in resolution.sources:
                legs += [
                    b.row(leg, kind="settle", op_type="RELEASE", direction="credit"),
                    b.row(leg, kind="credit", op_type="CREDIT", direction="credit"),
                ]
            tx.status = Transaction.Status.CANCELED
        else:
            for leg in resolution.sources:
                legs.append(b.row(leg, kind="release", op_type="RELEASE", direction="credit"))
            tx.status = Transaction.Status.CANCELED
        if not commit:
            _give_back_overdraft(tx, legs)
        # The hold's own operations hold its entries' values of a unique operation metadata
        # index: the settlement's operations leave those keys out (or it could never happen).
        unique = metadata_indexes.unique_keys("operation")
        if unique:
            for row in legs:
                row["metadata"] = _without(row["metadata"], unique)
        _pin_balances(legs, _held_balances(tx))
        tx.status_description = tx.status
        now = timezone.now()
        tx.updated_at = now
        opts = {
            "mode": "update",
            "check_rules": False,
            "pending": False,
            "apply": True,
            "now": now,
            # A cancel repays the overdraft its hold drew even when the route (now) has no
            # overdraft credit rubric (0492 is for postings that move money anew).
            "routes": r is not None and commit,
            "events": settings.TRANSACTION_EVENTS_ENABLED,
        }
        # The new operations carry the time of the commit or cancel, not the hold's.
        with posting_metadata.externalized(
            {**transaction_row(tx), "created_at": now},
            legs,
            transaction_metadata=False,
            savepoint=False,
        ) as sent:
            _call_post(sent.row, sent.legs, opts)
        return transaction_out(tx, tx.operations.order_by("created_at", "id"))


def _held_balances(tx: Transaction) -> dict[str, str]:
    """The balances (``alias#key`` -> id) a hold resolved: those its body recorded (midaz_post
    writes ``balanceIds``), completed by those of its operations (a hold made before the
    record existed has only its sources' operations)."""
    held = {
        f"{alias}#{key}": str(balance_id)
        for alias, key, balance_id in tx.operations.values_list(
            "account_alias", "balance_key", "balance_id"
        )
    }
    recorded = (tx.body or {}).get("balanceIds")
    if isinstance(recorded, dict):
        held |= {k: v for k, v in recorded.items() if isinstance(v, str)}
    return held


def _pin_balances(legs: list[dict[str, Any]], balances: dict[str, str]) -> None:
    """Names on each leg the balance it must move (``balance_id``): midaz_post refuses it
    (0019) when the alias now names another account's balance (the original account deleted
    and its alias taken by a new one)."""
    for leg in legs:
        balance_id = balances.get(f"{leg['alias']}#{leg['key']}")
        if balance_id is not None:
            leg["balance_id"] = balance_id


def _give_back_overdraft(tx: Transaction, legs: list[dict[str, Any]]) -> None:
    """A cancel gives back exactly what its hold took: the part of each hold that came from
    overdraft (SEMANTICS.md §4.4) repays overdraft, the rest returns to available. Marks each
    leg that returns available (a RELEASE, or the CREDIT half of a cancel split by routes) with
    the overdraft it repays, balance by balance, in leg order."""
    drawn: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    held = tx.operations.exclude(type=Operation.Type.OVERDRAFT).values_list(
        "account_alias", "balance_key", "overdraft_used_before", "overdraft_used_after"
    )
    for alias, key, before, after in held:
        # Exact: the default context would round a wide amount and leave a trace behind.
        drawn[(alias, key)] = EXACT.add(drawn[(alias, key)], EXACT.subtract(after, before))
    for leg in legs:
        if leg["kind"] == "settle":
            continue  # the on-hold half of a split cancel: available does not move
        left = drawn[(leg["alias"], leg["key"])]
        repay = min(left, Decimal(leg["amount"]))
        drawn[(leg["alias"], leg["key"])] = EXACT.subtract(left, repay)
        leg["repay"] = str(repay)


def transaction_commit(*, ledger: Ledger, transaction_id: uuid.UUID) -> dict[str, Any]:
    """PENDING -> APPROVED: the held amounts leave onHold, destinations are credited. Locks
    the transaction row (0486 if busy) and the balances; raises 0007, 0099."""
    return _settle(ledger, transaction_id, commit=True)


def transaction_cancel(*, ledger: Ledger, transaction_id: uuid.UUID) -> dict[str, Any]:
    """PENDING -> CANCELED: the held amounts return to available. Locks as commit does."""
    return _settle(ledger, transaction_id, commit=False)


def _without(metadata: dict[str, Any] | None, keys: frozenset[str]) -> dict[str, Any]:
    """A copy of the metadata without the keys (those of a unique metadata index)."""
    return {k: v for k, v in (metadata or {}).items() if k not in keys}


def transaction_revert(*, ledger: Ledger, transaction_id: uuid.UUID) -> PostingResult:
    """Posts the reversal of an APPROVED transaction: credits become sources, debits
    destinations. Locks the original row; raises 0007, 0087, 0088, 0099, 0089 and whatever
    the reversal's own posting raises (0018 when the money was spent)."""
    asynchronous.settled(ledger.id, transaction_id)
    with transaction.atomic():
        original = (
            Transaction.objects.select_for_update().filter(ledger=ledger, pk=transaction_id).first()
        )
        if original is None:
            raise not_found("0007", "Transaction", "The transaction was not found.")
        if Transaction.objects.filter(parent_transaction=original).exists():
            raise Conflict(
                "The transaction was already reverted.", code="0087", entity_type="Transaction"
            )
        if original.parent_transaction_id is not None:
            raise Conflict("A reversal cannot be reverted.", code="0088", entity_type="Transaction")
        if original.status != Transaction.Status.APPROVED:
            raise Conflict(
                f"Only an APPROVED transaction can be reverted; this one is {original.status}.",
                code="0099",
                entity_type="Transaction",
            )
        if ledger_settings.cached(ledger.id)["accounting"]["validateRoutes"]:
            route_check.check_revert(original.operations.values_list("route_id", flat=True))
        sources: list[Entry] = []
        destinations: list[Entry] = []
        # The original holds its values of the unique metadata indexes: the reversal and its
        # operations leave those keys out of what they copy (or it could never be posted).
        unique_tx = metadata_indexes.unique_keys("transaction")
        unique_op = metadata_indexes.unique_keys("operation")
        operations = list(original.operations.order_by("created_at", "id"))
        # An overdraft companion folds back into exactly the leg it completed (the operation
        # it names), so the reversal moves the leg's whole amount on the leg's own balance and
        # repays or redraws that balance's overdraft, not a sibling's of the same account.
        folded: dict[uuid.UUID, Decimal] = {}
        for op in operations:
            if op.type == Operation.Type.OVERDRAFT and op.companion_of is not None:
                folded[op.companion_of] = EXACT.add(folded.get(op.companion_of, 0), op.amount)
        for op in operations:
            if op.type in _NOT_REVERTED or is_counterpart(op.rate):
                continue
            amount = EXACT.add(op.amount, folded.pop(op.id, 0))
            # A converted entry reverts at its original rate, from its amount in the
            # posting's asset; the conversion's external legs are made again.
            converted = reversal_entry_rate(op.rate)
            if converted is not None:
                amount = converted[0]
            entry = Entry(
                account_alias=op.account_alias,
                balance_key=op.balance_key,
                amount=min(amount, original.amount),
                amount_asset=original.asset_code,
                description=op.description,
                chart_of_accounts=op.chart_of_accounts,
                metadata=_without(op.metadata, unique_op) or None,
                route=op.route,
                route_id=op.route_id,
                rate=converted[1] if converted is not None else None,
            )
            (sources if op.direction == "credit" else destinations).append(entry)
        if not sources or not destinations:
            raise BusinessRuleViolation(
                "The transaction has no movement to revert.", code="0089", entity_type="Transaction"
            )
        spec = TransactionSpec(
            asset=original.asset_code,
            value=original.amount,
            sources=tuple(sources),
            destinations=tuple(destinations),
            description=original.description,
            code=original.code,
            chart_of_accounts_group_name=original.chart_of_accounts_group_name,
            metadata=_without(original.metadata, unique_tx),
            route=original.route,
            route_id=original.route_id,
        )
        # The reversal moves the balances the original moved, not whatever the aliases name
        # now: an account deleted and its alias taken by a new one is refused (0019).
        check_ledger(ledger)
        prepared = prepare(ledger, spec, parent_id=original.id)
        _pin_balances(
            prepared.legs,
            {f"{op.account_alias}#{op.balance_key}": str(op.balance_id) for op in operations},
        )
        with posting_metadata.externalized(transaction_row(prepared.tx), prepared.legs) as sent:
            result = _call_post(sent.row, sent.legs, prepared.opts)
        return PostingResult(
            body=answer(prepared, result), replayed=False, status=str(prepared.tx.status)
        )


@transaction.atomic
def transaction_update(
    *, tx: Transaction, description: str | None, metadata: dict[str, Any]
) -> Transaction:
    """Changes the description (when given) and the metadata; money fields never change."""
    if description:
        tx.description = description
    tx.metadata = metadata
    tx.updated_at = timezone.now()
    tx.save(update_fields=["description", "metadata", "updated_at"])
    return tx
