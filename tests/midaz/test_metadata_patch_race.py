"""Concurrent metadata PATCHes of one entity keep every key (issue 16, finding F19).

A metadata PATCH is a JSON Merge Patch: read the stored map, merge the patch, write the map.
Two PATCHes of the same entity with ``{"a": ...}`` and ``{"b": ...}`` must both land: each
update reads its row locked ``FOR UPDATE`` (``onboarding.services.lock_for_update``, or the
locked read of the transaction and operation views), so the second waits for the first's commit
and merges into it. The merge is slowed down here (0.3 s after the read) to widen the window in
which an unlocked read-merge-write loses the other's key. Run on the jsonb column and on the
MongoDB adapter (mongomock), whose documents are written inside the row's transaction.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from django.db import connection
from django.test import Client

from onboarding import services as onboarding_services
from tests.helpers import Api, ledger_path
from tests.transactions.book import Book
from transactions import balances, routes
from transactions.api import transactions as tx_views

MERGING_MODULES = (onboarding_services, routes, tx_views, balances)


def _slow_merges(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in MERGING_MODULES:
        real = module.merge_metadata

        def slow(current: Any, data: Any, _real: Callable[..., Any] = real) -> Any:
            time.sleep(0.3)
            return _real(current, data)

        monkeypatch.setattr(module, "merge_metadata", slow)


def _paths(api: Api, entity: str) -> str:
    """The item path of a new entity of this kind."""
    org = api.create_organization()
    if entity == "organization":
        return f"/organizations/{org['id']}"
    led = api.create_ledger(org["id"])
    if entity == "ledger":
        return f"/organizations/{org['id']}/ledgers/{led['id']}"
    asset = api.create_asset(led, code="USD")
    if entity == "asset":
        return ledger_path(led, f"/assets/{asset['id']}")
    if entity == "account":
        return ledger_path(led, f"/accounts/{api.create_account(led, alias='@x')['id']}")
    bodies = {
        "portfolio": ("/portfolios", {"name": "p"}),
        "segment": ("/segments", {"name": "s"}),
        "account_type": ("/account-types", {"name": "t", "keyValue": "checking"}),
        "operation_route": ("/operation-routes", {"title": "r", "operationType": "source"}),
    }
    if entity in bodies:
        suffix, body = bodies[entity]
        made = api.ok(api.post(ledger_path(led, suffix), body), 201)
        return ledger_path(led, f"{suffix}/{made['id']}")
    if entity == "transaction_route":
        ids = [
            api.ok(
                api.post(ledger_path(led, "/operation-routes"), {"title": k, "operationType": k}),
                201,
            )["id"]
            for k in ("source", "destination")
        ]
        made = api.ok(
            api.post(
                ledger_path(led, "/transaction-routes"), {"title": "t", "operationRoutes": ids}
            ),
            201,
        )
        return ledger_path(led, f"/transaction-routes/{made['id']}")
    book = Book(api, led)
    book.account("@alice")
    tx = book.fund("@alice", "1")
    if entity == "transaction":
        return book.path(f"/transactions/{tx['id']}")
    op = next(o for o in tx["operations"])
    return book.path(f"/transactions/{tx['id']}/operations/{op['id']}")


def _race(api: Api, path: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    _slow_merges(monkeypatch)
    answers: list[int] = []

    def patch(key: str) -> None:
        try:
            answers.append(Api(Client()).patch(path, {"metadata": {key: key}}).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=patch, args=(k,)) for k in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [200, 200]
    return _metadata(api, path)


def _metadata(api: Api, path: str) -> dict[str, Any]:
    """The stored metadata of the entity at ``path`` (an operation's through its transaction:
    an operation has no item GET)."""
    head, _, op_id = path.partition("/operations/")
    response = api.get(head)
    assert response.status_code == 200, response.content
    body = orjson.loads(response.content)
    if op_id:
        body = next(o for o in body["operations"] if o["id"] == op_id)
    metadata: dict[str, Any] = body["metadata"]
    return metadata


ENTITIES = [
    "organization",
    "ledger",
    "asset",
    "portfolio",
    "segment",
    "account_type",
    "account",
    "operation_route",
    "transaction_route",
    "transaction",
    "operation",
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("entity", ENTITIES)
def test_two_concurrent_metadata_patches_keep_both_keys(
    api: Api, monkeypatch: pytest.MonkeyPatch, entity: str
) -> None:
    path = _paths(api, entity)
    assert api.patch(path, {"metadata": {"kept": "yes"}}).status_code == 200
    metadata = _race(api, path, monkeypatch)
    assert metadata == {"kept": "yes", "a": "a", "b": "b"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("use_store", ["mongomock"], indirect=True)
@pytest.mark.usefixtures("use_store")
@pytest.mark.parametrize("entity", ["account", "transaction"])
def test_concurrent_patches_keep_both_keys_in_the_mongodb_store(
    api: Api, monkeypatch: pytest.MonkeyPatch, entity: str
) -> None:
    path = _paths(api, entity)
    assert set(_race(api, path, monkeypatch)) >= {"a", "b"}


@pytest.mark.django_db(transaction=True)
def test_merge_patch_semantics_are_kept_under_the_lock(api: Api) -> None:
    """A ``null`` value deletes its key, a new value replaces the old one, and
    ``"metadata": null`` clears the map, as before the lock."""
    path = _paths(api, "account")
    api.ok(api.patch(path, {"metadata": {"x": 1, "y": "2", "z": "3"}}), 200)
    got = api.ok(api.patch(path, {"metadata": {"x": "other", "y": None}}), 200)
    assert got["metadata"] == {"x": "other", "z": "3"}
    assert api.ok(api.patch(path, {"name": "renamed"}), 200)["metadata"] == got["metadata"]
    assert not api.ok(api.patch(path, {"metadata": None}), 200).get("metadata")
