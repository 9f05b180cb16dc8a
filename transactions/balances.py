"""Writes on balances (MIDAZ_API.md §3) and on the editable fields of operations (§4.8).

Amounts never change here: ``available``, ``onHold`` and ``version`` belong to the posting
engine. The rules of this module are the balance settings (SEMANTICS.md §4.4, settings part),
the reserved and unique keys, and the refusal to touch system (``internal``) balances.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings as django_settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from midaz.api.validation import amount_digits
from midaz.exceptions import BusinessRuleViolation, Conflict, ValidationFailed
from midaz.lookup import conflicts, get_or_404
from onboarding.models import Account, Ledger
from onboarding.services import merge_metadata
from transactions.models import Balance, Operation
from transactions.services import balance_open

ENTITY = "Balance"
OVERDRAFT_KEY = "overdraft"
SCOPE_INTERNAL = "internal"
SCOPE_TRANSACTIONAL = "transactional"
DIRECTIONS = (Balance.Direction.CREDIT.value, Balance.Direction.DEBIT.value)

_DUPLICATE_KEY = ("0123", ENTITY, "The account already has a balance with this key.")


def _invalid_settings(message: str) -> ValidationFailed:
    return ValidationFailed(message, code="0172", entity_type=ENTITY)


# An overdraft limit as written: ASCII digits with an optional fraction, nothing else (Python's
# Decimal also reads other scripts' digits, "1_000", exponents, signs, blanks, NaN and Infinity,
# which PostgreSQL's numeric, that midaz_post casts the limit to, does not).
_LIMIT_TEXT = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)


def overdraft_limit_text(raw: Any) -> str:
    """The stored form of ``overdraftLimit``: its canonical decimal text (no leading zeros;
    decimal places as written, as PostgreSQL keeps them). Raises 0172 unless it is a string of
    ASCII digits with an optional fraction, greater than zero, of at most
    ``MAX_AMOUNT_DIGITS`` digits (the limit of amounts)."""
    if not isinstance(raw, str) or _LIMIT_TEXT.fullmatch(raw) is None:
        raise _invalid_settings(
            "settings.overdraftLimit must be a decimal string of ASCII digits with an optional "
            "fraction (such as '100' or '250.50') when overdraftLimitEnabled is true."
        )
    limit = Decimal(raw)
    if limit <= 0:
        raise _invalid_settings("settings.overdraftLimit must be greater than zero.")
    if amount_digits(limit) > django_settings.MAX_AMOUNT_DIGITS:
        raise _invalid_settings(
            f"settings.overdraftLimit must have at most {django_settings.MAX_AMOUNT_DIGITS} digits."
        )
    return format(limit, "f")


def settings_normalize(
    raw: dict[str, Any], *, direction: str | None = None, external: bool = False
) -> dict[str, Any]:
    """The stored form of a ``settings`` object whose JSON types were already checked, for a
    balance of ``direction`` (on an external account when ``external``; ``None`` while the
    balance is not known yet: the body check).

    Raises 0172 when: ``balanceScope`` is not "", "transactional" (``internal`` is reserved
    to balances the system creates); ``allowOverdraft`` is true on a debit-direction balance
    or an external account (only credit-direction balances can go into overdraft);
    ``overdraftLimitEnabled`` is true without a decimal ``overdraftLimit`` > 0 (ASCII digits,
    at most ``MAX_AMOUNT_DIGITS``: ``overdraft_limit_text``), or false with one.
    """
    scope = raw.get("balanceScope") or ""
    if scope not in ("", SCOPE_TRANSACTIONAL):
        raise _invalid_settings(
            "settings.balanceScope must be 'transactional' or empty; 'internal' is reserved "
            "to balances created by the system."
        )
    allow_overdraft = bool(raw.get("allowOverdraft"))
    if allow_overdraft and (direction not in (None, Balance.Direction.CREDIT) or external):
        raise _invalid_settings(
            "settings.allowOverdraft can be enabled only on a credit-direction balance of a "
            "non-external account."
        )
    limit_enabled = bool(raw.get("overdraftLimitEnabled"))
    raw_limit = raw.get("overdraftLimit")
    settings: dict[str, Any] = {}
    if scope:
        settings["balanceScope"] = scope
    settings["allowOverdraft"] = allow_overdraft
    settings["overdraftLimitEnabled"] = limit_enabled
    if limit_enabled:
        settings["overdraftLimit"] = overdraft_limit_text(raw_limit)
    elif raw_limit is not None:
        raise _invalid_settings(
            "settings.overdraftLimit must be absent when overdraftLimitEnabled is false."
        )
    return settings


def is_internal(balance: Balance) -> bool:
    return (balance.settings or {}).get("balanceScope") == SCOPE_INTERNAL


def _open_overdraft_companion(account: Account) -> None:
    """Opens the account's internal ``overdraft`` balance (debit direction), unless it has
    one. Postings draw on it and repay it (SEMANTICS.md §4.4); it cannot be addressed, updated
    or deleted (0168, 0175, 0169). A concurrent enabling on another balance of the account
    may create it first: the unique key (account, key) settles the race."""
    if Balance.objects.filter(account_id=account.id, key=OVERDRAFT_KEY).exists():
        return
    try:
        with transaction.atomic():
            balance_open(
                account=account,
                key=OVERDRAFT_KEY,
                direction=Balance.Direction.DEBIT,
                settings={
                    "balanceScope": SCOPE_INTERNAL,
                    "allowOverdraft": False,
                    "overdraftLimitEnabled": False,
                },
            )
    except IntegrityError:
        pass  # made by the concurrent request


@transaction.atomic
def balance_create(*, account: Account, data: dict[str, Any]) -> Balance:
    """Opens an additional balance (zero, version 0) on ``account`` from a checked body
    (``key``, ``allowSending``, ``allowReceiving``, ``direction``, ``settings``).

    Locks nothing: two concurrent creates of one key are told apart by the unique constraint
    on (account, key). Raises 0124 (external account), 0170 (key ``overdraft``), 0171 (bad
    direction), 0172 (bad settings) and 0123 (the key exists on the account).
    """
    if account.is_external:
        raise BusinessRuleViolation(
            "Additional balances cannot be created on external accounts.",
            code="0124",
            entity_type=ENTITY,
        )
    key = data["key"].lower()
    if key == OVERDRAFT_KEY:
        raise BusinessRuleViolation(
            "The balance key 'overdraft' is reserved to the system.",
            code="0170",
            entity_type=ENTITY,
        )
    direction = (data.get("direction") or Balance.Direction.CREDIT).lower()
    if direction not in DIRECTIONS:
        raise ValidationFailed(
            "direction must be 'credit' or 'debit'.", code="0171", entity_type=ENTITY
        )
    raw_settings = data.get("settings")
    settings = (
        settings_normalize(raw_settings, direction=direction) if raw_settings is not None else None
    )
    if Balance.objects.filter(account_id=account.id, key=key).exists():
        raise Conflict(_DUPLICATE_KEY[2], code=_DUPLICATE_KEY[0], entity_type=ENTITY)
    with conflicts({"balance_account_key": _DUPLICATE_KEY}):
        balance = balance_open(
            account=account,
            key=key,
            direction=direction,
            allow_sending=data.get("allowSending") is not False,
            allow_receiving=data.get("allowReceiving") is not False,
            settings=settings,
        )
    if settings and settings["allowOverdraft"]:
        _open_overdraft_companion(account)
    return balance


def _locked(ledger: Ledger, balance_id: uuid.UUID) -> Balance:
    return get_or_404(
        Balance.objects.filter(ledger_id=ledger.id).select_for_update(of=("self",)),
        code="0007",
        entity_type=ENTITY,
        pk=balance_id,
    )


@transaction.atomic
def balance_update(*, ledger: Ledger, balance_id: uuid.UUID, data: dict[str, Any]) -> Balance:
    """Changes ``allowSending``, ``allowReceiving`` and ``settings`` (replaced whole) of a
    balance. The version does not move: it counts movements of money, and the ledger check
    compares it with the last operation.

    Locks the balance row, so a posting that reads the flags waits for the new ones. Enabling
    ``allowOverdraft`` opens the account's internal ``overdraft`` balance if it has none.
    Raises 0007 (missing), 0175 (internal balance), 0172 (bad settings), 0173 (limit below the
    overdraft in use).
    """
    balance = _locked(ledger, balance_id)
    if is_internal(balance):
        raise BusinessRuleViolation(
            "An internal balance cannot be updated.", code="0175", entity_type=ENTITY
        )
    fields = ["updated_at"]
    if data.get("allowSending") is not None:
        balance.allow_sending = data["allowSending"]
        fields.append("allow_sending")
    if data.get("allowReceiving") is not None:
        balance.allow_receiving = data["allowReceiving"]
        fields.append("allow_receiving")
    if data.get("settings") is not None:
        settings = settings_normalize(
            data["settings"],
            direction=balance.direction,
            external=balance.account_type == "external",
        )
        limit = settings.get("overdraftLimit")
        if limit is not None and Decimal(limit) < balance.overdraft_used:
            raise BusinessRuleViolation(
                "The overdraft limit cannot be below the overdraft already in use.",
                code="0173",
                entity_type=ENTITY,
            )
        balance.settings = settings
        fields.append("settings")
        if settings["allowOverdraft"]:
            _open_overdraft_companion(balance.account)
    balance.updated_at = timezone.now()
    balance.save(update_fields=fields)
    return balance


@transaction.atomic
def balance_delete(*, ledger: Ledger, balance_id: uuid.UUID) -> None:
    """Soft-deletes a balance that holds nothing.

    Locks the balance row, so no posting can move money into it between the check and the
    delete. Raises 0007 (missing), 0074 (a balance of an external account: the asset could
    never move again, and it cannot be re-created, 0124), 0169 (internal balance), 0093
    (non-zero available or on hold, or overdraft in use: deleting it would erase the debt).
    """
    balance = _locked(ledger, balance_id)
    if balance.account_type == "external":
        raise BusinessRuleViolation(
            "The balance of an external account cannot be deleted.",
            code="0074",
            entity_type=ENTITY,
        )
    if is_internal(balance):
        raise BusinessRuleViolation(
            "An internal balance cannot be deleted.", code="0169", entity_type=ENTITY
        )
    if balance.available != 0 or balance.on_hold != 0:
        raise Conflict(
            "The balance cannot be deleted while it holds available or on-hold funds.",
            code="0093",
            entity_type=ENTITY,
        )
    if balance.overdraft_used != 0:
        raise Conflict(
            "The balance cannot be deleted while it owes overdraft; repay it first.",
            code="0093",
            entity_type=ENTITY,
        )
    now = timezone.now()
    balance.deleted_at = now
    balance.updated_at = now
    balance.save(update_fields=["deleted_at", "updated_at"])


@transaction.atomic
def operation_update(
    *, ledger: Ledger, transaction_id: uuid.UUID, operation_id: uuid.UUID, data: dict[str, Any]
) -> Operation:
    """Changes the ``description`` (when given non-empty) and merges ``metadata`` (JSON Merge
    Patch) of one operation of a transaction; amounts and snapshots never change.

    Locks the operation row so two concurrent merges do not lose each other's keys. Raises
    0068 when the ledger has no such operation in that transaction.
    """
    op = get_or_404(
        Operation.objects.filter(
            ledger_id=ledger.id, transaction_id=transaction_id
        ).select_for_update(of=("self",)),
        code="0068",
        entity_type="Operation",
        pk=operation_id,
    )
    if data.get("description"):
        op.description = data["description"]
    op.metadata = merge_metadata(op.metadata or {}, data)
    op.updated_at = timezone.now()
    op.save(update_fields=["description", "metadata", "updated_at"])
    return op
