"""API keys with authentication on: who may reach what (issue 7, access control)."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from access.models import ApiKey, digest_of
from onboarding.models import Organization
from tests.helpers import Api, assert_error, ledger_path
from tests.transactions.book import amt, send
from transactions.models import Transaction

pytestmark = [pytest.mark.auth, pytest.mark.django_db]


def make_key(*orgs: Any, write: bool = False, everything: bool = False) -> str:
    api_key = ApiKey(
        name="test",
        scope=ApiKey.READ_WRITE if write else ApiKey.READ,
        all_organizations=everything,
    )
    key = api_key.issue()
    api_key.save()
    api_key.organizations.set(orgs)
    return key


def api_with(key: str | None) -> Api:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return Api(Client(headers=headers))


@dataclass
class Tenant:
    organization: dict[str, Any]
    ledger: dict[str, Any]
    transaction_id: str

    @property
    def org(self) -> Organization:
        return Organization.objects.get(pk=self.organization["id"])


def make_tenant(root: Api) -> Tenant:
    org = root.create_organization()
    ledger = root.create_ledger(org["id"])
    root.create_asset(ledger, code="USD")
    root.create_account(ledger, alias="@alice")
    body = send("USD", "10", [amt("@external/USD", "10")], [amt("@alice", "10")])
    tx = root.ok(root.post(ledger_path(ledger, "/transactions/json"), body), 201)
    return Tenant(org, ledger, tx["id"])


@pytest.fixture
def root() -> Api:
    """A read-write key over every organization."""
    return api_with(make_key(write=True, everything=True))


@pytest.fixture
def tenants(root: Api) -> tuple[Tenant, Tenant]:
    return make_tenant(root), make_tenant(root)


# --- credentials ----------------------------------------------------------------------------


def test_no_header_is_0041_with_a_bearer_challenge(tenants: tuple[Tenant, Tenant]) -> None:
    response = api_with(None).get("/organizations")
    assert_error(response, 401, "0041")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    ["Bearer mdz_not-a-key", "Basic dXNlcjpwYXNz", "Bearer", "Bearer " + "x" * 5000, "Token abc"],
)
def test_bad_credentials_are_0042(header: str) -> None:
    response = Client(headers={"Authorization": header}).get("/v1/organizations")
    assert_error(response, 401, "0042")


def test_probes_schema_and_version_need_no_key() -> None:
    client = Client()
    for path in ("/health", "/version", "/v1/openapi.json"):
        assert client.get(path).status_code == 200, path
    # Readiness answers on the services (503 when one is down), never on credentials.
    assert orjson.loads(client.get("/readyz").content)["checks"]


def test_the_schema_declares_the_bearer_scheme() -> None:
    schema = orjson.loads(Client().get("/v1/openapi.json").content)
    assert schema["components"]["securitySchemes"]["BearerKey"]["scheme"] == "bearer"
    posting = schema["paths"][
        "/v1/organizations/{organization_id}/ledgers/{ledger_id}/transactions/json"
    ]["post"]
    assert {"BearerKey": []} in posting["security"]
    assert {"401", "403"} <= set(posting["responses"])


def test_a_revoked_key_stops_working_at_once(tenants: tuple[Tenant, Tenant]) -> None:
    a, _ = tenants
    key = make_key(a.org)
    api = api_with(key)
    assert api.get(f"/organizations/{a.organization['id']}").status_code == 200
    ApiKey.objects.get(digest=digest_of(key)).revoke()
    assert_error(api.get(f"/organizations/{a.organization['id']}"), 401, "0042")


def test_an_expired_key_is_refused(tenants: tuple[Tenant, Tenant]) -> None:
    a, _ = tenants
    key = make_key(a.org)
    ApiKey.objects.filter(digest=digest_of(key)).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert_error(api_with(key).get(f"/organizations/{a.organization['id']}"), 401, "0042")


def test_only_the_digest_is_stored() -> None:
    key = make_key(everything=True)
    row = ApiKey.objects.get(digest=digest_of(key))
    assert key.startswith(row.prefix)
    assert len(key) > len(row.prefix) + 30
    stored = orjson.dumps(list(ApiKey.objects.values())).decode()
    assert key not in stored
    assert key[len(row.prefix) :] not in stored


# --- organizations ---------------------------------------------------------------------------


def test_a_key_lists_and_counts_only_its_organizations(tenants: tuple[Tenant, Tenant]) -> None:
    a, b = tenants
    api = api_with(make_key(a.org))
    ids = {item["id"] for item in api.ok(api.get("/organizations", limit=100), 200)["items"]}
    assert ids == {a.organization["id"]}
    assert api.head("/organizations/metrics/count")["X-Total-Count"] == "1"
    everything = api_with(make_key(everything=True))
    listed = everything.ok(everything.get("/organizations", limit=100), 200)["items"]
    assert {a.organization["id"], b.organization["id"]} <= {item["id"] for item in listed}


def test_creating_an_organization_needs_an_all_organizations_key(
    tenants: tuple[Tenant, Tenant],
) -> None:
    a, _ = tenants
    body = {"legalName": "New Co", "legalDocument": "1"}
    before = Organization.objects.count()
    assert_error(api_with(make_key(a.org, write=True)).post("/organizations", body), 403, "0043")
    assert Organization.objects.count() == before
    api = api_with(make_key(write=True, everything=True))
    assert api.post("/organizations", body).status_code == 201


def test_metadata_index_settings_need_an_all_organizations_key(
    tenants: tuple[Tenant, Tenant],
) -> None:
    a, _ = tenants
    scoped = api_with(make_key(a.org, write=True))
    assert_error(scoped.get("/settings/metadata-indexes"), 403, "0043")
    body = {"metadataKey": "tier", "unique": False}
    assert_error(scoped.post("/settings/metadata-indexes/entities/transaction", body), 403, "0043")
    assert api_with(make_key(everything=True)).get("/settings/metadata-indexes").status_code == 200


# --- every route under an organization -------------------------------------------------------

_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")


def _routes(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, type[Any]]]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and hasattr(pattern.callback, "cls"):
            yield route, pattern.callback.cls


def organization_routes() -> list[tuple[str, type[Any]]]:
    found = [
        (route, cls)
        for route, cls in _routes(get_resolver().url_patterns)
        if route.startswith("v1/organizations/<")
    ]
    assert len(found) > 40, "the URL configuration was not walked"
    return found


def _fill(route: str, cls: type[Any], tenant: Tenant) -> str:
    values = {
        getattr(cls, "organization_kwarg", "organization_id"): tenant.organization["id"],
        "organization_id": tenant.organization["id"],
        "ledger_id": tenant.ledger["id"],
        "transaction_id": tenant.transaction_id,
    }
    return "/" + _PARAM.sub(lambda m: values.get(m.group(1), str(uuid.uuid4())), route)


METHODS = ("get", "head", "post", "patch", "put", "delete")


def test_a_key_of_one_organization_reaches_nothing_of_another(
    tenants: tuple[Tenant, Tenant],
) -> None:
    """Every route under ``/v1/organizations/<id>`` (walked from the URL configuration, so a
    new route is covered without touching this test), every method: 403 for organization B,
    and never 401/403 for the key's own organization A."""
    a, b = tenants
    client = Client(headers={"Authorization": f"Bearer {make_key(a.org, write=True)}"})
    transactions_before = Transaction.objects.count()
    checked = 0
    for route, cls in organization_routes():
        for method in METHODS:
            if not hasattr(cls, method):
                continue
            path = _fill(route, cls, b)
            response = client.generic(method.upper(), path, b"{}", "application/json")
            assert response.status_code == 403, (method, path, response.content)
            if method != "head":
                assert orjson.loads(response.content)["code"] == "0043", (method, path)
            own = client.generic("GET", _fill(route, cls, a)) if method == "get" else None
            if own is not None:
                assert own.status_code not in (401, 403), (path, own.content)
            checked += 1
    assert checked > 60
    assert Transaction.objects.count() == transactions_before


def test_the_organization_item_route_is_scoped_too(tenants: tuple[Tenant, Tenant]) -> None:
    a, b = tenants
    api = api_with(make_key(a.org, write=True))
    other = f"/organizations/{b.organization['id']}"
    assert_error(api.get(other), 403, "0043")
    assert_error(api.patch(other, {"legalName": "Taken"}), 403, "0043")
    assert_error(api.delete(other), 403, "0043")
    assert Organization.objects.get(pk=b.organization["id"]).legal_name != "Taken"
    assert api.get(f"/organizations/{a.organization['id']}").status_code == 200


# --- read-only keys --------------------------------------------------------------------------


def test_a_read_only_key_reads_but_cannot_post(tenants: tuple[Tenant, Tenant]) -> None:
    a, _ = tenants
    api = api_with(make_key(a.org))
    assert api.get(ledger_path(a.ledger, f"/transactions/{a.transaction_id}")).status_code == 200
    before = Transaction.objects.count()
    body = send("USD", "1", [amt("@external/USD", "1")], [amt("@alice", "1")])
    assert_error(api.post(ledger_path(a.ledger, "/transactions/json"), body), 403, "0043")
    assert_error(api.patch(ledger_path(a.ledger, ""), {"name": "x"}), 403, "0043")
    assert Transaction.objects.count() == before
    writer = api_with(make_key(a.org, write=True))
    assert writer.post(ledger_path(a.ledger, "/transactions/json"), body).status_code == 201


# --- management commands and the admin --------------------------------------------------------


def test_create_and_revoke_commands(tenants: tuple[Tenant, Tenant]) -> None:
    a, b = tenants
    out = io.StringIO()
    call_command(
        "create_api_key",
        "ci",
        "--organization",
        a.organization["id"],
        "--write",
        stdout=out,
        stderr=io.StringIO(),
    )
    key = out.getvalue().strip()
    api = api_with(key)
    assert api.get(f"/organizations/{a.organization['id']}").status_code == 200
    assert_error(api.get(f"/organizations/{b.organization['id']}"), 403, "0043")
    row = ApiKey.objects.get(digest=digest_of(key))
    assert row.scope == ApiKey.READ_WRITE
    assert not row.all_organizations
    call_command("revoke_api_key", row.prefix, stdout=io.StringIO())
    assert_error(api.get(f"/organizations/{a.organization['id']}"), 401, "0042")


def test_create_command_refuses_an_unknown_organization() -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no such organization"):
        call_command("create_api_key", "x", "--organization", str(uuid.uuid4()))
    with pytest.raises(CommandError, match="either"):
        call_command("create_api_key", "x")
    assert not ApiKey.objects.exists()


def test_the_admin_needs_a_staff_login() -> None:
    client = Client()
    response = client.get("/admin/access/apikey/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    User.objects.create_user("clerk", password="pw-clerk-123")
    assert client.login(username="clerk", password="pw-clerk-123")
    assert client.get("/admin/access/apikey/").status_code == 302  # not staff: back to login


def test_a_key_made_in_the_admin_is_shown_once_and_works(
    tenants: tuple[Tenant, Tenant],
) -> None:
    a, _ = tenants
    User.objects.create_superuser("root", password="pw-root-123")
    client = Client()
    assert client.login(username="root", password="pw-root-123")
    response = client.post(
        "/admin/access/apikey/add/",
        {"name": "from admin", "scope": "read", "organizations": [a.organization["id"]]},
        follow=True,
    )
    assert response.status_code == 200
    shown = re.search(r"(mdz_[A-Za-z0-9_-]{40,})", response.content.decode())
    assert shown, "the new key is shown once after it is made"
    key = shown.group(1)
    row = ApiKey.objects.get(digest=digest_of(key))
    assert row.created_by == "root"
    assert api_with(key).get(f"/organizations/{a.organization['id']}").status_code == 200
    again = client.get(f"/admin/access/apikey/{row.pk}/change/").content.decode()
    assert key not in again
