"""Operation routes and transaction routes (MIDAZ_API.md §4.12 and §4.13, SEMANTICS.md §11): the
accounting rules a ledger can hold its postings to. Bodies, their rules and codes, and the
writes; ``transactions.api.routes`` serves them."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from midaz.api.openapi import component
from midaz.api.validation import F, Schema
from midaz.exceptions import BusinessRuleViolation, ValidationFailed, not_found
from onboarding.models import Ledger
from onboarding.services import lock_for_update, merge_metadata
from transactions.models import OperationRoute, TransactionRoute

OPERATION_ROUTE = "OperationRoute"
TRANSACTION_ROUTE = "TransactionRoute"
ACTIONS = ("direct", "hold", "commit", "cancel", "revert", "overdraft", "block", "unblock")
MAX_OPERATION_ROUTES = 100

# --- bodies -----------------------------------------------------------------------------------


def _operation_type(value: Any, path: str) -> None:
    if value is not None and value not in OperationRoute.Type.values:
        raise ValidationFailed(
            "operationType must be source, destination or bidirectional.",
            code="0103",
            entity_type=OPERATION_ROUTE,
        )


def _account_rule(value: Any, path: str) -> None:
    """``{ruleType, validIf}``: both or neither (0009); ruleType alias | account_type (0111);
    validIf a string for alias, a list of strings for account_type (0112)."""
    if value is None:
        return
    rule, valid_if = value.get("ruleType"), value.get("validIf")
    if (rule is None) != (valid_if is None):
        missing, given = ("validIf", "ruleType") if valid_if is None else ("ruleType", "validIf")
        raise ValidationFailed(
            f"account.{missing} is required with account.{given}.",
            code="0009",
            entity_type=OPERATION_ROUTE,
            fields={f"account.{missing}": f"account.{missing} is a required field"},
        )
    if rule is None:
        return
    if rule not in ("alias", "account_type"):
        raise ValidationFailed(
            "account.ruleType must be alias or account_type.",
            code="0111",
            entity_type=OPERATION_ROUTE,
        )
    ok = (
        isinstance(valid_if, str) and valid_if.strip() != ""
        if rule == "alias"
        else isinstance(valid_if, list)
        and len(valid_if) > 0
        and all(isinstance(v, str) and v.strip() for v in valid_if)
    )
    if not ok:
        expected = "an alias" if rule == "alias" else "a list of account types"
        raise ValidationFailed(
            f"account.validIf must be {expected}.", code="0112", entity_type=OPERATION_ROUTE
        )


RUBRIC = F(
    "object",
    schema=Schema(
        "AccountingRubric",
        {
            "code": F("string", required=True, max_length=50),
            "description": F("string", required=True, max_length=250),
        },
    ),
)
ENTRY = F("object", schema=Schema("AccountingEntry", {"debit": RUBRIC, "credit": RUBRIC}))
ACCOUNTING_ENTRIES = F("object", schema=Schema("AccountingEntries", dict.fromkeys(ACTIONS, ENTRY)))
ACCOUNT_RULE = F(
    "object",
    schema=Schema(
        "AccountRule",
        {
            "ruleType": F("string", max_length=20, description="alias | account_type"),
            "validIf": F("any", description="an alias, or a list of account types"),
        },
    ),
    checks=(_account_rule,),
)
_COMMON = {
    "title": F("string", max_length=255),
    "description": F("string", max_length=250),
    "code": F("string", max_length=100),
    "account": ACCOUNT_RULE,
    "accountingEntries": ACCOUNTING_ENTRIES,
    "metadata": F("metadata"),
}
OPERATION_ROUTE_CREATE = Schema(
    "CreateOperationRouteInput",
    {
        **_COMMON,
        "title": F("string", required=True, max_length=255),
        "operationType": F("string", required=True, max_length=20, checks=(_operation_type,)),
    },
    entity_type=OPERATION_ROUTE,
)
OPERATION_ROUTE_UPDATE = Schema("UpdateOperationRouteInput", _COMMON, entity_type=OPERATION_ROUTE)

_ROUTE_IDS = F("array", items=F("uuid"), description="operation route ids")
TRANSACTION_ROUTE_CREATE = Schema(
    "CreateTransactionRouteInput",
    {
        "title": F("string", required=True, max_length=255),
        "description": F("string", max_length=250),
        "metadata": F("metadata"),
        "operationRoutes": F("array", required=True, items=F("uuid")),
    },
    entity_type=TRANSACTION_ROUTE,
)
TRANSACTION_ROUTE_UPDATE = Schema(
    "UpdateTransactionRouteInput",
    {
        "title": F("string", max_length=255),
        "description": F("string", max_length=250),
        "metadata": F("metadata"),
        "operationRoutes": _ROUTE_IDS,
    },
    entity_type=TRANSACTION_ROUTE,
)


def check_accounting_entries(operation_type: str, entries: dict[str, Any] | None) -> None:
    """The rules of MIDAZ_API.md §4.12 on a route's rubrics (all 422): revert only on a
    bidirectional route (0165); no hold or cancel on a destination (0162); hold, commit and
    cancel together (0163); every scenario needs direct (0164); the sides each action needs
    (0166)."""
    if not entries:
        return
    present = {action for action, entry in entries.items() if entry is not None}

    def refuse(code: str, message: str) -> BusinessRuleViolation:
        return BusinessRuleViolation(message, code=code, entity_type=OPERATION_ROUTE)

    if "revert" in present and operation_type != OperationRoute.Type.BIDIRECTIONAL:
        raise refuse("0165", "A revert rubric is allowed only on a bidirectional route.")
    if operation_type == OperationRoute.Type.DESTINATION and present & {"hold", "cancel"}:
        raise refuse("0162", "A destination route has no hold or cancel rubric.")
    if operation_type != OperationRoute.Type.DESTINATION and (
        ("hold" in present) != ("cancel" in present)
        or ("hold" in present and "commit" not in present)
    ):
        raise refuse("0163", "The hold, commit and cancel rubrics go together.")
    if "direct" not in present:
        raise refuse("0164", "Every route with rubrics needs a direct rubric.")
    for action in sorted(present):
        entry = entries[action] or {}
        if operation_type == OperationRoute.Type.BIDIRECTIONAL or action == "overdraft":
            needed = {"debit", "credit"}
        elif operation_type == OperationRoute.Type.SOURCE:
            needed = {"debit", "credit"} if action in ("hold", "cancel") else {"debit"}
        else:
            needed = {"credit"}
        missing = sorted(side for side in needed if not entry.get(side))
        if missing:
            raise refuse(
                "0166",
                f"The {action} rubric of a {operation_type} route needs {' and '.join(missing)}.",
            )


# --- wire format ------------------------------------------------------------------------------

_TIMES = {"createdAt": "date-time", "updatedAt": "date-time", "deletedAt": "date-time?"}
OPERATION_ROUTE_COMPONENT = component(
    "OperationRoute",
    {
        "id": "uuid",
        "organizationId": "uuid",
        "ledgerId": "uuid",
        "title": "string",
        "description": "string",
        "code": "string",
        "operationType": "string",
        "account": {"type": "object"},
        "accountingEntries": {"type": "object"},
        **_TIMES,
        "metadata": "metadata",
    },
    ["id", "title", "operationType"],
)
TRANSACTION_ROUTE_COMPONENT = component(
    "TransactionRoute",
    {
        "id": "uuid",
        "organizationId": "uuid",
        "ledgerId": "uuid",
        "title": "string",
        "description": "string",
        "operationRoutes": {"type": "array", "items": OPERATION_ROUTE_COMPONENT},
        **_TIMES,
        "metadata": "metadata",
    },
    ["id", "title", "operationRoutes"],
)


def operation_route_out(route: OperationRoute) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": route.id,
        "organizationId": route.organization_id,
        "ledgerId": route.ledger_id,
        "title": route.title,
        "description": route.description or "",
        "code": route.code or "",
        "operationType": route.operation_type,
    }
    if route.account:
        body["account"] = route.account
    if route.accounting_entries:
        body["accountingEntries"] = route.accounting_entries
    body.update(
        {
            "createdAt": route.created_at,
            "updatedAt": route.updated_at,
            "deletedAt": route.deleted_at,
            "metadata": route.metadata or {},
        }
    )
    return body


def transaction_route_out(route: TransactionRoute) -> dict[str, Any]:
    linked = sorted(
        (r for r in route.operation_routes.all() if r.deleted_at is None), key=lambda r: r.id
    )
    return {
        "id": route.id,
        "organizationId": route.organization_id,
        "ledgerId": route.ledger_id,
        "title": route.title,
        "description": route.description or "",
        "operationRoutes": [operation_route_out(r) for r in linked],
        "createdAt": route.created_at,
        "updatedAt": route.updated_at,
        "deletedAt": route.deleted_at,
        "metadata": route.metadata or {},
    }


# --- writes -----------------------------------------------------------------------------------


def _clean_entries(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    if not raw:
        return None
    return {action: entry for action, entry in raw.items() if entry is not None} or None


def _clean_account(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    if not raw or raw.get("ruleType") is None:
        return None
    return {"ruleType": raw["ruleType"], "validIf": raw["validIf"]}


@transaction.atomic
def operation_route_create(*, ledger: Ledger, data: dict[str, Any]) -> OperationRoute:
    entries = _clean_entries(data.get("accountingEntries"))
    check_accounting_entries(data["operationType"], entries)
    return OperationRoute.objects.create(
        organization_id=ledger.organization_id,
        ledger=ledger,
        title=data["title"],
        description=data.get("description") or None,
        code=data.get("code") or None,
        operation_type=data["operationType"],
        account=_clean_account(data.get("account")),
        accounting_entries=entries,
        metadata=merge_metadata({}, data),
    )


@transaction.atomic
def operation_route_update(*, route: OperationRoute, data: dict[str, Any]) -> OperationRoute:
    lock_for_update(route)  # a concurrent PATCH merges into this one's metadata, not over it
    if "accountingEntries" in data:
        entries = _clean_entries(data["accountingEntries"])
        check_accounting_entries(route.operation_type, entries)
        route.accounting_entries = entries
    if "account" in data:
        route.account = _clean_account(data["account"])
    for field, name in (("title", "title"), ("description", "description"), ("code", "code")):
        if data.get(field):
            setattr(route, name, data[field])
    route.metadata = merge_metadata(route.metadata, data)
    route.updated_at = timezone.now()
    route.save()
    return route


@transaction.atomic
def operation_route_delete(*, route: OperationRoute) -> None:
    """Soft delete; 0107 while a live transaction route uses it."""
    if route.transaction_routes.filter(deleted_at__isnull=True).exists():
        raise BusinessRuleViolation(
            "The operation route is part of a transaction route; remove it from there first.",
            code="0107",
            entity_type=OPERATION_ROUTE,
        )
    route.deleted_at = timezone.now()
    route.save(update_fields=["deleted_at"])


def _operation_routes(ledger: Ledger, ids: list[uuid.UUID]) -> list[OperationRoute]:
    """The live operation routes of the ledger with these ids (0101 for any other), checked to
    cover both sides: a source-capable one (0153) and a destination-capable one (0154)."""
    if len(ids) > MAX_OPERATION_ROUTES:
        raise ValidationFailed(
            f"At most {MAX_OPERATION_ROUTES} operation routes.",
            code="0158",
            entity_type=TRANSACTION_ROUTE,
        )
    wanted = list(dict.fromkeys(ids))
    for route_id in wanted:
        try:
            uuid.UUID(str(route_id))
        except ValueError:
            # An empty item passes the body's uuid check (empty reads as absent): no such route.
            raise not_found(
                "0101", OPERATION_ROUTE, f"Operation route {route_id!r} was not found."
            ) from None
    found = {r.id: r for r in OperationRoute.objects.filter(ledger_id=ledger.id, pk__in=wanted)}
    for route_id in wanted:
        if route_id not in found:
            raise not_found("0101", OPERATION_ROUTE, f"Operation route {route_id} was not found.")
    kinds = {r.operation_type for r in found.values()}
    if not kinds & {OperationRoute.Type.SOURCE, OperationRoute.Type.BIDIRECTIONAL}:
        raise ValidationFailed(
            "A transaction route needs a source (or bidirectional) operation route.",
            code="0153",
            entity_type=TRANSACTION_ROUTE,
        )
    if not kinds & {OperationRoute.Type.DESTINATION, OperationRoute.Type.BIDIRECTIONAL}:
        raise ValidationFailed(
            "A transaction route needs a destination (or bidirectional) operation route.",
            code="0154",
            entity_type=TRANSACTION_ROUTE,
        )
    return [found[i] for i in wanted]


@transaction.atomic
def transaction_route_create(*, ledger: Ledger, data: dict[str, Any]) -> TransactionRoute:
    routes = _operation_routes(ledger, data["operationRoutes"])
    route = TransactionRoute.objects.create(
        organization_id=ledger.organization_id,
        ledger=ledger,
        title=data["title"],
        description=data.get("description") or None,
        metadata=merge_metadata({}, data),
    )
    route.operation_routes.set(routes)
    return route


@transaction.atomic
def transaction_route_update(*, route: TransactionRoute, data: dict[str, Any]) -> TransactionRoute:
    """``operationRoutes``, when given, replaces the set: 2 to 100 ids (0104, 0158)."""
    lock_for_update(route)  # a concurrent PATCH merges into this one's metadata, not over it
    if "operationRoutes" in data:
        ids = data["operationRoutes"] or []
        if len(ids) < 2:
            raise ValidationFailed(
                "operationRoutes must hold at least 2 operation routes.",
                code="0104",
                entity_type=TRANSACTION_ROUTE,
            )
        route.operation_routes.set(_operation_routes(route.ledger, ids))
    for field in ("title", "description"):
        if data.get(field):
            setattr(route, field, data[field])
    route.metadata = merge_metadata(route.metadata, data)
    route.updated_at = timezone.now()
    route.save()
    return route


@transaction.atomic
def transaction_route_delete(*, route: TransactionRoute) -> None:
    """Soft delete, and the operation routes are unlinked (they can be deleted after)."""
    route.operation_routes.clear()
    route.deleted_at = timezone.now()
    route.save(update_fields=["deleted_at"])
