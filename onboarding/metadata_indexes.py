"""Metadata indexes (MIDAZ_API.md §5): real PostgreSQL expression indexes on one metadata key
of an entity's table, so that ``metadata.<key>=<value>`` filters on large tables are index
scans. With ``METADATA_BACKEND=mongodb`` the index is built in MongoDB instead, on
``metadata.<key>`` of the entity's collection, as Midaz does.

Each index is ``(<scope>, (metadata ->> '<key>'))`` on the live rows (``deleted_at IS NULL``,
as every read filters), restricted to the rows that have the key when ``sparse``, and ``UNIQUE``
when asked. The scope column leads (``SCOPES``): the ledger of a ledger's entity, the
organization of a ledger, the parent of an organization (root organizations, whose parent is
NULL, never clash: NULLs are distinct). So a unique index holds a value once per ledger, never
once for the whole table: a tenant's write never learns (by a 409 0498) which values another
tenant's rows hold, and every list filter, which names its ledger, scans the index by it. It is
built and dropped ``CONCURRENTLY``: postings and other writes go on while it is built.
``midaz.metadata.PostgresMetadataStore.filter`` writes the metadata filter so that the planner
can use it (``metadata ? key AND metadata ->> key = value``, beside the ``@>`` that keeps the
documented string semantics).

Indexes built by an older version (the key expression alone, unique across tenants) keep
answering until rebuilt: ``POST`` the same index again (a recorded index whose definition does
not lead with its scope is rebuilt concurrently and answers 201, a current one 409 0132), or
run ``rebuild_unscoped()`` (``manage.py shell -c "from onboarding.metadata_indexes import
rebuild_unscoped; rebuild_unscoped()"``) once after the upgrade. A rebuild builds the scoped
index under a temporary name while the old one serves, then drops the old one and gives the
new one its name.

With ``METADATA_BACKEND=mongodb`` the index is ``(scope_id, metadata.<key>)``: every document
carries its entity's scope (``midaz.metadata.MongoMetadataStore``; documents written before get
it when an index is built). An index built before, on ``metadata.<key>`` alone, is rebuilt the
same two ways; MongoDB cannot rename an index, so the old one is dropped before the new build.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.apps import apps
from django.db import DatabaseError, connection, models, router, transaction
from django.db.models.signals import post_delete, post_migrate, post_save

from midaz import metadata as metadata_store
from midaz.exceptions import Conflict, LedgerError, ValidationFailed, not_found
from onboarding.models import MetadataIndex

# entity name of the API -> model ("app_label.Model")
ENTITIES = {
    "organization": "onboarding.Organization",
    "ledger": "onboarding.Ledger",
    "segment": "onboarding.Segment",
    "account": "onboarding.Account",
    "portfolio": "onboarding.Portfolio",
    "asset": "onboarding.Asset",
    "account_type": "onboarding.AccountType",
    "transaction": "transactions.Transaction",
    "operation": "transactions.Operation",
    "operation_route": "transactions.OperationRoute",
    "transaction_route": "transactions.TransactionRoute",
}
MAX_PER_ENTITY = 20
# The column a metadata index of the entity leads with (see the module docstring); every other
# entity lives in a ledger.
SCOPES = {"organization": "parent_organization_id", "ledger": "organization_id"}
_KEY = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]*$")
# unique_keys(): the keys of every unique index, by entity, and until when (time.monotonic())
# this process trusts them. An index made or dropped here forgets them at once; one made or
# dropped by another process is seen within UNIQUE_KEYS_TTL seconds.
UNIQUE_KEYS_TTL = 5.0
_unique: tuple[float, dict[str, frozenset[str]]] | None = None


def check_entity(entity_name: str) -> type[models.Model]:
    """The model of an entity name; 0138 for anything else."""
    label = ENTITIES.get(entity_name)
    if label is None:
        raise ValidationFailed(
            f"Unknown entity '{entity_name}'; expected one of {', '.join(ENTITIES)}.",
            code="0138",
            entity_type="MetadataIndex",
        )
    return apps.get_model(label)


def check_key(key: Any, field: str = "metadataKey") -> str:
    if not isinstance(key, str) or not _KEY.match(key) or len(key) > 100:
        raise ValidationFailed(
            f"{field} must start with a letter and hold only letters, digits and '_' "
            "(at most 100 characters).",
            code="0047",
            entity_type="MetadataIndex",
            fields={field: key},
        )
    return key


def unique_keys(entity_name: str) -> frozenset[str]:
    """The metadata keys that a unique index of the entity covers. The rows that settle or
    reverse others (a commit's or cancel's operations, a reversal and its operations) leave
    them out of the metadata they copy, or they would collide with the rows they settle or
    reverse (409 0498) and the hold or posting could never be undone. One query per process
    every ``UNIQUE_KEYS_TTL`` seconds at most, none per posting."""
    global _unique
    now = time.monotonic()
    cached = _unique
    if cached is None or cached[0] <= now:
        by_entity: dict[str, set[str]] = {}
        recorded = MetadataIndex.objects.using(router.db_for_write(MetadataIndex))
        for entity, key in recorded.filter(unique=True).values_list("entity_name", "metadata_key"):
            by_entity.setdefault(entity, set()).add(key)
        cached = (now + UNIQUE_KEYS_TTL, {e: frozenset(k) for e, k in by_entity.items()})
        _unique = cached
    return cached[1].get(entity_name, frozenset())


def forget_unique_keys(**_: Any) -> None:
    """Makes the next ``unique_keys`` read the recorded indexes again: after an index is made
    or dropped here, a record written or deleted through the ORM, or the tables flushed (a
    flush ends with ``post_migrate``)."""
    global _unique
    _unique = None


post_save.connect(forget_unique_keys, sender=MetadataIndex, dispatch_uid="mdx-unique-keys-save")
post_delete.connect(forget_unique_keys, sender=MetadataIndex, dispatch_uid="mdx-unique-keys-delete")
post_migrate.connect(forget_unique_keys, dispatch_uid="mdx-unique-keys-migrate")


def index_name(entity_name: str, key: str, *, distinct: bool = False) -> str:
    """A PostgreSQL identifier (at most 63 bytes) that names the entity and the key.

    An all-lowercase key has ``mdx_<entity>_<key>`` (the name indexes have been recorded
    under), cut to 54 characters and ended by ``_`` and a digest of the key when longer than
    63. Keys are case-sensitive, so a key with a capital (``Ref`` beside ``ref``), a key whose
    plain name another entity's key would have too (``account`` + ``type_x`` and
    ``account_type`` + ``x``), or one asked ``distinct`` (its plain name is recorded for
    another key) ends instead in ``$`` and a digest of the entity and the exact key: ``$``
    occurs in no entity name and no key, so that name is no plain name."""
    plain = f"mdx_{entity_name}_{key}"
    longer = (e for e in ENTITIES if len(e) > len(entity_name))
    if (
        not distinct
        and key == key.lower()
        and not any(f"{entity_name}_{key}".startswith(f"{e}_") for e in longer)
    ):
        if len(plain) <= 63:
            return plain
        return f"{plain[:54]}_{hashlib.sha256(key.encode()).hexdigest()[:8]}"
    digest = hashlib.sha256(f"{entity_name}:{key}".encode()).hexdigest()[:8]
    return f"{plain.lower()[:54]}${digest}"


def index_out(index: MetadataIndex, accesses: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "indexName": f"metadata.{index.metadata_key}_1",
        "entityName": index.entity_name,
        "metadataKey": index.metadata_key,
        "unique": index.unique,
        "sparse": index.sparse,
    }
    if accesses is not None:
        body["stats"] = {"accesses": accesses, "statsSince": index.created_at}
    return body


def _quote(identifier: str) -> str:
    return connection.ops.quote_name(identifier)


def scope_of(entity_name: str) -> str:
    return SCOPES.get(entity_name, "ledger_id")


@contextmanager
def _building(entity_name: str) -> Iterator[None]:
    """One build of an entity's indexes at a time: a session advisory lock on the entity, held
    from the existence and count checks until the index is recorded (CREATE INDEX CONCURRENTLY
    runs outside any transaction, so a transaction lock would not last). A second request for
    an index of the same entity meanwhile (the same key, or another one that the limit of
    ``MAX_PER_ENTITY`` must count with this one) is 409 0132 at once: it neither waits for the
    build nor touches it, and can be sent again when the build is done."""
    lock = f"metadata-index:{entity_name}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [lock])
        (locked,) = cursor.fetchone()
    if not locked:
        raise Conflict(
            f"A metadata index of {entity_name} is being built by another request; try again when "
            "it is done.",
            code="0132",
            entity_type="MetadataIndex",
        )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [lock])


def _existing(name: str) -> bool | None:
    """Whether an index of this name is valid; None when there is none."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = %s AND c.relnamespace = current_schema()::regnamespace",
            [name],
        )
        row = cursor.fetchone()
    return None if row is None else bool(row[0])


def index_create(*, entity_name: str, key: str, unique: bool, sparse: bool) -> MetadataIndex:
    """Builds the index concurrently, then records it. 0132 when it exists (or an index of the
    entity is being built by another request), 0135 over the per-entity limit, 0136 (422) when
    a unique index meets duplicate values. A recorded index built before indexes led with their
    scope is rebuilt instead (and returned)."""
    model = check_entity(entity_name)
    with _building(entity_name):
        return _create(model, entity_name=entity_name, key=key, unique=unique, sparse=sparse)


def _create(
    model: type[models.Model], *, entity_name: str, key: str, unique: bool, sparse: bool
) -> MetadataIndex:
    recorded = MetadataIndex.objects.filter(entity_name=entity_name, metadata_key=key).first()
    if recorded is not None and _rebuild_if_unscoped(model, recorded):
        return recorded
    if recorded is not None:
        raise Conflict(
            f"A metadata index on '{key}' already exists for {entity_name}.",
            code="0132",
            entity_type="MetadataIndex",
        )
    if MetadataIndex.objects.filter(entity_name=entity_name).count() >= MAX_PER_ENTITY:
        raise LedgerError(
            f"At most {MAX_PER_ENTITY} metadata indexes per entity.",
            code="0135",
            entity_type="MetadataIndex",
        )
    name = index_name(entity_name, key)
    if MetadataIndex.objects.filter(index_name=name).exists():
        # Recorded before names kept case and entities apart (another key's "Ref" as
        # mdx_operation_ref): this key takes its distinct name.
        name = index_name(entity_name, key, distinct=True)
    store = metadata_store.store()
    if isinstance(store, metadata_store.MongoMetadataStore):
        _build_in_mongodb(store, model, key, unique=unique, sparse=sparse)
    else:
        _build_in_postgres(
            model, name, key, unique=unique, sparse=sparse, scope=scope_of(entity_name)
        )
    with transaction.atomic():
        created = MetadataIndex.objects.create(
            entity_name=entity_name,
            metadata_key=key,
            index_name=name,
            unique=unique,
            sparse=sparse,
        )
    forget_unique_keys()
    return created


def _leading_column(name: str) -> str | None:
    """The column an existing index leads with (None: an expression, or no such index)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
            "WHERE c.relname = %s AND c.relnamespace = current_schema()::regnamespace",
            [name],
        )
        row = cursor.fetchone()
    return None if row is None else row[0]


def _rebuild_if_unscoped(model: type[models.Model], index: MetadataIndex) -> bool:
    """Rebuilds a recorded PostgreSQL index that does not lead with its scope column (built by
    an older version, unique across tenants) or that is missing; False when it is current.
    The scoped index is built concurrently under a temporary name while the old one still
    serves, then the old one is dropped and the new one takes its name. Runs under
    ``_building`` of the entity."""
    store = metadata_store.store()
    if isinstance(store, metadata_store.MongoMetadataStore):
        if store.index_is_scoped(model, index.metadata_key):
            return False
        # MongoDB cannot rename an index: the old one goes first, then the scoped one is built
        # (without blocking writes); a unique value is unchecked for the length of the build.
        store.drop_index(model, index.metadata_key)
        _build_in_mongodb(
            store, model, index.metadata_key, unique=index.unique, sparse=index.sparse
        )
        return True
    scope = scope_of(index.entity_name)
    if _existing(index.index_name) and _leading_column(index.index_name) == scope:
        return False
    # "~" never occurs in index_name(): the temporary name cannot be another key's index.
    temporary = f"{index.index_name[:55]}~rebuild"
    found = _existing(temporary)
    if found is not None:  # left by an interrupted rebuild: this service's own name
        with connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {_quote(temporary)}")
    _build_in_postgres(
        model, temporary, index.metadata_key, unique=index.unique, sparse=index.sparse, scope=scope
    )
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {_quote(index.index_name)}")
        cursor.execute(f"ALTER INDEX {_quote(temporary)} RENAME TO {_quote(index.index_name)}")
    return True


def rebuild_unscoped() -> list[str]:
    """Rebuilds every recorded index that does not lead with its scope column (see the module
    docstring); the names of those rebuilt. Run once after upgrading from a version whose
    indexes were not scoped."""
    done = []
    for index in MetadataIndex.objects.order_by("entity_name", "metadata_key"):
        with _building(index.entity_name):
            if _rebuild_if_unscoped(check_entity(index.entity_name), index):
                done.append(index.index_name)
    return done


def _build_in_postgres(
    model: type[models.Model], name: str, key: str, *, unique: bool, sparse: bool, scope: str
) -> None:
    table = model._meta.db_table
    literal = key  # checked by check_key: letters, digits and '_' only
    where = "deleted_at IS NULL" + (f" AND metadata ? '{literal}'" if sparse else "")
    sql = (
        f"CREATE {'UNIQUE ' if unique else ''}INDEX CONCURRENTLY {_quote(name)} "
        f"ON {_quote(table)} ({_quote(scope)}, (metadata ->> '{literal}')) WHERE {where}"
    )
    if connection.in_atomic_block:  # CONCURRENTLY cannot run inside a transaction
        raise RuntimeError("index_create must run outside a database transaction")
    # The name is ours while _building holds its lock, and no record names it: an index of
    # that name is what an interrupted build left (invalid: dropped, then built again) or one
    # this service did not make (valid: left alone, refused).
    found = _existing(name)
    if found is False:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {_quote(name)}")
    elif found:
        raise Conflict(
            f"An index named {name} already exists in the database but is not a recorded "
            "metadata index; drop it first.",
            code="0132",
            entity_type="MetadataIndex",
        )
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    except DatabaseError as exc:
        # A failed concurrent build leaves an invalid index behind: drop it, but only when
        # it is this build's (not when the name was taken: then the index is someone else's).
        if getattr(exc.__cause__, "sqlstate", None) == "42P07":  # duplicate_table
            raise Conflict(
                f"An index named {name} already exists.", code="0132", entity_type="MetadataIndex"
            ) from exc
        with connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {_quote(name)}")
        raise _build_failed(exc, unique) from exc


def _build_in_mongodb(
    store: metadata_store.MongoMetadataStore,
    model: type[models.Model],
    key: str,
    *,
    unique: bool,
    sparse: bool,
) -> None:
    """The index Midaz builds: ``metadata.<key>`` ascending on the entity's collection (MongoDB
    builds it without blocking writes). A unique one that meets duplicates is not left behind."""
    from pymongo.errors import PyMongoError

    try:
        store.create_index(model, key, unique=unique, sparse=sparse)
    except PyMongoError as exc:
        raise _build_failed(exc, unique) from exc


def _build_failed(exc: Exception, unique: bool) -> LedgerError:
    return LedgerError(
        f"The index could not be built: {exc.__cause__ or exc}".strip(),
        code="0136",
        entity_type="MetadataIndex",
        status=422 if unique else 500,
    )


def index_list(entity_name: str | None = None) -> list[dict[str, Any]]:
    """Every recorded index (of one entity when given), with its scan count since it was
    built (``pg_stat_user_indexes``)."""
    rows = MetadataIndex.objects.order_by("entity_name", "metadata_key")
    if entity_name is not None:
        check_entity(entity_name)
        rows = rows.filter(entity_name=entity_name)
    indexes = list(rows)
    scans: dict[str, int] = {}
    store = metadata_store.store()
    if isinstance(store, metadata_store.MongoMetadataStore):
        for i in indexes:
            used = store.index_accesses(check_entity(i.entity_name))
            scans[i.index_name] = used.get(store.index_name(i.metadata_key), 0)
    elif indexes:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexrelname, idx_scan FROM pg_stat_user_indexes "
                "WHERE indexrelname = ANY(%s)",
                [[i.index_name for i in indexes]],
            )
            scans = dict(cursor.fetchall())
    return [index_out(i, scans.get(i.index_name, 0)) for i in indexes]


def index_drop(*, entity_name: str, key: str) -> None:
    """Drops the index concurrently and forgets it; 0133 when there is none. Only indexes made
    here can be named, so no other index can be dropped through this route."""
    check_entity(entity_name)
    index = MetadataIndex.objects.filter(entity_name=entity_name, metadata_key=key).first()
    if index is None:
        raise not_found("0133", "MetadataIndex", f"No metadata index on '{key}' for {entity_name}.")
    store = metadata_store.store()
    if isinstance(store, metadata_store.MongoMetadataStore):
        store.drop_index(check_entity(entity_name), key)
    else:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {_quote(index.index_name)}")
    index.delete()
    forget_unique_keys()
