"""Accept-time validation is apply-time validation (issue 16, item 1): every text a posting
writes to a column is checked, against that column's own length, before anything is stored,
whatever the input path (JSON, Gold DSL, bulk atomic or not, asynchronous).

The limits are read here from the models' ``_meta`` (never copied from the validator), so a
column made shorter, or a validator made looser, fails this file. For each field an input can
set: one character past the limit is 400 0047 with nothing stored (no transaction, queued
posting or operation; balances unchanged), and a value exactly at the limit posts (and, in
asynchronous mode, is then applied by the worker).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
import pytest
from django.contrib.postgres.fields import ArrayField
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from onboarding.models import Account, Asset
from tests.helpers import Api, assert_error
from tests.transactions.book import Book, amt, send
from transactions import asynchronous
from transactions.models import (
    Balance,
    Operation,
    OperationRoute,
    QueuedPosting,
    Transaction,
)

pytestmark = pytest.mark.django_db

EXTERNAL = "@external/"


def max_length(model: type[models.Model], name: str) -> int:
    column = model._meta.get_field(name)
    if isinstance(column, ArrayField):
        column = column.base_field
    assert isinstance(column, models.CharField), (model, name)
    assert column.max_length is not None
    return column.max_length


def limit_of(*columns: tuple[type[models.Model], str]) -> int:
    """The longest value that fits every column a field is written to."""
    return min(max_length(model, name) for model, name in columns)


ALIAS_COLUMNS = (
    (Operation, "account_alias"),
    (Balance, "alias"),
    (Account, "alias"),
    (Transaction, "source"),
    (Transaction, "destination"),
)


def alias_limit() -> int:
    return limit_of(*ALIAS_COLUMNS)


def asset_limit() -> int:
    # An asset names its external account @external/<CODE>: an alias as well.
    columns = ((Transaction, "asset_code"), (Operation, "asset_code"), (Balance, "asset_code"))
    return min(limit_of(*columns), alias_limit() - len(EXTERNAL))


# --- the posting, as JSON and as Gold ----------------------------------------------------------


@dataclass
class Values:
    """The texts of one posting; each field test changes one of them."""

    asset: str = "USD"
    source: str = "@alice"
    destination: str = "@bob"
    description: str | None = None
    code: str | None = None
    group: str = "GROUP"
    route: str | None = None
    entry_description: str | None = None
    entry_chart: str | None = None
    entry_route: str | None = None
    balance_key: str | None = None

    def json(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.entry_description is not None:
            extra["description"] = self.entry_description
        if self.entry_chart is not None:
            extra["chartOfAccounts"] = self.entry_chart
        if self.entry_route is not None:
            extra["route"] = self.entry_route
        destination = amt(self.destination, "1", self.asset)
        if self.balance_key is not None:
            destination["balanceKey"] = self.balance_key
        top: dict[str, Any] = {"chartOfAccountsGroupName": self.group}
        for name, value in (
            ("description", self.description),
            ("code", self.code),
            ("route", self.route),
        ):
            if value is not None:
                top[name] = value
        return send(
            self.asset, "1", [amt(self.source, "1", self.asset, **extra)], [destination], **top
        )

    def gold(self) -> str:
        a = self.asset
        entry = f"(from {self.source} :amount {a} 1|0"
        if self.entry_description is not None:
            entry += f' (description "{self.entry_description}")'
        if self.entry_chart is not None:
            entry += f" (chart-of-accounts {self.entry_chart})"
        head = f"(transaction V1 (chart-of-accounts-group-name {self.group})"
        if self.description is not None:
            head += f' (description "{self.description}")'
        if self.code is not None:
            head += f" (code {self.code})"
        return (
            f"{head} (send {a} 1|0 (source {entry})) "
            f"(distribute (to {self.destination} :amount {a} 1|0))))"
        )


@dataclass(frozen=True)
class Field:
    """A text of a posting: the columns it is written to, how a value of it is made and set,
    which inputs can carry it, and what a posting at the limit needs first."""

    name: str
    columns: tuple[tuple[type[models.Model], str], ...]
    make: Callable[[int], str]
    set: Callable[[Values, str], None]
    in_gold: bool
    prepare: Callable[[Book, str], None] | None = None
    limit: Callable[[], int] | None = None

    def max(self) -> int:
        return self.limit() if self.limit else limit_of(*self.columns)


def _letters(n: int) -> str:
    return "A" * n


def _word(n: int) -> str:
    return "w" * n


def _alias(n: int) -> str:
    return "@" + "a" * (n - 1)


def _set(attr: str) -> Callable[[Values, str], None]:
    def setter(values: Values, value: str) -> None:
        setattr(values, attr, value)

    return setter


def _account_for(book: Book, alias: str) -> None:
    book.account(alias)


def _balance_key(book: Book, key: str) -> None:
    account = Account.objects.get(ledger_id=book.ledger["id"], alias="@bob")
    book.ok(book.api.post(book.path(f"/accounts/{account.id}/balances"), {"key": key}))


def _asset(book: Book, code: str) -> None:
    book.api.create_asset(book.ledger, code=code, type="crypto")
    for alias in ("@alice", "@bob"):
        book.account(f"{alias}-{len(code)}", asset=code)
    book.fund(f"@alice-{len(code)}", "10", asset=code)


def _set_asset(values: Values, code: str) -> None:
    values.asset = code
    values.source = f"@alice-{len(code)}"
    values.destination = f"@bob-{len(code)}"


FIELDS = [
    Field(
        "description",
        ((Transaction, "description"), (Operation, "description")),
        _word,
        _set("description"),
        True,
    ),
    Field("code", ((Transaction, "code"),), _word, _set("code"), True),
    Field(
        "chartOfAccountsGroupName",
        ((Transaction, "chart_of_accounts_group_name"),),
        _word,
        _set("group"),
        True,
    ),
    Field("route", ((Transaction, "route"),), _word, _set("route"), False),
    Field(
        "entry.description",
        ((Operation, "description"),),
        _word,
        _set("entry_description"),
        True,
    ),
    Field(
        "entry.chartOfAccounts",
        ((Operation, "chart_of_accounts"),),
        _word,
        _set("entry_chart"),
        True,
    ),
    Field("entry.route", ((Operation, "route"),), _word, _set("entry_route"), False),
    Field(
        "entry.accountAlias",
        ALIAS_COLUMNS,
        _alias,
        _set("destination"),
        True,
        prepare=_account_for,
    ),
    Field(
        "entry.balanceKey",
        ((Operation, "balance_key"), (Balance, "key")),
        _word,
        _set("balance_key"),
        False,
        prepare=_balance_key,
    ),
    Field(
        "send.asset",
        (),
        _letters,
        _set_asset,
        True,
        prepare=_asset,
        limit=asset_limit,
    ),
]

PATHS = ["json", "dsl", "bulk-atomic", "bulk-partial", "async-json", "async-dsl"]


@pytest.fixture
def book(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Book:
    b = Book(api, ledger)
    for alias in ("@alice", "@bob"):
        b.account(alias)
    b.fund("@alice", "100")
    return b


def upload(client: Client, book: Book, text: str) -> Any:
    file = SimpleUploadedFile("limits.gold", text.encode(), content_type="text/plain")
    return client.post("/v1" + book.path("/transactions/dsl"), {"dsl": file})


def post(client: Client, book: Book, path: str, values: Values, settings: Any) -> Any:
    settings.TRANSACTION_ASYNC = path.startswith("async")
    if path.endswith("dsl"):
        return upload(client, book, values.gold())
    if path.startswith("bulk"):
        good = Values().json()
        good["description"] = "the good item"
        body = {"atomic": path == "bulk-atomic", "transactions": [good, values.json()]}
        return book.api.post(book.path("/transactions/bulk"), body)
    return book.post(values.json())


def stored(book: Book) -> list[Any]:
    queued = QueuedPosting.objects.filter(ledger_id=book.ledger["id"]).count()
    return [*book.snapshot(), ("queued", queued)]


def _cases() -> Iterator[Any]:
    for f in FIELDS:
        for path in PATHS:
            if path.endswith("dsl") and not f.in_gold:
                continue
            yield pytest.param(f, path, id=f"{f.name}-{path}")


@pytest.mark.parametrize(("field", "path"), list(_cases()))
def test_one_past_the_column_is_refused_before_anything_is_stored(
    client: Client, book: Book, field: Field, path: str, settings: Any
) -> None:
    values = Values()
    field.set(values, field.make(field.max() + 1))
    before = stored(book)
    response = post(client, book, path, values, settings)
    if path == "bulk-partial":
        body = orjson.loads(response.content)
        assert response.status_code == 207, body
        good, bad = body["items"]
        assert good["status"] == 201, good
        assert bad["status"] == 400
        assert bad["error"]["code"] == "0047", bad
        after = stored(book)
        tx = Transaction.objects.get(pk=good["transaction"]["id"])
        assert tx.description == "the good item"
        assert Transaction.objects.filter(ledger_id=book.ledger["id"]).count() == (
            dict(b for b in before if len(b) == 2)["transactions"] + 1
        )
        assert after != before  # the good item alone was posted
        return
    assert_error(response, 400, "0047")
    assert stored(book) == before


@pytest.mark.parametrize(("field", "path"), list(_cases()))
def test_a_value_at_the_column_limit_is_posted(
    client: Client,
    book: Book,
    field: Field,
    path: str,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    values = Values()
    value = field.make(field.max())
    if field.prepare is not None:
        field.prepare(book, value)
    field.set(values, value)
    response = post(client, book, path, values, settings)
    body = orjson.loads(response.content)
    assert response.status_code == 201, body
    if path.startswith("bulk"):
        assert [item["status"] for item in body["items"]] == [201, 201], body
        ids = [item["transaction"]["id"] for item in body["items"]]
    else:
        ids = [body["id"]]
    if path.startswith("async"):
        assert asynchronous.apply_ledger(book.ledger["id"]) == 1
    for tx_id in ids:
        assert Transaction.objects.get(pk=tx_id).status == "APPROVED"
    assert not QueuedPosting.objects.filter(ledger_id=book.ledger["id"]).exists()


GOLD_TEXTS = ["description", "entry_description"]


@pytest.mark.parametrize("attr", GOLD_TEXTS)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_nul_character_in_a_gold_string_is_refused(
    client: Client, book: Book, attr: str, mode: str, settings: Any
) -> None:
    """PostgreSQL text cannot hold NUL; a Gold string may contain one (the JSON route already
    refuses "\\u0000" anywhere)."""
    settings.TRANSACTION_ASYNC = mode == "async"
    values = Values()
    setattr(values, attr, "before\x00after")
    before = stored(book)
    assert_error(upload(client, book, values.gold()), 400, "0047")
    assert stored(book) == before


def test_an_asset_code_that_cannot_name_its_external_account_is_refused(
    api: Api, ledger: dict[str, Any]
) -> None:
    """An asset's external account is @external/<CODE>: a code that makes that alias longer
    than the alias column is 400 0047 (it was a 500 at 91 to 100 letters)."""
    too_long = _letters(alias_limit() - len(EXTERNAL) + 1)
    response = api.post(
        f"/organizations/{ledger['organizationId']}/ledgers/{ledger['id']}/assets",
        {"name": "long", "type": "crypto", "code": too_long},
    )
    assert_error(response, 400, "0047")
    assert not Asset.objects.filter(code=too_long).exists()
    at_limit = _letters(alias_limit() - len(EXTERNAL))
    body = api.create_asset(ledger, code=at_limit, type="crypto")
    assert body["code"] == at_limit
    assert Account.objects.filter(alias=EXTERNAL + at_limit).exists()


def test_route_rubrics_fit_the_operation_columns() -> None:
    """A rubric's code and description are copied onto each operation (route_code,
    route_description): the route's own columns must not be longer."""
    assert max_length(OperationRoute, "code") <= max_length(Operation, "route_code")
    assert max_length(OperationRoute, "description") <= max_length(Operation, "route_description")


def test_amount_digits_are_bounded_on_every_path(client: Client, book: Book, settings: Any) -> None:
    """Amounts are NUMERIC without a fixed precision; MAX_AMOUNT_DIGITS bounds them on every
    input (a longer one is 0047, not a poison pill for the worker)."""
    digits = settings.MAX_AMOUNT_DIGITS
    huge = "9" * (digits + 1)
    before = stored(book)
    body = send("USD", huge, [amt("@alice", huge)], [amt("@bob", huge)])
    assert_error(book.post(body), 400, "0047")
    gold = Values().gold().replace("1|0", f"{huge}|0")
    for mode in (False, True):
        settings.TRANSACTION_ASYNC = mode
        assert_error(upload(client, book, gold), 400, "0047")
    assert stored(book) == before
    assert Decimal(huge)  # the literal itself is fine: only its length is refused


# --- check constraints ---------------------------------------------------------------------

# Each check constraint of a posting's rows, and the input that would reach it if nothing
# before the database refused it: None when no posting input sets the column (midaz_post
# computes it under the balance lock, or another route writes it). A new constraint fails
# test_every_check_constraint_is_mapped until it is given its attack here.
NEGATIVE_ENTRY = send("USD", "1", [amt("@alice", "1")], [amt("@bob", "2"), amt("@alice", "-1")])
CHECK_ATTACKS: dict[str, dict[str, Any] | None] = {
    "transaction_amount_not_negative": send(
        "USD", "-1", [amt("@alice", "-1")], [amt("@bob", "-1")]
    ),
    "operation_amount_not_negative": NEGATIVE_ENTRY,
    "balance_on_hold_not_negative": None,  # computed by midaz_post
    "balance_overdraft_not_negative": None,  # computed by midaz_post
    "balance_direction_valid": None,  # set by the balance routes (their own schema)
}
POSTING_MODELS = (Transaction, Operation, Balance, QueuedPosting)


def _check_constraints() -> list[str]:
    return [
        c.name
        for model in POSTING_MODELS
        for c in model._meta.constraints
        if isinstance(c, models.CheckConstraint)
    ]


def test_every_check_constraint_is_mapped() -> None:
    assert sorted(_check_constraints()) == sorted(CHECK_ATTACKS)


@pytest.mark.parametrize("name", [n for n, attack in CHECK_ATTACKS.items() if attack is not None])
@pytest.mark.parametrize("path", ["json", "bulk-atomic", "bulk-partial", "async-json"])
def test_a_check_constraint_is_never_what_refuses_an_input(
    book: Book, name: str, path: str, settings: Any
) -> None:
    """The input a check constraint forbids is a 4xx with a code before anything is stored
    (in async mode, before the 201 that would leave the worker a row it cannot insert)."""
    attack = CHECK_ATTACKS[name]
    assert attack is not None
    settings.TRANSACTION_ASYNC = path.startswith("async")
    before = stored(book)
    if path.startswith("bulk"):
        good = Values().json()
        body = {"atomic": path == "bulk-atomic", "transactions": [good, attack]}
        response = book.api.post(book.path("/transactions/bulk"), body)
        answer = orjson.loads(response.content)
        if path == "bulk-partial":
            assert response.status_code == 207, answer
            bad = answer["items"][1]
            assert 400 <= bad["status"] < 500, bad
            assert bad["error"]["code"], bad
            return
    else:
        response = book.post(attack)
        answer = orjson.loads(response.content)
    assert 400 <= response.status_code < 500, answer
    assert answer["code"], answer
    assert stored(book) == before


@pytest.mark.parametrize("part", ["from", "to", "externalId"])
@pytest.mark.parametrize("path", ["json", "dsl", "async-json", "async-dsl"])
def test_rate_texts_past_their_limit_are_refused(
    client: Client, book: Book, part: str, path: str, settings: Any
) -> None:
    """An entry's rate names assets (the converted leg's asset_code and its external account)
    and an external id (kept in the operation's rate)."""
    rate = {"from": "USD", "to": "BRL", "externalId": "ext"}
    rate[part] = ("X" if part == "externalId" else "A") * (
        100 + 1 if part == "externalId" else asset_limit() + 1
    )
    settings.TRANSACTION_ASYNC = path.startswith("async")
    before = stored(book)
    if path.endswith("dsl"):
        text = (
            Values()
            .gold()
            .replace(
                "(to @bob :amount USD 1|0)",
                f"(to @bob :amount USD 1|0 (rate {rate['externalId']} {rate['from']} -> "
                f"{rate['to']} 1|0))",
            )
        )
        response = upload(client, book, text)
    else:
        body = Values().json()
        body["send"]["distribute"]["to"][0]["rate"] = {**rate, "value": "1"}
        response = book.post(body)
    assert_error(response, 400, "0047")
    assert stored(book) == before


# --- every other write route: the validator's lengths against the columns ------------------

# Fields whose check admits only a few short values (each within the column).
CLOSED_SETS = {("CreateAdditionalBalance", "direction"), ("UpdateBalance", "direction")}


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def _schema_columns() -> list[Any]:
    from onboarding import schemas as ob
    from onboarding.models import AccountType, Ledger, Organization, Portfolio, Segment
    from transactions import rates, routes
    from transactions.api import balances
    from transactions.models import AssetRate, TransactionRoute

    # The column a wire name lands in, where it is not its snake_case form.
    renamed = {"assetCode": "asset_code", "from": "from_asset", "to": "to_asset", "type": "type"}
    pairs = [
        (ob.ORGANIZATION_CREATE, Organization),
        (ob.ORGANIZATION_UPDATE, Organization),
        (ob.LEDGER_CREATE, Ledger),
        (ob.LEDGER_UPDATE, Ledger),
        (ob.ASSET_CREATE, Asset),
        (ob.ASSET_UPDATE, Asset),
        (ob.PORTFOLIO_CREATE, Portfolio),
        (ob.PORTFOLIO_UPDATE, Portfolio),
        (ob.SEGMENT_CREATE, Segment),
        (ob.SEGMENT_UPDATE, Segment),
        (ob.ACCOUNT_TYPE_CREATE, AccountType),
        (ob.ACCOUNT_TYPE_UPDATE, AccountType),
        (ob.ACCOUNT_CREATE, Account),
        (ob.ACCOUNT_UPDATE, Account),
        (routes.OPERATION_ROUTE_CREATE, OperationRoute),
        (routes.OPERATION_ROUTE_UPDATE, OperationRoute),
        (routes.TRANSACTION_ROUTE_CREATE, TransactionRoute),
        (routes.TRANSACTION_ROUTE_UPDATE, TransactionRoute),
        (rates.RATE_PUT, AssetRate),
        (balances.BALANCE_CREATE, Balance),
        (balances.BALANCE_UPDATE, Balance),
    ]
    out = []
    for schema, model in pairs:
        for wire, f in schema.fields.items():
            if f.kind != "string":
                continue
            column = renamed.get(wire, _snake(wire))
            names = {c.name for c in model._meta.get_fields()}
            if column not in names:  # a wire name with no column of its own (kept in JSON)
                continue
            field = model._meta.get_field(column)
            if isinstance(field, models.CharField):
                out.append(pytest.param(schema, wire, f, field, id=f"{schema.name}.{wire}"))
        status = schema.fields.get("status")
        if status is not None and status.schema is not None:
            for wire, column in (("code", "status"), ("description", "status_description")):
                f = status.schema.fields[wire]
                field = model._meta.get_field(column)
                assert isinstance(field, models.CharField)
                out.append(
                    pytest.param(
                        schema, f"status.{wire}", f, field, id=f"{schema.name}.status.{wire}"
                    )
                )
    return out


@pytest.mark.parametrize(("schema", "wire", "f", "column"), _schema_columns())
def test_every_write_route_bounds_its_texts_by_their_columns(
    schema: Any, wire: str, f: Any, column: models.CharField[Any, Any]
) -> None:
    """A text longer than its column was a 500 at the insert: each validated string field is
    bounded, and by no more than the column it is stored in (or checked against a closed set
    of values that all fit)."""
    if (schema.name, wire) in CLOSED_SETS:
        assert f.checks, (schema.name, wire)
        return
    assert f.max_length is not None, f"{schema.name}.{wire} has no length limit"
    assert f.max_length <= column.max_length, (schema.name, wire, f.max_length, column.max_length)


# --- any text, any field: accepted and applied, or refused with nothing stored -------------

ANY_TEXT = st.one_of(
    st.text(alphabet=st.characters(), max_size=40),
    # Around every column length (100, 250, 256), in any characters.
    st.builds(
        lambda n, c: c * n, st.integers(90, 300), st.characters(codec="utf-8") | st.just("w")
    ),
    st.text(alphabet=st.characters(), max_size=20).map(lambda t: t + "\x00" + t),
    st.text(alphabet=st.characters(), max_size=20).map(lambda t: t + "\ud800"),
)
TEXT_FIELDS = [f for f in FIELDS if f.name not in {"entry.accountAlias", "send.asset"}]


@hyp_settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    index=st.integers(0, len(TEXT_FIELDS) - 1),
    text=ANY_TEXT,
    gold=st.booleans(),
    asynchronous_mode=st.booleans(),
)
def test_any_text_in_any_field_is_posted_or_refused_whole(
    client: Client,
    book: Book,
    settings: Any,
    index: int,
    text: str,
    gold: bool,
    asynchronous_mode: bool,
) -> None:
    """Any Unicode text (NUL, lone surrogates, astral characters, long runs) in any text field
    of a posting, through JSON or Gold, sync or async: a 201 whose posting the worker then
    applies, or a 4xx with a code and nothing stored. Never a 500, never a poison pill."""
    field = TEXT_FIELDS[index]
    gold = gold and field.in_gold
    if gold:
        # A Gold STRING cannot hold '"'; WORD fields take only their own characters.
        text = text.replace('"', "")
        if field.make is _word and field.name not in {"description", "entry.description"}:
            text = "".join(c for c in text if c.isascii() and (c.isalnum() or c in "_/")) or "w"
    values = Values()
    field.set(values, text)
    settings.TRANSACTION_ASYNC = asynchronous_mode
    before = stored(book)
    if gold:
        try:
            response = upload(client, book, values.gold())
        except UnicodeEncodeError:  # a lone surrogate cannot even be put in a UTF-8 file
            return
    else:
        raw = json.dumps(values.json(), ensure_ascii=True).encode()  # \\ud800 escapes kept
        response = book.api.post(book.path("/transactions/json"), raw=raw)
    body = orjson.loads(response.content)
    if response.status_code == 201:
        if asynchronous_mode:
            asynchronous.apply_ledger(book.ledger["id"])
        assert not QueuedPosting.objects.filter(ledger_id=book.ledger["id"]).exists()
        status = Transaction.objects.get(pk=body["id"]).status
        assert status in {"APPROVED", "DECLINED"}, status
        return
    assert 400 <= response.status_code < 500, body
    assert body["code"], body
    assert stored(book) == before
