"""A small driver for posting tests: accounts, funding and balance reads over the real API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

from tests.helpers import Api, ledger_path
from transactions.models import Balance


def send(
    asset: str,
    value: str,
    sources: list[dict[str, Any]],
    destinations: list[dict[str, Any]],
    **top: Any,
) -> dict[str, Any]:
    """A JSON transaction body."""
    return {
        **top,
        "send": {
            "asset": asset,
            "value": value,
            "source": {"from": sources},
            "distribute": {"to": destinations},
        },
    }


def amt(alias: str, value: str, asset: str = "USD", **extra: Any) -> dict[str, Any]:
    return {"accountAlias": alias, "amount": {"asset": asset, "value": value}, **extra}


def share(alias: str, percentage: int, of: int | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"percentage": percentage}
    if of is not None:
        body["percentageOfPercentage"] = of
    return {"accountAlias": alias, "share": body, **extra}


def rest(alias: str, **extra: Any) -> dict[str, Any]:
    return {"accountAlias": alias, "remaining": "remaining", **extra}


class Book:
    """One ledger with a USD asset, driven through the HTTP API."""

    def __init__(self, api: Api, ledger: dict[str, Any]) -> None:
        self.api = api
        self.ledger = ledger

    def path(self, suffix: str) -> str:
        return ledger_path(self.ledger, suffix)

    def account(self, alias: str, asset: str = "USD", **fields: Any) -> dict[str, Any]:
        return self.api.create_account(self.ledger, alias=alias, assetCode=asset, **fields)

    def post(self, body: dict[str, Any], kind: str = "json", **headers: str) -> Any:
        return self.api.post(self.path(f"/transactions/{kind}"), body, **headers)

    def ok(self, response: Any, status: int = 201) -> dict[str, Any]:
        return self.api.ok(response, status)

    def transfer(
        self, src: str, dst: str, value: str, headers: dict[str, str] | None = None, **top: Any
    ) -> Any:
        body = send("USD", value, [amt(src, value)], [amt(dst, value)], **top)
        return self.post(body, "json", **(headers or {}))

    def fund(self, alias: str, value: str, asset: str = "USD") -> dict[str, Any]:
        body = {
            "send": {
                "asset": asset,
                "value": value,
                "distribute": {"to": [amt(alias, value, asset)]},
            }
        }
        return self.ok(self.post(body, "inflow"))

    def action(self, transaction_id: str, verb: str) -> Any:
        return self.api.post(self.path(f"/transactions/{transaction_id}/{verb}"))

    def balance(self, alias: str, key: str = "default") -> tuple[Decimal, Decimal, int]:
        b = Balance.objects.get(ledger_id=self.ledger["id"], alias=alias, key=key)
        return (b.available, b.on_hold, b.version)

    def snapshot(self) -> list[tuple[Any, ...]]:
        """Every balance and the operation count: to prove a refused posting changed nothing."""
        rows = Balance.all_objects.filter(ledger_id=self.ledger["id"]).order_by("id")
        from transactions.models import Operation, Transaction

        return [
            *[(b.alias, b.key, b.available, b.on_hold, b.version) for b in rows],
            ("operations", Operation.objects.filter(ledger_id=self.ledger["id"]).count()),
            ("transactions", Transaction.objects.filter(ledger_id=self.ledger["id"]).count()),
        ]


def body_of(response: Any) -> dict[str, Any]:
    return orjson.loads(response.content)
