"""Ledgers and their settings (MIDAZ_API.md §2.2)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import orjson
import pytest
from uuid_utils.compat import uuid7

from onboarding.models import Ledger
from tests.helpers import Api, assert_error, ledger_path

pytestmark = pytest.mark.django_db

DEFAULT_SETTINGS: dict[str, dict[str, Any]] = {
    "accounting": {"validateAccountType": False, "validateRoutes": False, "requireHolder": False},
    "tracer": {"mode": "off", "failPosture": "open", "timeoutMs": 250},
    "overrides": {"allowFeeSkip": False, "allowTracerSkip": False, "allowHolderSkip": False},
}

# (settings document, Midaz code) pairs shared by create and PATCH /settings
INVALID_SETTINGS = [
    pytest.param({"bogus": {}}, "0147", id="unknown-section"),
    pytest.param({"accounting": {"bogus": True}}, "0147", id="unknown-field"),
    pytest.param({"validateRoutes": True}, "0149", id="field-at-root"),
    pytest.param({"mode": "enforce"}, "0149", id="tracer-field-at-root"),
    pytest.param({"accounting": {"validateRoutes": "yes"}}, "0148", id="bool-as-string"),
    pytest.param({"tracer": {"timeoutMs": "250"}}, "0148", id="int-as-string"),
    pytest.param({"tracer": {"mode": 1}}, "0148", id="string-as-int"),
    pytest.param({"accounting": True}, "0148", id="section-not-object"),
    pytest.param({"tracer": {"mode": "loud"}}, "0176", id="bad-mode"),
    pytest.param({"tracer": {"failPosture": "half"}}, "0176", id="bad-fail-posture"),
]


def ledgers_path(org_id: str, suffix: str = "") -> str:
    return f"/organizations/{org_id}/ledgers{suffix}"


def with_changes(**sections: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(DEFAULT_SETTINGS)
    for section, fields in sections.items():
        doc[section].update(fields)
    return doc


# --- create ------------------------------------------------------------------------------------


def test_create_returns_201_with_the_ledger(api: Api, organization: dict[str, Any]) -> None:
    response = api.post(
        ledgers_path(organization["id"]), {"name": "Main Ledger", "metadata": {"team": "ops"}}
    )
    body = api.ok(response, 201)
    assert body["name"] == "Main Ledger"
    assert body["organizationId"] == organization["id"]
    assert body["status"]["code"] == "ACTIVE"
    assert body["metadata"] == {"team": "ops"}
    assert body["deletedAt"] is None
    assert uuid.UUID(body["id"]).version == 7
    assert body["createdAt"].endswith("Z")
    assert body["updatedAt"].endswith("Z")
    stored = Ledger.objects.get(pk=body["id"])
    assert stored.name == "Main Ledger"
    assert str(stored.organization_id) == organization["id"]
    assert api.ok(api.get(ledger_path(body)), 200) == body


def test_create_without_settings_omits_settings(api: Api, organization: dict[str, Any]) -> None:
    body = api.create_ledger(organization["id"])
    assert "settings" not in body


def test_create_with_null_settings_is_accepted(api: Api, organization: dict[str, Any]) -> None:
    body = api.create_ledger(organization["id"], settings=None)
    assert "settings" not in body
    assert api.ok(api.get(ledger_path(body, "/settings")), 200) == DEFAULT_SETTINGS


def test_create_with_default_settings_values_omits_settings(
    api: Api, organization: dict[str, Any]
) -> None:
    body = api.create_ledger(organization["id"], settings={"tracer": {"mode": "off"}})
    assert "settings" not in body


def test_create_with_settings_stores_and_returns_them(
    api: Api, organization: dict[str, Any]
) -> None:
    body = api.create_ledger(
        organization["id"],
        settings={"accounting": {"validateRoutes": True}, "tracer": {"mode": "advisory"}},
    )
    assert body["settings"]["accounting"]["validateRoutes"] is True
    assert body["settings"]["tracer"]["mode"] == "advisory"
    effective = api.ok(api.get(ledger_path(body, "/settings")), 200)
    assert effective == with_changes(
        accounting={"validateRoutes": True}, tracer={"mode": "advisory"}
    )


@pytest.mark.parametrize(("document", "code"), INVALID_SETTINGS)
def test_create_with_invalid_settings_is_rejected(
    api: Api, organization: dict[str, Any], document: dict[str, Any], code: str
) -> None:
    response = api.post(ledgers_path(organization["id"]), {"name": "L", "settings": document})
    assert_error(response, 400, code)
    assert Ledger.objects.count() == 0


def test_create_in_unknown_organization_is_0038(api: Api) -> None:
    assert_error(api.post(ledgers_path(str(uuid7())), {"name": "L"}), 404, "0038")
    assert Ledger.objects.count() == 0


def test_create_in_deleted_organization_is_0038(api: Api, organization: dict[str, Any]) -> None:
    api.delete(f"/organizations/{organization['id']}")
    assert_error(api.post(ledgers_path(organization["id"]), {"name": "L"}), 404, "0038")


def test_create_with_non_uuid_organization_is_0065(api: Api) -> None:
    assert_error(api.post(ledgers_path("nope"), {"name": "L"}), 400, "0065")


def test_create_without_name_is_0009(api: Api, organization: dict[str, Any]) -> None:
    assert_error(api.post(ledgers_path(organization["id"]), {}), 400, "0009")


def test_create_with_over_long_name_is_0047(api: Api, organization: dict[str, Any]) -> None:
    assert_error(api.post(ledgers_path(organization["id"]), {"name": "n" * 257}), 400, "0047")


def test_create_with_wrong_type_is_0094(api: Api, organization: dict[str, Any]) -> None:
    assert_error(api.post(ledgers_path(organization["id"]), {"name": 5}), 400, "0094")


def test_create_with_unknown_field_is_0053(api: Api, organization: dict[str, Any]) -> None:
    response = api.post(ledgers_path(organization["id"]), {"name": "L", "color": "red"})
    assert_error(response, 400, "0053")


@pytest.mark.parametrize("duplicate", ["Main", "MAIN", "main"])
def test_create_with_duplicate_name_is_0002(
    api: Api, organization: dict[str, Any], duplicate: str
) -> None:
    api.create_ledger(organization["id"], name="Main")
    response = api.post(ledgers_path(organization["id"]), {"name": duplicate})
    assert_error(response, 409, "0002")
    assert Ledger.objects.filter(organization_id=organization["id"]).count() == 1


def test_same_name_in_another_organization_is_allowed(
    api: Api, organization: dict[str, Any]
) -> None:
    other = api.create_organization(legalName="Other Org")
    api.create_ledger(organization["id"], name="Main")
    body = api.create_ledger(other["id"], name="Main")
    assert body["organizationId"] == other["id"]


def test_deleted_ledger_name_can_be_reused(api: Api, organization: dict[str, Any]) -> None:
    first = api.create_ledger(organization["id"], name="Main")
    assert api.delete(ledger_path(first)).status_code == 204
    second = api.create_ledger(organization["id"], name="main")
    assert second["id"] != first["id"]


# --- get ---------------------------------------------------------------------------------------


def test_get_returns_the_ledger(api: Api, ledger: dict[str, Any]) -> None:
    body = api.ok(api.get(ledger_path(ledger)), 200)
    assert body["id"] == ledger["id"]
    assert body["name"] == ledger["name"]
    assert body["organizationId"] == ledger["organizationId"]


def test_get_unknown_ledger_is_0037(api: Api, organization: dict[str, Any]) -> None:
    response = api.get(ledgers_path(organization["id"], f"/{uuid7()}"))
    body = assert_error(response, 404, "0037")
    assert body.get("entityType") == "Ledger"


def test_get_ledger_of_another_organization_is_0037(api: Api, ledger: dict[str, Any]) -> None:
    other = api.create_organization(legalName="Other Org")
    assert_error(api.get(ledgers_path(other["id"], f"/{ledger['id']}")), 404, "0037")


def test_get_with_non_uuid_ledger_id_is_0065(api: Api, organization: dict[str, Any]) -> None:
    assert_error(api.get(ledgers_path(organization["id"], "/not-a-uuid")), 400, "0065")


# --- update ------------------------------------------------------------------------------------


def test_patch_updates_name_status_and_metadata(api: Api, organization: dict[str, Any]) -> None:
    ledger = api.create_ledger(organization["id"], name="Old", metadata={"a": "1", "b": "2"})
    body = api.ok(
        api.patch(
            ledger_path(ledger),
            {
                "name": "New",
                "status": {"code": "INACTIVE", "description": "frozen"},
                "metadata": {"b": None, "c": 3},
            },
        ),
        200,
    )
    assert body["name"] == "New"
    assert body["status"] == {"code": "INACTIVE", "description": "frozen"}
    assert body["metadata"] == {"a": "1", "c": 3}
    fetched = api.ok(api.get(ledger_path(ledger)), 200)
    assert fetched["name"] == "New"
    assert fetched["status"]["code"] == "INACTIVE"
    assert fetched["metadata"] == {"a": "1", "c": 3}
    stored = Ledger.objects.get(pk=ledger["id"])
    assert stored.name == "New"
    assert stored.metadata == {"a": "1", "c": 3}


def test_patch_without_metadata_keeps_it(api: Api, organization: dict[str, Any]) -> None:
    ledger = api.create_ledger(organization["id"], metadata={"a": "1"})
    api.ok(api.patch(ledger_path(ledger), {"name": "Renamed"}), 200)
    assert api.ok(api.get(ledger_path(ledger)), 200)["metadata"] == {"a": "1"}


def test_patch_metadata_null_clears_it(api: Api, organization: dict[str, Any]) -> None:
    ledger = api.create_ledger(organization["id"], metadata={"a": "1"})
    api.ok(api.patch(ledger_path(ledger), {"metadata": None}), 200)
    assert not api.ok(api.get(ledger_path(ledger)), 200).get("metadata")


def test_patch_with_settings_is_0053(api: Api, ledger: dict[str, Any]) -> None:
    body = {"settings": {"accounting": {"validateRoutes": True}}}
    assert_error(api.patch(ledger_path(ledger), body), 400, "0053")
    assert api.ok(api.get(ledger_path(ledger, "/settings")), 200) == DEFAULT_SETTINGS


def test_patch_rename_onto_existing_name_is_0002(api: Api, organization: dict[str, Any]) -> None:
    api.create_ledger(organization["id"], name="Taken")
    ledger = api.create_ledger(organization["id"], name="Mine")
    assert_error(api.patch(ledger_path(ledger), {"name": "taken"}), 409, "0002")
    assert api.ok(api.get(ledger_path(ledger)), 200)["name"] == "Mine"


def test_patch_over_long_name_is_0047(api: Api, ledger: dict[str, Any]) -> None:
    assert_error(api.patch(ledger_path(ledger), {"name": "n" * 257}), 400, "0047")


def test_patch_unknown_ledger_is_0037(api: Api, organization: dict[str, Any]) -> None:
    response = api.patch(ledgers_path(organization["id"], f"/{uuid7()}"), {"name": "x"})
    assert_error(response, 404, "0037")


# --- delete ------------------------------------------------------------------------------------


def test_delete_soft_deletes_the_ledger(api: Api, ledger: dict[str, Any]) -> None:
    response = api.delete(ledger_path(ledger))
    assert response.status_code == 204
    assert response.content == b""
    assert_error(api.get(ledger_path(ledger)), 404, "0037")
    assert Ledger.all_objects.get(pk=ledger["id"]).deleted_at is not None


def test_delete_twice_is_0037(api: Api, ledger: dict[str, Any]) -> None:
    assert api.delete(ledger_path(ledger)).status_code == 204
    assert_error(api.delete(ledger_path(ledger)), 404, "0037")


def test_delete_in_production_is_0008(api: Api, ledger: dict[str, Any], settings: Any) -> None:
    settings.ENV_NAME = "production"
    assert_error(api.delete(ledger_path(ledger)), 422, "0008")
    assert api.ok(api.get(ledger_path(ledger)), 200)["id"] == ledger["id"]
    assert Ledger.objects.get(pk=ledger["id"]).deleted_at is None


# --- list --------------------------------------------------------------------------------------


def list_names(api: Api, org_id: str, **query: Any) -> list[str]:
    body = api.ok(api.get(ledgers_path(org_id), **query), 200)
    return [item["name"] for item in body["items"]]


def test_list_envelope_and_scope(api: Api, organization: dict[str, Any]) -> None:
    names = ["alpha", "beta", "gamma"]
    for name in names:
        api.create_ledger(organization["id"], name=name)
    other = api.create_organization(legalName="Other Org")
    api.create_ledger(other["id"], name="elsewhere")
    body = api.ok(api.get(ledgers_path(organization["id"])), 200)
    assert isinstance(body, dict)
    assert body["limit"] == 10
    assert body["page"] == 1
    assert [item["name"] for item in body["items"]] == names
    assert all(item["organizationId"] == organization["id"] for item in body["items"])


def test_list_empty_is_200(api: Api, organization: dict[str, Any]) -> None:
    assert api.ok(api.get(ledgers_path(organization["id"])), 200)["items"] == []


def test_list_name_is_a_case_insensitive_prefix(api: Api, organization: dict[str, Any]) -> None:
    for name in ["Payments EU", "payments US", "Cards"]:
        api.create_ledger(organization["id"], name=name)
    assert list_names(api, organization["id"], name="PAYMENTS") == ["Payments EU", "payments US"]
    assert list_names(api, organization["id"], name="EU") == []


def test_list_status_filter(api: Api, organization: dict[str, Any]) -> None:
    api.create_ledger(organization["id"], name="on")
    api.create_ledger(organization["id"], name="off", status={"code": "INACTIVE"})
    assert list_names(api, organization["id"], status="INACTIVE") == ["off"]
    assert list_names(api, organization["id"], status="active") == ["on"]


def test_list_status_outside_active_inactive_is_0082(
    api: Api, organization: dict[str, Any]
) -> None:
    assert_error(api.get(ledgers_path(organization["id"]), status="DELETED"), 400, "0082")


def test_list_metadata_filter(api: Api, organization: dict[str, Any]) -> None:
    api.create_ledger(organization["id"], name="eu", metadata={"region": "eu"})
    api.create_ledger(organization["id"], name="us", metadata={"region": "us"})
    assert list_names(api, organization["id"], **{"metadata.region": "us"}) == ["us"]


def test_list_metadata_filter_without_match_is_0060(api: Api, organization: dict[str, Any]) -> None:
    api.create_ledger(organization["id"], name="eu", metadata={"region": "eu"})
    response = api.get(ledgers_path(organization["id"]), **{"metadata.region": "br"})
    assert_error(response, 404, "0060")


def test_list_metadata_filter_with_name_is_0082(api: Api, organization: dict[str, Any]) -> None:
    response = api.get(ledgers_path(organization["id"]), **{"metadata.a": "1", "name": "x"})
    assert_error(response, 400, "0082")


def test_list_excludes_deleted_ledgers(api: Api, organization: dict[str, Any]) -> None:
    gone = api.create_ledger(organization["id"], name="gone")
    api.create_ledger(organization["id"], name="kept")
    api.delete(ledger_path(gone))
    assert list_names(api, organization["id"]) == ["kept"]


def test_list_sort_order_desc_reverses(api: Api, organization: dict[str, Any]) -> None:
    for name in ["a", "b", "c"]:
        api.create_ledger(organization["id"], name=name)
    assert list_names(api, organization["id"], sort_order="desc") == ["c", "b", "a"]


def test_list_limit_over_maximum_is_0080(api: Api, organization: dict[str, Any]) -> None:
    assert_error(api.get(ledgers_path(organization["id"]), limit=101), 400, "0080")


# --- count -------------------------------------------------------------------------------------


def test_count_counts_live_ledgers_of_the_organization(
    api: Api, organization: dict[str, Any]
) -> None:
    first = api.create_ledger(organization["id"])
    api.create_ledger(organization["id"])
    api.create_ledger(organization["id"])
    api.delete(ledger_path(first))
    other = api.create_organization(legalName="Other Org")
    api.create_ledger(other["id"])
    response = api.head(ledgers_path(organization["id"], "/metrics/count"))
    assert response.status_code == 204
    assert response["X-Total-Count"] == "2"
    assert response.content == b""


# --- settings ----------------------------------------------------------------------------------


def test_get_settings_returns_the_defaults(api: Api, ledger: dict[str, Any]) -> None:
    assert api.ok(api.get(ledger_path(ledger, "/settings")), 200) == DEFAULT_SETTINGS


def test_get_settings_of_unknown_ledger_is_0037(api: Api, organization: dict[str, Any]) -> None:
    response = api.get(ledgers_path(organization["id"], f"/{uuid7()}/settings"))
    assert_error(response, 404, "0037")


def test_patch_settings_deep_merges(api: Api, ledger: dict[str, Any]) -> None:
    path = ledger_path(ledger, "/settings")
    body = api.ok(api.patch(path, {"accounting": {"validateRoutes": True}}), 200)
    expected = with_changes(accounting={"validateRoutes": True})
    assert body == expected
    assert api.ok(api.get(path), 200) == expected


def test_second_settings_patch_keeps_the_first(api: Api, ledger: dict[str, Any]) -> None:
    path = ledger_path(ledger, "/settings")
    api.ok(api.patch(path, {"accounting": {"validateRoutes": True}}), 200)
    body = api.ok(
        api.patch(
            path,
            {
                "accounting": {"requireHolder": True},
                "tracer": {"mode": "enforce", "failPosture": "closed", "timeoutMs": 500},
            },
        ),
        200,
    )
    expected = with_changes(
        accounting={"validateRoutes": True, "requireHolder": True},
        tracer={"mode": "enforce", "failPosture": "closed", "timeoutMs": 500},
    )
    assert body == expected
    assert api.ok(api.get(path), 200) == expected


def test_patched_settings_show_on_the_ledger(api: Api, ledger: dict[str, Any]) -> None:
    api.ok(api.patch(ledger_path(ledger, "/settings"), {"overrides": {"allowFeeSkip": True}}), 200)
    body = api.ok(api.get(ledger_path(ledger)), 200)
    assert body["settings"]["overrides"]["allowFeeSkip"] is True


@pytest.mark.parametrize(("document", "code"), INVALID_SETTINGS)
def test_patch_settings_invalid_is_rejected(
    api: Api, ledger: dict[str, Any], document: dict[str, Any], code: str
) -> None:
    path = ledger_path(ledger, "/settings")
    assert_error(api.patch(path, document), 400, code)
    assert api.ok(api.get(path), 200) == DEFAULT_SETTINGS


def test_patch_settings_body_over_64kb_is_0143(api: Api, ledger: dict[str, Any]) -> None:
    path = ledger_path(ledger, "/settings")
    raw = orjson.dumps({"tracer": {"mode": "advisory" + " " * 70_000}})
    assert len(raw) > 64 * 1024
    assert_error(api.request("PATCH", path, raw=raw), 400, "0143")
    assert api.ok(api.get(path), 200) == DEFAULT_SETTINGS


def test_patch_settings_of_unknown_ledger_is_0037(api: Api, organization: dict[str, Any]) -> None:
    path = ledgers_path(organization["id"], f"/{uuid7()}/settings")
    assert_error(api.patch(path, {"tracer": {"mode": "advisory"}}), 404, "0037")
