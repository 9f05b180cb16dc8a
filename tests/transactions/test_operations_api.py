"""Operation endpoints (MIDAZ_API.md §4.8): the operations of an account, one of them, and
the update of an operation's description and metadata."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest
from uuid_utils.compat import uuid7

from midaz.api.render import dumps
from onboarding.models import Ledger
from tests.helpers import Api, assert_error, ledger_path
from transactions.models import Operation
from transactions.posting import transaction_create
from transactions.spec import Entry, TransactionSpec

pytestmark = pytest.mark.django_db


def move(
    ledger: dict[str, Any],
    value: str,
    source: str,
    destination: str,
    *,
    when: datetime | None = None,
    metadata: dict[str, Any] | None = None,
    route_id: Any = None,
) -> dict[str, Any]:
    amount = Decimal(value)
    result = transaction_create(
        ledger=Ledger.objects.get(pk=ledger["id"]),
        spec=TransactionSpec(
            asset="USD",
            value=amount,
            sources=(Entry(source, amount=amount),),
            destinations=(Entry(destination, amount=amount, metadata=metadata, route_id=route_id),),
            transaction_date=when,
            description="a transfer",
        ),
    )
    # the engine answers Python values (UUIDs, Decimals); compare with the wire form
    return orjson.loads(dumps(result.body))


@pytest.fixture
def alice(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> dict[str, Any]:
    return api.create_account(ledger, alias="@alice")


@pytest.fixture
def bob(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> dict[str, Any]:
    return api.create_account(ledger, alias="@bob")


def ops_path(ledger: dict[str, Any], account: dict[str, Any] | str, suffix: str = "") -> str:
    account_id = account if isinstance(account, str) else account["id"]
    return ledger_path(ledger, f"/accounts/{account_id}/operations{suffix}")


def op_patch_path(ledger: dict[str, Any], transaction_id: Any, operation_id: Any) -> str:
    return ledger_path(ledger, f"/transactions/{transaction_id}/operations/{operation_id}")


def credit_of(tx: dict[str, Any]) -> dict[str, Any]:
    return next(op for op in tx["operations"] if op["type"] == "CREDIT")


# --- GET L/accounts/{id}/operations -----------------------------------------------------------


def test_list_account_operations(
    api: Api, ledger: dict[str, Any], alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    first = move(ledger, "100", "@external/USD", "@alice")
    second = move(ledger, "40", "@alice", "@bob")
    listed = api.ok(api.get(ops_path(ledger, alice)), 200)
    assert listed["limit"] == 10
    assert "next_cursor" not in listed
    assert [op["type"] for op in listed["items"]] == ["CREDIT", "DEBIT"]
    credit, debit = listed["items"]
    assert credit["id"] == credit_of(first)["id"]
    assert credit["transactionId"] == first["id"]
    assert credit["amount"] == {"value": "100"}
    assert credit["balance"]["available"] == "0"
    assert credit["balanceAfter"]["available"] == "100"
    assert credit["accountAlias"] == "@alice"
    assert credit["balanceKey"] == "default"
    assert credit["direction"] == "credit"
    assert credit["metadata"] == {}
    assert debit["transactionId"] == second["id"]
    assert debit["balance"]["version"] == 1
    assert debit["balanceAfter"]["version"] == 2
    assert debit["balanceAfter"]["available"] == "60"

    # bob sees only his own operation
    assert [op["type"] for op in api.ok(api.get(ops_path(ledger, bob)), 200)["items"]] == ["CREDIT"]


def test_list_account_operations_pages(
    api: Api, ledger: dict[str, Any], alice: dict[str, Any]
) -> None:
    for value in ("1", "2", "3"):
        move(ledger, value, "@external/USD", "@alice")
    page1 = api.ok(api.get(ops_path(ledger, alice), limit=2), 200)
    assert [op["amount"]["value"] for op in page1["items"]] == ["1", "2"]
    page2 = api.ok(api.get(ops_path(ledger, alice), limit=2, cursor=page1["next_cursor"]), 200)
    assert [op["amount"]["value"] for op in page2["items"]] == ["3"]
    assert "next_cursor" not in page2
    assert "prev_cursor" in page2
    desc = api.ok(api.get(ops_path(ledger, alice), sort_order="DESC"), 200)
    assert [op["amount"]["value"] for op in desc["items"]] == ["3", "2", "1"]


def test_list_account_operations_filters(
    api: Api, ledger: dict[str, Any], alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    route = uuid7()
    move(ledger, "100", "@external/USD", "@alice", metadata={"kind": "salary"}, route_id=route)
    move(ledger, "40", "@alice", "@bob")
    Operation.objects.filter(route_id=route).update(route_code="PAYROLL")

    def types(**params: Any) -> list[str]:
        return [
            op["type"] for op in api.ok(api.get(ops_path(ledger, alice), **params), 200)["items"]
        ]

    assert types(type="credit") == ["CREDIT"]
    assert types(type="DEBIT") == ["DEBIT"]
    assert types(type="ON_HOLD") == []
    assert types(direction="debit") == ["DEBIT"]
    assert types(direction="CREDIT") == ["CREDIT"]
    assert types(route_id=str(route)) == ["CREDIT"]
    assert types(route_id=str(uuid7())) == []
    assert types(route_code="PAYROLL") == ["CREDIT"]
    assert types(route_code="OTHER") == []
    assert types(**{"metadata.kind": "salary"}) == ["CREDIT"]

    assert_error(api.get(ops_path(ledger, alice), direction="sideways"), 400, "0082")
    assert_error(api.get(ops_path(ledger, alice), route_id="nope"), 400, "0082")
    answer = assert_error(
        api.get(ops_path(ledger, alice), **{"metadata.kind": "bonus"}), 404, "0069"
    )
    assert answer["entityType"] == "Operation"


def test_list_account_operations_default_window(
    api: Api, ledger: dict[str, Any], alice: dict[str, Any]
) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=400)
    move(ledger, "5", "@external/USD", "@alice", when=long_ago)
    move(ledger, "6", "@external/USD", "@alice")
    recent = api.ok(api.get(ops_path(ledger, alice)), 200)
    assert [op["amount"]["value"] for op in recent["items"]] == ["6"]
    day = long_ago.strftime("%Y-%m-%d")
    old = api.ok(api.get(ops_path(ledger, alice), start_date=day, end_date=day), 200)
    assert [op["amount"]["value"] for op in old["items"]] == ["5"]
    everything = api.ok(
        api.get(ops_path(ledger, alice), start_date="2000-01-01", end_date="2100-12-31"), 200
    )
    assert len(everything["items"]) == 2


def test_list_account_operations_errors(
    api: Api, organization: dict[str, Any], ledger: dict[str, Any], alice: dict[str, Any]
) -> None:
    assert_error(api.get(ops_path(ledger, str(uuid7()))), 404, "0052")
    assert_error(api.get(ops_path(ledger, "nope")), 400, "0065")
    assert_error(api.get(ops_path(ledger, alice), limit="x"), 400, "0082")
    assert_error(api.get(ops_path(ledger, alice), start_date="2024-01-01"), 400, "0083")
    assert_error(
        api.get(ops_path(ledger, alice), start_date="2024-02-01", end_date="2024-01-01"),
        400,
        "0078",
    )
    led = ledger["id"]
    path = f"/accounts/{alice['id']}/operations"
    assert_error(api.get(f"/organizations/{uuid7()}/ledgers/{led}{path}"), 404, "0038")
    other = api.create_ledger(organization["id"])
    assert_error(api.get(ops_path(other, alice)), 404, "0052")


# --- GET L/accounts/{id}/operations/{operation_id} --------------------------------------------


def test_get_account_operation(
    api: Api, ledger: dict[str, Any], alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    tx = move(ledger, "100", "@external/USD", "@alice", metadata={"k": "v"})
    credit = credit_of(tx)
    got = api.ok(api.get(ops_path(ledger, alice, f"/{credit['id']}")), 200)
    assert got["id"] == credit["id"]
    assert got["transactionId"] == tx["id"]
    assert got["metadata"] == {"k": "v"}
    assert got["description"] == "a transfer"
    assert got["amount"] == {"value": "100"}
    assert got["balanceAfter"]["available"] == "100"
    assert got["organizationId"] == ledger["organizationId"]

    # another account's operation, or none at all: 0069 (as Midaz)
    assert_error(api.get(ops_path(ledger, bob, f"/{credit['id']}")), 404, "0069")
    answer = assert_error(api.get(ops_path(ledger, alice, f"/{uuid7()}")), 404, "0069")
    assert answer["entityType"] == "Operation"
    assert_error(api.get(ops_path(ledger, alice, "/nope")), 400, "0065")
    assert_error(api.get(ops_path(ledger, str(uuid7()), f"/{credit['id']}")), 404, "0052")


# --- PATCH L/transactions/{id}/operations/{operation_id} --------------------------------------


def test_patch_operation(api: Api, ledger: dict[str, Any], alice: dict[str, Any]) -> None:
    tx = move(ledger, "100", "@external/USD", "@alice", metadata={"keep": "1", "drop": "2"})
    credit = credit_of(tx)
    path = op_patch_path(ledger, tx["id"], credit["id"])
    got = api.ok(
        api.patch(path, {"description": "payroll", "metadata": {"drop": None, "new": 3}}), 200
    )
    assert got["description"] == "payroll"
    assert got["metadata"] == {"keep": "1", "new": 3}
    assert got["amount"] == {"value": "100"}
    assert got["balanceAfter"]["available"] == "100"
    row = Operation.objects.get(pk=credit["id"])
    assert row.description == "payroll"
    assert row.metadata == {"keep": "1", "new": 3}
    assert row.amount == Decimal(100)
    assert row.available_after == Decimal(100)
    assert row.updated_at > row.created_at

    # absent metadata is left alone, an empty description changes nothing
    got = api.ok(api.patch(path, {"description": ""}), 200)
    assert got["description"] == "payroll"
    assert got["metadata"] == {"keep": "1", "new": 3}
    # metadata null clears it
    got = api.ok(api.patch(path, {"metadata": None}), 200)
    assert got["metadata"] == {}
    assert Operation.objects.get(pk=credit["id"]).metadata == {}
    # the read side shows the change
    read = api.ok(api.get(ops_path(ledger, alice, f"/{credit['id']}")), 200)
    assert read["description"] == "payroll"
    assert read["metadata"] == {}


def test_patch_operation_errors(api: Api, ledger: dict[str, Any], alice: dict[str, Any]) -> None:
    tx = move(ledger, "100", "@external/USD", "@alice")
    credit = credit_of(tx)
    path = op_patch_path(ledger, tx["id"], credit["id"])
    assert_error(api.patch(path, {"description": "d" * 257}), 400, "0047")
    assert_error(api.patch(path, {"amount": "5"}), 400, "0053")
    assert_error(api.patch(path, {"description": 5}), 400, "0094")
    assert_error(api.patch(path, {"metadata": {"k": {"nested": 1}}}), 400, "0067")
    assert_error(api.patch(path, {"metadata": {"k" * 101: "v"}}), 400, "0050")
    answer = assert_error(
        api.patch(op_patch_path(ledger, tx["id"], uuid7()), {"description": "x"}), 404, "0068"
    )
    assert answer["entityType"] == "Operation"
    # the operation exists, but not in that transaction
    other = move(ledger, "1", "@external/USD", "@alice")
    assert_error(
        api.patch(op_patch_path(ledger, other["id"], credit["id"]), {"description": "x"}),
        404,
        "0068",
    )
    assert_error(api.patch(op_patch_path(ledger, "nope", credit["id"]), {}), 400, "0065")
    assert_error(api.patch(op_patch_path(ledger, tx["id"], "nope"), {}), 400, "0065")
    row = Operation.objects.get(pk=credit["id"])
    assert row.description == "a transfer"
    assert row.metadata == {}
