"""The write views of balances, asset rates, operations, ledger settings and bulks decide on
the primary (what they read first: the ledger is alive, the account, the balance, the
operation), against the real streaming replica with its replay paused. A row missing on the
replica is looked for again on the primary (midaz.lookup), so the danger is a stale row: here
the ledger is deleted while the replica lags, and every write must answer 404 0037, never
change what the deleted ledger held."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.db import connections

from midaz.db_router import REPLICA
from tests.conftest import replica_lagging
from tests.helpers import Api, assert_error, ledger_path
from tests.transactions.book import Book, amt, send

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


lagging = replica_lagging


@dataclass
class Deleted:
    """A ledger deleted while the replica lags (the replica still shows it alive), with the
    ids of what lived in it."""

    book: Book
    account: str
    balance: str
    transaction: str
    operation: str


@pytest.fixture
def deleted(real_replica: None, api: Api) -> Iterator[Deleted]:
    org = api.create_organization()
    ledger = api.create_ledger(org["id"])
    api.create_asset(ledger, code="USD")
    api.create_asset(ledger, code="EUR")
    book = Book(api, ledger)
    alice = book.account("@alice")
    book.account("@bob")
    book.fund("@alice", "100")
    extra = api.ok(api.post(book.path(f"/accounts/{alice['id']}/balances"), {"key": "extra"}), 201)
    posted = book.ok(book.transfer("@alice", "@bob", "1"))
    with lagging():
        assert api.delete(ledger_path(ledger)).status_code == 204
        with connections[REPLICA].cursor() as cur:
            cur.execute("SELECT deleted_at FROM onboarding_ledger WHERE id = %s", [ledger["id"]])
            assert cur.fetchone() == (None,), "the replica was meant to lag"
        yield Deleted(book, alice["id"], extra["id"], posted["id"], posted["operations"][0]["id"])


def test_ledger_settings_patch(deleted: Deleted) -> None:
    api = deleted.book.api
    path = ledger_path(deleted.book.ledger, "/settings")
    assert_error(api.patch(path, {"accounting": {"validateRoutes": True}}), 404, "0037")


def test_asset_rate_put(deleted: Deleted) -> None:
    rate = {"from": "USD", "to": "EUR", "rate": 2, "scale": 0}
    book = deleted.book
    assert_error(book.api.request("PUT", book.path("/asset-rates"), rate), 404, "0037")


def test_balance_create_patch_delete(deleted: Deleted) -> None:
    book = deleted.book
    api = book.api
    path = book.path(f"/accounts/{deleted.account}/balances")
    assert_error(api.post(path, {"key": "late"}), 404, "0037")
    path = book.path(f"/balances/{deleted.balance}")
    assert_error(api.patch(path, {"allowSending": False}), 404, "0037")
    assert_error(api.delete(path), 404, "0037")


def test_operation_patch(deleted: Deleted) -> None:
    book = deleted.book
    path = book.path(f"/transactions/{deleted.transaction}/operations/{deleted.operation}")
    assert_error(book.api.patch(path, {"description": "late"}), 404, "0037")


def test_bulk(deleted: Deleted) -> None:
    book = deleted.book
    items = [send("USD", "1", [amt("@alice", "1")], [amt("@bob", "1")], description="bulk")]
    assert_error(
        book.api.post(book.path("/transactions/bulk"), {"transactions": items}), 404, "0037"
    )
