"""Resolution of a posting's entries to exact amounts (SEMANTICS.md §3), in a single pass.

Pure Python and exact: ``Decimal`` arithmetic in a wide context that traps any inexact result,
so nothing is ever rounded.
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from midaz.exceptions import BusinessRuleViolation
from transactions.spec import Entry, TransactionSpec

# Wide enough for any amount the API accepts; an inexact step would raise, never round.
EXACT = decimal.Context(
    prec=200, traps=[decimal.Inexact, decimal.InvalidOperation, decimal.Overflow]
)
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Leg:
    """A resolved entry: which balance moves, by how much, on which side."""

    entry: Entry
    is_source: bool
    index: int
    amount: Decimal


@dataclass(frozen=True)
class Resolution:
    sources: tuple[Leg, ...]
    destinations: tuple[Leg, ...]

    @property
    def legs(self) -> tuple[Leg, ...]:
        return self.sources + self.destinations


def _resolve_side(
    value: Decimal, entries: Sequence[Entry], is_source: bool
) -> tuple[Decimal, list[Leg]]:
    total = Decimal(0)
    left = value
    legs: list[Leg] = []
    for index, entry in enumerate(entries):
        amount = Decimal(0)
        if entry.share is not None and entry.share.percentage != 0:
            of = entry.share.percentage_of_percentage or 100
            amount = EXACT.multiply(
                EXACT.multiply(value, EXACT.divide(Decimal(entry.share.percentage), HUNDRED)),
                EXACT.divide(Decimal(of), HUNDRED),
            )
            total, left = EXACT.add(total, amount), EXACT.subtract(left, amount)
        if entry.amount is not None and entry.amount > 0:
            amount = entry.amount
            total, left = EXACT.add(total, amount), EXACT.subtract(left, amount)
        if entry.remaining:
            amount = left  # the leftover at this position (later entries do not change it)
            total = EXACT.add(total, left)
        legs.append(Leg(entry=entry, is_source=is_source, index=index, amount=amount))
    return total, legs


def resolve(spec: TransactionSpec) -> Resolution:
    """Resolve both sides. Raises 0125 (value not positive), 0073 (sides do not match the
    value), 0090 (the same balance at the same index on both sides)."""
    if spec.value <= 0:
        raise BusinessRuleViolation("send.value must be greater than zero.", code="0125")
    try:
        from_total, sources = _resolve_side(spec.value, spec.sources, True)
        to_total, destinations = _resolve_side(spec.value, spec.destinations, False)
    except decimal.DecimalException:
        raise BusinessRuleViolation(
            "The amounts cannot be computed exactly.", code="0125"
        ) from None
    if from_total != spec.value or to_total != spec.value:
        raise BusinessRuleViolation(
            f"The sources ({from_total}) and destinations ({to_total}) must both add up to "
            f"send.value ({spec.value}).",
            code="0073",
        )
    source_keys = {(leg.index, leg.entry.account_alias, leg.entry.balance_key) for leg in sources}
    for leg in destinations:
        if (leg.index, leg.entry.account_alias, leg.entry.balance_key) in source_keys:
            raise BusinessRuleViolation(
                f"{leg.entry.account_alias} is both a source and a destination at position "
                f"{leg.index}.",
                code="0090",
            )
    return Resolution(tuple(sources), tuple(destinations))
