"""Real concurrency against PostgreSQL: threads posting at once through the HTTP stack."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson
import pytest
from django.db import connection
from django.test import Client

from tests.helpers import Api
from tests.transactions.book import Book, amt, send
from transactions.models import Balance, Transaction
from transactions.verify import ledger_verify

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def book(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Book:
    return Book(api, ledger)


def run_together(count: int, work: Callable[[int, Client], Any]) -> list[Any]:
    """Start ``count`` threads at the same instant; each gets its own client and connection."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def target(index: int) -> None:
        client = Client()
        try:
            barrier.wait()
            results[index] = work(index, client)
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def outcome(response: Any) -> tuple[int, str | None]:
    body = orjson.loads(response.content) if response.content else {}
    return response.status_code, body.get("code") if response.status_code >= 400 else None


def test_sixty_debits_of_one_hot_account(book: Book) -> None:
    book.account("@hot")
    for n in range(6):
        book.account(f"@to{n}")
    book.fund("@hot", "1000")
    path = "/v1" + book.path("/transactions/json")

    def debit(index: int, client: Client) -> tuple[int, str | None]:
        body = send(
            "USD",
            "20",
            [amt("@hot", "20")],
            [amt(f"@to{index % 6}", "20")],
            description=f"debit {index}",
        )
        return outcome(client.post(path, orjson.dumps(body), content_type="application/json"))

    results = run_together(60, debit)
    assert Counter(results) == Counter({(201, None): 50, (422, "0018"): 10}), results
    available, on_hold, version = book.balance("@hot")
    assert (available, on_hold) == (Decimal(0), Decimal(0))
    assert version == 51  # the funding and the fifty debits
    assert sum(book.balance(f"@to{n}")[0] for n in range(6)) == Decimal(1000)
    assert ledger_verify(ledger_id=book.ledger["id"]).ok


def test_crossing_transfers_never_deadlock(book: Book) -> None:
    book.account("@a")
    book.account("@b")
    book.fund("@a", "500")
    book.fund("@b", "500")
    path = "/v1" + book.path("/transactions/json")

    def cross(index: int, client: Client) -> tuple[int, str | None]:
        src, dst = ("@a", "@b") if index % 2 else ("@b", "@a")
        body = send("USD", "3", [amt(src, "3")], [amt(dst, "3")], description=f"cross {index}")
        return outcome(client.post(path, orjson.dumps(body), content_type="application/json"))

    results = run_together(40, cross)
    assert results == [(201, None)] * 40
    assert book.balance("@a")[0] == Decimal(500)
    assert book.balance("@b")[0] == Decimal(500)
    assert book.balance("@a")[2] == 41
    assert ledger_verify(ledger_id=book.ledger["id"]).ok


def test_racing_commits_and_cancels_of_one_pending_transaction(book: Book) -> None:
    book.account("@alice")
    book.account("@bob")
    book.fund("@alice", "100")
    for round_ in range(6):
        pending = book.ok(
            book.transfer("@alice", "@bob", "1", pending=True, description=f"hold {round_}")
        )
        verbs = ["commit", "cancel"] if round_ % 2 else ["commit", "commit"]
        base = "/v1" + book.path(f"/transactions/{pending['id']}")

        def settle(index: int, client: Client, base: str = base, verbs: list[str] = verbs) -> Any:
            return outcome(client.post(f"{base}/{verbs[index]}"))

        results = run_together(2, settle)
        winners = [r for r in results if r == (201, None)]
        losers = [r for r in results if r != (201, None)]
        assert len(winners) == 1, results
        assert losers[0] in {(409, "0486"), (409, "0099")}, results
        status = Transaction.objects.get(pk=pending["id"]).status
        assert status in {"APPROVED", "CANCELED"}
    assert book.balance("@alice")[1] == Decimal(0)  # nothing left on hold
    assert ledger_verify(ledger_id=book.ledger["id"]).ok


def test_one_idempotency_key_posts_once_under_concurrency(book: Book) -> None:
    book.account("@alice")
    book.account("@bob")
    book.fund("@alice", "100")
    path = "/v1" + book.path("/transactions/json")
    body = orjson.dumps(send("USD", "7", [amt("@alice", "7")], [amt("@bob", "7")]))

    def post(index: int, client: Client) -> tuple[int, str | None, str | None]:
        response = client.post(
            path, body, content_type="application/json", headers={"X-Idempotency": "same-key"}
        )
        status, code = outcome(response)
        return status, code, response.headers.get("X-Idempotency-Replayed")

    results = run_together(8, post)
    fresh = [r for r in results if r == (201, None, "false")]
    assert len(fresh) == 1, results
    for result in results:
        assert result in {(201, None, "false"), (201, None, "true"), (409, "0084", None)}, result
    assert book.balance("@bob")[0] == Decimal(7)
    assert ledger_verify(ledger_id=book.ledger["id"]).ok


def test_concurrent_draws_on_one_overdraft_stop_at_its_limit(book: Book) -> None:
    book.account("@hot")
    book.account("@to")
    hot = Balance.objects.get(ledger_id=book.ledger["id"], alias="@hot", key="default")
    settings = {"allowOverdraft": True, "overdraftLimitEnabled": True, "overdraftLimit": "100"}
    book.ok(book.api.patch(book.path(f"/balances/{hot.id}"), {"settings": settings}), 200)
    book.fund("@hot", "10")
    path = "/v1" + book.path("/transactions/json")

    def draw(index: int, client: Client) -> tuple[int, str | None]:
        body = send("USD", "5", [amt("@hot", "5")], [amt("@to", "5")], description=f"d{index}")
        return outcome(client.post(path, orjson.dumps(body), content_type="application/json"))

    results = run_together(30, draw)
    # 10 of her own, then 100 of overdraft: 22 draws of 5 pass, the other 8 hit the limit.
    assert Counter(results) == Counter({(201, None): 22, (422, "0167"): 8}), results
    hot.refresh_from_db()
    assert (hot.available, hot.overdraft_used) == (Decimal(0), Decimal(100))
    companion = Balance.objects.get(ledger_id=book.ledger["id"], alias="@hot", key="overdraft")
    assert companion.available == Decimal(100)
    assert book.balance("@to")[0] == Decimal(110)
    assert ledger_verify(ledger_id=book.ledger["id"]).ok
