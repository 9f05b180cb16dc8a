"""The abstract base of every ledger entity: UUIDv7 id, timestamps, soft delete, metadata."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeVar

from django import forms
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.utils import timezone
from uuid_utils.compat import uuid7

_M = TypeVar("_M", bound=models.Model)


class AliveQuerySet(models.QuerySet[_M]):
    def alive(self) -> AliveQuerySet[_M]:
        return self.filter(deleted_at__isnull=True)


class AliveManager(models.Manager[_M]):
    """The default manager: rows that were not soft-deleted."""

    def get_queryset(self) -> AliveQuerySet[_M]:
        return AliveQuerySet(self.model, using=self._db).filter(deleted_at__isnull=True)


class BaseModel(models.Model):
    """UUIDv7 primary key (time-ordered), timestamps, soft delete and jsonb metadata."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    objects: Any = AliveManager()
    all_objects: Any = models.Manager()

    class Meta:
        abstract = True
        indexes = [GinIndex(fields=["metadata"], name="%(app_label)s_%(class)s_meta")]

    def touch(self) -> None:
        """Stamp ``updated_at``; a row being inserted gets the same instant as ``created_at``."""
        self.updated_at = timezone.now()
        if self._state.adding:
            self.created_at = self.updated_at


class StatusMixin(models.Model):
    """Midaz's status object ``{"code", "description"}``; the code is free text (≤100)."""

    status = models.CharField(max_length=100, default="ACTIVE")
    status_description = models.CharField(max_length=256, null=True, blank=True)

    class Meta:
        abstract = True

    def status_dict(self) -> dict[str, Any]:
        return {"code": self.status, "description": self.status_description}


class AmountField(models.DecimalField):
    """An exact amount: PostgreSQL ``NUMERIC`` with no fixed precision or scale."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", None)
        kwargs.setdefault("decimal_places", None)
        super().__init__(*args, **kwargs)

    def _check_decimal_places(self) -> list[Any]:
        return []

    def _check_max_digits(self) -> list[Any]:
        return []

    def _check_decimal_places_and_max_digits(self, **kwargs: Any) -> list[Any]:
        return []

    def db_type(self, connection: Any) -> str:
        return "numeric"

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        return value if value is None else Decimal(value)

    @property
    def validators(self) -> list[Any]:
        return []

    def formfield(self, **kwargs: Any) -> Any:
        return super(models.DecimalField, self).formfield(
            **{"form_class": forms.DecimalField, **kwargs}
        )
