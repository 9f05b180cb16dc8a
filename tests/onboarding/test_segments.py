"""Segments (MIDAZ_API.md §2.5): CRUD, name unique per ledger (0015), list and count."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from uuid_utils.compat import uuid7

from onboarding.models import Segment
from tests.helpers import Api, assert_error, ledger_path

pytestmark = pytest.mark.django_db


def body_of(response: Any) -> Any:
    return orjson.loads(response.content)


def segments(ledger: dict[str, Any], suffix: str = "") -> str:
    return ledger_path(ledger, "/segments" + suffix)


def create(api: Api, ledger: dict[str, Any], name: str = "Retail", **fields: Any) -> dict[str, Any]:
    return api.ok(api.post(segments(ledger), {"name": name, **fields}), 201)


# --- create ------------------------------------------------------------------------------------


def test_create_returns_201_with_the_segment(api: Api, ledger: dict[str, Any]) -> None:
    body = create(
        api,
        ledger,
        "Corporate",
        status={"code": "PENDING", "description": "pilot"},
        metadata={"region": "emea", "weight": 1.5},
    )
    assert uuid.UUID(body["id"]).version == 7
    assert body["name"] == "Corporate"
    assert body["status"] == {"code": "PENDING", "description": "pilot"}
    assert body["ledgerId"] == ledger["id"]
    assert body["organizationId"] == ledger["organizationId"]
    assert body["metadata"] == {"region": "emea", "weight": 1.5}
    assert body["deletedAt"] is None
    assert body["createdAt"].endswith("Z")
    stored = Segment.objects.get(pk=body["id"])
    assert stored.name == "Corporate"
    assert stored.status == "PENDING"
    assert stored.metadata == {"region": "emea", "weight": 1.5}
    assert api.ok(api.get(segments(ledger, f"/{body['id']}")), 200) == body


def test_create_defaults_status_to_active_and_omits_metadata(
    api: Api, ledger: dict[str, Any]
) -> None:
    body = create(api, ledger)
    assert body["status"]["code"] == "ACTIVE"
    assert "metadata" not in body


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"status": {"code": "ACTIVE"}}])
def test_create_without_name_is_0009(api: Api, ledger: dict[str, Any], body: Any) -> None:
    error = assert_error(api.post(segments(ledger), body), 400, "0009")
    assert error["fields"] == {"name": "name is a required field"}
    assert Segment.objects.count() == 0


def test_create_name_longer_than_256_is_0047(api: Api, ledger: dict[str, Any]) -> None:
    assert_error(api.post(segments(ledger), {"name": "s" * 257}), 400, "0047")
    assert Segment.objects.count() == 0


def test_create_duplicate_name_in_ledger_is_0015(api: Api, ledger: dict[str, Any]) -> None:
    create(api, ledger, "Retail")
    assert_error(api.post(segments(ledger), {"name": "Retail"}), 409, "0015")
    assert Segment.objects.filter(name="Retail").count() == 1


def test_same_name_in_another_ledger_is_fine(
    api: Api, ledger: dict[str, Any], organization: dict[str, Any]
) -> None:
    create(api, ledger, "Retail")
    other = api.create_ledger(organization["id"])
    body = create(api, other, "Retail")
    assert body["ledgerId"] == other["id"]
    assert Segment.objects.filter(name="Retail").count() == 2


def test_name_of_a_deleted_segment_can_be_reused(api: Api, ledger: dict[str, Any]) -> None:
    old = create(api, ledger, "Retail")
    assert api.delete(segments(ledger, f"/{old['id']}")).status_code == 204
    new = create(api, ledger, "Retail")
    assert new["id"] != old["id"]


# --- get ---------------------------------------------------------------------------------------


def test_get_unknown_segment_is_0036(api: Api, ledger: dict[str, Any]) -> None:
    assert_error(api.get(segments(ledger, f"/{uuid7()}")), 404, "0036")


def test_get_with_non_uuid_id_is_0065(api: Api, ledger: dict[str, Any]) -> None:
    assert_error(api.get(segments(ledger, "/abc")), 400, "0065")


def test_get_from_another_ledger_is_0036(
    api: Api, ledger: dict[str, Any], organization: dict[str, Any]
) -> None:
    segment = create(api, ledger)
    other = api.create_ledger(organization["id"])
    assert_error(api.get(segments(other, f"/{segment['id']}")), 404, "0036")


# --- update ------------------------------------------------------------------------------------


def test_patch_updates_name_status_and_metadata(api: Api, ledger: dict[str, Any]) -> None:
    segment = create(api, ledger, "Retail", metadata={"a": "1", "b": "2"})
    body = api.ok(
        api.patch(
            segments(ledger, f"/{segment['id']}"),
            {
                "name": "Wholesale",
                "status": {"code": "INACTIVE", "description": "closed"},
                "metadata": {"a": None, "c": 3},
            },
        ),
        200,
    )
    assert body["name"] == "Wholesale"
    assert body["status"] == {"code": "INACTIVE", "description": "closed"}
    assert body["metadata"] == {"b": "2", "c": 3}
    stored = Segment.objects.get(pk=segment["id"])
    assert (stored.name, stored.status) == ("Wholesale", "INACTIVE")
    assert stored.metadata == {"b": "2", "c": 3}
    assert api.ok(api.get(segments(ledger, f"/{segment['id']}")), 200) == body


def test_patch_rename_onto_another_segment_is_0015(api: Api, ledger: dict[str, Any]) -> None:
    create(api, ledger, "Retail")
    other = create(api, ledger, "Wholesale")
    response = api.patch(segments(ledger, f"/{other['id']}"), {"name": "Retail"})
    assert_error(response, 409, "0015")
    assert Segment.objects.get(pk=other["id"]).name == "Wholesale"


def test_patch_keeping_its_own_name_is_fine(api: Api, ledger: dict[str, Any]) -> None:
    segment = create(api, ledger, "Retail")
    body = api.ok(api.patch(segments(ledger, f"/{segment['id']}"), {"name": "Retail"}), 200)
    assert body["name"] == "Retail"


def test_patch_rename_onto_a_name_in_another_ledger_is_fine(
    api: Api, ledger: dict[str, Any], organization: dict[str, Any]
) -> None:
    other = api.create_ledger(organization["id"])
    create(api, other, "Retail")
    segment = create(api, ledger, "Wholesale")
    body = api.ok(api.patch(segments(ledger, f"/{segment['id']}"), {"name": "Retail"}), 200)
    assert body["name"] == "Retail"


def test_patch_unknown_segment_is_0036(api: Api, ledger: dict[str, Any]) -> None:
    assert_error(api.patch(segments(ledger, f"/{uuid7()}"), {"name": "x"}), 404, "0036")


def test_patch_with_unknown_field_is_0053(api: Api, ledger: dict[str, Any]) -> None:
    segment = create(api, ledger)
    error = assert_error(
        api.patch(segments(ledger, f"/{segment['id']}"), {"code": "X"}), 400, "0053"
    )
    assert error["fields"] == {"code": "X"}


# --- delete ------------------------------------------------------------------------------------


def test_delete_is_soft_and_then_404(api: Api, ledger: dict[str, Any]) -> None:
    segment = create(api, ledger)
    path = segments(ledger, f"/{segment['id']}")
    response = api.delete(path)
    assert response.status_code == 204
    assert response.content == b""
    assert_error(api.get(path), 404, "0036")
    assert_error(api.delete(path), 404, "0036")
    assert Segment.all_objects.get(pk=segment["id"]).deleted_at is not None
    assert not Segment.objects.filter(pk=segment["id"]).exists()


# --- list and count ----------------------------------------------------------------------------


def test_list_returns_the_segments_of_the_ledger(
    api: Api, ledger: dict[str, Any], organization: dict[str, Any]
) -> None:
    created = [create(api, ledger, f"s{i}") for i in range(3)]
    create(api, api.create_ledger(organization["id"]), "elsewhere")
    body = api.ok(api.get(segments(ledger)), 200)
    assert body["limit"] == 10
    assert body["page"] == 1
    assert [item["id"] for item in body["items"]] == [s["id"] for s in created]
    assert body["items"][1] == created[1]


def test_list_excludes_deleted_segments(api: Api, ledger: dict[str, Any]) -> None:
    keep = create(api, ledger, "keep")
    gone = create(api, ledger, "gone")
    api.delete(segments(ledger, f"/{gone['id']}"))
    body = api.ok(api.get(segments(ledger)), 200)
    assert [item["id"] for item in body["items"]] == [keep["id"]]


def test_list_filters_by_metadata(api: Api, ledger: dict[str, Any]) -> None:
    create(api, ledger, "a", metadata={"kind": "x"})
    match = create(api, ledger, "b", metadata={"kind": "y"})
    body = api.ok(api.get(segments(ledger), **{"metadata.kind": "y"}), 200)
    assert [item["id"] for item in body["items"]] == [match["id"]]


def test_list_metadata_filter_without_match_is_0057(api: Api, ledger: dict[str, Any]) -> None:
    create(api, ledger, "a", metadata={"kind": "x"})
    assert_error(api.get(segments(ledger), **{"metadata.kind": "nope"}), 404, "0057")


def test_count_answers_204_with_x_total_count(api: Api, ledger: dict[str, Any]) -> None:
    path = segments(ledger, "/metrics/count")
    assert api.head(path)["X-Total-Count"] == "0"
    first = create(api, ledger, "a")
    create(api, ledger, "b")
    create(api, ledger, "c")
    response = api.head(path)
    assert response.status_code == 204
    assert response["X-Total-Count"] == "3"
    assert response["Content-Length"] == "0"
    assert response.content == b""
    api.delete(segments(ledger, f"/{first['id']}"))
    assert api.head(path)["X-Total-Count"] == "2"
