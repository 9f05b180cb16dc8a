"""Unique metadata indexes (onboarding/metadata_indexes.py) and the postings that settle,
reverse or batch others.

* A commit's or cancel's operations, and a reversal and its operations, copy the metadata of
  the rows they settle or reverse, except the keys a unique index of their entity covers:
  otherwise they collide with those rows (409 0498) and the hold or posting can never be
  settled or reverted.
* A non-atomic bulk whose item collides with a unique value (another item's, or a stored
  row's) refuses that item only (0498); an atomic one refuses whole, naming the item.
* An asynchronous posting declined for a unique value says 0498, as the synchronous one.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import orjson
import pytest

from onboarding import metadata_indexes
from tests.helpers import Api
from tests.transactions.book import Book, amt, send
from transactions.models import Operation, Transaction

pytestmark = pytest.mark.django_db(transaction=True)
INDEXES = "/settings/metadata-indexes/entities"


def body_of(response: Any) -> Any:
    return orjson.loads(response.content)


@pytest.fixture(autouse=True)
def _indexes_dropped(drop_made_indexes: None) -> Iterator[None]:
    metadata_indexes.forget_unique_keys()
    yield
    metadata_indexes.forget_unique_keys()


def _unique(api: Api, entity: str, key: str = "ref") -> None:
    api.ok(api.post(f"{INDEXES}/{entity}", {"metadataKey": key, "unique": True}), 201)


def _book(api: Api, fund: str = "20") -> Book:
    org = api.create_organization()
    led = api.create_ledger(org["id"])
    api.create_asset(led, code="USD")
    b = Book(api, led)
    b.account("@x")
    b.account("@y")
    b.fund("@x", fund)
    return b


def _ops_metadata(transaction_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (alias, direction, metadata)
        for alias, direction, metadata in Operation.objects.filter(
            transaction_id=transaction_id
        ).values_list("account_alias", "direction", "metadata")
    ]


# --- reversal -------------------------------------------------------------------------------


def test_a_reversal_leaves_out_only_the_transaction_keys_of_a_unique_index(api: Api) -> None:
    _unique(api, "transaction")
    b = _book(api)
    body = send(
        "USD", "3", [amt("@x", "3")], [amt("@y", "3")], metadata={"ref": "R1", "note": "kept"}
    )
    posted = b.ok(b.post(body))
    reversal = b.ok(b.action(posted["id"], "revert"))
    assert reversal["metadata"] == {"note": "kept"}
    assert Transaction.objects.get(pk=posted["id"]).metadata == {"ref": "R1", "note": "kept"}
    assert b.balance("@x")[0] == Decimal("20")
    # The value stays the original's: a new posting with it is still refused.
    again = b.post(send("USD", "1", [amt("@x", "1")], [amt("@y", "1")], metadata={"ref": "R1"}))
    assert again.status_code == 409
    assert body_of(again)["code"] == "0498"


def test_a_reversal_leaves_out_only_the_operation_keys_of_a_unique_index(api: Api) -> None:
    _unique(api, "operation")
    b = _book(api)
    body = send(
        "USD",
        "2",
        [amt("@x", "2", metadata={"ref": "S", "side": "src"})],
        [amt("@y", "2", metadata={"ref": "D", "side": "dst"})],
        metadata={"ref": "tx-level, not indexed"},
    )
    posted = b.ok(b.post(body))
    reversal = b.ok(b.action(posted["id"], "revert"))
    # Transactions have no unique index on ref: the reversal keeps it.
    assert reversal["metadata"] == {"ref": "tx-level, not indexed"}
    assert sorted(m["side"] for _, _, m in _ops_metadata(reversal["id"])) == ["dst", "src"]
    assert all("ref" not in m for _, _, m in _ops_metadata(reversal["id"]))
    assert b.balance("@x")[0] == Decimal("20")
    assert b.balance("@y")[0] == Decimal("0")


def test_without_a_unique_index_a_reversal_copies_every_key(api: Api) -> None:
    api.ok(api.post(f"{INDEXES}/transaction", {"metadataKey": "ref", "unique": False}), 201)
    b = _book(api)
    body = send(
        "USD",
        "1",
        [amt("@x", "1", metadata={"ref": "S"})],
        [amt("@y", "1")],
        metadata={"ref": "R"},
    )
    posted = b.ok(b.post(body))
    reversal = b.ok(b.action(posted["id"], "revert"))
    assert reversal["metadata"] == {"ref": "R"}
    assert [m for alias, _, m in _ops_metadata(reversal["id"]) if alias == "@x"] == [{"ref": "S"}]


def test_an_index_made_or_dropped_counts_at_once(api: Api) -> None:
    """The cached keys are forgotten when an index is made or dropped in this process."""
    b = _book(api)
    first = b.ok(
        b.post(
            send(
                "USD",
                "1",
                [amt("@x", "1")],
                [amt("@y", "1")],
                metadata={"ref": "A"},
                description="1",
            )
        )
    )
    assert metadata_indexes.unique_keys("transaction") == frozenset()  # cached: none
    _unique(api, "transaction")
    assert b.ok(b.action(first["id"], "revert"))["metadata"] == {}
    assert api.delete("/settings/metadata-indexes/entities/transaction/key/ref").status_code == 204
    second = b.ok(
        b.post(
            send(
                "USD",
                "1",
                [amt("@x", "1")],
                [amt("@y", "1")],
                metadata={"ref": "A"},
                description="2",
            )
        )
    )
    assert b.ok(b.action(second["id"], "revert"))["metadata"] == {"ref": "A"}


# --- commit and cancel ----------------------------------------------------------------------


@pytest.mark.parametrize("verb", ["commit", "cancel"])
def test_a_hold_with_unique_entry_values_is_settled(api: Api, verb: str) -> None:
    _unique(api, "operation")
    b = _book(api, fund="10")
    hold = b.ok(
        b.post(
            send(
                "USD",
                "4",
                [amt("@x", "4", metadata={"ref": "S", "side": "src"})],
                [amt("@y", "4", metadata={"ref": "D", "side": "dst"})],
                pending=True,
            )
        )
    )
    held_ops = set(Operation.objects.filter(transaction_id=hold["id"]).values_list("id", flat=True))
    settled = b.ok(b.action(hold["id"], verb))
    assert settled["status"]["code"] == ("APPROVED" if verb == "commit" else "CANCELED")
    new = Operation.objects.filter(transaction_id=hold["id"]).exclude(id__in=held_ops)
    assert new.exists()
    assert all("ref" not in m and "side" in m for m in new.values_list("metadata", flat=True))
    # The hold's own operation keeps its value.
    held = Operation.objects.filter(id__in=held_ops).values_list("metadata", flat=True)
    assert {"ref": "S", "side": "src"} in list(held)
    available, on_hold, _ = b.balance("@x")
    assert on_hold == 0
    assert available == (Decimal("6") if verb == "commit" else Decimal("10"))
    assert b.balance("@y")[0] == (Decimal("4") if verb == "commit" else 0)


def test_a_committed_hold_with_unique_values_can_then_be_reverted(api: Api) -> None:
    _unique(api, "operation")
    _unique(api, "transaction")
    b = _book(api, fund="10")
    hold = b.ok(
        b.post(
            send(
                "USD",
                "4",
                [amt("@x", "4", metadata={"ref": "S"})],
                [amt("@y", "4", metadata={"ref": "D"})],
                pending=True,
                metadata={"ref": "T"},
            )
        )
    )
    b.ok(b.action(hold["id"], "commit"))
    b.ok(b.action(hold["id"], "revert"))
    assert b.balance("@x")[0] == Decimal("10")
    assert b.balance("@y")[0] == 0


# --- bulk -----------------------------------------------------------------------------------


def _tagged(i: int, ref: str, value: str = "1") -> dict[str, Any]:
    return send(
        "USD",
        value,
        [amt("@x", value)],
        [amt("@y", value, metadata={"ref": ref})],
        description=str(i),
    )


def _bulk(b: Book, items: list[dict[str, Any]], atomic: bool) -> Any:
    return b.api.post(b.path("/transactions/bulk"), {"atomic": atomic, "transactions": items})


def test_a_non_atomic_bulk_refuses_only_the_colliding_items(api: Api) -> None:
    _unique(api, "operation")
    b = _book(api, fund="10")
    b.ok(b.post(_tagged(9, "E")))
    items = [
        _tagged(0, "R"),
        _tagged(1, "R"),  # collides with item 0
        _tagged(2, "E"),  # collides with a stored row
        _tagged(3, "F", value="100"),  # refused for its own reason (insufficient funds)
        _tagged(4, "G"),
    ]
    response = _bulk(b, items, atomic=False)
    body = body_of(response)
    assert response.status_code == 207, body
    assert [i["status"] for i in body["items"]] == [201, 409, 409, 422, 201], body["items"]
    assert [i.get("error", {}).get("code") for i in body["items"]] == [
        None,
        "0498",
        "0498",
        "0018",
        None,
    ]
    assert body["created"] == 2
    assert body["failed"] == 3
    assert b.balance("@x")[0] == Decimal("7")
    assert b.balance("@y")[0] == Decimal("3")
    assert (
        Transaction.objects.filter(ledger_id=b.ledger["id"], description__in=["0", "4"]).count()
        == 2
    )
    assert not Transaction.objects.filter(
        ledger_id=b.ledger["id"], description__in=["1", "2"]
    ).exists()
    # The same request again answers what it answered, and posts nothing more.
    replay = _bulk(b, items, atomic=False)
    assert replay.status_code == 207
    assert [i["status"] for i in body_of(replay)["items"]] == [201, 409, 409, 422, 201]
    assert b.balance("@x")[0] == Decimal("7")


def test_a_non_atomic_bulk_of_transaction_values_refuses_only_the_colliding_one(api: Api) -> None:
    _unique(api, "transaction")
    b = _book(api)
    items = [
        send("USD", "1", [amt("@x", "1")], [amt("@y", "1")], metadata={"ref": "T"}),
        send("USD", "2", [amt("@x", "2")], [amt("@y", "2")], metadata={"ref": "T"}),
    ]
    body = body_of(_bulk(b, items, atomic=False))
    assert [i["status"] for i in body["items"]] == [201, 409], body["items"]
    assert b.balance("@y")[0] == Decimal("1")


def test_an_atomic_bulk_with_a_colliding_item_is_refused_whole_naming_it(api: Api) -> None:
    _unique(api, "operation")
    b = _book(api, fund="10")
    response = _bulk(b, [_tagged(0, "R"), _tagged(1, "S"), _tagged(2, "R")], atomic=True)
    body = body_of(response)
    assert response.status_code == 409, body
    assert body["code"] == "0498", body
    assert body["fields"]["item"] == 2, body
    assert b.balance("@x")[0] == Decimal("10")
    assert b.balance("@y")[0] == 0
    assert not Transaction.objects.filter(ledger_id=b.ledger["id"], description="0").exists()


# --- asynchronous ---------------------------------------------------------------------------


def test_an_async_posting_declined_for_a_unique_value_says_0498(api: Api, settings: Any) -> None:
    from transactions import asynchronous

    _unique(api, "operation")
    b = _book(api)
    settings.TRANSACTION_ASYNC = True
    first = b.ok(b.post(_tagged(0, "Q")))
    second = b.ok(b.post(_tagged(1, "Q")))
    third = b.ok(b.post(_tagged(2, "P")))
    asynchronous.apply_ledger(b.ledger["id"])
    assert Transaction.objects.get(pk=first["id"]).status == "APPROVED"
    assert Transaction.objects.get(pk=third["id"]).status == "APPROVED"
    declined = Transaction.objects.get(pk=second["id"])
    assert declined.status == "DECLINED"
    assert declined.status_description.startswith("0498: "), declined.status_description
    assert "mdx_" not in declined.status_description  # no internal index name
    assert b.balance("@y")[0] == Decimal("2")


def test_an_atomic_bulk_names_its_first_refused_item_when_a_later_one_collides(
    api: Api,
) -> None:
    _unique(api, "operation")
    b = _book(api, fund="10")
    items = [_tagged(0, "A"), _tagged(1, "B", value="100"), _tagged(2, "C"), _tagged(3, "C")]
    response = _bulk(b, items, atomic=True)
    body = body_of(response)
    assert response.status_code == 422, body
    assert body["code"] == "0018", body
    assert body["fields"]["item"] == 1, body
    assert b.balance("@x")[0] == Decimal("10")
    assert not Transaction.objects.filter(ledger_id=b.ledger["id"], description="0").exists()
