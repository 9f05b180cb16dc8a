"""The console in a real headless Chromium (Debian's ``chromium``, driven by Playwright; no
browser download): log in, read the dashboard, find an account by its alias, commit a pending
transaction and see its status change. The dashboard's screenshot is kept as a test artifact
in ``.artifacts/admin-dashboard.png`` (docs/admin-dashboard.png is a copy of a good one)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from tests.helpers import Api
from tests.transactions.book import Book, amt, send
from transactions.models import Transaction

pytestmark = pytest.mark.django_db(transaction=True)

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts"


@pytest.fixture(scope="module")
def browser(django_db_setup: None, django_db_blocker: Any) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail("chromium is not installed: scripts/services.sh (make test) installs it")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls of the tests are
    # still plain synchronous calls, which Django would otherwise refuse next to that loop.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield chromium
        finally:
            chromium.close()
            if previous is None:
                os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
            else:
                os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser: Any, settings: Any) -> Iterator[Any]:
    # The live server speaks plain HTTP: cookies marked Secure would not come back.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.CONSOLE_DASHBOARD_CACHE_SECONDS = 0
    context = browser.new_context(viewport={"width": 1440, "height": 1100})
    context.set_default_timeout(15_000)
    opened = context.new_page()
    try:
        yield opened
    finally:
        # The last page the test saw, for a failure's post-mortem.
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "console-last-page.html").write_text(opened.content())
        opened.screenshot(path=str(ARTIFACTS / "console-last-page.png"))
        context.close()


def a_month_of_postings(api: Api, ledger: dict[str, Any]) -> tuple[Book, dict[str, Any]]:
    """A ledger with three assets and a month of back-dated postings, and one pending."""
    book = Book(api, ledger)
    now = datetime.now(UTC)
    for code in ("USD", "EUR", "BRL"):
        api.create_asset(ledger, code=code)
    book.account("@treasury", metadata={"desk": "funding"})
    book.account("@alice", metadata={"segment": "retail"})
    book.account("@bob")
    book.account("@eur-float", asset="EUR")
    book.account("@brl-float", asset="BRL")
    # Funded a month ago, before the charts' window.
    opening = (now - timedelta(days=31)).isoformat().replace("+00:00", "Z")
    funding = {
        "send": {
            "asset": "USD",
            "value": "60000",
            "distribute": {"to": [amt("@treasury", "60000")]},
        }
    }
    book.ok(book.post({**funding, "transactionDate": opening}, "inflow"))
    for day in range(29, -1, -1):
        for n in range((day * 7) % 5 + 1):
            when = (now - timedelta(days=day, minutes=n)).isoformat().replace("+00:00", "Z")
            value = str(100 + (day * 37 + n * 11) % 400)
            body = send("USD", value, [amt("@treasury", value)], [amt("@alice", value)])
            book.ok(book.post({**body, "transactionDate": when}))
            for code, every in (("EUR", 2), ("BRL", 3)):
                if (day + n) % every == 0:
                    to = [amt(f"@{code.lower()}-float", value, code)]
                    inflow = {
                        "transactionDate": when,
                        "send": {"asset": code, "value": value, "distribute": {"to": to}},
                    }
                    book.ok(book.post(inflow, "inflow"))
    held = send("USD", "120", [amt("@alice", "120")], [amt("@bob", "120")], pending=True)
    held["description"] = "card authorization #4411"
    return book, book.ok(book.post(held))


def test_log_in_read_the_dashboard_find_an_account_and_commit(
    page: Any, live_server: Any, api: Api, ledger: dict[str, Any]
) -> None:
    book, held = a_month_of_postings(api, ledger)
    User.objects.create_superuser("ops", "ops@example.com", "a-long-operator-password")

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("input[name=username]", "ops")
    page.fill("input[name=password]", "a-long-operator-password")
    page.click("#login-form [type=submit]")
    page.wait_for_selector("#dashboard")

    pending_tile = page.locator("[data-tile=pending] .mz-tile-value")
    assert pending_tile.inner_text().strip() == "1"
    assert page.locator("#chart-per-day svg rect.bar").count() == 30
    assert page.locator("#chart-volume [data-asset]").count() >= 2
    assert "card authorization #4411" in page.locator("#pending").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "admin-dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000

    # Find an account by its alias, typed without the "@".
    page.goto(f"{live_server.url}/admin/onboarding/account/")
    page.fill("input[name=q]", "alice")
    page.keyboard.press("Enter")
    page.wait_for_url("**q=alice**")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    assert "@alice" in rows.first.inner_text()

    # Commit the pending transaction from its page.
    page.goto(f"{live_server.url}/admin/transactions/transaction/{held['id']}/change/")
    assert page.locator("#transaction-status").inner_text().strip() == "PENDING"
    page.once("dialog", lambda dialog: dialog.accept())  # "Commit this transaction?"
    page.click("#operate-commit")
    page.wait_for_selector("#transaction-status:has-text('APPROVED')")
    assert "is APPROVED" in page.content()
    assert Transaction.objects.get(pk=held["id"]).status == "APPROVED"
    assert book.balance("@bob")[0] == 120
