"""An alias freed by a deleted account and taken by a new one: a commit or a reversal of a
transaction made before moves the balances that transaction moved, never the new account's
(0019), whichever way the hold was made (a single posting, a bulk item, an asynchronous
posting); a cancel still works."""

from __future__ import annotations

from typing import Any

import pytest

from onboarding.models import Account
from onboarding.services import account_soft_delete
from tests.helpers import Api, assert_error
from tests.transactions.book import Book, amt, body_of, send
from transactions import asynchronous
from transactions.models import Balance, Transaction
from transactions.services import _soft_delete_balances

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Book:
    b = Book(api, ledger)
    for alias in ("@alice", "@bob", "@carol"):
        b.account(alias)
    b.fund("@alice", "100")
    return b


def reuse(api: Api, book: Book, alias: str, *, named_by_a_hold: bool = False) -> str:
    """Deletes the (empty) account with ``alias`` and opens a new one with the same alias.

    While a pending hold names the account the API refuses its delete (422 0012); the account
    is then deleted behind the API, as the delete that races an asynchronous accept (which
    takes no lock the delete waits for) would leave it, so that the commit's own guard is
    what the test sees."""
    old = body_of(api.get(book.path(f"/accounts/alias/{alias}")))
    response = api.delete(book.path(f"/accounts/{old['id']}"))
    if named_by_a_hold:
        assert_error(response, 422, "0012")
        account = Account.objects.get(pk=old["id"])
        _soft_delete_balances([account])
        account_soft_delete(account)
    else:
        assert response.status_code == 204
    new = book.account(alias)
    return str(new["id"])


def hold(book: Book, how: str, settings: Any) -> str:
    body = send("USD", "10", [amt("@alice", "10")], [amt("@bob", "10")], pending=True)
    if how == "bulk":
        answer = book.ok(book.api.post(book.path("/transactions/bulk"), {"transactions": [body]}))
        return str(answer["items"][0]["transaction"]["id"])
    if how == "async":
        settings.TRANSACTION_ASYNC = True
        tx = book.ok(book.post(body))
        asynchronous.apply_ledger(book.ledger["id"])
        settings.TRANSACTION_ASYNC = False
        assert Transaction.objects.get(pk=tx["id"]).status == "PENDING"
        return str(tx["id"])
    return str(book.ok(book.post(body))["id"])


@pytest.mark.parametrize("how", ["single", "bulk", "async"])
def test_commit_refuses_a_destination_that_took_the_alias_after_the_hold(
    api: Api, book: Book, settings: Any, how: str
) -> None:
    tx_id = hold(book, how, settings)
    new_bob = reuse(api, book, "@bob", named_by_a_hold=True)
    assert_error(book.action(tx_id, "commit"), 422, "0019")
    assert Balance.objects.get(account_id=new_bob, key="default").available == 0
    assert Transaction.objects.get(pk=tx_id).status == "PENDING"
    book.ok(book.action(tx_id, "cancel"))
    assert book.balance("@alice")[:2] == (100, 0)


def test_commit_of_an_untouched_hold_still_credits(book: Book) -> None:
    tx = book.ok(book.transfer("@alice", "@bob", "10", pending=True))
    assert set(Transaction.objects.get(pk=tx["id"]).body["balanceIds"]) == {
        "@alice#default",
        "@bob#default",
    }
    book.ok(book.action(tx["id"], "commit"))
    assert book.balance("@bob")[0] == 10


def test_revert_refuses_an_account_that_took_the_alias(api: Api, book: Book) -> None:
    first = book.ok(book.transfer("@alice", "@bob", "10"))
    book.ok(book.transfer("@bob", "@carol", "10"))
    new_bob = reuse(api, book, "@bob")
    book.fund("@bob", "10")
    assert_error(book.action(first["id"], "revert"), 422, "0019")
    assert Balance.objects.get(account_id=new_bob, key="default").available == 10
    assert not Transaction.objects.filter(parent_transaction_id=first["id"]).exists()
    # an untouched transaction still reverts
    second = book.ok(book.transfer("@carol", "@alice", "5"))
    assert book.ok(book.action(second["id"], "revert"))["parentTransactionId"] == second["id"]
