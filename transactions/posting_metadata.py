"""The metadata of a posting when it lives outside PostgreSQL (``METADATA_BACKEND=mongodb``).

``midaz_post`` writes the transaction and its operations in SQL, beside the model layer that
sends other entities' metadata to the store. So the SQL gets empty metadata, and the posting
path writes the documents of the transaction and of each operation itself, right after the SQL
and before the commit, in one database transaction: a refused store write rolls the posting
back, a refused posting or a replay writes no document. (On this backend a posting's balances
stay locked for that store write too.) With the default store this module does nothing and
costs nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction

from midaz import metadata as metadata_store
from midaz.exceptions import Conflict
from transactions.models import Operation, Transaction


@dataclass
class Sent:
    """The row and legs to send to ``midaz_post``, and the documents to write after it."""

    row: dict[str, Any]
    legs: list[dict[str, Any]]
    transactions: dict[uuid.UUID, Any] = field(default_factory=dict)
    operations: dict[uuid.UUID, Any] = field(default_factory=dict)

    def discard(self) -> None:
        """The posting wrote no row (a replay of an earlier one, or a refused bulk item)."""
        self.transactions.clear()
        self.operations.clear()

    def write(self, store: metadata_store.MetadataStore) -> None:
        """The documents, in the posting's database transaction; a value that a unique metadata
        index already holds refuses the posting (409 0498)."""
        try:
            store.write_new(Transaction, self.transactions)
            store.write_new(Operation, self.operations)
        except Exception as exc:
            if not metadata_store.is_duplicate(exc):
                raise
            raise Conflict(
                "A unique metadata index already holds a value of this posting's metadata.",
                code="0498",
                entity_type="Transaction",
            ) from exc


@contextmanager
def externalized(
    tx_row: dict[str, Any],
    legs: list[dict[str, Any]],
    *,
    transaction_metadata: bool = True,
    savepoint: bool = True,
) -> Iterator[Sent]:
    """Gives the row and legs for ``midaz_post``, the block inside a savepoint when it runs in a
    caller's database transaction (a revert: a refusal must not poison it), unless
    ``savepoint=False`` (a bulk, a commit or cancel: they roll back whole).

    With an external store, the row and legs carry no metadata, the block always runs in a
    database transaction (its own, or the savepoint) and, unless the block discards them, the
    documents are written when it ends, before that transaction commits.
    ``transaction_metadata=False`` leaves the transaction's document alone (a commit or cancel
    does not change it)."""
    store = metadata_store.store()
    nested = connection.in_atomic_block
    if store.in_rows:
        with transaction.atomic() if savepoint and nested else nullcontext():
            yield Sent(tx_row, legs)
        return
    sent = Sent({**tx_row, "metadata": {}}, [{**leg, "metadata": {}} for leg in legs])
    if transaction_metadata and tx_row.get("metadata"):
        sent.transactions[uuid.UUID(str(tx_row["id"]))] = tx_row["metadata"]
    sent.operations.update(
        {uuid.UUID(leg["op"]): leg["metadata"] for leg in legs if leg.get("metadata")}
    )
    with transaction.atomic() if savepoint or not nested else nullcontext():
        yield sent
        sent.write(store)
