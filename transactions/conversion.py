"""Cross-asset postings at a rate (beyond Midaz, which stores asset rates but never uses them).

A posting is written in one asset (``send.asset``, A). An entry whose ``rate`` names another
asset (``rate.to`` = X, with ``rate.from`` = A) moves a balance held in X: its amount resolves
in A as every entry does, then becomes ``amount * rate`` in X, exactly (``Decimal``, no
rounding). The rate is the entry's ``rate.value`` or, when that is absent, the ledger's stored
rate for the pair A→X (``PUT .../asset-rates``; one past its ``ttl`` is not used).

Each asset balances on its own: the conversion crosses the ledger's boundary through the
external accounts, so a converted destination adds ``CREDIT @external/A`` (the A that left)
and ``DEBIT @external/X`` (the X that arrived), and a converted source the mirror pair. Every
operation of a conversion records the rate used: ``{from, to, value, externalId, amount}``
(``amount`` in A), and the two external ones name the entry they convert (``of``).

An entry whose ``rate`` names the posting's own asset, or no asset, keeps the single-asset
behaviour: the rate is informational, as in Midaz.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings

from midaz.api.validation import amount_digits
from midaz.db_router import PRIMARY
from midaz.exceptions import BusinessRuleViolation, ValidationFailed, not_found
from transactions.models import AssetRate
from transactions.resolve import EXACT, Leg, Resolution
from transactions.spec import Entry, Rate, TransactionSpec

ENTITY = "Transaction"


@dataclass(frozen=True)
class Conversion:
    """How one resolved leg converts: ``amount`` of ``asset`` for ``source_amount`` of the
    posting's asset, at ``rate``."""

    from_asset: str
    asset: str
    rate: Decimal
    external_id: str
    source_amount: Decimal
    amount: Decimal

    def record(self) -> dict[str, Any]:
        """The rate as the operations record it (amounts as exact decimal strings)."""
        return {
            "from": self.from_asset,
            "to": self.asset,
            "value": str(self.rate),
            "externalId": self.external_id,
            "amount": str(self.source_amount),
        }


def _field(leg: Leg, name: str) -> str:
    side = "send.source.from" if leg.is_source else "send.distribute.to"
    return f"{side}[{leg.index}].rate.{name}"


def _stored_rate(ledger_id: Any, pair: tuple[str, str], now: datetime) -> tuple[Decimal, str]:
    """The ledger's live rate for the pair: 404 0007 when it has none (or only an expired
    one), 422 0125 when the stored rate is not positive."""
    # A money decision: read on the primary (a lagging replica may hold the previous rate).
    stored = (
        AssetRate.objects.without_metadata()
        .using(PRIMARY)
        .filter(ledger_id=ledger_id, from_asset=pair[0], to_asset=pair[1])
        .first()
    )
    if stored is None or (stored.ttl and stored.updated_at + timedelta(seconds=stored.ttl) < now):
        state = "no" if stored is None else "only an expired"
        raise not_found(
            "0007",
            "AssetRate",
            f"The ledger has {state} rate from {pair[0]} to {pair[1]}; name one in the entry's "
            "rate.value or PUT it in .../asset-rates.",
        )
    if stored.value <= 0:
        raise BusinessRuleViolation(
            f"The ledger's rate from {pair[0]} to {pair[1]} is not positive.",
            code="0125",
            entity_type=ENTITY,
        )
    return stored.value, str(stored.external_id)


def _converted(amount: Decimal, rate: Decimal) -> Decimal:
    """``amount * rate``, exact, within the digit limit of amounts (MAX_AMOUNT_DIGITS): a
    balance credited more digits than any posting can carry could never be emptied. Zeros
    the product only gains as decimal places are dropped before the limit is applied. Raises
    0125 when it cannot be computed exactly or has too many digits."""
    try:
        product = EXACT.multiply(amount, rate)
        limit = settings.MAX_AMOUNT_DIGITS
        if amount_digits(product) > limit:
            trimmed = product.normalize(EXACT)
            if trimmed.as_tuple().exponent > 0:  # type: ignore[operator]
                trimmed = trimmed.quantize(Decimal(1), context=EXACT)
            product = trimmed
    except decimal.DecimalException:
        raise BusinessRuleViolation(
            "The converted amount cannot be computed exactly.", code="0125", entity_type=ENTITY
        ) from None
    if amount_digits(product) > limit:
        raise BusinessRuleViolation(
            f"The converted amount {amount} x {rate} has more than {limit} digits, the limit "
            "of amounts.",
            code="0125",
            entity_type=ENTITY,
        )
    return product


def conversions(
    ledger_id: Any, spec: TransactionSpec, resolution: Resolution, now: datetime
) -> dict[tuple[bool, int], Conversion]:
    """The conversion of each leg that asks for one, keyed by (is_source, index). Raises 0047
    (a rate not from the posting's asset, or not positive), 0007 (no usable stored rate),
    0125 (a stored rate not positive, or an amount that cannot be computed exactly)."""
    found: dict[tuple[bool, int], Conversion] = {}
    stored: dict[tuple[str, str], tuple[Decimal, str]] = {}
    for leg in resolution.legs:
        rate = leg.entry.rate
        if rate is None or not rate.to_asset or rate.to_asset == spec.asset:
            continue  # informational, as in Midaz
        if rate.from_asset != spec.asset:
            raise ValidationFailed(
                f"A rate converts from the posting's asset {spec.asset}, not from "
                f"{rate.from_asset or 'nothing'}.",
                code="0047",
                entity_type=ENTITY,
                fields={_field(leg, "from"): rate.from_asset},
            )
        if rate.value < 0:
            raise ValidationFailed(
                "A rate must be greater than zero.",
                code="0047",
                entity_type=ENTITY,
                fields={_field(leg, "value"): str(rate.value)},
            )
        value, external_id = rate.value, rate.external_id
        if value == 0:  # absent: the ledger's rate for the pair
            pair = (spec.asset, rate.to_asset)
            if pair not in stored:
                stored[pair] = _stored_rate(ledger_id, pair, now)
            value, stored_id = stored[pair]
            external_id = external_id or stored_id
        amount = _converted(leg.amount, value)
        found[(leg.is_source, leg.index)] = Conversion(
            from_asset=spec.asset,
            asset=rate.to_asset,
            rate=value,
            external_id=external_id,
            source_amount=leg.amount,
            amount=amount,
        )
    return found


def with_rates_used(
    spec: TransactionSpec, found: dict[tuple[bool, int], Conversion]
) -> TransactionSpec:
    """The spec with each converted entry's rate fixed to the one used, so that the commit or
    cancel of a pending posting converts at the rate of its hold."""

    def fixed(entries: tuple[Entry, ...], is_source: bool) -> tuple[Entry, ...]:
        out = []
        for index, entry in enumerate(entries):
            conv = found.get((is_source, index))
            if conv is not None:
                entry = replace(
                    entry, rate=Rate(conv.from_asset, conv.asset, conv.rate, conv.external_id)
                )
            out.append(entry)
        return tuple(out)

    return replace(
        spec,
        sources=fixed(spec.sources, True),
        destinations=fixed(spec.destinations, False),
    )


def reversal_entry_rate(record: dict[str, Any] | None) -> tuple[Decimal, Rate] | None:
    """For an operation that recorded a conversion of its own entry: the entry's amount in the
    posting's asset and the rate to convert the reversal at (the original's, not today's).
    None for an unconverted operation."""
    if not record or "of" in record:
        return None
    return Decimal(record["amount"]), Rate(
        record["from"], record["to"], Decimal(record["value"]), record.get("externalId") or ""
    )


def is_counterpart(record: dict[str, Any] | None) -> bool:
    """An external account's side of a conversion: a reversal rebuilds it, never mirrors it."""
    return bool(record) and "of" in (record or {})
