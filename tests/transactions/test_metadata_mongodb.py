"""The API with ``METADATA_BACKEND=mongodb``: every entity's metadata lives in MongoDB, the
PostgreSQL column stays empty, and the answers, filters and postings behave exactly as on the
default store. Runs against a real server when ``MONGO_URL`` is set, and always against the
same adapter over mongomock (``tests/metadata_backends.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from midaz.metadata import MongoMetadataStore
from onboarding.models import Account, Organization
from tests.helpers import Api, assert_error, ledger_path
from tests.metadata_backends import MONGO_KINDS
from tests.transactions.book import Book, amt, body_of, send
from transactions.models import Operation, Transaction

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.parametrize("use_store", MONGO_KINDS, indirect=True),
]


@pytest.fixture
def book(use_store: MongoMetadataStore, api: Api) -> Book:
    org = api.create_organization()
    ledger = api.create_ledger(org["id"])
    api.create_asset(ledger, code="USD")
    b = Book(api, ledger)
    for alias in ("@alice", "@bob"):
        b.account(alias)
    b.fund("@alice", "100")
    return b


def _column(model: Any, pk: Any) -> Any:
    return model._base_manager.filter(pk=pk).values_list("metadata", flat=True).get()


def _documents(store: MongoMetadataStore, model: Any) -> dict[str, Any]:
    return {d["entity_id"]: d["metadata"] for d in store.collection(model).find({}, {"_id": 0})}


def test_onboarding_metadata_lives_in_mongodb(use_store: MongoMetadataStore, api: Api) -> None:
    org = api.create_organization(metadata={"tier": "gold", "score": 7})
    assert _column(Organization, org["id"]) == {}
    assert _documents(use_store, Organization)[org["id"]] == {"tier": "gold", "score": 7}
    assert api.ok(api.get(f"/organizations/{org['id']}"), 200)["metadata"] == {
        "tier": "gold",
        "score": 7,
    }
    # PATCH is a JSON Merge Patch of what MongoDB holds.
    patched = api.ok(
        api.patch(f"/organizations/{org['id']}", {"metadata": {"score": None, "region": "eu"}}),
        200,
    )
    assert patched["metadata"] == {"tier": "gold", "region": "eu"}
    assert _documents(use_store, Organization)[org["id"]] == {"tier": "gold", "region": "eu"}
    # A PATCH without metadata leaves it; `"metadata": null` clears it.
    assert api.ok(api.patch(f"/organizations/{org['id']}", {"legalName": "New"}), 200)[
        "metadata"
    ] == {"tier": "gold", "region": "eu"}
    cleared = api.ok(api.patch(f"/organizations/{org['id']}", {"metadata": None}), 200)
    assert "metadata" not in cleared or cleared["metadata"] in ({}, None)


def test_list_filters_read_mongodb(use_store: MongoMetadataStore, book: Book) -> None:
    gold = book.account("@gold", metadata={"tier": "gold"})
    book.account("@silver", metadata={"tier": "silver"})
    book.account("@numeric", metadata={"tier": 7})
    listed = book.ok(book.api.get(book.path("/accounts"), **{"metadata.tier": "gold"}), 200)
    assert [a["id"] for a in listed["items"]] == [gold["id"]]
    assert listed["items"][0]["metadata"] == {"tier": "gold"}
    assert _column(Account, gold["id"]) == {}
    # String semantics, as on the default store: the number 7 is not "7".
    assert_error(book.api.get(book.path("/accounts"), **{"metadata.tier": "7"}), 404, "0064")


def test_a_posting_s_metadata_lives_in_mongodb(use_store: MongoMetadataStore, book: Book) -> None:
    body = send(
        "USD",
        "10",
        [amt("@alice", "10", metadata={"leg": "out"})],
        [amt("@bob", "10", metadata={"leg": "in"})],
        metadata={"order": "A1"},
    )
    created = book.ok(book.post(body))
    assert created["metadata"] == {"order": "A1"}
    assert [op["metadata"] for op in created["operations"]] == [{"leg": "out"}, {"leg": "in"}]
    assert _column(Transaction, created["id"]) == {}
    columns = Operation._base_manager.filter(transaction_id=created["id"]).values_list(
        "metadata", flat=True
    )
    assert list(columns) == [{}, {}]
    # Reads, one by one and in lists, answer MongoDB's documents.
    got = book.ok(book.api.get(book.path(f"/transactions/{created['id']}")), 200)
    assert got["metadata"] == {"order": "A1"}
    assert [op["metadata"] for op in got["operations"]] == [{"leg": "out"}, {"leg": "in"}]
    found = body_of(book.api.get(book.path("/transactions"), **{"metadata.order": "A1"}))
    assert [t["id"] for t in found["items"]] == [created["id"]]
    assert_error(book.api.get(book.path("/transactions"), **{"metadata.order": "Z9"}), 404, "0071")
    # PATCH of a transaction and of an operation.
    patched = book.ok(
        book.api.patch(
            book.path(f"/transactions/{created['id']}"), {"metadata": {"order": None, "n": "2"}}
        ),
        200,
    )
    assert patched["metadata"] == {"n": "2"}
    assert _documents(use_store, Transaction)[created["id"]] == {"n": "2"}


def test_a_refused_posting_leaves_no_document(use_store: MongoMetadataStore, book: Book) -> None:
    before_tx = _documents(use_store, Transaction)
    before_ops = _documents(use_store, Operation)
    refused = book.post(
        send(
            "USD",
            "1000",
            [amt("@alice", "1000", metadata={"leg": "out"})],
            [amt("@bob", "1000")],
            metadata={"order": "too-much"},
        )
    )
    assert_error(refused, 422, "0018")
    assert _documents(use_store, Transaction) == before_tx
    assert _documents(use_store, Operation) == before_ops


def test_a_replay_leaves_no_orphan_document(use_store: MongoMetadataStore, book: Book) -> None:
    body = send("USD", "5", [amt("@alice", "5")], [amt("@bob", "5")], metadata={"order": "B2"})
    first = book.ok(book.post(body, **{"X-Idempotency": "pay-b2"}))
    documents = _documents(use_store, Transaction)
    again = book.post(body, **{"X-Idempotency": "pay-b2"})
    assert again.status_code == 201
    assert body_of(again)["id"] == first["id"]
    assert body_of(again)["metadata"] == {"order": "B2"}
    assert _documents(use_store, Transaction) == documents


def test_bulk_keeps_the_documents_of_posted_items_only(
    use_store: MongoMetadataStore, book: Book
) -> None:
    items = [
        send("USD", "5", [amt("@alice", "5")], [amt("@bob", "5")], metadata={"item": "0"}),
        send("USD", "500", [amt("@alice", "500")], [amt("@bob", "500")], metadata={"item": "1"}),
    ]
    answer = body_of(
        book.api.post(book.path("/transactions/bulk"), {"atomic": False, "transactions": items})
    )
    assert [i["status"] for i in answer["items"]] == [201, 422]
    posted = answer["items"][0]["transaction"]["id"]
    docs = _documents(use_store, Transaction)
    assert docs[posted] == {"item": "0"}
    assert {"item": "1"} not in docs.values()


def test_pending_commit_and_revert_carry_metadata(
    use_store: MongoMetadataStore, book: Book
) -> None:
    body = send(
        "USD",
        "8",
        [amt("@alice", "8", metadata={"leg": "out"})],
        [amt("@bob", "8", metadata={"leg": "in"})],
        metadata={"order": "P1"},
        pending=True,
    )
    held = book.ok(book.post(body))
    committed = book.ok(book.action(held["id"], "commit"), 201)
    assert committed["metadata"] == {"order": "P1"}
    assert {"leg": "in"} in [op["metadata"] for op in committed["operations"]]
    reverted = book.ok(book.action(held["id"], "revert"), 201)
    assert reverted["metadata"] == {"order": "P1"}
    assert reverted["parentTransactionId"] == held["id"]
    assert _documents(use_store, Transaction)[reverted["id"]] == {"order": "P1"}


def test_metadata_indexes_are_built_in_mongodb(use_store: MongoMetadataStore, book: Book) -> None:
    book.account("@a1", metadata={"ref": "x"})
    book.account("@a2", metadata={"ref": "x"})
    root = "/settings/metadata-indexes"
    made = book.api.post(f"{root}/entities/account", {"metadataKey": "tier"})
    assert made.status_code == 201, made.content
    assert "metadata.tier_1" in use_store.collection(Account).index_information()
    listed: Any = body_of(book.api.get(root, entity_name="account"))
    assert [i["metadataKey"] for i in listed] == ["tier"]
    # A unique index over duplicate values is refused and leaves nothing behind.
    refused = book.api.post(f"{root}/entities/account", {"metadataKey": "ref", "unique": True})
    assert_error(refused, 422, "0136")
    assert "metadata.ref_1" not in use_store.collection(Account).index_information()
    assert book.api.delete(f"{root}/entities/account/key/tier").status_code == 204
    assert "metadata.tier_1" not in use_store.collection(Account).index_information()


def test_a_failed_mongodb_write_rolls_the_row_back(
    use_store: MongoMetadataStore, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pymongo.errors import ServerSelectionTimeoutError

    def down(*args: Any, **kwargs: Any) -> None:
        raise ServerSelectionTimeoutError("no server")

    monkeypatch.setattr(use_store, "write", down)
    before = Organization.all_objects.count()
    answer = api.post(
        "/organizations",
        {"legalName": "Acme", "legalDocument": "1", "metadata": {"tier": "gold"}},
    )
    assert_error(answer, 503, "0046")
    assert Organization.all_objects.count() == before


def test_readyz_reports_the_metadata_store(use_store: MongoMetadataStore, client: Any) -> None:
    body = body_of(client.get("/readyz"))
    assert body["checks"]["metadata"]["status"] == "up"


def test_the_api_answers_ledger_scoped_entities_from_mongodb(
    use_store: MongoMetadataStore, api: Api
) -> None:
    org = api.create_organization()
    ledger = api.create_ledger(org["id"], metadata={"books": "main"})
    asset = api.create_asset(ledger, code="EUR", metadata={"iso": "978"})
    got_ledger = api.ok(api.get(f"/organizations/{org['id']}/ledgers/{ledger['id']}"), 200)
    assert got_ledger["metadata"] == {"books": "main"}
    got_asset = api.ok(api.get(ledger_path(ledger, f"/assets/{asset['id']}")), 200)
    assert got_asset["metadata"] == {"iso": "978"}


def test_events_carry_the_metadata_from_mongodb(use_store: MongoMetadataStore, book: Book) -> None:
    """The relay reads the transaction and its operations through the models, which attach
    MongoDB's documents: the event's payload is the same as on the default store."""
    from kombu import Queue
    from uuid_utils.compat import uuid7

    from midaz.celery import app as celery_app
    from tests.transactions.test_events import drain
    from transactions import events

    events.relay()  # what the fixture's funding wrote
    created = book.ok(
        book.post(
            send(
                "USD",
                "3",
                [amt("@alice", "3", metadata={"leg": "out"})],
                [amt("@bob", "3")],
                metadata={"order": "E1"},
            )
        )
    )
    with celery_app.connection_for_write() as conn:
        queue = Queue(f"test.events.{uuid7()}", events.exchange(), routing_key="#")
        queue.bind(conn).declare()
        try:
            assert events.relay() == 1
            [(key, body)] = drain(conn, queue)
        finally:
            queue.bind(conn).delete()
    assert key == "midaz.transaction.APPROVED"
    assert body["payload"]["id"] == created["id"]
    assert body["payload"]["metadata"] == {"order": "E1"}
    assert body["payload"]["operations"][0]["metadata"] == {"leg": "out"}


def test_a_unique_metadata_index_refuses_a_second_posting_but_not_a_replay(
    use_store: MongoMetadataStore, book: Book
) -> None:
    root = "/settings/metadata-indexes"
    assert book.api.post(f"{root}/entities/transaction", {"metadataKey": "ref"}).status_code == 201
    assert (
        book.api.post(
            f"{root}/entities/transaction", {"metadataKey": "invoice", "unique": True}
        ).status_code
        == 201
    )
    body = send("USD", "2", [amt("@alice", "2")], [amt("@bob", "2")], metadata={"invoice": "I-1"})
    first = book.ok(book.post(body))
    # The same body again is a replay (the body-hash key): 201, the first transaction.
    again = book.post(body)
    assert again.status_code == 201
    assert body_of(again)["id"] == first["id"]
    # Another posting with the same invoice: refused, nothing written.
    before = book.snapshot()
    other = send("USD", "3", [amt("@alice", "3")], [amt("@bob", "3")], metadata={"invoice": "I-1"})
    assert_error(book.post(other), 409, "0498")
    assert book.snapshot() == before
    # Postings without the key do not clash with each other (no document, no null value).
    book.ok(book.transfer("@alice", "@bob", "1"))
    book.ok(book.transfer("@alice", "@bob", "1", description="second"))


def test_entities_without_metadata_have_no_document(
    use_store: MongoMetadataStore, api: Api
) -> None:
    org = api.create_organization(metadata={"tier": "gold"})
    assert use_store.collection(Organization).count_documents({"entity_id": org["id"]}) == 1
    api.ok(api.patch(f"/organizations/{org['id']}", {"metadata": None}), 200)
    assert use_store.collection(Organization).count_documents({"entity_id": org["id"]}) == 0
    bare = api.create_organization()
    assert use_store.collection(Organization).count_documents({"entity_id": bare["id"]}) == 0
    # A unique index that is not sparse builds over entities without the key.
    made = api.post(
        "/settings/metadata-indexes/entities/organization",
        {"metadataKey": "tier", "unique": True, "sparse": False},
    )
    assert made.status_code == 201, made.content


def test_a_filter_key_mongodb_would_read_as_a_path_is_refused(
    use_store: MongoMetadataStore, book: Book
) -> None:
    book.account("@dotted", metadata={"a.b": "x"})
    assert_error(book.api.get(book.path("/accounts"), **{"metadata.a.b": "x"}), 400, "0082")
    assert_error(book.api.get(book.path("/accounts"), **{"metadata.$where": "1"}), 400, "0082")
    # The metadata itself is kept as given.
    found = book.ok(book.api.get(book.path("/accounts/alias/@dotted")), 200)
    assert found["metadata"] == {"a.b": "x"}


def test_balances_and_path_lookups_do_not_need_mongodb(
    use_store: MongoMetadataStore, book: Book, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Balance reads, the ledger of a path and a posting's checks ask MongoDB nothing: with it
    down they still answer (an entity whose metadata is shown does need it)."""
    from pymongo.errors import ServerSelectionTimeoutError

    def down(*args: Any, **kwargs: Any) -> None:
        raise ServerSelectionTimeoutError("no server")

    monkeypatch.setattr(use_store, "read", down)
    balances = book.ok(book.api.get(book.path("/accounts/alias/@alice/balances")), 200)
    assert balances["items"][0]["available"] == "100"
    book.ok(book.transfer("@alice", "@bob", "1"))  # no metadata to write: MongoDB not needed
    assert_error(book.api.get(book.path("/accounts")), 503, "0046")


def test_dropping_an_index_recorded_before_the_switch(
    use_store: MongoMetadataStore, api: Api, settings: Any
) -> None:
    from midaz import metadata
    from onboarding.models import MetadataIndex

    MetadataIndex.objects.create(
        entity_name="segment", metadata_key="legacy", index_name="mdx_segment_legacy"
    )
    assert api.delete("/settings/metadata-indexes/entities/segment/key/legacy").status_code == 204
    assert not MetadataIndex.objects.filter(metadata_key="legacy").exists()
    assert metadata.store() is use_store
