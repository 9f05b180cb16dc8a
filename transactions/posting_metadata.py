"""The metadata of a posting when it lives outside PostgreSQL (``METADATA_BACKEND=mongodb``).

``midaz_post`` writes the transaction and its operations in SQL, beside the model layer that
sends other entities' metadata to the store. So the posting path writes the metadata of the
transaction and of each operation to the store itself, before the SQL runs (the ids are made
in Python), and hands the SQL empty metadata. A posting that is refused, or turns out to be a
replay of an earlier one, removes what it wrote. With the default store this module does
nothing and costs nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from midaz import metadata as metadata_store
from transactions.models import Operation, Transaction

logger = logging.getLogger(__name__)


@dataclass
class Written:
    """What one posting wrote to the external store, to remove it again if need be."""

    transaction_ids: list[uuid.UUID] = field(default_factory=list)
    operation_ids: list[uuid.UUID] = field(default_factory=list)

    def forget(self) -> None:
        """Best effort: a document left behind belongs to no row and no read reaches it."""
        store = metadata_store.store()
        try:
            store.remove(Transaction, self.transaction_ids)
            store.remove(Operation, self.operation_ids)
        except Exception:
            logger.warning("could not remove the metadata of a refused posting", exc_info=True)


@dataclass
class Sent:
    """The row and legs to send to ``midaz_post``, and what went to the external store."""

    row: dict[str, Any]
    legs: list[dict[str, Any]]
    written: Written | None = None

    def discard(self) -> None:
        """The posting wrote no row (a replay of an earlier one, or a refused bulk item): its
        documents belong to nothing."""
        if self.written is not None:
            self.written.forget()


@contextmanager
def externalized(
    tx_row: dict[str, Any], legs: list[dict[str, Any]], *, transaction_metadata: bool = True
) -> Iterator[Sent]:
    """With an external store, writes the metadata of the transaction and its operations
    there and gives copies of the row and legs that carry none; removes it again if the block
    raises (a refused posting). ``transaction_metadata=False`` leaves the transaction's document
    alone (a commit or cancel does not change it). With the default store, gives the row and
    legs as they are."""
    store = metadata_store.store()
    if store.in_rows:
        yield Sent(tx_row, legs)
        return
    written = Written()
    tx_id = uuid.UUID(str(tx_row["id"]))
    if transaction_metadata and tx_row.get("metadata"):
        store.write_new(Transaction, {tx_id: tx_row["metadata"]})
        written.transaction_ids.append(tx_id)
    operations = {uuid.UUID(leg["op"]): leg["metadata"] for leg in legs if leg.get("metadata")}
    store.write_new(Operation, operations)
    written.operation_ids.extend(operations)
    sent = Sent(
        {**tx_row, "metadata": {}},
        [{**leg, "metadata": {}} if leg.get("metadata") else leg for leg in legs],
        written,
    )
    try:
        yield sent
    except BaseException:
        written.forget()
        raise
