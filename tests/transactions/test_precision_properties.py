"""Exact money beyond Python's default 28 digits (issue 16, item 5).

Amounts here have 38 to 64 digits (64 is ``MAX_AMOUNT_DIGITS``, the input limit; the columns
are unbounded NUMERIC) with 18 to 30 decimal places. Holds, commits, cancels and reverts, with
and without overdraft, must bring every balance back exactly where it was, and
``verify_ledger`` must hold. Before the fix, Python's default decimal context (28 significant
digits, rounding silently) was used on the revert and cancel paths: a 30-digit transfer could
never be reverted (0073) and a cancel left a trace of overdraft behind.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from onboarding.models import Ledger
from tests.helpers import Api
from tests.transactions.book import Book, amt, send
from tests.transactions.test_overdraft_properties import fresh_ledger
from tests.transactions.test_posting_properties import one_to_one
from transactions import posting
from transactions.dsl import parse_gold
from transactions.models import Balance
from transactions.resolve import EXACT
from transactions.spec import Entry, TransactionSpec
from transactions.verify import ledger_verify

pytestmark = pytest.mark.django_db

EXTERNAL = "@external/USD"
# Of fresh_ledger's accounts: @a1 may overdraw without a limit, @a2 may not overdraw at all.
OVERDRAWS, NEVER_OVERDRAWS, OTHER = "@a1", "@a2", "@a0"


@st.composite
def wide(draw: Any, min_digits: int = 38, max_digits: int = 64) -> Decimal:
    """An amount of exactly ``min_digits``..``max_digits`` digits, 18..30 of them decimal."""
    places = draw(st.integers(18, 30))
    digits = draw(st.integers(max(min_digits, places + 1), max_digits))
    unscaled = draw(st.integers(10 ** (digits - 1), 10**digits - 1))
    return Decimal(f"{unscaled}E-{places}")


def balances(ledger: Ledger) -> dict[tuple[str, str], tuple[Decimal, Decimal, Decimal]]:
    return {
        (b.alias, b.key): (b.available, b.on_hold, b.overdraft_used)
        for b in Balance.objects.filter(ledger=ledger)
    }


def fund(ledger: Ledger, alias: str, value: Decimal) -> None:
    posting.transaction_create(ledger=ledger, spec=one_to_one(EXTERNAL, alias, value))


def transaction_id(result: Any) -> uuid.UUID:
    body = result.body if isinstance(result, posting.PostingResult) else result
    return uuid.UUID(str(body["id"]))


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    funded=wide(),
    moved=wide(),
    overdraw=st.booleans(),
    flow=st.sampled_from(["revert", "cancel", "commit-revert"]),
)
# The cases of the issue: a 30-digit transfer reverted; a high-precision hold that drew
# overdraft canceled.
@example(
    funded=Decimal("1" * 20 + "." + "1" * 18),
    moved=Decimal("9" * 20 + "." + "9" * 18),
    overdraw=True,
    flow="cancel",
)
@example(
    funded=Decimal("5" * 12 + "." + "5" * 18),
    moved=Decimal("1" * 12 + "." + "1" * 18),
    overdraw=False,
    flow="revert",
)
@example(
    funded=Decimal("1" * 46 + "." + "1" * 18),
    moved=Decimal("9" * 34 + "." + "9" * 30),
    overdraw=True,
    flow="commit-revert",
)
def test_wide_amounts_come_back_exactly(
    funded: Decimal, moved: Decimal, overdraw: bool, flow: str
) -> None:
    ledger = fresh_ledger()
    src = OVERDRAWS if overdraw else NEVER_OVERDRAWS
    # Without overdraft the source holds enough; with it, the move may go beyond the funds.
    fund(ledger, src, funded if overdraw else EXACT.add(funded, moved))
    fund(ledger, OTHER, funded)
    start = balances(ledger)
    if flow == "revert":
        done = posting.transaction_create(ledger=ledger, spec=one_to_one(src, OTHER, moved))
        posting.transaction_revert(ledger=ledger, transaction_id=transaction_id(done))
    else:
        held = posting.transaction_create(
            ledger=ledger, spec=one_to_one(src, OTHER, moved, pending=True)
        )
        if overdraw and moved > funded:
            drawn = balances(ledger)[(src, "default")][2]
            assert drawn == EXACT.subtract(moved, funded)
        if flow == "cancel":
            posting.transaction_cancel(ledger=ledger, transaction_id=transaction_id(held))
        else:
            posting.transaction_commit(ledger=ledger, transaction_id=transaction_id(held))
            posting.transaction_revert(ledger=ledger, transaction_id=transaction_id(held))
    assert balances(ledger) == start
    report = ledger_verify(ledger_id=ledger.id)
    assert report.ok, report.problems


def with_savings(ledger: Ledger, alias: str) -> None:
    """Gives ``alias`` a second balance, ``savings``, that may overdraw without a limit."""
    from onboarding.models import Account
    from transactions.balances import balance_create

    account = Account.objects.get(ledger=ledger, alias=alias)
    balance_create(account=account, data={"key": "savings", "settings": {"allowOverdraft": True}})


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    funded=st.tuples(wide(), wide()),
    moved=st.tuples(wide(), wide()),
    flow=st.sampled_from(["revert", "cancel", "commit-revert"]),
)
# Item 3 of the issue: the funded balance and its overdrawing sibling, reverted.
@example(
    funded=(Decimal("5" * 20 + "." + "5" * 18), Decimal("1E-18")),
    moved=(Decimal("5" * 20 + "." + "5" * 18), Decimal("5" * 20 + "." + "5" * 18)),
    flow="revert",
)
def test_two_balances_of_one_account_come_back_exactly(
    funded: tuple[Decimal, Decimal], moved: tuple[Decimal, Decimal], flow: str
) -> None:
    """One account pays from its default and its savings balance at once, each drawing
    overdraft or not: each balance, and the account's overdraft balance, comes back exactly."""
    ledger = fresh_ledger()
    with_savings(ledger, OVERDRAWS)
    posting.transaction_create(
        ledger=ledger,
        spec=TransactionSpec(
            asset="USD",
            value=EXACT.add(*funded),
            sources=(Entry(EXTERNAL, amount=EXACT.add(*funded)),),
            destinations=(
                Entry(OVERDRAWS, amount=funded[0]),
                Entry(OVERDRAWS, balance_key="savings", amount=funded[1]),
            ),
        ),
    )
    start = balances(ledger)
    total = EXACT.add(*moved)
    spec = TransactionSpec(
        asset="USD",
        value=total,
        pending=flow != "revert",
        sources=(
            Entry(OVERDRAWS, amount=moved[0]),
            Entry(OVERDRAWS, balance_key="savings", amount=moved[1]),
        ),
        destinations=(Entry(OTHER, amount=total),),
    )
    done = transaction_id(posting.transaction_create(ledger=ledger, spec=spec))
    if flow == "cancel":
        posting.transaction_cancel(ledger=ledger, transaction_id=done)
    else:
        if flow == "commit-revert":
            posting.transaction_commit(ledger=ledger, transaction_id=done)
        posting.transaction_revert(ledger=ledger, transaction_id=done)
    assert balances(ledger) == start
    report = ledger_verify(ledger_id=ledger.id)
    assert report.ok, report.problems


# --- the reproductions of the issue, through the API -------------------------------------


@pytest.fixture
def book(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Book:
    b = Book(api, ledger)
    for alias in ("@alice", "@bob"):
        b.account(alias)
    return b


def test_a_30_digit_transfer_can_be_reverted(book: Book) -> None:
    # 30 digits that the default context rounds down (1.111...1E+29): the reversal's legs
    # then fell short of its value.
    value = "1" * 30
    book.fund("@alice", value)
    done = book.ok(book.transfer("@alice", "@bob", value))
    book.ok(book.action(done["id"], "revert"))
    assert book.balance("@alice")[:2] == (Decimal(value), 0)
    assert book.balance("@bob")[:2] == (0, 0)


def test_canceling_a_high_precision_hold_that_drew_overdraft_leaves_nothing(book: Book) -> None:
    alice = Balance.objects.get(ledger_id=book.ledger["id"], alias="@alice", key="default")
    book.ok(
        book.api.patch(book.path(f"/balances/{alice.id}"), {"settings": {"allowOverdraft": True}}),
        200,
    )
    book.fund("@alice", "0.000000000000000001")
    # 29 digits drawn (...671), which the default context rounded down by 1e-18: the cancel
    # repaid that much too little.
    value = "12345678901.123456789012345672"
    held = book.ok(
        book.post(send("USD", value, [amt("@alice", value)], [amt("@bob", value)], pending=True))
    )
    alice.refresh_from_db()
    assert alice.overdraft_used == EXACT.subtract(Decimal(value), Decimal("1E-18"))
    book.ok(book.action(held["id"], "cancel"))
    alice.refresh_from_db()
    assert (alice.available, alice.on_hold, alice.overdraft_used) == (
        Decimal("0.000000000000000001"),
        0,
        0,
    )
    companion = Balance.objects.get(ledger_id=book.ledger["id"], alias="@alice", key="overdraft")
    assert companion.available == 0


def test_a_gold_rate_with_more_than_28_digits_is_kept_exactly() -> None:
    rate = "1234567890123456789012345678901234567"
    program = (
        "(transaction V1 (chart-of-accounts-group-name G) (send USD 10|0 (source (from @a "
        f":amount USD 10|0 (rate fx USD -> BRL {rate}|30))) (distribute (to @b :amount USD "
        "10|0))))"
    )
    spec = parse_gold(program)
    assert spec.sources[0].rate is not None
    assert spec.sources[0].rate.value == Decimal("1234567.890123456789012345678901234567")
