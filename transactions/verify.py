"""The ledger's invariants, checked in SQL (``manage.py verify_ledger``).

1. Every balance equals the replay of its operations: the chain of before/after snapshots is
   unbroken from zero, each step moves exactly the operation's amount in the way its type and
   the balance's direction say, and the last step equals the stored balance.
2. Per ledger and asset, the signed sum of all balances is zero: credit-direction balances
   count ``available + onHold``, debit-direction ones ``-(available - onHold)``.
3. No balance of a non-external account is negative.
4. Every transaction's operations balance: debits equal credits equal the amount, holds equal
   the amount, a cancel releases what was held.
"""

# The SQL below is assembled only from constants (a fixed ledger filter); every value is a
# bound parameter, so the string building is not an injection vector.
# ruff: noqa: S608

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.db import connection

_LEDGER_FILTER = "(%(ledger)s::uuid IS NULL OR {alias}.ledger_id = %(ledger)s::uuid)"

# Each check yields rows (first column: the entity id) that violate an invariant.
_CHECKS: dict[str, str] = {
    "operation step": f"""
        SELECT o.id::text, o.type, b.direction, o.amount,
               o.available_after - o.available_before, o.on_hold_after - o.on_hold_before
          FROM transactions_operation o JOIN transactions_balance b ON b.id = o.balance_id
         WHERE o.balance_affected AND {_LEDGER_FILTER.format(alias="o")}
           AND (o.version_after <> o.version_before + 1 OR NOT (
                CASE CASE WHEN o.type IN ('BLOCK', 'UNBLOCK') AND o.direction = 'credit'
                          THEN 'CREDIT' ELSE o.type END
                  WHEN 'CREDIT' THEN o.on_hold_after = o.on_hold_before
                       AND o.available_after - o.available_before
                           = CASE WHEN b.direction = 'debit' THEN -o.amount ELSE o.amount END
                  WHEN 'ON_HOLD' THEN (o.on_hold_after - o.on_hold_before = o.amount
                       AND o.available_after - o.available_before
                           = CASE WHEN b.direction = 'debit' THEN o.amount ELSE -o.amount END)
                       -- split by routes (SEMANTICS.md §5.2): the hold's or the commit's half
                       OR (o.available_after = o.available_before
                           AND abs(o.on_hold_after - o.on_hold_before) = o.amount)
                  WHEN 'RELEASE' THEN (o.on_hold_after - o.on_hold_before = -o.amount
                       AND o.available_after - o.available_before
                           = CASE WHEN b.direction = 'debit' THEN -o.amount ELSE o.amount END)
                       OR (o.available_after = o.available_before
                           AND o.on_hold_after - o.on_hold_before = -o.amount)
                  -- DEBIT (direct, or the settlement of a hold), debit-side BLOCK, UNBLOCK
                  ELSE (o.on_hold_after = o.on_hold_before
                        AND o.available_after - o.available_before
                            = CASE WHEN b.direction = 'debit' THEN o.amount ELSE -o.amount END)
                    OR (o.available_after = o.available_before
                        AND o.on_hold_after - o.on_hold_before = -o.amount)
                END))
    """,
    "snapshot chain": f"""
        SELECT id::text, balance_id::text, version_before, prev_version
          FROM (SELECT o.id, o.balance_id, o.version_before, o.available_before,
                       o.on_hold_before,
                       lag(o.version_after, 1, 0::bigint) OVER w AS prev_version,
                       lag(o.available_after, 1, 0::numeric) OVER w AS prev_available,
                       lag(o.on_hold_after, 1, 0::numeric) OVER w AS prev_on_hold
                  FROM transactions_operation o
                 WHERE o.balance_affected AND {_LEDGER_FILTER.format(alias="o")}
                WINDOW w AS (PARTITION BY o.balance_id ORDER BY o.version_after)) AS chain
         WHERE version_before <> prev_version OR available_before <> prev_available
            OR on_hold_before <> prev_on_hold
    """,
    "balance replay": f"""
        SELECT b.id::text, b.alias, b.key, b.available, b.on_hold, b.version,
               last.available_after, last.on_hold_after, last.version_after
          FROM transactions_balance b
          LEFT JOIN LATERAL (
                SELECT o.available_after, o.on_hold_after, o.version_after
                  FROM transactions_operation o
                 WHERE o.balance_id = b.id AND o.balance_affected
                 ORDER BY o.version_after DESC LIMIT 1) AS last ON true
         WHERE {_LEDGER_FILTER.format(alias="b")}
           AND (b.available <> coalesce(last.available_after, 0)
                OR b.on_hold <> coalesce(last.on_hold_after, 0)
                OR b.version <> coalesce(last.version_after, 0))
    """,
    "asset sum": f"""
        SELECT b.ledger_id::text, b.asset_code,
               sum(CASE WHEN b.direction = 'debit' THEN -(b.available - b.on_hold)
                        ELSE b.available + b.on_hold END) AS signed_sum
          FROM transactions_balance b
         WHERE {_LEDGER_FILTER.format(alias="b")}
         GROUP BY b.ledger_id, b.asset_code
        HAVING sum(CASE WHEN b.direction = 'debit' THEN -(b.available - b.on_hold)
                        ELSE b.available + b.on_hold END) <> 0
    """,
    "negative balance": f"""
        SELECT b.id::text, b.alias, b.key, b.available, b.on_hold
          FROM transactions_balance b
         WHERE {_LEDGER_FILTER.format(alias="b")} AND b.account_type <> 'external'
           AND b.direction = 'credit' AND (b.available < 0 OR b.on_hold < 0)
    """,
    "transaction sums": f"""
        SELECT t.id::text, t.status, t.amount, s.debits, s.credits, s.holds, s.releases
          FROM transactions_transaction t
          JOIN LATERAL (
                SELECT coalesce(sum(o.amount) FILTER (
                           WHERE o.direction = 'debit' AND o.type <> 'ON_HOLD'), 0) AS debits,
                       coalesce(sum(o.amount) FILTER (
                           WHERE o.direction = 'credit' AND o.type <> 'RELEASE'), 0) AS credits,
                       coalesce(sum(o.amount) FILTER (WHERE o.type = 'ON_HOLD'), 0) AS holds,
                       coalesce(sum(o.amount) FILTER (WHERE o.type = 'RELEASE'), 0) AS releases
                  FROM transactions_operation o WHERE o.transaction_id = t.id) AS s ON true
         WHERE {_LEDGER_FILTER.format(alias="t")} AND NOT (
               CASE t.status
                 -- a hold as one ON_HOLD per leg, or split by routes into DEBIT + ON_HOLD
                 WHEN 'PENDING' THEN s.holds = t.amount AND s.credits = 0
                      AND (s.debits = 0 OR s.debits = t.amount)
                 WHEN 'CANCELED' THEN s.holds = t.amount AND s.releases = t.amount
                      AND ((s.debits = 0 AND s.credits = 0)
                           OR (s.debits = t.amount AND s.credits = t.amount))
                 ELSE s.debits = t.amount AND s.credits = t.amount
                      AND s.holds IN (0, t.amount, 2 * t.amount) AND s.releases = 0
               END)
    """,
}


@dataclass
class VerifyReport:
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _rows(sql: str, ledger_id: uuid.UUID | None) -> Iterator[tuple[object, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, {"ledger": str(ledger_id) if ledger_id else None})
        while batch := cursor.fetchmany(500):
            yield from batch


def ledger_verify(
    *, ledger_id: uuid.UUID | None = None, progress: Callable[[str], None] | None = None
) -> VerifyReport:
    """Run every check, on one ledger or on all. Reads only; takes no locks (the checks read one
    consistent snapshot when run inside a REPEATABLE READ transaction by the command)."""
    report = VerifyReport()
    for name, sql in _CHECKS.items():
        for row in _rows(sql, ledger_id):
            report.problems.append(f"{name}: {', '.join(str(v) for v in row)}")
        report.checked.append(name)
        if progress is not None:
            progress(name)
    return report
