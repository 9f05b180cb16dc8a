"""Cross-asset postings at a rate (transactions/conversion.py): exact conversion, the rate of the
entry or the ledger's stored one, each asset balancing through the external accounts, the rate
recorded on the operations, pending at the hold's rate, reverts at the original rate, and every
refusal leaving nothing behind. Every test ends with ``verify_ledger`` (tests/conftest.py)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onboarding.models import Ledger
from tests.helpers import Api, assert_error, ledger_path
from tests.transactions.book import Book, amt, send
from tests.transactions.test_posting_properties import fresh_ledger
from transactions import posting
from transactions import services as accounts
from transactions.models import AssetRate, Balance, Operation
from transactions.spec import Entry, Rate, TransactionSpec

pytestmark = pytest.mark.django_db

D = Decimal


class Fx(Book):
    def put_rate(self, frm: str, to: str, rate: int, scale: int, **extra: Any) -> dict[str, Any]:
        body = {"from": frm, "to": to, "rate": rate, "scale": scale, **extra}
        return self.ok(self.api.request("PUT", self.path("/asset-rates"), body), 201)

    def amount(self, alias: str) -> Decimal:
        return Balance.objects.get(
            ledger_id=self.ledger["id"], alias=alias, key="default"
        ).available


@pytest.fixture
def fx(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Fx:
    api.create_asset(ledger, code="EUR")
    api.create_asset(ledger, code="GBP")
    b = Fx(api, ledger)
    b.account("@alice")
    b.account("@bob", asset="EUR")
    b.account("@carol", asset="EUR")
    b.account("@dora", asset="GBP")
    b.fund("@alice", "1000")
    return b


def to_eur(value: str, rate: dict[str, Any] | None = None) -> dict[str, Any]:
    """@alice pays ``value`` USD, which @bob receives in EUR."""
    rate = rate if rate is not None else {"from": "USD", "to": "EUR", "value": "0.92"}
    return send("USD", value, [amt("@alice", value)], [amt("@bob", value, rate=rate)])


def ops(body: dict[str, Any]) -> list[tuple[str, str, str, Decimal]]:
    return [
        (o["type"], o["accountAlias"], o["assetCode"], D(o["amount"]["value"]))
        for o in body["operations"]
    ]


def test_a_converted_destination_balances_each_asset(fx: Fx) -> None:
    body = fx.ok(fx.post(to_eur("100")))
    assert (body["assetCode"], body["amount"]) == ("USD", "100")
    assert body["source"] == ["@alice"]
    assert body["destination"] == ["@bob"]
    assert ops(body) == [
        ("DEBIT", "@alice", "USD", D(100)),
        ("CREDIT", "@bob", "EUR", D(92)),
        ("CREDIT", "@external/USD", "USD", D(100)),
        ("DEBIT", "@external/EUR", "EUR", D(92)),
    ]
    record = {"from": "USD", "to": "EUR", "value": "0.92", "externalId": "", "amount": "100"}
    assert body["operations"][0].get("rate") is None
    assert body["operations"][1]["rate"] == record
    assert body["operations"][2]["rate"] == {**record, "of": "@bob"}
    assert (fx.amount("@alice"), fx.amount("@bob")) == (D(900), D(92))
    # Each asset's external account absorbed its side: USD back out, EUR in.
    assert fx.amount("@external/USD") == D(900)
    assert fx.amount("@external/EUR") == D(92)
    read = fx.ok(fx.api.get(fx.path(f"/transactions/{body['id']}")), 200)
    assert ops(read) == ops(body)
    assert Operation.objects.get(pk=body["operations"][1]["id"]).rate == record


def test_a_converted_source(fx: Fx) -> None:
    fx.fund("@carol", "50", asset="EUR")
    rate = {"from": "USD", "to": "EUR", "value": "0.9", "externalId": "desk-7"}
    body = fx.ok(
        fx.post(send("USD", "40", [amt("@carol", "40", rate=rate)], [amt("@alice", "40")]))
    )
    assert ops(body) == [
        ("DEBIT", "@carol", "EUR", D(36)),
        ("DEBIT", "@external/USD", "USD", D(40)),
        ("CREDIT", "@external/EUR", "EUR", D(36)),
        ("CREDIT", "@alice", "USD", D(40)),
    ]
    assert body["operations"][0]["rate"]["externalId"] == "desk-7"
    assert (fx.amount("@carol"), fx.amount("@alice")) == (D(14), D(1040))


def test_a_converted_source_checks_the_funds_in_its_own_asset(fx: Fx) -> None:
    fx.fund("@carol", "10", asset="EUR")
    before = fx.snapshot()
    rate = {"from": "USD", "to": "EUR", "value": "0.9"}
    body = send("USD", "12", [amt("@carol", "12", rate=rate)], [amt("@alice", "12")])
    assert_error(fx.post(body), 422, "0018")  # 10.8 EUR needed, 10 held
    assert fx.snapshot() == before
    body = send("USD", "11", [amt("@carol", "11", rate=rate)], [amt("@alice", "11")])
    fx.ok(fx.post(body))  # 9.9 EUR
    assert fx.amount("@carol") == D("0.1")


def test_the_ledger_rate_is_used_when_the_entry_names_none(fx: Fx) -> None:
    stored = fx.put_rate("USD", "EUR", 9231, 4)
    body = fx.ok(fx.post(to_eur("250", {"from": "USD", "to": "EUR"})))
    credit = body["operations"][1]
    assert D(credit["amount"]["value"]) == D("230.775")
    assert credit["rate"]["value"] == "0.9231"
    assert credit["rate"]["externalId"] == stored["externalId"]


def test_without_a_usable_rate_nothing_is_posted(fx: Fx) -> None:
    before = fx.snapshot()
    answer = assert_error(fx.post(to_eur("10", {"from": "USD", "to": "EUR"})), 404, "0007")
    assert answer["entityType"] == "AssetRate"
    assert "no rate from USD to EUR" in answer["message"]
    fx.put_rate("USD", "EUR", 92, 2, ttl=60)
    AssetRate.objects.update(updated_at=AssetRate.objects.get().updated_at - timedelta(minutes=2))
    answer = assert_error(fx.post(to_eur("10", {"from": "USD", "to": "EUR"})), 404, "0007")
    assert "expired" in answer["message"]
    fx.put_rate("USD", "EUR", -92, 2)
    assert_error(fx.post(to_eur("10", {"from": "USD", "to": "EUR"})), 422, "0125")
    assert fx.snapshot() == before


@pytest.mark.parametrize(
    ("rate", "status", "code", "field"),
    [
        ({"from": "EUR", "to": "GBP", "value": "0.8"}, 400, "0047", "rate.from"),
        ({"to": "EUR", "value": "0.8"}, 400, "0047", "rate.from"),
        ({"from": "USD", "to": "EUR", "value": "-0.8"}, 400, "0047", "rate.value"),
        ({"from": "USD", "to": "GBP", "value": "0.8"}, 404, "0034", None),  # @bob holds EUR
    ],
)
def test_a_wrong_rate_is_refused(
    fx: Fx, rate: dict[str, Any], status: int, code: str, field: str | None
) -> None:
    before = fx.snapshot()
    answer = assert_error(fx.post(to_eur("10", rate)), status, code)
    if field is not None:
        assert answer["fields"] == {f"send.distribute.to[0].{field}": rate.get(field[5:], "")}
    assert fx.snapshot() == before


def test_an_asset_without_its_external_account_is_refused(fx: Fx) -> None:
    Balance.objects.filter(alias="@external/GBP").update(
        deleted_at=Balance.objects.get(alias="@external/GBP").created_at
    )
    before = fx.snapshot()
    body = send(
        "USD",
        "10",
        [amt("@alice", "10")],
        [amt("@dora", "10", rate={"from": "USD", "to": "GBP", "value": "0.8"})],
    )
    answer = assert_error(fx.post(body), 422, "0019")
    assert "@external/GBP" in answer["message"]
    assert fx.snapshot() == before


def test_single_asset_postings_keep_their_rates_informational(fx: Fx) -> None:
    fx.account("@erin")
    for rate in ({"from": "BRL", "to": "USD", "value": "5"}, {"from": "USD", "value": "2"}):
        body = fx.ok(
            fx.post(send("USD", "10", [amt("@alice", "10")], [amt("@erin", "10", rate=rate)]))
        )
        assert [(o[0], o[1], o[3]) for o in ops(body)] == [
            ("DEBIT", "@alice", D(10)),
            ("CREDIT", "@erin", D(10)),
        ]
        assert all("rate" not in o for o in body["operations"])
    assert fx.amount("@erin") == D(20)


def test_the_conversion_is_exact(fx: Fx) -> None:
    body = fx.ok(fx.post(to_eur("100.37", {"from": "USD", "to": "EUR", "value": "0.333333"})))
    assert body["operations"][1]["amount"]["value"] == "33.45663321"
    assert fx.amount("@bob") == D("33.45663321")


def test_a_split_converts_each_share(fx: Fx) -> None:
    eur = {"from": "USD", "to": "EUR", "value": "0.5"}
    gbp = {"from": "USD", "to": "GBP", "value": "0.25"}
    body = send(
        "USD",
        "80",
        [amt("@alice", "80")],
        [
            {"accountAlias": "@bob", "share": {"percentage": 25}, "rate": eur},
            {"accountAlias": "@carol", "share": {"percentage": 25}, "rate": eur},
            {"accountAlias": "@dora", "remaining": "remaining", "rate": gbp},
        ],
    )
    fx.ok(fx.post(body))
    assert (fx.amount("@bob"), fx.amount("@carol"), fx.amount("@dora")) == (D(10), D(10), D(10))
    assert fx.amount("@external/EUR") == D(20)


def test_a_pending_conversion_settles_at_the_rate_of_its_hold(fx: Fx) -> None:
    fx.fund("@carol", "100", asset="EUR")
    fx.put_rate("USD", "EUR", 90, 2)
    auto = {"from": "USD", "to": "EUR"}
    body = send("USD", "50", [amt("@carol", "50", rate=auto)], [amt("@alice", "50")], pending=True)
    held = fx.ok(fx.post(body))
    assert ops(held) == [("ON_HOLD", "@carol", "EUR", D(45))]
    fx.put_rate("USD", "EUR", 99, 2)  # the market moves before the commit
    committed = fx.ok(fx.action(held["id"], "commit"))
    assert sorted(o for o in ops(committed) if o[0] != "ON_HOLD") == sorted(
        [
            ("DEBIT", "@carol", "EUR", D(45)),
            ("DEBIT", "@external/USD", "USD", D(50)),
            ("CREDIT", "@external/EUR", "EUR", D(45)),
            ("CREDIT", "@alice", "USD", D(50)),
        ]
    )
    carol = Balance.objects.get(ledger_id=fx.ledger["id"], alias="@carol")
    assert (carol.available, carol.on_hold) == (D(55), D(0))

    again = fx.ok(
        fx.post(
            send("USD", "10", [amt("@carol", "10", rate=auto)], [amt("@alice", "10")], pending=True)
        )
    )
    assert ops(again) == [("ON_HOLD", "@carol", "EUR", D("9.9"))]
    fx.put_rate("USD", "EUR", 50, 2)
    canceled = fx.ok(fx.action(again["id"], "cancel"))
    assert [o for o in ops(canceled) if o[0] == "RELEASE"] == [
        ("RELEASE", "@carol", "EUR", D("9.9"))
    ]
    carol.refresh_from_db()
    assert (carol.available, carol.on_hold) == (D(55), D(0))


def test_a_revert_converts_back_at_the_original_rate(fx: Fx) -> None:
    fx.put_rate("USD", "EUR", 92, 2)
    original = fx.ok(fx.post(to_eur("100", {"from": "USD", "to": "EUR"})))
    fx.put_rate("USD", "EUR", 80, 2)
    reversal = fx.ok(fx.action(original["id"], "revert"))
    assert ops(reversal) == [
        ("DEBIT", "@bob", "EUR", D(92)),
        ("DEBIT", "@external/USD", "USD", D(100)),
        ("CREDIT", "@external/EUR", "EUR", D(92)),
        ("CREDIT", "@alice", "USD", D(100)),
    ]
    assert reversal["operations"][0]["rate"]["value"] == "0.92"
    assert (fx.amount("@alice"), fx.amount("@bob")) == (D(1000), D(0))
    assert fx.amount("@external/EUR") == D(0)


def test_a_converted_source_may_draw_overdraft(fx: Fx) -> None:
    carol = Balance.objects.get(ledger_id=fx.ledger["id"], alias="@carol")
    fx.ok(
        fx.api.patch(fx.path(f"/balances/{carol.id}"), {"settings": {"allowOverdraft": True}}),
        200,
    )
    fx.fund("@carol", "5", asset="EUR")
    rate = {"from": "USD", "to": "EUR", "value": "0.5"}
    body = fx.ok(
        fx.post(send("USD", "30", [amt("@carol", "30", rate=rate)], [amt("@alice", "30")]))
    )
    assert ops(body)[:2] == [
        ("DEBIT", "@carol", "EUR", D(5)),
        ("OVERDRAFT", "@carol", "EUR", D(10)),
    ]
    carol.refresh_from_db()
    assert (carol.available, carol.overdraft_used) == (D(0), D(10))
    reversal = fx.ok(fx.action(body["id"], "revert"))
    assert ("CREDIT", "@carol", "EUR", D(5)) in ops(reversal)
    carol.refresh_from_db()
    assert (carol.available, carol.overdraft_used) == (D(5), D(0))


def test_the_gold_dsl_and_bulk_convert_too(client: Client, fx: Fx) -> None:
    gold = (
        "(transaction V1 (chart-of-accounts-group-name FX)"
        " (send USD 20|0 (source (from @alice :amount USD 20|0))"
        " (distribute (to @bob :amount USD 20|0 (rate q1 USD -> EUR 95|2)))))"
    )
    file = SimpleUploadedFile("fx.gold", gold.encode(), content_type="text/plain")
    response = client.post("/v1" + fx.path("/transactions/dsl"), {"dsl": file})
    assert fx.ok(response)["operations"][1]["rate"]["externalId"] == "q1"
    assert fx.amount("@bob") == D(19)
    items = [to_eur("10"), to_eur("1")]
    answer = fx.ok(
        fx.api.post(fx.path("/transactions/bulk"), {"atomic": True, "transactions": items}), 201
    )
    assert answer["created"] == 2
    assert fx.amount("@bob") == D("29.12")


# --- exactness, as a property ------------------------------------------------------------


def fx_ledger() -> Ledger:
    ledger = fresh_ledger()
    accounts.asset_create(ledger=ledger, data={"name": "Euro", "type": "currency", "code": "EUR"})
    accounts.account_create(
        ledger=ledger, data={"assetCode": "EUR", "type": "deposit", "alias": "@eur"}
    )
    return ledger


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.tuples(
            st.decimals(min_value=D("0.0001"), max_value=D(10**9), places=4),
            st.decimals(min_value=D("0.000001"), max_value=D(1000), places=6),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_conversions_are_exact_and_balance(postings: list[tuple[Decimal, Decimal]]) -> None:
    ledger = fx_ledger()
    expected = D(0)
    for value, rate in postings:
        spec = TransactionSpec(
            asset="USD",
            value=value,
            sources=(Entry("@external/USD", amount=value),),
            destinations=(Entry("@eur", amount=value, rate=Rate("USD", "EUR", rate, "")),),
        )
        posting.transaction_create(ledger=ledger, spec=spec)
        expected += value * rate  # exact: Decimal keeps every digit of a product this size
    eur = Balance.objects.get(ledger=ledger, alias="@eur")
    assert eur.available == expected
    external = Balance.objects.get(ledger=ledger, alias="@external/EUR")
    assert external.available == expected  # what entered in EUR came through its external
    assert Balance.objects.get(ledger=ledger, alias="@external/USD").available == 0


def test_another_ledgers_rate_is_not_used(api: Api) -> None:
    """The stored-rate lookup is scoped to the ledger: another ledger's rate is not used."""
    org = api.create_organization()
    first = api.create_ledger(org["id"])
    second = api.create_ledger(org["id"])
    for ledger in (first, second):
        api.create_asset(ledger, code="USD")
        api.create_asset(ledger, code="EUR")
    api.ok(
        api.request(
            "PUT",
            ledger_path(first, "/asset-rates"),
            {"from": "USD", "to": "EUR", "rate": 9, "scale": 1},
        ),
        201,
    )
    b = Fx(api, second)
    b.account("@alice")
    b.account("@bob", asset="EUR")
    b.fund("@alice", "10")
    before = b.snapshot()
    assert_error(b.post(to_eur("10", {"from": "USD", "to": "EUR"})), 404, "0007")
    assert b.snapshot() == before
