"""The test vectors of SEMANTICS.md §14 (all but overdraft, TV25-TV28), end to end over HTTP."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.helpers import Api, assert_error
from tests.transactions.book import Book, amt, body_of, rest, send, share
from transactions.models import Balance, IdempotencyRecord, Operation, Transaction

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def book(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Book:
    return Book(api, ledger)


def amounts(body: dict[str, Any], kind: str) -> dict[str, str]:
    return {
        op["accountAlias"]: op["amount"]["value"] for op in body["operations"] if op["type"] == kind
    }


# --- resolution (§3) ----------------------------------------------------------------------------


def test_tv01_shares_on_both_sides(book: Book) -> None:
    for alias in ("@account1", "@account2", "@account3"):
        book.account(alias)
    book.fund("@account1", "60")
    book.fund("@account2", "40")
    body = book.ok(
        book.post(
            send(
                "USD",
                "100",
                [share("@account1", 60), share("@account2", 40)],
                [share("@account3", 100)],
            )
        )
    )
    assert amounts(body, "DEBIT") == {"@account1": "60", "@account2": "40"}
    assert amounts(body, "CREDIT") == {"@account3": "100"}


def test_tv02_remaining_takes_the_leftover_in_a_single_pass(book: Book) -> None:
    for alias in ("@account1", "@account2", "@account3"):
        book.account(alias)
    book.fund("@account1", "50")
    book.fund("@account2", "50")
    body = book.ok(
        book.post(
            send("USD", "100", [share("@account1", 50), rest("@account2")], [rest("@account3")])
        )
    )
    assert amounts(body, "DEBIT") == {"@account1": "50", "@account2": "50"}
    assert amounts(body, "CREDIT") == {"@account3": "100"}


def test_tv03_sides_that_do_not_add_up_are_0073(book: Book) -> None:
    for alias in ("@account1", "@account2", "@account3"):
        book.account(alias)
    before = book.snapshot()
    response = book.post(
        send(
            "USD",
            "100",
            [amt("@account1", "60"), amt("@account2", "30")],
            [amt("@account3", "100")],
        )
    )
    assert_error(response, 422, "0073")
    assert book.snapshot() == before


def test_tv04_external_remaining_split_in_halves(
    book: Book, api: Api, ledger: dict[str, Any]
) -> None:
    api.create_asset(ledger, code="BRL")
    book.account("@mcgregor_0", asset="BRL")
    book.account("@mcgregor_1", asset="BRL")
    body = book.ok(
        book.post(
            send(
                "BRL",
                "100",
                [rest("@external/BRL")],
                [share("@mcgregor_0", 50), share("@mcgregor_1", 50)],
            )
        )
    )
    assert amounts(body, "DEBIT") == {"@external/BRL": "100"}
    assert amounts(body, "CREDIT") == {"@mcgregor_0": "50", "@mcgregor_1": "50"}


def test_tv05_share_of_share_and_remaining(book: Book) -> None:
    for alias in ("@a", "@b", "@c"):
        book.account(alias)
    body = book.ok(
        book.post(
            send(
                "USD",
                "10",
                [amt("@external/USD", "10")],
                [share("@a", 50, 50), share("@b", 33), rest("@c")],
            )
        )
    )
    assert amounts(body, "CREDIT") == {"@a": "2.5", "@b": "3.3", "@c": "4.2"}
    assert book.balance("@c")[0] == D("4.2")


def test_tv06_three_thirds_need_a_remaining_leg(book: Book) -> None:
    for alias in ("@a", "@b", "@c", "@d"):
        book.account(alias)
    thirds = [share("@a", 33), share("@b", 33), share("@c", 33)]
    body = book.ok(
        book.post(send("USD", "100", [amt("@external/USD", "100")], [*thirds, rest("@d")]))
    )
    assert amounts(body, "CREDIT") == {"@a": "33", "@b": "33", "@c": "33", "@d": "1"}
    assert_error(book.post(send("USD", "100", [amt("@external/USD", "100")], thirds)), 422, "0073")


def test_tv07_no_rounding_of_tiny_shares(book: Book) -> None:
    book.account("@a")
    book.account("@b")
    body = book.ok(
        book.post(
            send("USD", "0.01", [amt("@external/USD", "0.01")], [share("@a", 50), share("@b", 50)])
        )
    )
    assert amounts(body, "CREDIT") == {"@a": "0.005", "@b": "0.005"}
    assert book.balance("@a")[0] == D("0.005")


def test_tv08_percentage_of_percentage_absent_means_100(book: Book) -> None:
    book.account("@a")
    book.account("@b")
    body = book.ok(
        book.post(
            send("USD", "1000", [amt("@external/USD", "1000")], [share("@a", 10, 25), rest("@b")])
        )
    )
    assert amounts(body, "CREDIT") == {"@a": "25", "@b": "975"}


def test_tv09_remaining_keeps_the_leftover_at_its_position(book: Book) -> None:
    for alias in ("@a", "@b", "@c"):
        book.account(alias)
    response = book.post(send("USD", "100", [rest("@a"), amt("@b", "30")], [amt("@c", "100")]))
    body = assert_error(response, 422, "0073")
    assert "130" in body["message"]


@pytest.mark.parametrize("value", ["0", "-5"])
def test_tv10_value_must_be_positive(book: Book, value: str) -> None:
    book.account("@a")
    response = book.post(send("USD", value, [amt("@external/USD", value)], [amt("@a", value)]))
    assert_error(response, 422, "0125")


def test_tv11_same_balance_same_index_both_sides_is_ambiguous(book: Book) -> None:
    book.account("@a")
    book.fund("@a", "10")
    assert_error(book.post(send("USD", "10", [amt("@a", "10")], [amt("@a", "10")])), 422, "0090")


def test_tv11_same_balance_at_different_indexes_nets_to_zero(book: Book) -> None:
    book.account("@a")
    book.account("@b")
    book.fund("@a", "10")
    before = book.balance("@a")
    book.ok(book.post(send("USD", "10", [amt("@a", "10")], [amt("@b", "0"), amt("@a", "10")])))
    available, on_hold, version = book.balance("@a")
    assert (available, on_hold) == (before[0], before[1])
    assert version == before[2] + 2


def test_tv12_entry_with_amount_and_share_is_0072(book: Book) -> None:
    book.account("@a")
    entry = {
        "accountAlias": "@external/USD",
        "amount": {"asset": "USD", "value": "10"},
        "share": {"percentage": 100},
    }
    assert_error(book.post(send("USD", "10", [entry], [amt("@a", "10")])), 400, "0072")


# --- balance arithmetic and the end-to-end create (§4) ----------------------------------------


def test_tv13_direction_debit_balances_grow_with_debits(book: Book) -> None:
    book.account("@a")
    book.fund("@a", "400")
    # @external/USD is a debit-direction balance: the inflow (a DEBIT of it) made it +400
    assert book.balance("@external/USD")[0] == D("400")
    book.ok(
        book.post(send("USD", "200", [amt("@a", "200")], [amt("@external/USD", "200")]), "json")
    )
    assert book.balance("@external/USD")[0] == D("200")  # a CREDIT subtracts


def test_tv14_transfer_answer_and_balances(book: Book) -> None:
    book.account("@alice")
    book.account("@bob")
    for value in ("500", "300", "200"):
        book.fund("@alice", value)
    assert book.balance("@alice") == (D(1000), D(0), 3)
    response = book.transfer("@alice", "@bob", "100")
    body = book.ok(response)
    assert response["X-Idempotency-Replayed"] == "false"
    assert body["status"] == {"code": "CREATED", "description": "CREATED"}
    assert body["amount"] == "100"
    assert body["assetCode"] == "USD"
    assert body["source"] == ["@alice"]
    assert body["destination"] == ["@bob"]
    assert "parentTransactionId" not in body
    debit, credit = body["operations"]
    assert debit["type"] == "DEBIT"
    assert debit["direction"] == "debit"
    assert debit["accountAlias"] == "@alice"
    assert debit["balanceKey"] == "default"
    assert debit["amount"] == {"value": "100"}
    assert debit["balance"] == {
        "available": "1000",
        "onHold": "0",
        "version": 3,
        "overdraftUsed": "0",
    }
    assert debit["balanceAfter"] == {
        "available": "900",
        "onHold": "0",
        "version": 4,
        "overdraftUsed": "0",
    }
    assert credit["type"] == "CREDIT"
    assert credit["direction"] == "credit"
    assert credit["balance"]["available"] == "0"
    assert credit["balanceAfter"] == {
        "available": "100",
        "onHold": "0",
        "version": 1,
        "overdraftUsed": "0",
    }
    assert book.balance("@alice") == (D(900), D(0), 4)
    assert book.balance("@bob") == (D(100), D(0), 1)
    stored = body_of(book.api.get(book.path(f"/transactions/{body['id']}")))
    assert stored["status"]["code"] == "APPROVED"
    assert [op["id"] for op in stored["operations"]] == [debit["id"], credit["id"]]


def test_tv15_insufficient_funds_changes_nothing(book: Book) -> None:
    book.account("@alice")
    book.account("@bob")
    book.fund("@alice", "50")
    before = book.snapshot()
    assert_error(book.transfer("@alice", "@bob", "100"), 422, "0018")
    assert book.snapshot() == before


def test_tv16_unknown_alias_is_0019(book: Book) -> None:
    book.account("@bob")
    before = book.snapshot()
    assert_error(book.transfer("@ghost", "@bob", "1"), 422, "0019")
    assert book.snapshot() == before


def test_tv16_receiving_not_allowed_is_0024(book: Book) -> None:
    book.account("@alice")
    book.account("@bob")
    book.fund("@alice", "10")
    Balance.objects.filter(alias="@bob").update(allow_receiving=False)
    assert_error(book.transfer("@alice", "@bob", "1"), 422, "0024")
    Balance.objects.filter(alias="@bob").update(allow_receiving=True)
    Balance.objects.filter(alias="@alice").update(allow_sending=False)
    assert_error(book.transfer("@alice", "@bob", "1"), 422, "0024")


def test_tv16_asset_mismatch_is_0034(book: Book, api: Api, ledger: dict[str, Any]) -> None:
    api.create_asset(ledger, code="BRL")
    book.account("@alice")
    book.account("@bob", asset="BRL")
    book.fund("@alice", "10")
    assert_error(book.transfer("@alice", "@bob", "1"), 404, "0034")


def test_tv17_inflow_generates_the_external_source(book: Book) -> None:
    book.account("@alice")
    body = book.fund("@alice", "1000")
    assert body["source"] == ["@external/USD"]
    assert body["destination"] == ["@alice"]
    assert book.balance("@alice")[0] == D(1000)
    assert book.balance("@external/USD")[0] == D(1000)


def test_tv17_outflow_generates_the_external_destination(book: Book) -> None:
    book.account("@alice")
    book.fund("@alice", "100")
    body = {"send": {"asset": "USD", "value": "40", "source": {"from": [amt("@alice", "40")]}}}
    created = book.ok(book.post(body, "outflow"))
    assert created["destination"] == ["@external/USD"]
    assert book.balance("@alice")[0] == D(60)
    assert book.balance("@external/USD")[0] == D(60)


def test_tv18_several_balances_per_account(book: Book) -> None:
    account = book.account("@alice")
    book.account("@bob")
    Balance.objects.create(
        organization_id=account["organizationId"],
        ledger_id=account["ledgerId"],
        account_id=account["id"],
        alias="@alice",
        key="savings",
        asset_code="USD",
        account_type="deposit",
    )
    book.fund("@alice", "10")
    book.ok(
        book.post(
            {
                "send": {
                    "asset": "USD",
                    "value": "500",
                    "distribute": {"to": [amt("@alice", "500", balanceKey="savings")]},
                }
            },
            "inflow",
        )
    )
    body = book.ok(
        book.post(
            send("USD", "200", [amt("@alice", "200", balanceKey="savings")], [amt("@bob", "200")])
        )
    )
    assert body["operations"][0]["balanceKey"] == "savings"
    assert book.balance("@alice", "savings")[:2] == (D(300), D(0))
    assert book.balance("@alice")[:2] == (D(10), D(0))


# --- pending lifecycle (§5) ---------------------------------------------------------------------


@pytest.fixture
def held(book: Book) -> dict[str, Any]:
    book.account("@alice")
    book.account("@bob")
    book.fund("@alice", "1000")
    body = book.ok(book.transfer("@alice", "@bob", "300", pending=True))
    assert body["status"]["code"] == "PENDING"
    assert [(op["type"], op["direction"], op["accountAlias"]) for op in body["operations"]] == [
        ("ON_HOLD", "debit", "@alice")
    ]
    assert book.balance("@alice") == (D(700), D(300), 2)
    assert book.balance("@bob") == (D(0), D(0), 0)
    return body


def test_tv19a_commit(book: Book, held: dict[str, Any]) -> None:
    body = book.ok(book.action(held["id"], "commit"))
    assert body["status"]["code"] == "APPROVED"
    new_ops = [(op["type"], op["accountAlias"]) for op in body["operations"][1:]]
    assert new_ops == [("DEBIT", "@alice"), ("CREDIT", "@bob")]
    assert body["operations"][1]["balance"]["onHold"] == "300"
    assert body["operations"][1]["balanceAfter"]["onHold"] == "0"
    assert book.balance("@alice") == (D(700), D(0), 3)
    assert book.balance("@bob") == (D(300), D(0), 1)


def test_tv19b_cancel(book: Book, held: dict[str, Any]) -> None:
    body = book.ok(book.action(held["id"], "cancel"))
    assert body["status"]["code"] == "CANCELED"
    assert [(op["type"], op["direction"]) for op in body["operations"][1:]] == [
        ("RELEASE", "credit")
    ]
    assert book.balance("@alice") == (D(1000), D(0), 3)
    assert book.balance("@bob") == (D(0), D(0), 0)


def test_tv21_external_source_cannot_be_pending(book: Book) -> None:
    book.account("@alice")
    response = book.post(
        send("USD", "10", [amt("@external/USD", "10")], [amt("@alice", "10")], pending=True)
    )
    assert_error(response, 422, "0098")


def test_tv22_dates(book: Book) -> None:
    book.account("@alice")
    book.account("@bob")
    book.fund("@alice", "10")
    assert_error(
        book.transfer("@alice", "@bob", "1", pending=True, transactionDate="2024-01-01T00:00:00Z"),
        400,
        "0122",
    )
    assert_error(
        book.transfer("@alice", "@bob", "1", transactionDate="2999-01-01T00:00:00Z"), 400, "0121"
    )
    body = book.ok(book.transfer("@alice", "@bob", "1", transactionDate="2024-01-02T03:04:05Z"))
    assert body["createdAt"] == "2024-01-02T03:04:05Z"
    assert body["operations"][0]["createdAt"] == "2024-01-02T03:04:05Z"


def test_tv23_commit_of_an_approved_transaction_is_0099(book: Book, held: dict[str, Any]) -> None:
    book.ok(book.action(held["id"], "commit"))
    assert_error(book.action(held["id"], "commit"), 409, "0099")
    assert_error(book.action(held["id"], "cancel"), 409, "0099")
    direct = book.ok(book.transfer("@bob", "@alice", "1"))
    assert_error(book.action(direct["id"], "commit"), 409, "0099")


# --- revert (§6) --------------------------------------------------------------------------------


def test_tv24_revert(book: Book) -> None:
    book.account("@alice")
    book.account("@bob")
    book.fund("@alice", "500")
    before = (book.balance("@alice")[:2], book.balance("@bob")[:2])
    t1 = book.ok(book.transfer("@alice", "@bob", "100", description="pay", metadata={"k": "v"}))
    t2 = book.ok(book.action(t1["id"], "revert"))
    assert t2["parentTransactionId"] == t1["id"]
    assert t2["status"]["code"] == "CREATED"
    assert t2["source"] == ["@bob"]
    assert t2["destination"] == ["@alice"]
    assert t2["description"] == "pay"
    assert t2["metadata"] == {"k": "v"}
    assert (book.balance("@alice")[:2], book.balance("@bob")[:2]) == before
    assert book.balance("@alice")[2] == 3  # versions keep increasing
    t1_again = body_of(book.api.get(book.path(f"/transactions/{t1['id']}")))
    assert t1_again["status"]["code"] == "APPROVED"
    assert_error(book.action(t1["id"], "revert"), 409, "0087")
    assert_error(book.action(t2["id"], "revert"), 409, "0088")


def test_tv24_only_approved_transactions_revert(book: Book) -> None:
    book.account("@alice")
    book.account("@bob")
    book.fund("@alice", "100")
    pending = book.ok(book.transfer("@alice", "@bob", "10", pending=True))
    assert_error(book.action(pending["id"], "revert"), 409, "0099")
    book.ok(book.action(pending["id"], "cancel"))
    assert_error(book.action(pending["id"], "revert"), 409, "0099")
    noted = book.ok(
        book.post(send("USD", "5", [amt("@alice", "5")], [amt("@bob", "5")]), "annotation")
    )
    assert_error(book.action(noted["id"], "revert"), 409, "0099")


def test_tv24_revert_needs_the_money_back(book: Book) -> None:
    book.account("@alice")
    book.account("@bob")
    book.account("@carol")
    book.fund("@alice", "100")
    t1 = book.ok(book.transfer("@alice", "@bob", "100"))
    book.ok(book.transfer("@bob", "@carol", "80"))
    before = book.snapshot()
    assert_error(book.action(t1["id"], "revert"), 422, "0018")
    assert book.snapshot() == before


# --- annotation and idempotency ------------------------------------------------------------------


def test_tv29_annotation_records_without_moving_money(book: Book) -> None:
    book.account("@alice")
    book.account("@bob")
    before = book.snapshot()
    body = book.ok(
        book.post(send("USD", "100", [amt("@alice", "100")], [amt("@bob", "100")]), "annotation")
    )
    assert body["status"]["code"] == "NOTED"
    assert [op["type"] for op in body["operations"]] == ["DEBIT", "CREDIT"]
    for op in body["operations"]:
        assert op["balanceAffected"] is False
        assert op["balance"] == {
            "available": "0",
            "onHold": "0",
            "version": 0,
            "overdraftUsed": "0",
        }
        assert op["balanceAfter"] == op["balance"]
    after = book.snapshot()
    assert after[:-2] == before[:-2]  # balances untouched; one transaction and two operations more


def test_tv30_explicit_key_replays_the_first_answer(book: Book) -> None:
    book.account("@alice")
    book.account("@bob")
    book.fund("@alice", "100")
    first = book.transfer("@alice", "@bob", "10", headers={"X-Idempotency": "k1"})
    assert first["X-Idempotency-Replayed"] == "false"
    again = book.transfer("@alice", "@bob", "10", headers={"X-Idempotency": "k1"})
    assert again.status_code == 201
    assert again["X-Idempotency-Replayed"] == "true"
    assert body_of(again) == body_of(first)
    assert body_of(again)["status"]["code"] == "CREATED"
    assert book.balance("@alice")[0] == D(90)


def test_tv30_same_key_with_another_body_is_refused(book: Book) -> None:
    book.account("@alice")
    book.account("@bob")
    book.fund("@alice", "100")
    book.ok(book.transfer("@alice", "@bob", "10", headers={"X-Idempotency": "k2"}))
    assert_error(
        book.transfer("@alice", "@bob", "11", headers={"X-Idempotency": "k2"}), 409, "0084"
    )
    assert book.balance("@alice")[0] == D(90)


def test_tv30_identical_bodies_without_key_are_deduplicated(book: Book) -> None:
    book.account("@alice")
    book.account("@bob")
    book.fund("@alice", "100")
    first = book.ok(book.transfer("@alice", "@bob", "10"))
    again = book.transfer("@alice", "@bob", "10")
    assert again["X-Idempotency-Replayed"] == "true"
    assert body_of(again)["id"] == first["id"]
    assert book.balance("@alice")[0] == D(90)


def test_tv30_failed_attempt_releases_the_key(book: Book) -> None:
    book.account("@alice")
    book.account("@bob")
    response = book.transfer("@alice", "@bob", "10", headers={"X-Idempotency": "k3"})
    assert_error(response, 422, "0018")
    assert not IdempotencyRecord.objects.filter(key="k3").exists()
    book.fund("@alice", "10")
    retried = book.transfer("@alice", "@bob", "10", headers={"X-Idempotency": "k3"})
    assert retried.status_code == 201
    assert retried["X-Idempotency-Replayed"] == "false"


def test_tv30_ttl_sets_the_record_lifetime(book: Book) -> None:
    book.account("@alice")
    book.fund("@alice", "1")
    book.ok(
        book.post(
            {"send": {"asset": "USD", "value": "2", "distribute": {"to": [amt("@alice", "2")]}}},
            "inflow",
            **{"X-Idempotency": "k4", "X-TTL": "60"},
        )
    )
    record = IdempotencyRecord.objects.get(key="k4")
    assert 59 <= (record.expires_at - record.created_at).total_seconds() <= 60
    record.expires_at = record.created_at  # expired: the key may be used again
    record.save()
    again = book.post(
        {"send": {"asset": "USD", "value": "2", "distribute": {"to": [amt("@alice", "2")]}}},
        "inflow",
        **{"X-Idempotency": "k4"},
    )
    assert again["X-Idempotency-Replayed"] == "false"
    assert book.balance("@alice")[0] == D(5)


def test_operations_and_transaction_rows_match_the_answer(book: Book) -> None:
    book.account("@alice")
    body = book.fund("@alice", "7.25")
    tx = Transaction.objects.get(pk=body["id"])
    assert tx.status == "APPROVED"
    assert tx.amount == D("7.25")
    ops = Operation.objects.filter(transaction=tx).order_by("id")
    assert [str(op.id) for op in ops] == [op["id"] for op in body["operations"]]
