"""Ledger settings (MIDAZ_API.md §2.2): defaults, validation of a patch, deep merge.

A ledger row stores only the values that differ from the defaults; reads merge them over the
defaults, so a new default reaches every ledger that never changed it.
"""

from __future__ import annotations

import copy
import logging
import time
import uuid
from typing import Any

import orjson
from django.conf import settings as django_settings
from django.core.cache import cache

from midaz.db_router import PRIMARY
from midaz.exceptions import ValidationFailed
from onboarding.models import Ledger

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, dict[str, Any]] = {
    "accounting": {"validateAccountType": False, "validateRoutes": False, "requireHolder": False},
    "tracer": {"mode": "off", "failPosture": "open", "timeoutMs": 250},
    "overrides": {"allowFeeSkip": False, "allowTracerSkip": False, "allowHolderSkip": False},
}
_CHOICES = {
    ("tracer", "mode"): {"off", "advisory", "enforce"},
    ("tracer", "failPosture"): {"open", "closed"},
}
_NESTED_NAMES = {name: section for section, fields in DEFAULTS.items() for name in fields}
MAX_BYTES = 64 * 1024


def _error(message: str, code: str) -> ValidationFailed:
    return ValidationFailed(message, code=code, entity_type="LedgerSettings")


def validate_patch(patch: Any) -> dict[str, dict[str, Any]]:
    """Check a settings document (a subset of the sections) and return it."""
    if patch is None:
        return {}
    if len(orjson.dumps(patch)) > MAX_BYTES:
        raise _error("The settings document is larger than 64 KB.", "0143")
    if not isinstance(patch, dict):
        raise _error("The settings must be a JSON object.", "0148")
    for section, fields in patch.items():
        if section not in DEFAULTS:
            if section in _NESTED_NAMES:
                raise _error(
                    f"'{section}' belongs under '{_NESTED_NAMES[section]}', not at the root.",
                    "0149",
                )
            raise _error(f"Unknown settings field '{section}'.", "0147")
        if not isinstance(fields, dict):
            raise _error(f"The settings section '{section}' must be an object.", "0148")
        for name, value in fields.items():
            if name not in DEFAULTS[section]:
                raise _error(f"Unknown settings field '{section}.{name}'.", "0147")
            default = DEFAULTS[section][name]
            same_type = (
                isinstance(value, bool)
                if isinstance(default, bool)
                else isinstance(value, int) and not isinstance(value, bool)
                if isinstance(default, int)
                else isinstance(value, str)
            )
            if not same_type:
                raise _error(
                    f"The settings field '{section}.{name}' must be a {type(default).__name__}.",
                    "0148",
                )
            allowed = _CHOICES.get((section, name))
            if allowed is not None and value not in allowed:
                raise _error(
                    f"'{section}.{name}' must be one of {', '.join(sorted(allowed))}.", "0176"
                )
            if name == "timeoutMs" and value <= 0:
                raise _error("'tracer.timeoutMs' must be a positive integer.", "0176")
    return patch


def effective(stored: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The stored overrides merged over the defaults."""
    merged = copy.deepcopy(DEFAULTS)
    for section, fields in (stored or {}).items():
        merged.setdefault(section, {}).update(fields)
    return merged


def merge(stored: dict[str, Any] | None, patch: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``patch`` into the stored overrides, keeping only non-default values."""
    merged = effective(stored)
    for section, fields in patch.items():
        merged[section].update(fields)
    return {
        section: diff
        for section, fields in merged.items()
        if (diff := {k: v for k, v in fields.items() if DEFAULTS[section].get(k) != v})
    }


# --- the settings a posting needs, cached ---------------------------------------------------
#
# A posting that must know its ledger's settings (route validation) reads them through two
# caches: this process (LOCAL_TTL seconds) and, when the cache is shared between processes
# (Valkey), Valkey (SHARED_TTL seconds, dropped when the settings change). They decide what a
# write does, so a miss reads the primary: a lagging replica's old settings are never cached.
# A change reaches every process within LOCAL_TTL seconds. With an in-process cache only
# (no Valkey) nothing is shared, and each process reads the primary once per LOCAL_TTL.
#
# A reader that read the old settings just before a change commits could store them after the
# change dropped the shared copy. Every change therefore also replaces a generation token, and
# a shared copy is used only when it was read under the current token.

LOCAL_TTL = 1.0
SHARED_TTL = 60
_local: dict[str, tuple[float, dict[str, dict[str, Any]]]] = {}


def _cache_key(ledger_id: Any) -> str:
    return f"ledger-settings:v2:{ledger_id}"


def _generation_key(ledger_id: Any) -> str:
    return f"ledger-settings-gen:v2:{ledger_id}"


def shared_cache() -> bool:
    """Whether Django's cache is shared by every process (not the in-memory fallback)."""
    backend = str(django_settings.CACHES.get("default", {}).get("BACKEND", ""))
    return not backend.endswith(("LocMemCache", "DummyCache"))


def _from_primary(ledger_id: str) -> dict[str, dict[str, Any]]:
    stored = (
        Ledger.all_objects.using(PRIMARY)
        .filter(pk=ledger_id)
        .values_list("settings", flat=True)
        .first()
    )
    return effective(stored)


def cached(ledger_id: Any) -> dict[str, dict[str, Any]]:
    """The effective settings of a ledger (defaults when the ledger does not exist: the
    posting itself then fails with 0037)."""
    ledger_id = str(ledger_id)  # a UUID or its text: one entry either way
    now = time.monotonic()
    hit = _local.get(ledger_id)
    if hit is not None and hit[0] > now:
        return hit[1]
    if not shared_cache():
        value = _from_primary(ledger_id)
    else:
        key, gen_key = _cache_key(ledger_id), _generation_key(ledger_id)
        try:
            found = cache.get_many([key, gen_key])
        except Exception:
            logger.warning("ledger settings cache unavailable", exc_info=True)
            found = None
        generation = (found or {}).get(gen_key) or "0"
        raw = (found or {}).get(key)
        shared = orjson.loads(raw) if raw is not None else None
        if isinstance(shared, dict) and shared.get("gen") == generation:
            value = shared["value"]
        else:
            value = _from_primary(ledger_id)
            if found is not None:
                try:
                    cache.set(
                        key,
                        orjson.dumps({"gen": generation, "value": value}),
                        timeout=SHARED_TTL,
                    )
                except Exception:
                    logger.warning("ledger settings cache unavailable", exc_info=True)
    _local[ledger_id] = (now + LOCAL_TTL, value)
    return value


def forget(ledger_id: Any) -> None:
    """Called when a ledger's settings change (before and after the change commits)."""
    ledger_id = str(ledger_id)
    _local.pop(ledger_id, None)
    if not shared_cache():
        return
    try:
        cache.set_many({_generation_key(ledger_id): uuid.uuid4().hex}, timeout=SHARED_TTL * 10)
        cache.delete(_cache_key(ledger_id))
    except Exception:
        logger.warning("ledger settings cache unavailable", exc_info=True)


# --- the organization of a ledger -------------------------------------------------------------
#
# A ledger never changes organization, so the pair is cached in this process for good once read
# (on the primary: a ledger created a moment ago is found). A posting checks it before it reads
# anything else of the ledger (caches, settings, routes, rates, aliases): no answer may depend on
# a ledger of another organization. Unknown ledgers are not remembered (a flood of random ids
# cannot grow the map); the map is emptied if it ever holds MAX_OWNERS entries.

MAX_OWNERS = 100_000
_owners: dict[uuid.UUID, uuid.UUID] = {}


def _as_uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def organization_of(ledger_id: Any) -> uuid.UUID | None:
    """The id of the organization that owns the ledger, deleted or not; None when no such
    ledger was ever created, or when its organization is deleted (deleting an organization
    deletes its ledgers, which ``midaz_post`` refuses; a ledger left alive under an
    organization deleted before that rule is refused here, and never remembered)."""
    ledger_id = _as_uuid(ledger_id)
    owner = _owners.get(ledger_id)
    if owner is None:
        found = (
            Ledger.all_objects.using(PRIMARY)
            .filter(pk=ledger_id)
            .values_list("organization_id", "organization__deleted_at")
            .first()
        )
        if found is None or found[1] is not None:
            return None
        if len(_owners) >= MAX_OWNERS:
            _owners.clear()
        owner = _owners[ledger_id] = _as_uuid(found[0])
    return owner


def owned_by(ledger_id: Any, organization_id: Any) -> bool:
    """Whether the ledger exists (or existed) in the organization."""
    return organization_of(ledger_id) == _as_uuid(organization_id)
