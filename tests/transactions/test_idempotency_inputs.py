"""Idempotency headers at their limits (issue 16, item 6) and the replay of an asynchronous
posting (item 8): a key longer than its column, a bulk key that is too long once stored with
its ``bulk:`` prefix, NUL in a key and absurd ``X-TTL`` values answer 4xx or the documented
default, never a 500; a replay of a posting accepted for a worker shows what it is now."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import Api, assert_error
from tests.transactions import test_async
from tests.transactions.book import Book, amt, send
from tests.transactions.test_async import Worker, wait_for
from transactions import asynchronous, posting
from transactions.models import BulkRecord, IdempotencyRecord, Transaction

pytestmark = pytest.mark.django_db
worker = test_async.worker  # the fixture: a real Celery worker of the postings queue

GOLD = (
    '(transaction V1 (chart-of-accounts-group-name G) (description "d")'
    " (send USD 1|0 (source (from @alice :amount USD 1|0)) (distribute (to @bob :amount USD 1|0))))"
)


@pytest.fixture
def book(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Book:
    b = Book(api, ledger)
    for alias in ("@alice", "@bob"):
        b.account(alias)
    b.fund("@alice", "100")
    return b


def bulk(book: Book, items: list[dict[str, Any]], **headers: str) -> Any:
    return book.api.post(book.path("/transactions/bulk"), {"transactions": items}, **headers)


def one(value: str = "1") -> dict[str, Any]:
    return send("USD", value, [amt("@alice", value)], [amt("@bob", value)])


def counts(book: Book) -> tuple[int, int, int]:
    ledger = book.ledger["id"]
    return (
        Transaction.objects.filter(ledger_id=ledger).count(),
        IdempotencyRecord.objects.filter(ledger_id=ledger).count(),
        BulkRecord.objects.filter(ledger_id=ledger).count(),
    )


# --- X-Idempotency ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["json", "inflow", "annotation"])
def test_a_key_longer_than_its_column_is_0047(book: Book, kind: str) -> None:
    body = (
        {"send": {"asset": "USD", "value": "1", "distribute": {"to": [amt("@bob", "1")]}}}
        if kind == "inflow"
        else one()
    )
    before = counts(book)
    assert_error(book.post(body, kind, **{"X-Idempotency": "k" * 257}), 400, "0047")
    assert counts(book) == before
    longest = book.ok(book.post(body, kind, **{"X-Idempotency": "é" * 256}))
    again = book.post(body, kind, **{"X-Idempotency": "é" * 256})
    assert book.ok(again)["id"] == longest["id"]
    assert again["X-Idempotency-Replayed"] == "true"


def test_the_dsl_upload_key_is_bounded_too(client: Client, book: Book) -> None:
    def upload(key: str) -> Any:
        file = SimpleUploadedFile("t.gold", GOLD.encode(), content_type="text/plain")
        path = "/v1" + book.path("/transactions/dsl")
        return client.post(path, {"dsl": file}, headers={"X-Idempotency": key})

    before = counts(book)
    assert_error(upload("k" * 257), 400, "0047")
    assert counts(book) == before
    assert upload("k" * 256).status_code == 201


def test_a_bulk_key_is_counted_with_its_prefix(book: Book) -> None:
    before = counts(book)
    for length in (252, 256, 257):
        assert_error(bulk(book, [one()], **{"X-Idempotency": "b" * length}), 400, "0047")
    assert counts(book) == before
    assert bulk(book, [one()], **{"X-Idempotency": "b" * 251}).status_code == 201
    assert BulkRecord.objects.get(ledger_id=book.ledger["id"]).key == "bulk:" + "b" * 251


@pytest.mark.parametrize("key", ["k" * 257, "", 7, ["k"]])
def test_a_bad_item_key_is_refused_per_item(book: Book, key: Any) -> None:
    before = counts(book)
    assert_error(bulk(book, [{**one(), "idempotencyKey": key}]), 400, "0047")
    assert counts(book) == before
    mixed = book.api.post(
        book.path("/transactions/bulk"),
        {"atomic": False, "transactions": [{**one("3"), "idempotencyKey": key}, one("4")]},
    )
    assert mixed.status_code == 207, mixed.content
    items = book.ok(mixed, 207)["items"]
    assert items[0]["status"] == 400
    assert items[0]["error"]["code"] == "0047"
    assert items[1]["status"] == 201


def test_a_nul_in_a_key_is_0047(book: Book) -> None:
    before = counts(book)
    # Django's test client cannot send NUL in a header; in a body the whole request is refused.
    assert_error(bulk(book, [{**one(), "idempotencyKey": "nul\x00key"}]), 400, "0047")
    with pytest.raises(posting.ValidationFailed):
        posting.Idempotency.for_request(body={}, kind="json", header_key="a\x00", header_ttl=None)
    assert counts(book) == before


def test_an_item_key_of_256_characters_is_stored(book: Book) -> None:
    answer = book.ok(bulk(book, [{**one(), "idempotencyKey": "i" * 256}]), 201)
    assert answer["created"] == 1
    assert IdempotencyRecord.objects.filter(key="i" * 256).exists()


# --- X-TTL -----------------------------------------------------------------------------------


def _expiry(book: Book, key: str) -> timedelta:
    record = IdempotencyRecord.objects.get(ledger_id=book.ledger["id"], key=key)
    return record.expires_at - timezone.now()


@pytest.mark.parametrize(
    "ttl",
    [
        "300000000000",
        "9" * 20,
        "9" * 400,
        "9" * 5000,
        str(2**63),
        str(posting.MAX_KEY_TTL_SECONDS + 1),
    ],
)
def test_an_absurd_ttl_is_clamped(book: Book, ttl: str) -> None:
    key = f"ttl-{len(ttl)}-{ttl[:3]}"
    book.ok(book.post(one(), **{"X-Idempotency": key, "X-TTL": ttl}))
    left = _expiry(book, key)
    assert timedelta(days=29) < left <= timedelta(seconds=posting.MAX_KEY_TTL_SECONDS)
    response = bulk(book, [one("2")], **{"X-Idempotency": key, "X-TTL": ttl})
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    "ttl", ["-5", "0", "abc", "1_000", "\u0661\u0660", " 60", "1e3", "60.5", ""]
)
def test_a_ttl_that_is_not_a_positive_integer_means_the_default(book: Book, ttl: str) -> None:
    key = f"default-{ttl.encode().hex()}"
    book.ok(book.post(one(), **{"X-Idempotency": key, "X-TTL": ttl}))
    left = _expiry(book, key)
    assert timedelta(hours=23) < left <= timedelta(hours=24)


def test_a_valid_ttl_is_kept(book: Book) -> None:
    book.ok(book.post(one(), **{"X-Idempotency": "short", "X-TTL": "60"}))
    assert timedelta(seconds=50) < _expiry(book, "short") <= timedelta(seconds=60)


# --- the replay of an asynchronous posting ---------------------------------------------------


def test_an_async_replay_shows_the_posting_as_it_is_now(
    book: Book,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.TRANSACTION_ASYNC = True
    monkeypatch.setattr(asynchronous, "publish", lambda ledger_id: None)  # applied below
    headers = {"X-Idempotency": "async-1"}
    with django_capture_on_commit_callbacks(execute=True):
        first = book.ok(book.post(one("30"), **headers))
    assert first["status"]["code"] == "CREATED"
    ledger = posting.Ledger(id=book.ledger["id"], organization_id=book.ledger["organizationId"])
    # The accepted answer is not final: it is not the cached replay answer.
    assert cache.get(posting._cache_key(ledger, "async-1")) is None
    with django_capture_on_commit_callbacks(execute=True):
        queued = book.post(one("30"), **headers)
    assert queued["X-Idempotency-Replayed"] == "true"
    assert book.ok(queued)["status"]["code"] == "CREATED"
    assert book.ok(queued)["operations"] == []
    assert asynchronous.apply_ledger(book.ledger["id"]) == 1
    with django_capture_on_commit_callbacks(execute=True):
        applied = book.post(one("30"), **headers)
    body = book.ok(applied)
    assert applied["X-Idempotency-Replayed"] == "true"
    assert body["id"] == first["id"]
    assert body["status"]["code"] == "APPROVED"
    assert [op["type"] for op in body["operations"]] == ["DEBIT", "CREDIT"]
    assert book.balance("@bob")[0] == Decimal(30)  # posted once
    # A synchronous posting's replay still shows its first answer (CREATED, Midaz's).
    settings.TRANSACTION_ASYNC = False
    sync = book.ok(book.post(one("5"), **{"X-Idempotency": "sync-1"}))
    again = book.ok(book.post(one("5"), **{"X-Idempotency": "sync-1"}))
    assert sync["status"]["code"] == again["status"]["code"] == "CREATED"


@pytest.mark.django_db(transaction=True)
def test_an_async_replay_with_a_real_worker_shows_the_applied_posting(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any], settings: Any, worker: Worker
) -> None:
    """Committed requests (their on-commit hooks run, the cache is written) and a real Celery
    worker on RabbitMQ: a replay right after the acceptance, then after the worker applied it,
    never shows a stale CREATED."""
    b = Book(api, ledger)
    b.account("@alice")
    b.account("@bob")
    b.fund("@alice", "100")
    settings.TRANSACTION_ASYNC = True
    headers = {"X-Idempotency": f"real-{time.monotonic_ns()}"}
    first = b.ok(b.post(one("30"), **headers))
    assert first["status"]["code"] == "CREATED"
    early = b.ok(b.post(one("30"), **headers))  # before any worker runs
    assert (early["id"], early["status"]["code"]) == (first["id"], "CREATED")
    worker.start()
    wait_for(
        lambda: Transaction.objects.get(pk=first["id"]).status == "APPROVED",
        what="the worker to apply the posting",
    )
    for _ in range(2):
        replay = b.post(one("30"), **headers)
        assert replay["X-Idempotency-Replayed"] == "true"
        body = b.ok(replay)
        assert (body["id"], body["status"]["code"]) == (first["id"], "APPROVED")
        assert [op["type"] for op in body["operations"]] == ["DEBIT", "CREDIT"]
    assert b.balance("@bob")[0] == Decimal(30)


@given(
    key=st.one_of(st.none(), st.text(min_size=1, max_size=300)),
    ttl=st.one_of(st.none(), st.text(max_size=30), st.integers().map(str)),
    bulk_key=st.booleans(),
)
def test_any_key_and_ttl_is_refused_with_0047_or_fits_its_column(
    key: str | None, ttl: str | None, bulk_key: bool
) -> None:
    """Whatever the headers hold: 400 0047, or a key its column holds and a lifetime within
    (0, 30 days] (never an exception of another kind, never an overflowing date)."""
    namespace = "bulk:" if bulk_key else ""
    refused: posting.ValidationFailed | None = None
    try:
        idem = posting.Idempotency.from_digest(
            "0" * 64, header_key=key, header_ttl=ttl, namespace=namespace
        )
    except posting.ValidationFailed as exc:
        refused = exc
    if refused is not None:
        assert refused.code == "0047"
        assert key is not None
        assert len(namespace + key) > posting.MAX_KEY or "\x00" in key
        return
    assert len(idem.key) <= posting.MAX_KEY
    assert "\x00" not in idem.key
    assert timedelta(0) < idem.ttl <= timedelta(seconds=posting.MAX_KEY_TTL_SECONDS)
    assert timezone.now() + idem.ttl > timezone.now()
