"""The plain description of a posting, shared by every input (JSON, Gold DSL, inflow, outflow,
revert). Pure Python: no Django import, so the DSL parser and the resolver can use it alone."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

DEFAULT_BALANCE_KEY = "default"


@dataclass(frozen=True)
class Share:
    """``value * percentage/100 * (percentage_of_percentage or 100)/100``."""

    percentage: int
    percentage_of_percentage: int = 0


@dataclass(frozen=True)
class Rate:
    """An exchange rate named by an entry; recorded with the operation."""

    from_asset: str
    to_asset: str
    value: Decimal
    external_id: str = ""


@dataclass(frozen=True)
class Entry:
    """One ``from`` or ``to`` entry. Exactly one of ``amount``, ``share``, ``remaining`` is set
    by the JSON input (the DSL may leave zero amounts, which resolve to nothing)."""

    account_alias: str
    balance_key: str = DEFAULT_BALANCE_KEY
    amount: Decimal | None = None
    amount_asset: str | None = None
    share: Share | None = None
    remaining: bool = False
    description: str | None = None
    chart_of_accounts: str | None = None
    metadata: Mapping[str, Any] | None = None
    route: str | None = None
    route_id: uuid.UUID | None = None
    rate: Rate | None = None


@dataclass(frozen=True)
class TransactionSpec:
    """A posting request, before resolution."""

    asset: str
    value: Decimal
    sources: tuple[Entry, ...]
    destinations: tuple[Entry, ...]
    description: str | None = None
    code: str | None = None
    chart_of_accounts_group_name: str | None = None
    pending: bool = False
    metadata: Mapping[str, Any] = field(default_factory=dict)
    transaction_date: datetime | None = None
    route: str | None = None
    route_id: uuid.UUID | None = None
    skip_fees: bool = False
    skip_tracer: bool = False


def _entry_to_dict(entry: Entry) -> dict[str, Any]:
    return {
        "accountAlias": entry.account_alias,
        "balanceKey": entry.balance_key,
        "amount": None if entry.amount is None else str(entry.amount),
        "amountAsset": entry.amount_asset,
        "share": None
        if entry.share is None
        else [entry.share.percentage, entry.share.percentage_of_percentage],
        "remaining": entry.remaining,
        "description": entry.description,
        "chartOfAccounts": entry.chart_of_accounts,
        "metadata": dict(entry.metadata) if entry.metadata else None,
        "route": entry.route,
        "routeId": None if entry.route_id is None else str(entry.route_id),
        "rate": None
        if entry.rate is None
        else [
            entry.rate.from_asset,
            entry.rate.to_asset,
            str(entry.rate.value),
            entry.rate.external_id,
        ],
    }


def _entry_from_dict(raw: dict[str, Any]) -> Entry:
    share, rate = raw.get("share"), raw.get("rate")
    return Entry(
        account_alias=raw["accountAlias"],
        balance_key=raw.get("balanceKey") or DEFAULT_BALANCE_KEY,
        amount=None if raw.get("amount") is None else Decimal(raw["amount"]),
        amount_asset=raw.get("amountAsset"),
        share=None if share is None else Share(share[0], share[1]),
        remaining=bool(raw.get("remaining")),
        description=raw.get("description"),
        chart_of_accounts=raw.get("chartOfAccounts"),
        metadata=raw.get("metadata"),
        route=raw.get("route"),
        route_id=None if raw.get("routeId") is None else uuid.UUID(raw["routeId"]),
        rate=None if rate is None else Rate(rate[0], rate[1], Decimal(rate[2]), rate[3]),
    )


def spec_to_dict(spec: TransactionSpec) -> dict[str, Any]:
    """A JSON-ready copy of a spec (kept with a pending transaction until commit or cancel)."""
    return {
        "asset": spec.asset,
        "value": str(spec.value),
        "sources": [_entry_to_dict(e) for e in spec.sources],
        "destinations": [_entry_to_dict(e) for e in spec.destinations],
        "description": spec.description,
        "code": spec.code,
        "chartOfAccountsGroupName": spec.chart_of_accounts_group_name,
        "pending": spec.pending,
        "metadata": dict(spec.metadata),
        "route": spec.route,
        "routeId": None if spec.route_id is None else str(spec.route_id),
    }


def spec_from_dict(raw: dict[str, Any]) -> TransactionSpec:
    return TransactionSpec(
        asset=raw["asset"],
        value=Decimal(raw["value"]),
        sources=tuple(_entry_from_dict(e) for e in raw["sources"]),
        destinations=tuple(_entry_from_dict(e) for e in raw["destinations"]),
        description=raw.get("description"),
        code=raw.get("code"),
        chart_of_accounts_group_name=raw.get("chartOfAccountsGroupName"),
        pending=bool(raw.get("pending")),
        metadata=raw.get("metadata") or {},
        route=raw.get("route"),
        route_id=None if raw.get("routeId") is None else uuid.UUID(raw["routeId"]),
    )
