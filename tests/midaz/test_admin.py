"""Every model is in the admin, its list and add pages render, and money is read-only."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import Client, RequestFactory

from onboarding.models import Account, Asset, Ledger
from tests.helpers import Api

pytestmark = pytest.mark.django_db

MODELS = [
    "onboarding/organization",
    "onboarding/ledger",
    "onboarding/asset",
    "onboarding/portfolio",
    "onboarding/segment",
    "onboarding/accounttype",
    "onboarding/account",
    "transactions/balance",
    "transactions/transaction",
    "transactions/operation",
]


@pytest.fixture
def staff(client: Client) -> Client:
    user = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


@pytest.mark.parametrize("model", MODELS)
def test_changelist_renders(staff: Client, api: Api, ledger: dict[str, Any], model: str) -> None:
    api.create_asset(ledger, code="USD")
    account = api.create_account(ledger, alias="@admin-test")
    response = staff.get(f"/admin/{model}/")
    assert response.status_code == 200
    if model == "onboarding/account":
        assert account["alias"] in response.content.decode()


def test_money_is_read_only(staff: Client) -> None:
    for name in ("balance", "transaction", "operation"):
        assert staff.get(f"/admin/transactions/{name}/add/").status_code == 403
    registered = {m._meta.label_lower for m in admin.site._registry}
    assert {m.replace("/", ".") for m in MODELS} <= registered


def test_onboarding_add_page_renders(staff: Client) -> None:
    assert staff.get("/admin/onboarding/organization/add/").status_code == 200


@pytest.mark.parametrize(
    ("model", "fixed"),
    [
        ("ledger", {"organization"}),
        ("asset", {"organization", "ledger"}),
        ("account", {"organization", "ledger", "alias", "asset_code", "type"}),
    ],
)
def test_what_owns_a_row_cannot_be_changed(
    staff: Client, api: Api, ledger: dict[str, Any], model: str, fixed: set[str]
) -> None:
    """The per-process ledger → organization map, the idempotency and cache keys and every
    row of a ledger assume a ledger never changes organization (nor a row its ledger): the
    change form has no such field, and a POST naming another organization changes nothing."""
    asset = api.create_asset(ledger, code="USD")
    account = api.create_account(ledger, alias="@fixed")
    rows: dict[str, tuple[Any, str]] = {
        "ledger": (Ledger, ledger["id"]),
        "asset": (Asset, asset["id"]),
        "account": (Account, account["id"]),
    }
    cls, pk = rows[model]
    obj = cls.objects.get(pk=pk)
    request = RequestFactory().get("/")
    request.user = User.objects.get(username="root")
    model_admin = admin.site._registry[cls]
    form = model_admin.get_form(request, obj)
    assert not fixed & set(form.base_fields), sorted(form.base_fields)
    page = staff.get(f"/admin/onboarding/{model}/{pk}/change/")
    assert page.status_code == 200
    assert 'name="organization"' not in page.content.decode()
    # Still free on the add page (a new row chooses its owner).
    assert "organization" in model_admin.get_form(request, None).base_fields
    if model == "ledger":
        other = api.create_organization()
        staff.post(
            f"/admin/onboarding/ledger/{pk}/change/",
            {"organization": other["id"], "name": obj.name, "status": obj.status},
        )
        obj.refresh_from_db()
        assert str(obj.organization_id) == ledger["organizationId"]
