"""Accounts and their default balance (MIDAZ_API.md §2.7, §3, ledger settings effects §2.2)."""

from __future__ import annotations

import hashlib
import uuid
from decimal import Decimal
from typing import Any

import pytest
from uuid_utils.compat import uuid7

from onboarding.models import Account
from tests.helpers import Api, assert_error, ledger_path
from transactions.models import Balance

pytestmark = pytest.mark.django_db

ACCOUNT_KEYS = {
    "id",
    "name",
    "parentAccountId",
    "entityId",
    "holderId",
    "assetCode",
    "organizationId",
    "ledgerId",
    "portfolioId",
    "segmentId",
    "status",
    "alias",
    "type",
    "blocked",
    "holderCheckSkipped",
    "createdAt",
    "updatedAt",
    "deletedAt",
}
SELF_HOLDER_NAMESPACE = uuid.UUID("8d9e2c1b-3a47-5f60-9c8b-1d2e3f405162")


# --- helpers -----------------------------------------------------------------------------------


def accounts_path(ledger: dict[str, Any], suffix: str = "") -> str:
    return ledger_path(ledger, f"/accounts{suffix}")


def account_path(ledger: dict[str, Any], account: dict[str, Any]) -> str:
    return accounts_path(ledger, f"/{account['id']}")


def self_holder_id(organization_id: str) -> str:
    """UUIDv5 (SHA-1) of the 16 raw organization-id bytes in Midaz's namespace (§2.1)."""
    data = SELF_HOLDER_NAMESPACE.bytes + uuid.UUID(organization_id).bytes
    digest = hashlib.sha1(data, usedforsecurity=False).digest()
    return str(uuid.UUID(bytes=digest[:16], version=5))


def set_settings(api: Api, ledger: dict[str, Any], settings: dict[str, Any]) -> None:
    api.ok(api.patch(ledger_path(ledger, "/settings"), settings), 200)


def create_portfolio(api: Api, ledger: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body = {"name": "p", "entityId": "E1", **fields}
    return api.ok(api.post(ledger_path(ledger, "/portfolios"), body), 201)


def create_segment(api: Api, ledger: dict[str, Any], name: str = "retail") -> dict[str, Any]:
    return api.ok(api.post(ledger_path(ledger, "/segments"), {"name": name}), 201)


def ledger_balances(ledger: dict[str, Any]) -> int:
    return Balance.all_objects.filter(ledger_id=ledger["id"]).count()


def ledger_accounts(ledger: dict[str, Any]) -> int:
    return Account.all_objects.filter(ledger_id=ledger["id"]).count()


def missing_ledger(organization: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(uuid7()), "organizationId": organization["id"]}


def listed_ids(api: Api, ledger: dict[str, Any], **query: Any) -> list[str]:
    body = api.ok(api.get(accounts_path(ledger), **query), 200)
    return [item["id"] for item in body["items"]]


# --- create ------------------------------------------------------------------------------------


def test_create_returns_201_with_the_account(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    body = api.ok(api.post(accounts_path(ledger), {"assetCode": "USD", "type": "deposit"}), 201)
    assert set(body) == ACCOUNT_KEYS
    assert uuid.UUID(body["id"]).version == 7
    assert body["name"] == "USD deposit account"
    assert body["alias"] == body["id"]
    assert body["assetCode"] == "USD"
    assert body["type"] == "deposit"
    assert body["organizationId"] == ledger["organizationId"]
    assert body["ledgerId"] == ledger["id"]
    assert body["holderId"] == self_holder_id(ledger["organizationId"])
    assert body["status"] == {"code": "ACTIVE", "description": None}
    assert body["blocked"] is False
    assert body["holderCheckSkipped"] is False
    for key in ("parentAccountId", "entityId", "portfolioId", "segmentId", "deletedAt"):
        assert body[key] is None, key
    assert body["createdAt"].endswith("Z")
    stored = Account.objects.get(pk=body["id"])
    assert stored.alias == body["id"]
    assert stored.name == "USD deposit account"
    assert stored.type == "deposit"
    assert stored.asset_code == "USD"
    assert str(stored.holder_id) == body["holderId"]


def test_create_opens_exactly_one_default_credit_balance(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    account = api.create_account(ledger, alias="@alice")
    balances = list(Balance.all_objects.filter(account_id=account["id"]))
    assert len(balances) == 1
    balance = balances[0]
    assert balance.deleted_at is None
    assert balance.key == "default"
    assert balance.direction == "credit"
    assert balance.available == Decimal(0)
    assert balance.on_hold == Decimal(0)
    assert balance.version == 0
    assert balance.allow_sending is True
    assert balance.allow_receiving is True
    assert balance.alias == "@alice"
    assert balance.asset_code == "USD"
    assert balance.account_type == "deposit"
    assert str(balance.ledger_id) == ledger["id"]
    assert str(balance.organization_id) == ledger["organizationId"]


def test_create_balance_alias_is_the_default_alias(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    account = api.create_account(ledger)
    balance = Balance.objects.get(account_id=account["id"])
    assert balance.alias == account["id"] == account["alias"]


def test_create_with_every_optional_field(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    holder = str(uuid.uuid4())
    body = {
        "assetCode": "USD",
        "type": "savings",
        "name": "Alice savings",
        "alias": "@alice:savings_1-a",
        "entityId": "customer-42",
        "holderId": holder,
        "status": {"code": "PENDING", "description": "kyc"},
        "blocked": True,
        "metadata": {"tier": "gold", "score": 7},
    }
    account = api.ok(api.post(accounts_path(ledger), body), 201)
    assert account["name"] == "Alice savings"
    assert account["alias"] == "@alice:savings_1-a"
    assert account["type"] == "savings"
    assert account["entityId"] == "customer-42"
    assert account["holderId"] == holder
    assert account["status"] == {"code": "PENDING", "description": "kyc"}
    assert account["blocked"] is True
    assert account["metadata"] == {"tier": "gold", "score": 7}
    stored = Account.objects.get(pk=account["id"])
    assert stored.alias == "@alice:savings_1-a"
    assert stored.blocked is True
    assert stored.metadata == {"tier": "gold", "score": 7}


def test_create_with_a_null_alias_defaults_to_the_id(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    account = api.create_account(ledger, alias=None)
    assert account["alias"] == account["id"]


def test_create_with_an_unknown_asset_code_is_0034(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    accounts, balances = ledger_accounts(ledger), ledger_balances(ledger)
    response = api.post(accounts_path(ledger), {"assetCode": "EUR", "type": "deposit"})
    assert_error(response, 404, "0034")
    assert ledger_accounts(ledger) == accounts
    assert ledger_balances(ledger) == balances


@pytest.mark.parametrize("missing", ["assetCode", "type"])
def test_create_without_a_required_field_is_0009(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any], missing: str
) -> None:
    body = {"assetCode": "USD", "type": "deposit"}
    del body[missing]
    error = assert_error(api.post(accounts_path(ledger), body), 400, "0009")
    assert missing in error["fields"]


def test_create_with_an_unknown_field_is_0053(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    body = {"assetCode": "USD", "type": "deposit", "balance": "10"}
    assert_error(api.post(accounts_path(ledger), body), 400, "0053")


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"name": "n" * 257}, id="name-too-long"),
        pytest.param({"alias": "a" * 101}, id="alias-too-long"),
        pytest.param({"type": "t" * 257}, id="type-too-long"),
        pytest.param({"entityId": "e" * 257}, id="entity-too-long"),
        pytest.param({"holderId": "not-a-uuid"}, id="holder-not-uuid"),
        pytest.param({"parentAccountId": "not-a-uuid"}, id="parent-not-uuid"),
    ],
)
def test_create_with_a_field_breaking_its_tag_is_0047(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any], fields: dict[str, Any]
) -> None:
    accounts = ledger_accounts(ledger)
    body = {"assetCode": "USD", "type": "deposit", **fields}
    assert_error(api.post(accounts_path(ledger), body), 400, "0047")
    assert ledger_accounts(ledger) == accounts


def test_create_accepts_fields_at_their_maximum_length(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    account = api.create_account(ledger, name="n" * 256, alias="a" * 100, entityId="e" * 256)
    assert (len(account["name"]), len(account["alias"])) == (256, 100)


@pytest.mark.parametrize(
    "fields",
    [{"blocked": "yes"}, {"name": 5}, {"assetCode": ["USD"]}],
    ids=["blocked-string", "name-number", "asset-code-list"],
)
def test_create_with_a_wrong_json_type_is_0094(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any], fields: dict[str, Any]
) -> None:
    body = {"assetCode": "USD", "type": "deposit", **fields}
    assert_error(api.post(accounts_path(ledger), body), 400, "0094")


def test_create_with_malformed_json_is_0094(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    response = api.request("POST", accounts_path(ledger), raw=b'{"assetCode": "USD",')
    assert_error(response, 400, "0094")


def test_create_with_nested_metadata_is_0067(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    body = {"assetCode": "USD", "type": "deposit", "metadata": {"a": {"b": "c"}}}
    assert_error(api.post(accounts_path(ledger), body), 400, "0067")


def test_create_with_the_code_of_a_deleted_asset_is_0034(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    assert api.delete(ledger_path(ledger, f"/assets/{usd['id']}")).status_code == 204
    response = api.post(accounts_path(ledger), {"assetCode": "USD", "type": "deposit"})
    assert_error(response, 404, "0034")


def test_create_with_a_portfolio_of_another_ledger_is_0035(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any], organization: dict[str, Any]
) -> None:
    foreign = create_portfolio(api, api.create_ledger(organization["id"]))
    body = {"assetCode": "USD", "type": "deposit", "portfolioId": foreign["id"]}
    assert_error(api.post(accounts_path(ledger), body), 404, "0035")


def test_create_in_a_missing_ledger_is_0037(api: Api, organization: dict[str, Any]) -> None:
    body = {"assetCode": "USD", "type": "deposit"}
    assert_error(api.post(accounts_path(missing_ledger(organization)), body), 404, "0037")


# --- alias rules -------------------------------------------------------------------------------


def test_create_with_a_taken_alias_is_0020(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    first = api.create_account(ledger, alias="@alice")
    accounts, balances = ledger_accounts(ledger), ledger_balances(ledger)
    response = api.post(accounts_path(ledger), {"assetCode": "USD", "type": "x", "alias": "@alice"})
    assert_error(response, 409, "0020")
    assert ledger_accounts(ledger) == accounts
    assert ledger_balances(ledger) == balances
    assert Account.objects.get(ledger_id=ledger["id"], alias="@alice").pk == uuid.UUID(first["id"])


def test_a_failed_create_leaves_no_balance_row(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    api.create_account(ledger, alias="@alice")
    before = Balance.all_objects.filter(alias="@alice").count()
    response = api.post(accounts_path(ledger), {"assetCode": "USD", "type": "x", "alias": "@alice"})
    assert_error(response, 409, "0020")
    assert Balance.all_objects.filter(alias="@alice").count() == before == 1


def test_a_taken_alias_in_another_ledger_is_fine(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any], organization: dict[str, Any]
) -> None:
    api.create_account(ledger, alias="@alice")
    other = api.create_ledger(organization["id"])
    api.create_asset(other, code="USD")
    account = api.create_account(other, alias="@alice")
    assert account["ledgerId"] == other["id"]


def test_an_alias_is_reusable_after_its_account_is_deleted(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    first = api.create_account(ledger, alias="@alice")
    assert api.delete(account_path(ledger, first)).status_code == 204
    second = api.create_account(ledger, alias="@alice")
    assert second["id"] != first["id"]
    assert Balance.objects.get(alias="@alice", ledger_id=ledger["id"]).account_id == uuid.UUID(
        second["id"]
    )


@pytest.mark.parametrize("alias", ["a b", "x#y", "a/b", "ação", "x.y", "a+b"])
def test_create_with_invalid_alias_characters_is_0096(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any], alias: str
) -> None:
    accounts = ledger_accounts(ledger)
    response = api.post(accounts_path(ledger), {"assetCode": "USD", "type": "x", "alias": alias})
    assert_error(response, 400, "0096")
    assert ledger_accounts(ledger) == accounts


@pytest.mark.parametrize("alias", ["@external/USD", "@external/EUR", "me@external/x"])
def test_create_with_an_alias_containing_external_is_0047(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any], alias: str
) -> None:
    accounts = ledger_accounts(ledger)
    response = api.post(accounts_path(ledger), {"assetCode": "USD", "type": "x", "alias": alias})
    assert_error(response, 400, "0047")
    assert ledger_accounts(ledger) == accounts


def test_create_external_type_without_alias_is_0009(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    accounts = ledger_accounts(ledger)
    response = api.post(accounts_path(ledger), {"assetCode": "USD", "type": "external"})
    assert_error(response, 400, "0009")
    assert ledger_accounts(ledger) == accounts


def test_create_external_type_with_alias_opens_a_debit_balance_and_no_holder(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    account = api.create_account(ledger, type="external", alias="bank-settlement")
    assert account["type"] == "external"
    assert account["holderId"] is None
    balance = Balance.objects.get(account_id=account["id"])
    assert balance.key == "default"
    assert balance.direction == "debit"


# --- references: parent, portfolio, segment ----------------------------------------------------


def test_create_with_a_parent_account(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    parent = api.create_account(ledger)
    child = api.create_account(ledger, parentAccountId=parent["id"])
    assert child["parentAccountId"] == parent["id"]
    assert str(Account.objects.get(pk=child["id"]).parent_account_id) == parent["id"]


def test_create_with_an_unknown_parent_is_0029(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    accounts = ledger_accounts(ledger)
    body = {"assetCode": "USD", "type": "deposit", "parentAccountId": str(uuid7())}
    assert_error(api.post(accounts_path(ledger), body), 400, "0029")
    assert ledger_accounts(ledger) == accounts


def test_create_with_a_parent_of_another_ledger_is_0029(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any], organization: dict[str, Any]
) -> None:
    other = api.create_ledger(organization["id"])
    api.create_asset(other, code="USD")
    foreign = api.create_account(other)
    body = {"assetCode": "USD", "type": "deposit", "parentAccountId": foreign["id"]}
    assert_error(api.post(accounts_path(ledger), body), 400, "0029")


def test_create_with_a_parent_of_another_asset_is_0030(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    api.create_asset(ledger, code="EUR")
    parent = api.create_account(ledger, assetCode="EUR")
    accounts, balances = ledger_accounts(ledger), ledger_balances(ledger)
    body = {"assetCode": "USD", "type": "deposit", "parentAccountId": parent["id"]}
    assert_error(api.post(accounts_path(ledger), body), 422, "0030")
    assert ledger_accounts(ledger) == accounts
    assert ledger_balances(ledger) == balances


def test_create_with_an_unknown_portfolio_is_0035(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    accounts = ledger_accounts(ledger)
    body = {"assetCode": "USD", "type": "deposit", "portfolioId": str(uuid7())}
    assert_error(api.post(accounts_path(ledger), body), 404, "0035")
    assert ledger_accounts(ledger) == accounts


def test_create_with_a_portfolio_copies_its_entity_id(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    portfolio = create_portfolio(api, ledger, entityId="E1")
    account = api.create_account(ledger, portfolioId=portfolio["id"])
    assert account["portfolioId"] == portfolio["id"]
    assert account["entityId"] == "E1"
    stored = Account.objects.get(pk=account["id"])
    assert str(stored.portfolio_id) == portfolio["id"]
    assert stored.entity_id == "E1"


def test_create_with_a_portfolio_keeps_an_explicit_entity_id(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    portfolio = create_portfolio(api, ledger, entityId="E1")
    account = api.create_account(ledger, portfolioId=portfolio["id"], entityId="E2")
    assert account["entityId"] == "E2"


def test_create_with_an_unknown_segment_is_0036(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    accounts = ledger_accounts(ledger)
    body = {"assetCode": "USD", "type": "deposit", "segmentId": str(uuid7())}
    assert_error(api.post(accounts_path(ledger), body), 404, "0036")
    assert ledger_accounts(ledger) == accounts


def test_create_with_a_segment(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> None:
    segment = create_segment(api, ledger)
    account = api.create_account(ledger, segmentId=segment["id"])
    assert account["segmentId"] == segment["id"]
    assert str(Account.objects.get(pk=account["id"]).segment_id) == segment["id"]


# --- ledger settings ---------------------------------------------------------------------------


def test_validate_account_type_refuses_an_unknown_type_with_0066(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    set_settings(api, ledger, {"accounting": {"validateAccountType": True}})
    api.ok(
        api.post(ledger_path(ledger, "/account-types"), {"name": "Deposit", "keyValue": "deposit"}),
        201,
    )
    accounts = ledger_accounts(ledger)
    response = api.post(accounts_path(ledger), {"assetCode": "USD", "type": "savings"})
    assert_error(response, 400, "0066")
    assert ledger_accounts(ledger) == accounts


def test_validate_account_type_accepts_a_known_key_value(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    set_settings(api, ledger, {"accounting": {"validateAccountType": True}})
    api.ok(
        api.post(ledger_path(ledger, "/account-types"), {"name": "Deposit", "keyValue": "deposit"}),
        201,
    )
    account = api.create_account(ledger, type="deposit")
    assert account["type"] == "deposit"


def test_without_validate_account_type_any_type_is_accepted(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    assert api.create_account(ledger, type="anything-goes")["type"] == "anything-goes"


def test_require_holder_without_holder_id_is_0491(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    set_settings(api, ledger, {"accounting": {"requireHolder": True}})
    accounts = ledger_accounts(ledger)
    response = api.post(accounts_path(ledger), {"assetCode": "USD", "type": "deposit"})
    assert_error(response, 422, "0491")
    assert ledger_accounts(ledger) == accounts


def test_require_holder_with_holder_id_is_accepted(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    set_settings(api, ledger, {"accounting": {"requireHolder": True}})
    holder = str(uuid.uuid4())
    assert api.create_account(ledger, holderId=holder)["holderId"] == holder


def test_skip_holder_without_the_override_is_0490(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    accounts = ledger_accounts(ledger)
    body = {"assetCode": "USD", "type": "deposit", "skip": {"holder": True}}
    assert_error(api.post(accounts_path(ledger), body), 422, "0490")
    assert ledger_accounts(ledger) == accounts


def test_skip_holder_with_the_override_is_recorded(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    set_settings(api, ledger, {"overrides": {"allowHolderSkip": True}})
    account = api.create_account(ledger, skip={"holder": True})
    assert account["holderCheckSkipped"] is True
    assert Account.objects.get(pk=account["id"]).holder_check_skipped is True


def test_skip_holder_with_the_override_bypasses_require_holder(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    set_settings(
        api,
        ledger,
        {"accounting": {"requireHolder": True}, "overrides": {"allowHolderSkip": True}},
    )
    account = api.create_account(ledger, skip={"holder": True})
    assert account["holderCheckSkipped"] is True


# --- get ---------------------------------------------------------------------------------------


def test_get_returns_the_account(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> None:
    created = api.create_account(ledger, metadata={"k": "v"})
    assert api.ok(api.get(account_path(ledger, created)), 200) == created


def test_get_a_missing_account_is_0052(api: Api, ledger: dict[str, Any]) -> None:
    assert_error(api.get(accounts_path(ledger, f"/{uuid7()}")), 404, "0052")


def test_get_an_account_of_another_ledger_is_0052(
    api: Api, ledger: dict[str, Any], organization: dict[str, Any]
) -> None:
    other = api.create_ledger(organization["id"])
    api.create_asset(other, code="USD")
    foreign = api.create_account(other)
    assert_error(api.get(account_path(ledger, foreign)), 404, "0052")


def test_get_with_a_non_uuid_id_is_0065(api: Api, ledger: dict[str, Any]) -> None:
    assert_error(api.get(accounts_path(ledger, "/not-a-uuid")), 400, "0065")


def test_get_in_a_missing_ledger_is_0037(api: Api, organization: dict[str, Any]) -> None:
    path = accounts_path(missing_ledger(organization), f"/{uuid7()}")
    assert_error(api.get(path), 404, "0037")


def test_get_by_alias_returns_the_account(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    created = api.create_account(ledger, alias="@alice")
    assert api.ok(api.get(accounts_path(ledger, "/alias/@alice")), 200) == created


def test_get_by_a_missing_alias_is_0085(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    api.create_account(ledger, alias="@alice")
    assert_error(api.get(accounts_path(ledger, "/alias/@bob")), 404, "0085")


def test_get_by_the_alias_of_a_deleted_account_is_0085(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    created = api.create_account(ledger, alias="@alice")
    assert api.delete(account_path(ledger, created)).status_code == 204
    assert_error(api.get(accounts_path(ledger, "/alias/@alice")), 404, "0085")


def test_get_external_returns_the_assets_external_account(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    body = api.ok(api.get(accounts_path(ledger, "/external/USD")), 200)
    assert body["alias"] == "@external/USD"
    assert body["type"] == "external"
    assert body["assetCode"] == "USD"
    assert body["name"] == "External USD"


def test_get_external_of_a_missing_asset_is_0085(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    assert_error(api.get(accounts_path(ledger, "/external/EUR")), 404, "0085")


# --- update ------------------------------------------------------------------------------------


def test_patch_updates_name_status_blocked_and_metadata(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    created = api.create_account(ledger, alias="@alice", metadata={"keep": "1", "drop": "2"})
    patch = {
        "name": "Alice main",
        "status": {"code": "INACTIVE", "description": "dormant"},
        "blocked": True,
        "metadata": {"drop": None, "new": "3"},
    }
    body = api.ok(api.patch(account_path(ledger, created), patch), 200)
    assert body["name"] == "Alice main"
    assert body["status"] == {"code": "INACTIVE", "description": "dormant"}
    assert body["blocked"] is True
    assert body["metadata"] == {"keep": "1", "new": "3"}
    assert body["alias"] == "@alice"
    assert body["createdAt"] == created["createdAt"]
    stored = Account.objects.get(pk=created["id"])
    assert stored.name == "Alice main"
    assert stored.status == "INACTIVE"
    assert stored.blocked is True
    assert stored.metadata == {"keep": "1", "new": "3"}
    assert api.ok(api.get(account_path(ledger, created)), 200) == body


def test_patch_can_unblock(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> None:
    created = api.create_account(ledger, blocked=True)
    body = api.ok(api.patch(account_path(ledger, created), {"blocked": False}), 200)
    assert body["blocked"] is False
    assert Account.objects.get(pk=created["id"]).blocked is False


def test_patch_sets_segment_portfolio_and_entity(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    created = api.create_account(ledger)
    portfolio = create_portfolio(api, ledger)
    segment = create_segment(api, ledger)
    patch = {"portfolioId": portfolio["id"], "segmentId": segment["id"], "entityId": "E9"}
    body = api.ok(api.patch(account_path(ledger, created), patch), 200)
    assert body["portfolioId"] == portfolio["id"]
    assert body["segmentId"] == segment["id"]
    assert body["entityId"] == "E9"
    stored = Account.objects.get(pk=created["id"])
    assert str(stored.portfolio_id) == portfolio["id"]
    assert str(stored.segment_id) == segment["id"]
    assert stored.entity_id == "E9"


def test_patch_with_explicit_nulls_clears_segment_portfolio_and_entity(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    portfolio = create_portfolio(api, ledger)
    segment = create_segment(api, ledger)
    created = api.create_account(
        ledger, portfolioId=portfolio["id"], segmentId=segment["id"], entityId="E9"
    )
    patch = {"portfolioId": None, "segmentId": None, "entityId": None}
    body = api.ok(api.patch(account_path(ledger, created), patch), 200)
    assert body["portfolioId"] is None
    assert body["segmentId"] is None
    assert body["entityId"] is None
    stored = Account.objects.get(pk=created["id"])
    assert (stored.portfolio_id, stored.segment_id, stored.entity_id) == (None, None, None)


def test_patch_leaves_omitted_fields_unchanged(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    portfolio = create_portfolio(api, ledger)
    created = api.create_account(
        ledger, name="kept", portfolioId=portfolio["id"], metadata={"a": "1"}
    )
    body = api.ok(api.patch(account_path(ledger, created), {"blocked": True}), 200)
    assert body["name"] == "kept"
    assert body["portfolioId"] == portfolio["id"]
    assert body["entityId"] == "E1"
    assert body["metadata"] == {"a": "1"}


@pytest.mark.parametrize(
    "field",
    [
        {"alias": "@other"},
        {"assetCode": "EUR"},
        {"type": "savings"},
        {"parentAccountId": "01900000-0000-7000-8000-000000000000"},
    ],
    ids=["alias", "assetCode", "type", "parentAccountId"],
)
def test_patch_of_an_immutable_field_is_0053(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any], field: dict[str, Any]
) -> None:
    created = api.create_account(ledger, alias="@alice")
    assert_error(api.patch(account_path(ledger, created), field), 400, "0053")
    stored = Account.objects.get(pk=created["id"])
    assert (stored.alias, stored.asset_code, stored.type) == ("@alice", "USD", "deposit")
    assert stored.parent_account_id is None


def test_patch_of_the_external_account_is_0074(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    external = api.ok(api.get(accounts_path(ledger, "/external/USD")), 200)
    assert_error(api.patch(account_path(ledger, external), {"name": "mine"}), 422, "0074")
    assert Account.objects.get(pk=external["id"]).name == "External USD"


def test_patch_a_missing_account_is_0052(api: Api, ledger: dict[str, Any]) -> None:
    assert_error(api.patch(accounts_path(ledger, f"/{uuid7()}"), {"name": "x"}), 404, "0052")


def test_patch_with_a_non_uuid_id_is_0065(api: Api, ledger: dict[str, Any]) -> None:
    assert_error(api.patch(accounts_path(ledger, "/abc"), {"name": "x"}), 400, "0065")


# --- delete ------------------------------------------------------------------------------------


def test_delete_soft_deletes_the_account_and_its_balances(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    created = api.create_account(ledger, alias="@alice")
    response = api.delete(account_path(ledger, created))
    assert response.status_code == 204
    assert response.content == b""
    assert Account.all_objects.get(pk=created["id"]).deleted_at is not None
    balances = list(Balance.all_objects.filter(account_id=created["id"]))
    assert len(balances) == 1
    assert balances[0].deleted_at is not None
    assert_error(api.get(account_path(ledger, created)), 404, "0052")


def test_delete_soft_deletes_every_balance_of_the_account(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    created = api.create_account(ledger, alias="@alice")
    default = Balance.objects.get(account_id=created["id"])
    Balance.objects.create(
        organization_id=default.organization_id,
        ledger_id=default.ledger_id,
        account_id=default.account_id,
        alias=default.alias,
        key="savings",
        asset_code="USD",
        account_type="deposit",
    )
    assert api.delete(account_path(ledger, created)).status_code == 204
    balances = list(Balance.all_objects.filter(account_id=created["id"]))
    assert len(balances) == 2
    assert all(balance.deleted_at is not None for balance in balances)


def test_delete_leaves_other_accounts_alone(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    alice = api.create_account(ledger, alias="@alice")
    bob = api.create_account(ledger, alias="@bob")
    assert api.delete(account_path(ledger, alice)).status_code == 204
    assert Account.objects.filter(pk=bob["id"]).exists()
    assert Balance.objects.filter(account_id=bob["id"]).count() == 1


@pytest.mark.fakes_ledger_state
@pytest.mark.parametrize(
    "funds",
    [{"available": Decimal("10")}, {"on_hold": Decimal("5")}, {"available": Decimal("-3")}],
    ids=["available", "on-hold", "negative-available"],
)
def test_delete_with_funds_in_the_default_balance_is_0012(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any], funds: dict[str, Decimal]
) -> None:
    created = api.create_account(ledger, alias="@alice")
    Balance.objects.filter(account_id=created["id"]).update(**funds)
    assert_error(api.delete(account_path(ledger, created)), 422, "0012")
    assert Account.objects.filter(pk=created["id"]).exists()
    assert Balance.objects.filter(account_id=created["id"]).count() == 1
    api.ok(api.get(account_path(ledger, created)), 200)


@pytest.mark.fakes_ledger_state
def test_delete_with_funds_in_an_additional_balance_is_0012(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    created = api.create_account(ledger, alias="@alice")
    default = Balance.objects.get(account_id=created["id"])
    Balance.objects.create(
        organization_id=default.organization_id,
        ledger_id=default.ledger_id,
        account_id=default.account_id,
        alias=default.alias,
        key="savings",
        asset_code="USD",
        account_type="deposit",
        available=Decimal("1"),
    )
    assert_error(api.delete(account_path(ledger, created)), 422, "0012")
    assert Account.objects.filter(pk=created["id"]).exists()
    assert Balance.objects.filter(account_id=created["id"]).count() == 2


def test_delete_of_the_external_account_is_0074(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    external = api.ok(api.get(accounts_path(ledger, "/external/USD")), 200)
    assert_error(api.delete(account_path(ledger, external)), 422, "0074")
    assert Account.objects.filter(pk=external["id"]).exists()
    assert Balance.objects.filter(account_id=external["id"]).count() == 1


def test_delete_twice_is_0052(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> None:
    created = api.create_account(ledger)
    assert api.delete(account_path(ledger, created)).status_code == 204
    assert_error(api.delete(account_path(ledger, created)), 404, "0052")


def test_delete_a_missing_account_is_0052(api: Api, ledger: dict[str, Any]) -> None:
    assert_error(api.delete(accounts_path(ledger, f"/{uuid7()}")), 404, "0052")


def test_delete_with_a_non_uuid_id_is_0065(api: Api, ledger: dict[str, Any]) -> None:
    assert_error(api.delete(accounts_path(ledger, "/abc")), 400, "0065")


# --- list --------------------------------------------------------------------------------------


def test_list_returns_the_accounts_of_the_ledger_in_id_order(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any], organization: dict[str, Any]
) -> None:
    external = api.ok(api.get(accounts_path(ledger, "/external/USD")), 200)
    alice = api.create_account(ledger, alias="@alice")
    bob = api.create_account(ledger, alias="@bob")
    other = api.create_ledger(organization["id"])
    api.create_asset(other, code="USD")
    api.create_account(other, alias="@carol")
    body = api.ok(api.get(accounts_path(ledger)), 200)
    assert body["limit"] == 10
    assert body["page"] == 1
    assert body["items"] == [external, alice, bob]


def test_list_excludes_deleted_accounts(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    alice = api.create_account(ledger, alias="acc-alice")
    bob = api.create_account(ledger, alias="acc-bob")
    assert api.delete(account_path(ledger, alice)).status_code == 204
    assert listed_ids(api, ledger, alias="acc-") == [bob["id"]]


def test_list_filters_by_portfolio(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> None:
    portfolio = create_portfolio(api, ledger)
    inside = api.create_account(ledger, portfolioId=portfolio["id"])
    api.create_account(ledger)
    assert listed_ids(api, ledger, portfolio_id=portfolio["id"]) == [inside["id"]]


def test_list_filters_by_segment(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> None:
    segment = create_segment(api, ledger)
    inside = api.create_account(ledger, segmentId=segment["id"])
    api.create_account(ledger)
    assert listed_ids(api, ledger, segment_id=segment["id"]) == [inside["id"]]


def test_list_filters_by_parent_account(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    parent = api.create_account(ledger)
    first = api.create_account(ledger, parentAccountId=parent["id"])
    second = api.create_account(ledger, parentAccountId=parent["id"])
    api.create_account(ledger)
    assert listed_ids(api, ledger, parent_account_id=parent["id"]) == [first["id"], second["id"]]


@pytest.mark.parametrize("param", ["portfolio_id", "segment_id", "parent_account_id"])
def test_list_with_a_non_uuid_id_filter_is_0082(
    api: Api, ledger: dict[str, Any], param: str
) -> None:
    assert_error(api.get(accounts_path(ledger), **{param: "not-a-uuid"}), 400, "0082")


@pytest.mark.parametrize("query", ["ACTIVE", "INACTIVE", "BLOCKED", "inactive", "Blocked"])
def test_list_filters_by_status(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any], query: str
) -> None:
    ids = {
        code: api.create_account(ledger, status={"code": code})["id"]
        for code in ("ACTIVE", "INACTIVE", "BLOCKED")
    }
    assert listed_ids(api, ledger, status=query) == [ids[query.upper()]]


@pytest.mark.parametrize("status", ["PENDING", "DELETED", "open"])
def test_list_with_an_unknown_status_is_0082(api: Api, ledger: dict[str, Any], status: str) -> None:
    assert_error(api.get(accounts_path(ledger), status=status), 400, "0082")


@pytest.mark.parametrize("query", ["savings", "SAVINGS"])
def test_list_filters_by_type(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any], query: str
) -> None:
    savings = api.create_account(ledger, type="savings")
    api.create_account(ledger, type="deposit")
    assert listed_ids(api, ledger, type=query) == [savings["id"]]


def test_list_filters_by_external_type(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    external = api.ok(api.get(accounts_path(ledger, "/external/USD")), 200)
    api.create_account(ledger)
    assert listed_ids(api, ledger, type="external") == [external["id"]]


@pytest.mark.parametrize("query", ["EUR", "eur"])
def test_list_filters_by_asset_code(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any], query: str
) -> None:
    api.create_asset(ledger, code="EUR")
    api.create_account(ledger, assetCode="USD")
    euro = api.create_account(ledger, assetCode="EUR")
    external_eur = api.ok(api.get(accounts_path(ledger, "/external/EUR")), 200)
    assert sorted(listed_ids(api, ledger, asset_code=query)) == sorted(
        [euro["id"], external_eur["id"]]
    )


def test_list_filters_by_entity_id(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> None:
    match = api.create_account(ledger, entityId="customer-1")
    api.create_account(ledger, entityId="customer-10")
    api.create_account(ledger)
    assert listed_ids(api, ledger, entity_id="customer-1") == [match["id"]]


@pytest.mark.parametrize(("query", "blocked"), [("true", True), ("1", True), ("false", False)])
def test_list_filters_by_blocked(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any], query: str, blocked: bool
) -> None:
    locked = api.create_account(ledger, blocked=True, alias="acc-locked")
    free = api.create_account(ledger, blocked=False, alias="acc-free")
    ids = listed_ids(api, ledger, blocked=query, alias="acc-")
    assert ids == ([locked["id"]] if blocked else [free["id"]])


def test_list_filters_by_blocked_zero(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    api.create_account(ledger, blocked=True, alias="acc-locked")
    free = api.create_account(ledger, alias="acc-free")
    assert listed_ids(api, ledger, blocked="0", alias="acc-") == [free["id"]]


@pytest.mark.parametrize("value", ["yes", "maybe", "2"])
def test_list_with_an_invalid_blocked_filter_is_0082(
    api: Api, ledger: dict[str, Any], value: str
) -> None:
    assert_error(api.get(accounts_path(ledger), blocked=value), 400, "0082")


@pytest.mark.parametrize("query", ["Main", "main", "MAIN acc", "  main "])
def test_list_filters_by_name_prefix_case_insensitively(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any], query: str
) -> None:
    match = api.create_account(ledger, name="Main account")
    api.create_account(ledger, name="Secondary main")
    assert listed_ids(api, ledger, name=query) == [match["id"]]


@pytest.mark.parametrize("query", ["@ali", "@ALI", "@Alice"])
def test_list_filters_by_alias_prefix_case_insensitively(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any], query: str
) -> None:
    alice = api.create_account(ledger, alias="@alice")
    api.create_account(ledger, alias="@bob")
    api.create_account(ledger, alias="x@alice")
    assert listed_ids(api, ledger, alias=query) == [alice["id"]]


def test_list_filters_by_metadata(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> None:
    gold = api.create_account(ledger, metadata={"tier": "gold"})
    api.create_account(ledger, metadata={"tier": "silver"})
    api.create_account(ledger)
    assert listed_ids(api, ledger, **{"metadata.tier": "gold"}) == [gold["id"]]


def test_list_with_a_metadata_filter_matching_nothing_is_0064(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    api.create_account(ledger, metadata={"tier": "gold"})
    assert_error(api.get(accounts_path(ledger), **{"metadata.tier": "bronze"}), 404, "0064")


def test_list_with_metadata_and_name_filters_is_0082(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    api.create_account(ledger, name="Main", metadata={"tier": "gold"})
    query = {"metadata.tier": "gold", "name": "Main"}
    assert_error(api.get(accounts_path(ledger), **query), 400, "0082")


def test_list_without_match_for_a_plain_filter_is_an_empty_page(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    api.create_account(ledger, type="deposit")
    assert listed_ids(api, ledger, type="loan") == []


def test_list_in_a_missing_ledger_is_0037(api: Api, organization: dict[str, Any]) -> None:
    assert_error(api.get(accounts_path(missing_ledger(organization))), 404, "0037")


# --- count -------------------------------------------------------------------------------------


def test_count_reports_live_accounts_including_external_ones(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any], organization: dict[str, Any]
) -> None:
    alice = api.create_account(ledger)
    api.create_account(ledger)
    api.create_account(ledger)
    other = api.create_ledger(organization["id"])
    api.create_asset(other, code="USD")
    api.create_account(other)
    assert api.delete(account_path(ledger, alice)).status_code == 204
    response = api.head(accounts_path(ledger, "/metrics/count"))
    assert response.status_code == 204
    assert response["X-Total-Count"] == "3"  # two accounts plus @external/USD
    assert response.content == b""
    assert response["Content-Length"] == "0"


def test_count_of_an_empty_ledger_is_zero(api: Api, ledger: dict[str, Any]) -> None:
    response = api.head(accounts_path(ledger, "/metrics/count"))
    assert response.status_code == 204
    assert response["X-Total-Count"] == "0"


def test_count_in_a_missing_ledger_is_404(api: Api, organization: dict[str, Any]) -> None:
    response = api.head(accounts_path(missing_ledger(organization), "/metrics/count"))
    assert response.status_code == 404
