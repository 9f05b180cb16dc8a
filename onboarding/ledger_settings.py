"""Ledger settings (MIDAZ_API.md §2.2): defaults, validation of a patch, deep merge.

A ledger row stores only the values that differ from the defaults; reads merge them over the
defaults, so a new default reaches every ledger that never changed it.
"""

from __future__ import annotations

import copy
import logging
import time
from typing import Any

import orjson
from django.core.cache import cache

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
# caches: this process (LOCAL_TTL seconds) and Valkey (SHARED_TTL seconds, deleted when the
# settings change). A change therefore reaches every process within LOCAL_TTL seconds; without
# Valkey, the database answers.

LOCAL_TTL = 1.0
SHARED_TTL = 60
_local: dict[str, tuple[float, dict[str, dict[str, Any]]]] = {}


def _cache_key(ledger_id: Any) -> str:
    return f"ledger-settings:v1:{ledger_id}"


def cached(ledger_id: Any) -> dict[str, dict[str, Any]]:
    """The effective settings of a ledger (defaults when the ledger does not exist: the
    posting itself then fails with 0037)."""
    ledger_id = str(ledger_id)  # a UUID or its text: one entry either way
    now = time.monotonic()
    hit = _local.get(ledger_id)
    if hit is not None and hit[0] > now:
        return hit[1]
    try:
        raw = cache.get(_cache_key(ledger_id))
    except Exception:
        logger.warning("ledger settings cache unavailable", exc_info=True)
        raw = None
    if raw is None:
        stored = Ledger.objects.filter(pk=ledger_id).values_list("settings", flat=True).first()
        value = effective(stored)
        try:
            cache.set(_cache_key(ledger_id), orjson.dumps(value), timeout=SHARED_TTL)
        except Exception:
            logger.warning("ledger settings cache unavailable", exc_info=True)
    else:
        value = orjson.loads(raw)
    _local[ledger_id] = (now + LOCAL_TTL, value)
    return value


def forget(ledger_id: Any) -> None:
    """Called when a ledger's settings change."""
    ledger_id = str(ledger_id)
    _local.pop(ledger_id, None)
    try:
        cache.delete(_cache_key(ledger_id))
    except Exception:
        logger.warning("ledger settings cache unavailable", exc_info=True)
