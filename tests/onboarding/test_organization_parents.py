"""An organization's parent: a live organization the caller may see, never itself nor one of
its descendants (Midaz: 0039 parent not found, 0091 its own id as parent)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from access.models import ApiKey
from onboarding.models import Organization
from tests.helpers import Api, assert_error

pytestmark = pytest.mark.django_db


def _key(*orgs: Organization, everything: bool = False) -> Api:
    api_key = ApiKey(name="parents", scope=ApiKey.READ_WRITE, all_organizations=everything)
    key = api_key.issue()
    api_key.save()
    api_key.organizations.set(orgs)
    return Api(Client(headers={"Authorization": f"Bearer {key}"}))


def _parent_of(org: dict[str, Any]) -> str | None:
    parent = Organization.all_objects.get(pk=org["id"]).parent_organization_id
    return None if parent is None else str(parent)


def _set_parent(api: Api, org: dict[str, Any], parent: dict[str, Any]) -> Any:
    return api.patch(f"/organizations/{org['id']}", {"parentOrganizationId": parent["id"]})


def test_no_cycle_through_descendants(api: Api) -> None:
    a = api.create_organization()
    b = api.create_organization(parentOrganizationId=a["id"])
    c = api.create_organization(parentOrganizationId=b["id"])
    assert_error(_set_parent(api, a, b), 422, "0091")  # A under B under A
    assert_error(_set_parent(api, a, c), 422, "0091")  # A under C under B under A
    assert_error(_set_parent(api, a, a), 422, "0091")
    assert _parent_of(a) is None
    # Moving a branch where it creates no cycle is fine.
    d = api.create_organization()
    assert api.ok(_set_parent(api, b, d), 200)["parentOrganizationId"] == d["id"]
    assert api.ok(_set_parent(api, a, c), 200)["parentOrganizationId"] == c["id"]


def test_a_deleted_parent_is_0039(api: Api) -> None:
    gone = api.create_organization()
    assert api.delete(f"/organizations/{gone['id']}").status_code == 204
    child = api.create_organization()
    assert_error(_set_parent(api, child, gone), 404, "0039")
    create = api.post(
        "/organizations",
        {"legalName": "X", "legalDocument": "1", "parentOrganizationId": gone["id"]},
    )
    assert_error(create, 404, "0039")
    assert _parent_of(child) is None


@pytest.mark.auth
def test_a_key_cannot_name_another_tenants_organization_as_parent() -> None:
    root = _key(everything=True)
    mine, theirs = root.create_organization(), root.create_organization()
    other_of_mine = root.create_organization()
    own = _key(
        Organization.objects.get(pk=mine["id"]), Organization.objects.get(pk=other_of_mine["id"])
    )
    # Answered as unknown: the key learns nothing about the other tenant's id.
    assert_error(_set_parent(own, mine, theirs), 404, "0039")
    assert _parent_of(mine) is None
    # Its own organizations may be arranged.
    assert (
        api_ok(own, _set_parent(own, mine, other_of_mine))["parentOrganizationId"]
        == (other_of_mine["id"])
    )


def api_ok(api: Api, response: Any) -> dict[str, Any]:
    return api.ok(response, 200)


@pytest.mark.django_db(transaction=True)
def test_concurrent_swaps_leave_no_cycle(api: Api) -> None:
    a, b = api.create_organization(), api.create_organization()
    barrier = threading.Barrier(2)
    answers: list[int] = []

    def swap(child: dict[str, Any], parent: dict[str, Any]) -> None:
        try:
            barrier.wait()
            answers.append(_set_parent(Api(Client()), child, parent).status_code)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=swap, args=(a, b)),
        threading.Thread(target=swap, args=(b, a)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(answers) == [200, 422], answers
    assert not (_parent_of(a) == b["id"] and _parent_of(b) == a["id"])
