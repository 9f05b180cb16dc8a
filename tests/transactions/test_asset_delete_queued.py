"""An asset is not deleted while an asynchronous posting accepted in the ledger and not yet
applied names it, as the posting's asset or as a converted leg's (0012, nothing deleted): its
balances are still zero, but the posting was accepted (CREATED) and would be refused
when applied, its external account gone. Once the queue is applied the asset may go."""

from __future__ import annotations

from typing import Any

import pytest

from onboarding.models import Account, Asset
from tests.helpers import Api, assert_error, ledger_path
from tests.transactions.book import Book, amt, send
from transactions import asynchronous
from transactions.models import QueuedPosting

pytestmark = pytest.mark.django_db


def _delete(api: Api, ledger: dict[str, Any], asset: dict[str, Any]) -> Any:
    return api.delete(ledger_path(ledger, f"/assets/{asset['id']}"))


def _alive(ledger: dict[str, Any], asset: dict[str, Any]) -> bool:
    external = Account.all_objects.get(ledger_id=ledger["id"], alias=f"@external/{asset['code']}")
    return Asset.all_objects.get(pk=asset["id"]).deleted_at is None and external.deleted_at is None


@pytest.fixture
def eur(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> dict[str, Any]:
    return api.create_asset(ledger, code="EUR")


def test_a_queued_posting_in_the_asset_keeps_it(
    api: Api, ledger: dict[str, Any], eur: dict[str, Any], settings: Any
) -> None:
    book = Book(api, ledger)
    book.account("@bob", asset="EUR")
    settings.TRANSACTION_ASYNC = True
    queued = book.fund("@bob", "5", asset="EUR")
    assert queued["status"]["code"] == "CREATED"
    assert_error(_delete(api, ledger, eur), 422, "0012")
    assert _alive(ledger, eur)
    assert asynchronous.sweep(older_than_seconds=0) == 1  # applied: @bob holds 5 EUR now
    assert not QueuedPosting.objects.exists()


def test_a_queued_conversion_into_the_asset_keeps_it(
    api: Api, ledger: dict[str, Any], eur: dict[str, Any], settings: Any
) -> None:
    book = Book(api, ledger)
    book.account("@alice")
    book.account("@bob", asset="EUR")
    book.fund("@alice", "100")
    settings.TRANSACTION_ASYNC = True
    rate = {"from": "USD", "to": "EUR", "value": "0.5"}
    body = send("USD", "10", [amt("@alice", "10")], [amt("@bob", "10", rate=rate)])
    queued = book.ok(book.post(body))
    assert queued["status"]["code"] == "CREATED"
    # USD is the posting's asset, EUR only a leg's: both are kept.
    assert_error(_delete(api, ledger, eur), 422, "0012")
    assert _alive(ledger, eur)
    assert asynchronous.sweep(older_than_seconds=0) == 1


def test_a_queued_posting_of_another_asset_or_ledger_does_not_keep_it(
    api: Api, ledger: dict[str, Any], eur: dict[str, Any], settings: Any
) -> None:
    book = Book(api, ledger)
    book.account("@alice")
    other = api.create_ledger(ledger["organizationId"])
    api.create_asset(other, code="EUR")
    Book(api, other).account("@bob", asset="EUR")
    settings.TRANSACTION_ASYNC = True
    book.fund("@alice", "5")  # USD, this ledger
    Book(api, other).fund("@bob", "5", asset="EUR")  # EUR, another ledger
    assert QueuedPosting.objects.count() == 2
    assert _delete(api, ledger, eur).status_code == 204
    assert asynchronous.sweep(older_than_seconds=0) == 2


def test_once_applied_and_emptied_the_asset_may_go(
    api: Api, ledger: dict[str, Any], eur: dict[str, Any], settings: Any
) -> None:
    book = Book(api, ledger)
    book.account("@bob", asset="EUR")
    settings.TRANSACTION_ASYNC = True
    book.fund("@bob", "5", asset="EUR")
    book.fund("@bob", "0.5", asset="EUR")
    assert_error(_delete(api, ledger, eur), 422, "0012")
    assert asynchronous.sweep(older_than_seconds=0) == 2
    settings.TRANSACTION_ASYNC = False
    out = {
        "send": {
            "asset": "EUR",
            "value": "5.5",
            "source": {
                "from": [{"accountAlias": "@bob", "amount": {"asset": "EUR", "value": "5.5"}}]
            },
        }
    }
    book.ok(book.post(out, "outflow"))
    assert _delete(api, ledger, eur).status_code == 204
