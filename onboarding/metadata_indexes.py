"""Metadata indexes (MIDAZ_API.md §5): real PostgreSQL expression indexes on one metadata key
of an entity's table, so that ``metadata.<key>=<value>`` filters on large tables are index
scans.

Each index is ``((metadata ->> '<key>'))`` on the live rows (``deleted_at IS NULL``, as every
read filters), restricted to the rows that have the key when ``sparse``, and ``UNIQUE`` when
asked. It is built and dropped ``CONCURRENTLY``: postings and other writes go on while it is
built. ``midaz.api.query.filter_common`` writes the metadata filter so that the planner can
use it (``metadata ? key AND metadata ->> key = value``, beside the ``@>`` that keeps the
documented string semantics).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from django.apps import apps
from django.db import DatabaseError, connection, models, transaction

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
_KEY = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]*$")


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


def index_name(entity_name: str, key: str) -> str:
    """A PostgreSQL identifier (at most 63 bytes) that names the entity and the key."""
    name = f"mdx_{entity_name}_{key}".lower()
    if len(name) <= 63:
        return name
    digest = hashlib.sha256(key.encode()).hexdigest()[:8]
    return f"{name[:54]}_{digest}"


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


def index_create(*, entity_name: str, key: str, unique: bool, sparse: bool) -> MetadataIndex:
    """Builds the index concurrently, then records it. 0132 when it exists, 0135 over the
    per-entity limit, 0136 (422) when a unique index meets duplicate values."""
    model = check_entity(entity_name)
    if MetadataIndex.objects.filter(entity_name=entity_name, metadata_key=key).exists():
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
    table = model._meta.db_table
    literal = key  # checked by check_key: letters, digits and '_' only
    where = "deleted_at IS NULL" + (f" AND metadata ? '{literal}'" if sparse else "")
    sql = (
        f"CREATE {'UNIQUE ' if unique else ''}INDEX CONCURRENTLY {_quote(name)} "
        f"ON {_quote(table)} ((metadata ->> '{literal}')) WHERE {where}"
    )
    if connection.in_atomic_block:  # CONCURRENTLY cannot run inside a transaction
        raise RuntimeError("index_create must run outside a database transaction")
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    except DatabaseError as exc:
        # A failed concurrent build leaves an invalid index behind: drop it.
        with connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {_quote(name)}")
        raise LedgerError(
            f"The index could not be built: {exc.__cause__ or exc}".strip(),
            code="0136",
            entity_type="MetadataIndex",
            status=422 if unique else 500,
        ) from exc
    with transaction.atomic():
        return MetadataIndex.objects.create(
            entity_name=entity_name,
            metadata_key=key,
            index_name=name,
            unique=unique,
            sparse=sparse,
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
    if indexes:
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
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {_quote(index.index_name)}")
    index.delete()
