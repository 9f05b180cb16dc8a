"""Every read that decides what a write does is on the primary (issue 16, item 9), against the
real streaming replica with its replay paused, so that it lags on purpose: the idempotent
replay's transaction, the ledger settings a posting obeys, the stored asset rate a conversion
uses, and the routes and account types of route validation. Without a shared cache (no
Valkey), a settings change is seen by every process within the local TTL."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connections

from midaz.db_router import REPLICA
from onboarding import ledger_settings
from tests.conftest import pause_replay, replica_lagging, wait_for_replica
from tests.helpers import Api, assert_error, ledger_path
from tests.transactions.book import Book, amt, send

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


@pytest.fixture
def lagging(real_replica: None) -> Iterator[None]:
    """Yields with the replica's replay paused (once it has caught up); resumes it after."""
    with replica_lagging():
        yield


@pytest.fixture
def book(real_replica: None, api: Api) -> Book:
    org = api.create_organization()
    ledger = api.create_ledger(org["id"])
    api.create_asset(ledger, code="USD")
    api.create_asset(ledger, code="EUR")
    b = Book(api, ledger)
    b.account("@alice", type="deposit")
    b.account("@bob", type="deposit")
    b.account("@eve", asset="EUR")
    b.fund("@alice", "100")
    return b


def _lag(book: Book) -> None:
    """Pauses replay (after the replica caught up with ``book``'s setup)."""
    pause_replay()


def test_a_replay_reads_its_transaction_on_the_primary(book: Book, lagging: None) -> None:
    body = send("USD", "7", [amt("@alice", "7")], [amt("@bob", "7")], description="lag")
    first = book.ok(book.post(body))
    # No header: the body's hash is the key, never cached, so the database answers the replay
    # and its transaction is one the lagging replica does not have yet.
    again = book.post(body)
    assert book.ok(again)["id"] == first["id"]
    assert again["X-Idempotency-Replayed"] == "true"
    assert [op["type"] for op in book.ok(again)["operations"]] == ["DEBIT", "CREDIT"]


def test_a_settings_change_is_obeyed_while_the_replica_lags(book: Book, lagging: None) -> None:
    api = book.api
    assert ledger_settings.cached(book.ledger["id"])["accounting"]["validateRoutes"] is False
    api.ok(
        api.patch(ledger_path(book.ledger, "/settings"), {"accounting": {"validateRoutes": True}}),
        200,
    )
    ledger_settings._local.clear()  # as in another process
    assert_error(book.transfer("@alice", "@bob", "1"), 422, "0114")
    assert ledger_settings.cached(book.ledger["id"])["accounting"]["validateRoutes"] is True


def test_a_conversion_uses_the_rate_just_stored(book: Book, real_replica: None) -> None:
    rate = {"from": "USD", "to": "EUR", "rate": 2, "scale": 0}
    book.ok(book.api.request("PUT", book.path("/asset-rates"), rate), 201)
    _lag(book)
    try:
        book.ok(book.api.request("PUT", book.path("/asset-rates"), {**rate, "rate": 3}), 201)
        body = send(
            "USD",
            "10",
            [amt("@alice", "10")],
            [amt("@eve", "10", rate={"from": "USD", "to": "EUR"})],
        )
        posted = book.ok(book.post(body))
    finally:
        _resume()
    credit = next(op for op in posted["operations"] if op["accountAlias"] == "@eve")
    assert Decimal(credit["amount"]["value"]) == Decimal(30)


def test_routes_and_account_types_made_a_moment_ago_are_found(
    book: Book, real_replica: None
) -> None:
    api, ledger = book.api, book.ledger
    api.ok(
        api.patch(ledger_path(ledger, "/settings"), {"accounting": {"validateRoutes": True}}), 200
    )
    _lag(book)
    try:
        book.account("@carol", type="deposit")  # the rule below needs its type
        source = api.ok(
            api.post(
                ledger_path(ledger, "/operation-routes"),
                {
                    "title": "out",
                    "operationType": "source",
                    "accountingEntries": {"direct": {"debit": {"code": "D", "description": "d"}}},
                },
            ),
            201,
        )
        destination = api.ok(
            api.post(
                ledger_path(ledger, "/operation-routes"),
                {
                    "title": "in",
                    "operationType": "destination",
                    "account": {"ruleType": "account_type", "validIf": ["deposit"]},
                    "accountingEntries": {"direct": {"credit": {"code": "C", "description": "c"}}},
                },
            ),
            201,
        )
        route = api.ok(
            api.post(
                ledger_path(ledger, "/transaction-routes"),
                {"title": "r", "operationRoutes": [source["id"], destination["id"]]},
            ),
            201,
        )
        body = send(
            "USD",
            "5",
            [amt("@alice", "5", routeId=source["id"])],
            [amt("@carol", "5", routeId=destination["id"])],
            routeId=route["id"],
        )
        posted = book.ok(book.post(body))
    finally:
        _resume()
    assert [op["routeCode"] for op in posted["operations"]] == ["D", "C"]


def _resume() -> None:
    with connections[REPLICA].cursor() as cur:
        cur.execute("SELECT pg_wal_replay_resume()")
    wait_for_replica()


# --- without a shared cache ------------------------------------------------------------------


def test_without_a_shared_cache_a_change_reaches_every_process_within_the_local_ttl(
    api: Api, settings: Any
) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert not ledger_settings.shared_cache()
    org = api.create_organization()
    ledger = api.create_ledger(org["id"])
    assert ledger_settings.cached(ledger["id"])["accounting"]["validateRoutes"] is False
    key = ledger_settings._cache_key(ledger["id"])
    kept = cache.get(key)  # what this process keeps in its in-memory cache, if anything
    api.ok(
        api.patch(ledger_path(ledger, "/settings"), {"accounting": {"validateRoutes": True}}), 200
    )
    # Another process was not told: its in-memory copy survives the change.
    if kept is not None:
        cache.set(key, kept, timeout=60)
    ledger_settings._local.clear()  # its local TTL has passed
    assert ledger_settings.cached(ledger["id"])["accounting"]["validateRoutes"] is True


def test_a_stale_read_stored_after_a_change_is_not_used(api: Api) -> None:
    """A reader that read the old settings before a change committed and stores them after the
    change dropped the shared copy: the copy carries the old generation and is ignored."""
    org = api.create_organization()
    ledger = api.create_ledger(org["id"])
    old = ledger_settings.cached(ledger["id"])
    key = ledger_settings._cache_key(ledger["id"])
    stale = cache.get(key)
    assert stale is not None
    api.ok(
        api.patch(ledger_path(ledger, "/settings"), {"accounting": {"validateRoutes": True}}), 200
    )
    cache.set(key, stale, timeout=60)  # the late writer
    ledger_settings._local.clear()
    assert old["accounting"]["validateRoutes"] is False
    assert ledger_settings.cached(ledger["id"])["accounting"]["validateRoutes"] is True


def test_an_account_create_obeys_settings_changed_while_the_replica_lags(
    book: Book, lagging: None
) -> None:
    """The ledger a write is scoped to (alive, its settings) is read on the primary."""
    api = book.api
    api.ok(
        api.patch(
            ledger_path(book.ledger, "/settings"), {"accounting": {"validateAccountType": True}}
        ),
        200,
    )
    response = api.post(
        ledger_path(book.ledger, "/accounts"), {"assetCode": "USD", "type": "no-such-type"}
    )
    assert_error(response, 400, "0066")


def test_a_transaction_patch_merges_into_the_stored_metadata(
    book: Book, real_replica: None
) -> None:
    """Two metadata patches in a row while the replica lags: the second merges into what the
    first stored, not into the replica's older copy (a lost update)."""
    tx = book.ok(book.transfer("@alice", "@bob", "1"))
    path = book.path(f"/transactions/{tx['id']}")
    _lag(book)  # the replica has the transaction, and none of what follows
    try:
        book.api.ok(book.api.patch(path, {"metadata": {"first": "1"}}), 200)
        second = book.api.ok(book.api.patch(path, {"metadata": {"second": "2"}}), 200)
    finally:
        _resume()
    assert second["metadata"] == {"first": "1", "second": "2"}
