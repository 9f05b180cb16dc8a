"""Balances: the money state of an account, one row per ``(account, key)``."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q

from midaz.models import AmountField, BaseModel
from onboarding.models import ALIVE, Account, Ledger, Organization


class Balance(BaseModel):
    """One balance of an account. ``available`` and ``on_hold`` change only under a row lock,
    and every change bumps ``version``."""

    class Direction(models.TextChoices):
        CREDIT = "credit"
        DEBIT = "debit"

    DEFAULT_KEY = "default"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    ledger = models.ForeignKey(Ledger, on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="balances")
    alias = models.CharField(max_length=100)
    key = models.CharField(max_length=100, default=DEFAULT_KEY)
    asset_code = models.CharField(max_length=100)
    available = AmountField(default=Decimal(0))
    on_hold = AmountField(default=Decimal(0))
    version = models.BigIntegerField(default=0)
    account_type = models.CharField(max_length=256)
    allow_sending = models.BooleanField(default=True)
    allow_receiving = models.BooleanField(default=True)
    direction = models.CharField(max_length=6, choices=Direction.choices, default=Direction.CREDIT)
    overdraft_used = AmountField(default=Decimal(0))
    settings = models.JSONField(null=True, blank=True)

    class Meta(BaseModel.Meta):
        constraints = [
            models.UniqueConstraint("account", "key", condition=ALIVE, name="balance_account_key"),
            models.CheckConstraint(
                condition=Q(on_hold__gte=0), name="balance_on_hold_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(overdraft_used__gte=0), name="balance_overdraft_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(direction__in=["credit", "debit"]), name="balance_direction_valid"
            ),
        ]
        indexes = [
            *BaseModel.Meta.indexes,
            models.Index(fields=["ledger", "alias", "key"], name="balance_ledger_alias_key"),
        ]

    def __str__(self) -> str:
        return f"{self.alias}#{self.key}"
