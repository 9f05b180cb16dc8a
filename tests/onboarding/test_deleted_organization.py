"""Nothing lives under a deleted organization: its ledgers answer 0038 on every route and post
nothing, and no ledger can be created under it afterwards (nor while it is being deleted)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connections, transaction

from midaz.exceptions import NotFound
from onboarding import ledger_settings, services
from onboarding.models import Ledger, Organization
from tests.helpers import Api, assert_error, ledger_path
from tests.transactions.book import Book
from transactions.models import Balance


@pytest.fixture
def book(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Book:
    b = Book(api, ledger)
    b.account("@alice")
    b.account("@bob")
    b.fund("@alice", "10")
    return b


@pytest.mark.django_db
def test_every_route_under_a_deleted_organization_is_0038(api: Api, book: Book) -> None:
    org = book.ledger["organizationId"]
    other = api.create_ledger(org, name="second")
    assert api.delete(f"/organizations/{org}").status_code == 204
    for path in ("", "/accounts", "/balances", "/assets", "/transactions", "/settings"):
        assert_error(api.get(book.path(path)), 404, "0038")
    assert_error(api.get(ledger_path(other, "/accounts")), 404, "0038")
    assert_error(api.get(f"/organizations/{org}/ledgers"), 404, "0038")
    assert_error(api.post(f"/organizations/{org}/ledgers", {"name": "late"}), 404, "0038")
    before = Balance.objects.get(ledger_id=book.ledger["id"], alias="@bob").available
    assert_error(book.transfer("@alice", "@bob", "1"), 404, "0038")
    assert Balance.objects.get(ledger_id=book.ledger["id"], alias="@bob").available == before
    # The ledgers went with it (midaz_post refuses them in the posting's own round trip).
    assert not Ledger.objects.filter(organization_id=org).exists()
    # A second delete is a 404, not a second 204.
    assert_error(api.delete(f"/organizations/{org}"), 404, "0038")


@pytest.mark.django_db
def test_a_ledger_under_a_deleted_organization_never_posts(api: Api, book: Book) -> None:
    """Even a ledger left alive under a deleted organization (a row deleted by hand, or from
    before the cascade) is not found by the API."""
    org = book.ledger["organizationId"]
    Organization.objects.filter(pk=org).update(deleted_at="2026-01-01T00:00:00Z")
    assert_error(api.get(book.path("/accounts")), 404, "0038")
    assert_error(api.get(book.path("/balances")), 404, "0038")
    ledger_settings._owners.clear()  # as in a process started since
    before = Balance.objects.get(ledger_id=book.ledger["id"], alias="@bob").available
    assert_error(book.transfer("@alice", "@bob", "1"), 404, "0038")
    assert Balance.objects.get(ledger_id=book.ledger["id"], alias="@bob").available == before


@pytest.mark.django_db(transaction=True)
def test_a_ledger_created_while_its_organization_is_deleted_goes_too(api: Api) -> None:
    """organization_delete holds the organization's row: a ledger_create that started first
    makes the delete wait and is deleted with it; one that starts after answers 0038."""
    org = Organization.objects.get(pk=api.create_organization()["id"])
    started, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def create_and_hold() -> None:
        try:
            with transaction.atomic():
                services.ledger_create(organization=org, data={"name": "racing"})
                started.set()
                release.wait(10)
        except BaseException as exc:
            errors.append(exc)
            started.set()
        finally:
            connections.close_all()

    creator = threading.Thread(target=create_and_hold)
    creator.start()
    assert started.wait(10)

    def delete() -> None:
        try:
            services.organization_delete(organization=Organization.objects.get(pk=org.pk))
        finally:
            connections.close_all()

    deleter = threading.Thread(target=delete)
    deleter.start()
    deleter.join(0.5)
    assert deleter.is_alive(), "the delete did not wait for the ledger being created"
    release.set()
    creator.join(10)
    deleter.join(10)
    assert not errors
    assert not Ledger.objects.filter(organization_id=org.pk).exists()
    assert Ledger.all_objects.filter(organization_id=org.pk, name="racing").exists()
    with pytest.raises(NotFound) as refused:
        services.ledger_create(organization=org, data={"name": "after"})
    assert refused.value.code == "0038"
