"""An account or an asset is not deleted while a posting that was accepted and not finished
still needs it (422 0012, nothing deleted):

- an account, while an asynchronous posting of its ledger that names its alias is queued (the
  worker resolves the legs by alias when it applies them, so a new account opened with the
  freed alias would be credited), or while a PENDING transaction names it as a source or a
  destination (its commit or cancel would move the new account);
- an asset, while a PENDING transaction of its ledger is in it or converts into (or out of)
  it: nothing of the asset is held yet (the converted legs are written at commit), but the
  commit goes through its external account, which a re-created asset would replace.

Once the posting is finished (applied, committed or canceled) the delete goes through."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from onboarding.models import Account, Asset
from tests.helpers import Api, assert_error, ledger_path
from tests.transactions.book import Book, amt, send
from transactions import asynchronous
from transactions.models import Balance, Transaction

pytestmark = pytest.mark.django_db

RATE = {"from": "USD", "to": "EUR", "value": "0.5"}


def _account_id(book: Book, alias: str) -> str:
    found: str = orjson.loads(book.api.get(book.path(f"/accounts/alias/{alias}")).content)["id"]
    return found


def _delete_account(book: Book, alias: str) -> Any:
    return book.api.delete(book.path(f"/accounts/{_account_id(book, alias)}"))


def _account_alive(book: Book, alias: str) -> bool:
    account = Account.all_objects.get(ledger_id=book.ledger["id"], alias=alias)
    deleted = Balance.all_objects.filter(account=account, deleted_at__isnull=False)
    return account.deleted_at is None and not deleted.exists()


@pytest.fixture
def book(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Book:
    b = Book(api, ledger)
    b.account("@alice")
    b.account("@gus")
    b.fund("@alice", "10")
    return b


# --- accounts ------------------------------------------------------------------------------


@pytest.mark.parametrize("pending", [False, True], ids=["direct", "hold"])
def test_a_queued_posting_to_the_account_keeps_it(book: Book, settings: Any, pending: bool) -> None:
    settings.TRANSACTION_ASYNC = True
    posted = book.ok(book.transfer("@alice", "@gus", "5", pending=pending))
    assert Transaction.objects.get(pk=posted["id"]).status == "CREATED"  # queued
    assert_error(_delete_account(book, "@gus"), 422, "0012")
    assert _account_alive(book, "@gus")
    assert asynchronous.apply_ledger(book.ledger["id"]) == 1
    assert Balance.objects.get(alias="@gus", key="default").available == (0 if pending else 5)


def test_a_queued_posting_from_the_account_keeps_it(book: Book, settings: Any) -> None:
    settings.TRANSACTION_ASYNC = True
    # @gus is empty: accepted, it will be declined when applied, but it is queued now.
    book.ok(book.transfer("@gus", "@alice", "1"))
    assert_error(_delete_account(book, "@gus"), 422, "0012")
    assert _account_alive(book, "@gus")


def test_a_pending_hold_naming_the_account_keeps_it(book: Book) -> None:
    hold = book.ok(book.transfer("@alice", "@gus", "5", pending=True))
    assert hold["status"]["code"] == "PENDING"
    # @gus is only the destination: nothing of his is held, his balance is zero.
    assert_error(_delete_account(book, "@gus"), 422, "0012")
    assert _account_alive(book, "@gus")
    committed = book.ok(book.action(hold["id"], "commit"))
    gus = Balance.objects.get(alias="@gus", key="default")
    assert gus.available == 5
    assert str(gus.id) in {op["balanceId"] for op in committed["operations"]}


def test_a_finished_hold_or_posting_does_not_keep_the_account(book: Book, settings: Any) -> None:
    book.account("@carol")
    hold = book.ok(book.transfer("@alice", "@gus", "5", pending=True))
    book.ok(book.action(hold["id"], "cancel"))
    settings.TRANSACTION_ASYNC = True
    book.ok(book.transfer("@alice", "@gus", "1"))
    assert asynchronous.apply_ledger(book.ledger["id"]) == 1
    settings.TRANSACTION_ASYNC = False
    book.ok(book.transfer("@gus", "@carol", "1"))
    assert _delete_account(book, "@gus").status_code == 204


def test_another_account_or_ledger_in_flight_does_not_keep_it(
    api: Api, book: Book, settings: Any
) -> None:
    book.account("@carol")
    book.account("@gus2")  # an alias that starts like @gus's is another account
    other = Book(api, api.create_ledger(book.ledger["organizationId"]))
    api.create_asset(other.ledger, code="USD")
    other.account("@alice")
    other.account("@gus")
    other.fund("@alice", "10")
    book.ok(book.transfer("@alice", "@carol", "1", pending=True))
    book.ok(book.transfer("@alice", "@gus2", "1", pending=True))
    other.ok(other.transfer("@alice", "@gus", "1", pending=True))
    settings.TRANSACTION_ASYNC = True
    book.ok(book.transfer("@alice", "@carol", "1"))
    book.ok(book.transfer("@alice", "@gus2", "1"))
    other.ok(other.transfer("@alice", "@gus", "1"))
    assert _delete_account(book, "@gus").status_code == 204


def test_an_accepted_posting_credits_the_account_it_was_accepted_for(
    book: Book, settings: Any
) -> None:
    """The review's scenario (G8): accept, delete, reopen the alias, apply. The delete is
    refused, so the alias cannot be reopened and the worker credits the same account."""
    settings.TRANSACTION_ASYNC = True
    posted = book.ok(book.transfer("@alice", "@gus", "5"))
    old = _account_id(book, "@gus")
    assert_error(_delete_account(book, "@gus"), 422, "0012")
    asynchronous.apply_ledger(book.ledger["id"])
    assert Transaction.objects.get(pk=posted["id"]).status == "APPROVED"
    assert _account_id(book, "@gus") == old
    assert Balance.objects.get(account_id=old, key="default").available == 5


# --- assets --------------------------------------------------------------------------------


@pytest.fixture
def eur(api: Api, book: Book) -> dict[str, Any]:
    asset = api.create_asset(book.ledger, code="EUR")
    book.account("@bob", asset="EUR")
    return asset


def _delete_asset(book: Book, asset: dict[str, Any]) -> Any:
    return book.api.delete(ledger_path(book.ledger, f"/assets/{asset['id']}"))


def _asset_alive(book: Book, asset: dict[str, Any]) -> bool:
    external = Account.all_objects.get(
        ledger_id=book.ledger["id"], alias=f"@external/{asset['code']}"
    )
    return Asset.all_objects.get(pk=asset["id"]).deleted_at is None and external.deleted_at is None


def _hold_into_eur(book: Book) -> dict[str, Any]:
    body = send("USD", "10", [amt("@alice", "10")], [amt("@bob", "10", rate=RATE)], pending=True)
    return book.ok(book.post(body))


def test_a_pending_conversion_into_the_asset_keeps_it(book: Book, eur: dict[str, Any]) -> None:
    hold = _hold_into_eur(book)
    assert_error(_delete_asset(book, eur), 422, "0012")
    assert _asset_alive(book, eur)
    external = Balance.objects.get(ledger_id=book.ledger["id"], alias="@external/EUR")
    committed = book.ok(book.action(hold["id"], "commit"))
    assert str(external.id) in {
        op["balanceId"] for op in committed["operations"] if op["accountAlias"] == "@external/EUR"
    }


def test_a_canceled_conversion_does_not_keep_the_asset(book: Book, eur: dict[str, Any]) -> None:
    hold = _hold_into_eur(book)
    book.ok(book.action(hold["id"], "cancel"))
    assert _delete_asset(book, eur).status_code == 204


def test_a_pending_hold_of_another_asset_or_ledger_does_not_keep_it(
    api: Api, book: Book, eur: dict[str, Any]
) -> None:
    book.ok(book.transfer("@alice", "@gus", "1", pending=True))  # USD, no conversion
    other = Book(api, api.create_ledger(book.ledger["organizationId"]))
    api.create_asset(other.ledger, code="USD")
    api.create_asset(other.ledger, code="EUR")
    other.account("@alice")
    other.account("@bob", asset="EUR")
    other.fund("@alice", "10")
    _hold_into_eur(other)  # into EUR, in another ledger
    assert _delete_asset(book, eur).status_code == 204


def test_the_review_scenario_never_commits_through_a_new_external(
    api: Api, book: Book, eur: dict[str, Any]
) -> None:
    """G1: hold into EUR, delete EUR (refused), re-create EUR (refused: it still exists), the
    commit goes through the external balance that existed at the hold."""
    hold = _hold_into_eur(book)
    assert_error(_delete_asset(book, eur), 422, "0012")
    again = api.post(
        ledger_path(book.ledger, "/assets"), {"name": "EUR", "type": "currency", "code": "EUR"}
    )
    assert again.status_code == 409
    assert Balance.objects.filter(ledger_id=book.ledger["id"], alias="@external/EUR").count() == 1
    assert Transaction.objects.get(pk=hold["id"]).status == "PENDING"
    book.ok(book.action(hold["id"], "commit"))


# --- the race: a hold and the delete of its destination at the same time -------------------


@pytest.mark.django_db(transaction=True)
def test_a_hold_racing_the_delete_of_its_destination_never_outlives_it(book: Book) -> None:
    """A synchronous hold locks the balances it names FOR UPDATE and keeps only those not
    deleted; the delete locks them too before it looks for pending transactions. So either the
    hold is refused (the delete went first) or the delete is (it saw the hold): never a
    PENDING hold to a deleted account."""
    from tests.transactions.test_hot_account import outcome, run_together

    prefix = "/v1" + book.path("")
    for round_ in range(12):
        alias = f"@race{round_}"
        account_id = book.account(alias)["id"]

        def work(index: int, client: Any, alias: str = alias, account_id: str = account_id) -> Any:
            if index == 0:
                body = send("USD", "0.01", [amt("@alice", "0.01")], [amt(alias, "0.01")])
                body["pending"] = True
                return outcome(
                    client.post(
                        prefix + "/transactions/json",
                        orjson.dumps(body),
                        content_type="application/json",
                    )
                )
            return outcome(client.delete(prefix + f"/accounts/{account_id}"))

        held, deleted = run_together(2, work)
        assert held[0] < 500, held
        assert deleted[0] < 500, deleted
        assert (held[0] == 201) != (deleted[0] == 204), (round_, held, deleted)
        if deleted[0] != 204:
            assert deleted == (422, "0012"), deleted
        pending = Transaction.objects.filter(status="PENDING", destination__contains=[alias])
        alive = Account.objects.filter(pk=account_id).exists()
        assert pending.exists() == alive, (round_, held, deleted)
