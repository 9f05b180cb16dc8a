"""Asset rates and conversions within what the columns and the digit limit hold: the integer
inputs of ``PUT .../asset-rates`` are bounded (0047, never a 500 on insert), and a converted
amount has at most MAX_AMOUNT_DIGITS digits (0125), whatever the rate (inline, stored, or a
stored one written before the bounds)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from hypothesis import given
from hypothesis import strategies as st

from midaz.api.validation import amount_digits
from midaz.exceptions import BusinessRuleViolation
from tests.helpers import Api, assert_error
from tests.transactions.book import Book, amt, send
from transactions.conversion import _converted
from transactions.models import AssetRate, Balance
from transactions.resolve import EXACT


@pytest.fixture
def book(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Book:
    b = Book(api, ledger)
    api.create_asset(ledger, code="EUR")
    b.account("@alice")
    b.account("@eve", asset="EUR")
    b.fund("@alice", "100")
    return b


def put(api: Api, book: Book, **fields: Any) -> Any:
    body = {"from": "USD", "to": "EUR", "rate": 1, **fields}
    return api.request("PUT", book.path("/asset-rates"), raw=json.dumps(body).encode())


def convert(book: Book, value: str, rate: dict[str, Any]) -> Any:
    return book.post(
        send(
            "USD",
            value,
            [amt("@alice", value)],
            [{**amt("@eve", value), "rate": {"from": "USD", "to": "EUR", **rate}}],
        )
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "refused", "accepted"),
    [
        ("rate", [], [2**63 - 1, -(2**63)]),
        ("scale", [-1, 65, 2**31, 2**40], [0, 64]),
        ("ttl", [-1, 2**31, 2**40], [0, 2**31 - 1]),
    ],
)
def test_integer_inputs_are_bounded_by_their_columns(
    api: Api, book: Book, field: str, refused: list[int], accepted: list[int]
) -> None:
    for value in refused:
        response = put(api, book, **{field: value})
        assert_error(response, 400, "0047")
        assert field in response.json()["fields"]
    assert not AssetRate.objects.filter(ledger_id=book.ledger["id"]).exists()
    for value in accepted:
        assert put(api, book, **{field: value}).status_code == 201
        assert getattr(AssetRate.objects.get(ledger_id=book.ledger["id"]), field) == value


@pytest.mark.django_db
def test_an_integer_beyond_64_bits_is_refused_too(api: Api, book: Book) -> None:
    """Beyond a signed 64-bit integer the body reader itself refuses the number (0094)."""
    for field, value in [("rate", 2**63), ("rate", -(2**63) - 1), ("scale", 2**200)]:
        response = put(api, book, **{field: value})
        assert response.status_code == 400
        assert response.json()["code"] in {"0047", "0094"}
    assert not AssetRate.objects.filter(ledger_id=book.ledger["id"]).exists()


@pytest.mark.django_db
def test_the_bounds_are_in_the_schema(api: Api) -> None:
    schema = api.client.get("/v1/openapi.json").json()
    found = [
        op["requestBody"]["content"]["application/json"]["schema"]
        for path in schema["paths"].values()
        for op in path.values()
        if isinstance(op, dict) and op.get("operationId") == "put_asset_rate"
    ]
    props = found[0].get("properties")
    if props is None:  # a component reference
        name = found[0]["$ref"].rsplit("/", 1)[1]
        props = schema["components"]["schemas"][name]["properties"]
    assert (props["scale"]["minimum"], props["scale"]["maximum"]) == (0, 64)
    assert props["ttl"]["maximum"] == 2**31 - 1
    assert props["rate"]["maximum"] == 2**63 - 1


@pytest.mark.django_db
def test_the_widest_stored_rate_converts(api: Api, book: Book) -> None:
    assert put(api, book, rate=2**63 - 1, scale=64).status_code == 201
    book.ok(convert(book, "1", {}))
    eve = Balance.objects.get(ledger_id=book.ledger["id"], alias="@eve").available
    assert eve == Decimal(2**63 - 1).scaleb(-64)


@pytest.mark.django_db
@pytest.mark.parametrize("scale", [66, 20000])
def test_a_stored_rate_from_before_the_bounds_is_refused_at_the_posting(
    book: Book, scale: int
) -> None:
    """A rate stored before the PUT bounded its scale: the conversion is refused, nothing
    moves (it was a 500: the amount overflowed PostgreSQL's numeric). 10 x 1e-65 is 1e-64
    (64 digits, accepted), 10 x 1e-66 has 65."""
    AssetRate.objects.create(
        organization_id=book.ledger["organizationId"],
        ledger_id=book.ledger["id"],
        external_id="01a23f00-7ce5-762e-a986-1cb3dfea9eb8",
        from_asset="USD",
        to_asset="EUR",
        rate=1,
        scale=scale,
        created_at="2026-01-01T00:00:00Z",
        updated_at="2026-01-01T00:00:00Z",
    )
    before = book.snapshot()
    assert_error(convert(book, "10", {}), 422, "0125")
    assert book.snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("value", "rate"),
    [("0.01", "1e-63"), ("0.5", "9" * 64), ("0.01", "0." + "0" * 62 + "3")],
)
def test_a_converted_amount_beyond_the_digit_limit_is_refused(
    book: Book, value: str, rate: str
) -> None:
    before = book.snapshot()
    assert_error(convert(book, value, {"value": rate}), 422, "0125")
    assert book.snapshot() == before


@pytest.mark.django_db
def test_trailing_zeros_alone_do_not_refuse_a_conversion(book: Book) -> None:
    """0.10 x 1.0…0 (63 decimal places) is 0.1 with 65 decimal places: 0.1 is credited."""
    book.ok(convert(book, "0.10", {"value": "1." + "0" * 63}))
    eve = Balance.objects.get(ledger_id=book.ledger["id"], alias="@eve").available
    assert eve == Decimal("0.1")
    assert amount_digits(eve) <= settings.MAX_AMOUNT_DIGITS


_digits = st.integers(min_value=1, max_value=10**30)
_decimals = st.builds(lambda n, e: Decimal(n).scaleb(e), _digits, st.integers(-40, 20))


@given(amount=_decimals, rate=_decimals)
def test_a_conversion_is_exact_and_within_the_limit_or_refused(
    amount: Decimal, rate: Decimal
) -> None:
    """The product is exact (equal to the unrounded one) with at most MAX_AMOUNT_DIGITS
    digits, or refused 0125 exactly when even its trailing zeros dropped it has more."""
    exact = EXACT.multiply(amount, rate)
    least = exact.normalize(EXACT)
    fits = amount_digits(least) <= settings.MAX_AMOUNT_DIGITS
    outcome: Decimal | str
    try:
        outcome = _converted(amount, rate)
    except BusinessRuleViolation as exc:
        outcome = exc.code
    if fits:
        assert isinstance(outcome, Decimal)
        assert EXACT.compare(outcome, exact) == 0
        assert amount_digits(outcome) <= settings.MAX_AMOUNT_DIGITS
    else:
        assert outcome == "0125"
