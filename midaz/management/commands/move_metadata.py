"""``manage.py move_metadata --to mongodb|postgres [--batch N]``: move entity metadata between
the two stores of ``midaz.metadata``, for an operator switching ``METADATA_BACKEND``.

``--to mongodb`` copies every non-empty ``metadata`` column into MongoDB (``MONGO_URL``) and
empties the column. Run it right after switching the setting and restarting the servers: until
a row has moved it keeps showing what its column holds (a row the store knows nothing of does),
and an update of it meanwhile lands in MongoDB like any other.

``--to postgres`` copies every MongoDB document back into its row's column and deletes the
document; a column that already holds metadata (written after the switch) is kept. Between the
switch and the move, the servers read columns that are still empty: pause the writes that
change metadata for that while (a change made then merges onto no metadata).

Each batch is one database transaction that locks its rows (``FOR UPDATE``) while their
metadata moves, so a concurrent update of the same entity waits and then applies to the moved
metadata; the destination is written before the source is emptied, so a run that stops half way
loses nothing and can simply be run again.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Model
from tqdm import tqdm

from midaz import metadata
from midaz.models import BaseModel


def entity_models() -> list[type[Model]]:
    """Every model that carries metadata."""
    return [m for m in apps.get_models() if issubclass(m, BaseModel) and m.external_metadata]


def _id_batches(ids: list[uuid.UUID], size: int) -> Iterator[list[uuid.UUID]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def to_mongodb(store: metadata.MongoMetadataStore, model: type[Model], batch: int) -> int:
    """Columns -> documents, then the columns emptied; returns how many entities moved."""
    rows = model._base_manager
    moved = 0
    while True:
        with transaction.atomic():
            locked = list(
                rows.select_for_update()
                .exclude(metadata={})
                .order_by("pk")
                .values_list("pk", "metadata")[:batch]
            )
            if not locked:
                return moved
            store.write(model, dict(locked))
            rows.filter(pk__in=[pk for pk, _ in locked]).update(metadata={})
        moved += len(locked)


def to_postgres(store: metadata.MongoMetadataStore, model: type[Model], batch: int) -> int:
    """Documents -> columns, then the documents deleted; returns how many entities moved."""
    ids = [
        uuid.UUID(doc["entity_id"])
        for doc in store.collection(model).find({}, {"_id": 0, "entity_id": 1})
    ]
    moved = 0
    for chunk in _id_batches(ids, batch):
        with transaction.atomic():
            present = list(
                model._base_manager.select_for_update()
                .filter(pk__in=chunk)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            found = store.read(model, present)
            for pk, value in found.items():
                model._base_manager.filter(pk=pk, metadata={}).update(metadata=value)
            store.remove(model, chunk)  # a document whose row is gone belongs to nothing
        moved += len(found)
    return moved


class Command(BaseCommand):
    help = "Move entity metadata between PostgreSQL columns and MongoDB (METADATA_BACKEND)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--to", required=True, choices=["mongodb", "postgres"])
        parser.add_argument("--batch", type=int, default=1000)

    def handle(self, *args: Any, **options: Any) -> None:
        target = options["to"]
        store = metadata.store()
        if not isinstance(store, metadata.MongoMetadataStore):
            if not settings.MONGO_URL:
                raise CommandError("MONGO_URL must name the MongoDB server to move metadata with")
            store = metadata.build("mongodb", settings.MONGO_URL)
        assert isinstance(store, metadata.MongoMetadataStore)
        if target != ("mongodb" if settings.METADATA_BACKEND == "mongodb" else "postgres"):
            self.stderr.write(
                f"note: METADATA_BACKEND is {settings.METADATA_BACKEND}; the servers will read "
                f"the metadata from {target} only once it is set to {target}"
            )
        move = to_mongodb if target == "mongodb" else to_postgres
        total = 0
        for model in tqdm(entity_models(), desc=f"to {target}", disable=options["verbosity"] < 1):
            total += move(store, model, options["batch"])
        self.stdout.write(f"moved the metadata of {total} entities to {target}")
