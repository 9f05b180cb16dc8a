"""``metadata.<key>`` filters on the tables without a GIN index (transactions, operations):
answered with a metadata index on the key; without one, within a statement timeout and a
number of matching rows, past which the request is 400 0082 (issue 16, item 10). Before, such
a filter read every row of the ledger in its window, for as long as that took."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection, connections, transaction

from midaz.api.query import ListQuery, filter_common
from tests.helpers import Api, assert_error, ledger_path
from tests.transactions.book import Book, amt
from transactions.models import Operation, Transaction

# The metadata index is built CONCURRENTLY (outside a transaction); the lock test needs a
# second session that sees the rows.
pytestmark = pytest.mark.django_db(transaction=True)

INDEXES = "/settings/metadata-indexes"


@pytest.fixture(autouse=True)
def _drop_made_indexes(drop_made_indexes: None) -> None:
    """DDL outlives the test's data: every index a test made is dropped (tests/conftest.py)."""


def _post_invoices(book: Book, invoices: list[str]) -> None:
    for n, invoice in enumerate(invoices):
        body = {
            "description": f"invoice {n}",  # a body of its own: not a replay of the last
            "send": {
                "asset": "USD",
                "value": "1",
                "distribute": {"to": [amt("@alice", "1", metadata={"invoice": invoice})]},
            },
            "metadata": {"invoice": invoice},
        }
        book.ok(book.post(body, "inflow"))


@pytest.fixture
def book(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Book:
    book = Book(api, ledger)
    book.account("@alice")
    return book


def _transactions(api: Api, ledger: dict[str, Any], **params: str) -> Any:
    return api.get(ledger_path(ledger, "/transactions"), **params)


def test_an_unindexed_filter_is_answered_within_its_bounds(
    api: Api, ledger: dict[str, Any], book: Book
) -> None:
    _post_invoices(book, ["a", "b", "b"])
    found = api.ok(_transactions(api, ledger, **{"metadata.invoice": "b"}), 200)
    assert [t["metadata"]["invoice"] for t in found["items"]] == ["b", "b"]
    assert_error(_transactions(api, ledger, **{"metadata.invoice": "z"}), 404, "0071")


def test_an_unindexed_filter_matching_too_many_rows_is_400_until_the_key_is_indexed(
    api: Api, ledger: dict[str, Any], book: Book, settings: Any
) -> None:
    settings.METADATA_SCAN_MAX_ROWS = 3
    _post_invoices(book, ["same"] * 4 + ["other"])
    answer = assert_error(_transactions(api, ledger, **{"metadata.invoice": "same"}), 400, "0082")
    assert "/v1/settings/metadata-indexes/entities/transaction" in answer["message"]
    # Under the bound: answered.
    assert len(api.ok(_transactions(api, ledger, **{"metadata.invoice": "other"}), 200)["items"])

    # The operations of the account: the same bound (its own entity in the advice).
    account = api.ok(api.get(ledger_path(ledger, "/accounts/alias/@alice")), 200)
    ops_path = ledger_path(ledger, f"/accounts/{account['id']}/operations")
    answer = assert_error(api.get(ops_path, **{"metadata.invoice": "same"}), 400, "0082")
    assert "/entities/operation" in answer["message"]

    # With a metadata index on the key the filter is an index scan: no bound.
    api.ok(api.post(f"{INDEXES}/entities/transaction", {"metadataKey": "invoice"}), 201)
    found = api.ok(_transactions(api, ledger, **{"metadata.invoice": "same", "limit": "10"}), 200)
    assert [t["metadata"]["invoice"] for t in found["items"]] == ["same"] * 4
    api.ok(api.post(f"{INDEXES}/entities/operation", {"metadataKey": "invoice"}), 201)
    ops = api.ok(api.get(ops_path, **{"metadata.invoice": "same"}), 200)
    assert len(ops["items"]) == 4


def test_a_slow_unindexed_scan_is_cut_short_with_400(
    api: Api, ledger: dict[str, Any], book: Book, settings: Any
) -> None:
    """The scan is made slow by a session that holds the table (lock waits count towards the
    statement timeout): the filter answers 400 0082 at the timeout, not when the table is
    let go (after 5 s)."""
    settings.METADATA_SCAN_TIMEOUT_MS = 300
    _post_invoices(book, ["a"])
    blocker = connections.create_connection("default")
    blocker.inc_thread_sharing()  # the timer's thread lets the table go
    blocker.set_autocommit(False)
    with blocker.cursor() as cursor:
        cursor.execute("LOCK TABLE transactions_transaction IN ACCESS EXCLUSIVE MODE")
    release = threading.Timer(5, blocker.rollback)
    release.start()
    try:
        started = time.monotonic()
        answer = assert_error(_transactions(api, ledger, **{"metadata.invoice": "a"}), 400, "0082")
        elapsed = time.monotonic() - started
    finally:
        release.join()
        blocker.close()
    assert "took too long" in answer["message"]
    assert elapsed < 4, elapsed


def test_the_timeout_does_not_outlast_the_filter_in_an_outer_transaction(
    api: Api, ledger: dict[str, Any], book: Book
) -> None:
    _post_invoices(book, ["a"])
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            (before,) = cursor.fetchone()
        for model in (Transaction, Operation):
            qs = filter_common(
                model.objects.filter(ledger_id=ledger["id"]), ListQuery(metadata={"invoice": "a"})
            )
            assert qs.count() == 1
        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            (after,) = cursor.fetchone()
    assert after == before
