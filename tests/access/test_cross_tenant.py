"""The cross-tenant walk (issue 16, item 2 and its class): with API keys on, organization A's
key, with A's organization in the path, walks every route of the API against organization B's
ids (its ledgers, accounts, balances, transactions, operations, assets, portfolios, segments,
routes, rates and aliases). Every answer must be exactly the answer for random ids that exist
nowhere (status and code), and B's data must be unchanged afterwards.

The routes come from the URL configuration, so a new route is walked without touching this
test. Postings replay B's own idempotency keys, with B's body and with another, on every
create route, the bulk route (per-item keys too) and the DSL upload; commit, cancel and revert
name B's pending and approved transactions; the whole walk runs again in asynchronous mode.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from onboarding import ledger_settings
from onboarding.models import Account, Asset, Ledger, Portfolio, Segment
from tests.access.test_api_keys import (
    METHODS,
    Tenant,
    api_with,
    make_key,
    make_tenant,
    organization_routes,
)
from tests.helpers import Api, ledger_path
from tests.transactions.book import amt, send
from transactions.models import (
    AssetRate,
    Balance,
    BulkRecord,
    IdempotencyRecord,
    Operation,
    OperationRoute,
    QueuedPosting,
    Transaction,
    TransactionRoute,
)

pytestmark = [pytest.mark.auth, pytest.mark.django_db]

_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")
B_KEY = "b-secret-key"
B_BULK_KEY = "b-bulk-key"
B_ITEM_KEY = "b-item-key"
B_DSL_KEY = "b-dsl-key"
GOLD = (
    '(transaction V1 (chart-of-accounts-group-name G) (description "b dsl")'
    " (send USD 2|0 (source (from @b-only :amount USD 2|0))"
    " (distribute (to @alice :amount USD 2|0))))"
)


def b_body(value: str = "3") -> dict[str, Any]:
    return send("USD", value, [amt("@b-only", value)], [amt("@alice", value)])


class B:
    """Organization B: everything a path or a body can name, with state to leak."""

    def __init__(self, root: Api, tenant: Tenant, committed: Any) -> None:
        self.tenant = tenant
        ledger = tenant.ledger
        self.ledger = ledger
        path = lambda suffix: ledger_path(ledger, suffix)  # noqa: E731
        self.account = root.create_account(ledger, alias="@b-only")
        root.ok(root.post(path("/transactions/inflow"), inflow("@b-only", "100")), 201)
        # Its on-commit hooks run, as after a real commit: the answer goes to the cache.
        with committed(execute=True):
            self.posted = root.ok(
                root.post(path("/transactions/json"), b_body(), **{"X-Idempotency": B_KEY}), 201
            )
        self.approved = root.ok(root.post(path("/transactions/json"), b_body("4")), 201)
        self.pending = root.ok(
            root.post(path("/transactions/json"), {**b_body("5"), "pending": True}), 201
        )
        bulk = {"transactions": [{**b_body("6"), "idempotencyKey": B_ITEM_KEY}]}
        root.ok(root.post(path("/transactions/bulk"), bulk, **{"X-Idempotency": B_BULK_KEY}), 201)
        file = SimpleUploadedFile("b.gold", GOLD.encode(), content_type="text/plain")
        dsl = root.client.post(
            "/v1" + path("/transactions/dsl"), {"dsl": file}, headers={"X-Idempotency": B_DSL_KEY}
        )
        assert dsl.status_code == 201, dsl.content
        self.operation = Operation.objects.filter(transaction_id=self.posted["id"]).first()
        assert self.operation is not None
        self.balance = Balance.objects.get(ledger_id=ledger["id"], alias="@b-only")
        self.asset = Asset.objects.get(ledger_id=ledger["id"], code="USD")
        self.portfolio = root.ok(root.post(path("/portfolios"), {"name": "B folio"}), 201)
        self.segment = root.ok(root.post(path("/segments"), {"name": "B seg"}), 201)
        self.account_type = root.ok(
            root.post(path("/account-types"), {"name": "B type", "keyValue": "b-type"}), 201
        )
        source = root.ok(
            root.post(
                path("/operation-routes"),
                {
                    "title": "B out",
                    "operationType": "source",
                    "account": {"ruleType": "account_type", "validIf": ["deposit"]},
                    "accountingEntries": {"direct": {"debit": {"code": "D", "description": "d"}}},
                },
            ),
            201,
        )
        destination = root.ok(
            root.post(
                path("/operation-routes"),
                {
                    "title": "B in",
                    "operationType": "destination",
                    "accountingEntries": {"direct": {"credit": {"code": "C", "description": "c"}}},
                },
            ),
            201,
        )
        self.operation_route = source
        self.transaction_route = root.ok(
            root.post(
                path("/transaction-routes"),
                {"title": "B route", "operationRoutes": [source["id"], destination["id"]]},
            ),
            201,
        )
        root.create_asset(ledger, code="EUR")
        self.rate = root.ok(
            root.request("PUT", path("/asset-rates"), {"from": "USD", "to": "EUR", "rate": 2}),
            201,
        )
        # A second ledger of B that validates routes: a settings oracle would answer 0114 or
        # a route code there instead of 0037.
        org_id = tenant.organization["id"]
        self.routed = root.create_ledger(org_id)
        root.create_asset(self.routed, code="USD")
        root.ok(
            root.patch(
                ledger_path(self.routed, "/settings"), {"accounting": {"validateRoutes": True}}
            ),
            200,
        )

    def ids(self) -> dict[str, str]:
        """Path parameter -> B's value."""
        return {
            "ledger_id": self.ledger["id"],
            "transaction_id": self.pending["id"],
            "account_id": self.account["id"],
            "balance_id": str(self.balance.id),
            "operation_id": str(self.operation.id),
            "operation_route_id": self.operation_route["id"],
            "transaction_route_id": self.transaction_route["id"],
            "external_id": str(self.rate["externalId"]),
            "asset_code": "USD",
            "alias": "@b-only",
            "code": "EUR",
        }

    def snapshot(self) -> list[Any]:
        """Every row of B that a request could change, with its version and update time."""
        org = self.tenant.organization["id"]
        rows: list[Any] = []
        entities: tuple[Any, ...] = (
            Ledger,
            Account,
            Asset,
            Portfolio,
            Segment,
            Transaction,
            AssetRate,
            OperationRoute,
            TransactionRoute,
        )
        for model in entities:
            rows += list(
                model.all_objects.filter(organization_id=org)
                .order_by("id")
                .values_list("id", "updated_at", "deleted_at")
            )
        rows += list(
            Balance.all_objects.filter(organization_id=org)
            .order_by("id")
            .values_list("id", "available", "on_hold", "version", "deleted_at")
        )
        rows += list(Ledger.all_objects.filter(organization_id=org).values_list("settings"))
        rows.append(Operation.objects.filter(organization_id=org).count())
        records: tuple[Any, ...] = (IdempotencyRecord, BulkRecord, QueuedPosting)
        for model in records:
            rows.append(model.objects.filter(ledger__organization_id=org).count())
        rows += sorted(
            Transaction.objects.filter(organization_id=org).values_list("id", "status", "metadata")
        )
        return rows


def inflow(alias: str, value: str) -> dict[str, Any]:
    return {"send": {"asset": "USD", "value": value, "distribute": {"to": [amt(alias, value)]}}}


def _answer(response: Any, sent: dict[str, str] | None = None) -> tuple[Any, ...]:
    """Status, code and the error's words (with the ids the request sent, which an error may
    echo, named instead): nothing of it may differ for B's ids."""
    code = message = fields = None
    if response.content:
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            body = None
        if isinstance(body, dict):
            code, message, fields = body.get("code"), body.get("message"), body.get("fields")
    for name, value in sorted((sent or {}).items(), key=lambda item: -len(item[1])):
        if isinstance(message, str) and value:
            message = message.replace(value, f"<{name}>")
    return response.status_code, code, message, orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)


def _requests(
    route: str, method: str, b: B, own: dict[str, str]
) -> list[tuple[str, Callable[[Client, str], Any]]]:
    """The requests to send on a route (a label and a sender taking the filled path)."""

    def plain(body: Any, **headers: str) -> Callable[[Client, str], Any]:
        data = orjson.dumps(body) if body is not None else b""
        return lambda c, p: c.generic(
            method.upper(), p, data, content_type="application/json", headers=headers
        )

    if route.endswith("/transactions/dsl"):

        def upload(text: str) -> Callable[[Client, str], Any]:
            def sender(c: Client, p: str) -> Any:
                file = SimpleUploadedFile("b.gold", text.encode(), content_type="text/plain")
                return c.post(p, {"dsl": file}, headers={"X-Idempotency": B_DSL_KEY})

            return sender

        return [("dsl replay", upload(GOLD)), ("dsl other", upload(GOLD.replace("2|0", "1|0")))]
    if route.endswith("/transactions/bulk"):
        item = {**b_body("6"), "idempotencyKey": B_ITEM_KEY}
        other = {**b_body("7"), "idempotencyKey": B_ITEM_KEY}
        return [
            ("bulk replay", plain({"transactions": [item]}, **{"X-Idempotency": B_BULK_KEY})),
            ("bulk other", plain({"transactions": [other]}, **{"X-Idempotency": B_BULK_KEY})),
            ("bulk item", plain({"transactions": [item], "atomic": False})),
        ]
    kind = route.rsplit("/", 1)[-1]
    if kind in ("json", "inflow", "outflow", "annotation", "block", "unblock"):
        body = inflow("@b-only", "3") if kind == "inflow" else b_body()
        other = inflow("@b-only", "9") if kind == "inflow" else b_body("9")
        routed = {
            **b_body(),
            "routeId": b.transaction_route["id"],
        }
        converted = send(
            "USD", "1", [amt("@b-only", "1")], [{**amt("@alice", "1"), "rate": {"to": "EUR"}}]
        )
        return [
            ("replay", plain(body, **{"X-Idempotency": B_KEY})),
            ("other body", plain(other, **{"X-Idempotency": B_KEY})),
            ("no key", plain(body)),
            ("route", plain(routed)),
            ("stored rate", plain(converted)),
        ]
    if method in ("post", "patch", "put"):
        return [
            ("empty", plain({})),
            ("named", plain({"name": "taken", "description": "taken", "metadata": {"x": "y"}})),
        ]
    return [("plain", plain(None))]


def _fill(route: str, values: dict[str, str]) -> str:
    return "/" + _PARAM.sub(lambda m: values[m.group(1)], route)


def _random_ids() -> dict[str, str]:
    ids = {name: str(uuid.uuid4()) for name in _ID_NAMES}
    ids.update(asset_code="QQQ", alias=f"@nobody-{uuid.uuid4()}", code="QQQ")
    return ids


_NAMES = ("alias", "code", "asset_code")
_ID_NAMES = (
    "ledger_id",
    "transaction_id",
    "account_id",
    "balance_id",
    "operation_id",
    "operation_route_id",
    "transaction_route_id",
    "external_id",
    "id",
)


def _b_id_for(route: str, b: B) -> str:
    """What ``<id>`` names on a route: the entity of the segment before it."""
    segment = route.split("/<str:id>")[0].rsplit("/", 1)[-1]
    return {
        "assets": str(b.asset.id),
        "accounts": b.account["id"],
        "portfolios": b.portfolio["id"],
        "segments": b.segment["id"],
        "account-types": b.account_type["id"],
    }[segment]


def _walk(client: Client, a: Tenant, b: B, ledgers: list[str]) -> int:
    """Sends every request twice, with B's ids and with random ones, and compares."""
    walked = 0
    a_org = a.organization["id"]
    for route, cls in organization_routes():
        names = set(_PARAM.findall(route)) - {getattr(cls, "organization_kwarg", None) or ""}
        if not names - {"organization_id"}:
            continue  # only the organization (A's own): no id of B to name
        # A route with a parameter the walk does not know fails here: teach it B's value.
        assert names <= {"organization_id", *_ID_NAMES, *_NAMES}, (route, names)
        assert "<str:ledger_id>" in route, f"{route}: walk it with B's ids too"
        for method in METHODS:
            if not hasattr(cls, method):
                continue
            variants: list[tuple[str, dict[str, str]]] = []
            # B's pending and approved transactions where a route names one.
            tx_ids = [b.pending["id"], b.approved["id"]]
            for tx_id in tx_ids if "<str:transaction_id>" in route else tx_ids[:1]:
                for ledger_id in ledgers:
                    # B's ledger (and B's ids) under A's organization.
                    theirs = {
                        **b.ids(),
                        "ledger_id": ledger_id,
                        "organization_id": a_org,
                        "transaction_id": tx_id,
                    }
                    if "<str:id>" in route:
                        theirs["id"] = _b_id_for(route, b)
                    variants.append(("B's ledger", theirs))
                # A's own ledger with B's ids, where the route names more than the ledger.
                if any(f"<str:{n}>" in route for n in (*_ID_NAMES[1:], *_NAMES)):
                    mine = {
                        **b.ids(),
                        "ledger_id": a.ledger["id"],
                        "organization_id": a_org,
                        "transaction_id": tx_id,
                    }
                    if "<str:id>" in route:
                        mine["id"] = _b_id_for(route, b)
                    variants.append(("A's ledger", mine))
            for where, theirs in variants:
                control = {**_random_ids(), "organization_id": a_org}
                if where == "A's ledger":
                    control["ledger_id"] = a.ledger["id"]
                for label, sender in _requests(route, method, b, theirs):
                    got = _answer(sender(client, _fill(route, theirs)), theirs)
                    expected = _answer(sender(client, _fill(route, control)), control)
                    assert got == expected, (where, method, route, label, got, expected)
                    assert got[0] < 500, (where, method, route, label, got)
                    if where == "B's ledger":
                        # Refused: the ledger is not A's (or the body is not valid at all).
                        assert got[0] in (400, 404), (method, route, label, got)
                    walked += 1
    return walked


@pytest.fixture
def walkers(django_capture_on_commit_callbacks: Any) -> tuple[Client, Tenant, B]:
    root = api_with(make_key(write=True, everything=True))
    a = make_tenant(root)
    b = B(root, make_tenant(root), django_capture_on_commit_callbacks)
    client = Client(headers={"Authorization": f"Bearer {make_key(a.org, write=True)}"})
    return client, a, b


def test_a_key_of_a_sees_nothing_of_b_on_any_route(walkers: tuple[Client, Tenant, B]) -> None:
    client, a, b = walkers
    before = b.snapshot()
    walked = _walk(client, a, b, [b.ledger["id"], b.routed["id"]])
    assert walked > 300, walked  # 345 request pairs when written
    assert b.snapshot() == before


def test_the_walk_in_asynchronous_mode(walkers: tuple[Client, Tenant, B], settings: Any) -> None:
    client, a, b = walkers
    settings.TRANSACTION_ASYNC = True
    before = b.snapshot()
    walked = _walk(client, a, b, [b.ledger["id"], b.routed["id"]])
    assert walked > 300, walked  # 345 request pairs when written
    assert b.snapshot() == before


def test_the_replay_of_b_s_key_is_0037_and_b_s_key_stays_b_s(
    walkers: tuple[Client, Tenant, B],
) -> None:
    """The instance of the report: A's key, A's organization, B's ledger, B's key and body."""
    client, a, b = walkers
    path = f"/v1/organizations/{a.organization['id']}/ledgers/{b.ledger['id']}/transactions/json"
    for body in (b_body(), b_body("9")):
        response = client.post(
            path,
            orjson.dumps(body),
            content_type="application/json",
            headers={"X-Idempotency": B_KEY},
        )
        assert _answer(response)[:2] == (404, "0037"), response.content
    # B still replays its own key.
    owner = api_with(make_key(b.tenant.org, write=True))
    again = owner.post(
        ledger_path(b.ledger, "/transactions/json"), b_body(), **{"X-Idempotency": B_KEY}
    )
    assert owner.ok(again, 201)["id"] == b.posted["id"]
    assert again["X-Idempotency-Replayed"] == "true"


def test_the_ledger_owner_map_is_read_on_the_primary_and_kept(
    walkers: tuple[Client, Tenant, B],
) -> None:
    _, a, b = walkers
    ledger_settings._owners.clear()
    assert ledger_settings.owned_by(b.ledger["id"], b.tenant.organization["id"])
    assert not ledger_settings.owned_by(b.ledger["id"], a.organization["id"])
    assert not ledger_settings.owned_by(uuid.uuid4(), a.organization["id"])
    assert uuid.UUID(b.ledger["id"]) in ledger_settings._owners
    assert len(ledger_settings._owners) == 1  # an unknown ledger is not remembered


def test_bodies_that_name_b_s_ids_in_a_s_ledger(walkers: tuple[Client, Tenant, B]) -> None:
    """References in bodies (an account's portfolio, segment or parent, a transaction route's
    operation routes, a posting's route) are looked up in the path's ledger only."""
    client, a, b = walkers
    api = Api(client)
    before = b.snapshot()

    def bodies(ids: dict[str, str]) -> list[tuple[str, str, dict[str, Any]]]:
        return [
            ("POST", "/accounts", {"assetCode": "USD", "type": "deposit", "portfolioId": ids["p"]}),
            ("POST", "/accounts", {"assetCode": "USD", "type": "deposit", "segmentId": ids["s"]}),
            (
                "POST",
                "/accounts",
                {"assetCode": "USD", "type": "deposit", "parentAccountId": ids["a"]},
            ),
            ("POST", "/transaction-routes", {"title": "t", "operationRoutes": [ids["o"]]}),
            (
                "POST",
                "/transactions/json",
                {**send("USD", "1", [amt("@alice", "1")], [amt("@b-only", "1")])},
            ),
        ]

    theirs = {
        "p": b.portfolio["id"],
        "s": b.segment["id"],
        "a": b.account["id"],
        "o": b.operation_route["id"],
    }
    nobody = {name: str(uuid.uuid4()) for name in theirs}
    for (method, suffix, body), (_, _, control) in zip(bodies(theirs), bodies(nobody), strict=True):
        got = _answer(api.request(method, ledger_path(a.ledger, suffix), body), theirs)
        expected = _answer(api.request(method, ledger_path(a.ledger, suffix), control), nobody)
        assert got == expected, (suffix, body, got, expected)
        assert got[0] in (400, 404, 422), (suffix, got)
    assert b.snapshot() == before
