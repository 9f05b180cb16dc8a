"""Portfolios (MIDAZ_API.md §2.4): CRUD, list filters, metadata filter and count."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from uuid_utils.compat import uuid7

from onboarding.models import Portfolio
from tests.helpers import Api, assert_error, ledger_path

pytestmark = pytest.mark.django_db


def body_of(response: Any) -> Any:
    return orjson.loads(response.content)


def portfolios(ledger: dict[str, Any], suffix: str = "") -> str:
    return ledger_path(ledger, "/portfolios" + suffix)


def create(api: Api, ledger: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body = {"name": "Main portfolio", **fields}
    return api.ok(api.post(portfolios(ledger), body), 201)


# --- create ------------------------------------------------------------------------------------


def test_create_returns_201_with_the_portfolio(api: Api, ledger: dict[str, Any]) -> None:
    body = create(
        api,
        ledger,
        name="Treasury",
        entityId="ext-42",
        status={"code": "PENDING", "description": "awaiting review"},
        metadata={"desk": "fx", "limit": 10, "active": True},
    )
    assert uuid.UUID(body["id"]).version == 7
    assert body["name"] == "Treasury"
    assert body["entityId"] == "ext-42"
    assert body["status"] == {"code": "PENDING", "description": "awaiting review"}
    assert body["ledgerId"] == ledger["id"]
    assert body["organizationId"] == ledger["organizationId"]
    assert body["metadata"] == {"desk": "fx", "limit": 10, "active": True}
    assert body["deletedAt"] is None
    assert body["createdAt"].endswith("Z")
    assert body["updatedAt"].endswith("Z")
    stored = Portfolio.objects.get(pk=body["id"])
    assert stored.name == "Treasury"
    assert stored.entity_id == "ext-42"
    assert stored.status == "PENDING"
    assert str(stored.ledger_id) == ledger["id"]
    assert stored.metadata == {"desk": "fx", "limit": 10, "active": True}
    assert api.ok(api.get(portfolios(ledger, f"/{body['id']}")), 200) == body


def test_create_defaults_status_to_active_and_omits_optional_fields(
    api: Api, ledger: dict[str, Any]
) -> None:
    body = create(api, ledger)
    assert body["status"]["code"] == "ACTIVE"
    assert "entityId" not in body or body["entityId"] in (None, "")
    assert "metadata" not in body
    assert Portfolio.objects.get(pk=body["id"]).status == "ACTIVE"


def test_create_keeps_status_description_when_code_is_empty(
    api: Api, ledger: dict[str, Any]
) -> None:
    body = create(api, ledger, status={"code": "", "description": "new"})
    assert body["status"] == {"code": "ACTIVE", "description": "new"}


def test_names_are_not_unique(api: Api, ledger: dict[str, Any]) -> None:
    first = create(api, ledger, name="Same")
    second = create(api, ledger, name="Same")
    assert first["id"] != second["id"]
    assert Portfolio.objects.filter(name="Same").count() == 2


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": None}, {"entityId": "x"}])
def test_create_without_name_is_0009(api: Api, ledger: dict[str, Any], body: Any) -> None:
    error = assert_error(api.post(portfolios(ledger), body), 400, "0009")
    assert error["fields"] == {"name": "name is a required field"}
    assert Portfolio.objects.count() == 0


def test_create_name_longer_than_256_is_0047(api: Api, ledger: dict[str, Any]) -> None:
    assert_error(api.post(portfolios(ledger), {"name": "n" * 257}), 400, "0047")
    assert Portfolio.objects.count() == 0
    assert create(api, ledger, name="n" * 256)["name"] == "n" * 256


def test_create_entity_id_longer_than_256_is_0047(api: Api, ledger: dict[str, Any]) -> None:
    response = api.post(portfolios(ledger), {"name": "p", "entityId": "e" * 257})
    assert_error(response, 400, "0047")
    assert Portfolio.objects.count() == 0


def test_create_with_unknown_field_is_0053(api: Api, ledger: dict[str, Any]) -> None:
    error = assert_error(api.post(portfolios(ledger), {"name": "p", "color": "red"}), 400, "0053")
    assert error["fields"] == {"color": "red"}
    assert Portfolio.objects.count() == 0


def test_create_in_missing_ledger_is_0037(api: Api, organization: dict[str, Any]) -> None:
    ghost = {"organizationId": organization["id"], "id": str(uuid7())}
    assert_error(api.post(portfolios(ghost), {"name": "p"}), 404, "0037")


# --- get ---------------------------------------------------------------------------------------


def test_get_unknown_portfolio_is_0035(api: Api, ledger: dict[str, Any]) -> None:
    assert_error(api.get(portfolios(ledger, f"/{uuid7()}")), 404, "0035")


def test_get_with_non_uuid_id_is_0065(api: Api, ledger: dict[str, Any]) -> None:
    assert_error(api.get(portfolios(ledger, "/not-a-uuid")), 400, "0065")


def test_get_from_another_ledger_is_0035(
    api: Api, ledger: dict[str, Any], organization: dict[str, Any]
) -> None:
    portfolio = create(api, ledger)
    other = api.create_ledger(organization["id"])
    assert_error(api.get(portfolios(other, f"/{portfolio['id']}")), 404, "0035")


# --- update ------------------------------------------------------------------------------------


def test_patch_updates_name_entity_id_and_status(api: Api, ledger: dict[str, Any]) -> None:
    portfolio = create(api, ledger, entityId="old")
    body = api.ok(
        api.patch(
            portfolios(ledger, f"/{portfolio['id']}"),
            {"name": "Renamed", "entityId": "new", "status": {"code": "INACTIVE"}},
        ),
        200,
    )
    assert body["name"] == "Renamed"
    assert body["entityId"] == "new"
    assert body["status"]["code"] == "INACTIVE"
    assert body["createdAt"] == portfolio["createdAt"]
    assert body["updatedAt"] >= portfolio["updatedAt"]
    stored = Portfolio.objects.get(pk=portfolio["id"])
    assert (stored.name, stored.entity_id, stored.status) == ("Renamed", "new", "INACTIVE")
    assert api.ok(api.get(portfolios(ledger, f"/{portfolio['id']}")), 200) == body


def test_patch_with_only_metadata_keeps_other_fields(api: Api, ledger: dict[str, Any]) -> None:
    portfolio = create(api, ledger, name="Keep", entityId="e1")
    body = api.ok(
        api.patch(portfolios(ledger, f"/{portfolio['id']}"), {"metadata": {"a": "1"}}), 200
    )
    assert body["name"] == "Keep"
    assert body["entityId"] == "e1"
    assert body["status"]["code"] == "ACTIVE"
    assert body["metadata"] == {"a": "1"}


def test_patch_metadata_is_a_merge_patch(api: Api, ledger: dict[str, Any]) -> None:
    portfolio = create(api, ledger, metadata={"keep": "k", "drop": "d", "change": 1})
    path = portfolios(ledger, f"/{portfolio['id']}")
    body = api.ok(
        api.patch(path, {"metadata": {"drop": None, "change": 2, "add": True}}),
        200,
    )
    assert body["metadata"] == {"keep": "k", "change": 2, "add": True}
    assert Portfolio.objects.get(pk=portfolio["id"]).metadata == body["metadata"]
    unchanged = api.ok(api.patch(path, {"name": "other"}), 200)
    assert unchanged["metadata"] == {"keep": "k", "change": 2, "add": True}
    cleared = api.ok(api.patch(path, {"metadata": None}), 200)
    assert "metadata" not in cleared
    assert Portfolio.objects.get(pk=portfolio["id"]).metadata in ({}, None)


def test_patch_unknown_portfolio_is_0035(api: Api, ledger: dict[str, Any]) -> None:
    assert_error(api.patch(portfolios(ledger, f"/{uuid7()}"), {"name": "x"}), 404, "0035")


def test_patch_name_too_long_is_0047(api: Api, ledger: dict[str, Any]) -> None:
    portfolio = create(api, ledger, name="short")
    response = api.patch(portfolios(ledger, f"/{portfolio['id']}"), {"name": "x" * 257})
    assert_error(response, 400, "0047")
    assert Portfolio.objects.get(pk=portfolio["id"]).name == "short"


def test_patch_with_unknown_field_is_0053(api: Api, ledger: dict[str, Any]) -> None:
    portfolio = create(api, ledger)
    response = api.patch(portfolios(ledger, f"/{portfolio['id']}"), {"ledgerId": str(uuid7())})
    assert_error(response, 400, "0053")


# --- delete ------------------------------------------------------------------------------------


def test_delete_is_soft_and_then_404(api: Api, ledger: dict[str, Any]) -> None:
    portfolio = create(api, ledger)
    path = portfolios(ledger, f"/{portfolio['id']}")
    response = api.delete(path)
    assert response.status_code == 204
    assert response.content == b""
    assert_error(api.get(path), 404, "0035")
    assert_error(api.delete(path), 404, "0035")
    assert_error(api.patch(path, {"name": "zombie"}), 404, "0035")
    assert not Portfolio.objects.filter(pk=portfolio["id"]).exists()
    row = Portfolio.all_objects.get(pk=portfolio["id"])
    assert row.deleted_at is not None
    assert body_of(api.get(portfolios(ledger)))["items"] == []


def test_delete_unknown_portfolio_is_0035(api: Api, ledger: dict[str, Any]) -> None:
    assert_error(api.delete(portfolios(ledger, f"/{uuid7()}")), 404, "0035")


# --- list --------------------------------------------------------------------------------------


def test_list_returns_offset_envelope_in_creation_order(api: Api, ledger: dict[str, Any]) -> None:
    created = [create(api, ledger, name=f"p{i}") for i in range(3)]
    body = api.ok(api.get(portfolios(ledger)), 200)
    assert body["limit"] == 10
    assert body["page"] == 1
    assert [item["id"] for item in body["items"]] == [p["id"] for p in created]
    assert body["items"][0] == created[0]


def test_list_empty_is_200_with_empty_items(api: Api, ledger: dict[str, Any]) -> None:
    body = api.ok(api.get(portfolios(ledger)), 200)
    assert body["items"] == []


def test_list_is_scoped_to_the_ledger(
    api: Api, ledger: dict[str, Any], organization: dict[str, Any]
) -> None:
    mine = create(api, ledger)
    other = api.create_ledger(organization["id"])
    create(api, other)
    body = api.ok(api.get(portfolios(ledger)), 200)
    assert [item["id"] for item in body["items"]] == [mine["id"]]


def test_list_filters_by_entity_id(api: Api, ledger: dict[str, Any]) -> None:
    match = create(api, ledger, entityId="client-1")
    create(api, ledger, entityId="client-2")
    create(api, ledger)
    body = api.ok(api.get(portfolios(ledger), entity_id="client-1"), 200)
    assert [item["id"] for item in body["items"]] == [match["id"]]


def test_list_filters_by_status(api: Api, ledger: dict[str, Any]) -> None:
    create(api, ledger)
    inactive = create(api, ledger, status={"code": "INACTIVE"})
    body = api.ok(api.get(portfolios(ledger), status="INACTIVE"), 200)
    assert [item["id"] for item in body["items"]] == [inactive["id"]]
    active = api.ok(api.get(portfolios(ledger), status="ACTIVE"), 200)
    assert inactive["id"] not in [item["id"] for item in active["items"]]
    assert len(active["items"]) == 1


def test_list_filters_by_metadata(api: Api, ledger: dict[str, Any]) -> None:
    gold = create(api, ledger, metadata={"tier": "gold"})
    create(api, ledger, metadata={"tier": "silver"})
    body = api.ok(api.get(portfolios(ledger), **{"metadata.tier": "gold"}), 200)
    assert [item["id"] for item in body["items"]] == [gold["id"]]


def test_list_metadata_filter_without_match_is_0058(api: Api, ledger: dict[str, Any]) -> None:
    create(api, ledger, metadata={"tier": "gold"})
    assert_error(api.get(portfolios(ledger), **{"metadata.tier": "bronze"}), 404, "0058")


# --- count -------------------------------------------------------------------------------------


def test_count_answers_204_with_x_total_count(
    api: Api, ledger: dict[str, Any], organization: dict[str, Any]
) -> None:
    path = portfolios(ledger, "/metrics/count")
    empty = api.head(path)
    assert empty.status_code == 204
    assert empty["X-Total-Count"] == "0"
    first = create(api, ledger)
    create(api, ledger)
    create(api, api.create_ledger(organization["id"]))
    response = api.head(path)
    assert response.status_code == 204
    assert response["X-Total-Count"] == "2"
    assert response["Content-Length"] == "0"
    assert response.content == b""
    api.delete(portfolios(ledger, f"/{first['id']}"))
    assert api.head(path)["X-Total-Count"] == "1"


def test_count_in_missing_ledger_is_404(api: Api, organization: dict[str, Any]) -> None:
    ghost = {"organizationId": organization["id"], "id": str(uuid7())}
    response = api.head(portfolios(ghost, "/metrics/count"))
    assert response.status_code == 404
