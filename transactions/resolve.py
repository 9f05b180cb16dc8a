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
from transactions.spec import Entry, Share, TransactionSpec

# Wide enough for any amount the API accepts; an inexact step would raise, never round.
EXACT = decimal.Context(
    prec=200, traps=[decimal.Inexact, decimal.InvalidOperation, decimal.Overflow]
)
HUNDRED = Decimal(100)
_PERCENT_MIN = Decimal(0)


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


def _share_amount(value: Decimal, share: Share) -> Decimal:
    """``value * percentage/100 * of/100``, with both percentages bounded to 0..100 (an
    unbounded share could push another leg of the same side below zero)."""
    of = share.percentage_of_percentage
    for name, pct in (("percentage", share.percentage), ("percentageOfPercentage", of)):
        if not _PERCENT_MIN <= Decimal(pct) <= HUNDRED:
            raise BusinessRuleViolation(
                f"share.{name} must be between 0 and 100, not {pct}.", code="0125"
            )
    return EXACT.multiply(
        EXACT.multiply(value, EXACT.divide(Decimal(share.percentage), HUNDRED)),
        EXACT.divide(Decimal(of or 100), HUNDRED),
    )


def _resolve_side(
    value: Decimal, entries: Sequence[Entry], is_source: bool
) -> tuple[Decimal, list[Leg]]:
    total = Decimal(0)
    left = value
    legs: list[Leg] = []
    side = "from" if is_source else "to"
    for index, entry in enumerate(entries):
        amount = Decimal(0)
        if entry.share is not None:
            amount = _share_amount(value, entry.share)
            total, left = EXACT.add(total, amount), EXACT.subtract(left, amount)
        if entry.amount is not None:
            if entry.amount < 0:
                raise BusinessRuleViolation(
                    f"The amount of {entry.account_alias} ({side}[{index}]) must not be negative.",
                    code="0125",
                )
            amount = entry.amount
            total, left = EXACT.add(total, amount), EXACT.subtract(left, amount)
        if entry.remaining:
            if left < 0:
                raise BusinessRuleViolation(
                    f"The entries before {entry.account_alias} ({side}[{index}]) already add "
                    f"up to more than send.value ({value}): nothing remains.",
                    code="0073",
                )
            amount = left  # the leftover at this position (later entries do not change it)
            total = EXACT.add(total, left)
        if amount < 0:
            # A negative leg would run a balance the wrong way, and a worker could never
            # insert it (operation_amount_not_negative).
            raise BusinessRuleViolation(
                f"{entry.account_alias} ({side}[{index}]) resolves to {amount}; an entry "
                "cannot move a negative amount.",
                code="0125",
            )
        if amount == 0:
            # An entry that moves nothing (an amount or a share of 0, a remaining with nothing
            # left) is no leg at all: the apply step would write no operation for it.
            continue
        legs.append(Leg(entry=entry, is_source=is_source, index=index, amount=amount))
    return total, legs


def resolve(spec: TransactionSpec) -> Resolution:
    """Resolve both sides. Raises 0125 (value not positive, a share outside 0..100, a
    negative amount or leg), 0073 (sides do not match the value, nothing remains for a
    ``remaining`` entry), 0090 (the same balance at the same index on both sides).

    Whatever is accepted has every leg > 0 and each side adding up to the value exactly: the
    apply step (and an asynchronous worker) can insert it without breaking a constraint. An
    entry that resolves to exactly 0 moves nothing and is left out of the legs (Midaz's test
    vectors post zero-amount entries; the apply step always skipped them)."""
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
    # Over the entries, those that move nothing included.
    source_keys = {
        (index, entry.account_alias, entry.balance_key) for index, entry in enumerate(spec.sources)
    }
    for index, entry in enumerate(spec.destinations):
        if (index, entry.account_alias, entry.balance_key) in source_keys:
            raise BusinessRuleViolation(
                f"{entry.account_alias} is both a source and a destination at position {index}.",
                code="0090",
            )
    return Resolution(tuple(sources), tuple(destinations))
