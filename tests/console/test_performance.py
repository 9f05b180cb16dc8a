"""Lists and the dashboard cost a fixed number of queries whatever the rows (no N+1), never
count a whole big table, and the dashboard's charts show what was posted."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from console import paginator
from tests.console.conftest import pending
from tests.transactions.book import Book
from transactions.models import Transaction

pytestmark = pytest.mark.django_db

# Each page's queries with rows present, measured: session + user (2), the bounded count (1),
# the page (1), each filter that reads a small table (ledgers, assets: 1 each); the dashboard
# (/admin/) 8 of its own (console/dashboard.py).
LISTS = {
    "/admin/onboarding/organization/": 5,
    "/admin/onboarding/ledger/": 5,
    "/admin/onboarding/asset/": 6,
    "/admin/onboarding/account/": 8,
    "/admin/transactions/balance/": 6,
    "/admin/transactions/transaction/": 6,
    "/admin/transactions/operation/": 6,
    "/admin/console/auditrecord/": 5,
    "/admin/": 10,
}


@pytest.fixture
def settings_no_cache(settings: Any) -> Any:
    settings.CONSOLE_DASHBOARD_CACHE_SECONDS = 0
    return settings


def grow(book: Book, accounts: int, start: int = 0) -> None:
    """More of everything: accounts, approved and pending transactions, operations."""
    for n in range(start, start + accounts):
        alias = f"@grow-{book.ledger['id'][-6:]}-{n}"
        book.account(alias)
        book.ok(book.transfer("@alice", alias, "1"))
        pending(book, "1", description=f"held {n}")


def queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured)


def test_every_list_costs_the_same_queries_with_3_or_12_rows(
    root: Client, book: Book, settings_no_cache: Any, django_assert_max_num_queries: Any
) -> None:
    grow(book, 3)
    root.get("/admin/")  # the session's first request warms nothing that later ones need
    small = {url: queries(root, url) for url in LISTS}
    grow(book, 9, start=3)
    # An audit record per row would show an N+1 on the audit list as well.
    from console.models import AuditRecord

    AuditRecord.objects.bulk_create(
        AuditRecord(username="x", action="commit", target=f"t{n}", result="ok") for n in range(12)
    )
    for url, most in LISTS.items():
        with django_assert_max_num_queries(most):
            response = root.get(url)
        assert response.status_code == 200
        assert queries(root, url) == small[url], (url, small[url])
    rows = root.get("/admin/transactions/transaction/").context["cl"].result_list
    assert len(rows) >= 24


def test_the_count_is_bounded(root: Client, book: Book, monkeypatch: pytest.MonkeyPatch) -> None:
    grow(book, 2)
    monkeypatch.setattr(paginator.BoundedCountPaginator, "cap", 3)
    with CaptureQueriesContext(connection) as captured:
        response = root.get("/admin/transactions/transaction/")
    cl = response.context["cl"]
    assert cl.result_count == 3  # capped, although more rows exist
    assert Transaction.objects.count() > 3
    counts = [q["sql"] for q in captured if "COUNT(" in q["sql"].upper()]
    assert counts, "no count at all?"
    assert all("LIMIT 4" in sql for sql in counts), counts


def test_the_dashboard_shows_counts_charts_pending_and_latest(
    root: Client, book: Book, settings_no_cache: Any
) -> None:
    held = pending(book, "9", description="waiting for approval")
    book.ok(book.transfer("@alice", "@bob", "300"))
    response = root.get("/admin/")
    assert response.status_code == 200
    data = response.context["dashboard"]
    tiles = {t.label: t.shown for t in data["tiles"]}
    assert tiles["Organizations"] == "1"
    assert tiles["Ledgers"] == "1"
    assert tiles["Accounts"] == "3"  # @alice, @bob, @external/USD
    assert tiles["Transactions"] == "3"
    assert tiles["Pending"] == "1"
    assert data["per_day_total"] == 3
    assert [c["asset"] for c in data["volume_charts"]] == ["USD"]
    assert data["volume_charts"][0]["total"] == "1.3k"  # 1000 funding + 300 (pending excluded)
    assert [t.id for t in data["waiting"]] == [held["id"]] or [
        str(t.id) for t in data["waiting"]
    ] == [held["id"]]
    html = response.content.decode()
    assert html.count("<svg") >= 2
    assert "waiting for approval" in html
    assert 'class="bar"' in html


def test_charts_escape_what_they_show() -> None:
    from console.dashboard import bar_chart

    chart = bar_chart(["<i>1", "2026-01-02"], [Decimal(1), Decimal(2)], title='<b>"x"</b>')
    assert "<b>" not in chart
    assert "&lt;b&gt;" in chart
    assert "<i>" not in chart
    assert "&lt;i&gt;" in chart
    assert chart.count('class="bar"') == 2
