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
from transactions.models import Balance, QueuedPosting, Transaction


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


def _refuse_while_in_flight(
    *, ledger_id: Any, entity_type: str, alias: str | None = None, asset: str | None = None
) -> None:
    """Raises 0012 while a posting of the ledger that was accepted and is not finished names
    the account ``alias`` or the asset ``asset``: an asynchronous posting still queued (the
    worker resolves its legs by alias and asset when it applies them), or a PENDING
    transaction (its commit or cancel resolves them again). Deleting under either would let
    that posting fail, or move an account or external balance opened later with the freed
    alias or code.

    Read on the primary, where both are written. The caller must have locked the balances the
    delete removes (FOR UPDATE) before calling: a synchronous posting or hold locks the
    balances it names FOR UPDATE and keeps only those not deleted, so it either committed
    before the lock was granted (and this sees it: each statement here reads what is
    committed when it starts) or waits for the delete and then finds the balances gone."""
    db = router.db_for_write(QueuedPosting)
    queued = QueuedPosting.objects.using(db).filter(ledger_id=ledger_id)
    pending = Transaction.objects.using(db).filter(
        ledger_id=ledger_id, status=Transaction.Status.PENDING, deleted_at__isnull=True
    )
    if alias is not None:
        queued = queued.filter(legs__contains=[{"alias": alias}])
        pending = pending.filter(Q(source__contains=[alias]) | Q(destination__contains=[alias]))
    if asset is not None:
        queued = queued.filter(Q(tx__asset_code=asset) | Q(legs__contains=[{"asset": asset}]))
        # A hold's stored body (transactions.spec.spec_to_dict) keeps each converted entry's
        # rate as [from, to, value, external id]: containment finds the code in either place
        # (a value is a number and a code is letters only; an external id spelled like the
        # code refuses more, never less).
        pending = pending.filter(
            Q(asset_code=asset)
            | Q(body__sources__contains=[{"rate": [asset]}])
            | Q(body__destinations__contains=[{"rate": [asset]}])
            | Q(body__sources__contains=[{"amountAsset": asset}])
            | Q(body__destinations__contains=[{"amountAsset": asset}])
        )
    what = "account" if alias is not None else "asset"
    if queued.exists():
        raise BusinessRuleViolation(
            f"The {what} cannot be deleted: an asynchronous transaction that names it is "
            "still queued.",
            code="0012",
            entity_type=entity_type,
        )
    if pending.exists():
        raise BusinessRuleViolation(
            f"The {what} cannot be deleted: a pending transaction names it; commit or cancel "
            "it first.",
            code="0012",
            entity_type=entity_type,
        )


@transaction.atomic
def account_delete(*, account: Account) -> None:
    """Soft-deletes an account and its balances. Locks the balances; raises 0074 (external)
    and 0012 (a balance still holds funds or owes overdraft: its internal ``overdraft``
    balance is not zero either, and deleting would erase the debt; or an asynchronous posting
    still queued, or a PENDING transaction, names its alias: see _refuse_while_in_flight).

    Not closed: an asynchronous posting whose accept step resolved the account before this
    commits and whose queue row commits after this one's check is not seen (the accept
    statement locks no balance that this could wait for, nor checks the balances again); the
    worker would then resolve its legs by alias when it applies them."""
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
    _refuse_while_in_flight(ledger_id=account.ledger_id, alias=account.alias, entity_type="Account")
    _soft_delete_balances([account])
    onboarding.account_soft_delete(account)


@transaction.atomic
def asset_delete(*, asset: Asset) -> None:
    """Soft-deletes an asset with its external account(s) and their balances. Raises 0012 while
    any balance of the asset in the ledger holds or owes anything (its external account's
    included: what it shows came into or left the ledger, and deleting would erase that): the
    balances are locked, so a posting cannot move them between the check and the delete.
    Raises 0012 too while an asynchronous posting of the ledger that names the asset (as its
    own asset or a converted leg's) is queued and not applied, or while a PENDING transaction
    of the ledger is in the asset or converts into or out of it: either was accepted, and
    finishing it after the delete would find the external account gone, or go through a new
    one if the asset were created again (_refuse_while_in_flight). Not closed: a posting
    accepted asynchronously while this runs (the accept step takes no lock that this could
    wait for), and a hold that converts into the asset without naming any of its balances
    (a conversion's external legs are written at commit), resolved before this commits and
    written after."""
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
    _refuse_while_in_flight(ledger_id=asset.ledger_id, asset=asset.code, entity_type="Asset")
    externals = list(
        Account.objects.filter(
            ledger_id=asset.ledger_id, alias=f"@external/{asset.code}", type=Account.EXTERNAL
        )
    )
    _soft_delete_balances(externals)
    for external in externals:
        onboarding.account_soft_delete(external)
    onboarding.asset_soft_delete(asset=asset)
