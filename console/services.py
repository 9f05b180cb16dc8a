"""What the console's actions do: the API's own services (transactions.posting), each run
recorded in an AuditRecord whatever its outcome. Nothing here moves money by itself."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from console.models import AuditRecord
from midaz import metrics
from midaz.exceptions import LedgerError
from onboarding.models import Ledger
from transactions import posting, schemas
from transactions.models import Transaction

VERBS = ("commit", "cancel", "revert")


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str
    code: str = ""
    transaction_id: uuid.UUID | None = None
    status: str = ""


def describe(exc: LedgerError) -> str:
    """A Midaz error as the console shows it: ``0018 Insufficient Funds: <message>``."""
    if exc.message and exc.message != exc.title:
        return f"{exc.code} {exc.title}: {exc.message}"
    return f"{exc.code} {exc.title}"


def audit(
    request: HttpRequest,
    action: str,
    target: str,
    outcome: Outcome | None = None,
    *,
    ledger_id: Any = None,
    result: str | None = None,
) -> AuditRecord:
    return AuditRecord.objects.create(
        username=request.user.get_username() if request.user.is_authenticated else "",
        action=action,
        target=target[:500],
        ledger_id=ledger_id,
        transaction_id=outcome.transaction_id if outcome else None,
        result=result
        or (AuditRecord.Result.OK if outcome and outcome.ok else AuditRecord.Result.REFUSED),
        code=outcome.code if outcome else "",
        message=outcome.message if outcome else "",
    )


def _ledger_of(tx: Transaction) -> Ledger:
    # Only id and organization_id are read by the posting services.
    return Ledger(id=tx.ledger_id, organization_id=tx.organization_id)


def operate(request: HttpRequest, tx: Transaction, verb: str) -> Outcome:
    """Commit or cancel a pending transaction, or revert an approved one, exactly as
    ``POST .../transactions/{id}/{verb}`` does; recorded."""
    if verb not in VERBS:
        raise ValueError(verb)
    try:
        with metrics.posting(verb) as counted:
            if verb == "revert":
                result = posting.transaction_revert(ledger=_ledger_of(tx), transaction_id=tx.id)
                counted.posted(result.status)
                body = result.body
            else:
                settle = (
                    posting.transaction_commit if verb == "commit" else posting.transaction_cancel
                )
                body = settle(ledger=_ledger_of(tx), transaction_id=tx.id)
                counted.posted(str(body["status"]["code"]))
    except LedgerError as exc:
        outcome = Outcome(False, describe(exc), code=exc.code, transaction_id=tx.id)
    else:
        status = str(body["status"]["code"])
        made = body["id"]
        what = f"{verb}: transaction {tx.id} is {status}"
        if verb == "revert":
            what = f"revert: transaction {tx.id} reverted by {made} ({status})"
        outcome = Outcome(True, what, transaction_id=tx.id, status=status)
    audit(request, verb, f"transaction {tx.id}", outcome, ledger_id=tx.ledger_id)
    return outcome


def post(
    request: HttpRequest,
    *,
    ledger: Ledger,
    kind: str,
    body_text: str = "",
    gold: bytes | None = None,
    idempotency_key: str = "",
) -> Outcome:
    """A posting as ``POST .../transactions/{kind}`` (JSON) or ``.../transactions/dsl`` (a Gold
    file) makes it: the same parsing, validation and posting engine; recorded."""
    from midaz.api.views import parse_json_exact

    try:
        with metrics.posting(kind) as counted:
            data: Any
            if kind == "dsl":
                raw = gold or b""
                spec = schemas.spec_from_gold_file(raw)
                data = raw.decode("utf-8")
                create_kind = "json"
            else:
                data = schemas.CREATE_SCHEMAS[kind].validate(parse_json_exact(body_text))
                spec = schemas.spec_from_body(data, kind=kind)
                create_kind = kind
            idempotency = posting.Idempotency.for_request(
                body=data, kind=kind, header_key=idempotency_key or None, header_ttl=None
            )
            result = posting.transaction_create(
                ledger=ledger, spec=spec, kind=create_kind, idempotency=idempotency
            )
            if result.replayed:
                counted.replayed()
            else:
                counted.posted(result.status)
    except LedgerError as exc:
        outcome = Outcome(False, describe(exc), code=exc.code)
    else:
        tx_id = uuid.UUID(str(result.body["id"]))
        status = str(result.body["status"]["code"])
        replay = " (replayed: the same body or key was posted before)" if result.replayed else ""
        outcome = Outcome(
            True,
            f"posted transaction {tx_id}: {status}{replay}",
            transaction_id=tx_id,
            status=status,
        )
    audit(request, f"post {kind}", f"ledger {ledger.id}", outcome, ledger_id=ledger.id)
    return outcome
