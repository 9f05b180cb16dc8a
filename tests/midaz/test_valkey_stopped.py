"""The real Valkey server stopped under a working ledger, then started again by the project's
own script: postings, replays of answers it had cached, ledger settings, alias lookups and the
rate limit all keep working from PostgreSQL, and ``/readyz`` names the cache while it is down."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from django.conf import settings as django_settings
from django.core.cache import caches

from onboarding import alias_directory, ledger_settings
from tests.helpers import Api, ledger_path
from tests.transactions.book import Book

# The replica alias too: /readyz checks it (and must report it up while only the cache is down).
pytestmark = pytest.mark.django_db(databases=["default", "replica"])

ROOT = Path(__file__).resolve().parents[2]


def _port() -> int:
    return urlparse(django_settings.VALKEY_URL).port or 6379


def _ping() -> bool:
    tool = shutil.which("redis-cli")
    assert tool is not None, "redis-cli comes with redis-server (scripts/services.sh)"
    done = subprocess.run(  # noqa: S603
        [tool, "-h", "127.0.0.1", "-p", str(_port()), "ping"], capture_output=True, text=True
    )
    return done.stdout.strip() == "PONG"


@contextmanager
def valkey_stopped() -> Iterator[None]:
    """Shuts the real server down; starts it again afterwards with ``scripts/services.sh``."""
    if not django_settings.VALKEY_URL:
        pytest.fail("VALKEY_URL must point at the real Valkey server (make test sets it)")
    assert _ping(), "Valkey must be up before the test stops it"
    tool = shutil.which("redis-cli")
    assert tool is not None
    subprocess.run(  # noqa: S603
        [tool, "-h", "127.0.0.1", "-p", str(_port()), "shutdown", "nosave"], capture_output=True
    )
    deadline = time.monotonic() + 10
    while _ping():
        assert time.monotonic() < deadline, "Valkey did not stop"
        time.sleep(0.05)
    try:
        yield
    finally:
        subprocess.run([str(ROOT / "scripts" / "services.sh"), "up"], check=True, timeout=120)  # noqa: S603
        assert _ping(), "scripts/services.sh did not bring Valkey back"


def test_the_ledger_is_correct_while_the_real_valkey_is_stopped(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any], settings: Any
) -> None:
    book = Book(api, ledger)
    book.account("@alice", type="deposit")
    book.account("@bob", type="deposit")
    book.fund("@alice", "100")
    first = book.ok(book.transfer("@alice", "@bob", "30", headers={"X-Idempotency": "before"}))
    assert alias_directory.account_types(ledger["id"], ["@bob"]) == {"@bob": "deposit"}
    ledger_settings.cached(ledger["id"])
    assert caches["default"].get(alias_directory._key(ledger["id"], "@bob")) is not None

    settings.RATE_LIMIT = "1000/s"
    with valkey_stopped():
        # The answer Valkey held is gone with it: the durable record replays it.
        again = book.transfer("@alice", "@bob", "30", headers={"X-Idempotency": "before"})
        assert again["X-Idempotency-Replayed"] == "true"
        assert book.ok(again)["id"] == first["id"]
        # New postings, with and without a key, and their replays.
        during = book.ok(book.transfer("@alice", "@bob", "20", headers={"X-Idempotency": "during"}))
        replay = book.transfer("@alice", "@bob", "20", headers={"X-Idempotency": "during"})
        assert book.ok(replay)["id"] == during["id"]
        book.ok(book.transfer("@bob", "@alice", "5"))
        # Settings changes and reads, alias lookups: PostgreSQL answers.
        api.ok(
            api.patch(ledger_path(ledger, "/settings"), {"accounting": {"validateRoutes": False}}),
            200,
        )
        ledger_settings._local.clear()
        assert ledger_settings.cached(ledger["id"])["accounting"]["validateRoutes"] is False
        assert alias_directory.account_types(ledger["id"], ["@alice"]) == {"@alice": "deposit"}
        ready = api.client.get("/readyz")
        assert ready.status_code == 200  # still serving: only the primary gates readiness
        assert ready.json()["status"] == "degraded"
        assert ready.json()["degraded"] == ["cache"], ready.json()["checks"]
        assert ready.json()["checks"]["cache"]["status"] == "down"
    assert book.balance("@alice")[0] == Decimal(55)
    assert book.balance("@bob")[0] == Decimal(45)
    # Back up, empty: the cache fills again and readiness recovers.
    assert api.client.get("/readyz").json()["checks"]["cache"]["status"] == "up"
    book.ok(book.transfer("@alice", "@bob", "1", headers={"X-Idempotency": "after"}))
    again_after = book.transfer("@alice", "@bob", "1", headers={"X-Idempotency": "after"})
    assert again_after["X-Idempotency-Replayed"] == "true"
