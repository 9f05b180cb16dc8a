"""List query parameters and pagination (MIDAZ_API.md §1.11): offset lists (portfolios),
cursor + page lists (account types), parameter errors and date windows."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from uuid_utils.compat import uuid7

from tests.helpers import Api, assert_error, ledger_path

pytestmark = pytest.mark.django_db


def make_portfolios(api: Api, ledger: dict[str, Any], n: int) -> list[str]:
    path = ledger_path(ledger, "/portfolios")
    return [api.ok(api.post(path, {"name": f"p{i}"}), 201)["id"] for i in range(n)]


def make_account_types(api: Api, ledger: dict[str, Any], n: int) -> list[str]:
    path = ledger_path(ledger, "/account-types")
    return [
        api.ok(api.post(path, {"name": f"t{i}", "keyValue": f"key_{i}"}), 201)["id"]
        for i in range(n)
    ]


def ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["items"]]


def encode_cursor(payload: Any) -> str:
    return base64.b64encode(orjson.dumps(payload)).decode()


# --- offset lists ------------------------------------------------------------------------------


def test_offset_pages_follow_limit_and_page(api: Api, ledger: dict[str, Any]) -> None:
    created = make_portfolios(api, ledger, 5)
    path = ledger_path(ledger, "/portfolios")
    first = api.ok(api.get(path, limit=2, page=1), 200)
    assert (first["limit"], first["page"]) == (2, 1)
    assert set(first) == {"items", "limit", "page"}
    assert ids(first) == created[0:2]
    assert ids(api.ok(api.get(path, limit=2, page=2), 200)) == created[2:4]
    last = api.ok(api.get(path, limit=2, page=3), 200)
    assert ids(last) == created[4:5]
    assert last["page"] == 3
    beyond = api.ok(api.get(path, limit=2, page=4), 200)
    assert beyond["items"] == []


def test_offset_default_limit_is_10(api: Api, ledger: dict[str, Any]) -> None:
    created = make_portfolios(api, ledger, 12)
    path = ledger_path(ledger, "/portfolios")
    body = api.ok(api.get(path), 200)
    assert body["limit"] == 10
    assert ids(body) == created[:10]
    assert ids(api.ok(api.get(path, page=2), 200)) == created[10:]


@pytest.mark.parametrize("order", ["desc", "DESC", "Desc"])
def test_offset_sort_order_desc_reverses_creation_order(
    api: Api, ledger: dict[str, Any], order: str
) -> None:
    created = make_portfolios(api, ledger, 5)
    path = ledger_path(ledger, "/portfolios")
    assert ids(api.ok(api.get(path, sort_order=order), 200)) == created[::-1]
    assert ids(api.ok(api.get(path, sort_order=order, limit=2, page=2), 200)) == [
        created[2],
        created[1],
    ]


@pytest.mark.parametrize("order", ["asc", "ASC"])
def test_offset_sort_order_asc_is_creation_order(
    api: Api, ledger: dict[str, Any], order: str
) -> None:
    created = make_portfolios(api, ledger, 4)
    path = ledger_path(ledger, "/portfolios")
    assert ids(api.ok(api.get(path, sort_order=order), 200)) == created


def test_property_offset_pages_cover_everything_once(api: Api, ledger: dict[str, Any]) -> None:
    created = make_portfolios(api, ledger, 11)
    path = ledger_path(ledger, "/portfolios")

    @settings(
        max_examples=15,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.integers(min_value=1, max_value=10), st.sampled_from(["asc", "desc"]))
    def walk(limit: int, order: str) -> None:
        seen: list[str] = []
        page = 1
        while True:
            body = api.ok(api.get(path, limit=limit, page=page, sort_order=order), 200)
            assert len(body["items"]) <= limit
            if not body["items"]:
                break
            seen += ids(body)
            page += 1
        assert seen == (created if order == "asc" else created[::-1])

    walk()


# --- cursor lists (account types) ---------------------------------------------------------------


def test_cursor_walk_forward_and_back(api: Api, ledger: dict[str, Any]) -> None:
    created = make_account_types(api, ledger, 7)
    path = ledger_path(ledger, "/account-types")

    first = api.ok(api.get(path, limit=3), 200)
    assert ids(first) == created[0:3]
    assert first["limit"] == 3
    assert first["page"] == 1
    assert "next_cursor" in first
    assert "prev_cursor" not in first

    second = api.ok(api.get(path, limit=3, cursor=first["next_cursor"]), 200)
    assert ids(second) == created[3:6]
    assert "next_cursor" in second
    assert "prev_cursor" in second

    last = api.ok(api.get(path, limit=3, cursor=second["next_cursor"]), 200)
    assert ids(last) == created[6:7]
    assert "next_cursor" not in last
    assert "prev_cursor" in last

    back = api.ok(api.get(path, limit=3, cursor=second["prev_cursor"]), 200)
    assert ids(back) == created[0:3]
    assert "prev_cursor" not in back
    assert "next_cursor" in back

    back_from_last = api.ok(api.get(path, limit=3, cursor=last["prev_cursor"]), 200)
    assert ids(back_from_last) == created[3:6]


def test_cursor_walk_in_descending_order(api: Api, ledger: dict[str, Any]) -> None:
    created = make_account_types(api, ledger, 7)
    path = ledger_path(ledger, "/account-types")
    first = api.ok(api.get(path, limit=3, sort_order="desc"), 200)
    assert ids(first) == created[6:3:-1]
    assert "prev_cursor" not in first
    second = api.ok(api.get(path, limit=3, sort_order="desc", cursor=first["next_cursor"]), 200)
    assert ids(second) == created[3:0:-1]
    last = api.ok(api.get(path, limit=3, sort_order="desc", cursor=second["next_cursor"]), 200)
    assert ids(last) == created[0:1]
    assert "next_cursor" not in last
    back = api.ok(api.get(path, limit=3, sort_order="desc", cursor=second["prev_cursor"]), 200)
    assert ids(back) == created[6:3:-1]


def test_cursor_single_page_has_no_cursors(api: Api, ledger: dict[str, Any]) -> None:
    created = make_account_types(api, ledger, 3)
    body = api.ok(api.get(ledger_path(ledger, "/account-types"), limit=3), 200)
    assert ids(body) == created
    assert "next_cursor" not in body
    assert "prev_cursor" not in body


def test_cursor_in_the_documented_form_is_accepted(api: Api, ledger: dict[str, Any]) -> None:
    created = make_account_types(api, ledger, 5)
    path = ledger_path(ledger, "/account-types")
    cursor = encode_cursor({"id": created[1], "direction": "next"})
    assert ids(api.ok(api.get(path, limit=2, cursor=cursor), 200)) == created[2:4]
    cursor = encode_cursor({"id": created[4], "direction": "prev"})
    assert ids(api.ok(api.get(path, limit=2, cursor=cursor), 200)) == created[2:4]


def test_legacy_points_next_cursor_is_accepted(api: Api, ledger: dict[str, Any]) -> None:
    created = make_account_types(api, ledger, 6)
    path = ledger_path(ledger, "/account-types")
    forward = encode_cursor({"id": created[2], "points_next": True})
    body = api.ok(api.get(path, limit=3, cursor=forward), 200)
    assert ids(body) == created[3:6]
    backward = encode_cursor({"id": created[3], "points_next": False})
    assert ids(api.ok(api.get(path, limit=3, cursor=backward), 200)) == created[0:3]


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!!",
        "bm90LWpzb24=",  # base64 of "not-json"
        encode_cursor({"direction": "next"}),
        encode_cursor({"id": "not-a-uuid", "direction": "next"}),
        encode_cursor({"id": str(uuid7()), "direction": "sideways"}),
        encode_cursor([1, 2]),
    ],
)
def test_invalid_cursor_is_0082(api: Api, ledger: dict[str, Any], cursor: str) -> None:
    make_account_types(api, ledger, 2)
    response = api.get(ledger_path(ledger, "/account-types"), cursor=cursor)
    assert_error(response, 400, "0082")


def test_property_cursor_walk_reconstructs_the_list(api: Api, ledger: dict[str, Any]) -> None:
    created = make_account_types(api, ledger, 11)
    path = ledger_path(ledger, "/account-types")

    @settings(
        max_examples=15,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.integers(min_value=1, max_value=10), st.sampled_from(["asc", "desc"]))
    def walk(limit: int, order: str) -> None:
        expected = created if order == "asc" else created[::-1]
        pages: list[list[str]] = []
        body = api.ok(api.get(path, limit=limit, sort_order=order), 200)
        assert "prev_cursor" not in body
        while True:
            assert 0 < len(body["items"]) <= limit
            pages.append(ids(body))
            if "next_cursor" not in body:
                break
            body = api.ok(
                api.get(path, limit=limit, sort_order=order, cursor=body["next_cursor"]), 200
            )
        seen = [item for page in pages for item in page]
        assert seen == expected
        assert len(set(seen)) == len(seen)
        assert len(pages) == -(-len(created) // limit)
        # and back again from the last page with prev cursors
        back_pages = [pages[-1]]
        while "prev_cursor" in body:
            body = api.ok(
                api.get(path, limit=limit, sort_order=order, cursor=body["prev_cursor"]), 200
            )
            back_pages.append(ids(body))
        assert back_pages[::-1] == pages

    walk()


# --- parameter errors, on an offset list and a cursor list -------------------------------------

LISTS = ["/portfolios", "/account-types"]


@pytest.mark.parametrize("suffix", LISTS)
def test_limit_above_100_is_0080(api: Api, ledger: dict[str, Any], suffix: str) -> None:
    path = ledger_path(ledger, suffix)
    assert_error(api.get(path, limit=101), 400, "0080")
    assert api.ok(api.get(path, limit=100), 200)["limit"] == 100


@pytest.mark.parametrize("suffix", LISTS)
@pytest.mark.parametrize("limit", ["0", "-1", "abc", "1.5"])
def test_limit_not_a_positive_integer_is_0082(
    api: Api, ledger: dict[str, Any], suffix: str, limit: str
) -> None:
    assert_error(api.get(ledger_path(ledger, suffix), limit=limit), 400, "0082")


@pytest.mark.parametrize("page", ["0", "-2", "x"])
def test_page_not_a_positive_integer_is_0082(api: Api, ledger: dict[str, Any], page: str) -> None:
    assert_error(api.get(ledger_path(ledger, "/portfolios"), page=page), 400, "0082")


@pytest.mark.parametrize("suffix", LISTS)
@pytest.mark.parametrize("order", ["up", "ascending", "1"])
def test_bad_sort_order_is_0081(api: Api, ledger: dict[str, Any], suffix: str, order: str) -> None:
    assert_error(api.get(ledger_path(ledger, suffix), sort_order=order), 400, "0081")


# --- date windows ------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", LISTS)
@pytest.mark.parametrize("given_param", ["start_date", "end_date"])
def test_only_one_date_is_0083(
    api: Api, ledger: dict[str, Any], suffix: str, given_param: str
) -> None:
    response = api.get(ledger_path(ledger, suffix), **{given_param: "2024-01-01"})
    assert_error(response, 400, "0083")


@pytest.mark.parametrize("suffix", LISTS)
@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2024/01/01", "2024-01-31"),
        ("2024-01-01", "31-01-2024"),
        ("2024-13-01", "2024-12-31"),
        ("yesterday", "today"),
        ("2024-01-01", "2024-01-31 25:00:00"),
    ],
)
def test_bad_date_format_is_0131(
    api: Api, ledger: dict[str, Any], suffix: str, start: str, end: str
) -> None:
    response = api.get(ledger_path(ledger, suffix), start_date=start, end_date=end)
    assert_error(response, 400, "0131")


@pytest.mark.parametrize("suffix", LISTS)
@pytest.mark.parametrize(
    ("start", "end"),
    [("2024-02-01", "2024-01-31"), ("2024-01-01 10:00:00", "2024-01-01 09:59:59")],
)
def test_start_after_end_is_0078(
    api: Api, ledger: dict[str, Any], suffix: str, start: str, end: str
) -> None:
    response = api.get(ledger_path(ledger, suffix), start_date=start, end_date=end)
    assert_error(response, 400, "0078")


def test_date_only_end_includes_the_whole_day(api: Api, ledger: dict[str, Any]) -> None:
    created = make_portfolios(api, ledger, 2)
    path = ledger_path(ledger, "/portfolios")
    today = api.ok(api.get(f"{path}/{created[0]}"), 200)["createdAt"][:10]
    body = api.ok(api.get(path, start_date=today, end_date=today), 200)
    assert ids(body) == created


def test_date_time_window_is_inclusive(api: Api, ledger: dict[str, Any]) -> None:
    created = make_account_types(api, ledger, 2)
    path = ledger_path(ledger, "/account-types")
    today = api.ok(api.get(f"{path}/{created[0]}"), 200)["createdAt"][:10]
    body = api.ok(api.get(path, start_date=f"{today} 00:00:00", end_date=f"{today} 23:59:59"), 200)
    assert ids(body) == created


@pytest.mark.parametrize("suffix", LISTS)
def test_window_outside_creation_excludes_items(
    api: Api, ledger: dict[str, Any], suffix: str
) -> None:
    make_portfolios(api, ledger, 1)
    make_account_types(api, ledger, 1)
    path = ledger_path(ledger, suffix)
    past = api.ok(api.get(path, start_date="2000-01-01", end_date="2000-12-31"), 200)
    assert past["items"] == []
    future = api.ok(api.get(path, start_date="2999-01-01", end_date="2999-01-02"), 200)
    assert future["items"] == []
    assert len(api.ok(api.get(path), 200)["items"]) == 1
