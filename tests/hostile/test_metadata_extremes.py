"""Whatever is accepted must render (issue 16, "Stored data that cannot be rendered").

Every route that stores metadata is sent every JSON extreme, as raw JSON text, on create and on
PATCH (or the upsert PUT of asset rates). Each extreme has one decided outcome:

* refused at write time with a 4xx Midaz code, the entity (when it exists) still readable; or
* stored, and then GET, the list and PATCH of the entity answer 200 and render it back as a
  float64 reader (Midaz) reads the text that was sent.

The decision for numbers: metadata numbers must lie in the signed 64-bit range (0094 beyond).
Midaz reads them as float64, so 1e300 is a valid Midaz value, but jsonb keeps a number as an
exact numeric and hands an integral one back as an integer, which no JSON answer here can write
beyond 64 bits: accepting 1e300 or 123456789012345678901234567890 meant an entity that answers
500 on every later read. Refusing it is the only choice that keeps "accepted = renderable".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from tests.helpers import Api, ledger_path
from tests.transactions.book import Book, amt, send

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Extreme:
    name: str
    raw: bytes  # the metadata object as JSON text
    expected: dict[str, Any] | None = None  # rendered back (None: refused)
    codes: frozenset[str] = frozenset()


def refused(name: str, raw: bytes | str, *codes: str) -> Extreme:
    text = raw.encode() if isinstance(raw, str) else raw
    return Extreme(name, text, None, frozenset(codes))


def rendered(name: str, raw: bytes | str, expected: dict[str, Any]) -> Extreme:
    text = raw.encode() if isinstance(raw, str) else raw
    return Extreme(name, text, expected)


def _nested(depth: int) -> str:
    return '{"n": ' * depth + "1" + "}" * depth


EXTREMES = [
    refused("int-beyond-64-bits", '{"n": 123456789012345678901234567890}', "0094"),
    refused("two-to-the-63", '{"n": 9223372036854775808}', "0094"),
    refused("u64-max", '{"n": 18446744073709551615}', "0094"),
    refused("below-i64-min", '{"n": -9223372036854775809}', "0094"),
    rendered("i64-max", '{"n": 9223372036854775807}', {"n": 9223372036854775807}),
    rendered("i64-min", '{"n": -9223372036854775808}', {"n": -9223372036854775808}),
    refused("1e400", '{"n": 1e400}', "0094"),
    refused("minus-1e400", '{"n": -1e400}', "0094"),
    refused("1e300", '{"n": 1e300}', "0094"),
    refused("float-max", '{"n": 1.7976931348623157e308}', "0094"),
    rendered("1e18-float", '{"n": 1e18}', {"n": 10**18}),
    rendered("minus-zero", '{"n": -0}', {"n": 0}),
    rendered("minus-zero-float", '{"n": -0.0}', {"n": 0.0}),
    rendered("smallest-subnormal", '{"n": 5e-324}', {"n": 5e-324}),
    rendered("underflow", '{"n": 1e-400}', {"n": 0.0}),  # float64 reads it as 0
    rendered("tenth", '{"n": 0.1}', {"n": 0.1}),
    rendered(
        "more-digits-than-a-double",
        '{"n": 3.14159265358979323846264338327950288}',
        {"n": 3.141592653589793},
    ),
    refused("object-value", '{"n": {"a": 1}}', "0067"),
    refused("array-value", '{"n": [1, 2]}', "0067"),
    refused("deep-nesting", _nested(60), "0067", "0144"),
    rendered("key-at-limit", f'{{"{"k" * 100}": 1}}', {"k" * 100: 1}),
    refused("key-past-limit", f'{{"{"k" * 101}": 1}}', "0050"),
    rendered("value-at-limit", f'{{"v": "{"x" * 2000}"}}', {"v": "x" * 2000}),
    refused("value-past-limit", f'{{"v": "{"x" * 2001}"}}', "0051"),
    rendered(
        "non-ascii", '{"ключ": "värde 🎉 中文", "é": "ü"}', {"ключ": "värde 🎉 中文", "é": "ü"}
    ),
    rendered("escaped-surrogate-pair", b'{"e": "\\ud83c\\udf89"}', {"e": "\U0001f389"}),
    refused("nul-in-value", b'{"n": "a\\u0000b"}', "0047"),
    refused("nul-in-key", b'{"a\\u0000": "b"}', "0047"),
    refused("lone-surrogate-value", b'{"n": "\\ud800"}', "0094"),
    refused("lone-surrogate-key", b'{"\\udfff": "x"}', "0094"),
    # A float elsewhere in the body sends it down the exact (standard library) parser, which
    # reads lone surrogates that orjson refuses.
    refused("lone-surrogate-beside-a-float", b'{"f": 1.5, "n": "\\ud800"}', "0094"),
    rendered("booleans", '{"t": true, "f": false}', {"t": True, "f": False}),
    rendered("duplicate-key", '{"n": 1, "n": 2}', {"n": 2}),  # the last one, as Go reads it
    refused("too-many-keys", "{" + ", ".join(f'"k{i}": {i}' for i in range(101)) + "}", "0145"),
]


# --- the routes that store metadata --------------------------------------------------------


@dataclass
class Ctx:
    api: Api
    ledger: dict[str, Any]
    book: Book
    route_ids: list[str]
    counter: int = 0

    def unique(self) -> int:
        self.counter += 1
        return self.counter

    @property
    def org(self) -> str:
        return f"/organizations/{self.ledger['organizationId']}"

    def lp(self, suffix: str) -> str:
        return ledger_path(self.ledger, suffix)


def spliced(base: dict[str, Any], raw: bytes, where: Callable[[dict[str, Any]], None]) -> bytes:
    """``base`` as JSON with the raw metadata text put where ``where`` puts a marker."""
    where(base)
    return orjson.dumps(base).replace(b'"__META__"', raw)


def top(body: dict[str, Any]) -> None:
    body["metadata"] = "__META__"


@dataclass(frozen=True)
class Route:
    """How to write metadata on one kind of entity and read the entity back."""

    name: str
    create: Callable[[Ctx, bytes], Any]  # -> response
    item: Callable[[Ctx, dict[str, Any]], str]  # created body -> item path
    listing: Callable[[Ctx, dict[str, Any]], str]  # created body -> list path
    patch: Callable[[Ctx, dict[str, Any], bytes], Any]  # -> response
    metadata: Callable[[dict[str, Any]], dict[str, Any]] = lambda body: body["metadata"]
    list_id: Callable[[dict[str, Any]], str] = lambda body: body["id"]


def _patch(
    path: Callable[[Ctx, dict[str, Any]], str],
) -> Callable[[Ctx, dict[str, Any], bytes], Any]:
    def patch(ctx: Ctx, body: dict[str, Any], raw: bytes) -> Any:
        return ctx.api.patch(path(ctx, body), raw=spliced({}, raw, top))

    return patch


def _simple(
    name: str, collection: Callable[[Ctx], str], base: Callable[[Ctx], dict[str, Any]]
) -> Route:
    def create(ctx: Ctx, raw: bytes) -> Any:
        return ctx.api.post(collection(ctx), raw=spliced(base(ctx), raw, top))

    def item(ctx: Ctx, body: dict[str, Any]) -> str:
        return f"{collection(ctx)}/{body['id']}"

    return Route(name, create, item, lambda ctx, body: collection(ctx), _patch(item))


def _letters(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 26)
        out += chr(65 + r)
        if n == 0:
            return "X" + out


# Transactions: the transaction's own metadata.
def _tx_create(ctx: Ctx, raw: bytes) -> Any:
    body = send("USD", "1", [amt("@alice", "1")], [amt("@bob", "1")])
    return ctx.api.post(ctx.lp("/transactions/json"), raw=spliced(body, raw, top))


# Operations: an entry's metadata becomes its operation's; PATCH .../operations/{id} too.
def _op_create(ctx: Ctx, raw: bytes) -> Any:
    body = send("USD", "1", [amt("@alice", "1")], [amt("@bob", "1", metadata="__META__")])
    response = ctx.api.post(
        ctx.lp("/transactions/json"), raw=orjson.dumps(body).replace(b'"__META__"', raw)
    )
    if response.status_code != 201:
        return response
    tx = orjson.loads(response.content)
    (op,) = [o for o in tx["operations"] if o["accountAlias"] == "@bob"]
    return _Answer(201, op)


class _Answer:
    """A created entity that is not the body of the create answer (an operation)."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status_code = status
        self.content = orjson.dumps(body)


def _op_item(ctx: Ctx, op: dict[str, Any]) -> str:
    return ctx.lp(f"/accounts/{op['accountId']}/operations/{op['id']}")


def _rate_put(ctx: Ctx, raw: bytes, external_id: str | None = None) -> Any:
    body: dict[str, Any] = {"from": "USD", "to": "BRL", "rate": 525, "scale": 2}
    if external_id:
        body["externalId"] = external_id
    return ctx.api.request("PUT", ctx.lp("/asset-rates"), raw=spliced(body, raw, top))


ROUTES = [
    _simple(
        "organizations",
        lambda ctx: "/organizations",
        lambda ctx: {"legalName": "Extreme Ltd.", "legalDocument": "123"},
    ),
    _simple("ledgers", lambda ctx: f"{ctx.org}/ledgers", lambda ctx: {"name": f"l{ctx.unique()}"}),
    _simple(
        "assets",
        lambda ctx: ctx.lp("/assets"),
        lambda ctx: {"name": f"a{ctx.unique()}", "type": "crypto", "code": _letters(ctx.unique())},
    ),
    _simple("portfolios", lambda ctx: ctx.lp("/portfolios"), lambda ctx: {"name": "p"}),
    _simple("segments", lambda ctx: ctx.lp("/segments"), lambda ctx: {"name": f"s{ctx.unique()}"}),
    _simple(
        "account-types",
        lambda ctx: ctx.lp("/account-types"),
        lambda ctx: {"name": "t", "keyValue": f"kv{ctx.unique()}"},
    ),
    _simple(
        "accounts",
        lambda ctx: ctx.lp("/accounts"),
        lambda ctx: {"assetCode": "USD", "type": "deposit"},
    ),
    _simple(
        "operation-routes",
        lambda ctx: ctx.lp("/operation-routes"),
        lambda ctx: {"title": "r", "operationType": "source"},
    ),
    _simple(
        "transaction-routes",
        lambda ctx: ctx.lp("/transaction-routes"),
        lambda ctx: {"title": "tr", "operationRoutes": ctx.route_ids},
    ),
    Route(
        "transactions",
        _tx_create,
        lambda ctx, tx: ctx.lp(f"/transactions/{tx['id']}"),
        lambda ctx, tx: ctx.lp("/transactions"),
        _patch(lambda ctx, tx: ctx.lp(f"/transactions/{tx['id']}")),
    ),
    Route(
        "operations",
        _op_create,
        _op_item,
        lambda ctx, op: ctx.lp(f"/accounts/{op['accountId']}/operations"),
        _patch(
            lambda ctx, op: ctx.lp(f"/transactions/{op['transactionId']}/operations/{op['id']}")
        ),
    ),
    Route(
        "asset-rates",
        lambda ctx, raw: _rate_put(ctx, raw),
        lambda ctx, rate: ctx.lp(f"/asset-rates/{rate['externalId']}"),
        lambda ctx, rate: ctx.lp("/asset-rates/from/USD"),
        lambda ctx, rate, raw: _rate_put(ctx, raw, rate["externalId"]),
    ),
]


@pytest.fixture
def ctx(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Ctx:
    book = Book(api, ledger)
    for alias in ("@alice", "@bob"):
        book.account(alias)
    book.fund("@alice", "1000")
    api.create_asset(ledger, code="BRL")
    routes = []
    for kind in ("source", "destination"):
        body = {"title": kind, "operationType": kind}
        routes.append(api.ok(api.post(ledger_path(ledger, "/operation-routes"), body), 201)["id"])
    return Ctx(api, ledger, book, routes)


def _same(rendered: dict[str, Any], expected: dict[str, Any]) -> bool:
    return all(k in rendered and rendered[k] == v for k, v in expected.items())


def _listed(ctx: Ctx, route: Route, entity: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
    response = ctx.api.get(route.listing(ctx, entity), limit="100")
    if response.status_code != 200:
        return response.status_code, None
    items = orjson.loads(response.content)["items"]
    found = [i for i in items if i["id"] == route.list_id(entity)]
    return 200, (found[0] if found else None)


def _check(ctx: Ctx, route: Route, extreme: Extreme, problems: list[str]) -> None:
    label = f"{route.name}/{extreme.name}"
    response = route.create(ctx, extreme.raw)
    answer = orjson.loads(response.content)
    if extreme.expected is None:
        if response.status_code != 400 or answer.get("code") not in extreme.codes:
            problems.append(f"{label} create: {response.status_code} {str(answer)[:160]}")
        # The same on PATCH of an entity that exists, which stays readable.
        plain = route.create(ctx, b"{}")
        entity = orjson.loads(plain.content)
        assert plain.status_code in (200, 201), (label, entity)
        patched = route.patch(ctx, entity, extreme.raw)
        code = orjson.loads(patched.content).get("code")
        if patched.status_code != 400 or code not in extreme.codes:
            problems.append(f"{label} patch: {patched.status_code} {patched.content[:160]!r}")
        if ctx.api.get(route.item(ctx, entity)).status_code != 200:
            problems.append(f"{label}: the entity no longer reads")
        return
    if response.status_code not in (200, 201):
        problems.append(f"{label} create: {response.status_code} {str(answer)[:160]}")
        return
    entity = answer
    if not _same(route.metadata(entity), extreme.expected):
        problems.append(f"{label} create answer: {route.metadata(entity)}")
    read = ctx.api.get(route.item(ctx, entity))
    if read.status_code != 200 or not _same(
        orjson.loads(read.content)["metadata"], extreme.expected
    ):
        problems.append(f"{label} get: {read.status_code} {read.content[:160]!r}")
    status, listed = _listed(ctx, route, entity)
    if status != 200 or listed is None or not _same(listed["metadata"], extreme.expected):
        problems.append(f"{label} list: {status} {listed}")
    patched = route.patch(ctx, entity, extreme.raw)
    if patched.status_code not in (200, 201) or not _same(
        orjson.loads(patched.content)["metadata"], extreme.expected
    ):
        problems.append(f"{label} patch: {patched.status_code} {patched.content[:160]!r}")
    again = ctx.api.get(route.item(ctx, entity))
    if again.status_code != 200:
        problems.append(f"{label} get after patch: {again.status_code}")


@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
def test_every_metadata_extreme_is_refused_or_renders(ctx: Ctx, route: Route) -> None:
    problems: list[str] = []
    for extreme in EXTREMES:
        _check(ctx, route, extreme, problems)
    assert not problems, "\n".join(problems)
