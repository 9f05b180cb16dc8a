"""Resolution bounds (issue 16, item 1): shares stay within 0..100, every resolved leg is > 0,
and each side of an accepted posting adds up to the value exactly. Hypothesis drives the
resolver with any shares (negative, zero, over 100, huge), any amounts and ``remaining`` at any
position; the HTTP tests show that the refusals answer 4xx on the synchronous paths (JSON, Gold
DSL, pending holds) and leave nothing behind."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from midaz.exceptions import BusinessRuleViolation
from tests.helpers import Api, assert_error
from tests.transactions.book import Book, amt, rest, send, share
from transactions.models import Operation, Transaction
from transactions.resolve import resolve
from transactions.spec import Entry, Share, TransactionSpec

D = Decimal

percent = st.one_of(st.integers(-300, 300), st.sampled_from([0, 100, 101, -1, 10**30, -(10**30)]))
amount = st.one_of(
    st.decimals(min_value=D("-100"), max_value=D("200"), places=2),
    st.sampled_from([D(0), D("-0"), D("0.00"), D("1e-30"), D("-1e-30")]),
)
entry = st.one_of(
    st.builds(
        lambda p, of: Entry("@s", share=Share(p, of)), percent, st.sampled_from([0, 50, 150, -5])
    ),
    st.builds(lambda a: Entry("@a", amount=a), amount),
    st.just(Entry("@r", remaining=True)),
)
value = st.one_of(
    st.decimals(min_value=D("0.01"), max_value=D("1000"), places=2), st.sampled_from([D(1), D(100)])
)


def spec_of(v: Decimal, sources: list[Entry], destinations: list[Entry]) -> TransactionSpec:
    # Distinct aliases per position on each side, so 0090 (same balance on both sides) never
    # hides what is tested here.
    def named(entries: list[Entry], side: str) -> tuple[Entry, ...]:
        return tuple(
            Entry(
                f"{e.account_alias}{side}{i}",
                amount=e.amount,
                share=e.share,
                remaining=e.remaining,
            )
            for i, e in enumerate(entries)
        )

    return TransactionSpec(
        asset="USD", value=v, sources=named(sources, "s"), destinations=named(destinations, "d")
    )


@settings(max_examples=600, deadline=None)
@given(value, st.lists(entry, min_size=1, max_size=4), st.lists(entry, min_size=1, max_size=4))
def test_an_accepted_spec_has_positive_legs_that_add_up(
    v: Decimal, sources: list[Entry], destinations: list[Entry]
) -> None:
    spec = spec_of(v, sources, destinations)
    try:
        resolution = resolve(spec)
    except BusinessRuleViolation as refused:
        code = refused.code
        assert code in {"0125", "0073"}
        return
    for side in (resolution.sources, resolution.destinations):
        assert all(leg.amount > 0 for leg in side)
        assert sum((leg.amount for leg in side), D(0)) == v
    for raw in (*spec.sources, *spec.destinations):
        if raw.share is not None:
            assert 0 <= raw.share.percentage <= 100
            assert 0 <= raw.share.percentage_of_percentage <= 100


@pytest.mark.parametrize(
    "destinations",
    [
        [Entry("@bob", share=Share(150)), Entry("@x", share=Share(-50))],
        [Entry("@bob", share=Share(150)), Entry("@x", remaining=True)],
        [Entry("@bob", share=Share(100, 150)), Entry("@x", share=Share(-50))],
        [Entry("@bob", share=Share(100, -50)), Entry("@x", share=Share(100, 150))],
        [Entry("@bob", amount=D(20)), Entry("@x", amount=D(-10))],
        [Entry("@bob", share=Share(10**40)), Entry("@x", share=Share(-(10**40) + 100))],
    ],
)
def test_the_poison_shapes_are_refused(destinations: list[Entry]) -> None:
    spec = TransactionSpec(
        asset="USD",
        value=D(10),
        sources=(Entry("@alice", amount=D(10)),),
        destinations=tuple(destinations),
    )
    with pytest.raises(BusinessRuleViolation) as refused:
        resolve(spec)
    assert refused.value.code in {"0125", "0073"}


@pytest.mark.parametrize(
    "destinations",
    [
        [Entry("@bob", share=Share(0)), Entry("@x", share=Share(100))],
        [Entry("@x", amount=D(10)), Entry("@bob", remaining=True)],  # nothing remains
        [Entry("@bob", amount=D(0)), Entry("@x", amount=D(10))],
        [Entry("@bob", share=Share(100, 0)), Entry("@x", share=Share(0, 100))],
    ],
)
def test_an_entry_of_zero_is_no_leg(destinations: list[Entry]) -> None:
    spec = TransactionSpec(
        asset="USD",
        value=D(10),
        sources=(Entry("@alice", amount=D(10)),),
        destinations=tuple(destinations),
    )
    legs = resolve(spec).destinations
    assert [(leg.entry.account_alias, leg.amount) for leg in legs] in (
        [("@x", D(10))],
        [("@bob", D(10))],
    )


# --- over HTTP (synchronous) ------------------------------------------------------------------


@pytest.fixture
def book(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Book:
    b = Book(api, ledger)
    for alias in ("@alice", "@bob"):
        b.account(alias)
    b.fund("@alice", "100")
    return b


POISON = [
    send("USD", "10", [amt("@alice", "10")], [share("@bob", 150), share("@external/USD", -50)]),
    send("USD", "10", [amt("@alice", "10")], [share("@bob", 150), rest("@external/USD")]),
    send("USD", "10", [share("@alice", 150), share("@external/USD", -50)], [amt("@bob", "10")]),
]


@pytest.mark.django_db
@pytest.mark.parametrize("pending", [False, True])
@pytest.mark.parametrize("n", range(len(POISON)))
def test_a_poison_body_is_a_4xx_and_writes_nothing(book: Book, n: int, pending: bool) -> None:
    before = book.snapshot()
    body = {**POISON[n], "pending": pending}
    response = book.post(body)
    assert 400 <= response.status_code < 500, response.content
    assert_error(response, response.status_code, response.json()["code"])
    assert book.snapshot() == before
    assert not Transaction.objects.filter(ledger_id=book.ledger["id"], amount=D(10)).exists()
    assert not Operation.objects.filter(amount__lt=0).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("to", [":share 150", ":share 100 :of 150", ":share 101"])
def test_a_dsl_body_with_a_poison_entry_is_a_4xx(client: Client, book: Book, to: str) -> None:
    dsl = (
        "(transaction V1 (chart-of-accounts-group-name G) (send USD 10|0"
        " (source (from @alice :amount USD 10|0))"
        f" (distribute (to @bob {to}) (to @external/USD :remaining))))"
    )
    before = book.snapshot()
    file = SimpleUploadedFile("p.gold", dsl.encode(), content_type="text/plain")
    response = client.post("/v1" + book.path("/transactions/dsl"), {"dsl": file})
    assert 400 <= response.status_code < 500, response.content
    assert book.snapshot() == before


INFLOW_POISON = {
    "send": {
        "asset": "USD",
        "value": "10",
        "distribute": {"to": [share("@bob", 150), share("@alice", -50)]},
    }
}
OUTFLOW_POISON = {
    "send": {
        "asset": "USD",
        "value": "10",
        "source": {"from": [share("@alice", 150), rest("@bob")]},
    }
}


@pytest.mark.django_db
@pytest.mark.parametrize("asynchronous", [False, True])
@pytest.mark.parametrize(("kind", "body"), [("inflow", INFLOW_POISON), ("outflow", OUTFLOW_POISON)])
def test_inflow_and_outflow_poison_is_a_4xx(
    book: Book, settings: Any, kind: str, body: dict[str, Any], asynchronous: bool
) -> None:
    settings.TRANSACTION_ASYNC = asynchronous
    before = book.snapshot()
    response = book.post(body, kind)
    assert 400 <= response.status_code < 500, response.content
    assert book.snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize("atomic", [True, False])
def test_a_bulk_with_a_poison_item_refuses_that_item(book: Book, atomic: bool) -> None:
    good = send("USD", "5", [amt("@alice", "5")], [amt("@bob", "5")])
    response = book.api.post(
        book.path("/transactions/bulk"), {"transactions": [good, POISON[0]], "atomic": atomic}
    )
    assert response.status_code < 500, response.content
    if atomic:
        assert 400 <= response.status_code < 500
        assert book.balance("@bob")[0] == D(0)
    else:
        items = response.json()["items"]
        assert [400 <= i["status"] < 500 for i in items] == [False, True]
        assert book.balance("@bob")[0] == D(5)
    assert not Operation.objects.filter(amount__lt=0).exists()
