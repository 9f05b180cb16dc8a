"""Transaction bodies: validation codes, exact decimals, the create routes' variants."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.helpers import Api, assert_error
from tests.transactions.book import Book, amt, body_of, send
from transactions.models import Balance

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Book:
    b = Book(api, ledger)
    b.account("@alice")
    b.account("@bob")
    b.fund("@alice", "1000")
    return b


def test_json_numbers_are_read_as_exact_decimals(book: Book) -> None:
    raw = (
        b'{"send": {"asset": "USD", "value": 100.10, "source": {"from": [{"accountAlias": '
        b'"@alice", "amount": {"asset": "USD", "value": 100.10}}]}, "distribute": {"to": '
        b'[{"accountAlias": "@bob", "amount": {"asset": "USD", "value": 100.1}}]}},'
        b' "metadata": {"ratio": 0.25}}'
    )
    response = book.api.request("POST", book.path("/transactions/json"), raw=raw)
    body = book.ok(response)
    assert body["amount"] == "100.1"
    assert body["metadata"] == {"ratio": 0.25}  # metadata numbers stay numbers
    assert book.balance("@bob")[0] == Decimal("100.1")


@pytest.mark.parametrize("value", [b"NaN", b"Infinity", b"-Infinity", b'"NaN"', b'"abc"'])
def test_non_finite_or_non_numeric_values_are_0094(book: Book, value: bytes) -> None:
    raw = (
        b'{"send": {"asset": "USD", "value": ' + value + b', "source": {"from": '
        b'[{"accountAlias": "@alice", "remaining": "r"}]}, "distribute": {"to": '
        b'[{"accountAlias": "@bob", "remaining": "r"}]}}}'
    )
    assert_error(book.api.request("POST", book.path("/transactions/json"), raw=raw), 400, "0094")


def test_integers_beyond_64_bits_are_exact(book: Book) -> None:
    big = b"123456789012345678901234567890"  # a JSON number, too big for a 64-bit integer
    raw = (
        b'{"send": {"asset": "USD", "value": ' + big + b', "distribute": {"to": '
        b'[{"accountAlias": "@alice", "amount": {"asset": "USD", "value": ' + big + b"}}]}}}"
    )
    book.ok(book.api.request("POST", book.path("/transactions/inflow"), raw=raw))
    assert book.balance("@alice")[0] == Decimal("123456789012345678901234568890")


def test_unknown_field_inside_an_entry_is_0053(book: Book) -> None:
    body = send("USD", "1", [amt("@alice", "1", colour="red")], [amt("@bob", "1")])
    response = assert_error(book.post(body), 400, "0053")
    assert any("colour" in key for key in response["fields"])


def test_missing_send_is_0009(book: Book) -> None:
    assert_error(book.post({"description": "x"}), 400, "0009")


def test_entry_without_amount_share_or_remaining_is_0072(book: Book) -> None:
    body = send("USD", "1", [{"accountAlias": "@alice"}], [amt("@bob", "1")])
    assert_error(book.post(body), 400, "0072")


def test_inflow_refuses_a_source_and_outflow_a_destination(book: Book) -> None:
    inflow = send("USD", "1", [amt("@alice", "1")], [amt("@bob", "1")])
    assert_error(book.post(inflow, "inflow"), 400, "0053")
    assert_error(book.post(inflow, "outflow"), 400, "0053")
    assert_error(book.post({**inflow, "pending": True}, "inflow"), 400, "0053")


@pytest.mark.parametrize(("kind", "label"), [("block", "BLOCK"), ("unblock", "UNBLOCK")])
def test_block_and_unblock_label_their_operations(book: Book, kind: str, label: str) -> None:
    body = book.ok(
        book.post(send("USD", "5", [amt("@alice", "5")], [amt("@bob", "5")], pending=True), kind)
    )
    assert body["status"]["code"] == "CREATED"  # block/unblock are never pending
    assert [op["type"] for op in body["operations"]] == [label, label]
    assert book.balance("@bob")[0] == Decimal(5)


@pytest.mark.parametrize("date", ["2024-02-30", "yesterday", "2024-01-01T25:00:00Z"])
def test_malformed_transaction_date_is_0077(book: Book, date: str) -> None:
    assert_error(book.transfer("@alice", "@bob", "1", transactionDate=date), 400, "0077")


def test_bare_date_back_dates_to_midnight_utc(book: Book) -> None:
    body = book.ok(book.transfer("@alice", "@bob", "1", transactionDate="2025-03-01"))
    assert body["createdAt"] == "2025-03-01T00:00:00Z"


def test_skip_flags_need_the_ledger_override(book: Book) -> None:
    assert_error(book.transfer("@alice", "@bob", "1", skip={"fees": True}), 422, "0490")
    book.api.ok(book.api.patch(book.path("/settings"), {"overrides": {"allowFeeSkip": True}}), 200)
    body = book.ok(book.transfer("@alice", "@bob", "1", skip={"fees": True}))
    assert body["feesSkipped"] is True


def test_unknown_scope_codes(book: Book, api: Api, organization: dict[str, Any]) -> None:
    body = send("USD", "1", [amt("@alice", "1")], [amt("@bob", "1")])
    missing = "01a20a4a-0024-76cc-8fd4-12161525a60f"
    org = organization["id"]
    assert_error(
        api.post(f"/organizations/{org}/ledgers/{missing}/transactions/json", body), 404, "0037"
    )
    assert_error(
        api.post(f"/organizations/{missing}/ledgers/{missing}/transactions/json", body), 404, "0038"
    )
    assert_error(
        api.post(f"/organizations/{org}/ledgers/nope/transactions/json", body), 400, "0065"
    )


def test_patch_changes_only_description_and_metadata(book: Book) -> None:
    created = book.ok(book.transfer("@alice", "@bob", "3", metadata={"a": "1", "b": "2"}))
    path = book.path(f"/transactions/{created['id']}")
    assert_error(book.api.patch(path, {"amount": "5"}), 400, "0053")
    patched = book.api.ok(
        book.api.patch(path, {"description": "new", "metadata": {"a": None}}), 200
    )
    assert patched["description"] == "new"
    assert patched["metadata"] == {"b": "2"}
    assert patched["amount"] == "3"


def test_get_unknown_transaction_is_0007(book: Book) -> None:
    response = book.api.get(book.path("/transactions/01a20a4a-0024-76cc-8fd4-12161525a60f"))
    assert assert_error(response, 404, "0007")["entityType"] == "Transaction"
    assert_error(book.action("01a20a4a-0024-76cc-8fd4-12161525a60f", "commit"), 404, "0007")
    assert_error(book.action("01a20a4a-0024-76cc-8fd4-12161525a60f", "revert"), 404, "0007")


def test_list_is_a_cursor_page_with_operations(book: Book) -> None:
    ids = [book.ok(book.transfer("@alice", "@bob", str(n)))["id"] for n in (1, 2, 3)]
    page = body_of(book.api.get(book.path("/transactions"), limit=2, sort_order="desc"))
    assert [t["id"] for t in page["items"]] == ids[::-1][:2]
    assert all(t["operations"] for t in page["items"])
    assert "next_cursor" in page
    rest = body_of(
        book.api.get(
            book.path("/transactions"), limit=2, sort_order="desc", cursor=page["next_cursor"]
        )
    )
    assert ids[0] in [t["id"] for t in rest["items"]]


def test_list_metadata_filter_without_match_is_0071(book: Book) -> None:
    book.ok(book.transfer("@alice", "@bob", "1", metadata={"order": "A1"}))
    found = body_of(book.api.get(book.path("/transactions"), **{"metadata.order": "A1"}))
    assert len(found["items"]) == 1
    assert_error(book.api.get(book.path("/transactions"), **{"metadata.order": "Z9"}), 404, "0071")


def test_count_with_status_filter(book: Book) -> None:
    book.ok(book.transfer("@alice", "@bob", "1", pending=True))
    response = book.api.head(book.path("/transactions/metrics/count"), status="pending")
    assert response.status_code == 204
    assert response["X-Total-Count"] == "1"
    total = book.api.head(book.path("/transactions/metrics/count"))
    assert total["X-Total-Count"] == "2"  # the funding inflow and the pending one
    # HEAD answers carry no body, so only the status shows the refusal.
    assert (
        book.api.head(book.path("/transactions/metrics/count"), status="weird").status_code == 400
    )
    bad_date = book.api.head(
        book.path("/transactions/metrics/count"), start_date="nope", end_date="2025-01-01T00:00:00Z"
    )
    assert bad_date.status_code == 400


def test_internal_balance_cannot_be_addressed_directly(book: Book) -> None:
    alice = Balance.objects.get(alias="@alice", key="default")
    Balance.objects.create(
        organization_id=alice.organization_id,
        ledger_id=alice.ledger_id,
        account_id=alice.account_id,
        alias="@alice",
        key="reserve",
        asset_code="USD",
        account_type="deposit",
        direction="debit",
        settings={"balanceScope": "internal"},
    )
    body = send("USD", "1", [amt("@alice", "1", balanceKey="reserve")], [amt("@bob", "1")])
    before = book.snapshot()
    assert_error(book.post(body), 422, "0168")
    assert book.snapshot() == before
