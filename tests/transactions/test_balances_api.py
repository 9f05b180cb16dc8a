"""Balance endpoints (MIDAZ_API.md §3): lists, get, update, delete, additional balances and
the alias/external lookups."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest
from django.utils import timezone
from uuid_utils.compat import uuid7

from onboarding.models import Account, Ledger
from tests.helpers import Api, assert_error, ledger_path
from transactions.models import Balance
from transactions.posting import transaction_create
from transactions.spec import Entry, TransactionSpec

pytestmark = pytest.mark.django_db

BALANCE_KEYS = {
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
    "allowSending",
    "allowReceiving",
    "direction",
    "overdraftUsed",
    "createdAt",
    "updatedAt",
    "deletedAt",
}


def move(
    ledger: dict[str, Any],
    value: str,
    source: str,
    destination: str,
    *,
    source_key: str = "default",
    destination_key: str = "default",
    pending: bool = False,
) -> dict[str, Any]:
    amount = Decimal(value)
    return transaction_create(
        ledger=Ledger.objects.get(pk=ledger["id"]),
        spec=TransactionSpec(
            asset="USD",
            value=amount,
            sources=(Entry(source, balance_key=source_key, amount=amount),),
            destinations=(Entry(destination, balance_key=destination_key, amount=amount),),
            pending=pending,
        ),
    ).body


def default_balance(account: dict[str, Any]) -> Balance:
    return Balance.objects.get(account_id=account["id"], key="default")


def body(response: Any) -> Any:
    return orjson.loads(response.content)


@pytest.fixture
def alice(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> dict[str, Any]:
    return api.create_account(ledger, alias="@alice")


@pytest.fixture
def bob(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> dict[str, Any]:
    return api.create_account(ledger, alias="@bob")


def bpath(ledger: dict[str, Any], balance_id: Any = None) -> str:
    return ledger_path(ledger, "/balances" + (f"/{balance_id}" if balance_id else ""))


def apath(ledger: dict[str, Any], account: dict[str, Any] | str, suffix: str = "") -> str:
    account_id = account if isinstance(account, str) else account["id"]
    return ledger_path(ledger, f"/accounts/{account_id}/balances{suffix}")


# --- GET L/balances ---------------------------------------------------------------------------


def test_list_ledger_balances_pages_by_cursor(
    api: Api, ledger: dict[str, Any], alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    everything = api.ok(api.get(bpath(ledger)), 200)
    assert everything["limit"] == 10
    assert "next_cursor" not in everything
    assert "prev_cursor" not in everything
    aliases = [b["alias"] for b in everything["items"]]
    assert aliases == ["@external/USD", "@alice", "@bob"]
    assert set(everything["items"][1]) == BALANCE_KEYS
    first = everything["items"][1]
    assert first["available"] == "0"
    assert first["onHold"] == "0"
    assert first["version"] == 0
    assert first["accountType"] == "deposit"
    assert first["direction"] == "credit"

    page1 = api.ok(api.get(bpath(ledger), limit=2), 200)
    assert [b["alias"] for b in page1["items"]] == ["@external/USD", "@alice"]
    assert "prev_cursor" not in page1
    page2 = api.ok(api.get(bpath(ledger), limit=2, cursor=page1["next_cursor"]), 200)
    assert [b["alias"] for b in page2["items"]] == ["@bob"]
    assert "next_cursor" not in page2
    assert "prev_cursor" in page2

    desc = api.ok(api.get(bpath(ledger), sort_order="desc"), 200)
    assert [b["alias"] for b in desc["items"]] == ["@bob", "@alice", "@external/USD"]


def test_list_ledger_balances_excludes_other_ledgers_and_deleted(
    api: Api, organization: dict[str, Any], ledger: dict[str, Any], alice: dict[str, Any]
) -> None:
    other = api.create_ledger(organization["id"])
    api.create_asset(other, code="USD")
    extra = api.ok(api.post(apath(ledger, alice), {"key": "savings"}), 201)
    assert api.delete(bpath(ledger, extra["id"])).status_code == 204
    items = api.ok(api.get(bpath(ledger)), 200)["items"]
    assert {(b["alias"], b["key"]) for b in items} == {
        ("@external/USD", "default"),
        ("@alice", "default"),
    }


def test_list_ledger_balances_date_window(
    api: Api, ledger: dict[str, Any], alice: dict[str, Any]
) -> None:
    found = api.ok(api.get(bpath(ledger), start_date="2000-01-01", end_date="2100-01-01"), 200)
    assert len(found["items"]) == 2
    none = api.ok(api.get(bpath(ledger), start_date="2000-01-01", end_date="2000-01-02"), 200)
    assert none["items"] == []
    assert_error(api.get(bpath(ledger), start_date="2000-01-01"), 400, "0083")
    assert_error(api.get(bpath(ledger), start_date="x", end_date="y"), 400, "0131")
    assert_error(api.get(bpath(ledger), limit=0), 400, "0082")
    assert_error(api.get(bpath(ledger), limit=101), 400, "0080")
    assert_error(api.get(bpath(ledger), sort_order="up"), 400, "0081")
    assert_error(api.get(bpath(ledger), cursor="not-a-cursor"), 400, "0082")


def test_ledger_scope_errors(
    api: Api, organization: dict[str, Any], ledger: dict[str, Any]
) -> None:
    org, led = organization["id"], ledger["id"]
    assert_error(api.get(f"/organizations/nope/ledgers/{led}/balances"), 400, "0065")
    assert_error(api.get(f"/organizations/{org}/ledgers/nope/balances"), 400, "0065")
    assert_error(api.get(f"/organizations/{uuid7()}/ledgers/{led}/balances"), 404, "0038")
    assert_error(api.get(f"/organizations/{org}/ledgers/{uuid7()}/balances"), 404, "0037")


# --- GET/PATCH/DELETE L/balances/{id} ---------------------------------------------------------


def test_get_balance(api: Api, ledger: dict[str, Any], alice: dict[str, Any]) -> None:
    move(ledger, "100", "@external/USD", "@alice")
    balance = default_balance(alice)
    got = api.ok(api.get(bpath(ledger, balance.id)), 200)
    assert got["id"] == str(balance.id)
    assert got["accountId"] == alice["id"]
    assert got["alias"] == "@alice"
    assert got["available"] == "100"
    assert got["version"] == 1
    assert got["organizationId"] == ledger["organizationId"]
    assert got["ledgerId"] == ledger["id"]
    assert got["deletedAt"] is None


def test_get_balance_errors(api: Api, ledger: dict[str, Any], alice: dict[str, Any]) -> None:
    body_ = assert_error(api.get(bpath(ledger, uuid7())), 404, "0007")
    assert body_["entityType"] == "Balance"
    assert_error(api.get(bpath(ledger, "not-a-uuid")), 400, "0065")


def test_get_balance_of_another_ledger_is_404(
    api: Api, organization: dict[str, Any], ledger: dict[str, Any], alice: dict[str, Any]
) -> None:
    other = api.create_ledger(organization["id"])
    assert_error(api.get(bpath(other, default_balance(alice).id)), 404, "0007")


def test_patch_balance_flags_and_settings(
    api: Api, ledger: dict[str, Any], alice: dict[str, Any]
) -> None:
    move(ledger, "5", "@external/USD", "@alice")
    balance = default_balance(alice)
    settings = {
        "balanceScope": "transactional",
        "allowOverdraft": False,
        "overdraftLimitEnabled": True,
        "overdraftLimit": "250.50",
    }
    got = api.ok(
        api.patch(bpath(ledger, balance.id), {"allowSending": False, "settings": settings}), 200
    )
    assert got["allowSending"] is False
    assert got["allowReceiving"] is True
    assert got["settings"] == settings
    assert got["version"] == 1  # flags are not money: the version counts movements only
    balance.refresh_from_db()
    assert balance.allow_sending is False
    assert balance.allow_receiving is True
    assert balance.settings == settings
    assert balance.version == 1
    assert balance.available == Decimal(5)
    assert balance.updated_at > balance.created_at

    got = api.ok(api.patch(bpath(ledger, balance.id), {"allowReceiving": False}), 200)
    assert got["allowSending"] is False
    assert got["allowReceiving"] is False
    assert got["settings"] == settings  # absent settings are left alone
    got = api.ok(
        api.patch(
            bpath(ledger, balance.id),
            {"allowSending": True, "settings": {"allowOverdraft": False}},
        ),
        200,
    )
    assert got["allowSending"] is True
    assert got["settings"] == {"allowOverdraft": False, "overdraftLimitEnabled": False}


def test_patch_balance_refused_flag_stops_postings(
    api: Api, ledger: dict[str, Any], alice: dict[str, Any]
) -> None:
    balance = default_balance(alice)
    api.ok(api.patch(bpath(ledger, balance.id), {"allowReceiving": False}), 200)
    from midaz.exceptions import LedgerError

    with pytest.raises(LedgerError) as caught:
        move(ledger, "1", "@external/USD", "@alice")
    assert caught.value.code == "0024"


@pytest.mark.parametrize(
    "bad_settings",
    [
        {"balanceScope": "internal"},
        {"balanceScope": "global"},
        {"overdraftLimitEnabled": True},
        {"overdraftLimitEnabled": True, "overdraftLimit": "0"},
        {"overdraftLimitEnabled": True, "overdraftLimit": "-5"},
        {"overdraftLimitEnabled": True, "overdraftLimit": "lots"},
        {"overdraftLimitEnabled": False, "overdraftLimit": "10"},
        {"overdraftLimit": "10"},
    ],
)
def test_patch_balance_invalid_settings(
    api: Api, ledger: dict[str, Any], alice: dict[str, Any], bad_settings: dict[str, Any]
) -> None:
    balance = default_balance(alice)
    assert_error(api.patch(bpath(ledger, balance.id), {"settings": bad_settings}), 400, "0172")
    balance.refresh_from_db()
    assert balance.settings is None


def test_patch_balance_body_errors(api: Api, ledger: dict[str, Any], alice: dict[str, Any]) -> None:
    path = bpath(ledger, default_balance(alice).id)
    assert_error(api.patch(path, {"allowSending": "yes"}), 400, "0094")
    assert_error(api.patch(path, {"settings": {"overdraftLimit": 10}}), 400, "0094")
    assert_error(api.patch(path, raw=b"{not json"), 400, "0094")
    assert_error(api.patch(path, {"available": "1000"}), 400, "0053")
    assert_error(api.patch(path, {"settings": {"color": "red"}}), 400, "0053")
    assert default_balance(alice).available == 0


def test_patch_balance_not_found(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> None:
    assert_error(api.patch(bpath(ledger, uuid7()), {"allowSending": False}), 404, "0007")
    assert_error(api.patch(bpath(ledger, "x"), {"allowSending": False}), 400, "0065")


def test_patch_internal_balance_refused(
    api: Api, ledger: dict[str, Any], alice: dict[str, Any]
) -> None:
    balance = default_balance(alice)
    Balance.objects.filter(pk=balance.pk).update(settings={"balanceScope": "internal"})
    assert_error(api.patch(bpath(ledger, balance.id), {"allowSending": False}), 422, "0175")
    balance.refresh_from_db()
    assert balance.allow_sending is True


def test_delete_balance(api: Api, ledger: dict[str, Any], alice: dict[str, Any]) -> None:
    extra = api.ok(api.post(apath(ledger, alice), {"key": "savings"}), 201)
    response = api.delete(bpath(ledger, extra["id"]))
    assert response.status_code == 204
    assert response.content == b""
    row = Balance.all_objects.get(pk=extra["id"])
    assert row.deleted_at is not None
    assert_error(api.get(bpath(ledger, extra["id"])), 404, "0007")
    assert_error(api.delete(bpath(ledger, extra["id"])), 404, "0007")
    # the key is free again once the old balance is deleted
    again = api.ok(api.post(apath(ledger, alice), {"key": "savings"}), 201)
    assert again["id"] != extra["id"]


def test_delete_balance_with_funds_refused(
    api: Api, ledger: dict[str, Any], alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    move(ledger, "100", "@external/USD", "@alice")
    balance = default_balance(alice)
    assert_error(api.delete(bpath(ledger, balance.id)), 409, "0093")
    # all of it on hold: available is zero, on hold is not
    move(ledger, "100", "@alice", "@bob", pending=True)
    balance.refresh_from_db()
    assert balance.available == 0
    assert balance.on_hold == Decimal(100)
    assert_error(api.delete(bpath(ledger, balance.id)), 409, "0093")
    balance.refresh_from_db()
    assert balance.deleted_at is None


def test_delete_internal_balance_refused(
    api: Api, ledger: dict[str, Any], alice: dict[str, Any]
) -> None:
    balance = default_balance(alice)
    Balance.objects.filter(pk=balance.pk).update(settings={"balanceScope": "internal"})
    assert_error(api.delete(bpath(ledger, balance.id)), 422, "0169")
    assert Balance.objects.filter(pk=balance.pk).exists()


def test_delete_balance_errors(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> None:
    assert_error(api.delete(bpath(ledger, uuid7())), 404, "0007")
    assert_error(api.delete(bpath(ledger, "nope")), 400, "0065")


# --- GET/POST L/accounts/{id}/balances --------------------------------------------------------


def test_list_account_balances(
    api: Api, ledger: dict[str, Any], alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    api.ok(api.post(apath(ledger, alice), {"key": "savings"}), 201)
    listed = api.ok(api.get(apath(ledger, alice)), 200)
    assert [(b["alias"], b["key"]) for b in listed["items"]] == [
        ("@alice", "default"),
        ("@alice", "savings"),
    ]
    page = api.ok(api.get(apath(ledger, alice), limit=1), 200)
    assert len(page["items"]) == 1
    assert "next_cursor" in page
    assert_error(api.get(apath(ledger, str(uuid7()))), 404, "0052")
    assert_error(api.get(apath(ledger, "nope")), 400, "0065")
    assert_error(api.get(apath(ledger, alice), sort_order="x"), 400, "0081")


def test_create_additional_balance(api: Api, ledger: dict[str, Any], alice: dict[str, Any]) -> None:
    created = api.ok(api.post(apath(ledger, alice), {"key": "Savings"}), 201)
    assert set(created) == BALANCE_KEYS
    assert created["key"] == "savings"
    assert created["alias"] == "@alice"
    assert created["accountId"] == alice["id"]
    assert created["assetCode"] == "USD"
    assert created["accountType"] == "deposit"
    assert created["direction"] == "credit"
    assert created["allowSending"] is True
    assert created["allowReceiving"] is True
    assert created["available"] == "0"
    assert created["version"] == 0
    row = Balance.objects.get(pk=created["id"])
    assert row.key == "savings"
    assert row.ledger_id is not None
    assert row.settings is None

    # the new balance takes money through its key
    move(ledger, "30", "@external/USD", "@alice", destination_key="savings")
    row.refresh_from_db()
    assert row.available == Decimal(30)
    assert row.version == 1
    assert default_balance(alice).available == 0


def test_create_additional_balance_with_options(
    api: Api, ledger: dict[str, Any], alice: dict[str, Any]
) -> None:
    settings = {"balanceScope": "transactional", "overdraftLimitEnabled": False}
    created = api.ok(
        api.post(
            apath(ledger, alice),
            {
                "key": "escrow",
                "allowSending": False,
                "allowReceiving": True,
                "direction": "debit",
                "settings": settings,
            },
        ),
        201,
    )
    assert created["direction"] == "debit"
    assert created["allowSending"] is False
    assert created["settings"] == {**settings, "allowOverdraft": False}
    row = Balance.objects.get(pk=created["id"])
    assert row.direction == "debit"
    assert row.allow_sending is False
    assert row.settings == {**settings, "allowOverdraft": False}


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({}, 400, "0009"),
        ({"key": ""}, 400, "0009"),
        ({"key": "my key"}, 400, "0047"),
        ({"key": "tab\tkey"}, 400, "0047"),
        ({"key": "k" * 101}, 400, "0047"),
        ({"key": 5}, 400, "0094"),
        ({"key": "x", "allowSending": "no"}, 400, "0094"),
        ({"key": "x", "color": "red"}, 400, "0053"),
        ({"key": "overdraft"}, 422, "0170"),
        ({"key": "OverDraft"}, 422, "0170"),
        ({"key": "default"}, 409, "0123"),
        ({"key": "DEFAULT"}, 409, "0123"),
        ({"key": "x", "direction": "sideways"}, 400, "0171"),
        ({"key": "x", "settings": {"balanceScope": "internal"}}, 400, "0172"),
        ({"key": "x", "direction": "debit", "settings": {"allowOverdraft": True}}, 400, "0172"),
        ({"key": "x", "settings": {"overdraftLimitEnabled": True}}, 400, "0172"),
    ],
)
def test_create_additional_balance_errors(
    api: Api,
    ledger: dict[str, Any],
    alice: dict[str, Any],
    payload: dict[str, Any],
    status: int,
    code: str,
) -> None:
    answer = assert_error(api.post(apath(ledger, alice), payload), status, code)
    if code in {"0170", "0123", "0171", "0172"}:
        assert answer["entityType"] == "Balance"
    assert list(Balance.objects.filter(account_id=alice["id"]).values_list("key", flat=True)) == [
        "default"
    ]


def test_create_additional_balance_duplicate_key(
    api: Api, ledger: dict[str, Any], alice: dict[str, Any]
) -> None:
    api.ok(api.post(apath(ledger, alice), {"key": "savings"}), 201)
    assert_error(api.post(apath(ledger, alice), {"key": "SAVINGS"}), 409, "0123")
    assert Balance.objects.filter(account_id=alice["id"], key="savings").count() == 1


def test_create_additional_balance_on_external_account(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    external = api.ok(api.get(ledger_path(ledger, "/accounts/external/USD")), 200)
    assert_error(api.post(apath(ledger, external), {"key": "more"}), 422, "0124")
    assert Balance.objects.filter(account_id=external["id"]).count() == 1


def test_create_additional_balance_missing_account(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    assert_error(api.post(apath(ledger, str(uuid7())), {"key": "more"}), 404, "0052")
    assert_error(api.post(apath(ledger, "nope"), {"key": "more"}), 400, "0065")


# --- alias and external lookups ---------------------------------------------------------------


def test_balances_by_alias(api: Api, ledger: dict[str, Any], alice: dict[str, Any]) -> None:
    api.ok(api.post(apath(ledger, alice), {"key": "savings"}), 201)
    move(ledger, "7", "@external/USD", "@alice")
    found = api.ok(api.get(ledger_path(ledger, "/accounts/alias/@alice/balances")), 200)
    assert set(found) == {"items", "limit"}
    assert found["limit"] == 10
    assert [(b["key"], b["available"]) for b in found["items"]] == [
        ("default", "7"),
        ("savings", "0"),
    ]
    answer = assert_error(
        api.get(ledger_path(ledger, "/accounts/alias/@nobody/balances")), 404, "0085"
    )
    assert answer["entityType"] == "Account"


def test_balances_by_alias_of_account_without_live_balances(
    api: Api, ledger: dict[str, Any], alice: dict[str, Any]
) -> None:
    Balance.objects.filter(account_id=alice["id"]).update(deleted_at=timezone.now())
    found = api.ok(api.get(ledger_path(ledger, "/accounts/alias/@alice/balances")), 200)
    assert found == {"items": [], "limit": 10}


def test_balance_reads_see_soft_deletes_along_the_path(
    api: Api, ledger: dict[str, Any], alice: dict[str, Any]
) -> None:
    """The one-query reads (by alias, by id) check the path as the step-by-step lookups do: a
    soft-deleted account or ledger answers its own 404, and a path naming another organization
    finds nothing."""
    balance = default_balance(alice)
    by_alias = ledger_path(ledger, "/accounts/alias/@alice/balances")
    assert api.ok(api.get(by_alias), 200)["items"][0]["id"] == str(balance.id)
    foreign = {**ledger, "organizationId": str(api.create_organization()["id"])}
    assert_error(api.get(ledger_path(foreign, "/accounts/alias/@alice/balances")), 404, "0037")
    assert_error(api.get(bpath(foreign, balance.id)), 404, "0037")

    Account.objects.filter(pk=alice["id"]).update(deleted_at=timezone.now())
    assert_error(api.get(by_alias), 404, "0085")
    assert Account.all_objects.filter(pk=alice["id"]).update(deleted_at=None) == 1

    Ledger.objects.filter(pk=ledger["id"]).update(deleted_at=timezone.now())
    assert_error(api.get(by_alias), 404, "0037")
    assert_error(api.get(bpath(ledger, balance.id)), 404, "0037")
    assert Ledger.all_objects.filter(pk=ledger["id"]).update(deleted_at=None) == 1

    assert api.ok(api.get(bpath(ledger, balance.id)), 200)["id"] == str(balance.id)


def test_balances_of_external_account(
    api: Api, ledger: dict[str, Any], alice: dict[str, Any]
) -> None:
    move(ledger, "12", "@external/USD", "@alice")
    found = api.ok(api.get(ledger_path(ledger, "/accounts/external/USD/balances")), 200)
    assert found["limit"] == 10
    [external] = found["items"]
    assert external["alias"] == "@external/USD"
    assert external["direction"] == "debit"
    assert external["available"] == "12"
    assert external["accountType"] == "external"
    assert_error(api.get(ledger_path(ledger, "/accounts/external/EUR/balances")), 404, "0085")
