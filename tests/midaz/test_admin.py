"""Every model is in the admin, its list and add pages render, and money is read-only."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import Client

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
