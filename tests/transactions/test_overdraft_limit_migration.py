"""Migration 0026 rewrites overdraft limits stored before they were checked: a readable one as
canonical text, an unreadable one disabled the safe way (no more borrowing), so that no posting
on such a balance reaches midaz_post's cast of a limit it cannot read (a 500)."""

from __future__ import annotations

import importlib
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps

from tests.helpers import Api, assert_error
from tests.transactions.book import Book
from transactions.models import Balance

migration = importlib.import_module("transactions.migrations.0026_canonical_overdraft_limits")

ON = {"allowOverdraft": True, "overdraftLimitEnabled": True}


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("100", "100"),
        ("007.50", "7.50"),
        (" 100 ", "100"),
        ("1_000", "1000"),
        ("1e3", "1000"),
        ("\u0661\u0660\u0660", "100"),
        (250, "250"),
        (2.5, "2.5"),
        ("abc", None),
        ("NaN", None),
        ("Infinity", None),
        ("-5", None),
        ("0", None),
        ("", None),
        (True, None),
        (None, None),
        ({"x": 1}, None),
        ("1" * 65, None),
        ("1e70", None),
    ],
)
def test_canonical_limit(raw: Any, canonical: str | None) -> None:
    assert migration.canonical_limit(raw) == canonical


@pytest.mark.parametrize(
    ("current", "used", "expected"),
    [
        ({**ON, "overdraftLimit": "10"}, 0, {**ON, "overdraftLimit": "10"}),
        ({**ON, "overdraftLimit": " 10"}, 0, {**ON, "overdraftLimit": "10"}),
        (
            {**ON, "overdraftLimit": "x"},
            0,
            {"allowOverdraft": False, "overdraftLimitEnabled": False},
        ),
        ({**ON}, 0, {"allowOverdraft": False, "overdraftLimitEnabled": False}),
        ({**ON, "overdraftLimit": "x"}, Decimal("3.5"), {**ON, "overdraftLimit": "3.5"}),
        (
            {"allowOverdraft": True, "overdraftLimitEnabled": False, "overdraftLimit": "x"},
            0,
            {"allowOverdraft": True, "overdraftLimitEnabled": False},
        ),
        (
            {"allowOverdraft": True, "overdraftLimitEnabled": "true", "overdraftLimit": "5"},
            0,
            {**ON, "overdraftLimit": "5"},
        ),
    ],
)
def test_fixed_settings(current: dict[str, Any], used: Decimal, expected: dict[str, Any]) -> None:
    assert migration.fixed_settings(current, Decimal(used)) == expected


@pytest.fixture
def book(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Book:
    b = Book(api, ledger)
    for alias in ("@alice", "@bob", "@carol"):
        b.account(alias)
        b.api.ok(
            b.api.patch(
                b.path(f"/balances/{row(b, alias).id}"), {"settings": {"allowOverdraft": True}}
            ),
            200,
        )
    return b


def row(book: Book, alias: str) -> Balance:
    return Balance.objects.get(ledger_id=book.ledger["id"], alias=alias, key="default")


@pytest.mark.django_db
def test_the_migration_makes_every_stored_limit_usable(book: Book) -> None:
    stored = {"@alice": "1_000", "@bob": "abc", "@carol": "5"}
    for alias, raw in stored.items():
        Balance.objects.filter(pk=row(book, alias).id).update(
            settings={**ON, "overdraftLimit": raw}
        )
    migration.forwards(apps, None)
    assert row(book, "@alice").settings == {**ON, "overdraftLimit": "1000"}
    assert row(book, "@bob").settings == {"allowOverdraft": False, "overdraftLimitEnabled": False}
    assert row(book, "@carol").settings == {**ON, "overdraftLimit": "5"}
    # every one of them posts (or refuses) with a code: no cast error
    book.ok(book.transfer("@alice", "@carol", "7"))
    assert_error(book.transfer("@bob", "@carol", "1"), 422, "0018")
    assert_error(book.transfer("@carol", "@bob", "13"), 422, "0167")
