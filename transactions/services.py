"""Writes that span onboarding and balances: opening accounts with their ``default`` balance,
creating an asset with its ``@external/<CODE>`` account, and deleting both."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import router, transaction
from django.db.models import Q
from django.utils import timezone

from midaz.exceptions import BusinessRuleViolation
from onboarding import services as onboarding
from onboarding.models import Account, Asset, Ledger
from transactions.models import Balance, QueuedPosting


def balance_open(*, account: Account, key: str = Balance.DEFAULT_KEY, **flags: Any) -> Balance:
    """Creates a balance of ``account`` (zero, version 0). External accounts get ``debit``."""
    direction = Balance.Direction.DEBIT if account.is_external else Balance.Direction.CREDIT
    balance = Balance(
        organization_id=account.organization_id,
        ledger_id=account.ledger_id,
        account=account,
        alias=account.alias,
        key=key,
        asset_code=account.asset_code,
        account_type=account.type,
        direction=flags.pop("direction", direction),
        **flags,
    )
    balance.save(force_insert=True)
    return balance


@transaction.atomic
def account_create(*, ledger: Ledger, data: dict[str, Any]) -> Account:
    """Opens an account and its ``default`` balance in one database transaction.

    Raises what ``onboarding.services.account_build`` raises, and 0020 (alias taken).
    """
    account = onboarding.account_save(onboarding.account_build(ledger=ledger, data=data))
    balance_open(account=account)
    return account


@transaction.atomic
def asset_create(*, ledger: Ledger, data: dict[str, Any]) -> Asset:
    """Creates an asset and, if absent, its ``@external/<CODE>`` account with a ``debit``
    default balance. Raises 0003 (name or code taken)."""
    asset = onboarding.asset_create(ledger=ledger, data=data)
    alias = f"@external/{asset.code}"
    if not Account.objects.filter(ledger=ledger, alias=alias).exists():
        external = Account(
            organization_id=ledger.organization_id,
            ledger=ledger,
            name=f"External {asset.code}",
            alias=alias,
            asset_code=asset.code,
            type=Account.EXTERNAL,
            status="external",
            status_description=f"Account external created by asset: {asset.code}",
        )
        onboarding.account_save(external)
        balance_open(account=external)
    return asset


def _soft_delete_balances(accounts: list[Account]) -> None:
    now = timezone.now()
    Balance.objects.filter(account__in=accounts).update(deleted_at=now, updated_at=now)


@transaction.atomic
def account_delete(*, account: Account) -> None:
    """Soft-deletes an account and its balances. Locks the balances; raises 0074 (external)
    and 0012 (a balance still holds funds or owes overdraft: its internal ``overdraft``
    balance is not zero either, and deleting would erase the debt)."""
    onboarding.account_check_deletable(account)
    balances = list(
        Balance.objects.filter(account=account).order_by("pk").select_for_update(of=("self",))
    )
    if any(
        b.available != Decimal(0) or b.on_hold != Decimal(0) or b.overdraft_used != Decimal(0)
        for b in balances
    ):
        raise BusinessRuleViolation(
            "The account still holds funds in one of its balances.",
            code="0012",
            entity_type="Account",
        )
    _soft_delete_balances([account])
    onboarding.account_soft_delete(account)


@transaction.atomic
def asset_delete(*, asset: Asset) -> None:
    """Soft-deletes an asset with its external account(s) and their balances. Raises 0012 while
    any balance of the asset in the ledger holds or owes anything (its external account's
    included: what it shows came into or left the ledger, and deleting would erase that): the
    balances are locked, so a posting cannot move them between the check and the delete.
    Raises 0012 too while an asynchronous posting of the ledger that names the asset (as its
    own asset or a converted leg's) is queued and not applied: it was accepted, and applying
    it after the delete would find the external account gone. (One accepted while this runs is
    not seen: the accept step takes no lock that this could wait for.)"""
    held = (
        Balance.objects.filter(ledger_id=asset.ledger_id, asset_code=asset.code)
        .order_by("pk")
        .select_for_update(of=("self",))
        .values_list("available", "on_hold", "overdraft_used")
    )
    if any(amount != Decimal(0) for row in held for amount in row):
        raise BusinessRuleViolation(
            "The asset cannot be deleted: a balance in it, its external account's included, "
            "still holds an amount.",
            code="0012",
            entity_type="Asset",
        )
    # On the primary (this is a write's transaction): the queue entry is written there.
    queued = QueuedPosting.objects.using(router.db_for_write(QueuedPosting)).filter(
        Q(tx__asset_code=asset.code) | Q(legs__contains=[{"asset": asset.code}]),
        ledger_id=asset.ledger_id,
    )
    if queued.exists():
        raise BusinessRuleViolation(
            "The asset cannot be deleted: an asynchronous transaction in it is still queued.",
            code="0012",
            entity_type="Asset",
        )
    externals = list(
        Account.objects.filter(
            ledger_id=asset.ledger_id, alias=f"@external/{asset.code}", type=Account.EXTERNAL
        )
    )
    _soft_delete_balances(externals)
    for external in externals:
        onboarding.account_soft_delete(external)
    onboarding.asset_soft_delete(asset=asset)
