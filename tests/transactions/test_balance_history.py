"""Balance history (MIDAZ_API.md §3): the state of a balance, or of all balances of an
account, at a past instant, rebuilt from the operations' "after" snapshots."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from uuid_utils.compat import uuid7

from onboarding.models import Ledger
from tests.helpers import Api, assert_error, ledger_path
from transactions.models import Balance
from transactions.posting import transaction_create
from transactions.spec import Entry, TransactionSpec

pytestmark = pytest.mark.django_db

HISTORY_KEYS = {
    "id",
    "organizationId",
    "ledgerId",
    "accountId",
    "alias",
    "key",
    "assetCode",
    "available",
    "onHold",
    "version",
    "accountType",
    "direction",
    "overdraftUsed",
    "createdAt",
    "updatedAt",
}
NOW = datetime.now(UTC).replace(microsecond=0)
T1 = NOW - timedelta(days=3)
T2 = NOW - timedelta(days=1)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def move(
    ledger: dict[str, Any],
    value: str,
    source: str,
    destination: str,
    *,
    when: datetime | None = None,
    destination_key: str = "default",
    kind: str = "json",
) -> dict[str, Any]:
    amount = Decimal(value)
    return transaction_create(
        ledger=Ledger.objects.get(pk=ledger["id"]),
        spec=TransactionSpec(
            asset="USD",
            value=amount,
            sources=(Entry(source, amount=amount),),
            destinations=(Entry(destination, balance_key=destination_key, amount=amount),),
            transaction_date=when,
        ),
        kind=kind,
    ).body


@pytest.fixture
def alice(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> dict[str, Any]:
    return api.create_account(ledger, alias="@alice")


@pytest.fixture
def bob(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> dict[str, Any]:
    return api.create_account(ledger, alias="@bob")


def balance_of(account: dict[str, Any], key: str = "default") -> Balance:
    return Balance.objects.get(account_id=account["id"], key=key)


def backdate(balance: Balance, moment: datetime) -> None:
    # Accounts are opened "now"; history before that needs a balance that existed earlier.
    Balance.objects.filter(pk=balance.pk).update(created_at=moment)


def history(api: Api, ledger: dict[str, Any], balance: Balance, **params: Any) -> Any:
    return api.get(ledger_path(ledger, f"/balances/{balance.id}/history"), **params)


def account_history(api: Api, ledger: dict[str, Any], account_id: str, **params: Any) -> Any:
    return api.get(ledger_path(ledger, f"/accounts/{account_id}/balances/history"), **params)


# --- GET L/balances/{id}/history --------------------------------------------------------------


def test_history_follows_the_operations(
    api: Api, ledger: dict[str, Any], alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    move(ledger, "100", "@external/USD", "@alice", when=T1)
    move(ledger, "30", "@alice", "@bob", when=T2)
    move(ledger, "5", "@external/USD", "@alice", when=NOW - timedelta(hours=1))
    balance = balance_of(alice)

    at_t1 = api.ok(history(api, ledger, balance, date=stamp(T1)), 200)
    assert set(at_t1) == HISTORY_KEYS
    assert at_t1["id"] == str(balance.id)
    assert at_t1["alias"] == "@alice"
    assert at_t1["available"] == "100"
    assert at_t1["onHold"] == "0"
    assert at_t1["version"] == 1
    assert at_t1["overdraftUsed"] == "0"
    assert at_t1["direction"] == "credit"
    assert at_t1["updatedAt"] == T1.strftime("%Y-%m-%dT%H:%M:%SZ")

    between = api.ok(history(api, ledger, balance, date=stamp(T2 - timedelta(hours=1))), 200)
    assert between["available"] == "100"
    assert between["version"] == 1
    at_t2 = api.ok(history(api, ledger, balance, date=stamp(T2)), 200)
    assert at_t2["available"] == "70"
    assert at_t2["version"] == 2
    today = api.ok(history(api, ledger, balance, date=stamp(datetime.now(UTC))), 200)
    balance.refresh_from_db()
    assert today["available"] == "75"
    assert today["version"] == 3
    assert Decimal(today["available"]) == balance.available
    assert today["version"] == balance.version


def test_history_of_the_external_balance(
    api: Api, ledger: dict[str, Any], alice: dict[str, Any]
) -> None:
    move(ledger, "100", "@external/USD", "@alice", when=T1)
    external = Balance.objects.get(alias="@external/USD", ledger_id=ledger["id"])
    got = api.ok(history(api, ledger, external, date=stamp(T2)), 200)
    assert got["available"] == "100"
    assert got["direction"] == "debit"
    assert got["accountType"] == "external"


def test_history_ties_on_one_instant_take_the_latest_version(
    api: Api, ledger: dict[str, Any], alice: dict[str, Any]
) -> None:
    move(ledger, "10", "@external/USD", "@alice", when=T1)
    move(ledger, "20", "@external/USD", "@alice", when=T1)
    got = api.ok(history(api, ledger, balance_of(alice), date=stamp(T1)), 200)
    assert got["available"] == "30"
    assert got["version"] == 2


def test_history_back_dated_after_a_later_movement(
    api: Api, ledger: dict[str, Any], alice: dict[str, Any]
) -> None:
    # A posting dated T1 made after one dated T2: at T1 only the T1 posting was in effect, at
    # T2 both were (the snapshots, in the order of application, say 30 at T1 and 10 at T2).
    move(ledger, "10", "@external/USD", "@alice", when=T2)
    move(ledger, "20", "@external/USD", "@alice", when=T1)
    balance = balance_of(alice)
    at_t1 = api.ok(history(api, ledger, balance, date=stamp(T1)), 200)
    assert at_t1["available"] == "20"
    assert at_t1["version"] == 1
    at_t2 = api.ok(history(api, ledger, balance, date=stamp(T2)), 200)
    assert at_t2["available"] == "30"
    assert at_t2["version"] == 2


def test_history_with_a_back_dated_posting_between_two_others(
    api: Api, ledger: dict[str, Any], alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    # Applied in this order: +100 dated T2, then -30 to @bob dated T1 (back-dated, before the
    # first), then +5 now. Its snapshots say 70 after it; in effect at T1 it alone was.
    move(ledger, "100", "@external/USD", "@alice", when=T2)
    move(ledger, "30", "@alice", "@bob", when=T1)
    move(ledger, "5", "@external/USD", "@alice")
    balance = balance_of(alice)
    backdate(balance, T1 - timedelta(days=1))
    before = api.ok(history(api, ledger, balance, date=stamp(T1 - timedelta(hours=1))), 200)
    assert (before["available"], before["version"]) == ("0", 0)
    at_t1 = api.ok(history(api, ledger, balance, date=stamp(T1)), 200)
    assert (Decimal(at_t1["available"]), at_t1["version"]) == (Decimal(-30), 1)
    assert at_t1["updatedAt"] == T1.strftime("%Y-%m-%dT%H:%M:%SZ")
    at_t2 = api.ok(history(api, ledger, balance, date=stamp(T2)), 200)
    assert (Decimal(at_t2["available"]), at_t2["version"]) == (Decimal(70), 2)
    assert at_t2["updatedAt"] == T2.strftime("%Y-%m-%dT%H:%M:%SZ")
    time.sleep(1.1)  # the date has whole seconds: ask after the second of the last posting
    now = api.ok(history(api, ledger, balance, date=stamp(datetime.now(UTC))), 200)
    balance.refresh_from_db()
    assert (Decimal(now["available"]), now["version"]) == (balance.available, balance.version)
    assert balance.available == Decimal(75)
    # Bob's balance and the account route answer the same replay.
    bob_balance = balance_of(bob)
    backdate(bob_balance, T1 - timedelta(days=1))
    listed: Any = api.ok(account_history(api, ledger, bob["id"], date=stamp(T1)), 200)
    assert [(Decimal(b["available"]), b["version"]) for b in listed] == [(Decimal(30), 1)]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.tuples(st.integers(1, 10**6), st.integers(0, 72 * 60)), min_size=1, max_size=6),
    st.integers(0, 72 * 60),
)
def test_history_is_the_sum_of_what_was_in_effect(
    api: Api,
    ledger: dict[str, Any],
    usd: dict[str, Any],
    postings: list[tuple[int, int]],
    probe: int,
) -> None:
    """Inflows in any order of dates: the balance at any instant is the sum of those dated at
    or before it, whatever order they were applied in."""
    account = api.create_account(ledger, alias=f"@p{uuid7().hex[:12]}")
    balance = balance_of(account)
    start = NOW - timedelta(days=4)
    backdate(balance, start)
    for cents, minutes in postings:
        value = str(Decimal(cents) / 100)
        move(
            ledger,
            value,
            "@external/USD",
            account["alias"],
            when=start + timedelta(minutes=minutes),
        )
    moment = start + timedelta(minutes=probe)
    got = api.ok(history(api, ledger, balance, date=stamp(moment)), 200)
    in_effect = [cents for cents, minutes in postings if minutes <= probe]
    assert Decimal(got["available"]) == Decimal(sum(in_effect)) / 100
    assert got["version"] == len(in_effect)


def test_history_of_a_balance_without_operations_yet(
    api: Api, ledger: dict[str, Any], alice: dict[str, Any]
) -> None:
    balance = balance_of(alice)
    backdate(balance, T1 - timedelta(days=1))
    move(ledger, "100", "@external/USD", "@alice", when=T2)
    got = api.ok(history(api, ledger, balance, date=stamp(T1)), 200)
    assert got["available"] == "0"
    assert got["onHold"] == "0"
    assert got["version"] == 0
    assert got["updatedAt"] == got["createdAt"]


def test_history_ignores_annotations(
    api: Api, ledger: dict[str, Any], alice: dict[str, Any]
) -> None:
    move(ledger, "100", "@external/USD", "@alice", when=T1)
    move(ledger, "999", "@external/USD", "@alice", when=T2, kind="annotation")
    got = api.ok(history(api, ledger, balance_of(alice), date=stamp(NOW)), 200)
    assert got["available"] == "100"
    assert got["version"] == 1


def test_history_before_the_balance_existed(
    api: Api, ledger: dict[str, Any], alice: dict[str, Any]
) -> None:
    balance = balance_of(alice)
    answer = assert_error(history(api, ledger, balance, date=stamp(T1)), 404, "0141")
    assert answer["entityType"] == "Balance"
    move(ledger, "100", "@external/USD", "@alice", when=T2)
    assert_error(history(api, ledger, balance, date=stamp(T2 - timedelta(seconds=1))), 404, "0141")


def test_history_date_errors(api: Api, ledger: dict[str, Any], alice: dict[str, Any]) -> None:
    balance = balance_of(alice)
    assert_error(history(api, ledger, balance), 400, "0142")
    assert_error(history(api, ledger, balance, date=""), 400, "0142")
    assert_error(history(api, ledger, balance, date="yesterday"), 400, "0131")
    assert_error(history(api, ledger, balance, date="2024-13-01 00:00:00"), 400, "0131")
    assert_error(history(api, ledger, balance, date="2024-01-01"), 400, "0131")
    future = stamp(datetime.now(UTC) + timedelta(days=1))
    assert_error(history(api, ledger, balance, date=future), 400, "0140")


def test_history_of_a_missing_balance(
    api: Api, ledger: dict[str, Any], organization: dict[str, Any], usd: dict[str, Any]
) -> None:
    path = ledger_path(ledger, f"/balances/{uuid7()}/history")
    answer = assert_error(api.get(path, date=stamp(T1)), 404, "0007")
    assert answer["entityType"] == "Balance"
    assert_error(api.get(ledger_path(ledger, "/balances/x/history"), date=stamp(T1)), 400, "0065")
    org = organization["id"]
    assert_error(
        api.get(f"/organizations/{org}/ledgers/{uuid7()}/balances/{uuid7()}/history"),
        404,
        "0037",
    )


# --- GET L/accounts/{id}/balances/history -----------------------------------------------------


def test_account_history_lists_every_balance_at_the_instant(
    api: Api, ledger: dict[str, Any], alice: dict[str, Any]
) -> None:
    default = balance_of(alice)
    backdate(default, T1 - timedelta(days=1))
    extra = api.ok(
        api.post(ledger_path(ledger, f"/accounts/{alice['id']}/balances"), {"key": "savings"}),
        201,
    )
    savings = Balance.objects.get(pk=extra["id"])
    backdate(savings, T1 + timedelta(hours=1))
    move(ledger, "100", "@external/USD", "@alice", when=T1)
    move(ledger, "40", "@external/USD", "@alice", when=T2, destination_key="savings")

    at_t1 = api.ok(account_history(api, ledger, alice["id"], date=stamp(T1)), 200)
    assert isinstance(at_t1, list)
    assert [(b["key"], b["available"], b["version"]) for b in at_t1] == [("default", "100", 1)]
    assert set(at_t1[0]) == HISTORY_KEYS

    before_t2 = stamp(T2 - timedelta(minutes=1))
    got = api.ok(account_history(api, ledger, alice["id"], date=before_t2), 200)
    assert [(b["key"], b["available"], b["version"]) for b in got] == [
        ("default", "100", 1),
        ("savings", "0", 0),
    ]
    now = api.ok(account_history(api, ledger, alice["id"], date=stamp(NOW)), 200)
    assert [(b["key"], b["available"]) for b in now] == [("default", "100"), ("savings", "40")]


def test_account_history_errors(api: Api, ledger: dict[str, Any], alice: dict[str, Any]) -> None:
    assert_error(account_history(api, ledger, alice["id"], date=stamp(T1)), 404, "0141")
    assert_error(account_history(api, ledger, alice["id"]), 400, "0142")
    assert_error(account_history(api, ledger, alice["id"], date="01/02/2024"), 400, "0131")
    future = stamp(datetime.now(UTC) + timedelta(hours=2))
    assert_error(account_history(api, ledger, alice["id"], date=future), 400, "0140")
    assert_error(account_history(api, ledger, str(uuid7()), date=stamp(T1)), 404, "0052")
    assert_error(account_history(api, ledger, "nope", date=stamp(T1)), 400, "0065")
