"""A browser that sends no Sec-Fetch-Site (an old one, or one behind a proxy that strips it)
still sends Origin on a cross-site post: a /v1 write whose Origin is neither the host it was
sent to nor one of CSRF_TRUSTED_ORIGINS is refused (403, 0043) whatever its body, the
multipart DSL upload included. A client other than a browser sends no Origin and is untouched."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from onboarding.models import Organization
from tests.helpers import Api, assert_error
from tests.transactions.book import Book

pytestmark = pytest.mark.django_db

GOLD = (
    "(transaction V1 (chart-of-accounts-group-name PIX) (send USD 5|0 "
    "(source (from @alice :amount USD 5|0)) (distribute (to @bob :amount USD 5|0))))"
)
ORG = {"legalName": "Mallory Ltd.", "legalDocument": "66666666"}


@pytest.fixture
def book(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Book:
    b = Book(api, ledger)
    b.account("@alice")
    b.account("@bob")
    b.fund("@alice", "100")
    return b


def _upload(book: Book, **headers: str) -> Any:
    file = SimpleUploadedFile("t.gold", GOLD.encode(), content_type="text/plain")
    return book.api.client.post(
        "/v1" + book.path("/transactions/dsl"), {"dsl": file}, headers=headers
    )


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "null",
        "http://testserver.evil.example",
        "http://evil.example:80",
        "http://testserver:8443",  # another port is another origin
        "garbage",
        "http://",
        "http://testserver/path",
        "http://évil.example",
    ],
)
def test_a_cross_site_dsl_upload_without_sec_fetch_site_moves_no_money(
    book: Book, origin: str
) -> None:
    before = book.snapshot()
    assert_error(_upload(book, Origin=origin), 403, "0043")
    assert book.snapshot() == before


@pytest.mark.parametrize(
    "origin",
    ["http://testserver", "HTTP://TestServer", "http://testserver:80", "https://testserver"],
)
def test_the_own_host_may_upload(book: Book, origin: str) -> None:
    response = _upload(book, Origin=origin)
    assert response.status_code == 201, response.content


def test_no_origin_is_a_client_not_a_browser(book: Book) -> None:
    assert _upload(book).status_code == 201


TRUSTED = ["https://console.example", "https://*.ops.example"]
ORIGINS = [
    ("https://console.example", True),
    ("https://console.example:443", True),
    ("https://a.ops.example", True),
    ("HTTPS://A.B.Ops.Example", True),
    ("http://console.example", False),  # another scheme
    ("https://console.example:8443", False),  # another port
    ("https://console.example.evil", False),
    ("https://evilops.example", False),
    ("https://ops.example.evil", False),
    ("https://ops.example", False),  # the wildcard names subdomains only
    ("null", False),
]


@override_settings(CSRF_TRUSTED_ORIGINS=TRUSTED)
@pytest.mark.parametrize(("origin", "taken"), ORIGINS)
def test_trusted_origins_may_write(api: Api, origin: str, taken: bool) -> None:
    before = Organization.all_objects.count()
    response = api.client.post(
        "/v1/organizations",
        orjson.dumps(ORG),
        content_type="application/json",
        headers={"Origin": origin},
    )
    if taken:
        assert response.status_code == 201, response.content
    else:
        assert_error(response, 403, "0043")
        assert Organization.all_objects.count() == before


@override_settings(CSRF_TRUSTED_ORIGINS=TRUSTED)
@pytest.mark.parametrize("site", ["same-site", "cross-site"])
@pytest.mark.parametrize(("origin", "taken"), ORIGINS)
def test_trusted_origins_may_write_from_a_browser_that_sends_sec_fetch_site(
    api: Api, origin: str, taken: bool, site: str
) -> None:
    """Every current browser names the operator's console (another origin) same-site or
    cross-site: its trusted Origin lets it write; any other Origin stays refused."""
    before = Organization.all_objects.count()
    response = api.client.post(
        "/v1/organizations",
        orjson.dumps(ORG),
        content_type="application/json",
        headers={"Origin": origin, "Sec-Fetch-Site": site},
    )
    if taken:
        assert response.status_code == 201, response.content
    else:
        assert_error(response, 403, "0043")
        assert Organization.all_objects.count() == before


def test_a_json_write_and_a_delete_are_checked_too(api: Api, organization: dict[str, Any]) -> None:
    path = f"/v1/organizations/{organization['id']}"
    evil = {"Origin": "https://evil.example"}
    patch = api.client.patch(
        path, orjson.dumps({"legalName": "X"}), content_type="application/json", headers=evil
    )
    assert_error(patch, 403, "0043")
    assert_error(api.client.delete(path, headers=evil), 403, "0043")
    assert api.ok(api.get(f"/organizations/{organization['id']}"), 200)["legalName"] != "X"


def test_the_browsers_sec_fetch_site_is_believed_over_origin(book: Book) -> None:
    # A proxy that rewrites Host makes a same-origin page's Origin look foreign; the browser's
    # own Sec-Fetch-Site settles it.
    response = _upload(book, Origin="https://ledger.example", **{"Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 201, response.content
    refused = _upload(book, Origin="http://testserver", **{"Sec-Fetch-Site": "cross-site"})
    assert_error(refused, 403, "0043")


@override_settings(CSRF_TRUSTED_ORIGINS=TRUSTED)
@pytest.mark.parametrize("site", ["same-site", "cross-site"])
def test_a_foreign_site_without_a_trusted_origin_stays_refused(book: Book, site: str) -> None:
    before = book.snapshot()
    for headers in ({}, {"Origin": "https://evil.example"}, {"Origin": "http://testserver"}):
        assert_error(_upload(book, **headers, **{"Sec-Fetch-Site": site}), 403, "0043")
    assert book.snapshot() == before
    taken = _upload(book, Origin="https://console.example", **{"Sec-Fetch-Site": site})
    assert taken.status_code == 201, taken.content


def test_reads_with_a_foreign_origin_are_untouched(api: Api) -> None:
    response = api.client.get("/v1/organizations", headers={"Origin": "https://evil.example"})
    assert response.status_code == 200
