"""The balance of an external account cannot be deleted (422 0074, as the account itself):
deleted, its asset could never flow in or out again, and it cannot be re-created (0124)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import Api, assert_error
from tests.transactions.book import Book, amt
from transactions.models import Balance

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Book:
    b = Book(api, ledger)
    b.account("@alice")
    return b


def test_a_fresh_external_balance_cannot_be_deleted(api: Api, book: Book) -> None:
    ext = Balance.objects.get(ledger_id=book.ledger["id"], alias="@external/USD")
    assert ext.available == 0
    assert_error(api.delete(book.path(f"/balances/{ext.id}")), 422, "0074")
    ext.refresh_from_db()
    assert ext.deleted_at is None
    book.fund("@alice", "5")


def test_an_external_balance_that_nets_out_cannot_be_deleted(api: Api, book: Book) -> None:
    book.fund("@alice", "5")
    outflow = {"send": {"asset": "USD", "value": "5", "source": {"from": [amt("@alice", "5")]}}}
    book.ok(book.post(outflow, "outflow"))
    ext = Balance.objects.get(ledger_id=book.ledger["id"], alias="@external/USD")
    assert ext.available == 0
    assert_error(api.delete(book.path(f"/balances/{ext.id}")), 422, "0074")
    book.fund("@alice", "1")


def test_an_ordinary_empty_balance_is_still_deleted(api: Api, book: Book) -> None:
    alice = Balance.objects.get(ledger_id=book.ledger["id"], alias="@alice")
    assert api.delete(book.path(f"/balances/{alice.id}")).status_code == 204
