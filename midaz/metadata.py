"""Where entity metadata lives: the row's ``jsonb`` column (default) or MongoDB (optional).

``METADATA_BACKEND=postgres`` keeps metadata in the ``metadata`` column of each row, so it
commits atomically with its entity and is filtered in SQL. ``METADATA_BACKEND=mongodb`` with
``MONGO_URL`` keeps it in MongoDB instead, as Midaz does: one collection per entity kind (the
model name in lower case: ``organization``, ``account``, ``transaction``, ``operationroute``,
...), one document per entity ``{entity_id, entity_name, metadata, created_at, updated_at}``.
The column then stays ``{}``.

Both backends sit behind :class:`MetadataStore`; the rest of the code meets it in four places:

- :meth:`midaz.models.BaseModel.save` writes an entity's metadata to an external store in the
  database transaction of the row (so a refused store write rolls the row back);
- :class:`midaz.models.AliveQuerySet` attaches the stored metadata to the rows a query returns
  (model instances and ``values()`` dicts alike), one store round trip per query;
- the posting path, which writes its rows in SQL, writes the documents of the transaction and
  of its operations right after the SQL, in the same database transaction (none for a refused
  posting or a replay);
- ``metadata.<key>=value`` list filters go through :meth:`MetadataStore.filter`.

Across two stores nothing is atomic. The document is written inside the entity's database
transaction, before its commit: a refused store write rolls the row back, so an entity is never
committed without its metadata. A commit that fails after the store write leaves the store ahead
of the row: an orphan document for a new entity (no read reaches it: reads start from PostgreSQL
rows), or the new metadata on the unchanged row for an update; and a reader may see an update's
metadata a moment before its row commits.

Each document also carries ``scope_id``: the ledger of the entity (the organization of a ledger,
the parent organization of an organization; ``onboarding.metadata_indexes.SCOPES``), read from
the entity's row when the document is written. A metadata index on this backend leads with it,
as on PostgreSQL: a unique index holds a value once per scope, so a tenant's write never learns
(by a 409) what another tenant's documents hold; within a scope it covers every document
(soft-deleted entities included). Midaz's documents have no such field and its unique indexes
span the collection. A filter cannot name a key with ``.`` or a leading ``$`` (MongoDB reads
those as paths and operators: 0082).
"""

from __future__ import annotations

import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError, connections, router, transaction
from django.db.models import Model, QuerySet
from django.db.models.fields.json import KeyTextTransform

from midaz.exceptions import ValidationFailed

Metadata = dict[str, Any]

INT64 = (-(2**63), 2**63 - 1)


class MetadataStore(ABC):
    """The metadata of ledger entities, by model and entity id."""

    #: True when the row's own ``metadata`` column is the store (nothing to attach or write).
    in_rows: bool = True
    name: str = ""

    @abstractmethod
    def write(self, model: type[Model], items: Mapping[uuid.UUID, Metadata]) -> None:
        """Replaces the metadata of each entity (``{}`` clears it)."""

    def write_new(self, model: type[Model], items: Mapping[uuid.UUID, Metadata]) -> None:
        """Like :meth:`write`, for entities that have no metadata yet (a new posting's)."""
        self.write(model, items)

    @abstractmethod
    def read(self, model: type[Model], ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Metadata]:
        """The metadata of these entities. An entity without metadata maps to ``{}`` or is
        absent; one the store has no record of is absent."""

    @abstractmethod
    def remove(self, model: type[Model], ids: Iterable[uuid.UUID]) -> None:
        """Forgets the metadata of these entities."""

    @abstractmethod
    def filter(self, qs: QuerySet[Any], filters: Mapping[str, str]) -> QuerySet[Any]:
        """Narrows ``qs`` to the entities whose metadata has every ``key: value`` (string
        values match exactly: a stored number 7 does not match ``"7"``)."""

    def ping(self) -> None:  # noqa: B027 - the column needs no check of its own
        """Raises when the store does not answer (readiness)."""

    def attach(self, model: type[Model], rows: list[Any]) -> None:
        """Puts the stored metadata on rows just read from PostgreSQL: model instances or
        ``values()`` dicts that carry both ``id`` and ``metadata``. A row the store knows
        nothing of keeps what its column holds (metadata written before a switch of backend)."""
        if self.in_rows or not rows or not getattr(model, "external_metadata", True):
            return
        first = rows[0]
        if isinstance(first, dict):
            if "metadata" not in first or "id" not in first:
                return
            found = self.read(model, [row["id"] for row in rows])
            for row in rows:
                if row["id"] in found:
                    row["metadata"] = found[row["id"]]
        elif isinstance(first, model):
            found = self.read(model, [row.pk for row in rows])
            for row in rows:
                if row.pk in found:
                    row.metadata = found[row.pk]


class PostgresMetadataStore(MetadataStore):
    """The default: the ``metadata`` jsonb column next to each row (GIN-indexed on most
    tables; expression indexes per key through ``/v1/settings/metadata-indexes``)."""

    in_rows = True
    name = "postgres"

    def write(self, model: type[Model], items: Mapping[uuid.UUID, Metadata]) -> None:
        manager = model._base_manager
        for entity_id, metadata in items.items():
            manager.filter(pk=entity_id).update(metadata=metadata)

    def read(self, model: type[Model], ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Metadata]:
        rows = model._base_manager.filter(pk__in=list(ids)).values_list("pk", "metadata")
        return {pk: metadata for pk, metadata in rows if metadata}

    def remove(self, model: type[Model], ids: Iterable[uuid.UUID]) -> None:
        model._base_manager.filter(pk__in=list(ids)).update(metadata={})

    def filter(self, qs: QuerySet[Any], filters: Mapping[str, str]) -> QuerySet[Any]:
        if not filters:
            return qs
        # ``@>`` keeps the string semantics and can use the GIN index; ``? key`` and
        # ``->> key = value`` let the planner use a per-key expression index
        # (``onboarding.metadata_indexes``: an index on ``metadata ->> key``).
        narrowed = qs.filter(metadata__contains=dict(filters))
        for n, (key, value) in enumerate(filters.items()):
            alias = f"_metadata_{n}"
            narrowed = (
                narrowed.filter(metadata__has_key=key)
                .alias(**{alias: KeyTextTransform(key, "metadata")})
                .filter(**{alias: value})
            )
        if _has_gin(qs.model) or _has_key_index(qs.model, filters):
            return narrowed
        return qs.filter(pk__in=_bounded_ids(narrowed, filters))


# --- metadata filters on tables without a GIN index (transactions, operations) ---------------
#
# Such a filter, on a key with no metadata index, reads every row of the list's scope (the
# ledger, the account) in its date window. As in Midaz (whose MongoDB scans an unindexed key
# too) it is answered, but within bounds: the matching ids are collected first, in one query
# under a statement timeout and up to a number of rows; past either bound the request is
# 400 0082, saying to index the key (POST /v1/settings/metadata-indexes/entities/<entity>) or
# to narrow start_date/end_date. With a metadata index on any of the filtered keys the filter
# is an index scan and is not bounded. Overridable in Django settings (no environment variable).
SCAN_TIMEOUT_MS = 2000
SCAN_MAX_ROWS = 10_000


def _has_gin(model: type[Model]) -> bool:
    from django.contrib.postgres.indexes import GinIndex

    return any(
        isinstance(index, GinIndex) and list(index.fields) == ["metadata"]
        for index in model._meta.indexes
    )


def _entity_of(model: type[Model]) -> str | None:
    from onboarding.metadata_indexes import ENTITIES

    label = model._meta.label
    return next((name for name, entity in ENTITIES.items() if entity == label), None)


def _has_key_index(model: type[Model], filters: Mapping[str, str]) -> bool:
    """Whether a metadata index (onboarding.metadata_indexes) covers one of the keys."""
    from onboarding.models import MetadataIndex

    entity = _entity_of(model)
    return (
        entity is not None
        and MetadataIndex.objects.filter(entity_name=entity, metadata_key__in=list(filters))
        .using(router.db_for_write(MetadataIndex))
        .exists()
    )


def _bounded_ids(narrowed: QuerySet[Any], filters: Mapping[str, str]) -> list[Any]:
    timeout = int(getattr(settings, "METADATA_SCAN_TIMEOUT_MS", SCAN_TIMEOUT_MS))
    limit = int(getattr(settings, "METADATA_SCAN_MAX_ROWS", SCAN_MAX_ROWS))
    entity = _entity_of(narrowed.model) or narrowed.model._meta.model_name
    keys = ", ".join(sorted(filters))
    advice = (
        f"index the key (POST /v1/settings/metadata-indexes/entities/{entity}) or narrow "
        "start_date/end_date."
    )
    db = narrowed.db
    try:
        # Local to the database transaction; restored after the query, as inside an outer
        # transaction (a savepoint here) it would otherwise outlast it.
        with transaction.atomic(using=db), connections[db].cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('statement_timeout'), "
                "set_config('statement_timeout', %s, true)",
                [f"{timeout}ms"],
            )
            (previous, _) = cursor.fetchone()
            ids = list(narrowed.order_by().values_list("pk", flat=True)[: limit + 1])
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [previous])
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != "57014":  # query_canceled
            raise
        raise ValidationFailed(
            f"The metadata filter on {keys} took too long on unindexed {entity} rows: {advice}",
            code="0082",
        ) from exc
    if len(ids) > limit:
        raise ValidationFailed(
            f"The metadata filter on {keys} matches more than {limit} unindexed {entity} rows: "
            f"{advice}",
            code="0082",
        )
    return ids


def _to_bson(value: Any) -> Any:
    """BSON has no arbitrary-precision number: an exact decimal, or an integer beyond 64 bits,
    is stored as Decimal128 (34 significant digits)."""
    from bson.decimal128 import Decimal128

    if isinstance(value, dict):
        return {k: _to_bson(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_bson(v) for v in value]
    if isinstance(value, Decimal):
        return Decimal128(value)
    if isinstance(value, int) and not isinstance(value, bool) and not INT64[0] <= value <= INT64[1]:
        return Decimal128(Decimal(value))
    return value


def _from_bson(value: Any) -> Any:
    from bson.decimal128 import Decimal128

    if isinstance(value, dict):
        return {k: _from_bson(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_bson(v) for v in value]
    if isinstance(value, Decimal128):
        exact = value.to_decimal()
        return int(exact) if exact == exact.to_integral_value() else float(exact)
    return value


class MongoMetadataStore(MetadataStore):
    """Metadata in MongoDB (pymongo), laid out as Midaz lays it out.

    Each collection gets a unique index on ``entity_id`` the first time this process uses it.
    Writes use write concern ``majority``: a document is acknowledged once a majority of the
    replica set holds it (the only node, on a standalone server).
    """

    in_rows = False
    name = "mongodb"

    def __init__(self, client: Any, database: str) -> None:
        from pymongo import WriteConcern

        self._db = client.get_database(database, write_concern=WriteConcern(w="majority"))
        self._ready: set[str] = set()
        self._lock = threading.Lock()

    @staticmethod
    def scopes(model: type[Model], ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str | None]:
        """The ``scope_id`` of each entity, read from its row on the primary (the rows are
        written before their documents, in the same database transaction)."""
        entity = _entity_of(model)
        keys = list(ids)
        if entity is None or not keys:
            return {}
        from onboarding.metadata_indexes import scope_of

        rows = (
            model._base_manager.using(router.db_for_write(model))
            .filter(pk__in=keys)
            .values_list("pk", scope_of(entity))
        )
        return {pk: None if scope is None else str(scope) for pk, scope in rows}

    @staticmethod
    def collection_name(model: type[Model]) -> str:
        return model._meta.object_name.lower()  # type: ignore[union-attr]

    def collection(self, model: type[Model]) -> Any:
        name = self.collection_name(model)
        coll = self._db[name]
        if name not in self._ready:
            with self._lock:
                if name not in self._ready:
                    coll.create_index("entity_id", unique=True, name="entity_id_1")
                    self._ready.add(name)
        return coll

    def write(self, model: type[Model], items: Mapping[uuid.UUID, Metadata]) -> None:
        """An entity without metadata has no document: a unique index that is not sparse would
        otherwise count every such entity as one more missing (null) value."""
        now = datetime.now(UTC)
        coll = self.collection(model)
        scopes = self.scopes(model, [k for k, v in items.items() if v])
        for entity_id, metadata in items.items():
            if not metadata:
                coll.delete_one({"entity_id": str(entity_id)})
                continue
            coll.update_one(
                {"entity_id": str(entity_id)},
                {
                    "$set": {
                        "entity_name": model._meta.object_name,
                        "scope_id": scopes.get(entity_id),
                        "metadata": _to_bson(dict(metadata)),
                        "updated_at": now,
                    },
                    "$setOnInsert": {"created_at": now},
                },
                upsert=True,
            )

    def write_new(self, model: type[Model], items: Mapping[uuid.UUID, Metadata]) -> None:
        """One round trip for the documents of entities made just now (a posting's)."""
        items = {k: v for k, v in items.items() if v}
        if not items:
            return
        now = datetime.now(UTC)
        scopes = self.scopes(model, items)
        self.collection(model).insert_many(
            [
                {
                    "entity_id": str(entity_id),
                    "entity_name": model._meta.object_name,
                    "scope_id": scopes.get(entity_id),
                    "metadata": _to_bson(dict(metadata)),
                    "created_at": now,
                    "updated_at": now,
                }
                for entity_id, metadata in items.items()
            ],
            ordered=False,
        )

    def read(self, model: type[Model], ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Metadata]:
        keys = [str(i) for i in ids]
        if not keys:
            return {}
        cursor = self.collection(model).find(
            {"entity_id": {"$in": keys}}, {"_id": 0, "entity_id": 1, "metadata": 1}
        )
        return {
            uuid.UUID(doc["entity_id"]): _from_bson(doc.get("metadata") or {}) for doc in cursor
        }

    def remove(self, model: type[Model], ids: Iterable[uuid.UUID]) -> None:
        keys = [str(i) for i in ids]
        if keys:
            self.collection(model).delete_many({"entity_id": {"$in": keys}})

    def matching_ids(self, model: type[Model], filters: Mapping[str, str]) -> list[uuid.UUID]:
        """Raises 0082 for a key MongoDB would read as a path (``.``) or an operator (``$``)."""
        for key in filters:
            if "." in key or key.startswith("$"):
                raise ValidationFailed(
                    f"The metadata filter '{key}' cannot be used with the MongoDB metadata store "
                    "(a key with '.' or starting with '$').",
                    code="0082",
                )
        query = {f"metadata.{key}": value for key, value in filters.items()}
        cursor = self.collection(model).find(query, {"_id": 0, "entity_id": 1})
        return [uuid.UUID(doc["entity_id"]) for doc in cursor]

    def filter(self, qs: QuerySet[Any], filters: Mapping[str, str]) -> QuerySet[Any]:
        """The entity ids come from MongoDB, then PostgreSQL applies every other filter and
        the page (Midaz does the same). A filter that matches millions of entities makes a
        large ``IN`` list: index the key (``/v1/settings/metadata-indexes``) and keep such
        filters selective."""
        if not filters:
            return qs
        return qs.filter(pk__in=self.matching_ids(qs.model, filters))

    def ping(self) -> None:
        self._db.command("ping")

    # --- indexes (the /v1/settings/metadata-indexes API on this backend) -------------------

    @staticmethod
    def index_name(key: str) -> str:
        """MongoDB's own name of an ascending index on ``metadata.<key>``."""
        return f"metadata.{key}_1"

    def create_index(self, model: type[Model], key: str, *, unique: bool, sparse: bool) -> None:
        """``(scope_id, metadata.<key>)`` under Midaz's name for an index on the key. Sparse is
        a partial filter on the key (``sparse`` of a compound index would keep every document:
        each has a ``scope_id``). Documents written before ``scope_id`` existed get it first."""
        self.fill_scopes(model)
        options: dict[str, Any] = {}
        if sparse:
            options["partialFilterExpression"] = {f"metadata.{key}": {"$exists": True}}
        self.collection(model).create_index(
            [("scope_id", 1), (f"metadata.{key}", 1)],
            name=self.index_name(key),
            unique=unique,
            **options,
        )

    def fill_scopes(self, model: type[Model]) -> int:
        """Sets ``scope_id`` on the documents that have none (written by an older version);
        how many."""
        coll = self.collection(model)
        missing = [
            uuid.UUID(d["entity_id"])
            for d in coll.find({"scope_id": {"$exists": False}}, {"_id": 0, "entity_id": 1})
        ]
        scopes = self.scopes(model, missing)
        for entity_id in missing:
            coll.update_one(
                {"entity_id": str(entity_id)}, {"$set": {"scope_id": scopes.get(entity_id)}}
            )
        return len(missing)

    def index_is_scoped(self, model: type[Model], key: str) -> bool | None:
        """Whether the index on the key leads with ``scope_id``; None when there is none."""
        found = self.collection(model).index_information().get(self.index_name(key))
        if found is None:
            return None
        return bool(found.get("key")) and found["key"][0][0] == "scope_id"

    def drop_index(self, model: type[Model], key: str) -> None:
        """An index that is not there (recorded while the backend was PostgreSQL) is done."""
        coll = self.collection(model)
        if self.index_name(key) in coll.index_information():
            coll.drop_index(self.index_name(key))

    def index_accesses(self, model: type[Model]) -> dict[str, int]:
        """Uses of each index of the entity's collection since the server started
        (``$indexStats``); empty where the server does not report them."""
        from pymongo.errors import PyMongoError

        try:
            stats = self.collection(model).aggregate([{"$indexStats": {}}])
            return {s["name"]: int(s["accesses"]["ops"]) for s in stats}
        except (PyMongoError, NotImplementedError, KeyError):
            return {}


_stores: dict[tuple[str, str], MetadataStore] = {}
_stores_lock = threading.Lock()
_override: list[MetadataStore] = []


def is_duplicate(exc: BaseException) -> bool:
    """A MongoDB write refused by a unique index (E11000), alone or in a bulk write."""
    from pymongo.errors import BulkWriteError, DuplicateKeyError

    if isinstance(exc, DuplicateKeyError):
        return True
    if isinstance(exc, BulkWriteError):
        errors = exc.details.get("writeErrors") or []
        return bool(errors) and all(e.get("code") == 11000 for e in errors)
    return False


def build(backend: str, url: str) -> MetadataStore:
    """A new store of this kind (``store()`` keeps one per process)."""
    if backend == "postgres":
        return PostgresMetadataStore()
    if backend == "mongodb":
        if not url:
            raise ImproperlyConfigured("METADATA_BACKEND=mongodb needs MONGO_URL")
        from pymongo import MongoClient

        client: Any = MongoClient(
            url, serverSelectionTimeoutMS=3000, connectTimeoutMS=3000, tz_aware=True
        )
        database = client.get_default_database(default="midaz").name
        return MongoMetadataStore(client, database)
    raise ImproperlyConfigured(f"METADATA_BACKEND must be 'postgres' or 'mongodb', not {backend!r}")


def store() -> MetadataStore:
    """The configured store (one per process and configuration)."""
    if _override:
        return _override[-1]
    key = (settings.METADATA_BACKEND, settings.MONGO_URL)
    found = _stores.get(key)
    if found is None:
        with _stores_lock:
            found = _stores.get(key) or build(*key)
            _stores[key] = found
    return found


@contextmanager
def using(chosen: MetadataStore) -> Iterator[MetadataStore]:
    """Runs the block with ``chosen`` as the store of this process (tests)."""
    _override.append(chosen)
    try:
        yield chosen
    finally:
        _override.pop()
