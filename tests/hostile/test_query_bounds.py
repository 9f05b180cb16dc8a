"""Paging numbers and dates at their extremes (issue 16, items 6 and 10): a 4xx with a Midaz
code, never a 500, and no offset page deeper than ``MAX_OFFSET_ROWS`` rows."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from midaz.api.query import MAX_OFFSET_ROWS
from tests.helpers import Api, assert_error, ledger_path
from tests.transactions.book import Book, amt, send

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999"


def _lists(ledger: dict[str, Any]) -> list[str]:
    org = f"/organizations/{ledger['organizationId']}"
    return [
        "/organizations",
        f"{org}/ledgers",
        ledger_path(ledger, "/accounts"),
        ledger_path(ledger, "/assets"),
        ledger_path(ledger, "/portfolios"),
        ledger_path(ledger, "/segments"),
        ledger_path(ledger, "/transactions"),
        ledger_path(ledger, "/operation-routes"),
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"page": HUGE},
        {"limit": HUGE},
        {"page": "1" + "0" * 4300},  # beyond Python's int() digit limit
        {"page": "\u0661"},  # an Arabic-Indic digit: int() reads it, Midaz does not
        {"page": "1_0"},
        {"page": "+1"},
        {"page": "-1"},
        {"page": "0"},
        {"page": "1.5"},
    ],
    ids=[
        "huge-page",
        "huge-limit",
        "4300-digits",
        "arabic",
        "underscore",
        "plus",
        "neg",
        "zero",
        "frac",
    ],
)
def test_a_bad_page_or_limit_is_400(
    api: Api, ledger: dict[str, Any], params: dict[str, str]
) -> None:
    for path in _lists(ledger):
        response = api.get(path, **params)
        body = orjson.loads(response.content)
        assert response.status_code == 400, (path, body)
        assert body["code"] in {"0080", "0082"}, (path, body)


def test_an_offset_page_may_not_reach_past_the_bound(api: Api, ledger: dict[str, Any]) -> None:
    limit = 100
    last = MAX_OFFSET_ROWS // limit
    for path in _lists(ledger):
        assert api.get(path, page=str(last), limit=str(limit)).status_code == 200, path
        assert_error(api.get(path, page=str(last + 1), limit=str(limit)), 400, "0082")
        assert_error(api.get(path, page=str(MAX_OFFSET_ROWS + 1), limit="1"), 400, "0082")


@pytest.fixture
def book(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Book:
    b = Book(api, ledger)
    for alias in ("@alice", "@bob"):
        b.account(alias)
    b.fund("@alice", "100")
    return b


@pytest.mark.parametrize(
    "moment",
    [
        "0001-01-01T00:00:00+14:00",  # before the first representable instant in UTC
        "0001-01-01T00:00:00+00:01",
        "9999-12-31T23:59:59-14:00",  # after the last one
    ],
)
def test_a_transaction_date_that_overflows_in_utc_is_400(book: Book, moment: str) -> None:
    before = book.snapshot()
    body = send("USD", "1", [amt("@alice", "1")], [amt("@bob", "1")], transactionDate=moment)
    response = book.post(body)
    assert response.status_code == 400, response.content
    assert orjson.loads(response.content)["code"] in {"0077", "0121"}
    assert book.snapshot() == before


def test_the_earliest_utc_date_posts_and_renders(book: Book) -> None:
    body = send(
        "USD", "1", [amt("@alice", "1")], [amt("@bob", "1")], transactionDate="0001-01-01T00:00:00Z"
    )
    created = book.ok(book.post(body))
    assert created["createdAt"].startswith("0001-01-01T00:00:00")
    read = book.ok(book.api.get(book.path(f"/transactions/{created['id']}")), 200)
    assert read["createdAt"] == created["createdAt"]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("0001-01-01", "9999-12-31"),
        ("0001-01-01 00:00:00", "9999-12-31 23:59:59"),
    ],
)
def test_list_dates_at_the_calendar_ends_are_answered(
    api: Api, ledger: dict[str, Any], start: str, end: str
) -> None:
    for path in _lists(ledger):
        response = api.get(path, start_date=start, end_date=end)
        assert response.status_code == 200, (path, response.content)


@pytest.mark.parametrize("raw", ["10000-01-01", "0000-01-01", "2024-13-01", "2024-02-30"])
def test_list_dates_outside_the_calendar_are_400(
    api: Api, ledger: dict[str, Any], raw: str
) -> None:
    for path in _lists(ledger):
        response = api.get(path, start_date=raw, end_date=raw)
        body = orjson.loads(response.content)
        assert response.status_code == 400, (path, body)
        assert body["code"] in {"0077", "0131"}, (path, body)


@pytest.mark.parametrize("name", ["alias", "name", "metadata.k", "limit", "cursor", "x"])
def test_a_nul_character_in_a_list_query_is_400(
    api: Api, ledger: dict[str, Any], name: str
) -> None:
    """PostgreSQL text cannot hold NUL: a filter carrying one was a 500 at the query."""
    for path in _lists(ledger):
        assert_error(api.get(path, **{name: "a\x00b"}), 400, "0082")


@pytest.mark.parametrize(
    ("method", "suffix", "code"),
    [
        ("GET", "/accounts/alias/a%00b", "0065"),
        ("GET", "/accounts/external/US%00D", "0065"),
        ("GET", "/accounts/alias/a%00b/balances", "0065"),
        ("GET", "/accounts/external/US%00D/balances", "0065"),
        ("GET", "/accounts/alias/@alice/balances?x=%00", "0082"),
        ("HEAD", "/transactions/metrics/count?route=%00", "0082"),
        ("HEAD", "/accounts/metrics/count?name=%00", "0082"),
    ],
)
def test_a_nul_character_in_a_path_or_any_query_is_400(
    api: Api, ledger: dict[str, Any], method: str, suffix: str, code: str
) -> None:
    """Every API view refuses NUL in its path parameters and query before its handler runs
    (an alias or code carrying one was a 500 at PostgreSQL)."""
    response = api.client.generic(method, "/v1" + ledger_path(ledger, suffix))
    assert response.status_code == 400, response.content
    if method == "GET":
        assert_error(response, 400, code)
