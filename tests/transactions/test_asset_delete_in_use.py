"""An asset is deleted only when nothing is held in it: its external account's balance and
every account's balance in it are zero (Midaz 0012 otherwise, nothing deleted)."""

from __future__ import annotations

from typing import Any

import pytest

from onboarding.models import Account, Asset
from tests.helpers import Api, assert_error, ledger_path
from tests.transactions.book import Book
from transactions.models import Balance

pytestmark = pytest.mark.django_db


def _delete(api: Api, ledger: dict[str, Any], asset: dict[str, Any]) -> Any:
    return api.delete(ledger_path(ledger, f"/assets/{asset['id']}"))


def _alive(ledger: dict[str, Any], asset: dict[str, Any]) -> bool:
    external = Account.all_objects.get(ledger_id=ledger["id"], alias="@external/USD")
    return (
        Asset.all_objects.get(pk=asset["id"]).deleted_at is None
        and external.deleted_at is None
        and all(b.deleted_at is None for b in Balance.all_objects.filter(account=external))
    )


def test_an_asset_whose_money_is_in_an_account_is_0012(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    book = Book(api, ledger)
    book.account("@alice")
    book.fund("@alice", "100")  # @external/USD shows -100, @alice 100
    assert_error(_delete(api, ledger, usd), 422, "0012")
    assert _alive(ledger, usd)
    api.ok(api.get(ledger_path(ledger, "/accounts/external/USD")), 200)


def test_money_in_and_out_again_leaves_the_asset_deletable(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    book = Book(api, ledger)
    alice = book.account("@alice")
    book.fund("@alice", "40")
    # The money left the ledger again, but only @alice is deleted: the external account still
    # shows what came in, until it is sent back out through it.
    out = {
        "send": {
            "asset": "USD",
            "value": "40",
            "source": {
                "from": [{"accountAlias": "@alice", "amount": {"asset": "USD", "value": "40"}}]
            },
        }
    }
    book.ok(book.post(out, "outflow"))
    assert api.delete(ledger_path(ledger, f"/accounts/{alice['id']}")).status_code == 204
    external = Balance.objects.get(ledger_id=ledger["id"], alias="@external/USD")
    assert external.available == 0  # in and out: nothing held, so the asset may go
    assert _delete(api, ledger, usd).status_code == 204


def test_a_pending_hold_in_the_asset_is_0012(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    book = Book(api, ledger)
    book.account("@alice")
    book.account("@bob")
    book.fund("@alice", "10")
    book.ok(book.transfer("@alice", "@bob", "10", pending=True))
    assert_error(_delete(api, ledger, usd), 422, "0012")
    assert _alive(ledger, usd)


def test_an_unused_asset_is_deleted(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> None:
    Book(api, ledger).account("@alice")
    assert _delete(api, ledger, usd).status_code == 204
    assert not _alive(ledger, usd)
