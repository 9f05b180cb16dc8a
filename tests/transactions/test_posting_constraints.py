"""The database backstops of migration 0023 (transactions/sql/posting_constraints.sql), driven
past the Python checks: ``midaz_post`` called with legs that resolve would never build. An
unbalanced posting is refused 0073 by the operations trigger (single, bulk, commit of a hold),
a queued leg of zero or less 0125 by the queue's CHECK, and nothing is written."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest
from django.db import transaction

from midaz.exceptions import LedgerError
from onboarding.models import Ledger
from tests.helpers import Api
from tests.transactions.book import Book
from transactions import posting
from transactions.models import QueuedPosting
from transactions.spec import Entry, TransactionSpec

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def book(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Book:
    b = Book(api, ledger)
    for alias in ("@alice", "@bob"):
        b.account(alias)
    b.fund("@alice", "100")
    return b


def prepared(book: Book, *, accept: bool = False, pending: bool = False) -> posting.Prepared:
    spec = TransactionSpec(
        asset="USD",
        value=D(10),
        sources=(Entry("@alice", amount=D(10)),),
        destinations=(Entry("@bob", amount=D(10)),),
        pending=pending,
    )
    return posting.prepare(Ledger.objects.get(pk=book.ledger["id"]), spec, accept=accept)


def refused(call: Any) -> str:
    with pytest.raises(LedgerError) as error, transaction.atomic():
        call()
    return error.value.code


def test_an_unbalanced_posting_is_refused_0073(book: Book) -> None:
    p = prepared(book)
    legs = [dict(leg) for leg in p.legs]
    legs[-1]["amount"] = "4"  # credits 4 against a debit of 10
    before = book.snapshot()
    assert refused(lambda: posting._call_post(posting.transaction_row(p.tx), legs, p.opts)) == (
        "0073"
    )
    assert book.snapshot() == before


def test_a_balanced_posting_through_the_same_call_is_applied(book: Book) -> None:
    p = prepared(book)
    posting._call_post(posting.transaction_row(p.tx), p.legs, p.opts)
    assert book.balance("@bob")[0] == D(10)


def test_an_unbalanced_bulk_item_is_refused_0073(book: Book) -> None:
    good, bad = prepared(book), prepared(book)
    legs = [dict(leg) for leg in bad.legs]
    legs[0]["amount"] = "11"  # debits 11, credits 10
    items = [
        {"tx": posting.transaction_row(p.tx), "legs": ls, "opts": p.opts}
        for p, ls in ((good, good.legs), (bad, legs))
    ]
    before = book.snapshot()
    sql = "SELECT midaz_post_bulk(%s, %s::jsonb, false)"
    args = [book.ledger["id"], orjson.dumps(items, default=str).decode()]
    assert refused(lambda: posting.call_function(sql, args)) == "0073"
    assert book.snapshot() == before


def test_a_pending_hold_that_credits_is_refused_0073(book: Book) -> None:
    p = prepared(book, pending=True)
    legs = [dict(leg) for leg in p.legs]
    legs[-1] |= {"kind": "credit"}  # the destination credited while the hold is pending
    assert refused(lambda: posting._call_post(posting.transaction_row(p.tx), legs, p.opts)) == (
        "0073"
    )


@pytest.mark.parametrize("amount", ["0", "-5", "0.000", "abc", "1e99999", "", None, "NaN"])
def test_a_queued_leg_that_moves_nothing_is_refused_0125(
    book: Book, settings: Any, amount: Any
) -> None:
    settings.TRANSACTION_ASYNC = True
    p = prepared(book, accept=True)
    legs = [dict(leg) for leg in p.legs]
    legs[0]["amount"] = amount
    assert refused(lambda: posting._call_post(posting.transaction_row(p.tx), legs, p.opts)) == (
        "0125"
    )
    assert not QueuedPosting.objects.exists()


def test_a_queued_posting_with_positive_legs_is_accepted(book: Book, settings: Any) -> None:
    settings.TRANSACTION_ASYNC = True
    p = prepared(book, accept=True)
    legs = [dict(leg) for leg in p.legs]
    legs[0]["amount"] = legs[1]["amount"] = "1E-7"  # str() of a small Decimal
    posting._call_post(posting.transaction_row(p.tx), legs, p.opts)
    assert QueuedPosting.objects.count() == 1
