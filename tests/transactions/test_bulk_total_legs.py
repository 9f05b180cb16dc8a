"""A bulk request may hold at most MAX_BULK_LEGS source and destination entries in all (each
item within MAX_TRANSACTION_LEGS): beyond, the whole request is 400 0047, atomic or not, with
nothing posted and nothing stored."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings as django_settings

from tests.helpers import Api, assert_error
from tests.transactions.book import Book, amt, send
from transactions.models import BulkRecord, Transaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Book:
    b = Book(api, ledger)
    for alias in ("@alice", "@bob", "@carol"):
        b.account(alias)
    b.fund("@alice", "100")
    return b


def split(n: int, value: str = "1") -> dict[str, Any]:
    """@alice to @bob and @carol: 1 + 2 = 3 entries; ``n`` tells the items apart."""
    return send(
        "USD",
        value,
        [amt("@alice", value)],
        [amt("@bob", "0.5"), amt("@carol", "0.5")],
        description=f"item {n}",
    )


def bulk(book: Book, items: list[dict[str, Any]], atomic: bool) -> Any:
    return book.api.post(book.path("/transactions/bulk"), {"transactions": items, "atomic": atomic})


def test_the_default_is_ten_thousand() -> None:
    assert django_settings.MAX_BULK_LEGS == 10_000


@pytest.mark.parametrize("atomic", [True, False])
def test_more_legs_than_the_limit_refuse_the_whole_request(
    book: Book, settings: Any, atomic: bool
) -> None:
    settings.MAX_BULK_LEGS = 8
    before = Transaction.objects.count(), book.balance("@bob")
    error = assert_error(bulk(book, [split(n) for n in range(3)], atomic), 400, "0047")  # 9
    assert "MAX_BULK_LEGS" in error["message"]
    assert error["fields"]["transactions"] == "9 entries"
    assert (Transaction.objects.count(), book.balance("@bob")) == before
    assert not BulkRecord.objects.exists()


def test_exactly_the_limit_is_posted(book: Book, settings: Any) -> None:
    settings.MAX_BULK_LEGS = 9
    response = bulk(book, [split(n) for n in range(3)], atomic=True)
    assert response.status_code == 201, response.content
    assert book.balance("@bob")[0] == Decimal("1.5")


def test_items_refused_by_validation_count_for_nothing(book: Book, settings: Any) -> None:
    settings.MAX_BULK_LEGS = 6
    broken = {"send": {"asset": "USD"}}  # refused as an item: no value, no source
    response = bulk(book, [split(0), broken, split(1)], atomic=False)
    assert response.status_code == 207, response.content
