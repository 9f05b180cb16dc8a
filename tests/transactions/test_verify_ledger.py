"""``verify_ledger``: clean after real postings, loud on each kind of corruption."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from tests.helpers import Api
from tests.transactions.book import Book, amt, send
from transactions.models import Balance, Operation
from transactions.verify import ledger_verify

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Book:
    b = Book(api, ledger)
    for alias in ("@alice", "@bob", "@carol"):
        b.account(alias)
    b.fund("@alice", "1000")
    b.ok(b.transfer("@alice", "@bob", "250.5"))
    held = b.ok(b.transfer("@alice", "@carol", "100", pending=True))
    b.ok(b.action(held["id"], "commit"))
    cancelled = b.ok(b.transfer("@bob", "@carol", "50", pending=True))
    b.ok(b.action(cancelled["id"], "cancel"))
    b.ok(b.transfer("@bob", "@alice", "10", pending=True))
    t = b.ok(b.transfer("@carol", "@alice", "30"))
    b.ok(b.action(t["id"], "revert"))
    b.ok(b.post(send("USD", "5", [amt("@alice", "5")], [amt("@bob", "5")]), "annotation"))
    out = {"send": {"asset": "USD", "value": "20", "source": {"from": [amt("@alice", "20")]}}}
    b.ok(b.post(out, "outflow"))
    return b


def test_real_postings_keep_every_invariant(book: Book) -> None:
    report = ledger_verify(ledger_id=book.ledger["id"])
    assert report.ok, report.problems
    assert len(report.checked) == 12
    stdout = io.StringIO()
    call_command(
        "verify_ledger", "--ledger", book.ledger["id"], stdout=stdout, stderr=io.StringIO()
    )
    assert "invariants hold" in stdout.getvalue()


@pytest.mark.fakes_ledger_state
def test_a_tampered_balance_is_reported(book: Book) -> None:
    Balance.objects.filter(alias="@bob").update(available=Decimal("999"))
    report = ledger_verify(ledger_id=book.ledger["id"])
    kinds = {problem.split(":")[0] for problem in report.problems}
    assert {"balance replay", "asset sum"} <= kinds
    with pytest.raises(CommandError, match="invariant violation"):
        call_command("verify_ledger", stdout=io.StringIO(), stderr=io.StringIO())


@pytest.mark.fakes_ledger_state
def test_a_negative_account_is_reported(book: Book) -> None:
    Balance.objects.filter(alias="@carol").update(available=Decimal("-1"))
    kinds = {p.split(":")[0] for p in ledger_verify(ledger_id=book.ledger["id"]).problems}
    assert "negative balance" in kinds


@pytest.mark.fakes_ledger_state
def test_an_operation_that_does_not_move_its_amount_is_reported(book: Book) -> None:
    op = Operation.objects.filter(account_alias="@bob", type="CREDIT").first()
    assert op is not None
    Operation.objects.filter(pk=op.pk).update(amount=op.amount + 1)
    kinds = {p.split(":")[0] for p in ledger_verify(ledger_id=book.ledger["id"]).problems}
    assert {"operation step", "transaction sums"} <= kinds


@pytest.mark.fakes_ledger_state
def test_a_broken_snapshot_chain_is_reported(book: Book) -> None:
    op = Operation.objects.filter(account_alias="@alice").order_by("version_after").last()
    assert op is not None
    Operation.objects.filter(pk=op.pk).update(
        available_before=op.available_before + 1, available_after=op.available_after + 1
    )
    kinds = {p.split(":")[0] for p in ledger_verify(ledger_id=book.ledger["id"]).problems}
    assert "snapshot chain" in kinds


def test_unknown_ledger_is_an_error() -> None:
    with pytest.raises(CommandError, match="no ledger"):
        call_command("verify_ledger", "--ledger", "01a20a4a-0024-76cc-8fd4-12161525a60f")


@pytest.fixture
def overdrawn(book: Book) -> Book:
    """@carol overdraws 40 on a limit of 50."""
    carol = Balance.objects.get(ledger_id=book.ledger["id"], alias="@carol", key="default")
    settings = {"allowOverdraft": True, "overdraftLimitEnabled": True, "overdraftLimit": "50"}
    book.ok(book.api.patch(book.path(f"/balances/{carol.id}"), {"settings": settings}), 200)
    book.ok(book.transfer("@carol", "@bob", str(carol.available + 40)))
    assert ledger_verify(ledger_id=book.ledger["id"]).ok
    return book


def _kinds(book: Book) -> set[str]:
    return {p.split(":")[0] for p in ledger_verify(ledger_id=book.ledger["id"]).problems}


@pytest.mark.fakes_ledger_state
def test_a_companion_that_differs_from_the_overdraft_in_use_is_reported(overdrawn: Book) -> None:
    Balance.objects.filter(alias="@carol", key="overdraft").update(available=Decimal("39"))
    assert {"overdraft balance", "balance replay"} <= _kinds(overdrawn)


@pytest.mark.fakes_ledger_state
def test_overdraft_above_the_limit_is_reported(overdrawn: Book) -> None:
    carol = Balance.objects.get(alias="@carol", key="default")
    assert carol.settings is not None
    Balance.objects.filter(pk=carol.pk).update(settings={**carol.settings, "overdraftLimit": "30"})
    assert "overdraft limit" in _kinds(overdrawn)


@pytest.mark.fakes_ledger_state
def test_a_companion_operation_that_does_not_match_the_draw_is_reported(overdrawn: Book) -> None:
    op = Operation.objects.get(account_alias="@carol", type="OVERDRAFT")
    Operation.objects.filter(pk=op.pk).update(amount=op.amount - 1)
    assert {"overdraft companions", "operation step"} <= _kinds(overdrawn)


@pytest.mark.fakes_ledger_state
def test_overdraft_drawn_by_a_credit_leg_is_reported(overdrawn: Book) -> None:
    op = Operation.objects.filter(account_alias="@bob", type="CREDIT").last()
    assert op is not None
    Operation.objects.filter(pk=op.pk).update(overdraft_used_after=op.overdraft_used_before + 1)
    assert "overdraft step" in _kinds(overdrawn)
