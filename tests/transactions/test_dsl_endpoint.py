"""``POST .../transactions/dsl``: a Gold file upload posts like the JSON route."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tests.helpers import Api, assert_error
from tests.transactions.book import Book

pytestmark = pytest.mark.django_db

E2 = (
    '(transaction V1 (chart-of-accounts-group-name SPLIT) (description "split")'
    " (send USD 1000|0 (source (from @alice :amount USD 1000|0))"
    " (distribute (to @bob :share 50) (to @carol :share 50 :of 50) (to @dave :remaining))))"
)


@pytest.fixture
def book(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Book:
    b = Book(api, ledger)
    for alias in ("@alice", "@bob", "@carol", "@dave"):
        b.account(alias)
    b.fund("@alice", "1000")
    return b


def upload(client: Client, book: Book, text: str, name: str = "split.gold", **headers: str) -> Any:
    path = "/v1" + book.path("/transactions/dsl")
    file = SimpleUploadedFile(name, text.encode(), content_type="text/plain")
    return client.post(path, {"dsl": file}, headers=headers)


def test_e2_split_posts_and_carries_the_deprecation_headers(client: Client, book: Book) -> None:
    response = upload(client, book, E2)
    body = book.ok(response)
    assert body["status"]["code"] == "CREATED"
    assert body["chartOfAccountsGroupName"] == "SPLIT"
    assert body["description"] == "split"
    assert response["Deprecation"] == "true"
    assert response["Sunset"] == "Sat, 01 Aug 2026 00:00:00 GMT"
    assert 'rel="successor-version"' in response["Link"]
    assert book.balance("@bob")[0] == Decimal(500)
    assert book.balance("@carol")[0] == Decimal(250)
    assert book.balance("@dave")[0] == Decimal(250)


def test_the_same_file_twice_is_a_replay(client: Client, book: Book) -> None:
    first = upload(client, book, E2)
    again = upload(client, book, E2)
    assert again["X-Idempotency-Replayed"] == "true"
    assert book.ok(again)["id"] == book.ok(first)["id"]
    assert book.balance("@dave")[0] == Decimal(250)


def test_pending_file_holds(client: Client, book: Book) -> None:
    text = (
        "(transaction V1 (chart-of-accounts-group-name HOLD) (pending true)"
        " (send USD 30|0 (source (from @alice :amount USD 30|0))"
        " (distribute (to @bob :amount USD 30|0))))"
    )
    body = book.ok(upload(client, book, text))
    assert body["status"]["code"] == "PENDING"
    assert book.balance("@alice")[:2] == (Decimal(970), Decimal(30))


def test_syntax_error_names_line_and_column(client: Client, book: Book) -> None:
    body = assert_error(upload(client, book, "(transaction V1\n  (send USD"), 400, "0048")
    assert "line 2" in body["message"]


def test_empty_file_is_0049(client: Client, book: Book) -> None:
    assert_error(upload(client, book, "   \n"), 400, "0049")


def test_missing_file_or_wrong_name_is_0048(client: Client, book: Book) -> None:
    assert_error(upload(client, book, E2, name="split.txt"), 400, "0048")
    path = "/v1" + book.path("/transactions/dsl")
    assert_error(client.post(path, {"other": "x"}), 400, "0048")


def test_a_valid_file_still_meets_the_balance_rules(client: Client, book: Book) -> None:
    text = (
        "(transaction V1 (chart-of-accounts-group-name X)"
        " (send USD 5000|0 (source (from @alice :amount USD 5000|0))"
        " (distribute (to @bob :amount USD 5000|0))))"
    )
    assert_error(upload(client, book, text), 422, "0018")
