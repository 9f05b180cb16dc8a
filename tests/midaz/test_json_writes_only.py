"""With API keys off nothing but the request's form tells a cross-site browser post from a
client's: the JSON API takes bodies as application/json only (415, 0047), multipart on the DSL
upload only, and refuses writes a browser marks as cross-site (403, 0043)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from onboarding.models import Organization
from tests.helpers import Api, assert_error
from tests.transactions.book import Book

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Book:
    b = Book(api, ledger)
    b.account("@alice")
    b.account("@bob")
    b.fund("@alice", "100")
    return b


ORG = {"legalName": "Mallory Ltd.", "legalDocument": "66666666"}


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xx",
        "application/octet-stream",
        "",
        "application/jsonp",
        "text/json",
        "application/json; charset=latin-1",
    ],
)
def test_a_json_body_of_another_type_is_refused(client: Client, content_type: str) -> None:
    before = Organization.all_objects.count()
    response = client.generic(
        "POST", "/v1/organizations", orjson.dumps(ORG), content_type=content_type
    )
    assert_error(response, 415, "0047")
    assert Organization.all_objects.count() == before


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"]
)
def test_json_with_or_without_charset_is_taken(client: Client, content_type: str) -> None:
    response = client.generic(
        "POST", "/v1/organizations", orjson.dumps(ORG), content_type=content_type
    )
    assert response.status_code == 201, response.content


def test_patch_and_put_are_checked_too(api: Api, organization: dict[str, Any]) -> None:
    path = f"/v1/organizations/{organization['id']}"
    body = orjson.dumps({"legalName": "Renamed"})
    assert_error(api.client.generic("PATCH", path, body, content_type="text/plain"), 415, "0047")
    assert api.ok(api.get(f"/organizations/{organization['id']}"), 200)["legalName"] != "Renamed"
    rates = "/v1/organizations/x/ledgers/y/asset-rates"
    assert_error(api.client.generic("PUT", rates, b"{}", content_type="text/plain"), 415, "0047")


def test_a_text_plain_transaction_moves_no_money(book: Book) -> None:
    before = book.snapshot()
    body = {
        "send": {
            "asset": "USD",
            "value": "60",
            "source": {
                "from": [{"accountAlias": "@alice", "amount": {"asset": "USD", "value": "60"}}]
            },
            "distribute": {
                "to": [{"accountAlias": "@bob", "amount": {"asset": "USD", "value": "60"}}]
            },
        }
    }
    path = "/v1" + book.path("/transactions/json")
    response = book.api.client.generic("POST", path, orjson.dumps(body), content_type="text/plain")
    assert_error(response, 415, "0047")
    assert book.snapshot() == before


def test_the_dsl_upload_keeps_multipart(client: Client, book: Book) -> None:
    gold = (
        "(transaction V1 (chart-of-accounts-group-name PIX) (send USD 5|0 "
        "(source (from @alice :amount USD 5|0)) (distribute (to @bob :amount USD 5|0))))"
    )
    file = SimpleUploadedFile("t.gold", gold.encode(), content_type="text/plain")
    response = client.post("/v1" + book.path("/transactions/dsl"), {"dsl": file})
    assert response.status_code == 201, response.content


def test_bodyless_actions_ignore_the_type_but_not_the_site(book: Book) -> None:
    held = book.ok(book.transfer("@alice", "@bob", "10", pending=True))
    base = "/v1" + book.path(f"/transactions/{held['id']}")
    client = book.api.client
    # A cross-site page can send a form post with no body: a browser names it cross-site.
    for site in ("cross-site", "same-site"):
        refused = client.post(f"{base}/commit", headers={"Sec-Fetch-Site": site})
        assert_error(refused, 403, "0043")
    assert book.balance("@bob")[0] == 0
    committed = client.post(f"{base}/commit", headers={"Sec-Fetch-Site": "same-origin"})
    assert committed.status_code == 201, committed.content


def test_a_trusted_console_may_act_on_a_hold_from_another_site(book: Book, settings: Any) -> None:
    settings.CSRF_TRUSTED_ORIGINS = ["https://console.example"]
    held = book.ok(book.transfer("@alice", "@bob", "10", pending=True))
    base = "/v1" + book.path(f"/transactions/{held['id']}")
    client = book.api.client
    for origin in ("https://evil.example", "null"):
        refused = client.post(
            f"{base}/commit", headers={"Sec-Fetch-Site": "cross-site", "Origin": origin}
        )
        assert_error(refused, 403, "0043")
    assert book.balance("@bob")[0] == 0
    committed = client.post(
        f"{base}/commit",
        headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://console.example"},
    )
    assert committed.status_code == 201, committed.content


def test_a_cross_site_json_write_is_refused(api: Api) -> None:
    before = Organization.all_objects.count()
    response = api.client.post(
        "/v1/organizations",
        orjson.dumps(ORG),
        content_type="application/json",
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert_error(response, 403, "0043")
    assert Organization.all_objects.count() == before


def test_reads_and_unknown_routes_are_untouched(client: Client) -> None:
    assert client.get("/v1/organizations", content_type="text/plain").status_code == 200
    assert_error(client.post("/v1/nothing", b"x", content_type="text/plain"), 404, "0484")
