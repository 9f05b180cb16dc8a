"""Operation routes and transaction routes (MIDAZ_API.md §4.12, §4.13): CRUD, every body rule
and code."""

from __future__ import annotations

from typing import Any

import pytest
from uuid_utils.compat import uuid7

from tests.helpers import Api, assert_error, ledger_path
from transactions.models import OperationRoute, TransactionRoute

pytestmark = pytest.mark.django_db


def rubric(code: str = "1.1") -> dict[str, str]:
    return {"code": code, "description": f"rubric {code}"}


def both() -> dict[str, Any]:
    return {"debit": rubric("D"), "credit": rubric("C")}


def op_route(api: Api, ledger: dict[str, Any], kind: str = "source", **body: Any) -> Any:
    return api.post(
        ledger_path(ledger, "/operation-routes"),
        {"title": f"{kind} route", "operationType": kind, **body},
    )


def make(api: Api, ledger: dict[str, Any], kind: str = "source", **body: Any) -> dict[str, Any]:
    return api.ok(op_route(api, ledger, kind, **body), 201)


def test_operation_route_crud(api: Api, ledger: dict[str, Any]) -> None:
    created = make(
        api,
        ledger,
        "source",
        description="cash out",
        code="CASH-OUT",
        account={"ruleType": "alias", "validIf": "@cash"},
        accountingEntries={"direct": {"debit": rubric("1.1.1")}},
        metadata={"team": "treasury"},
    )
    assert created["operationType"] == "source"
    assert created["account"] == {"ruleType": "alias", "validIf": "@cash"}
    assert created["accountingEntries"] == {"direct": {"debit": rubric("1.1.1")}}
    assert created["organizationId"] == ledger["organizationId"]
    assert created["deletedAt"] is None
    path = ledger_path(ledger, f"/operation-routes/{created['id']}")
    assert api.ok(api.get(path), 200)["code"] == "CASH-OUT"

    updated = api.ok(
        api.patch(
            path,
            {
                "title": "cash out (v2)",
                "account": {"ruleType": "account_type", "validIf": ["deposit", "savings"]},
                "metadata": {"team": None, "owner": "ops"},
            },
        ),
        200,
    )
    assert updated["title"] == "cash out (v2)"
    assert updated["account"]["validIf"] == ["deposit", "savings"]
    assert updated["metadata"] == {"owner": "ops"}
    assert updated["operationType"] == "source"  # immutable

    listed = api.ok(api.get(ledger_path(ledger, "/operation-routes")), 200)
    assert [r["id"] for r in listed["items"]] == [created["id"]]
    by_meta = api.ok(
        api.get(ledger_path(ledger, "/operation-routes"), **{"metadata.owner": "ops"}), 200
    )
    assert len(by_meta["items"]) == 1
    assert_error(
        api.get(ledger_path(ledger, "/operation-routes"), **{"metadata.owner": "nobody"}),
        404,
        "0102",
    )

    assert api.delete(path).status_code == 204
    assert_error(api.get(path), 404, "0101")
    assert_error(api.get(ledger_path(ledger, f"/operation-routes/{uuid7()}")), 404, "0101")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"operationType": "source"}, "0009"),
        ({"title": "t"}, "0009"),
        ({"title": "t", "operationType": "sideways"}, "0103"),
        ({"title": "t", "operationType": "source", "account": {"ruleType": "alias"}}, "0009"),
        ({"title": "t", "operationType": "source", "account": {"validIf": "@a"}}, "0009"),
        (
            {
                "title": "t",
                "operationType": "source",
                "account": {"ruleType": "x", "validIf": "@a"},
            },
            "0111",
        ),
        (
            {
                "title": "t",
                "operationType": "source",
                "account": {"ruleType": "alias", "validIf": ["@a"]},
            },
            "0112",
        ),
        (
            {
                "title": "t",
                "operationType": "source",
                "account": {"ruleType": "account_type", "validIf": "deposit"},
            },
            "0112",
        ),
        (
            {"title": "t", "operationType": "source", "accountingEntries": {"refund": both()}},
            "0053",
        ),
        (
            {
                "title": "t",
                "operationType": "source",
                "accountingEntries": {"direct": {"debit": {"code": "1"}}},
            },
            "0009",
        ),
        ({"title": "x" * 256, "operationType": "source"}, "0047"),
    ],
)
def test_operation_route_body_errors(
    api: Api, ledger: dict[str, Any], body: dict[str, Any], code: str
) -> None:
    assert_error(api.post(ledger_path(ledger, "/operation-routes"), body), 400, code)
    assert not OperationRoute.objects.exists()


@pytest.mark.parametrize(
    ("kind", "entries", "code"),
    [
        ("source", {"direct": {"debit": rubric()}, "revert": both()}, "0165"),
        ("destination", {"direct": {"credit": rubric()}, "hold": both()}, "0162"),
        ("destination", {"direct": {"credit": rubric()}, "cancel": both()}, "0162"),
        ("source", {"direct": {"debit": rubric()}, "hold": both(), "commit": both()}, "0163"),
        ("source", {"direct": {"debit": rubric()}, "hold": both(), "cancel": both()}, "0163"),
        ("source", {"commit": {"debit": rubric()}}, "0164"),
        ("source", {"direct": {"credit": rubric()}}, "0166"),
        ("source", {"direct": {"debit": rubric()}, "overdraft": {"debit": rubric()}}, "0166"),
        (
            "source",
            {
                "direct": {"debit": rubric()},
                "hold": {"debit": rubric()},
                "commit": {"debit": rubric()},
                "cancel": both(),
            },
            "0166",
        ),
        ("destination", {"direct": {"debit": rubric()}}, "0166"),
        ("bidirectional", {"direct": {"debit": rubric()}}, "0166"),
    ],
)
def test_accounting_entry_rules(
    api: Api, ledger: dict[str, Any], kind: str, entries: dict[str, Any], code: str
) -> None:
    assert_error(op_route(api, ledger, kind, accountingEntries=entries), 422, code)


def test_accounting_entries_that_pass(api: Api, ledger: dict[str, Any]) -> None:
    make(
        api,
        ledger,
        "source",
        accountingEntries={
            "direct": {"debit": rubric()},
            "hold": both(),
            "commit": {"debit": rubric()},
            "cancel": both(),
            "block": {"debit": rubric()},
        },
    )
    make(
        api,
        ledger,
        "destination",
        accountingEntries={"direct": {"credit": rubric()}, "commit": {"credit": rubric()}},
    )
    make(
        api,
        ledger,
        "bidirectional",
        accountingEntries={"direct": both(), "revert": both(), "overdraft": both()},
    )
    # PATCH checks the rules against the stored operation type.
    dest = make(api, ledger, "destination")
    assert_error(
        api.patch(
            ledger_path(ledger, f"/operation-routes/{dest['id']}"),
            {"accountingEntries": {"direct": {"credit": rubric()}, "hold": both()}},
        ),
        422,
        "0162",
    )


def test_transaction_route_crud(api: Api, ledger: dict[str, Any]) -> None:
    src = make(api, ledger, "source")
    dst = make(api, ledger, "destination")
    bid = make(api, ledger, "bidirectional")
    created = api.ok(
        api.post(
            ledger_path(ledger, "/transaction-routes"),
            {
                "title": "payout",
                "description": "pay a merchant",
                "operationRoutes": [src["id"], dst["id"]],
            },
        ),
        201,
    )
    assert sorted(r["id"] for r in created["operationRoutes"]) == sorted([src["id"], dst["id"]])
    path = ledger_path(ledger, f"/transaction-routes/{created['id']}")
    assert api.ok(api.get(path), 200)["title"] == "payout"

    listed = api.ok(api.get(ledger_path(ledger, "/transaction-routes")), 200)
    assert [len(r["operationRoutes"]) for r in listed["items"]] == [2]

    # A route in use cannot be deleted (0107).
    assert_error(api.delete(ledger_path(ledger, f"/operation-routes/{src['id']}")), 422, "0107")

    replaced = api.ok(
        api.patch(path, {"operationRoutes": [bid["id"], dst["id"]], "title": "payout v2"}), 200
    )
    assert sorted(r["id"] for r in replaced["operationRoutes"]) == sorted([bid["id"], dst["id"]])
    assert replaced["title"] == "payout v2"
    # Unlinked now: the source route can go.
    assert api.delete(ledger_path(ledger, f"/operation-routes/{src['id']}")).status_code == 204

    assert api.delete(path).status_code == 204
    assert_error(api.get(path), 404, "0105")
    # Deleting the transaction route unlinked its operation routes.
    assert api.delete(ledger_path(ledger, f"/operation-routes/{bid['id']}")).status_code == 204
    assert not TransactionRoute.objects.exists()


def test_transaction_route_errors(api: Api, ledger: dict[str, Any]) -> None:
    src = make(api, ledger, "source")
    src2 = make(api, ledger, "source")
    dst = make(api, ledger, "destination")
    bid = make(api, ledger, "bidirectional")
    tr = ledger_path(ledger, "/transaction-routes")
    assert_error(api.post(tr, {"title": "t"}), 400, "0009")
    assert_error(api.post(tr, {"operationRoutes": [src["id"]]}), 400, "0009")
    assert_error(api.post(tr, {"title": "t", "operationRoutes": ["x"]}), 400, "0047")
    assert_error(
        api.post(tr, {"title": "t", "operationRoutes": [src["id"], src2["id"]]}), 400, "0154"
    )
    assert_error(api.post(tr, {"title": "t", "operationRoutes": [dst["id"]]}), 400, "0153")
    assert_error(
        api.post(tr, {"title": "t", "operationRoutes": [src["id"], str(uuid7())]}), 404, "0101"
    )
    # An empty id (the uuid check reads "" as absent) is no route either, not a 500.
    assert_error(api.post(tr, {"title": "t", "operationRoutes": [""]}), 404, "0101")
    assert_error(api.post(tr, {"title": "t", "operationRoutes": [src["id"], ""]}), 404, "0101")
    other = api.create_ledger(ledger["organizationId"])
    foreign = make(api, other, "destination")
    assert_error(
        api.post(tr, {"title": "t", "operationRoutes": [src["id"], foreign["id"]]}), 404, "0101"
    )
    # A bidirectional route alone covers both sides.
    made = api.ok(api.post(tr, {"title": "t", "operationRoutes": [bid["id"]]}), 201)
    path = ledger_path(ledger, f"/transaction-routes/{made['id']}")
    assert_error(api.patch(path, {"operationRoutes": [src["id"]]}), 400, "0104")
    assert_error(
        api.patch(path, {"operationRoutes": [str(uuid7()) for _ in range(101)]}), 400, "0158"
    )
    assert_error(api.get(ledger_path(ledger, f"/transaction-routes/{uuid7()}")), 404, "0105")
