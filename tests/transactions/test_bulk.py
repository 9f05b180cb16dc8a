"""Bulk postings (``POST .../transactions/bulk``): atomic and item-by-item, idempotency per
item and per request, deadlock-free locking, and every refusal leaving no trace."""

from __future__ import annotations

import itertools
import threading
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from tests.helpers import Api, assert_error, ledger_path
from tests.transactions.book import Book, amt, body_of, send
from transactions.bulk import MAX_ITEMS
from transactions.models import BulkRecord, IdempotencyRecord, Operation, Transaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Book:
    b = Book(api, ledger)
    for alias in ("@alice", "@bob", "@carol"):
        b.account(alias)
    b.fund("@alice", "100")
    return b


def transfer(src: str, dst: str, value: str, **top: Any) -> dict[str, Any]:
    return send("USD", value, [amt(src, value)], [amt(dst, value)], **top)


def bulk(
    book: Book, items: list[dict[str, Any]], atomic: bool | None = None, **headers: str
) -> Any:
    body: dict[str, Any] = {"transactions": items}
    if atomic is not None:
        body["atomic"] = atomic
    return book.api.post(book.path("/transactions/bulk"), body, **headers)


def test_atomic_bulk_posts_every_item_in_order(book: Book) -> None:
    items = [
        transfer("@alice", "@bob", "30", description="one"),
        transfer("@bob", "@carol", "20", description="two"),  # spends what item 0 gave @bob
        transfer("@alice", "@carol", "5", description="three"),
    ]
    answer = book.ok(bulk(book, items))
    assert answer["atomic"] is True
    assert (answer["total"], answer["created"], answer["failed"]) == (3, 3, 0)
    assert [i["index"] for i in answer["items"]] == [0, 1, 2]
    assert all(i["status"] == 201 and i["replayed"] is False for i in answer["items"])
    first = answer["items"][0]["transaction"]
    assert first["description"] == "one"
    assert first["status"]["code"] == "CREATED"
    assert [op["type"] for op in first["operations"]] == ["DEBIT", "CREDIT"]
    # The transactions are real: readable one by one, with the same operations.
    got = book.ok(book.api.get(book.path(f"/transactions/{first['id']}")), 200)
    assert [op["id"] for op in got["operations"]] == [op["id"] for op in first["operations"]]
    assert book.balance("@alice") == (Decimal("65"), Decimal("0"), 3)
    assert book.balance("@bob") == (Decimal("10"), Decimal("0"), 2)
    assert book.balance("@carol") == (Decimal("25"), Decimal("0"), 2)
    # Operation snapshots chain across the items of one bulk.
    bob_ops = Operation.objects.filter(account_alias="@bob").order_by("version_after")
    assert [(o.available_before, o.available_after) for o in bob_ops] == [
        (Decimal("0"), Decimal("30")),
        (Decimal("30"), Decimal("10")),
    ]


def test_atomic_bulk_refusal_rolls_back_everything(book: Book) -> None:
    before = book.snapshot()
    keys_before = IdempotencyRecord.objects.count()
    items = [
        transfer("@alice", "@bob", "30"),
        transfer("@bob", "@carol", "31"),  # @bob holds 30 at this point
        transfer("@alice", "@carol", "5"),
    ]
    error = assert_error(bulk(book, items, atomic=True), 422, "0018")
    assert error["fields"]["item"] == 1
    assert error["message"].startswith("Item 1: ")
    assert book.snapshot() == before
    assert not BulkRecord.objects.exists()
    assert IdempotencyRecord.objects.count() == keys_before


def test_atomic_bulk_with_an_invalid_item_posts_nothing(book: Book) -> None:
    before = book.snapshot()
    bad = {"send": {"asset": "USD", "value": "1"}, "unknown": 1}
    error = assert_error(bulk(book, [transfer("@alice", "@bob", "1"), bad]), 400, "0053")
    assert error["fields"]["item"] == 1
    assert book.snapshot() == before
    error = assert_error(bulk(book, [transfer("@alice", "@nobody", "1")], atomic=True), 422, "0019")
    assert error["fields"]["item"] == 0
    assert book.snapshot() == before


def test_non_atomic_bulk_posts_what_it_can(book: Book) -> None:
    items = [
        transfer("@alice", "@bob", "60"),
        transfer("@alice", "@carol", "60"),  # only 40 left: refused
        {"send": {"asset": "USD"}},  # invalid body: refused before the database
        transfer("@alice", "@nobody", "1"),  # unknown alias
        transfer("@alice", "@carol", "40"),
    ]
    response = bulk(book, items, atomic=False)
    answer = book.ok(response, 207)
    assert (answer["total"], answer["created"], answer["failed"]) == (5, 2, 3)
    statuses = [(i["index"], i["status"], i.get("error", {}).get("code")) for i in answer["items"]]
    assert statuses == [
        (0, 201, None),
        (1, 422, "0018"),
        (2, 400, "0009"),
        (3, 422, "0019"),
        (4, 201, None),
    ]
    assert answer["items"][1]["error"]["status"] == 422
    assert book.balance("@alice") == (Decimal("0"), Decimal("0"), 3)
    assert book.balance("@carol") == (Decimal("40"), Decimal("0"), 1)
    # A refused item wrote nothing: two transactions and their four operations, plus the
    # funding posting.
    assert Transaction.objects.filter(ledger_id=book.ledger["id"]).count() == 3
    assert Operation.objects.filter(ledger_id=book.ledger["id"]).count() == 6


def test_non_atomic_bulk_all_posted_is_201(book: Book) -> None:
    answer = book.ok(bulk(book, [transfer("@alice", "@bob", "1")], atomic=False), 201)
    assert answer["failed"] == 0


def test_pending_items_and_their_commit(book: Book) -> None:
    answer = book.ok(bulk(book, [transfer("@alice", "@bob", "10", pending=True)]))
    pending = answer["items"][0]["transaction"]
    assert pending["status"]["code"] == "PENDING"
    assert book.balance("@alice")[:2] == (Decimal("90"), Decimal("10"))
    book.ok(book.action(pending["id"], "commit"))
    assert book.balance("@bob")[0] == Decimal("10")


def test_whole_request_replay_answers_the_same(book: Book) -> None:
    items = [transfer("@alice", "@bob", "60"), transfer("@alice", "@carol", "60")]
    first = bulk(book, items, atomic=False, **{"X-Idempotency": "batch-1"})
    assert first.status_code == 207
    assert first["X-Idempotency-Replayed"] == "false"
    # Funds arrive: a re-run would now post item 1, but a replay answers as the first time.
    book.fund("@alice", "100")
    again = bulk(book, items, atomic=False, **{"X-Idempotency": "batch-1"})
    assert again.status_code == 207
    assert again["X-Idempotency-Replayed"] == "true"
    assert body_of(again) == body_of(first)
    assert book.balance("@carol")[0] == Decimal("0")
    # The same key with another body is a conflict.
    assert_error(bulk(book, items[:1], atomic=False, **{"X-Idempotency": "batch-1"}), 409, "0084")
    # Without a header, the body's hash is the key: an identical request is a replay too.
    plain = bulk(book, [transfer("@alice", "@carol", "7")])
    replay = bulk(book, [transfer("@alice", "@carol", "7")])
    assert replay["X-Idempotency-Replayed"] == "true"
    assert body_of(replay) == body_of(plain)
    assert book.balance("@carol")[0] == Decimal("7")


def test_items_are_idempotent_like_single_posts(book: Book) -> None:
    single = book.ok(book.transfer("@alice", "@bob", "5", headers={"X-Idempotency": "pay-1"}))
    items = [
        {**transfer("@alice", "@bob", "5"), "idempotencyKey": "pay-1"},
        {**transfer("@alice", "@bob", "9"), "idempotencyKey": "pay-1"},
        transfer("@alice", "@carol", "3", description="same body twice"),
        transfer("@alice", "@carol", "3", description="same body twice"),
    ]
    answer = book.ok(bulk(book, items, atomic=False), 207)
    replay, conflict, posted, duplicate = answer["items"]
    assert replay["status"] == 201
    assert replay["replayed"] is True
    assert replay["transaction"]["id"] == single["id"]
    assert conflict["status"] == 409
    assert conflict["error"]["code"] == "0084"
    assert posted["replayed"] is False
    # Two identical bodies are one posting, as two identical single posts would be.
    assert duplicate["replayed"] is True
    assert duplicate["transaction"]["id"] == posted["transaction"]["id"]
    assert book.balance("@alice")[0] == Decimal("92")
    assert book.balance("@carol")[0] == Decimal("3")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ([], "0094"),
        ({}, "0009"),
        ({"transactions": []}, "0009"),
        ({"transactions": {}}, "0094"),
        ({"transactions": [1]}, "0094"),
        ({"atomic": "yes", "transactions": [{}]}, "0094"),
        ({"transactions": [{}], "extra": 1}, "0053"),
    ],
)
def test_envelope_errors(book: Book, body: Any, code: str) -> None:
    assert_error(book.api.post(book.path("/transactions/bulk"), body), 400, code)


def test_too_many_items(book: Book) -> None:
    items = [transfer("@alice", "@bob", "1")] * (MAX_ITEMS + 1)
    assert_error(bulk(book, items), 400, "0047")


def test_bad_item_key_is_refused(book: Book) -> None:
    items = [{**transfer("@alice", "@bob", "1"), "idempotencyKey": 7}]
    answer = book.ok(bulk(book, items, atomic=False), 207)
    assert answer["items"][0]["error"]["code"] == "0047"


def test_unknown_ledger(api: Api, organization: dict[str, Any]) -> None:
    missing = {"organizationId": organization["id"], "id": "01a20a4a-0024-76cc-8fd4-12161525a60f"}
    answer = api.post(ledger_path(missing, "/transactions/bulk"), {"transactions": [{}]})
    assert_error(answer, 404, "0037")


@pytest.mark.django_db(transaction=True)
def test_concurrent_bulks_in_opposite_orders_do_not_deadlock(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    """Two bulks touching the same balances in opposite orders, and single posts between
    them: balances are locked in id order up front, so none waits on another in a cycle."""
    book = Book(api, ledger)
    aliases = [f"@p{i}" for i in range(6)]
    for alias in aliases:
        book.account(alias)
        book.fund(alias, "1000")
    forward = [transfer(a, b, "1") for a, b in itertools.pairwise(aliases)]
    backward = [transfer(b, a, "1") for a, b in reversed(list(itertools.pairwise(aliases)))]
    errors: list[BaseException] = []
    statuses: list[int] = []

    def run(items: list[dict[str, Any]], tag: int) -> None:
        try:
            for round_ in range(5):
                bodies = [
                    {**i, "description": f"t{tag} r{round_} {n}"} for n, i in enumerate(items)
                ]
                statuses.append(bulk(book, bodies).status_code)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(items, n))
        for n, items in enumerate((forward, backward, forward))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert statuses == [201] * 15
    total = sum(book.balance(a)[0] for a in aliases)
    assert total == Decimal("6000")
