"""Organizations (MIDAZ_API.md §2.1) and the global conventions they exercise (§1)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from uuid_utils.compat import uuid7

from onboarding.models import Organization
from tests.helpers import Api, assert_error

pytestmark = pytest.mark.django_db

VALID = {"legalName": "Acme Payments Ltd.", "legalDocument": "12345678901234"}


def body_of(response: Any) -> Any:
    return orjson.loads(response.content)


# --- create ------------------------------------------------------------------------------------


def test_create_returns_201_with_the_organization(api: Api) -> None:
    body = api.ok(
        api.post(
            "/organizations",
            {
                **VALID,
                "doingBusinessAs": "Acme",
                "address": {
                    "line1": "Rua A, 1",
                    "line2": None,
                    "zipCode": "01000-000",
                    "city": "São Paulo",
                    "state": "SP",
                    "country": "BR",
                },
                "metadata": {"tier": "gold", "score": 7},
            },
        ),
        201,
    )
    assert body["legalName"] == "Acme Payments Ltd."
    assert body["legalDocument"] == "12345678901234"
    assert body["doingBusinessAs"] == "Acme"
    assert body["parentOrganizationId"] is None
    assert body["address"]["line1"] == "Rua A, 1"
    assert body["address"]["country"] == "BR"
    assert body["address"]["city"] == "São Paulo"
    assert body["metadata"] == {"tier": "gold", "score": 7}
    assert body["deletedAt"] is None
    stored = Organization.objects.get(pk=body["id"])
    assert stored.legal_name == "Acme Payments Ltd."
    assert stored.metadata == {"tier": "gold", "score": 7}
    fetched = api.ok(api.get(f"/organizations/{body['id']}"), 200)
    assert fetched == body


def test_create_wire_format_has_utc_timestamps_and_uuid7_ids(api: Api) -> None:
    body = api.create_organization()
    assert uuid.UUID(body["id"]).version == 7
    assert body["createdAt"].endswith("Z")
    assert body["updatedAt"].endswith("Z")
    assert "+00:00" not in body["createdAt"]
    listed = body_of(api.get("/organizations"))
    assert isinstance(listed, dict)
    assert isinstance(listed["items"], list)


def test_create_defaults_status_to_active(api: Api) -> None:
    body = api.create_organization()
    assert body["status"]["code"] == "ACTIVE"
    assert Organization.objects.get(pk=body["id"]).status == "ACTIVE"


def test_create_keeps_status_description_when_code_is_empty(api: Api) -> None:
    body = api.create_organization(status={"code": "", "description": "onboarding"})
    assert body["status"] == {"code": "ACTIVE", "description": "onboarding"}


def test_create_keeps_a_given_status_code(api: Api) -> None:
    body = api.create_organization(status={"code": "INACTIVE", "description": None})
    assert body["status"]["code"] == "INACTIVE"


def test_create_without_metadata_omits_metadata(api: Api) -> None:
    body = api.create_organization()
    assert "metadata" not in body


def test_create_without_address_skips_country_validation(api: Api) -> None:
    body = api.create_organization(address={})
    assert Organization.objects.filter(pk=body["id"]).exists()


@pytest.mark.parametrize(
    "address",
    [
        {"country": "XX"},
        {"country": "brazil"},
        {"line1": "Rua A, 1"},
        {"city": "Lisbon", "country": ""},
    ],
)
def test_create_with_address_validates_country_0032(api: Api, address: dict[str, Any]) -> None:
    assert_error(api.post("/organizations", {**VALID, "address": address}), 400, "0032")
    assert Organization.objects.count() == 0


def test_create_with_unknown_parent_is_0039(api: Api) -> None:
    response = api.post("/organizations", {**VALID, "parentOrganizationId": str(uuid7())})
    assert_error(response, 404, "0039")
    assert Organization.objects.count() == 0


def test_create_with_existing_parent_links_it(api: Api, organization: dict[str, Any]) -> None:
    child = api.create_organization(parentOrganizationId=organization["id"])
    assert child["parentOrganizationId"] == organization["id"]
    assert (
        str(Organization.objects.get(pk=child["id"]).parent_organization_id) == (organization["id"])
    )


def test_create_with_empty_parent_id_treats_it_as_null(api: Api) -> None:
    body = api.create_organization(parentOrganizationId="")
    assert body["parentOrganizationId"] is None
    assert Organization.objects.get(pk=body["id"]).parent_organization_id is None


@pytest.mark.parametrize("missing", ["legalName", "legalDocument"])
def test_create_without_a_required_field_is_0009(api: Api, missing: str) -> None:
    body = {k: v for k, v in VALID.items() if k != missing}
    error = assert_error(api.post("/organizations", body), 400, "0009")
    assert missing in error["fields"]
    assert Organization.objects.count() == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"legalName": "x" * 257},
        {"legalDocument": "1" * 257},
        {"doingBusinessAs": "d" * 257},
        {"status": {"code": "C" * 101}},
        {"status": {"code": "ACTIVE", "description": "d" * 257}},
        {"address": {"country": "BR", "description": "a" * 101}},
    ],
    ids=["legalName", "legalDocument", "doingBusinessAs", "status.code", "status.desc", "addr"],
)
def test_create_with_over_long_field_is_0047(api: Api, fields: dict[str, Any]) -> None:
    assert_error(api.post("/organizations", {**VALID, **fields}), 400, "0047")
    assert Organization.objects.count() == 0


def test_create_accepts_fields_at_their_maximum_length(api: Api) -> None:
    body = api.create_organization(legalName="x" * 256, doingBusinessAs="d" * 256)
    assert body["legalName"] == "x" * 256


@pytest.mark.parametrize(
    "fields",
    [
        {"legalName": 123},
        {"legalDocument": ["1"]},
        {"doingBusinessAs": True},
        {"address": "Rua A"},
        {"status": "ACTIVE"},
        {"metadata": ["a"]},
    ],
    ids=["legalName", "legalDocument", "doingBusinessAs", "address", "status", "metadata"],
)
def test_create_with_wrong_type_is_0094(api: Api, fields: dict[str, Any]) -> None:
    error = assert_error(api.post("/organizations", {**VALID, **fields}), 400, "0094")
    assert f"'{next(iter(fields))}'" in error["detail"]
    assert Organization.objects.count() == 0


@pytest.mark.parametrize("raw", [b"{", b'{"legalName": }', b"not json", b"[1, 2]"])
def test_create_with_invalid_json_is_0094(api: Api, raw: bytes) -> None:
    assert_error(api.request("POST", "/organizations", raw=raw), 400, "0094")
    assert Organization.objects.count() == 0


def test_create_with_unknown_field_is_0053(api: Api) -> None:
    body = assert_error(api.post("/organizations", {**VALID, "nickname": "acme"}), 400, "0053")
    assert body["fields"] == {"nickname": "acme"}
    assert Organization.objects.count() == 0


def test_create_with_unknown_field_inside_address_is_0053(api: Api) -> None:
    address = {"country": "BR", "planet": "Earth"}
    body = assert_error(api.post("/organizations", {**VALID, "address": address}), 400, "0053")
    assert "planet" in orjson.dumps(body).decode()
    assert Organization.objects.count() == 0


@pytest.mark.parametrize(
    ("metadata", "code"),
    [
        pytest.param({"k" * 101: "v"}, "0050", id="key-too-long"),
        pytest.param({"k": "v" * 2001}, "0051", id="value-too-long"),
        pytest.param({"k": {"nested": "v"}}, "0067", id="nested-object"),
    ],
)
def test_create_with_invalid_metadata_is_rejected(
    api: Api, metadata: dict[str, Any], code: str
) -> None:
    assert_error(api.post("/organizations", {**VALID, "metadata": metadata}), 400, code)
    assert Organization.objects.count() == 0


def test_create_accepts_metadata_at_its_limits(api: Api) -> None:
    metadata = {"k" * 100: "v" * 2000, "flag": True, "n": 1.5, "nothing": None}
    body = api.create_organization(metadata=metadata)
    assert body["metadata"]["k" * 100] == "v" * 2000


def test_create_with_null_byte_is_0047(api: Api) -> None:
    assert_error(api.post("/organizations", {**VALID, "legalName": "Acme\u0000"}), 400, "0047")
    assert Organization.objects.count() == 0


def test_create_accepts_any_keys_inside_metadata(api: Api) -> None:
    body = api.create_organization(metadata={"planet": "Earth"})
    assert body["metadata"] == {"planet": "Earth"}


# --- get ---------------------------------------------------------------------------------------


def test_get_returns_the_organization(api: Api, organization: dict[str, Any]) -> None:
    body = api.ok(api.get(f"/organizations/{organization['id']}"), 200)
    assert body["id"] == organization["id"]
    assert body["legalName"] == organization["legalName"]


def test_get_unknown_organization_is_0038(api: Api) -> None:
    body = assert_error(api.get(f"/organizations/{uuid7()}"), 404, "0038")
    assert body.get("entityType") == "Organization"


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", "0193"])
def test_get_with_non_uuid_id_is_0065(api: Api, bad_id: str) -> None:
    assert_error(api.get(f"/organizations/{bad_id}"), 400, "0065")


# --- update ------------------------------------------------------------------------------------


def test_patch_updates_the_given_fields(api: Api, organization: dict[str, Any]) -> None:
    path = f"/organizations/{organization['id']}"
    body = api.ok(
        api.patch(
            path,
            {
                "legalName": "Renamed Ltd.",
                "doingBusinessAs": "Renamed",
                "status": {"code": "INACTIVE", "description": "paused"},
                "address": {"line1": "Main St 1", "city": "Lisbon", "country": "PT"},
            },
        ),
        200,
    )
    assert body["legalName"] == "Renamed Ltd."
    assert body["doingBusinessAs"] == "Renamed"
    assert body["status"] == {"code": "INACTIVE", "description": "paused"}
    assert body["address"]["country"] == "PT"
    assert body["legalDocument"] == organization["legalDocument"]
    fetched = api.ok(api.get(path), 200)
    assert fetched["legalName"] == "Renamed Ltd."
    assert fetched["status"]["code"] == "INACTIVE"
    assert fetched["address"]["city"] == "Lisbon"
    stored = Organization.objects.get(pk=organization["id"])
    assert stored.legal_name == "Renamed Ltd."


def test_patch_moves_updated_at(api: Api, organization: dict[str, Any]) -> None:
    path = f"/organizations/{organization['id']}"
    body = api.ok(api.patch(path, {"legalName": "Later Ltd."}), 200)
    assert body["createdAt"] == organization["createdAt"]
    assert body["updatedAt"] > organization["updatedAt"]
    assert body["updatedAt"].endswith("Z")


def test_patch_ignores_empty_fields(api: Api) -> None:
    org = api.create_organization(doingBusinessAs="Acme")
    path = f"/organizations/{org['id']}"
    body = api.ok(api.patch(path, {"legalName": "", "doingBusinessAs": ""}), 200)
    assert body["legalName"] == org["legalName"]
    assert body["doingBusinessAs"] == "Acme"
    fetched = api.ok(api.get(path), 200)
    assert fetched["legalName"] == org["legalName"]
    assert fetched["doingBusinessAs"] == "Acme"
    assert fetched["status"]["code"] == "ACTIVE"


def test_patch_empty_body_changes_nothing(api: Api, organization: dict[str, Any]) -> None:
    path = f"/organizations/{organization['id']}"
    body = api.ok(api.patch(path, {}), 200)
    assert body["legalName"] == organization["legalName"]
    assert body["status"] == organization["status"]


def test_patch_legal_document_is_0053(api: Api, organization: dict[str, Any]) -> None:
    path = f"/organizations/{organization['id']}"
    assert_error(api.patch(path, {"legalDocument": "999"}), 400, "0053")
    fetched = api.ok(api.get(path), 200)
    assert fetched["legalDocument"] == organization["legalDocument"]


def test_patch_parent_to_own_id_is_0091(api: Api, organization: dict[str, Any]) -> None:
    path = f"/organizations/{organization['id']}"
    assert_error(api.patch(path, {"parentOrganizationId": organization["id"]}), 422, "0091")
    assert api.ok(api.get(path), 200)["parentOrganizationId"] is None


def test_patch_parent_to_unknown_org_is_0039(api: Api, organization: dict[str, Any]) -> None:
    path = f"/organizations/{organization['id']}"
    assert_error(api.patch(path, {"parentOrganizationId": str(uuid7())}), 404, "0039")


def test_patch_parent_to_another_org(api: Api, organization: dict[str, Any]) -> None:
    child = api.create_organization()
    path = f"/organizations/{child['id']}"
    body = api.ok(api.patch(path, {"parentOrganizationId": organization["id"]}), 200)
    assert body["parentOrganizationId"] == organization["id"]
    assert api.ok(api.get(path), 200)["parentOrganizationId"] == organization["id"]


def test_patch_over_long_legal_name_is_0047(api: Api, organization: dict[str, Any]) -> None:
    path = f"/organizations/{organization['id']}"
    assert_error(api.patch(path, {"legalName": "x" * 257}), 400, "0047")


def test_patch_invalid_country_is_0032(api: Api, organization: dict[str, Any]) -> None:
    path = f"/organizations/{organization['id']}"
    assert_error(api.patch(path, {"address": {"country": "ZZ"}}), 400, "0032")


def test_patch_unknown_organization_is_0038(api: Api) -> None:
    assert_error(api.patch(f"/organizations/{uuid7()}", {"legalName": "x"}), 404, "0038")


def test_patch_metadata_adds_overwrites_and_deletes_keys(api: Api) -> None:
    org = api.create_organization(metadata={"keep": "1", "change": "old", "drop": "x"})
    path = f"/organizations/{org['id']}"
    body = api.ok(
        api.patch(path, {"metadata": {"change": "new", "drop": None, "added": True}}), 200
    )
    expected = {"keep": "1", "change": "new", "added": True}
    assert body["metadata"] == expected
    assert api.ok(api.get(path), 200)["metadata"] == expected
    assert Organization.objects.get(pk=org["id"]).metadata == expected


def test_patch_without_metadata_leaves_it_unchanged(api: Api) -> None:
    org = api.create_organization(metadata={"tier": "gold"})
    path = f"/organizations/{org['id']}"
    body = api.ok(api.patch(path, {"legalName": "Other"}), 200)
    assert body["metadata"] == {"tier": "gold"}
    assert api.ok(api.get(path), 200)["metadata"] == {"tier": "gold"}


def test_patch_metadata_null_clears_it(api: Api) -> None:
    org = api.create_organization(metadata={"tier": "gold", "x": 1})
    path = f"/organizations/{org['id']}"
    api.ok(api.patch(path, {"metadata": None}), 200)
    fetched = api.ok(api.get(path), 200)
    assert not fetched.get("metadata")
    assert Organization.objects.get(pk=org["id"]).metadata in ({}, None)


# --- delete ------------------------------------------------------------------------------------


def test_delete_soft_deletes_the_organization(api: Api, organization: dict[str, Any]) -> None:
    path = f"/organizations/{organization['id']}"
    response = api.delete(path)
    assert response.status_code == 204
    assert response.content == b""
    assert_error(api.get(path), 404, "0038")
    row = Organization.all_objects.get(pk=organization["id"])
    assert row.deleted_at is not None


def test_delete_twice_is_0038(api: Api, organization: dict[str, Any]) -> None:
    path = f"/organizations/{organization['id']}"
    assert api.delete(path).status_code == 204
    assert_error(api.delete(path), 404, "0038")


def test_delete_unknown_organization_is_0038(api: Api) -> None:
    assert_error(api.delete(f"/organizations/{uuid7()}"), 404, "0038")


def test_delete_in_production_is_0008(
    api: Api, organization: dict[str, Any], settings: Any
) -> None:
    settings.ENV_NAME = "production"
    path = f"/organizations/{organization['id']}"
    assert_error(api.delete(path), 422, "0008")
    assert api.ok(api.get(path), 200)["id"] == organization["id"]
    assert Organization.objects.get(pk=organization["id"]).deleted_at is None


def test_deleted_organization_is_not_listed(api: Api, organization: dict[str, Any]) -> None:
    other = api.create_organization(legalName="Other")
    api.delete(f"/organizations/{organization['id']}")
    ids = [item["id"] for item in api.ok(api.get("/organizations"), 200)["items"]]
    assert ids == [other["id"]]


# --- list --------------------------------------------------------------------------------------


def list_ids(api: Api, **query: Any) -> list[str]:
    return [item["id"] for item in api.ok(api.get("/organizations", **query), 200)["items"]]


def test_list_envelope_has_items_limit_and_page(api: Api, organization: dict[str, Any]) -> None:
    body = api.ok(api.get("/organizations"), 200)
    assert set(body) >= {"items", "limit", "page"}
    assert body["limit"] == 10
    assert body["page"] == 1
    assert [item["id"] for item in body["items"]] == [organization["id"]]
    assert body["items"][0]["legalName"] == organization["legalName"]


def test_list_empty_is_200_with_empty_items(api: Api) -> None:
    body = api.ok(api.get("/organizations"), 200)
    assert body["items"] == []


def test_list_is_ordered_by_id_ascending_by_default(api: Api) -> None:
    ids = [api.create_organization(legalName=f"Org {i}")["id"] for i in range(3)]
    assert list_ids(api) == ids


@pytest.mark.parametrize("order", ["desc", "DESC"])
def test_list_sort_order_desc_reverses(api: Api, order: str) -> None:
    ids = [api.create_organization(legalName=f"Org {i}")["id"] for i in range(3)]
    assert list_ids(api, sort_order=order) == ids[::-1]
    assert list_ids(api, sort_order="asc") == ids


def test_list_limit_and_page_slice_the_results(api: Api) -> None:
    ids = [api.create_organization(legalName=f"Org {i}")["id"] for i in range(5)]
    body = api.ok(api.get("/organizations", limit=2, page=2), 200)
    assert body["limit"] == 2
    assert body["page"] == 2
    assert [item["id"] for item in body["items"]] == ids[2:4]
    assert list_ids(api, limit=2, page=3) == ids[4:]
    assert list_ids(api, limit=2, page=4) == []


def test_list_accepts_the_maximum_limit(api: Api, organization: dict[str, Any]) -> None:
    assert api.ok(api.get("/organizations", limit=100), 200)["limit"] == 100


def test_list_limit_over_maximum_is_0080(api: Api) -> None:
    assert_error(api.get("/organizations", limit=101), 400, "0080")


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "1.5"])
def test_list_invalid_limit_is_0082(api: Api, limit: str) -> None:
    assert_error(api.get("/organizations", limit=limit), 400, "0082")


@pytest.mark.parametrize("page", ["0", "-2", "abc"])
def test_list_invalid_page_is_0082(api: Api, page: str) -> None:
    assert_error(api.get("/organizations", page=page), 400, "0082")


def test_list_invalid_sort_order_is_0081(api: Api) -> None:
    assert_error(api.get("/organizations", sort_order="bad"), 400, "0081")


def test_list_legal_name_is_a_case_insensitive_prefix(api: Api) -> None:
    acme = api.create_organization(legalName="Acme Payments")
    api.create_organization(legalName="Beta Acme")
    assert list_ids(api, legal_name="aCmE") == [acme["id"]]
    assert list_ids(api, legal_name="Payments") == []


def test_list_legal_name_is_trimmed(api: Api) -> None:
    acme = api.create_organization(legalName="Acme Payments")
    assert list_ids(api, legal_name="  acme  ") == [acme["id"]]


def test_list_legal_name_over_256_chars_is_0082(api: Api) -> None:
    assert_error(api.get("/organizations", legal_name="a" * 257), 400, "0082")


def test_list_legal_name_escapes_like_wildcards(api: Api) -> None:
    api.create_organization(legalName="Acme Payments")
    percent = api.create_organization(legalName="50% Off Ltd")
    assert list_ids(api, legal_name="%") == []
    assert list_ids(api, legal_name="50%") == [percent["id"]]


def test_list_doing_business_as_is_a_case_insensitive_prefix(api: Api) -> None:
    shop = api.create_organization(doingBusinessAs="ShopCo")
    api.create_organization(doingBusinessAs="Other")
    api.create_organization()
    assert list_ids(api, doing_business_as="shop") == [shop["id"]]


def test_list_legal_document_is_exact(api: Api) -> None:
    match = api.create_organization(legalDocument="111")
    api.create_organization(legalDocument="1112")
    assert list_ids(api, legal_document="111") == [match["id"]]
    assert list_ids(api, legal_document="11") == []


@pytest.mark.parametrize("value", ["ACTIVE", "active"])
def test_list_status_filter(api: Api, value: str) -> None:
    active = api.create_organization()
    api.create_organization(status={"code": "INACTIVE"})
    assert list_ids(api, status=value) == [active["id"]]


def test_list_status_inactive_filter(api: Api) -> None:
    api.create_organization()
    inactive = api.create_organization(status={"code": "INACTIVE"})
    assert list_ids(api, status="INACTIVE") == [inactive["id"]]


@pytest.mark.parametrize("value", ["PENDING", "bogus"])
def test_list_status_outside_active_inactive_is_0082(api: Api, value: str) -> None:
    assert_error(api.get("/organizations", status=value), 400, "0082")


def test_list_metadata_filter(api: Api) -> None:
    gold = api.create_organization(metadata={"tier": "gold"})
    api.create_organization(metadata={"tier": "silver"})
    api.create_organization()
    assert list_ids(api, **{"metadata.tier": "gold"}) == [gold["id"]]


def test_list_metadata_filter_without_match_is_0059(api: Api) -> None:
    api.create_organization(metadata={"tier": "gold"})
    assert_error(api.get("/organizations", **{"metadata.tier": "bronze"}), 404, "0059")


@pytest.mark.parametrize("name_filter", ["legal_name", "doing_business_as"])
def test_list_metadata_filter_with_a_name_filter_is_0082(api: Api, name_filter: str) -> None:
    api.create_organization(metadata={"tier": "gold"})
    response = api.get("/organizations", **{"metadata.tier": "gold", name_filter: "Acme"})
    assert_error(response, 400, "0082")


def test_list_metadata_filter_combines_with_legal_document(api: Api) -> None:
    match = api.create_organization(legalDocument="111", metadata={"tier": "gold"})
    api.create_organization(legalDocument="222", metadata={"tier": "gold"})
    assert list_ids(api, legal_document="111", **{"metadata.tier": "gold"}) == [match["id"]]


def test_list_date_window_including_today(api: Api, organization: dict[str, Any]) -> None:
    assert list_ids(api, start_date="2000-01-01", end_date="2999-12-31") == [organization["id"]]


def test_list_date_window_end_date_only_covers_the_whole_day(
    api: Api, organization: dict[str, Any]
) -> None:
    today = organization["createdAt"][:10]
    assert list_ids(api, start_date=today, end_date=today) == [organization["id"]]


def test_list_accepts_date_times(api: Api, organization: dict[str, Any]) -> None:
    ids = list_ids(api, start_date="2000-01-01 00:00:00", end_date="2999-12-31 23:59:59")
    assert ids == [organization["id"]]


def test_list_date_window_excluding_everything_is_empty(
    api: Api, organization: dict[str, Any]
) -> None:
    body = api.ok(api.get("/organizations", start_date="2000-01-01", end_date="2000-01-31"), 200)
    assert body["items"] == []


@pytest.mark.parametrize("only", [{"start_date": "2024-01-01"}, {"end_date": "2024-01-01"}])
def test_list_only_one_date_is_0083(api: Api, only: dict[str, str]) -> None:
    assert_error(api.get("/organizations", **only), 400, "0083")


@pytest.mark.parametrize("bad", ["2024-13-01", "01/02/2024", "yesterday", "2024-01-01T10:00"])
def test_list_bad_date_format_is_0131(api: Api, bad: str) -> None:
    assert_error(api.get("/organizations", start_date=bad, end_date="2024-12-31"), 400, "0131")


def test_list_start_after_end_is_0078(api: Api) -> None:
    response = api.get("/organizations", start_date="2024-02-01", end_date="2024-01-01")
    assert_error(response, 400, "0078")


# --- count -------------------------------------------------------------------------------------


def test_count_is_204_with_total_header_and_no_body(api: Api) -> None:
    for i in range(3):
        api.create_organization(legalName=f"Org {i}")
    response = api.head("/organizations/metrics/count")
    assert response.status_code == 204
    assert response["X-Total-Count"] == "3"
    assert response.content == b""


def test_count_excludes_deleted_organizations(api: Api) -> None:
    first = api.create_organization()
    api.create_organization()
    api.delete(f"/organizations/{first['id']}")
    response = api.head("/organizations/metrics/count")
    assert response.status_code == 204
    assert response["X-Total-Count"] == "1"


def test_count_with_no_organizations_is_zero(api: Api) -> None:
    response = api.head("/organizations/metrics/count")
    assert response.status_code == 204
    assert response["X-Total-Count"] == "0"
