"""Metadata indexes (MIDAZ_API.md §5): real PostgreSQL expression indexes, built and dropped
concurrently, and used by the ``metadata.<key>`` filters."""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any

import orjson
import pytest
from django.db import connection

from midaz.api.query import ListQuery, filter_common
from midaz.exceptions import LedgerError
from midaz.metadata import MongoMetadataStore
from onboarding.metadata_indexes import ENTITIES, index_create, index_name
from onboarding.models import MetadataIndex
from tests.helpers import Api, assert_error, ledger_path
from tests.transactions.book import Book, amt
from transactions.models import Transaction

# CREATE INDEX CONCURRENTLY cannot run inside the transaction of an ordinary test.
pytestmark = pytest.mark.django_db(transaction=True)

ROOT = "/settings/metadata-indexes"


def _indexes(table: str) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname "
            "LIKE 'mdx\\_%%'",
            [table],
        )
        return dict(cursor.fetchall())


@pytest.fixture(autouse=True)
def _drop_made_indexes(drop_made_indexes: None) -> None:
    """DDL outlives the test's data: every index a test made is dropped (tests/conftest.py)."""


def _listed(api: Api, **params: str) -> list[dict[str, Any]]:
    """The list answer: a bare JSON array, as Midaz answers it."""
    response = api.get(ROOT, **params)
    assert response.status_code == 200, response.content
    items: list[dict[str, Any]] = orjson.loads(response.content)
    return items


def test_create_list_and_drop(api: Api) -> None:
    made = api.ok(api.post(f"{ROOT}/entities/transaction", {"metadataKey": "invoice"}), 201)
    assert made == {
        "indexName": "metadata.invoice_1",
        "entityName": "transaction",
        "metadataKey": "invoice",
        "unique": False,
        "sparse": True,
    }
    defs = _indexes("transactions_transaction")
    assert list(defs) == ["mdx_transaction_invoice"]
    assert "((metadata ->> 'invoice'::text))" in defs["mdx_transaction_invoice"]
    assert (
        "WHERE ((deleted_at IS NULL) AND (metadata ? 'invoice'::text))"
        in defs["mdx_transaction_invoice"]
    )

    api.ok(
        api.post(
            f"{ROOT}/entities/account",
            {"metadataKey": "customerId", "unique": True, "sparse": False},
        ),
        201,
    )
    # A key with a capital: its name keeps it apart from "customerid" (a digest of the key).
    customer = index_name("account", "customerId")
    assert customer.startswith("mdx_account_customerid$")
    account_def = _indexes("onboarding_account")[customer]
    assert account_def.startswith("CREATE UNIQUE INDEX")
    assert "WHERE (deleted_at IS NULL)" in account_def

    listed = _listed(api)
    assert [(i["entityName"], i["metadataKey"]) for i in listed] == [
        ("account", "customerId"),
        ("transaction", "invoice"),
    ]
    assert all(i["stats"]["accesses"] >= 0 and i["stats"]["statsSince"] for i in listed)
    only = _listed(api, entity_name="transaction")
    assert [i["metadataKey"] for i in only] == ["invoice"]

    assert api.delete(f"{ROOT}/entities/transaction/key/invoice").status_code == 204
    assert _indexes("transactions_transaction") == {}
    assert not MetadataIndex.objects.filter(entity_name="transaction").exists()
    assert_error(api.delete(f"{ROOT}/entities/transaction/key/invoice"), 404, "0133")


def test_errors(api: Api) -> None:
    assert_error(api.post(f"{ROOT}/entities/invoice", {"metadataKey": "a"}), 400, "0138")
    assert_error(api.get(ROOT, entity_name="nope"), 400, "0138")
    assert_error(api.post(f"{ROOT}/entities/ledger", {}), 400, "0009")
    for bad in ("1abc", "a-b", "a b", "x" * 101):
        assert_error(api.post(f"{ROOT}/entities/ledger", {"metadataKey": bad}), 400, "0047")
    assert_error(api.post(f"{ROOT}/entities/ledger", {"metadataKey": "a", "x": 1}), 400, "0053")
    api.ok(api.post(f"{ROOT}/entities/ledger", {"metadataKey": "region"}), 201)
    assert_error(api.post(f"{ROOT}/entities/ledger", {"metadataKey": "region"}), 409, "0132")
    assert_error(api.delete(f"{ROOT}/entities/ledger/key/other"), 404, "0133")
    assert_error(api.delete(f"{ROOT}/entities/nope/key/region"), 400, "0138")


def test_at_most_twenty_indexes_per_entity(api: Api) -> None:
    for n in range(20):
        api.ok(api.post(f"{ROOT}/entities/segment", {"metadataKey": f"k{n}"}), 201)
    assert_error(api.post(f"{ROOT}/entities/segment", {"metadataKey": "k20"}), 422, "0135")
    assert len(_indexes("onboarding_segment")) == 20
    # Another entity has its own twenty.
    api.ok(api.post(f"{ROOT}/entities/portfolio", {"metadataKey": "k20"}), 201)


def test_unique_index_over_duplicate_values_is_refused_and_cleaned_up(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    for alias in ("@a", "@b"):
        api.create_account(ledger, alias=alias, metadata={"customerId": "same"})
    answer = assert_error(
        api.post(f"{ROOT}/entities/account", {"metadataKey": "customerId", "unique": True}),
        422,
        "0136",
    )
    assert "could not be built" in answer["message"]
    assert _indexes("onboarding_account") == {}  # no invalid index left behind
    assert not MetadataIndex.objects.exists()


def test_every_entity_of_the_api_has_its_table(api: Api) -> None:
    for entity in ENTITIES:
        api.ok(api.post(f"{ROOT}/entities/{entity}", {"metadataKey": "ref"}), 201)
    assert sorted(i["entityName"] for i in _listed(api)) == sorted(ENTITIES)


def test_long_keys_get_a_valid_index_name() -> None:
    name = index_name("transaction", "k" * 100)
    assert len(name) <= 63
    assert name != index_name("transaction", "k" * 99 + "j")


def test_index_names_of_lowercase_keys_are_unchanged() -> None:
    # Indexes are recorded by name: an all-lowercase key keeps the name it always had.
    assert index_name("transaction", "invoice") == "mdx_transaction_invoice"
    assert index_name("account_type", "x") == "mdx_account_type_x"
    long = "k" * 100
    assert (
        index_name("transaction", long)
        == f"mdx_transaction_{long}"[:54] + "_" + (hashlib.sha256(long.encode()).hexdigest()[:8])
    )


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (("operation", "Ref"), ("operation", "ref")),
        (("operation", "REF"), ("operation", "Ref")),
        (("account", "type_x"), ("account_type", "x")),
        (("operation", "route_x"), ("operation_route", "x")),
        (("transaction", "route_x"), ("transaction_route", "x")),
        (("transaction", "K" * 100), ("transaction", "k" * 100)),
        (("transaction", "K" + "k" * 99), ("transaction", "k" * 100)),
        (("transaction", "K" + "k" * 99), ("transaction", "K" + "k" * 98 + "j")),
        (("operation", "Ref"), ("operation", "ref_" + "0" * 8)),
    ],
)
def test_distinct_keys_get_distinct_valid_index_names(
    one: tuple[str, str], other: tuple[str, str]
) -> None:
    plain = {index_name(*one), index_name(*other)}
    assert len(plain) == 2
    for key in (one, other):
        assert index_name(*key, distinct=True) not in plain - {index_name(*key)}
        assert index_name(*key, distinct=True) != index_name(*other if key == one else one)
    for name in plain | {index_name(*one, distinct=True), index_name(*other, distinct=True)}:
        assert len(name.encode()) <= 63
        assert name.startswith("mdx_")
        assert "~" not in name  # the rebuild's temporary names


def test_keys_differing_in_case_get_their_own_indexes(api: Api) -> None:
    api.ok(api.post(f"{ROOT}/entities/operation", {"metadataKey": "Ref"}), 201)
    api.ok(api.post(f"{ROOT}/entities/operation", {"metadataKey": "ref", "unique": True}), 201)
    api.ok(api.post(f"{ROOT}/entities/operation", {"metadataKey": "REF"}), 201)
    made = _indexes("transactions_operation")
    assert set(made) == {index_name("operation", k) for k in ("Ref", "ref", "REF")}
    assert "UNIQUE" in made["mdx_operation_ref"]
    assert "'ref'" in made["mdx_operation_ref"]
    assert "'Ref'" in made[index_name("operation", "Ref")]
    assert sorted(i["metadataKey"] for i in _listed(api)) == ["REF", "Ref", "ref"]
    assert_error(api.post(f"{ROOT}/entities/operation", {"metadataKey": "Ref"}), 409, "0132")


def test_an_entity_and_a_longer_one_do_not_share_an_index_name(api: Api) -> None:
    api.ok(api.post(f"{ROOT}/entities/account_type", {"metadataKey": "x"}), 201)
    api.ok(api.post(f"{ROOT}/entities/account", {"metadataKey": "type_x"}), 201)
    assert "mdx_account_type_x" in _indexes("onboarding_accounttype")
    assert set(_indexes("onboarding_account")) == {index_name("account", "type_x")}


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (("operation", "transactions_operation", "Ref"), ("operation", "ref")),
        (("account", "onboarding_account", "type_x"), ("account_type", "x")),
    ],
)
def test_a_name_recorded_by_an_older_version_leaves_room_for_the_other_key(
    api: Api, old: tuple[str, str, str], new: tuple[str, str]
) -> None:
    """An older version named Ref's index mdx_operation_ref (and account + type_x's
    mdx_account_type_x): the key that now has that plain name gets a distinct one."""
    entity, table, key = old
    legacy = f"mdx_{entity}_{key}".lower()
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE INDEX \"{legacy}\" ON {table} (ledger_id, (metadata ->> '{key}')) "
            f"WHERE deleted_at IS NULL AND metadata ? '{key}'"
        )
    MetadataIndex.objects.create(
        entity_name=entity, metadata_key=key, index_name=legacy, unique=False, sparse=True
    )
    api.ok(api.post(f"{ROOT}/entities/{new[0]}", {"metadataKey": new[1], "unique": True}), 201)
    recorded = MetadataIndex.objects.get(entity_name=new[0], metadata_key=new[1])
    assert recorded.index_name == index_name(*new, distinct=True) != legacy
    assert _existing_index(legacy)
    assert _existing_index(recorded.index_name)


def _existing_index(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [name])
        return cursor.fetchone() is not None


def test_the_metadata_filter_uses_the_index(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    book = Book(api, ledger)
    book.account("@alice")
    for n in range(30):
        body = {
            "send": {"asset": "USD", "value": "1", "distribute": {"to": [amt("@alice", "1")]}},
            "metadata": {"invoice": f"inv-{n}"},
        }
        book.ok(book.post(body, "inflow"))
    api.ok(api.post(f"{ROOT}/entities/transaction", {"metadataKey": "invoice"}), 201)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE transactions_transaction")

    found = api.ok(
        api.get(ledger_path(ledger, "/transactions"), **{"metadata.invoice": "inv-7"}), 200
    )
    assert [t["metadata"]["invoice"] for t in found["items"]] == ["inv-7"]

    qs = filter_common(
        Transaction.objects.filter(ledger_id=ledger["id"]), ListQuery(metadata={"invoice": "inv-7"})
    )
    with connection.cursor() as cursor:
        # Small table: take the sequential and bitmap (GIN) paths away so that the plan shows
        # whether the expression index can serve the filter at all.
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_bitmapscan = off")
        try:
            plan = qs.explain()
        finally:
            cursor.execute("RESET enable_seqscan")
            cursor.execute("RESET enable_bitmapscan")
    assert "mdx_transaction_invoice" in plan, plan


def test_a_value_a_unique_index_holds_is_a_409_not_a_500(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    api.ok(api.post(f"{ROOT}/entities/account", {"metadataKey": "customerId", "unique": True}), 201)
    api.ok(
        api.post(f"{ROOT}/entities/transaction", {"metadataKey": "invoice", "unique": True}), 201
    )
    api.create_account(ledger, alias="@a", metadata={"customerId": "C1"})
    taken = api.post(
        ledger_path(ledger, "/accounts"),
        {"assetCode": "USD", "type": "deposit", "alias": "@b", "metadata": {"customerId": "C1"}},
    )
    assert_error(taken, 409, "0498")
    book = Book(api, ledger)
    book.fund("@a", "10")
    body = {
        "metadata": {"invoice": "I-1"},
        "send": {
            "asset": "USD",
            "value": "1",
            "source": {"from": [amt("@a", "1")]},
            "distribute": {"to": [amt("@external/USD", "1")]},
        },
    }
    first = book.ok(book.post(body))
    assert book.post(body)["X-Idempotency-Replayed"] == "true"  # a replay, not a clash
    body["description"] = "another posting, same invoice"
    assert_error(book.post(body), 409, "0498")
    assert Transaction.objects.filter(metadata__invoice="I-1").count() == 1
    assert first["metadata"] == {"invoice": "I-1"}


def _valid(name: str) -> bool | None:
    """Whether the index is valid (None: there is no such index)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = %s",
            [name],
        )
        row = cursor.fetchone()
    return None if row is None else bool(row[0])


def test_two_concurrent_builds_of_one_index_leave_it_built_and_recorded() -> None:
    """Two requests build the same index at once: one builds it, the other is refused (409
    0132) and leaves the winner's index alone. Before, the loser's CREATE failed once the
    winner's was done (on the name, or with 'tuple concurrently updated') and its cleanup
    dropped the index by name: the winner's, whose record then named nothing.

    A third session holds the table in SHARE mode, so that both builds are under way (past
    the existence check, at their CREATE INDEX) before either can finish."""
    from django.db import connections

    name = index_name("portfolio", "region")
    blocker = connections.create_connection("default")
    blocker.set_autocommit(False)
    with blocker.cursor() as cursor:
        cursor.execute("LOCK TABLE onboarding_portfolio IN SHARE MODE")
    outcomes: list[Any] = []

    def build() -> None:
        try:
            outcomes.append(
                index_create(entity_name="portfolio", key="region", unique=False, sparse=True)
            )
        except Exception as exc:
            outcomes.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=build) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE 'CREATE INDEX CONCURRENTLY%%'"
                )
                (waiting,) = cursor.fetchone()
            if waiting + len(outcomes) >= 2:
                break
            time.sleep(0.05)
    finally:
        blocker.rollback()
        blocker.close()
        for thread in threads:
            thread.join(60)

    built = [o for o in outcomes if isinstance(o, MetadataIndex)]
    refused = [o for o in outcomes if isinstance(o, LedgerError)]
    assert len(built) == 1, outcomes
    assert len(refused) == 1, outcomes
    assert (refused[0].code, refused[0].status) == ("0132", 409)
    assert _valid(name) is True  # the winner's index is still there
    assert list(MetadataIndex.objects.values_list("index_name", flat=True)) == [name]


def test_a_build_that_was_interrupted_is_built_again(api: Api) -> None:
    """An invalid index of the name and no record (a build killed midway): the next request
    drops the leftover and builds the index."""
    name = index_name("segment", "region")
    with connection.cursor() as cursor:
        # What an interrupted CREATE INDEX CONCURRENTLY leaves: the index, marked invalid.
        cursor.execute(f"CREATE INDEX \"{name}\" ON onboarding_segment ((metadata ->> 'x'))")
        cursor.execute(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass", [name]
        )
    api.ok(api.post(f"{ROOT}/entities/segment", {"metadataKey": "region"}), 201)
    assert _valid(name) is True
    assert "((metadata ->> 'region'::text))" in _indexes("onboarding_segment")[name]


def test_an_index_of_the_name_that_is_not_recorded_is_not_dropped(api: Api) -> None:
    """A valid index of that name that this service has no record of (made by hand, or left
    by a build whose record was lost): not dropped, not adopted; 409 0132 names it."""
    name = index_name("segment", "region")
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE INDEX \"{name}\" ON onboarding_segment ((metadata ->> 'x'))")
    answer = assert_error(
        api.post(f"{ROOT}/entities/segment", {"metadataKey": "region"}), 409, "0132"
    )
    assert name in answer["message"]
    assert _valid(name) is True
    assert "((metadata ->> 'x'::text))" in _indexes("onboarding_segment")[name]
    assert not MetadataIndex.objects.exists()


# --- scope: a unique index holds a value once per ledger, not once per table (F10) ----------


def _tenant(api: Api) -> dict[str, Any]:
    org = api.create_organization()
    led = api.create_ledger(org["id"])
    api.create_asset(led, code="USD")
    return led


def _account(api: Api, led: dict[str, Any], alias: str, value: str) -> Any:
    return api.post(
        ledger_path(led, "/accounts"),
        {"assetCode": "USD", "type": "deposit", "alias": alias, "metadata": {"customerId": value}},
    )


def test_a_unique_index_is_unique_within_a_ledger_only(api: Api) -> None:
    """Another tenant's ``customerId`` is no 409 0498 (it would tell who holds which value);
    within one ledger the value is still unique."""
    api.ok(api.post(f"{ROOT}/entities/account", {"metadataKey": "customerId", "unique": True}), 201)
    first, second = _tenant(api), _tenant(api)
    api.ok(_account(api, first, "@a", "C1"), 201)
    api.ok(_account(api, second, "@b", "C1"), 201)
    assert_error(_account(api, first, "@c", "C1"), 409, "0498")
    # A second ledger of the first organization is a scope of its own too.
    third = api.create_ledger(first["organizationId"])
    api.create_asset(third, code="USD")
    api.ok(_account(api, third, "@d", "C1"), 201)
    definition = _indexes("onboarding_account")[index_name("account", "customerId")]
    assert "(ledger_id, ((metadata ->> 'customerId'::text)))" in definition, definition


def test_ledgers_are_scoped_by_organization_and_organizations_by_parent(api: Api) -> None:
    for entity in ("ledger", "organization"):
        api.ok(api.post(f"{ROOT}/entities/{entity}", {"metadataKey": "ref", "unique": True}), 201)
    one, two = api.create_organization(), api.create_organization()
    ledgers = f"/organizations/{one['id']}/ledgers"
    api.ok(api.post(ledgers, {"name": "l1", "metadata": {"ref": "R"}}), 201)
    api.ok(
        api.post(f"/organizations/{two['id']}/ledgers", {"name": "l1", "metadata": {"ref": "R"}}),
        201,
    )
    assert_error(api.post(ledgers, {"name": "l2", "metadata": {"ref": "R"}}), 409, "0498")
    # Root organizations (no parent) never clash; two children of one parent do.
    api.create_organization(metadata={"ref": "R"})
    api.create_organization(metadata={"ref": "R"})
    child = {"legalName": "Child", "legalDocument": "1", "parentOrganizationId": one["id"]}
    api.ok(api.post("/organizations", {**child, "metadata": {"ref": "R"}}), 201)
    assert_error(api.post("/organizations", {**child, "metadata": {"ref": "R"}}), 409, "0498")


def _old_index(entity: str, table: str, key: str, *, unique: bool) -> str:
    """An index as an older version built it (the key expression alone), and its record."""
    name = index_name(entity, key)
    with connection.cursor() as cursor:
        cursor.execute(
            f'CREATE {"UNIQUE " if unique else ""}INDEX "{name}" ON {table} '
            f"((metadata ->> '{key}')) WHERE deleted_at IS NULL AND metadata ? '{key}'"
        )
    MetadataIndex.objects.create(
        entity_name=entity, metadata_key=key, index_name=name, unique=unique, sparse=True
    )
    return name


def test_an_index_with_the_old_definition_is_rebuilt_when_posted_again(api: Api) -> None:
    name = _old_index("account", "onboarding_account", "customerId", unique=True)
    first, second = _tenant(api), _tenant(api)
    api.ok(_account(api, first, "@a", "C1"), 201)
    assert_error(_account(api, second, "@b", "C1"), 409, "0498")  # the old, table-wide index
    body = api.ok(
        api.post(f"{ROOT}/entities/account", {"metadataKey": "customerId", "unique": True}), 201
    )
    assert body["unique"] is True
    assert _valid(name) is True
    indexes = _indexes("onboarding_account")
    assert list(indexes) == [name]  # the temporary name is gone
    assert "(ledger_id, ((metadata ->> 'customerId'::text)))" in indexes[name]
    api.ok(_account(api, second, "@b", "C1"), 201)
    assert_error(_account(api, first, "@c", "C1"), 409, "0498")
    # Current now: a third POST is the usual 409 0132.
    assert_error(
        api.post(f"{ROOT}/entities/account", {"metadataKey": "customerId", "unique": True}),
        409,
        "0132",
    )


def test_rebuild_unscoped_rebuilds_every_old_index_once(api: Api) -> None:
    from onboarding.metadata_indexes import rebuild_unscoped

    old = [
        _old_index("segment", "onboarding_segment", "region", unique=False),
        _old_index("ledger", "onboarding_ledger", "ref", unique=True),
    ]
    assert sorted(rebuild_unscoped()) == sorted(old)
    assert (
        "(organization_id, ((metadata ->> 'ref'::text)))" in _indexes("onboarding_ledger")[old[1]]
    )
    assert rebuild_unscoped() == []


def test_concurrent_builds_of_different_keys_never_pass_the_limit(api: Api) -> None:
    """Two builds of two new keys of an entity at 19 indexes: both passed the count before the
    count was taken under the entity's lock, and the entity ended with 21. Now the second is
    409 0132 while the first builds."""
    from django.db import connections

    for n in range(19):
        api.ok(api.post(f"{ROOT}/entities/segment", {"metadataKey": f"k{n}"}), 201)
    blocker = connections.create_connection("default")
    blocker.set_autocommit(False)
    with blocker.cursor() as cursor:
        cursor.execute("LOCK TABLE onboarding_segment IN SHARE MODE")
    outcomes: list[Any] = []

    def build(key: str) -> None:
        try:
            outcomes.append(index_create(entity_name="segment", key=key, unique=False, sparse=True))
        except Exception as exc:
            outcomes.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=build, args=(k,)) for k in ("x1", "x2")]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE 'CREATE INDEX CONCURRENTLY%%'"
                )
                (waiting,) = cursor.fetchone()
            if waiting + len(outcomes) >= 2:
                break
            time.sleep(0.05)
    finally:
        blocker.rollback()
        blocker.close()
        for thread in threads:
            thread.join(60)
    assert MetadataIndex.objects.filter(entity_name="segment").count() == 20, outcomes
    assert len(_indexes("onboarding_segment")) == 20
    refused = [o for o in outcomes if isinstance(o, LedgerError)]
    assert [(r.code, r.status) for r in refused] == [("0132", 409)], outcomes


@pytest.mark.parametrize("use_store", ["mongomock"], indirect=True)
def test_a_unique_mongodb_index_is_unique_within_a_ledger_only(
    api: Api, use_store: MongoMetadataStore
) -> None:
    from onboarding.models import Account

    first, second = _tenant(api), _tenant(api)
    api.ok(_account(api, first, "@a", "C1"), 201)
    # A document written before documents carried their scope, and an index of that time.
    coll = use_store.collection(Account)
    coll.update_many({}, {"$unset": {"scope_id": ""}})
    coll.create_index([("metadata.customerId", 1)], name="metadata.customerId_1", unique=True)
    MetadataIndex.objects.create(
        entity_name="account",
        metadata_key="customerId",
        index_name=index_name("account", "customerId"),
        unique=True,
        sparse=True,
    )
    assert_error(_account(api, second, "@b", "C1"), 409, "0498")  # the old, collection-wide
    api.ok(api.post(f"{ROOT}/entities/account", {"metadataKey": "customerId", "unique": True}), 201)
    assert use_store.index_is_scoped(Account, "customerId") is True
    assert coll.count_documents({"scope_id": first["id"]}) == 1  # filled in
    api.ok(_account(api, second, "@b", "C1"), 201)
    assert_error(_account(api, first, "@c", "C1"), 409, "0498")
    assert_error(
        api.post(f"{ROOT}/entities/account", {"metadataKey": "customerId", "unique": True}),
        409,
        "0132",
    )
