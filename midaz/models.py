"""The abstract base of every ledger entity: UUIDv7 id, timestamps, soft delete, metadata."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar, TypeVar

from django import forms
from django.contrib.postgres.indexes import GinIndex
from django.db import models, transaction
from django.utils import timezone
from uuid_utils.compat import uuid7

from midaz import metadata as metadata_store

_M = TypeVar("_M", bound=models.Model)


class AliveQuerySet(models.QuerySet[_M]):
    """Rows of a ledger entity. With an external metadata store (``midaz.metadata``), the rows
    a query returns get their metadata from it in one round trip per query; with the default
    store the column already holds it and nothing happens."""

    _with_metadata = True

    def alive(self) -> AliveQuerySet[_M]:
        return self.filter(deleted_at__isnull=True)

    def without_metadata(self) -> AliveQuerySet[_M]:
        """Rows the caller only looks up (a path's ledger, a posting's route): no store round
        trip for metadata it will not show, and no dependence on that store being up."""
        clone = self._chain()  # type: ignore[attr-defined]
        clone._with_metadata = False
        return clone

    def _clone(self) -> AliveQuerySet[_M]:
        clone = super()._clone()  # type: ignore[misc]
        clone._with_metadata = self._with_metadata
        return clone

    def _fetch_all(self) -> None:
        fresh = self._result_cache is None
        super()._fetch_all()
        if fresh and self._result_cache and self._with_metadata:
            metadata_store.store().attach(self.model, self._result_cache)


class AliveManager(models.Manager[_M]):
    """The default manager: rows that were not soft-deleted."""

    def get_queryset(self) -> AliveQuerySet[_M]:
        return AliveQuerySet(self.model, using=self._db).filter(deleted_at__isnull=True)

    def without_metadata(self) -> AliveQuerySet[_M]:
        return self.get_queryset().without_metadata()


class EveryRowManager(models.Manager[_M]):
    """Every row, soft-deleted ones included (with their metadata)."""

    def get_queryset(self) -> AliveQuerySet[_M]:
        return AliveQuerySet(self.model, using=self._db)

    def without_metadata(self) -> AliveQuerySet[_M]:
        return self.get_queryset().without_metadata()


class BaseModel(models.Model):
    """UUIDv7 primary key (time-ordered), timestamps, soft delete and jsonb metadata."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    objects: Any = AliveManager()
    all_objects: Any = EveryRowManager()
    #: False for an entity whose metadata the API never sets: it stays in the column whatever
    #: the metadata backend, and reads of it never ask the store.
    external_metadata: ClassVar[bool] = True

    class Meta:
        abstract = True
        indexes = [GinIndex(fields=["metadata"], name="%(app_label)s_%(class)s_meta")]

    def save(self, *args: Any, **kwargs: Any) -> None:
        """With an external metadata store, the column stays ``{}`` and the metadata is written
        to the store in the row's database transaction: a refused store write rolls the row
        back. A save whose ``update_fields`` leave out ``metadata`` does not touch the store."""
        store = metadata_store.store()
        fields = kwargs.get("update_fields")
        if (
            store.in_rows
            or not self.external_metadata
            or (fields is not None and "metadata" not in fields)
        ):
            super().save(*args, **kwargs)
            return
        metadata = self.metadata or {}
        with transaction.atomic(using=kwargs.get("using") or "default"):
            self.metadata = {}
            try:
                super().save(*args, **kwargs)
            finally:
                self.metadata = metadata
            store.write(type(self), {self.pk: metadata})

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
