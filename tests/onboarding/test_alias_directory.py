"""Alias lookups through Valkey (``onboarding.alias_directory``): cached once found, dropped
when an alias is deleted or reused, and answered by PostgreSQL when Valkey is down."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import caches

from onboarding import alias_directory
from tests.helpers import Api, assert_error, ledger_path
from tests.transactions.test_route_postings import Routes

pytestmark = pytest.mark.django_db


def test_a_found_alias_is_served_from_valkey(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any], django_assert_num_queries: Any
) -> None:
    account = api.create_account(ledger, alias="@alice", type="deposit")
    with django_assert_num_queries(1):
        assert alias_directory.account_types(ledger["id"], ["@alice", "@nobody"]) == {
            "@alice": "deposit"
        }
    entry = caches["default"].get(alias_directory._key(ledger["id"], "@alice"))
    # With the alias's generation (alias_directory.forget), which its creation set.
    generation = caches["default"].get(alias_directory._generation_key(ledger["id"], "@alice"))
    assert entry == {"account": account["id"], "type": "deposit", "gen": generation}
    with django_assert_num_queries(0):
        assert alias_directory.account_types(ledger["id"], ["@alice"]) == {"@alice": "deposit"}
    # An alias not found is not cached: an account made a moment later is seen at once.
    assert caches["default"].get(alias_directory._key(ledger["id"], "@nobody")) is None


def test_deleting_an_account_drops_its_alias(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    account = api.create_account(ledger, alias="@alice", type="deposit")
    alias_directory.account_types(ledger["id"], ["@alice"])
    assert api.delete(ledger_path(ledger, f"/accounts/{account['id']}")).status_code == 204
    assert caches["default"].get(alias_directory._key(ledger["id"], "@alice")) is None
    assert alias_directory.account_types(ledger["id"], ["@alice"]) == {}
    # The alias reused by an account of another type: the new type, not the cached one.
    api.create_account(ledger, alias="@alice", type="savings")
    assert alias_directory.account_types(ledger["id"], ["@alice"]) == {"@alice": "savings"}


def test_a_reused_alias_meets_the_route_rule_of_its_new_type(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any]
) -> None:
    routes = Routes(api, ledger)
    routes.book.ok(
        routes.transfer("@alice", "@bob", "1", routes.src, routes.dst, routeId=routes.payout)
    )
    assert caches["default"].get(alias_directory._key(ledger["id"], "@bob")) is not None
    bob = api.ok(api.get(ledger_path(ledger, "/accounts/alias/@bob")), 200)
    # @bob holds 1 USD: empty it (outside the routes) before the account can go.
    api.ok(
        api.patch(ledger_path(ledger, "/settings"), {"accounting": {"validateRoutes": False}}),
        200,
    )
    routes.book.ok(routes.book.transfer("@bob", "@alice", "1"))
    assert api.delete(ledger_path(ledger, f"/accounts/{bob['id']}")).status_code == 204
    api.create_account(ledger, alias="@bob", type="savings")
    api.ok(
        api.patch(ledger_path(ledger, "/settings"), {"accounting": {"validateRoutes": True}}),
        200,
    )
    # The destination route accepts deposit accounts only: the new @bob is savings.
    assert_error(
        routes.transfer("@alice", "@bob", "1", routes.src, routes.dst, routeId=routes.payout),
        422,
        "0119",
    )


def test_without_valkey_postgresql_answers(
    api: Api, ledger: dict[str, Any], usd: dict[str, Any], settings: Any
) -> None:
    api.create_account(ledger, alias="@alice", type="deposit")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    with pytest.raises(Exception):  # noqa: B017, PT011 - whichever error the client raises
        caches["default"].get("probe")
    assert alias_directory.account_types(ledger["id"], ["@alice"]) == {"@alice": "deposit"}
    alias_directory.forget(ledger["id"], "@alice")  # no error either
