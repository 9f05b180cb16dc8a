"""Account types (MIDAZ_API.md §2.6): CRUD, keyValue rules (0120, 0108, immutable) and the
cursor + page list envelope."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from uuid_utils.compat import uuid7

from onboarding.models import AccountType
from tests.helpers import Api, assert_error, ledger_path

pytestmark = pytest.mark.django_db


def body_of(response: Any) -> Any:
    return orjson.loads(response.content)


def types_path(ledger: dict[str, Any], suffix: str = "") -> str:
    return ledger_path(ledger, "/account-types" + suffix)


def create(
    api: Api, ledger: dict[str, Any], key: str = "checking", **fields: Any
) -> dict[str, Any]:
    body = {"name": f"Type {key}", "keyValue": key, **fields}
    return api.ok(api.post(types_path(ledger), body), 201)


# --- create ------------------------------------------------------------------------------------


def test_create_returns_201_with_the_account_type(api: Api, ledger: dict[str, Any]) -> None:
    body = create(
        api,
        ledger,
        "current_assets-1",
        name="Current assets",
        description="Cash and equivalents",
        metadata={"group": "assets"},
    )
    assert uuid.UUID(body["id"]).version == 7
    assert body["organizationId"] == ledger["organizationId"]
    assert body["ledgerId"] == ledger["id"]
    assert body["name"] == "Current assets"
    assert body["description"] == "Cash and equivalents"
    assert body["keyValue"] == "current_assets-1"
    assert body["metadata"] == {"group": "assets"}
    assert body["deletedAt"] is None
    assert body["createdAt"].endswith("Z")
    assert body["updatedAt"].endswith("Z")
    stored = AccountType.objects.get(pk=body["id"])
    assert stored.key_value == "current_assets-1"
    assert stored.name == "Current assets"
    assert stored.description == "Cash and equivalents"
    assert stored.metadata == {"group": "assets"}
    assert api.ok(api.get(types_path(ledger, f"/{body['id']}")), 200) == body


def test_create_without_description_omits_it(api: Api, ledger: dict[str, Any]) -> None:
    body = create(api, ledger)
    assert "description" not in body
    assert "metadata" not in body
    empty = create(api, ledger, "other", description="")
    assert "description" not in empty
    fetched = api.ok(api.get(types_path(ledger, f"/{empty['id']}")), 200)
    assert "description" not in fetched


@pytest.mark.parametrize(
    ("body", "missing"),
    [
        ({"keyValue": "k"}, "name"),
        ({"name": "n"}, "keyValue"),
        ({"name": "n", "keyValue": ""}, "keyValue"),
    ],
)
def test_create_without_required_field_is_0009(
    api: Api, ledger: dict[str, Any], body: dict[str, Any], missing: str
) -> None:
    error = assert_error(api.post(types_path(ledger), body), 400, "0009")
    assert missing in error["fields"]
    assert AccountType.objects.count() == 0


@pytest.mark.parametrize("key", ["has space", "dot.ted", "slash/key", "acentuação", "a@b", "$"])
def test_create_key_value_with_invalid_characters_is_0120(
    api: Api, ledger: dict[str, Any], key: str
) -> None:
    response = api.post(types_path(ledger), {"name": "n", "keyValue": key})
    assert_error(response, 400, "0120")
    assert AccountType.objects.count() == 0


@pytest.mark.parametrize("key", ["a", "A-Z_09", "k" * 50, "-_-"])
def test_create_key_value_with_allowed_characters(
    api: Api, ledger: dict[str, Any], key: str
) -> None:
    assert create(api, ledger, key)["keyValue"] == key


@pytest.mark.parametrize(
    "body",
    [
        {"name": "n", "keyValue": "k" * 51},
        {"name": "n" * 101, "keyValue": "k"},
        {"name": "n", "keyValue": "k", "description": "d" * 501},
    ],
)
def test_create_field_too_long_is_0047(api: Api, ledger: dict[str, Any], body: Any) -> None:
    assert_error(api.post(types_path(ledger), body), 400, "0047")
    assert AccountType.objects.count() == 0


def test_create_at_maximum_lengths(api: Api, ledger: dict[str, Any]) -> None:
    body = create(api, ledger, "k" * 50, name="n" * 100, description="d" * 500)
    assert (len(body["name"]), len(body["description"])) == (100, 500)


def test_create_duplicate_key_value_is_0108(api: Api, ledger: dict[str, Any]) -> None:
    create(api, ledger, "checking")
    response = api.post(types_path(ledger), {"name": "again", "keyValue": "checking"})
    assert_error(response, 409, "0108")
    assert AccountType.objects.filter(key_value="checking").count() == 1


def test_same_key_value_in_another_ledger_is_fine(
    api: Api, ledger: dict[str, Any], organization: dict[str, Any]
) -> None:
    create(api, ledger, "checking")
    other = api.create_ledger(organization["id"])
    assert create(api, other, "checking")["ledgerId"] == other["id"]


def test_key_value_of_a_deleted_type_can_be_reused(api: Api, ledger: dict[str, Any]) -> None:
    old = create(api, ledger, "checking")
    assert api.delete(types_path(ledger, f"/{old['id']}")).status_code == 204
    assert create(api, ledger, "checking")["id"] != old["id"]


# --- get ---------------------------------------------------------------------------------------


def test_get_unknown_account_type_is_0109(api: Api, ledger: dict[str, Any]) -> None:
    assert_error(api.get(types_path(ledger, f"/{uuid7()}")), 404, "0109")


def test_get_with_non_uuid_id_is_0065(api: Api, ledger: dict[str, Any]) -> None:
    assert_error(api.get(types_path(ledger, "/checking")), 400, "0065")


def test_get_from_another_ledger_is_0109(
    api: Api, ledger: dict[str, Any], organization: dict[str, Any]
) -> None:
    account_type = create(api, ledger)
    other = api.create_ledger(organization["id"])
    assert_error(api.get(types_path(other, f"/{account_type['id']}")), 404, "0109")


# --- update ------------------------------------------------------------------------------------


def test_patch_updates_name_description_and_metadata(api: Api, ledger: dict[str, Any]) -> None:
    account_type = create(api, ledger, description="old", metadata={"x": "1", "y": "2"})
    body = api.ok(
        api.patch(
            types_path(ledger, f"/{account_type['id']}"),
            {"name": "Renamed", "description": "new", "metadata": {"x": None, "z": False}},
        ),
        200,
    )
    assert body["name"] == "Renamed"
    assert body["description"] == "new"
    assert body["keyValue"] == "checking"
    assert body["metadata"] == {"y": "2", "z": False}
    stored = AccountType.objects.get(pk=account_type["id"])
    assert (stored.name, stored.description, stored.key_value) == ("Renamed", "new", "checking")
    assert stored.metadata == {"y": "2", "z": False}
    assert api.ok(api.get(types_path(ledger, f"/{account_type['id']}")), 200) == body


def test_patch_metadata_null_clears_it(api: Api, ledger: dict[str, Any]) -> None:
    account_type = create(api, ledger, metadata={"x": "1"})
    body = api.ok(api.patch(types_path(ledger, f"/{account_type['id']}"), {"metadata": None}), 200)
    assert "metadata" not in body
    assert not AccountType.objects.get(pk=account_type["id"]).metadata


def test_patch_key_value_is_refused_with_0053(api: Api, ledger: dict[str, Any]) -> None:
    account_type = create(api, ledger, "checking")
    response = api.patch(types_path(ledger, f"/{account_type['id']}"), {"keyValue": "savings"})
    error = assert_error(response, 400, "0053")
    assert "keyValue" in error["fields"]
    assert AccountType.objects.get(pk=account_type["id"]).key_value == "checking"


@pytest.mark.parametrize("body", [{"name": "n" * 101}, {"description": "d" * 501}])
def test_patch_field_too_long_is_0047(api: Api, ledger: dict[str, Any], body: Any) -> None:
    account_type = create(api, ledger)
    assert_error(api.patch(types_path(ledger, f"/{account_type['id']}"), body), 400, "0047")
    assert AccountType.objects.get(pk=account_type["id"]).name == account_type["name"]


def test_patch_unknown_account_type_is_0109(api: Api, ledger: dict[str, Any]) -> None:
    assert_error(api.patch(types_path(ledger, f"/{uuid7()}"), {"name": "x"}), 404, "0109")


# --- delete ------------------------------------------------------------------------------------


def test_delete_is_soft_and_then_404(api: Api, ledger: dict[str, Any]) -> None:
    account_type = create(api, ledger)
    path = types_path(ledger, f"/{account_type['id']}")
    response = api.delete(path)
    assert response.status_code == 204
    assert response.content == b""
    assert_error(api.get(path), 404, "0109")
    assert_error(api.delete(path), 404, "0109")
    assert AccountType.all_objects.get(pk=account_type["id"]).deleted_at is not None
    assert body_of(api.get(types_path(ledger)))["items"] == []


# --- list --------------------------------------------------------------------------------------


def test_list_envelope_is_cursor_plus_page(api: Api, ledger: dict[str, Any]) -> None:
    created = [create(api, ledger, f"k{i}") for i in range(3)]
    body = api.ok(api.get(types_path(ledger)), 200)
    assert body["limit"] == 10
    assert body["page"] == 1
    assert "prev_cursor" not in body
    assert "next_cursor" not in body
    assert set(body) == {"items", "limit", "page"}
    assert [item["id"] for item in body["items"]] == [t["id"] for t in created]
    assert body["items"][0] == created[0]


def test_list_empty_is_200_with_empty_items(api: Api, ledger: dict[str, Any]) -> None:
    body = api.ok(api.get(types_path(ledger)), 200)
    assert body["items"] == []


def test_list_is_scoped_to_the_ledger(
    api: Api, ledger: dict[str, Any], organization: dict[str, Any]
) -> None:
    mine = create(api, ledger, "mine")
    create(api, api.create_ledger(organization["id"]), "theirs")
    body = api.ok(api.get(types_path(ledger)), 200)
    assert [item["id"] for item in body["items"]] == [mine["id"]]


def test_list_filters_by_key_value(api: Api, ledger: dict[str, Any]) -> None:
    create(api, ledger, "checking")
    savings = create(api, ledger, "savings")
    body = api.ok(api.get(types_path(ledger), key_value="savings"), 200)
    assert [item["id"] for item in body["items"]] == [savings["id"]]


def test_list_filters_by_metadata(api: Api, ledger: dict[str, Any]) -> None:
    match = create(api, ledger, "a", metadata={"group": "assets"})
    create(api, ledger, "b", metadata={"group": "liabilities"})
    body = api.ok(api.get(types_path(ledger), **{"metadata.group": "assets"}), 200)
    assert [item["id"] for item in body["items"]] == [match["id"]]


def test_list_metadata_filter_without_match_is_0110(api: Api, ledger: dict[str, Any]) -> None:
    create(api, ledger, "a", metadata={"group": "assets"})
    assert_error(api.get(types_path(ledger), **{"metadata.group": "equity"}), 404, "0110")


def test_there_is_no_count_endpoint(api: Api, ledger: dict[str, Any]) -> None:
    create(api, ledger)
    response = api.head(types_path(ledger, "/metrics/count"))
    assert response.status_code != 204
    assert "X-Total-Count" not in response
