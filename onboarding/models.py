"""Onboarding entities. Every child row carries its organization and ledger ids, so each read
is scoped by the path it came from, and ledger foreign keys are ``PROTECT``."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from midaz.models import BaseModel, StatusMixin

ALIVE = Q(deleted_at__isnull=True)


class Organization(StatusMixin, BaseModel):
    parent_organization = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    legal_name = models.CharField(max_length=256)
    doing_business_as = models.CharField(max_length=256, null=True, blank=True)
    legal_document = models.CharField(max_length=256)
    address = models.JSONField(default=dict, blank=True)

    class Meta(BaseModel.Meta):
        pass

    def __str__(self) -> str:
        return self.legal_name


class Ledger(StatusMixin, BaseModel):
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="ledgers")
    name = models.CharField(max_length=256)
    # Only values that differ from the defaults are stored (see onboarding.settings_doc).
    settings = models.JSONField(default=dict, blank=True)

    class Meta(BaseModel.Meta):
        constraints = [
            models.UniqueConstraint(
                Lower("name"), "organization", condition=ALIVE, name="ledger_name_unique_in_org"
            )
        ]

    def __str__(self) -> str:
        return self.name


class LedgerScoped(StatusMixin, BaseModel):
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    ledger = models.ForeignKey(Ledger, on_delete=models.PROTECT, related_name="+")

    class Meta(BaseModel.Meta):
        abstract = True


class Asset(LedgerScoped):
    class Type(models.TextChoices):
        CRYPTO = "crypto"
        CURRENCY = "currency"
        FIAT = "fiat"
        COMMODITY = "commodity"
        OTHERS = "others"

    name = models.CharField(max_length=256)
    type = models.CharField(max_length=20, choices=Type.choices)
    code = models.CharField(max_length=100)

    class Meta(BaseModel.Meta):
        constraints = [
            models.UniqueConstraint("ledger", "code", condition=ALIVE, name="asset_code_unique"),
            models.UniqueConstraint("ledger", "name", condition=ALIVE, name="asset_name_unique"),
        ]

    def __str__(self) -> str:
        return self.code


class Portfolio(LedgerScoped):
    name = models.CharField(max_length=256)
    entity_id = models.CharField(max_length=256, null=True, blank=True)

    class Meta(BaseModel.Meta):
        pass

    def __str__(self) -> str:
        return self.name


class Segment(LedgerScoped):
    name = models.CharField(max_length=256)

    class Meta(BaseModel.Meta):
        constraints = [
            models.UniqueConstraint("ledger", "name", condition=ALIVE, name="segment_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class AccountType(BaseModel):
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    ledger = models.ForeignKey(Ledger, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=500, null=True, blank=True)
    key_value = models.CharField(max_length=50)

    class Meta(BaseModel.Meta):
        constraints = [
            models.UniqueConstraint(
                "ledger", Lower("key_value"), condition=ALIVE, name="account_type_key_unique"
            )
        ]

    def __str__(self) -> str:
        return self.key_value


class Account(LedgerScoped):
    EXTERNAL = "external"

    name = models.CharField(max_length=256, null=True, blank=True)
    parent_account = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    entity_id = models.CharField(max_length=256, null=True, blank=True)
    holder_id = models.UUIDField(null=True, blank=True)
    asset_code = models.CharField(max_length=100)
    portfolio = models.ForeignKey(
        Portfolio, null=True, blank=True, on_delete=models.PROTECT, related_name="accounts"
    )
    segment = models.ForeignKey(
        Segment, null=True, blank=True, on_delete=models.PROTECT, related_name="accounts"
    )
    alias = models.CharField(max_length=100)
    type = models.CharField(max_length=256)
    blocked = models.BooleanField(default=False)
    holder_check_skipped = models.BooleanField(default=False)

    class Meta(BaseModel.Meta):
        constraints = [
            models.UniqueConstraint("ledger", "alias", condition=ALIVE, name="account_alias_unique")
        ]

    def __str__(self) -> str:
        return self.alias

    @property
    def is_external(self) -> bool:
        return self.type == self.EXTERNAL


class MetadataIndex(models.Model):
    """A PostgreSQL expression index on one metadata key of one entity's table, created and
    dropped through ``/v1/settings/metadata-indexes`` (MIDAZ_API.md §5). The row records what
    was asked for; the index itself is the source of truth for what exists."""

    entity_name = models.CharField(max_length=50)
    metadata_key = models.CharField(max_length=100)
    index_name = models.CharField(max_length=63, unique=True)
    unique = models.BooleanField(default=False)
    sparse = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint("entity_name", "metadata_key", name="metadata_index_entity_key")
        ]

    def __str__(self) -> str:
        return f"{self.entity_name}.metadata.{self.metadata_key}"
