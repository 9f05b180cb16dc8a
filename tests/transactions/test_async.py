"""Asynchronous postings (transactions/asynchronous.py) against the real services: in process
(Celery eager, the embedded default), and with a real Celery worker on RabbitMQ that is killed
with SIGKILL in the middle of a batch and restarted, and with RabbitMQ restarted under load.
Every test ends with ``verify_ledger`` (tests/conftest.py)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.test import Client
from uuid_utils.compat import uuid7

from midaz.celery import POSTINGS
from midaz.celery import app as celery_app
from tests.helpers import Api, assert_error
from tests.transactions.book import Book, amt, send
from transactions import asynchronous
from transactions.models import Operation, QueuedPosting, Transaction

D = Decimal


@pytest.fixture
def book(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Book:
    b = Book(api, ledger)
    for alias in ("@alice", "@bob", "@carol"):
        b.account(alias)
    b.fund("@alice", "100")
    return b


@pytest.fixture
def eager(settings: Any) -> Iterator[None]:
    """Asynchronous postings with tasks run in process (the embedded default)."""
    settings.TRANSACTION_ASYNC = True
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def status_of(tx_id: str) -> str:
    return Transaction.objects.get(pk=tx_id).status


# --- in process ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_accepted_then_applied_in_process(
    book: Book, eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        body = book.ok(book.transfer("@alice", "@bob", "30"))
    assert body["status"]["code"] == "CREATED"
    assert body["operations"] == []
    read = book.ok(book.api.get(book.path(f"/transactions/{body['id']}")), 200)
    assert read["status"]["code"] == "APPROVED"
    assert [o["type"] for o in read["operations"]] == ["DEBIT", "CREDIT"]
    assert book.balance("@bob")[0] == D(30)
    assert not QueuedPosting.objects.exists()


@pytest.mark.django_db
def test_a_queued_posting_is_visible_at_once_and_the_sweep_applies_it(
    book: Book, settings: Any
) -> None:
    settings.TRANSACTION_ASYNC = True
    # Inside the test's transaction the publication waits for a commit that never comes: the
    # message is lost, as it would be if RabbitMQ were down.
    body = book.ok(book.transfer("@alice", "@bob", "30"))
    read = book.ok(book.api.get(book.path(f"/transactions/{body['id']}")), 200)
    assert read["status"]["code"] == "CREATED"
    assert read["operations"] == []
    assert book.balance("@alice")[0] == D(100)  # not applied yet
    assert asynchronous.sweep(older_than_seconds=60) == 0  # too recent for the sweep
    assert asynchronous.sweep(older_than_seconds=0) == 1
    assert status_of(body["id"]) == "APPROVED"
    assert book.balance("@bob")[0] == D(30)
    assert asynchronous.sweep(older_than_seconds=0) == 0  # applied once


@pytest.mark.django_db
def test_a_refused_posting_is_declined_with_its_code(book: Book, settings: Any) -> None:
    settings.TRANSACTION_ASYNC = True
    ok = book.ok(book.transfer("@alice", "@bob", "60"))
    short = book.ok(book.transfer("@alice", "@carol", "60"))  # accepted: funds are not known yet
    after = book.ok(book.transfer("@alice", "@carol", "40"))
    assert asynchronous.apply_ledger(book.ledger["id"]) == 3
    assert (status_of(ok["id"]), status_of(short["id"]), status_of(after["id"])) == (
        "APPROVED",
        "DECLINED",
        "APPROVED",
    )
    declined = book.ok(book.api.get(book.path(f"/transactions/{short['id']}")), 200)
    assert declined["status"]["description"].startswith("0018: ")
    assert declined["operations"] == []
    assert book.balance("@alice")[0] == D(0)
    assert book.balance("@carol")[0] == D(40)


@pytest.mark.django_db
def test_errors_known_before_the_queue_are_answered_at_once(book: Book, settings: Any) -> None:
    settings.TRANSACTION_ASYNC = True
    before = book.snapshot()
    assert_error(
        book.post(send("USD", "10", [amt("@alice", "5")], [amt("@bob", "10")])), 422, "0073"
    )
    assert book.snapshot() == before
    assert not QueuedPosting.objects.exists()


@pytest.mark.django_db
def test_idempotency_replays_an_accepted_posting(book: Book, settings: Any) -> None:
    settings.TRANSACTION_ASYNC = True
    first = book.transfer("@alice", "@bob", "10", headers={"X-Idempotency": "async-1"})
    again = book.transfer("@alice", "@bob", "10", headers={"X-Idempotency": "async-1"})
    assert again["X-Idempotency-Replayed"] == "true"
    assert book.ok(again)["id"] == book.ok(first)["id"]
    assert QueuedPosting.objects.count() == 1
    asynchronous.apply_ledger(book.ledger["id"])
    assert book.balance("@bob")[0] == D(10)


@pytest.mark.django_db
def test_commit_and_revert_of_a_queued_posting_apply_it_first(book: Book, settings: Any) -> None:
    settings.TRANSACTION_ASYNC = True
    held = book.ok(book.transfer("@alice", "@bob", "25", pending=True))
    assert held["status"]["code"] == "PENDING"  # the answer a synchronous create gives
    assert status_of(held["id"]) == "CREATED"
    committed = book.ok(book.action(held["id"], "commit"))
    assert committed["status"]["code"] == "APPROVED"
    assert book.balance("@bob")[0] == D(25)
    direct = book.ok(book.transfer("@alice", "@carol", "5"))
    assert status_of(direct["id"]) == "CREATED"
    reversal = book.ok(book.action(direct["id"], "revert"))
    assert reversal["parentTransactionId"] == direct["id"]
    assert book.balance("@carol")[0] == D(0)


# --- a real Celery worker on RabbitMQ ----------------------------------------------------------


def _dsn() -> str:
    s = connection.settings_dict
    return f"host={s['HOST']} port={s['PORT']} dbname={s['NAME']} user={s['USER']}"


def _worker_env() -> dict[str, str]:
    s = connection.settings_dict
    env = dict(os.environ)
    env["DATABASE_URL"] = f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"
    env.pop("DATABASE_REPLICA_URL", None)
    env["ASYNC_BATCH_SIZE"] = "500"
    env["METRICS_PORT"] = "0"  # any free port: never one a stray worker of another run holds
    return env


def worker_command() -> list[str]:
    """A Celery worker of the postings queue with two pool processes (the fault tests too)."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "midaz",
        "worker",
        "-Q",
        "midaz.postings",
        "-c",
        "2",
        "--loglevel",
        "WARNING",
        "--without-gossip",
        "--without-mingle",
    ]


class Worker:
    """``celery -A midaz worker`` as a separate process group, against the test database."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 - a fixed command
            worker_command(),
            env=_worker_env(),
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc = None


@pytest.fixture
def worker() -> Iterator[Worker]:
    with celery_app.connection_for_write() as conn:
        POSTINGS.bind(conn).declare()
        POSTINGS.bind(conn).purge()  # messages of earlier runs name ledgers long gone
    w = Worker()
    yield w
    w.stop()


def rabbitmqctl(*args: str) -> None:
    tool = shutil.which("rabbitmqctl")
    assert tool is not None, "rabbitmqctl is installed with RabbitMQ (scripts/services.sh)"
    subprocess.run([tool, *args], check=True, capture_output=True, timeout=60)  # noqa: S603


def wait_for(condition: Callable[[], bool], timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def post_many(client: Client, book: Book, n: int, dst: str = "@bob") -> list[str]:
    """``n`` distinct postings of 1 from @alice (distinct bodies: no idempotent replay)."""
    path = "/v1" + book.path("/transactions/json")
    ids = []
    for _ in range(n):
        body = send("USD", "1", [amt("@alice", "1")], [amt(dst, "1")], description=str(uuid7()))
        response = client.post(path, body, content_type="application/json")
        assert response.status_code == 201, response.content
        ids.append(response.json()["id"])
    return ids


def assert_applied_once(ids: list[str]) -> None:
    assert not QueuedPosting.objects.filter(transaction_id__in=ids).exists()
    statuses = set(Transaction.objects.filter(pk__in=ids).values_list("status", flat=True))
    assert statuses == {"APPROVED"}
    assert Operation.objects.filter(transaction_id__in=ids).count() == 2 * len(ids)


def _batch_waiting() -> bool:
    """A worker's batch is inside midaz_post_bulk, waiting on a lock."""
    with psycopg.connect(_dsn(), autocommit=True) as probe:
        row = probe.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%%midaz_post_bulk%%'"
            " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        ).fetchone()
    return bool(row and row[0])


@pytest.mark.chaos
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_applies_exactly_once_after_sigkill_mid_batch(
    book: Book, client: Client, settings: Any, worker: Worker
) -> None:
    settings.TRANSACTION_ASYNC = True
    # Hold @bob's balance so that the worker's batch stops inside midaz_post_bulk.
    blocker = psycopg.connect(_dsn(), autocommit=False)
    blocker.execute(
        "SELECT 1 FROM transactions_balance WHERE alias = '@bob' AND ledger_id = %s FOR UPDATE",
        [book.ledger["id"]],
    )
    try:
        ids = post_many(client, book, 40)
        worker.start()
        wait_for(_batch_waiting, what="the worker's batch to wait on the lock")
        worker.kill()  # SIGKILL, in the middle of the batch
    finally:
        blocker.rollback()  # also when the test fails: a held lock would stall the teardown
        blocker.close()

    def no_batch() -> bool:
        with psycopg.connect(_dsn(), autocommit=True) as probe:
            row = probe.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%%midaz_post_bulk%%'"
                " AND state = 'active' AND pid <> pg_backend_pid()"
            ).fetchone()
        return not (row and row[0])

    wait_for(no_batch, what="the killed worker's backend to end")
    # Nothing of the killed batch committed.
    assert set(Transaction.objects.filter(pk__in=ids).values_list("status", flat=True)) == {
        "CREATED"
    }
    assert book.balance("@bob")[0] == D(0)
    worker.start()  # its message was not acknowledged: RabbitMQ delivers it again
    wait_for(lambda: not QueuedPosting.objects.exists(), what="the queue to drain")
    assert_applied_once(ids)
    assert book.balance("@bob")[0] == D(40)
    assert book.balance("@alice")[0] == D(60)


@pytest.mark.chaos
@pytest.mark.django_db(transaction=True)
def test_rabbitmq_restarted_under_async_load(
    book: Book, client: Client, settings: Any, worker: Worker
) -> None:
    settings.TRANSACTION_ASYNC = True
    worker.start()
    ids = post_many(client, book, 15)
    rabbitmqctl("stop_app")
    try:
        ids += post_many(client, book, 15, dst="@carol")  # accepted; publishing fails
    finally:
        rabbitmqctl("start_app")
    rabbitmqctl("await_startup")
    after = post_many(client, book, 15)
    # The worker reconnects and drains the ledger, the postings of the outage included.
    wait_for(
        lambda: not QueuedPosting.objects.filter(transaction_id__in=after).exists(),
        what="the worker to apply what was published after the restart",
    )
    asynchronous.sweep(older_than_seconds=0)  # anything no message reached
    assert len(set(ids + after)) == 45
    assert_applied_once(ids + after)
    assert book.balance("@bob")[0] == D(30)
    assert book.balance("@carol")[0] == D(15)


@pytest.mark.django_db(transaction=True)
def test_a_posting_held_by_a_worker_answers_409_not_404(book: Book, settings: Any) -> None:
    settings.TRANSACTION_ASYNC = True
    settings.ASYNC_WAIT_SECONDS = 0.3
    held = book.ok(book.transfer("@alice", "@bob", "25", pending=True))
    with psycopg.connect(_dsn(), autocommit=False) as other:  # a worker busy with it
        other.execute(
            "SELECT 1 FROM transactions_queuedposting WHERE transaction_id = %s FOR UPDATE",
            [held["id"]],
        )
        answer = assert_error(book.action(held["id"], "commit"), 409, "0099")
        assert "still being applied" in answer["message"]
        assert_error(book.action(held["id"], "cancel"), 409, "0099")
        other.rollback()
    assert book.ok(book.action(held["id"], "commit"))["status"]["code"] == "APPROVED"
    assert book.balance("@bob")[0] == D(25)


@pytest.mark.django_db
def test_the_operator_commands_apply_and_relay(book: Book, settings: Any) -> None:
    from io import StringIO

    from django.core.management import call_command

    settings.TRANSACTION_ASYNC = True
    body = book.ok(book.transfer("@alice", "@bob", "3"))
    out = StringIO()
    call_command("apply_accepted", stdout=out)
    assert "applied or declined 1 postings" in out.getvalue()
    assert status_of(body["id"]) == "APPROVED"
    out = StringIO()
    call_command("relay_events", stdout=out)
    assert out.getvalue().startswith("published ")
    from transactions.models import OutboxEvent

    assert not OutboxEvent.objects.exists()
