"""How transactions, operations and balances look on the wire (MIDAZ_API.md §3, §4.7)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from midaz.api.openapi import component
from transactions.models import Balance, Operation, Transaction
from transactions.records import OperationRecord, TransactionRecord

_TIMES = {"createdAt": "date-time", "updatedAt": "date-time", "deletedAt": "date-time?"}
_SNAPSHOT = {
    "type": "object",
    "properties": {
        "available": {"type": "string"},
        "onHold": {"type": "string"},
        "version": {"type": "integer"},
        "overdraftUsed": {"type": "string"},
    },
}


def operation_out(op: Operation | OperationRecord) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": op.id,
        "transactionId": op.transaction_id,
        "description": op.description or "",
        "type": op.type,
        "assetCode": op.asset_code,
        "chartOfAccounts": op.chart_of_accounts or "",
        "amount": {"value": op.amount},
        "balance": {
            "available": op.available_before,
            "onHold": op.on_hold_before,
            "version": op.version_before,
            "overdraftUsed": op.overdraft_used_before,
        },
        "balanceAfter": {
            "available": op.available_after,
            "onHold": op.on_hold_after,
            "version": op.version_after,
            "overdraftUsed": op.overdraft_used_after,
        },
        "status": {"code": op.status or "", "description": None},
        "accountId": op.account_id,
        "accountAlias": op.account_alias,
        "balanceKey": op.balance_key,
        "balanceId": op.balance_id,
        "organizationId": op.organization_id,
        "ledgerId": op.ledger_id,
        "route": op.route or "",
        "balanceAffected": op.balance_affected,
        "direction": op.direction,
        "createdAt": op.created_at,
        "updatedAt": op.updated_at,
        "deletedAt": op.deleted_at,
        "metadata": op.metadata or {},
    }
    if op.route_id:
        body["routeId"] = op.route_id
    if op.route_code:
        body["routeCode"] = op.route_code
    if op.route_description:
        body["routeDescription"] = op.route_description
    if op.rate:
        body["rate"] = op.rate  # a cross-asset entry's conversion (beyond Midaz)
    return body


OPERATION = component(
    "Operation",
    {
        "id": "uuid",
        "transactionId": "uuid",
        "description": "string",
        "type": "string",
        "assetCode": "string",
        "chartOfAccounts": "string",
        "amount": {"type": "object", "properties": {"value": {"type": "string"}}},
        "balance": _SNAPSHOT,
        "balanceAfter": _SNAPSHOT,
        "status": "status",
        "accountId": "uuid",
        "accountAlias": "string",
        "balanceKey": "string",
        "balanceId": "uuid",
        "organizationId": "uuid",
        "ledgerId": "uuid",
        "route": "string",
        "routeId": "uuid",
        "routeCode": "string",
        "routeDescription": "string",
        "balanceAffected": "bool",
        "direction": "string",
        "rate": {
            "type": "object",
            "description": "A cross-asset entry's conversion (beyond Midaz): units of `to` per "
            "unit of `from`, and `amount` in `from`; `of` names the converted entry on the "
            "external legs that balance each asset.",
            "properties": {
                "from": {"type": "string"},
                "to": {"type": "string"},
                "value": {"type": "string"},
                "externalId": {"type": "string"},
                "amount": {"type": "string"},
                "of": {"type": "string"},
            },
        },
        **_TIMES,
        "metadata": "metadata",
    },
    ["id", "transactionId", "type", "amount", "accountAlias"],
)


def transaction_out(
    tx: Transaction | TransactionRecord,
    operations: Iterable[Operation | OperationRecord],
    status: str | None = None,
) -> dict[str, Any]:
    """``status`` overrides the stored one (a create answers CREATED, storage says APPROVED)."""
    code = status or tx.status
    body: dict[str, Any] = {"id": tx.id}
    if tx.parent_transaction_id:
        body["parentTransactionId"] = tx.parent_transaction_id
    body.update(
        {
            "description": tx.description or "",
            "status": {
                "code": code,
                "description": code if status else (tx.status_description or code),
            },
            "amount": tx.amount,
            "assetCode": tx.asset_code,
            "chartOfAccountsGroupName": tx.chart_of_accounts_group_name or "",
            "source": tx.source,
            "destination": tx.destination,
            "ledgerId": tx.ledger_id,
            "organizationId": tx.organization_id,
            "route": tx.route or "",
            "feesSkipped": tx.fees_skipped,
            "tracerSkipped": tx.tracer_skipped,
            "createdAt": tx.created_at,
            "updatedAt": tx.updated_at,
            "deletedAt": tx.deleted_at,
            "metadata": tx.metadata or {},
            "operations": [operation_out(op) for op in operations],
        }
    )
    if tx.route_id:
        body["routeId"] = tx.route_id
    return body


TRANSACTION = component(
    "Transaction",
    {
        "id": "uuid",
        "parentTransactionId": "uuid",
        "description": "string",
        "status": "status",
        "amount": "decimal",
        "assetCode": "string",
        "chartOfAccountsGroupName": "string",
        "source": {"type": "array", "items": {"type": "string"}},
        "destination": {"type": "array", "items": {"type": "string"}},
        "ledgerId": "uuid",
        "organizationId": "uuid",
        "route": "string",
        "routeId": "uuid",
        "feesSkipped": "bool",
        "tracerSkipped": "bool",
        **_TIMES,
        "metadata": "metadata",
        "operations": {"type": "array", "items": {"$ref": "#/components/schemas/Operation"}},
    },
    ["id", "status", "amount", "assetCode"],
)


def balance_out(balance: Balance) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": balance.id,
        "organizationId": balance.organization_id,
        "ledgerId": balance.ledger_id,
        "accountId": balance.account_id,
        "alias": balance.alias,
        "key": balance.key,
        "assetCode": balance.asset_code,
        "available": balance.available,
        "onHold": balance.on_hold,
        "version": balance.version,
        "accountType": balance.account_type,
        "allowSending": balance.allow_sending,
        "allowReceiving": balance.allow_receiving,
        "direction": balance.direction,
        "overdraftUsed": balance.overdraft_used,
        "createdAt": balance.created_at,
        "updatedAt": balance.updated_at,
        "deletedAt": balance.deleted_at,
    }
    if balance.settings:
        body["settings"] = balance.settings
    if balance.metadata:
        body["metadata"] = balance.metadata
    return body


BALANCE = component(
    "Balance",
    {
        "id": "uuid",
        "organizationId": "uuid",
        "ledgerId": "uuid",
        "accountId": "uuid",
        "alias": "string",
        "key": "string",
        "assetCode": "string",
        "available": "decimal",
        "onHold": "decimal",
        "version": "int",
        "accountType": "string",
        "allowSending": "bool",
        "allowReceiving": "bool",
        "direction": "string",
        "overdraftUsed": "decimal",
        "settings": "object",
        **_TIMES,
        "metadata": "metadata",
    },
    ["id", "alias", "key", "assetCode", "available", "onHold", "version"],
)
