"""Alias lookups through Valkey: which account, of which type, an alias names in a ledger.

A posting names accounts by alias. Its balances are found by alias inside ``midaz_post``, in the
same round trip that locks them, so no cache could spare a query there. What runs before that
round trip reads accounts too: with ``validateRoutes`` on, an operation route's
``account_type`` rule needs each alias's account type. That answer is the same for the whole
life of an account (neither the alias nor the type of an account can be changed), so it is
cached in Valkey for ``TTL`` seconds and dropped after the commit of anything that can change
what an alias names: an account's creation (an alias reused after a delete) and its deletion.

Only found aliases are cached, so a new account is seen at once. Valkey is a shortcut, never the
authority: when it does not answer, PostgreSQL does (every call has the cache's 0.5 s timeout).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.core.cache import cache
from django.db import transaction

from onboarding.models import Account

logger = logging.getLogger(__name__)
TTL = 300


def _key(ledger_id: Any, alias: str) -> str:
    return f"alias:v1:{ledger_id}:{alias}"


def account_types(ledger_id: Any, aliases: Iterable[str]) -> dict[str, str]:
    """The account type of each alias that names a live account of the ledger."""
    wanted = set(aliases)
    keys = {_key(ledger_id, alias): alias for alias in wanted}
    try:
        cached: dict[str, Any] = cache.get_many(list(keys))
    except Exception:
        logger.warning("alias cache unavailable", exc_info=True)
        cached = {}
    types = {keys[key]: entry["type"] for key, entry in cached.items()}
    missing = wanted - types.keys()
    if missing:
        rows = Account.objects.filter(ledger_id=ledger_id, alias__in=missing).values_list(
            "alias", "id", "type"
        )
        fresh = {alias: {"account": str(pk), "type": kind} for alias, pk, kind in rows}
        types.update({alias: entry["type"] for alias, entry in fresh.items()})
        try:
            cache.set_many({_key(ledger_id, a): e for a, e in fresh.items()}, timeout=TTL)
        except Exception:
            logger.warning("alias cache unavailable", exc_info=True)
    return types


def forget(ledger_id: Any, alias: str) -> None:
    """What ``alias`` names is changing: drop its entry once the change commits (and now, so
    that a reader inside the same transaction does not see the old one)."""
    key = _key(ledger_id, alias)

    def drop() -> None:
        try:
            cache.delete(key)
        except Exception:
            logger.warning("alias cache unavailable", exc_info=True)

    drop()
    transaction.on_commit(drop)
