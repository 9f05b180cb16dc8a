"""Reads of balances and operations (MIDAZ_API.md §3, §4.8), including the state of a balance
at a past instant rebuilt from its operations.

Everything here is a plain read: no locks, so the database router may serve it from the
replica (``get_or_404`` retries a miss on the primary).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, F, Max, QuerySet, Sum

from midaz.lookup import get_or_404
from midaz.models import AmountField
from onboarding.models import Account, Ledger
from transactions.models import Balance, Operation
from transactions.records import OperationRecord

# --- balances ---------------------------------------------------------------------------------


def balances_of_ledger(ledger: Ledger) -> QuerySet[Balance]:
    return Balance.objects.filter(ledger_id=ledger.id)


def balances_of_account(account: Account) -> QuerySet[Balance]:
    return Balance.objects.filter(ledger_id=account.ledger_id, account_id=account.id)


def _in_live_ledger(organization_id: uuid.UUID, ledger_id: uuid.UUID) -> QuerySet[Balance]:
    """Balances of a live ledger of the organization, the ledger checked in the same query
    (the hot reads spend one round trip, not one per level of the path), as
    ``ledger_or_404`` checks it."""
    return Balance.objects.filter(
        ledger_id=ledger_id, organization_id=organization_id, ledger__deleted_at__isnull=True
    )


def balances_by_alias(
    organization_id: uuid.UUID, ledger_id: uuid.UUID, alias: str
) -> list[Balance]:
    """The live balances of the live account with this alias, in id order; empty when any
    level of the path is missing (the caller then finds which)."""
    return list(
        _in_live_ledger(organization_id, ledger_id)
        .filter(alias=alias, account__deleted_at__isnull=True)
        .order_by("id")
    )


def balance_in_live_ledger(
    organization_id: uuid.UUID, ledger_id: uuid.UUID, balance_id: uuid.UUID
) -> Balance | None:
    return _in_live_ledger(organization_id, ledger_id).filter(pk=balance_id).first()


def balance_get(ledger: Ledger, balance_id: uuid.UUID) -> Balance:
    """One live balance of the ledger; 404 0007 (entity ``Balance``) otherwise."""
    return get_or_404(balances_of_ledger(ledger), code="0007", entity_type="Balance", pk=balance_id)


def account_get(ledger: Ledger, account_id: uuid.UUID) -> Account:
    """One live account of the ledger; 404 0052 otherwise."""
    return get_or_404(
        Account.objects.filter(ledger_id=ledger.id),
        code="0052",
        entity_type="Account",
        pk=account_id,
    )


def account_by_alias(ledger: Ledger, alias: str) -> Account:
    """The live account with this alias; 404 0085 otherwise."""
    return get_or_404(
        Account.objects.filter(ledger_id=ledger.id),
        code="0085",
        entity_type="Account",
        alias=alias,
    )


# --- operations -------------------------------------------------------------------------------

_OPERATION_COLUMNS = tuple(f.name for f in dataclasses.fields(OperationRecord))


def operation_records(
    transaction_ids: Iterable[uuid.UUID],
) -> dict[uuid.UUID, list[OperationRecord]]:
    """The live operations of these transactions, as records (no model instances: a page of
    50 transactions holds 100 or more operations), in answer order: creation time, then id."""
    by_transaction: dict[uuid.UUID, list[OperationRecord]] = defaultdict(list)
    rows = (
        Operation.objects.filter(transaction_id__in=list(transaction_ids))
        .order_by("created_at", "id")
        .values(*_OPERATION_COLUMNS)
    )
    for row in rows:
        by_transaction[row["transaction_id"]].append(OperationRecord(**row))
    return by_transaction


def operations_of_account(account: Account) -> QuerySet[Operation]:
    return Operation.objects.filter(ledger_id=account.ledger_id, account_id=account.id)


def operation_of_account(account: Account, operation_id: uuid.UUID) -> Operation:
    """One operation of the account. Midaz answers a miss here with 0069 ("No Operations
    Found"), not 0068 (MIDAZ_API.md §4.8), and so do we."""
    return get_or_404(
        operations_of_account(account), code="0069", entity_type="Operation", pk=operation_id
    )


# --- point-in-time state ----------------------------------------------------------------------


@dataclass(frozen=True)
class BalanceState:
    """A balance as it stood at one instant: the live row supplies identity and settings, the
    last operation at or before that instant supplies the amounts and the version."""

    balance: Balance
    available: Decimal
    on_hold: Decimal
    version: int
    overdraft_used: Decimal
    updated_at: datetime


def balances_at(balances: Iterable[Balance], moment: datetime) -> list[BalanceState]:
    """The state of each balance at ``moment``, in the order given.

    The state at a moment is the replay of the operations in effect by then: those with
    ``created_at <= moment``. A back-dated posting (``transactionDate`` in the past) writes
    operations whose ``created_at`` is that date while their before/after snapshots follow the
    order they were applied in, so no single operation's "after" snapshot is the answer once
    one exists (it would count later postings applied before it, or miss the back-dated one).
    Each operation moved the balance by ``after - before`` (the snapshots chain, one version
    per operation), so the state is the sum of those moves, exact in PostgreSQL ``NUMERIC``;
    the version is their count (the version the replay reaches: one per operation, as each
    operation raised it), ``updatedAt`` the latest of their instants. A
    balance with no such operation is in its initial state (zero, version 0) if it already
    existed then, and is left out if it did not. Annotation operations (``balance_affected``
    false) move nothing and are ignored.
    """
    rows = list(balances)
    if not rows:
        return []
    moved = {
        row["balance_id"]: row
        for row in Operation.objects.filter(
            balance_id__in=[b.id for b in rows], balance_affected=True, created_at__lte=moment
        )
        .order_by()
        .values("balance_id")
        .annotate(
            available=Sum(F("available_after") - F("available_before"), output_field=AmountField()),
            on_hold=Sum(F("on_hold_after") - F("on_hold_before"), output_field=AmountField()),
            overdraft_used=Sum(
                F("overdraft_used_after") - F("overdraft_used_before"), output_field=AmountField()
            ),
            version=Count("id"),
            updated_at=Max("created_at"),
        )
    }
    states = []
    for balance in rows:
        row = moved.get(balance.id)
        if row is not None:
            states.append(
                BalanceState(
                    balance=balance,
                    available=row["available"],
                    on_hold=row["on_hold"],
                    version=row["version"],
                    overdraft_used=row["overdraft_used"],
                    updated_at=row["updated_at"],
                )
            )
        elif balance.created_at <= moment:
            states.append(
                BalanceState(
                    balance=balance,
                    available=Decimal(0),
                    on_hold=Decimal(0),
                    version=0,
                    overdraft_used=Decimal(0),
                    updated_at=balance.created_at,
                )
            )
    return states
