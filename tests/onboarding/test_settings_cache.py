"""The cached ledger settings that postings read (``ledger_settings.cached``): a change is seen
at once by the process that made it, Valkey holds the shared copy, and with Valkey down the
database answers."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import caches

from onboarding import ledger_settings
from tests.helpers import Api, ledger_path

pytestmark = pytest.mark.django_db


def test_a_change_is_seen_at_once_and_shared_through_valkey(
    api: Api, ledger: dict[str, Any]
) -> None:
    assert ledger_settings.cached(ledger["id"])["accounting"]["validateRoutes"] is False
    key = ledger_settings._cache_key(ledger["id"])
    assert caches["default"].get(key) is not None  # the shared copy
    api.ok(
        api.patch(ledger_path(ledger, "/settings"), {"accounting": {"validateRoutes": True}}), 200
    )
    assert caches["default"].get(key) is None  # dropped with the change
    assert ledger_settings.cached(ledger["id"])["accounting"]["validateRoutes"] is True


def test_without_valkey_the_database_answers(
    api: Api, ledger: dict[str, Any], settings: Any
) -> None:
    api.ok(
        api.patch(ledger_path(ledger, "/settings"), {"accounting": {"validateRoutes": True}}), 200
    )
    # A real client pointed at a port where nothing listens: every cache call fails (Django
    # rebuilds its cache handlers when CACHES changes).
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    ledger_settings._local.clear()
    with pytest.raises(Exception):  # noqa: B017, PT011 - whichever error the client raises
        caches["default"].get("probe")
    assert ledger_settings.cached(ledger["id"])["accounting"]["validateRoutes"] is True
    ledger_settings.forget(ledger["id"])  # no error either
