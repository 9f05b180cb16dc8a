"""Assets and the external account each one opens (MIDAZ_API.md §2.3, §3)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from uuid_utils.compat import uuid7

from onboarding.models import Account, Asset
from tests.helpers import Api, assert_error, ledger_path
from transactions.models import Balance

pytestmark = pytest.mark.django_db

ASSET_KEYS = {
    "id",
    "name",
    "type",
    "code",
    "status",
    "ledgerId",
    "organizationId",
    "createdAt",
    "updatedAt",
    "deletedAt",
    "metadata",
}


def assets_path(ledger: dict[str, Any], suffix: str = "") -> str:
    return ledger_path(ledger, f"/assets{suffix}")


def asset_body(**fields: Any) -> dict[str, Any]:
    return {"name": "US Dollar", "type": "currency", "code": "USD", **fields}


def external_account(ledger: dict[str, Any], code: str) -> Account:
    return Account.all_objects.get(ledger_id=ledger["id"], alias=f"@external/{code}")


# --- create ------------------------------------------------------------------------------------


def test_create_returns_201_with_the_asset(api: Api, ledger: dict[str, Any]) -> None:
    response = api.post(assets_path(ledger), asset_body(metadata={"desk": "fx"}))
    body = api.ok(response, 201)
    assert set(body) == ASSET_KEYS
    assert uuid.UUID(body["id"]).version == 7
    assert body["name"] == "US Dollar"
    assert body["type"] == "currency"
    assert body["code"] == "USD"
    assert body["status"] == {"code": "ACTIVE", "description": None}
    assert body["ledgerId"] == ledger["id"]
    assert body["organizationId"] == ledger["organizationId"]
    assert body["deletedAt"] is None
    assert body["metadata"] == {"desk": "fx"}
    assert body["createdAt"].endswith("Z")
    stored = Asset.objects.get(pk=body["id"])
    assert (stored.name, stored.type, stored.code) == ("US Dollar", "currency", "USD")
    assert str(stored.ledger_id) == ledger["id"]
    assert stored.metadata == {"desk": "fx"}


def test_create_keeps_the_given_status(api: Api, ledger: dict[str, Any]) -> None:
    status = {"code": "INACTIVE", "description": "not yet traded"}
    body = api.ok(api.post(assets_path(ledger), asset_body(status=status)), 201)
    assert body["status"] == status
    assert Asset.objects.get(pk=body["id"]).status == "INACTIVE"


def test_create_opens_the_external_account(api: Api, ledger: dict[str, Any]) -> None:
    api.create_asset(ledger, code="BRL")
    account = external_account(ledger, "BRL")
    assert account.deleted_at is None
    assert account.name == "External BRL"
    assert account.type == "external"
    assert account.asset_code == "BRL"
    assert account.status == "external"
    assert account.status_description == "Account external created by asset: BRL"
    body = api.ok(api.get(ledger_path(ledger, "/accounts/external/BRL")), 200)
    assert body["id"] == str(account.id)
    assert body["alias"] == "@external/BRL"
    assert body["name"] == "External BRL"
    assert body["type"] == "external"
    assert body["assetCode"] == "BRL"
    assert body["status"] == {
        "code": "external",
        "description": "Account external created by asset: BRL",
    }
    assert body["holderId"] is None


def test_create_opens_a_debit_default_balance_for_the_external_account(
    api: Api, ledger: dict[str, Any]
) -> None:
    api.create_asset(ledger, code="BRL")
    account = external_account(ledger, "BRL")
    balances = list(Balance.objects.filter(account=account))
    assert len(balances) == 1
    balance = balances[0]
    assert balance.key == "default"
    assert balance.direction == "debit"
    assert balance.alias == "@external/BRL"
    assert balance.asset_code == "BRL"
    assert balance.account_type == "external"
    assert balance.available == Decimal(0)
    assert balance.on_hold == Decimal(0)
    assert balance.version == 0


def test_create_opens_exactly_one_external_account(api: Api, ledger: dict[str, Any]) -> None:
    api.create_asset(ledger, code="EUR")
    assert Account.objects.filter(ledger_id=ledger["id"], asset_code="EUR").count() == 1


@pytest.mark.parametrize(
    ("asset_type", "code"),
    [
        ("crypto", "BTC"),
        ("commodity", "GOLD"),
        ("others", "POINTS"),
        ("currency", "EUR"),
        ("fiat", "BRL"),
    ],
)
def test_create_accepts_every_asset_type(
    api: Api, ledger: dict[str, Any], asset_type: str, code: str
) -> None:
    body = api.ok(
        api.post(assets_path(ledger), asset_body(name=code, type=asset_type, code=code)), 201
    )
    assert (body["type"], body["code"]) == (asset_type, code)
    assert external_account(ledger, code).deleted_at is None


@pytest.mark.parametrize("asset_type", ["money", "stock", "Currency"])
def test_create_with_an_unknown_type_is_0040(
    api: Api, ledger: dict[str, Any], asset_type: str
) -> None:
    assert_error(api.post(assets_path(ledger), asset_body(type=asset_type)), 400, "0040")
    assert not Asset.all_objects.filter(ledger_id=ledger["id"]).exists()


@pytest.mark.parametrize("code", ["BT1", "BT-C", "B C", "US$"])
def test_create_with_a_code_that_is_not_only_letters_is_0033(
    api: Api, ledger: dict[str, Any], code: str
) -> None:
    response = api.post(assets_path(ledger), asset_body(type="crypto", code=code))
    assert_error(response, 400, "0033")
    assert not Asset.all_objects.filter(ledger_id=ledger["id"]).exists()


@pytest.mark.parametrize(
    ("asset_type", "code"), [("currency", "usd"), ("crypto", "btc"), ("crypto", "Btc")]
)
def test_create_with_a_code_not_in_upper_case_is_0004(
    api: Api, ledger: dict[str, Any], asset_type: str, code: str
) -> None:
    response = api.post(assets_path(ledger), asset_body(type=asset_type, code=code))
    assert_error(response, 400, "0004")
    assert not Asset.all_objects.filter(ledger_id=ledger["id"]).exists()


@pytest.mark.parametrize(("asset_type", "code"), [("currency", "XYZ"), ("fiat", "BTC")])
def test_create_currency_or_fiat_with_a_non_iso_code_is_0005(
    api: Api, ledger: dict[str, Any], asset_type: str, code: str
) -> None:
    response = api.post(assets_path(ledger), asset_body(type=asset_type, code=code))
    assert_error(response, 400, "0005")
    assert not Asset.all_objects.filter(ledger_id=ledger["id"]).exists()


def test_create_crypto_with_a_non_iso_code_is_accepted(api: Api, ledger: dict[str, Any]) -> None:
    body = api.ok(api.post(assets_path(ledger), asset_body(type="crypto", code="BTC")), 201)
    assert body["code"] == "BTC"


@pytest.mark.parametrize("missing", ["name", "type", "code"])
def test_create_without_a_required_field_is_0009(
    api: Api, ledger: dict[str, Any], missing: str
) -> None:
    body = asset_body()
    del body[missing]
    error = assert_error(api.post(assets_path(ledger), body), 400, "0009")
    assert missing in error["fields"]
    assert not Asset.all_objects.filter(ledger_id=ledger["id"]).exists()


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"name": "n" * 257}, id="name-too-long"),
        pytest.param({"type": "crypto", "code": "A" * 101}, id="code-too-long"),
    ],
)
def test_create_with_an_over_long_field_is_0047(
    api: Api, ledger: dict[str, Any], fields: dict[str, Any]
) -> None:
    assert_error(api.post(assets_path(ledger), asset_body(**fields)), 400, "0047")
    assert not Asset.all_objects.filter(ledger_id=ledger["id"]).exists()


def test_create_with_a_wrong_json_type_is_0094(api: Api, ledger: dict[str, Any]) -> None:
    assert_error(api.post(assets_path(ledger), asset_body(code=840)), 400, "0094")


def test_create_with_nested_metadata_is_0067(api: Api, ledger: dict[str, Any]) -> None:
    body = asset_body(metadata={"a": {"b": 1}})
    assert_error(api.post(assets_path(ledger), body), 400, "0067")


def test_create_with_an_unknown_field_is_0053(api: Api, ledger: dict[str, Any]) -> None:
    assert_error(api.post(assets_path(ledger), asset_body(scale=2)), 400, "0053")


@pytest.mark.parametrize(
    "second",
    [
        pytest.param({"name": "US Dollar", "code": "EUR"}, id="same-name"),
        pytest.param({"name": "Another dollar", "code": "USD"}, id="same-code"),
    ],
)
def test_create_with_a_name_or_code_used_in_the_ledger_is_0003(
    api: Api, ledger: dict[str, Any], second: dict[str, Any]
) -> None:
    api.ok(api.post(assets_path(ledger), asset_body()), 201)
    accounts_before = Account.all_objects.filter(ledger_id=ledger["id"]).count()
    balances_before = Balance.all_objects.filter(ledger_id=ledger["id"]).count()
    assert_error(api.post(assets_path(ledger), asset_body(**second)), 409, "0003")
    assert Asset.all_objects.filter(ledger_id=ledger["id"]).count() == 1
    assert Account.all_objects.filter(ledger_id=ledger["id"]).count() == accounts_before
    assert Balance.all_objects.filter(ledger_id=ledger["id"]).count() == balances_before


def test_same_name_and_code_are_fine_in_another_ledger(
    api: Api, ledger: dict[str, Any], organization: dict[str, Any]
) -> None:
    api.ok(api.post(assets_path(ledger), asset_body()), 201)
    other = api.create_ledger(organization["id"])
    body = api.ok(api.post(assets_path(other), asset_body()), 201)
    assert body["ledgerId"] == other["id"]
    assert external_account(other, "USD").deleted_at is None


def test_create_in_a_missing_ledger_is_0037(api: Api, organization: dict[str, Any]) -> None:
    missing = {"id": str(uuid7()), "organizationId": organization["id"]}
    assert_error(api.post(assets_path(missing), asset_body()), 404, "0037")


# --- get ---------------------------------------------------------------------------------------


def test_get_returns_the_asset(api: Api, ledger: dict[str, Any]) -> None:
    created = api.create_asset(ledger, code="USD", metadata={"k": "v"})
    assert api.ok(api.get(assets_path(ledger, f"/{created['id']}")), 200) == created


def test_get_a_missing_asset_is_0055(api: Api, ledger: dict[str, Any]) -> None:
    assert_error(api.get(assets_path(ledger, f"/{uuid7()}")), 404, "0055")


def test_get_an_asset_of_another_ledger_is_0055(
    api: Api, ledger: dict[str, Any], organization: dict[str, Any]
) -> None:
    other = api.create_ledger(organization["id"])
    asset = api.create_asset(other, code="USD")
    assert_error(api.get(assets_path(ledger, f"/{asset['id']}")), 404, "0055")


def test_get_with_a_non_uuid_id_is_0065(api: Api, ledger: dict[str, Any]) -> None:
    assert_error(api.get(assets_path(ledger, "/not-a-uuid")), 400, "0065")


def test_get_in_a_missing_ledger_is_0037(api: Api, organization: dict[str, Any]) -> None:
    missing = {"id": str(uuid7()), "organizationId": organization["id"]}
    assert_error(api.get(assets_path(missing, f"/{uuid7()}")), 404, "0037")


# --- list --------------------------------------------------------------------------------------


def test_list_returns_the_assets_of_the_ledger(
    api: Api, ledger: dict[str, Any], organization: dict[str, Any]
) -> None:
    usd = api.create_asset(ledger, code="USD")
    eur = api.create_asset(ledger, code="EUR")
    api.create_asset(api.create_ledger(organization["id"]), code="BRL")
    body = api.ok(api.get(assets_path(ledger)), 200)
    assert body["limit"] == 10
    assert body["page"] == 1
    assert body["items"] == [usd, eur]


def test_list_of_an_empty_ledger_is_an_empty_page(api: Api, ledger: dict[str, Any]) -> None:
    body = api.ok(api.get(assets_path(ledger)), 200)
    assert body["items"] == []


def test_list_filters_by_metadata(api: Api, ledger: dict[str, Any]) -> None:
    api.create_asset(ledger, code="USD", metadata={"desk": "fx"})
    eur = api.create_asset(ledger, code="EUR", metadata={"desk": "rates"})
    body = api.ok(api.get(assets_path(ledger), **{"metadata.desk": "rates"}), 200)
    assert [item["id"] for item in body["items"]] == [eur["id"]]


def test_list_with_a_metadata_filter_matching_nothing_is_0056(
    api: Api, ledger: dict[str, Any]
) -> None:
    api.create_asset(ledger, code="USD", metadata={"desk": "fx"})
    assert_error(api.get(assets_path(ledger), **{"metadata.desk": "none"}), 404, "0056")


def test_list_excludes_deleted_assets(api: Api, ledger: dict[str, Any]) -> None:
    usd = api.create_asset(ledger, code="USD")
    eur = api.create_asset(ledger, code="EUR")
    assert api.delete(assets_path(ledger, f"/{usd['id']}")).status_code == 204
    body = api.ok(api.get(assets_path(ledger)), 200)
    assert [item["id"] for item in body["items"]] == [eur["id"]]


def test_list_in_a_missing_ledger_is_0037(api: Api, organization: dict[str, Any]) -> None:
    missing = {"id": str(uuid7()), "organizationId": organization["id"]}
    assert_error(api.get(assets_path(missing)), 404, "0037")


# --- update ------------------------------------------------------------------------------------


def test_patch_updates_name_status_and_metadata(api: Api, ledger: dict[str, Any]) -> None:
    created = api.create_asset(ledger, code="USD", metadata={"keep": "1", "drop": "2"})
    patch = {
        "name": "Dollar",
        "status": {"code": "INACTIVE", "description": "frozen"},
        "metadata": {"drop": None, "new": "3"},
    }
    body = api.ok(api.patch(assets_path(ledger, f"/{created['id']}"), patch), 200)
    assert body["name"] == "Dollar"
    assert body["status"] == {"code": "INACTIVE", "description": "frozen"}
    assert body["metadata"] == {"keep": "1", "new": "3"}
    assert body["code"] == "USD"
    assert body["type"] == "currency"
    assert body["createdAt"] == created["createdAt"]
    stored = Asset.objects.get(pk=created["id"])
    assert stored.name == "Dollar"
    assert stored.status == "INACTIVE"
    assert stored.metadata == {"keep": "1", "new": "3"}
    assert api.ok(api.get(assets_path(ledger, f"/{created['id']}")), 200) == body


@pytest.mark.parametrize("field", [{"code": "EUR"}, {"type": "crypto"}])
def test_patch_of_code_or_type_is_0053(
    api: Api, ledger: dict[str, Any], field: dict[str, Any]
) -> None:
    created = api.create_asset(ledger, code="USD")
    assert_error(api.patch(assets_path(ledger, f"/{created['id']}"), field), 400, "0053")
    stored = Asset.objects.get(pk=created["id"])
    assert (stored.code, stored.type) == ("USD", "currency")


def test_patch_a_missing_asset_is_0055(api: Api, ledger: dict[str, Any]) -> None:
    assert_error(api.patch(assets_path(ledger, f"/{uuid7()}"), {"name": "x"}), 404, "0055")


def test_patch_with_a_non_uuid_id_is_0065(api: Api, ledger: dict[str, Any]) -> None:
    assert_error(api.patch(assets_path(ledger, "/nope"), {"name": "x"}), 400, "0065")


# --- delete ------------------------------------------------------------------------------------


def test_delete_soft_deletes_the_asset(api: Api, ledger: dict[str, Any]) -> None:
    created = api.create_asset(ledger, code="USD")
    response = api.delete(assets_path(ledger, f"/{created['id']}"))
    assert response.status_code == 204
    assert response.content == b""
    assert Asset.all_objects.get(pk=created["id"]).deleted_at is not None
    assert_error(api.get(assets_path(ledger, f"/{created['id']}")), 404, "0055")


def test_delete_soft_deletes_the_external_account_and_its_balance(
    api: Api, ledger: dict[str, Any]
) -> None:
    created = api.create_asset(ledger, code="USD")
    account = external_account(ledger, "USD")
    assert api.delete(assets_path(ledger, f"/{created['id']}")).status_code == 204
    assert Account.all_objects.get(pk=account.pk).deleted_at is not None
    balances = list(Balance.all_objects.filter(account=account))
    assert balances
    assert all(balance.deleted_at is not None for balance in balances)
    assert_error(api.get(ledger_path(ledger, "/accounts/external/USD")), 404, "0085")


def test_delete_leaves_other_assets_external_accounts(api: Api, ledger: dict[str, Any]) -> None:
    usd = api.create_asset(ledger, code="USD")
    api.create_asset(ledger, code="EUR")
    assert api.delete(assets_path(ledger, f"/{usd['id']}")).status_code == 204
    assert external_account(ledger, "EUR").deleted_at is None
    api.ok(api.get(ledger_path(ledger, "/accounts/external/EUR")), 200)


def test_a_deleted_assets_name_and_code_can_be_reused(api: Api, ledger: dict[str, Any]) -> None:
    first = api.ok(api.post(assets_path(ledger), asset_body()), 201)
    assert api.delete(assets_path(ledger, f"/{first['id']}")).status_code == 204
    second = api.ok(api.post(assets_path(ledger), asset_body()), 201)
    assert second["id"] != first["id"]
    external = api.ok(api.get(ledger_path(ledger, "/accounts/external/USD")), 200)
    assert Balance.objects.filter(account_id=external["id"]).count() == 1


def test_delete_twice_is_0055(api: Api, ledger: dict[str, Any]) -> None:
    created = api.create_asset(ledger, code="USD")
    assert api.delete(assets_path(ledger, f"/{created['id']}")).status_code == 204
    assert_error(api.delete(assets_path(ledger, f"/{created['id']}")), 404, "0055")


def test_delete_a_missing_asset_is_0055(api: Api, ledger: dict[str, Any]) -> None:
    assert_error(api.delete(assets_path(ledger, f"/{uuid7()}")), 404, "0055")


def test_delete_with_a_non_uuid_id_is_0065(api: Api, ledger: dict[str, Any]) -> None:
    assert_error(api.delete(assets_path(ledger, "/123")), 400, "0065")


# --- count -------------------------------------------------------------------------------------


def test_count_reports_the_live_assets_of_the_ledger(
    api: Api, ledger: dict[str, Any], organization: dict[str, Any]
) -> None:
    usd = api.create_asset(ledger, code="USD")
    api.create_asset(ledger, code="EUR")
    api.create_asset(ledger, code="BRL")
    api.create_asset(api.create_ledger(organization["id"]), code="USD")
    assert api.delete(assets_path(ledger, f"/{usd['id']}")).status_code == 204
    response = api.head(assets_path(ledger, "/metrics/count"))
    assert response.status_code == 204
    assert response["X-Total-Count"] == "2"
    assert response.content == b""
    assert response["Content-Length"] == "0"


def test_count_of_an_empty_ledger_is_zero(api: Api, ledger: dict[str, Any]) -> None:
    response = api.head(assets_path(ledger, "/metrics/count"))
    assert response.status_code == 204
    assert response["X-Total-Count"] == "0"


def test_count_in_a_missing_ledger_is_404(api: Api, organization: dict[str, Any]) -> None:
    missing = {"id": str(uuid7()), "organizationId": organization["id"]}
    response = api.head(assets_path(missing, "/metrics/count"))
    assert response.status_code == 404
