"""Overdraft holes of issue 16: a revert repays exactly the balances that drew (item 3, and
``verify_ledger`` catches a reversal that does not), a balance or account that still owes
overdraft cannot be deleted (item 4), and ``overdraftLimit`` is stored only as canonical
ASCII decimal text that PostgreSQL can cast (item 7)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.helpers import Api, assert_error
from tests.transactions.book import amt, send
from tests.transactions.test_overdraft import Overdraft, ops
from transactions.models import Balance, Transaction
from transactions.spec import Entry, TransactionSpec
from transactions.verify import ledger_verify

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def book(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Overdraft:
    b = Overdraft(api, ledger)
    for alias in ("@alice", "@bob", "@carol"):
        b.account(alias)
    return b


def add_balance(book: Overdraft, alias: str, key: str, **settings: Any) -> dict[str, Any]:
    account_id = book.balance_row(alias).account_id
    body: dict[str, Any] = {"key": key}
    if settings:
        body["settings"] = settings
    return book.ok(book.api.post(book.path(f"/accounts/{account_id}/balances"), body), 201)


def fund_key(book: Overdraft, alias: str, key: str, value: str) -> None:
    body = {
        "send": {
            "asset": "USD",
            "value": value,
            "distribute": {"to": [amt(alias, value, balanceKey=key)]},
        }
    }
    book.ok(book.post(body, "inflow"))


def split_draw(book: Overdraft) -> dict[str, Any]:
    """@alice pays @bob 100: 50 from her funded savings, 50 drawn by her empty default."""
    add_balance(book, "@alice", "savings")
    book.enable("@alice")
    fund_key(book, "@alice", "savings", "50")
    body = send(
        "USD",
        "100",
        [amt("@alice", "50", balanceKey="savings"), amt("@alice", "50")],
        [amt("@bob", "100")],
    )
    posted = book.ok(book.post(body))
    assert ops(posted)[:3] == [
        ("DEBIT", "debit", "@alice", "savings", D("50")),
        ("DEBIT", "debit", "@alice", "default", D("0")),
        ("OVERDRAFT", "debit", "@alice", "overdraft", D("50")),
    ]
    assert book.state("@alice") == (0, 50, 50)
    return posted


# --- item 3: a revert folds each companion into its own leg --------------------------------


def test_a_revert_repays_the_balance_that_drew_not_its_sibling(book: Overdraft) -> None:
    posted = split_draw(book)
    reversal = book.ok(book.action(posted["id"], "revert"))
    assert ops(reversal) == [
        ("DEBIT", "debit", "@bob", "default", D("100")),
        ("CREDIT", "credit", "@alice", "savings", D("50")),
        ("CREDIT", "credit", "@alice", "default", D("0")),
        ("OVERDRAFT", "credit", "@alice", "overdraft", D("50")),
    ]
    savings = book.balance_row("@alice", "savings")
    assert (savings.available, savings.overdraft_used) == (50, 0)
    assert book.state("@alice") == (0, 0, 0)


def test_a_revert_with_two_draws_of_one_account_repays_each(book: Overdraft) -> None:
    add_balance(book, "@alice", "savings", allowOverdraft=True)
    book.enable("@alice")
    fund_key(book, "@alice", "savings", "10")
    body = send(
        "USD",
        "100",
        [amt("@alice", "70"), amt("@alice", "30", balanceKey="savings")],
        [amt("@bob", "60"), amt("@carol", "40")],
    )
    posted = book.ok(book.post(body))
    savings = book.balance_row("@alice", "savings")
    assert (savings.available, savings.overdraft_used) == (0, 20)
    assert book.state("@alice") == (0, 70, 90)
    book.ok(book.action(posted["id"], "revert"))
    savings.refresh_from_db()
    assert (savings.available, savings.overdraft_used) == (10, 0)
    assert book.state("@alice") == (0, 0, 0)


def _misrouted_reversal(book: Overdraft, original_id: str) -> None:
    """What the reversal did before companions named their leg: all 100 back to savings."""
    from onboarding.models import Ledger
    from transactions.posting import transaction_create

    ledger = Ledger.objects.get(pk=book.ledger["id"])
    spec = TransactionSpec(
        asset="USD",
        value=D("100"),
        sources=(Entry(account_alias="@bob", amount=D("100"), amount_asset="USD"),),
        destinations=(
            Entry(
                account_alias="@alice", balance_key="savings", amount=D("100"), amount_asset="USD"
            ),
        ),
    )
    transaction_create(
        ledger=ledger, spec=spec, parent_id=Transaction.objects.get(pk=original_id).id
    )


@pytest.mark.fakes_ledger_state
def test_verify_ledger_reports_a_reversal_that_repays_the_wrong_balance(book: Overdraft) -> None:
    posted = split_draw(book)
    assert ledger_verify(ledger_id=book.ledger["id"]).ok
    _misrouted_reversal(book, posted["id"])
    # Every balance still replays and every sum adds up: only the mirror check sees it.
    assert book.state("@alice") == (0, 50, 50)
    problems = ledger_verify(ledger_id=book.ledger["id"]).problems
    kinds = {p.split(":")[0] for p in problems}
    assert kinds == {"reversal mirror"}, problems


# --- item 4: a balance or account that owes overdraft cannot be deleted --------------------


def test_a_balance_that_owes_overdraft_cannot_be_deleted(book: Overdraft) -> None:
    book.enable("@alice")
    book.ok(book.transfer("@alice", "@bob", "80"))
    alice = book.balance_row("@alice")
    assert (alice.available, alice.on_hold, alice.overdraft_used) == (0, 0, 80)
    before = book.snapshot()
    answer = assert_error(book.api.delete(book.path(f"/balances/{alice.id}")), 409, "0093")
    assert "overdraft" in answer["message"]
    assert book.snapshot() == before
    # Repaid, it can go.
    book.fund("@carol", "80")
    book.ok(book.transfer("@carol", "@alice", "80"))
    assert book.state("@alice") == (0, 0, 0)
    assert book.api.delete(book.path(f"/balances/{alice.id}")).status_code == 204


def test_an_additional_balance_that_owes_overdraft_cannot_be_deleted(book: Overdraft) -> None:
    savings = add_balance(book, "@alice", "savings", allowOverdraft=True)
    body = send("USD", "5", [amt("@alice", "5", balanceKey="savings")], [amt("@bob", "5")])
    book.ok(book.post(body))
    assert_error(book.api.delete(book.path(f"/balances/{savings['id']}")), 409, "0093")
    assert Balance.objects.get(pk=savings["id"]).deleted_at is None


def test_an_account_whose_balance_owes_overdraft_cannot_be_deleted(book: Overdraft) -> None:
    book.enable("@alice")
    book.ok(book.transfer("@alice", "@bob", "80"))
    account_id = book.balance_row("@alice").account_id
    before = book.snapshot()
    assert_error(book.api.delete(book.path(f"/accounts/{account_id}")), 422, "0012")
    assert book.snapshot() == before
    assert book.api.get(book.path(f"/accounts/{account_id}")).status_code == 200


@pytest.mark.fakes_ledger_state
def test_an_account_owing_only_on_a_balance_row_cannot_be_deleted(book: Overdraft) -> None:
    # Belt and braces: a debt recorded on the balance alone (available 0, companion 0, as a
    # hand-repaired row could leave it) still blocks the account delete.
    book.enable("@alice")
    alice = book.balance_row("@alice")
    Balance.objects.filter(pk=alice.pk).update(overdraft_used=D("1"))
    assert_error(book.api.delete(book.path(f"/accounts/{alice.account_id}")), 422, "0012")
    assert_error(book.api.delete(book.path(f"/balances/{alice.id}")), 409, "0093")


# --- item 7: overdraftLimit is canonical ASCII decimal text --------------------------------

# Each of these Python's Decimal reads, and PostgreSQL's numeric cannot (or reads as no limit).
UNCASTABLE_LIMITS = [
    "\u0661\u0660\u0660",  # Arabic-Indic digits 100
    "\uff11\uff10\uff10",  # fullwidth digits 100
    "1_000",
    "1e200000",
    "1E2",
    " 5 ",
    "5\n",
    "NaN",
    "sNaN",
    "-0",
    "+5",
    "Infinity",
    "-Infinity",
    ".5",
    "5.",
    "0",
    "0.000",
    "1" * 65,  # one digit over the amount limit
    "0." + "0" * 64 + "1",  # 65 decimal places
]


def limit_settings(limit: str) -> dict[str, Any]:
    return {"allowOverdraft": True, "overdraftLimitEnabled": True, "overdraftLimit": limit}


@pytest.mark.parametrize("limit", UNCASTABLE_LIMITS)
def test_an_uncastable_limit_is_refused_on_create_and_patch(book: Overdraft, limit: str) -> None:
    account_id = book.balance_row("@alice").account_id
    before = book.snapshot()
    created = book.api.post(
        book.path(f"/accounts/{account_id}/balances"),
        {"key": "savings", "settings": limit_settings(limit)},
    )
    assert_error(created, 400, "0172")
    assert_error(book.settings("@alice", **limit_settings(limit)), 400, "0172")
    assert book.snapshot() == before
    assert book.balance_row("@alice").settings is None
    # The balance still takes a good limit and an overdrawing posting.
    book.enable("@alice", limit="100")
    book.ok(book.transfer("@alice", "@bob", "60"))
    assert book.state("@alice") == (0, 60, 60)


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("100", "100"),
        ("250.50", "250.50"),
        ("007.25", "7.25"),
        ("0.0000001", "0.0000001"),
        ("9" * 64, "9" * 64),
        ("1" * 46 + "." + "1" * 18, "1" * 46 + "." + "1" * 18),
    ],
)
def test_a_limit_is_stored_as_canonical_decimal_text(
    book: Overdraft, written: str, stored: str
) -> None:
    savings = add_balance(book, "@alice", "savings", **limit_settings(written))
    assert savings["settings"]["overdraftLimit"] == stored
    assert Balance.objects.get(pk=savings["id"]).settings["overdraftLimit"] == stored
    got = book.ok(book.settings("@alice", **limit_settings(written)), 200)
    assert got["settings"]["overdraftLimit"] == stored
    # PostgreSQL reads it back as the same number, and an overdrawing posting under it works.
    draw = min(Decimal(stored), Decimal("0.0000001"))
    body = send("USD", str(draw), [amt("@alice", str(draw))], [amt("@bob", str(draw))])
    book.ok(book.post(body))
    assert book.balance_row("@alice").overdraft_used == draw


def test_a_number_limit_is_refused(book: Overdraft) -> None:
    answer = book.settings("@alice", **{**limit_settings("1"), "overdraftLimit": 100})
    assert answer.status_code == 400


@pytest.mark.fakes_ledger_state
@pytest.mark.parametrize("stored", ["1_000", " 5 ", "\u0661\u0660\u0660", "1e200000", "NaN"])
def test_verify_ledger_reports_a_limit_stored_before_it_was_checked(
    book: Overdraft, stored: str
) -> None:
    # A limit written by an older version as the raw text: the check reports it instead of
    # failing on the cast.
    book.enable("@alice", limit="100")
    book.ok(book.transfer("@alice", "@bob", "10"))
    alice = book.balance_row("@alice")
    Balance.objects.filter(pk=alice.pk).update(
        settings={**(alice.settings or {}), "overdraftLimit": stored}
    )
    problems = ledger_verify(ledger_id=book.ledger["id"]).problems
    assert [p.split(":")[0] for p in problems] == ["overdraft limit"], problems
