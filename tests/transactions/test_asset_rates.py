"""Asset rates (MIDAZ_API.md §4.11): upsert by pair, get by external id, list from an asset."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from uuid_utils.compat import uuid7

from tests.helpers import Api, assert_error, ledger_path
from transactions.models import AssetRate

pytestmark = pytest.mark.django_db


def put(api: Api, ledger: dict[str, Any], **body: Any) -> Any:
    return api.request("PUT", ledger_path(ledger, "/asset-rates"), body)


def test_put_creates_then_replaces_the_pair(api: Api, ledger: dict[str, Any]) -> None:
    first = api.ok(
        put(api, ledger, **{"from": "USD", "to": "BRL", "rate": 525, "scale": 2, "ttl": 3600}),
        201,
    )
    assert set(first) == {
        "id",
        "organizationId",
        "ledgerId",
        "externalId",
        "from",
        "to",
        "rate",
        "scale",
        "source",
        "ttl",
        "createdAt",
        "updatedAt",
        "metadata",
    }
    assert (first["from"], first["to"], first["rate"], first["scale"]) == ("USD", "BRL", 525, 2)
    assert first["source"] is None
    assert first["ledgerId"] == ledger["id"]
    assert AssetRate.objects.get(pk=first["id"]).value == Decimal("5.25")

    second = api.ok(
        put(
            api,
            ledger,
            **{"from": "USD", "to": "BRL", "rate": 531, "scale": 2, "source": "bank", "ttl": 60},
        ),
        201,
    )
    assert second["id"] == first["id"]  # one row per pair
    assert second["externalId"] == first["externalId"]  # kept when not given
    assert (second["rate"], second["source"], second["ttl"]) == (531, "bank", 60)
    assert second["createdAt"] == first["createdAt"]
    assert AssetRate.objects.count() == 1

    new_external = str(uuid7())
    third = api.ok(
        put(api, ledger, **{"from": "USD", "to": "BRL", "rate": 1, "externalId": new_external}),
        201,
    )
    assert third["externalId"] == new_external
    assert third["scale"] == 0


def test_get_by_external_id(api: Api, ledger: dict[str, Any]) -> None:
    external = str(uuid7())
    put(
        api, ledger, **{"from": "EUR", "to": "USD", "rate": 108, "scale": 2, "externalId": external}
    )
    got = api.ok(api.get(ledger_path(ledger, f"/asset-rates/{external}")), 200)
    assert (got["from"], got["to"], got["rate"]) == ("EUR", "USD", 108)
    assert_error(api.get(ledger_path(ledger, f"/asset-rates/{uuid7()}")), 404, "0007")
    assert_error(api.get(ledger_path(ledger, "/asset-rates/not-a-uuid")), 400, "0065")
    other = api.create_ledger(ledger["organizationId"])
    assert_error(api.get(ledger_path(other, f"/asset-rates/{external}")), 404, "0007")


def test_list_rates_from_an_asset(api: Api, ledger: dict[str, Any]) -> None:
    for to, rate in (("BRL", 525), ("EUR", 92), ("JPY", 15000), ("GBP", 79)):
        put(api, ledger, **{"from": "USD", "to": to, "rate": rate, "scale": 2})
    put(api, ledger, **{"from": "EUR", "to": "USD", "rate": 108, "scale": 2})
    page = api.ok(api.get(ledger_path(ledger, "/asset-rates/from/USD"), limit=3), 200)
    assert [r["to"] for r in page["items"]] == ["BRL", "EUR", "JPY"]
    assert page["limit"] == 3
    rest = api.ok(
        api.get(ledger_path(ledger, "/asset-rates/from/USD"), limit=3, cursor=page["next_cursor"]),
        200,
    )
    assert [r["to"] for r in rest["items"]] == ["GBP"]
    only = api.ok(api.get(ledger_path(ledger, "/asset-rates/from/USD"), to="EUR,GBP"), 200)
    assert sorted(r["to"] for r in only["items"]) == ["EUR", "GBP"]
    assert_error(api.get(ledger_path(ledger, "/asset-rates/from/usd")), 400, "0004")
    assert_error(api.get(ledger_path(ledger, "/asset-rates/from/US1")), 400, "0033")
    assert_error(api.get(ledger_path(ledger, "/asset-rates/from/USD"), to="eur"), 400, "0004")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"to": "BRL", "rate": 1}, "0009"),
        ({"from": "USD", "rate": 1}, "0009"),
        ({"from": "USD", "to": "BRL"}, "0009"),
        ({"from": "usd", "to": "BRL", "rate": 1}, "0004"),
        ({"from": "US$", "to": "BRL", "rate": 1}, "0033"),
        ({"from": "USD", "to": "BRL", "rate": "1"}, "0094"),
        ({"from": "USD", "to": "BRL", "rate": 1.5}, "0094"),
        ({"from": "USD", "to": "BRL", "rate": 0}, "0047"),
        ({"from": "USD", "to": "BRL", "rate": 1, "scale": -1}, "0047"),
        ({"from": "USD", "to": "BRL", "rate": 1, "ttl": -5}, "0047"),
        ({"from": "USD", "to": "BRL", "rate": 1, "externalId": "x"}, "0047"),
        ({"from": "USD", "to": "BRL", "rate": 1, "extra": True}, "0053"),
    ],
)
def test_put_validation(api: Api, ledger: dict[str, Any], body: dict[str, Any], code: str) -> None:
    assert_error(put(api, ledger, **body), 400, code)
    assert not AssetRate.objects.exists()


def test_put_on_a_missing_ledger(api: Api, organization: dict[str, Any]) -> None:
    missing = {"organizationId": organization["id"], "id": str(uuid7())}
    assert_error(put(api, missing, **{"from": "USD", "to": "BRL", "rate": 1}), 404, "0037")


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_puts_of_one_pair_make_one_row(api: Api, ledger: dict[str, Any]) -> None:
    statuses: list[int] = []
    barrier = threading.Barrier(4)

    def run(rate: int) -> None:
        try:
            barrier.wait(5)
            statuses.append(
                put(api, ledger, **{"from": "USD", "to": "MXN", "rate": rate}).status_code
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(r,)) for r in (1, 2, 3, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert statuses == [201] * 4
    assert AssetRate.objects.filter(from_asset="USD", to_asset="MXN").count() == 1
