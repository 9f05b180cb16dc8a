"""Postings held to accounting routes (SEMANTICS.md §11, §5.2) when the ledger setting
``accounting.validateRoutes`` is on: every code in order, the rubrics on the operations, the
double-entry split of pending transactions and the revert rule."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from uuid_utils.compat import uuid7

from tests.helpers import Api, assert_error, ledger_path
from tests.transactions.book import Book, amt, send
from transactions.models import Operation

pytestmark = pytest.mark.django_db


def rubric(code: str) -> dict[str, str]:
    return {"code": code, "description": f"rubric {code}"}


class Routes:
    """A ledger that validates routes, with source, destination and bidirectional routes."""

    def __init__(self, api: Api, ledger: dict[str, Any]) -> None:
        self.api = api
        self.ledger = ledger
        self.book = Book(api, ledger)
        for alias, kind in (("@alice", "deposit"), ("@bob", "deposit"), ("@carol", "savings")):
            self.book.account(alias, type=kind)
        self.book.fund("@alice", "100")  # before routes are on
        self.src = self.op(
            "source",
            account={"ruleType": "alias", "validIf": "@alice"},
            accountingEntries={
                "direct": {"debit": rubric("1.1")},
                "hold": {"debit": rubric("1.2"), "credit": rubric("1.3")},
                "commit": {"debit": rubric("1.4")},
                "cancel": {"debit": rubric("1.5"), "credit": rubric("1.6")},
            },
        )
        self.dst = self.op(
            "destination",
            account={"ruleType": "account_type", "validIf": ["deposit"]},
            accountingEntries={
                "direct": {"credit": rubric("2.1")},
                "commit": {"credit": rubric("2.2")},
            },
        )
        self.bid = self.op(
            "bidirectional",
            accountingEntries={
                "direct": {"debit": rubric("3.1"), "credit": rubric("3.2")},
                "revert": {"debit": rubric("3.3"), "credit": rubric("3.4")},
            },
        )
        self.payout = self.tr(self.src, self.dst)
        api.ok(
            api.patch(ledger_path(ledger, "/settings"), {"accounting": {"validateRoutes": True}}),
            200,
        )

    def op(self, kind: str, **body: Any) -> str:
        made = self.api.ok(
            self.api.post(
                ledger_path(self.ledger, "/operation-routes"),
                {"title": f"{kind} route", "operationType": kind, **body},
            ),
            201,
        )
        return str(made["id"])

    def tr(self, *operation_routes: str) -> str:
        made = self.api.ok(
            self.api.post(
                ledger_path(self.ledger, "/transaction-routes"),
                {"title": "route", "operationRoutes": list(operation_routes)},
            ),
            201,
        )
        return str(made["id"])

    def transfer(
        self, src: str, dst: str, value: str, src_route: Any, dst_route: Any, **top: Any
    ) -> Any:
        source = amt(src, value, **({"routeId": src_route} if src_route else {}))
        destination = amt(dst, value, **({"routeId": dst_route} if dst_route else {}))
        return self.book.post(send("USD", value, [source], [destination], **top))


@pytest.fixture
def routes(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Routes:
    return Routes(api, ledger)


def test_a_routed_posting_carries_its_rubrics(routes: Routes) -> None:
    body = routes.book.ok(
        routes.transfer("@alice", "@bob", "10", routes.src, routes.dst, routeId=routes.payout)
    )
    debit, credit = body["operations"]
    assert (debit["routeId"], debit["routeCode"], debit["routeDescription"]) == (
        routes.src,
        "1.1",
        "rubric 1.1",
    )
    assert (credit["routeId"], credit["routeCode"]) == (routes.dst, "2.1")
    stored = Operation.objects.get(pk=debit["id"])
    assert (stored.route_code, stored.route_description) == ("1.1", "rubric 1.1")
    # The legacy "route" field may name the transaction route too.
    routes.book.ok(
        routes.transfer("@alice", "@bob", "1", routes.src, routes.dst, route=routes.payout)
    )


def test_route_errors_in_order(routes: Routes) -> None:
    before = routes.book.snapshot()
    t = routes.transfer
    assert_error(t("@alice", "@bob", "1", routes.src, routes.dst), 422, "0114")
    assert_error(t("@alice", "@bob", "1", routes.src, routes.dst, route="abc"), 400, "0115")
    assert_error(
        t("@alice", "@bob", "1", routes.src, routes.dst, routeId=str(uuid7())), 404, "0105"
    )
    assert_error(t("@alice", "@bob", "1", None, routes.dst, routeId=routes.payout), 422, "0117")
    assert_error(t("@alice", "@bob", "1", routes.src, None, routeId=routes.payout), 422, "0117")
    # Both entries on the source route: the destination route is not used.
    assert_error(
        t("@alice", "@bob", "1", routes.src, routes.src, routeId=routes.payout), 422, "0116"
    )
    # The source route is bound to @alice, the destination route to deposit accounts.
    assert_error(
        t("@bob", "@alice", "1", routes.src, routes.dst, routeId=routes.payout), 422, "0118"
    )
    assert_error(
        t("@alice", "@carol", "1", routes.src, routes.dst, routeId=routes.payout), 422, "0119"
    )
    # A route of the other side on a source entry.
    two_sources = send(
        "USD",
        "2",
        [amt("@alice", "1", routeId=routes.src), amt("@bob", "1", routeId=routes.dst)],
        [amt("@bob", "2", routeId=routes.dst)],
        routeId=routes.payout,
    )
    assert_error(routes.book.post(two_sources), 422, "0152")
    # A bidirectional route configured with a destination route must take both sides.
    mixed = routes.tr(routes.bid, routes.dst)
    assert_error(t("@alice", "@bob", "1", routes.bid, routes.dst, routeId=mixed), 422, "0151")
    # No operation route of the transaction route has a hold rubric for a pending posting.
    direct_only = routes.tr(routes.bid)
    assert_error(
        t("@alice", "@bob", "1", routes.bid, routes.bid, routeId=direct_only, pending=True),
        422,
        "0157",
    )
    assert routes.book.snapshot() == before


def test_pending_is_split_into_double_entries(routes: Routes) -> None:
    held = routes.book.ok(
        routes.transfer(
            "@alice", "@bob", "30", routes.src, routes.dst, routeId=routes.payout, pending=True
        )
    )
    assert [(o["type"], o["routeCode"]) for o in held["operations"]] == [
        ("DEBIT", "1.2"),
        ("ON_HOLD", "1.2"),
    ]
    assert routes.book.balance("@alice") == (Decimal("70"), Decimal("30"), 3)
    committed = routes.book.ok(routes.book.action(held["id"], "commit"))
    commit_ops = [
        o for o in committed["operations"] if o["id"] not in {x["id"] for x in held["operations"]}
    ]
    assert [(o["type"], o["accountAlias"], o["routeCode"]) for o in commit_ops] == [
        ("ON_HOLD", "@alice", "1.4"),
        ("CREDIT", "@bob", "2.2"),
    ]
    assert routes.book.balance("@alice") == (Decimal("70"), Decimal("0"), 4)
    assert routes.book.balance("@bob")[0] == Decimal("30")

    other = routes.book.ok(
        routes.transfer(
            "@alice", "@bob", "20", routes.src, routes.dst, routeId=routes.payout, pending=True
        )
    )
    canceled = routes.book.ok(routes.book.action(other["id"], "cancel"))
    cancel_ops = [
        o for o in canceled["operations"] if o["id"] not in {x["id"] for x in other["operations"]}
    ]
    assert [(o["type"], o["routeCode"]) for o in cancel_ops] == [
        ("RELEASE", "1.5"),
        ("CREDIT", "1.5"),
    ]
    assert routes.book.balance("@alice") == (Decimal("70"), Decimal("0"), 8)


def test_revert_needs_bidirectional_routes(routes: Routes) -> None:
    paid = routes.book.ok(
        routes.transfer("@alice", "@bob", "10", routes.src, routes.dst, routeId=routes.payout)
    )
    assert_error(routes.book.action(paid["id"], "revert"), 422, "0150")
    both_ways = routes.tr(routes.bid)
    moved = routes.book.ok(
        routes.transfer("@alice", "@bob", "5", routes.bid, routes.bid, routeId=both_ways)
    )
    reversal = routes.book.ok(routes.book.action(moved["id"], "revert"))
    assert [(o["type"], o["routeCode"]) for o in reversal["operations"]] == [
        ("DEBIT", "3.3"),
        ("CREDIT", "3.4"),
    ]
    assert routes.book.balance("@bob")[0] == Decimal("10")


def test_routes_off_again_means_no_checks(routes: Routes) -> None:
    routes.api.ok(
        routes.api.patch(
            ledger_path(routes.ledger, "/settings"), {"accounting": {"validateRoutes": False}}
        ),
        200,
    )
    body = routes.book.ok(routes.book.transfer("@alice", "@carol", "1"))
    assert "routeCode" not in body["operations"][0]


def test_a_route_rule_changed_outside_the_api_is_0113(routes: Routes) -> None:
    """The API refuses a malformed rule when a route is written (0111, 0112); one changed by
    other means (the admin, SQL) refuses the postings that meet it."""
    from transactions.models import OperationRoute

    t = routes.transfer
    for broken in (
        {"ruleType": "alias", "validIf": ["@alice"]},
        {"ruleType": "account_type", "validIf": "deposit"},
        {"ruleType": "holder", "validIf": "x"},
    ):
        OperationRoute.objects.filter(pk=routes.src).update(account=broken)
        assert_error(
            t("@alice", "@bob", "1", routes.src, routes.dst, routeId=routes.payout), 422, "0113"
        )
