"""Overdraft (SEMANTICS.md §4.4): the settings and the internal companion balance, the debit
split and repayment with their OVERDRAFT operations, holds, cancels and reverts, the limit,
every code 0167-0175, and the test vectors TV25-TV28. Every test ends with ``verify_ledger``
(tests/conftest.py), which checks the overdraft invariants too."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.helpers import Api, assert_error, ledger_path
from tests.transactions.book import Book, amt, send
from transactions.models import Balance, Operation, Transaction

pytestmark = pytest.mark.django_db

D = Decimal


class Overdraft(Book):
    """A ledger with @alice, @bob and @carol (USD), and helpers for overdraft settings."""

    def balance_row(self, alias: str, key: str = "default") -> Balance:
        return Balance.objects.get(ledger_id=self.ledger["id"], alias=alias, key=key)

    def settings(self, alias: str, key: str = "default", **settings: Any) -> Any:
        balance = self.balance_row(alias, key)
        return self.api.patch(self.path(f"/balances/{balance.id}"), {"settings": settings})

    def enable(self, alias: str, limit: str | None = None, key: str = "default") -> None:
        settings: dict[str, Any] = {"allowOverdraft": True}
        if limit is not None:
            settings |= {"overdraftLimitEnabled": True, "overdraftLimit": limit}
        self.ok(self.settings(alias, key, **settings), 200)

    def state(self, alias: str) -> tuple[Decimal, Decimal, Decimal]:
        """(available, overdraftUsed, the companion's available) of the default balance."""
        b = self.balance_row(alias)
        companion = self.balance_row(alias, "overdraft")
        return (b.available, b.overdraft_used, companion.available)


@pytest.fixture
def book(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Overdraft:
    b = Overdraft(api, ledger)
    for alias in ("@alice", "@bob", "@carol"):
        b.account(alias)
    return b


def ops(body: dict[str, Any]) -> list[tuple[str, str, str, str, Decimal]]:
    """(type, direction, alias, balanceKey, amount) of each operation, in order."""
    return [
        (o["type"], o["direction"], o["accountAlias"], o["balanceKey"], D(o["amount"]["value"]))
        for o in body["operations"]
    ]


# --- settings and the companion balance -----------------------------------------------------


def test_enabling_overdraft_opens_one_internal_companion(book: Overdraft) -> None:
    book.enable("@alice", limit="200")
    book.enable("@alice", limit="300")  # a second enabling reuses the companion
    book.ok(
        book.api.post(
            book.path(f"/accounts/{book.balance_row('@alice').account_id}/balances"),
            {"key": "savings", "settings": {"allowOverdraft": True}},
        ),
        201,
    )
    companions = Balance.objects.filter(ledger_id=book.ledger["id"], key="overdraft")
    assert [c.alias for c in companions] == ["@alice"]
    companion = companions[0]
    assert companion.direction == "debit"
    assert companion.settings == {
        "balanceScope": "internal",
        "allowOverdraft": False,
        "overdraftLimitEnabled": False,
    }
    assert (companion.available, companion.on_hold, companion.version) == (0, 0, 0)
    listed = book.ok(book.api.get(book.path("/accounts/alias/@alice/balances")), 200)
    assert sorted(b["key"] for b in listed["items"]) == ["default", "overdraft", "savings"]
    default = book.balance_row("@alice")
    assert default.settings == {
        "allowOverdraft": True,
        "overdraftLimitEnabled": True,
        "overdraftLimit": "300",
    }


def test_allow_overdraft_is_for_credit_balances_of_non_external_accounts(
    book: Overdraft,
) -> None:
    answer = assert_error(book.settings("@external/USD", allowOverdraft=True), 400, "0172")
    assert "credit-direction" in answer["message"]
    account_id = book.balance_row("@alice").account_id
    assert_error(
        book.api.post(
            book.path(f"/accounts/{account_id}/balances"),
            {"key": "reserve", "direction": "debit", "settings": {"allowOverdraft": True}},
        ),
        400,
        "0172",
    )
    assert not Balance.objects.filter(ledger_id=book.ledger["id"], key="overdraft").exists()


def test_the_companion_cannot_be_changed_deleted_addressed_or_recreated(book: Overdraft) -> None:
    book.enable("@alice")
    book.fund("@bob", "10")
    companion = book.balance_row("@alice", "overdraft")
    path = book.path(f"/balances/{companion.id}")
    assert_error(book.api.patch(path, {"allowSending": False}), 422, "0175")
    assert_error(book.api.delete(path), 422, "0169")
    before = book.snapshot()
    as_destination = send(
        "USD", "5", [amt("@bob", "5")], [amt("@alice", "5", balanceKey="overdraft")]
    )
    assert_error(book.post(as_destination), 422, "0168")
    as_source = send("USD", "5", [amt("@alice", "5", balanceKey="overdraft")], [amt("@bob", "5")])
    assert_error(book.post(as_source), 422, "0168")
    account_id = companion.account_id
    assert_error(
        book.api.post(book.path(f"/accounts/{account_id}/balances"), {"key": "overdraft"}),
        422,
        "0170",
    )
    assert book.snapshot() == before


def test_the_limit_cannot_go_below_the_overdraft_in_use(book: Overdraft) -> None:
    book.enable("@alice", limit="100")
    book.ok(book.transfer("@alice", "@bob", "80"))
    answer = assert_error(
        book.settings(
            "@alice", allowOverdraft=True, overdraftLimitEnabled=True, overdraftLimit="79.99"
        ),
        422,
        "0173",
    )
    assert answer["entityType"] == "Balance"
    assert (book.balance_row("@alice").settings or {}).get("overdraftLimit") == "100"
    # Equal to the usage is allowed.
    book.enable("@alice", limit="80")
    assert (book.balance_row("@alice").settings or {}).get("overdraftLimit") == "80"


# --- TV25: the split, limit and refund formulas, through real postings -----------------------


@pytest.mark.parametrize(
    ("available", "debit", "on_default", "on_overdraft"),
    [("100", "250", "100", "150"), ("10.005", "10.010", "10.005", "0.005")],
)
def test_tv25_overdraft_split(
    book: Overdraft, available: str, debit: str, on_default: str, on_overdraft: str
) -> None:
    book.enable("@alice")
    book.fund("@alice", available)
    body = book.ok(book.transfer("@alice", "@bob", debit))
    assert ops(body) == [
        ("DEBIT", "debit", "@alice", "default", D(on_default)),
        ("OVERDRAFT", "debit", "@alice", "overdraft", D(on_overdraft)),
        ("CREDIT", "credit", "@bob", "default", D(debit)),
    ]
    assert book.state("@alice") == (0, D(on_overdraft), D(on_overdraft))


@pytest.mark.parametrize(
    ("used", "deficit", "limit", "code"),
    [("400", "600", "1000", None), ("800", "500", "1000", "0167")],
)
def test_tv25_overdraft_limit(
    book: Overdraft, used: str, deficit: str, limit: str, code: str | None
) -> None:
    book.enable("@alice", limit=limit)
    book.ok(book.transfer("@alice", "@bob", used))
    before = book.snapshot()
    response = book.transfer("@alice", "@bob", deficit)
    if code is None:
        book.ok(response)
        assert book.state("@alice") == (0, D(limit), D(limit))  # equality is allowed
    else:
        answer = assert_error(response, 422, code)
        assert "limit" in answer["message"]
        assert book.snapshot() == before


@pytest.mark.parametrize(
    ("credit", "used", "to_overdraft", "to_default"),
    [("80", "50", "50", "30"), ("60", "100", "60", "0")],
)
def test_tv25_refund_split(
    book: Overdraft, credit: str, used: str, to_overdraft: str, to_default: str
) -> None:
    book.enable("@alice")
    book.ok(book.transfer("@alice", "@bob", used))
    book.fund("@carol", credit)
    body = book.ok(book.transfer("@carol", "@alice", credit))
    assert ops(body) == [
        ("DEBIT", "debit", "@carol", "default", D(credit)),
        ("CREDIT", "credit", "@alice", "default", D(to_default)),
        ("OVERDRAFT", "credit", "@alice", "overdraft", D(to_overdraft)),
    ]
    left = D(used) - D(to_overdraft)
    assert book.state("@alice") == (D(to_default), left, left)


# --- TV26-TV28 --------------------------------------------------------------------------------


def test_tv26_tv27_draw_then_clear(book: Overdraft) -> None:
    book.enable("@alice", limit="200")
    book.fund("@alice", "50")
    drawn = book.ok(book.transfer("@alice", "@bob", "100"))
    assert ops(drawn) == [
        ("DEBIT", "debit", "@alice", "default", D("50")),
        ("OVERDRAFT", "debit", "@alice", "overdraft", D("50")),
        ("CREDIT", "credit", "@bob", "default", D("100")),
    ]
    debit, overdraft, _ = drawn["operations"]
    assert debit["balance"] == {
        "available": "50",
        "onHold": "0",
        "version": 1,
        "overdraftUsed": "0",
    }
    assert debit["balanceAfter"] == {
        "available": "0",
        "onHold": "0",
        "version": 2,
        "overdraftUsed": "50",
    }
    assert overdraft["balance"]["available"] == "0"
    assert overdraft["balanceAfter"]["available"] == "50"
    assert drawn["source"] == ["@alice"]
    assert drawn["destination"] == ["@bob"]
    assert book.state("@alice") == (0, 50, 50)
    assert book.balance("@bob") == (100, 0, 1)
    # The stored operations are the ones answered, and the read answer shows them.
    read = book.ok(book.api.get(book.path(f"/transactions/{drawn['id']}")), 200)
    assert ops(read) == ops(drawn)

    book.fund("@carol", "80")
    cleared = book.ok(book.transfer("@carol", "@alice", "80"))
    assert ops(cleared) == [
        ("DEBIT", "debit", "@carol", "default", D("80")),
        ("CREDIT", "credit", "@alice", "default", D("30")),
        ("OVERDRAFT", "credit", "@alice", "overdraft", D("50")),
    ]
    assert book.state("@alice") == (30, 0, 0)
    history = book.ok(book.api.get(book.path("/accounts/alias/@alice/balances")), 200)
    default = next(b for b in history["items"] if b["key"] == "default")
    assert (default["available"], default["overdraftUsed"]) == ("30", "0")


def test_tv28_limit_reached_then_overdraft_disabled(book: Overdraft) -> None:
    book.enable("@alice", limit="100")
    book.ok(book.transfer("@alice", "@bob", "80"))
    assert book.state("@alice") == (0, 80, 80)
    before = book.snapshot()
    assert_error(book.transfer("@alice", "@bob", "30"), 422, "0167")
    assert book.snapshot() == before
    book.ok(book.settings("@alice", allowOverdraft=False, overdraftLimitEnabled=False), 200)
    assert_error(book.transfer("@alice", "@bob", "30"), 422, "0018")
    assert book.snapshot() == before
    # Repayment does not need overdraft to be enabled.
    book.fund("@carol", "100")
    book.ok(book.transfer("@carol", "@alice", "100"))
    assert book.state("@alice") == (20, 0, 0)


def test_an_overdraft_posting_refused_by_another_leg_leaves_nothing(book: Overdraft) -> None:
    book.enable("@alice")
    book.ok(
        book.api.patch(
            book.path(f"/balances/{book.balance_row('@bob').id}"), {"allowReceiving": False}
        ),
        200,
    )
    before = book.snapshot()
    assert_error(book.transfer("@alice", "@bob", "40"), 422, "0024")
    body = send("USD", "40", [amt("@alice", "40")], [amt("@carol", "20"), amt("@ghost", "20")])
    assert_error(book.post(body), 422, "0019")
    assert book.snapshot() == before
    assert book.state("@alice") == (0, 0, 0)


def test_two_balances_of_one_account_share_the_companion(book: Overdraft) -> None:
    account_id = book.balance_row("@alice").account_id
    book.ok(
        book.api.post(
            book.path(f"/accounts/{account_id}/balances"),
            {"key": "savings", "settings": {"allowOverdraft": True}},
        ),
        201,
    )
    book.enable("@alice", limit="30")
    book.fund("@alice", "10")
    body = send(
        "USD",
        "70",
        [amt("@alice", "40"), amt("@alice", "30", balanceKey="savings")],
        [amt("@bob", "70")],
    )
    posted = book.ok(book.post(body))
    assert ops(posted)[:4] == [
        ("DEBIT", "debit", "@alice", "default", D("10")),
        ("OVERDRAFT", "debit", "@alice", "overdraft", D("30")),
        ("DEBIT", "debit", "@alice", "savings", D("0")),
        ("OVERDRAFT", "debit", "@alice", "overdraft", D("30")),
    ]
    assert book.balance_row("@alice", "savings").overdraft_used == 30
    assert book.state("@alice") == (0, 30, 60)


def test_external_accounts_never_use_overdraft(book: Overdraft) -> None:
    body = book.fund("@alice", "75")
    assert [o["type"] for o in body["operations"]] == ["DEBIT", "CREDIT"]
    external = book.balance_row("@external/USD")
    assert (external.available, external.overdraft_used) == (75, 0)


def test_an_annotation_neither_draws_nor_repays(book: Overdraft) -> None:
    book.enable("@alice")
    body = book.ok(
        book.post(send("USD", "60", [amt("@alice", "60")], [amt("@bob", "60")]), "annotation")
    )
    assert [o["type"] for o in body["operations"]] == ["DEBIT", "CREDIT"]
    assert book.state("@alice") == (0, 0, 0)


# --- pending, commit, cancel and revert --------------------------------------------------------


def test_a_hold_draws_overdraft_and_commit_keeps_it(book: Overdraft) -> None:
    book.enable("@alice")
    book.fund("@alice", "50")
    held = book.ok(book.transfer("@alice", "@bob", "100", pending=True))
    assert ops(held) == [
        ("ON_HOLD", "debit", "@alice", "default", D("100")),
        ("OVERDRAFT", "debit", "@alice", "overdraft", D("50")),
    ]
    alice = book.balance_row("@alice")
    assert (alice.available, alice.on_hold, alice.overdraft_used) == (0, 100, 50)
    book.ok(book.action(held["id"], "commit"))
    alice.refresh_from_db()
    assert (alice.available, alice.on_hold, alice.overdraft_used) == (0, 0, 50)
    assert book.balance("@bob")[0] == 100
    assert book.state("@alice")[2] == 50


def test_a_cancel_gives_back_only_what_the_hold_drew(book: Overdraft) -> None:
    book.enable("@alice")
    book.fund("@alice", "50")
    book.ok(book.transfer("@alice", "@carol", "20"))  # 30 left
    held = book.ok(book.transfer("@alice", "@bob", "100", pending=True))
    assert book.state("@alice") == (0, 70, 70)
    canceled = book.ok(book.action(held["id"], "cancel"))
    cancel_ops = [o for o in ops(canceled) if o[0] in ("RELEASE", "OVERDRAFT")][-2:]
    assert cancel_ops == [
        ("RELEASE", "credit", "@alice", "default", D("100")),
        ("OVERDRAFT", "credit", "@alice", "overdraft", D("70")),
    ]
    alice = book.balance_row("@alice")
    assert (alice.available, alice.on_hold, alice.overdraft_used) == (30, 0, 0)
    assert book.state("@alice")[2] == 0


def test_a_cancel_after_the_overdraft_was_repaid(book: Overdraft) -> None:
    book.enable("@alice")
    book.fund("@alice", "50")
    held = book.ok(book.transfer("@alice", "@bob", "100", pending=True))
    book.fund("@carol", "80")
    book.ok(book.transfer("@carol", "@alice", "80"))  # repays the 50, 30 to available
    assert book.state("@alice") == (30, 0, 0)
    book.ok(book.action(held["id"], "cancel"))
    alice = book.balance_row("@alice")
    # 50 of her own and 80 from carol: nothing is left to repay, all 100 returns to available.
    assert (alice.available, alice.on_hold, alice.overdraft_used) == (130, 0, 0)


def test_a_revert_repays_the_overdraft_its_transaction_drew(book: Overdraft) -> None:
    book.enable("@alice")
    book.fund("@alice", "50")
    drawn = book.ok(book.transfer("@alice", "@bob", "100"))
    reversal = book.ok(book.action(drawn["id"], "revert"))
    assert ops(reversal) == [
        ("DEBIT", "debit", "@bob", "default", D("100")),
        ("CREDIT", "credit", "@alice", "default", D("50")),
        ("OVERDRAFT", "credit", "@alice", "overdraft", D("50")),
    ]
    assert book.state("@alice") == (50, 0, 0)
    assert book.balance("@bob")[0] == 0


def test_a_revert_of_a_repayment_draws_again(book: Overdraft) -> None:
    book.enable("@alice", limit="60")
    book.ok(book.transfer("@alice", "@bob", "50"))
    book.fund("@carol", "80")
    repaid = book.ok(book.transfer("@carol", "@alice", "80"))
    assert book.state("@alice") == (30, 0, 0)
    reversal = book.ok(book.action(repaid["id"], "revert"))
    assert ops(reversal) == [
        ("DEBIT", "debit", "@alice", "default", D("30")),
        ("OVERDRAFT", "debit", "@alice", "overdraft", D("50")),
        ("CREDIT", "credit", "@carol", "default", D("80")),
    ]
    assert book.state("@alice") == (0, 50, 50)


def test_a_revert_that_would_pass_the_limit_is_refused(book: Overdraft) -> None:
    book.enable("@alice", limit="60")
    book.ok(book.transfer("@alice", "@bob", "50"))
    book.fund("@carol", "80")
    repaid = book.ok(book.transfer("@carol", "@alice", "80"))
    book.ok(book.transfer("@alice", "@bob", "30"))  # spends the 30 left
    book.ok(book.transfer("@alice", "@bob", "20"))  # and draws 20
    before = book.snapshot()
    assert_error(book.action(repaid["id"], "revert"), 422, "0167")
    assert book.snapshot() == before


def test_a_committed_hold_with_overdraft_reverts_whole(book: Overdraft) -> None:
    book.enable("@alice")
    book.fund("@alice", "50")
    held = book.ok(book.transfer("@alice", "@bob", "100", pending=True))
    book.ok(book.action(held["id"], "commit"))
    reversal = book.ok(book.action(held["id"], "revert"))
    assert [(o[0], o[2], o[4]) for o in ops(reversal)] == [
        ("DEBIT", "@bob", 100),
        ("CREDIT", "@alice", 50),
        ("OVERDRAFT", "@alice", 50),
    ]
    alice = book.balance_row("@alice")
    assert (alice.available, alice.on_hold, alice.overdraft_used) == (50, 0, 0)


def test_bulk_items_draw_and_are_refused_alone(book: Overdraft) -> None:
    book.enable("@alice", limit="100")
    items = [
        send("USD", "70", [amt("@alice", "70")], [amt("@bob", "70")]),
        send("USD", "40", [amt("@alice", "40")], [amt("@bob", "40")]),  # 110 > 100
        send("USD", "30", [amt("@alice", "30")], [amt("@carol", "30")]),
    ]
    response = book.api.post(
        book.path("/transactions/bulk"), {"atomic": False, "transactions": items}
    )
    answer = book.ok(response, 207)
    assert [item["status"] for item in answer["items"]] == [201, 422, 201]
    assert answer["items"][1]["error"]["code"] == "0167"
    assert book.state("@alice") == (0, 100, 100)


# --- routes: the double-entry split and 0492 ---------------------------------------------------


def rubric(code: str) -> dict[str, str]:
    return {"code": code, "description": f"rubric {code}"}


def routed(book: Overdraft, overdraft: dict[str, Any] | None) -> tuple[str, str, str]:
    """Routes for @alice -> @bob, the source route with these ``overdraft`` entries; turns
    route validation on. Returns (transaction route, source route, destination route)."""

    def op(kind: str, entries: dict[str, Any]) -> str:
        body = {"title": kind, "operationType": kind, "accountingEntries": entries}
        return str(book.ok(book.api.post(book.path("/operation-routes"), body), 201)["id"])

    src_entries: dict[str, Any] = {
        "direct": {"debit": rubric("1.1")},
        "hold": {"debit": rubric("1.2"), "credit": rubric("1.3")},
        "cancel": {"debit": rubric("1.5"), "credit": rubric("1.6")},
        "commit": {"debit": rubric("1.4")},
    }
    if overdraft is not None:
        src_entries["overdraft"] = overdraft
    src = op("source", src_entries)
    dst = op(
        "destination", {"direct": {"credit": rubric("2.1")}, "commit": {"credit": rubric("2.2")}}
    )
    tr = book.ok(
        book.api.post(
            book.path("/transaction-routes"), {"title": "t", "operationRoutes": [src, dst]}
        ),
        201,
    )["id"]
    book.ok(
        book.api.patch(
            ledger_path(book.ledger, "/settings"), {"accounting": {"validateRoutes": True}}
        ),
        200,
    )
    return str(tr), src, dst


def routed_transfer(book: Overdraft, route: tuple[str, str, str], value: str, **top: Any) -> Any:
    tr, src, dst = route
    body = send(
        "USD",
        value,
        [amt("@alice", value, routeId=src)],
        [amt("@bob", value, routeId=dst)],
        routeId=tr,
        **top,
    )
    return book.post(body)


def test_routes_give_the_companion_its_overdraft_rubric(book: Overdraft) -> None:
    book.enable("@alice")
    book.fund("@alice", "10")
    route = routed(book, {"debit": rubric("9.1"), "credit": rubric("9.2")})
    body = book.ok(routed_transfer(book, route, "25"))
    debit, overdraft, _credit = body["operations"]
    assert (debit["type"], debit["amount"]["value"], debit["routeCode"]) == ("DEBIT", "10", "1.1")
    assert (overdraft["type"], overdraft["amount"]["value"]) == ("OVERDRAFT", "15")
    assert (overdraft["routeId"], overdraft["routeCode"], overdraft["routeDescription"]) == (
        route[1],
        "9.1",
        "rubric 9.1",
    )
    stored = Operation.objects.get(pk=overdraft["id"])
    assert (stored.route_code, stored.balance_key) == ("9.1", "overdraft")


def test_routes_without_an_overdraft_entry_refuse_the_draw_0492(book: Overdraft) -> None:
    book.enable("@alice")
    book.fund("@alice", "10")
    route = routed(book, None)
    book.ok(routed_transfer(book, route, "10"))  # within the funds: no companion, no rubric
    before = book.snapshot()
    answer = assert_error(routed_transfer(book, route, "5"), 422, "0492")
    assert "overdraft" in answer["message"]
    assert book.snapshot() == before


def test_routes_split_hold_and_cancel_with_overdraft(book: Overdraft) -> None:
    book.enable("@alice")
    book.fund("@alice", "40")
    route = routed(book, {"debit": rubric("9.1"), "credit": rubric("9.2")})
    held = book.ok(routed_transfer(book, route, "100", pending=True))
    assert ops(held) == [
        ("DEBIT", "debit", "@alice", "default", D("40")),
        ("OVERDRAFT", "debit", "@alice", "overdraft", D("60")),
        ("ON_HOLD", "debit", "@alice", "default", D("100")),
    ]
    alice = book.balance_row("@alice")
    assert (alice.available, alice.on_hold, alice.overdraft_used) == (0, 100, 60)
    canceled = book.ok(book.action(held["id"], "cancel"))
    assert ops(canceled)[3:] == [
        ("RELEASE", "credit", "@alice", "default", D("100")),
        ("CREDIT", "credit", "@alice", "default", D("40")),
        ("OVERDRAFT", "credit", "@alice", "overdraft", D("60")),
    ]
    alice.refresh_from_db()
    assert (alice.available, alice.on_hold, alice.overdraft_used) == (40, 0, 0)
    assert Transaction.objects.get(pk=held["id"]).status == "CANCELED"
