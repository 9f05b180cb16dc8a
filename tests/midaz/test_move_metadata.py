"""``manage.py move_metadata``: an operator's switch of ``METADATA_BACKEND``, both ways, with
nothing lost and the answers of the API unchanged (MongoDB as in ``tests/metadata_backends.py``:
a real server when ``MONGO_URL`` is set, and the adapter over mongomock)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command

from midaz import metadata
from midaz.metadata import MongoMetadataStore, PostgresMetadataStore
from onboarding.models import Account, Organization
from tests.helpers import Api, ledger_path
from tests.metadata_backends import MONGO_KINDS
from tests.transactions.book import Book, amt, send
from transactions.models import Operation, Transaction

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.parametrize("use_store", MONGO_KINDS, indirect=True),
]


def _column(model: Any, pk: Any) -> Any:
    return model._base_manager.filter(pk=pk).values_list("metadata", flat=True).get()


def test_metadata_moves_to_mongodb_and_back(
    use_store: MongoMetadataStore, api: Api, settings: Any
) -> None:
    # Written on the default store, before the switch.
    with metadata.using(PostgresMetadataStore()):
        settings.METADATA_BACKEND = "postgres"
        org = api.create_organization(metadata={"tier": "gold"})
        ledger = api.create_ledger(org["id"])
        api.create_asset(ledger, code="USD")
        book = Book(api, ledger)
        alice = book.account("@alice", metadata={"kyc": "done"})
        book.account("@bob")
        book.fund("@alice", "10")
        posted = book.ok(
            book.post(
                send(
                    "USD",
                    "4",
                    [amt("@alice", "4", metadata={"leg": "out"})],
                    [amt("@bob", "4")],
                    metadata={"order": "M1"},
                )
            )
        )
    settings.METADATA_BACKEND = "mongodb"
    call_command("move_metadata", "--to", "mongodb", "--batch", "2", verbosity=0)
    assert _column(Organization, org["id"]) == {}
    assert _column(Account, alice["id"]) == {}
    assert _column(Transaction, posted["id"]) == {}
    assert use_store.read(Organization, [org["id"]]) != {}
    # The API answers and filters exactly as before, from MongoDB now.
    got = book.ok(book.api.get(book.path(f"/transactions/{posted['id']}")), 200)
    assert got["metadata"] == {"order": "M1"}
    assert got["operations"][0]["metadata"] == {"leg": "out"}
    found = api.ok(api.get(ledger_path(ledger, "/accounts"), **{"metadata.kyc": "done"}), 200)
    assert [a["id"] for a in found["items"]] == [alice["id"]]
    # A second run finds nothing left to move.
    call_command("move_metadata", "--to", "mongodb", verbosity=0)

    call_command("move_metadata", "--to", "postgres", "--batch", "2", verbosity=0)
    assert use_store.collection(Organization).count_documents({}) == 0
    assert use_store.collection(Operation).count_documents({}) == 0
    with metadata.using(PostgresMetadataStore()):
        settings.METADATA_BACKEND = "postgres"
        assert _column(Organization, org["id"]) == {"tier": "gold"}
        got = book.ok(book.api.get(book.path(f"/transactions/{posted['id']}")), 200)
        assert got["metadata"] == {"order": "M1"}
        assert got["operations"][0]["metadata"] == {"leg": "out"}
