"""Alias lookups through Valkey: which account, of which type, an alias names in a ledger.

A posting names accounts by alias. Its balances are found by alias inside ``midaz_post``, in the
same round trip that locks them, so no cache could spare a query there. What runs before that
round trip reads accounts too: with ``validateRoutes`` on, an operation route's
``account_type`` rule needs each alias's account type. That answer is the same for the whole
life of an account (neither the alias nor the type of an account can be changed), so it is
cached in Valkey for ``TTL`` seconds and dropped after the commit of anything that can change
what an alias names: an account's creation (an alias reused after a delete) and its deletion.

A reader that was slow (it read PostgreSQL before a deletion, and writes to Valkey after the
deletion dropped the entry) must not put the old answer back: every alias has a generation in
Valkey, which ``forget`` replaces; an entry holds the generation read before its database read,
and an entry of another generation is ignored. PostgreSQL is read on the primary (a lagging
replica may still show an account just deleted, or not yet one just created).

Only found aliases are cached, so a new account is seen at once. Valkey is a shortcut, never the
authority: when it does not answer, PostgreSQL does (every call has the cache's 0.5 s timeout).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from typing import Any

from django.core.cache import cache
from django.db import transaction

from midaz.db_router import PRIMARY
from onboarding.models import Account

logger = logging.getLogger(__name__)
TTL = 300


def _key(ledger_id: Any, alias: str) -> str:
    return f"alias:v1:{ledger_id}:{alias}"


def _generation_key(ledger_id: Any, alias: str) -> str:
    return f"alias-gen:v1:{ledger_id}:{alias}"


# "0" until the alias is first forgotten; an entry of generation "0" holds no "gen" field.
_FIRST = "0"


def account_types(ledger_id: Any, aliases: Iterable[str]) -> dict[str, str]:
    """The account type of each alias that names a live account of the ledger."""
    wanted = set(aliases)
    keys = {_key(ledger_id, alias): alias for alias in wanted}
    gen_keys = {alias: _generation_key(ledger_id, alias) for alias in wanted}
    try:
        found: dict[str, Any] | None = cache.get_many([*keys, *gen_keys.values()])
    except Exception:
        logger.warning("alias cache unavailable", exc_info=True)
        found = None
    got = found or {}
    generation = {alias: str(got.get(gen_keys[alias]) or _FIRST) for alias in wanted}
    types: dict[str, str] = {}
    for key, alias in keys.items():
        entry = got.get(key)
        if isinstance(entry, dict) and str(entry.get("gen", _FIRST)) == generation[alias]:
            types[alias] = entry["type"]
    missing = wanted - types.keys()
    if missing:
        rows = (
            Account.objects.using(PRIMARY)
            .filter(ledger_id=ledger_id, alias__in=missing)
            .values_list("alias", "id", "type")
        )
        fresh = {alias: {"account": str(pk), "type": kind} for alias, pk, kind in rows}
        types.update({alias: entry["type"] for alias, entry in fresh.items()})
        for alias, entry in fresh.items():
            if generation[alias] != _FIRST:
                entry["gen"] = generation[alias]
        if found is not None and fresh:
            try:
                cache.set_many({_key(ledger_id, a): e for a, e in fresh.items()}, timeout=TTL)
            except Exception:
                logger.warning("alias cache unavailable", exc_info=True)
    return types


def forget(ledger_id: Any, alias: str) -> None:
    """What ``alias`` names is changing: give it a new generation (which voids any entry, even
    one a slow reader writes later) and drop its entry, now (a reader inside the same
    transaction must not see the old one) and once the change commits."""
    key, gen_key = _key(ledger_id, alias), _generation_key(ledger_id, alias)

    def drop() -> None:
        try:
            # Outlives every entry written under the old generation (TTL).
            cache.set(gen_key, uuid.uuid4().hex, timeout=TTL * 10)
            cache.delete(key)
        except Exception:
            logger.warning("alias cache unavailable", exc_info=True)

    drop()
    transaction.on_commit(drop)
