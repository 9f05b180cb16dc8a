"""Per-client rate limiting (midaz/ratelimit.py) with its counters in the real Valkey/Redis, and
the ledger still posting correctly when Valkey cannot be reached."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import caches
from django.test import Client

from access.models import ApiKey, digest_of
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


def _exhaust(client: Client, headers: dict[str, str], limit: int) -> None:
    for _ in range(limit):
        assert client.get("/v1/organizations", headers=headers).status_code == 200
    assert_error(client.get("/v1/organizations", headers=headers), 429, "0499")


def test_a_client_cannot_pick_its_address_through_x_forwarded_for(
    client: Client, settings: Any
) -> None:
    """Behind one trusted proxy the client is the hop that proxy appended (the right-most):
    what the client wrote to the left of it is not believed, so a new made-up first hop on
    every request does not buy a new budget."""
    settings.RATE_LIMIT = "3/m"
    settings.RATE_LIMIT_TRUST_PROXY = 1
    caches["default"].clear()
    _exhaust(client, {"X-Forwarded-For": "203.0.113.9"}, 3)
    for n in range(5):
        forged = {"X-Forwarded-For": f"10.0.0.{n}, 203.0.113.9"}
        assert_error(client.get("/v1/organizations", headers=forged), 429, "0499")
    # Another address that the proxy appended is another client.
    other = {"X-Forwarded-For": "203.0.113.9, 198.51.100.20"}
    assert client.get("/v1/organizations", headers=other).status_code == 200


def test_two_trusted_proxies_take_the_second_hop_from_the_right(
    client: Client, settings: Any
) -> None:
    settings.RATE_LIMIT = "2/m"
    settings.RATE_LIMIT_TRUST_PROXY = 2
    caches["default"].clear()
    # client -> CDN (appends the client) -> ingress (appends the CDN)
    _exhaust(client, {"X-Forwarded-For": "203.0.113.30, 192.0.2.1"}, 2)
    forged = {"X-Forwarded-For": "1.2.3.4, 203.0.113.30, 192.0.2.2"}
    assert_error(client.get("/v1/organizations", headers=forged), 429, "0499")
    # Fewer hops than proxies: the request did not come through them; its peer address counts.
    short = {"X-Forwarded-For": "203.0.113.31"}
    assert client.get("/v1/organizations", headers=short).status_code == 200
    assert client.get("/v1/organizations", headers=short).status_code == 200
    assert_error(client.get("/v1/organizations", headers=short), 429, "0499")  # REMOTE_ADDR's


def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(client: Client, settings: Any) -> None:
    settings.RATE_LIMIT = "2/m"
    settings.RATE_LIMIT_TRUST_PROXY = 0
    caches["default"].clear()
    _exhaust(client, {"X-Forwarded-For": "203.0.113.40"}, 2)
    assert_error(
        client.get("/v1/organizations", headers={"X-Forwarded-For": "203.0.113.41"}), 429, "0499"
    )


def test_trusted_proxy_setting_parses_counts() -> None:
    def loaded(value: str) -> str:
        code = (
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'midaz.settings';"
            "from django.conf import settings; print(settings.RATE_LIMIT_TRUST_PROXY)"
        )
        env = {**os.environ, "RATE_LIMIT_TRUST_PROXY": value}
        run = subprocess.run(  # noqa: S603 - a fixed command line
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
        )
        return run.stdout.strip() if run.returncode == 0 else "error"

    assert loaded("true") == "1"
    assert loaded("false") == "0"
    assert loaded("2") == "2"
    assert loaded("-1") == "error"
    assert loaded("many") == "error"


@pytest.mark.auth
def test_a_valid_api_key_is_counted_by_key_wherever_it_comes_from(
    client: Client, settings: Any
) -> None:
    """One key, one budget, whatever address (or forged hop) its requests come from; another
    key has its own; a key that is not valid is counted by its address, so trying made-up keys
    does not buy budgets either."""
    settings.RATE_LIMIT = "3/m"
    settings.RATE_LIMIT_TRUST_PROXY = 1
    caches["default"].clear()
    first, second = _issue_key(), _issue_key()
    for n in range(3):
        headers = {"Authorization": f"Bearer {first}", "X-Forwarded-For": f"198.51.100.{n}"}
        assert client.get("/v1/organizations", headers=headers).status_code == 200
    moved = {"Authorization": f"Bearer {first}", "X-Forwarded-For": "198.51.100.99"}
    assert_error(client.get("/v1/organizations", headers=moved), 429, "0499")
    # The same address with another key is not limited: the budget was the key's.
    other = {"Authorization": f"Bearer {second}", "X-Forwarded-For": "198.51.100.0"}
    assert client.get("/v1/organizations", headers=other).status_code == 200
    # Made-up keys from one address: counted by the address (401 until the budget is spent).
    for n in range(3):
        made_up = {"Authorization": f"Bearer mdz_fake{n}", "X-Forwarded-For": "203.0.113.50"}
        assert_error(client.get("/v1/organizations", headers=made_up), 401, "0042")
    made_up = {"Authorization": "Bearer mdz_fake9", "X-Forwarded-For": "203.0.113.50"}
    assert_error(client.get("/v1/organizations", headers=made_up), 429, "0499")


@pytest.mark.auth
def test_a_revoked_key_is_counted_by_address(client: Client, settings: Any) -> None:
    settings.RATE_LIMIT = "2/m"
    settings.RATE_LIMIT_TRUST_PROXY = 1
    caches["default"].clear()
    key = _issue_key()
    ApiKey.objects.get(digest=digest_of(key)).revoke()
    headers = {"Authorization": f"Bearer {key}", "X-Forwarded-For": "203.0.113.60"}
    for _ in range(2):
        assert_error(client.get("/v1/organizations", headers=headers), 401, "0042")
    assert_error(
        client.get("/v1/organizations", headers={"X-Forwarded-For": "203.0.113.60"}), 429, "0499"
    )


def _issue_key() -> str:
    api_key = ApiKey(name="ratelimit", scope=ApiKey.READ, all_organizations=True)
    key = api_key.issue()
    api_key.save()
    return key
