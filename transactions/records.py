"""In-memory records of the rows a posting has just written.

The create path answers from what it sent to ``midaz_post`` and what the function returned,
without reading the rows back. These slotted records carry the attributes the serializers
read from a :class:`~transactions.models.Transaction` or
:class:`~transactions.models.Operation`, at a fraction of the cost of building model
instances (which the profile of the create path showed).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass(slots=True)
class TransactionRecord:
    id: uuid.UUID
    organization_id: uuid.UUID
    ledger_id: uuid.UUID
    parent_transaction_id: uuid.UUID | None
    description: str | None
    code: str | None
    status: str
    status_description: str | None
    amount: Decimal
    asset_code: str
    chart_of_accounts_group_name: str | None
    source: list[str]
    destination: list[str]
    body: dict[str, Any] | None
    route: str | None
    route_id: uuid.UUID | None
    fees_skipped: bool
    tracer_skipped: bool
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None


@dataclass(slots=True)
class OperationRecord:
    id: uuid.UUID
    organization_id: uuid.UUID
    ledger_id: uuid.UUID
    transaction_id: uuid.UUID
    description: str | None
    type: str
    direction: str
    asset_code: str
    chart_of_accounts: str | None
    amount: Decimal
    available_before: Decimal
    on_hold_before: Decimal
    version_before: int
    available_after: Decimal
    on_hold_after: Decimal
    version_after: int
    account_id: uuid.UUID
    account_alias: str
    balance_id: uuid.UUID
    balance_key: str
    balance_affected: bool
    route: str | None
    route_id: uuid.UUID | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    overdraft_used_before: Decimal = field(default_factory=Decimal)
    overdraft_used_after: Decimal = field(default_factory=Decimal)
    route_code: str | None = None
    route_description: str | None = None
    status: str | None = None
    rate: dict[str, Any] | None = None
    deleted_at: datetime | None = None
