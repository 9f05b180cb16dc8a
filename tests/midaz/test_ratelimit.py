"""Per-client rate limiting (midaz/ratelimit.py) with its counters in the real Valkey/Redis, and
the ledger still posting correctly when Valkey cannot be reached."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import caches
from django.test import Client

from tests.helpers import Api, assert_error
from tests.transactions.book import Book

pytestmark = pytest.mark.django_db


def test_a_client_past_its_limit_gets_429(client: Client, settings: Any) -> None:
    settings.RATE_LIMIT = "5/m"
    settings.RATE_LIMIT_TRUST_PROXY = True
    caches["default"].clear()
    me = {"X-Forwarded-For": "203.0.113.7"}
    for _ in range(5):
        assert client.get("/v1/organizations", headers=me).status_code == 200
    answer = assert_error(client.get("/v1/organizations", headers=me), 429, "0499")
    assert "limit 5/m" in answer["message"]
    response = client.get("/v1/organizations", headers=me)
    assert 1 <= int(response["Retry-After"]) <= 60
    # Another client has its own budget; the health routes are never limited.
    assert (
        client.get("/v1/organizations", headers={"X-Forwarded-For": "198.51.100.2"}).status_code
        == 200
    )
    assert client.get("/health", headers=me).status_code == 200


def test_without_a_limit_nothing_is_counted(client: Client, settings: Any) -> None:
    settings.RATE_LIMIT = ""
    for _ in range(30):
        assert client.get("/v1/organizations").status_code == 200


@pytest.fixture
def valkey_down(settings: Any) -> None:
    """The cache points at a closed port, as when Valkey is stopped (Django rebuilds its cache
    handlers when CACHES changes)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    with pytest.raises(Exception):  # noqa: B017, PT011 - whichever error the client raises
        caches["default"].get("probe")


def test_the_ledger_posts_correctly_with_valkey_down(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any], settings: Any, valkey_down: None
) -> None:
    settings.RATE_LIMIT = "1000/s"  # the limiter lets requests through when it cannot count
    book = Book(api, ledger)
    book.account("@alice")
    book.account("@bob")
    book.fund("@alice", "100")
    first = book.transfer("@alice", "@bob", "30", headers={"X-Idempotency": "vk-down"})
    again = book.transfer("@alice", "@bob", "30", headers={"X-Idempotency": "vk-down"})
    assert again["X-Idempotency-Replayed"] == "true"  # the durable record answers
    assert book.ok(again)["id"] == book.ok(first)["id"]
    assert book.balance("@bob")[0] == Decimal(30)
    assert book.balance("@alice")[0] == Decimal(70)
    ready = api.client.get("/readyz")
    assert ready.status_code == 200  # degraded, still serving
    assert ready.json()["status"] == "degraded"
    assert ready.json()["checks"]["cache"]["status"] == "down"
