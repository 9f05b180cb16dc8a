"""Rewrites the overdraft settings stored before ``overdraftLimit`` was checked as canonical
decimal text (transactions/balances.py ``overdraft_limit_text``), so that ``midaz_post``, which
casts the limit to ``numeric``, never meets one it cannot read (a posting on such a balance
was a 500).

For each balance whose settings carry ``overdraftLimit`` or enable the limit:

- a limit Python reads as a finite number greater than zero, of at most MAX_AMOUNT_DIGITS
  digits (``" 100 "``, ``"1_000"``, ``"1e3"``, a JSON number) is stored as its canonical text
  (``"100"``, ``"1000"``);
- a limit that cannot be read (``"abc"``, ``"NaN"``, ``"-5"``, ``"0"``, too many digits, or
  none at all while the limit is enabled) is disabled the safe way: a balance that owes
  overdraft keeps ``allowOverdraft`` with the limit set to what it owes (it can repay, not
  borrow more); one that owes nothing has overdraft turned off (``allowOverdraft`` false);
- a limit stored while the limit is disabled is dropped (midaz_post never reads it).

Each balance changed is printed with its id, the old and the new settings. Not reversible
(the old values could not be used anyway).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings as django_settings
from django.db import migrations
from django.db.models import Q

_CANONICAL = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)


def _digits(value: Decimal) -> int:
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    return len(digits) + exponent if exponent >= 0 else max(len(digits), -exponent)


def canonical_limit(raw: Any) -> str | None:
    """The canonical text of a stored limit, or None when it is no usable limit."""
    if isinstance(raw, bool) or raw is None:
        return None
    value: Decimal | None
    if isinstance(raw, str) and _CANONICAL.fullmatch(raw):
        value = Decimal(raw)
    else:
        try:
            value = Decimal(str(raw).strip()) if isinstance(raw, str | int | float) else None
        except (InvalidOperation, ValueError):
            value = None
    if value is None or not value.is_finite() or value <= 0:
        return None
    text = format(value, "f")
    if _digits(Decimal(text)) > django_settings.MAX_AMOUNT_DIGITS:
        return None
    return text


def fixed_settings(current: dict[str, Any], overdraft_used: Decimal) -> dict[str, Any]:
    """The settings as they should be stored (``current`` when nothing needs to change)."""
    new = dict(current)
    enabled = new.get("overdraftLimitEnabled")
    if not isinstance(enabled, bool):
        enabled = False if enabled is None else str(enabled).strip().lower() == "true"
        new["overdraftLimitEnabled"] = enabled
    if not enabled:
        new.pop("overdraftLimit", None)
        return new
    limit = canonical_limit(new.get("overdraftLimit"))
    if limit is not None:
        new["overdraftLimit"] = limit
    elif overdraft_used > 0:
        new["overdraftLimit"] = format(overdraft_used, "f")
    else:
        new["allowOverdraft"] = False
        new["overdraftLimitEnabled"] = False
        new.pop("overdraftLimit", None)
    return new


def forwards(apps: Any, schema_editor: Any) -> None:
    balance_model = apps.get_model("transactions", "Balance")
    candidates = balance_model.objects.filter(
        Q(settings__has_key="overdraftLimit") | Q(settings__has_key="overdraftLimitEnabled")
    ).only("id", "settings", "overdraft_used")
    for balance in candidates.iterator():
        current = balance.settings if isinstance(balance.settings, dict) else {}
        new = fixed_settings(current, balance.overdraft_used)
        if new != current:
            print(f"  balance {balance.id}: settings {current} -> {new}")  # noqa: T201
            balance.settings = new
            balance.save(update_fields=["settings"])


class Migration(migrations.Migration):
    dependencies = [("transactions", "0025_midaz_post_balance_ids")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
