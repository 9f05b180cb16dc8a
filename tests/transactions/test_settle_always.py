"""Commit and cancel of a pending hold whatever happened to its routes since (issue 16, Lows).

A cancel only gives back what its hold took, so it must always be possible: after the hold's
transaction route was deleted or lost its cancel entries, after ``validateRoutes`` was turned
on (the hold named no route) or off (the hold was split by its routes). Commit and cancel
follow the shape the hold was made in (split by routes or not), so ``verify_ledger`` holds.
And only a row lock held by a concurrent commit or cancel is 409 0486: any other database
error is not disguised as one.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from tests.helpers import Api, assert_error, ledger_path
from tests.transactions.book import Book, amt, send
from tests.transactions.test_route_postings import Routes, rubric
from transactions import posting
from transactions.models import Balance, Transaction

D = Decimal


@pytest.fixture
def routes(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Routes:
    return Routes(api, ledger)


def routed_hold(routes: Routes, value: str = "20") -> dict[str, Any]:
    return routes.book.ok(
        routes.transfer(
            "@alice", "@bob", value, routes.src, routes.dst, routeId=routes.payout, pending=True
        )
    )


def new_ops(after: dict[str, Any], before: dict[str, Any]) -> list[tuple[str, str, D]]:
    seen = {o["id"] for o in before["operations"]}
    return [
        (o["type"], o["accountAlias"], D(o["amount"]["value"]))
        for o in after["operations"]
        if o["id"] not in seen
    ]


def validate_routes(book: Book, on: bool) -> None:
    book.ok(
        book.api.patch(book.path("/settings"), {"accounting": {"validateRoutes": on}}),
        200,
    )


@pytest.mark.django_db
def test_a_hold_is_canceled_after_its_transaction_route_was_deleted(routes: Routes) -> None:
    held = routed_hold(routes)
    assert routes.book.balance("@alice")[:2] == (D(80), D(20))
    deleted = routes.api.delete(ledger_path(routes.ledger, f"/transaction-routes/{routes.payout}"))
    assert deleted.status_code == 204
    # A new posting on the deleted route is refused; its hold's cancel is not.
    assert_error(
        routes.transfer("@alice", "@bob", "1", routes.src, routes.dst, routeId=routes.payout),
        404,
        "0105",
    )
    canceled = routes.book.ok(routes.book.action(held["id"], "cancel"))
    assert new_ops(canceled, held) == [("RELEASE", "@alice", D(20)), ("CREDIT", "@alice", D(20))]
    assert routes.book.balance("@alice")[:2] == (D(100), D(0))
    assert Transaction.objects.get(pk=held["id"]).status == "CANCELED"


@pytest.mark.django_db
def test_a_hold_is_canceled_after_its_route_lost_its_pending_entries(routes: Routes) -> None:
    held = routed_hold(routes)
    # Hold, commit and cancel rubrics go together (0163): the route keeps only direct.
    entries = {"direct": {"debit": rubric("1.1")}}
    routes.book.ok(
        routes.api.patch(
            ledger_path(routes.ledger, f"/operation-routes/{routes.src}"),
            {"accountingEntries": entries},
        ),
        200,
    )
    routes.book.ok(routes.book.action(held["id"], "cancel"))
    assert routes.book.balance("@alice")[:2] == (D(100), D(0))


@pytest.mark.django_db
def test_a_hold_made_before_routes_were_validated_can_be_canceled(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    book = Book(api, ledger)
    book.account("@alice")
    book.account("@bob")
    book.fund("@alice", "50")
    held = book.ok(book.transfer("@alice", "@bob", "30", pending=True))
    validate_routes(book, True)
    canceled = book.ok(book.action(held["id"], "cancel"))
    # In the hold's own shape: one RELEASE, not the split of a routed cancel.
    assert new_ops(canceled, held) == [("RELEASE", "@alice", D(30))]
    assert book.balance("@alice")[:2] == (D(50), D(0))


@pytest.mark.django_db
def test_a_routed_hold_settles_in_its_own_shape_after_routes_are_off(routes: Routes) -> None:
    to_cancel = routed_hold(routes, "20")
    to_commit = routed_hold(routes, "30")
    validate_routes(routes.book, False)
    canceled = routes.book.ok(routes.book.action(to_cancel["id"], "cancel"))
    assert new_ops(canceled, to_cancel) == [
        ("RELEASE", "@alice", D(20)),
        ("CREDIT", "@alice", D(20)),
    ]
    committed = routes.book.ok(routes.book.action(to_commit["id"], "commit"))
    assert new_ops(committed, to_commit) == [
        ("ON_HOLD", "@alice", D(30)),
        ("CREDIT", "@bob", D(30)),
    ]
    assert routes.book.balance("@alice")[:2] == (D(70), D(0))
    assert routes.book.balance("@bob")[0] == D(30)
    # And it reverts as any committed routed hold: from its DEBIT and CREDIT, once.
    reversal = routes.book.ok(routes.book.action(to_commit["id"], "revert"))
    assert sorted(new_ops(reversal, {"operations": []})) == [
        ("CREDIT", "@alice", D(30)),
        ("DEBIT", "@bob", D(30)),
    ]
    assert routes.book.balance("@alice")[:2] == (D(100), D(0))


@pytest.mark.django_db
@pytest.mark.parametrize("route_after", ["deleted", "without overdraft entries"])
def test_a_routed_hold_that_drew_overdraft_can_be_canceled(
    routes: Routes, route_after: str
) -> None:
    alice = Balance.objects.get(ledger_id=routes.ledger["id"], alias="@alice", key="default")
    routes.book.ok(
        routes.api.patch(
            routes.book.path(f"/balances/{alice.id}"), {"settings": {"allowOverdraft": True}}
        ),
        200,
    )
    overdraft = {"debit": rubric("9.1"), "credit": rubric("9.2")}
    entries: dict[str, Any] = {
        "direct": {"debit": rubric("1.1")},
        "hold": {"debit": rubric("1.2"), "credit": rubric("1.3")},
        "commit": {"debit": rubric("1.4")},
        "cancel": {"debit": rubric("1.5"), "credit": rubric("1.6")},
        "overdraft": overdraft,
    }
    routes.book.ok(
        routes.api.patch(
            ledger_path(routes.ledger, f"/operation-routes/{routes.src}"),
            {"accountingEntries": entries},
        ),
        200,
    )
    held = routed_hold(routes, "130")
    alice.refresh_from_db()
    assert (alice.available, alice.on_hold, alice.overdraft_used) == (0, 130, 30)
    if route_after == "deleted":
        routes.api.delete(ledger_path(routes.ledger, f"/transaction-routes/{routes.payout}"))
    else:
        # Giving the overdraft back would need the route's overdraft credit rubric (0492).
        del entries["overdraft"]
        routes.book.ok(
            routes.api.patch(
                ledger_path(routes.ledger, f"/operation-routes/{routes.src}"),
                {"accountingEntries": entries},
            ),
            200,
        )
    canceled = routes.book.ok(routes.book.action(held["id"], "cancel"))
    assert new_ops(canceled, held) == [
        ("RELEASE", "@alice", D(130)),
        ("CREDIT", "@alice", D(100)),
        ("OVERDRAFT", "@alice", D(30)),
    ]
    alice.refresh_from_db()
    assert (alice.available, alice.on_hold, alice.overdraft_used) == (100, 0, 0)
    companion = Balance.objects.get(ledger_id=routes.ledger["id"], alias="@alice", key="overdraft")
    assert companion.available == 0


# --- 0486 is a lock held by another commit or cancel, and nothing else --------------------


def _other_connection() -> psycopg.Connection[Any]:
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"],
        port=db["PORT"],
        user=db["USER"],
        password=db["PASSWORD"],
        dbname=db["NAME"],
        autocommit=False,
    )


@pytest.mark.django_db(transaction=True)
def test_a_hold_locked_by_another_settle_is_0486(
    api: Api, ledger: dict[str, Any], usd: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(posting, "SETTLE_LOCK_TIMEOUT_MS", 200)  # the wait, shortened
    book = Book(api, ledger)
    book.account("@alice")
    book.account("@bob")
    book.fund("@alice", "10")
    held = book.ok(book.transfer("@alice", "@bob", "4", pending=True))
    with _other_connection() as other:
        other.execute(
            "SELECT id FROM transactions_transaction WHERE id = %s FOR UPDATE", [held["id"]]
        )
        assert_error(book.action(held["id"], "cancel"), 409, "0486")
        assert_error(book.action(held["id"], "commit"), 409, "0486")
        other.rollback()
    book.ok(book.action(held["id"], "commit"))
    assert book.balance("@bob")[0] == D(4)


_LOCK_ROW = {
    mode: f"SELECT id FROM transactions_transaction WHERE id = %s FOR {mode}"  # noqa: S608
    for mode in ("NO KEY UPDATE", "UPDATE")
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("verb", ["commit", "cancel"])
@pytest.mark.parametrize("mode", list(_LOCK_ROW))
def test_a_short_lock_on_the_hold_delays_the_settle_instead_of_failing_it(
    api: Api, ledger: dict[str, Any], usd: Any, verb: str, mode: str
) -> None:
    """A metadata PATCH holds the row FOR NO KEY UPDATE for its read-merge-write: a commit or
    cancel that arrives meanwhile waits for it (201), it is not 0486."""
    book = Book(api, ledger)
    book.account("@alice")
    book.account("@bob")
    book.fund("@alice", "10")
    held = book.ok(book.transfer("@alice", "@bob", "4", pending=True))
    with _other_connection() as other:
        other.execute(_LOCK_ROW[mode], [held["id"]])
        release = threading.Timer(0.3, other.rollback)
        release.start()
        started = time.monotonic()
        answer = book.action(held["id"], verb)
        waited = time.monotonic() - started
        release.join()
    assert answer.status_code == 201, answer.content
    assert waited >= 0.25  # it did wait for the lock
    expected = "APPROVED" if verb == "commit" else "CANCELED"
    assert Transaction.objects.get(pk=held["id"]).status == expected


@pytest.mark.django_db(transaction=True)
def test_a_settle_waiting_out_another_settle_is_0099(
    api: Api, ledger: dict[str, Any], usd: Any
) -> None:
    """A cancel that waits for a concurrent commit to finish finds the hold settled: 0099
    (not 0486, and not a second settlement)."""
    book = Book(api, ledger)
    book.account("@alice")
    book.account("@bob")
    book.fund("@alice", "10")
    held = book.ok(book.transfer("@alice", "@bob", "4", pending=True))
    answers: dict[str, Any] = {}

    def commit() -> None:
        answers["commit"] = Api(Client()).post(book.path(f"/transactions/{held['id']}/commit"))
        connection.close()

    with _other_connection() as other:
        other.execute(_LOCK_ROW["UPDATE"], [held["id"]])
        first = threading.Thread(target=commit)
        first.start()
        time.sleep(0.3)  # the commit is queued on the row lock first
        threading.Timer(0.3, other.rollback).start()
        cancel = book.action(held["id"], "cancel")
        first.join()
    assert answers["commit"].status_code == 201, answers["commit"].content
    assert_error(cancel, 409, "0099")
    assert Transaction.objects.get(pk=held["id"]).status == "APPROVED"


@pytest.mark.django_db
def test_the_settle_lock_timeout_does_not_outlive_the_lock(book_with_hold: Any) -> None:
    """The bounded wait is for the row lock only: the rest of the request (and, in a test, the
    enclosing transaction) keeps the lock_timeout it had."""
    book, held = book_with_hold
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = '7s'")
    book.ok(book.action(held["id"], "commit"))
    with connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone()[0] == "7s"


@pytest.mark.django_db
def test_another_database_error_is_not_reported_as_0486(book_with_hold: Any) -> None:
    book, held = book_with_hold
    # A real refusal of the row lock that is not a busy lock: a read-only transaction cannot
    # take it (SQLSTATE 25006).
    with connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION READ ONLY")
    for verb in ("cancel", "commit"):
        answer = book.action(held["id"], verb)
        assert answer.status_code >= 500, answer.content
        assert b'"0486"' not in answer.content


@pytest.fixture
def book_with_hold(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Any:
    book = Book(api, ledger)
    book.account("@alice")
    book.account("@bob")
    book.fund("@alice", "10")
    held = book.ok(
        book.post(send("USD", "4", [amt("@alice", "4")], [amt("@bob", "4")], pending=True))
    )
    assert settings.DATABASES["default"]["NAME"]
    return book, held
