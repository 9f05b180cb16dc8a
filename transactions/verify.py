"""The ledger's invariants, checked in SQL (``manage.py verify_ledger``).

1. Every balance equals the replay of its operations: the chain of before/after snapshots is
   unbroken from zero, each step moves exactly the operation's amount in the way its type and
   the balance's direction say, and the last step equals the stored balance.
2. Per ledger and asset, the signed sum of all balances is zero: credit-direction balances
   count ``available + onHold``, debit-direction ones ``-(available - onHold)``.
3. No balance of a non-external account is negative.
4. Every transaction's operations balance: debits equal credits equal the amount, holds equal
   the amount, a cancel releases what was held. A leg's requested amount is what its operation
   moved plus what its overdraft companion moved (SEMANTICS.md §4.4); a converted entry's is
   the amount in the transaction's asset that its rate records.
5. Each asset balances within a transaction: per asset, debits equal credits once the money
   has moved (a cross-asset posting balances through the external accounts).
6. A reversal mirrors its original balance by balance: each balance gets back what the
   original moved on it (overdraft companions counted with the leg they complete).
7. Overdraft: each operation's overdraft change is the one its type allows; within a
   transaction, an account's overdraft companions move exactly what its balances drew from or
   repaid to overdraft; every account's internal ``overdraft`` balance equals the overdraft in
   use on its balances; no balance uses more overdraft than its enabled limit, and every
   enabled limit is canonical decimal text.
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
                CASE CASE WHEN o.type IN ('BLOCK', 'UNBLOCK', 'OVERDRAFT')
                               AND o.direction = 'credit'
                          THEN 'CREDIT' ELSE o.type END
                  WHEN 'CREDIT' THEN o.on_hold_after = o.on_hold_before
                       AND o.available_after - o.available_before
                           = CASE WHEN b.direction = 'debit' THEN -o.amount ELSE o.amount END
                  -- a hold moves the whole amount on hold; what overdraft gave (the rise of
                  -- overdraft_used) did not leave available
                  WHEN 'ON_HOLD' THEN (o.on_hold_after - o.on_hold_before = o.amount
                       AND o.available_after - o.available_before
                           = CASE WHEN b.direction = 'debit' THEN o.amount
                                  ELSE -(o.amount - (o.overdraft_used_after
                                                     - o.overdraft_used_before)) END)
                       -- split by routes (SEMANTICS.md §5.2): the hold's or the commit's half
                       OR (o.available_after = o.available_before
                           AND abs(o.on_hold_after - o.on_hold_before) = o.amount)
                  WHEN 'RELEASE' THEN (o.on_hold_after - o.on_hold_before = -o.amount
                       AND o.available_after - o.available_before
                           = CASE WHEN b.direction = 'debit' THEN -o.amount
                                  ELSE o.amount + (o.overdraft_used_after
                                                   - o.overdraft_used_before) END)
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
    "overdraft step": f"""
        SELECT o.id::text, o.type, o.direction, b.direction,
               o.overdraft_used_after - o.overdraft_used_before
          FROM transactions_operation o JOIN transactions_balance b ON b.id = o.balance_id
         WHERE o.balance_affected AND {_LEDGER_FILTER.format(alias="o")}
           AND o.overdraft_used_after <> o.overdraft_used_before
           -- only a credit-direction balance's own leg draws (debit side) or repays (credit)
           AND (b.direction <> 'credit' OR o.type = 'OVERDRAFT'
                OR o.overdraft_used_after < 0
                OR (o.direction = 'debit') <> (o.overdraft_used_after > o.overdraft_used_before))
    """,
    "snapshot chain": f"""
        SELECT id::text, balance_id::text, version_before, prev_version
          FROM (SELECT o.id, o.balance_id, o.version_before, o.available_before,
                       o.on_hold_before, o.overdraft_used_before,
                       lag(o.version_after, 1, 0::bigint) OVER w AS prev_version,
                       lag(o.available_after, 1, 0::numeric) OVER w AS prev_available,
                       lag(o.on_hold_after, 1, 0::numeric) OVER w AS prev_on_hold,
                       lag(o.overdraft_used_after, 1, 0::numeric) OVER w AS prev_overdraft
                  FROM transactions_operation o
                 WHERE o.balance_affected AND {_LEDGER_FILTER.format(alias="o")}
                WINDOW w AS (PARTITION BY o.balance_id ORDER BY o.version_after)) AS chain
         WHERE version_before <> prev_version OR available_before <> prev_available
            OR on_hold_before <> prev_on_hold OR overdraft_used_before <> prev_overdraft
    """,
    "balance replay": f"""
        SELECT b.id::text, b.alias, b.key, b.available, b.on_hold, b.version,
               b.overdraft_used, last.available_after, last.on_hold_after, last.version_after,
               last.overdraft_used_after
          FROM transactions_balance b
          LEFT JOIN LATERAL (
                SELECT o.available_after, o.on_hold_after, o.version_after,
                       o.overdraft_used_after
                  FROM transactions_operation o
                 WHERE o.balance_id = b.id AND o.balance_affected
                 ORDER BY o.version_after DESC LIMIT 1) AS last ON true
         WHERE {_LEDGER_FILTER.format(alias="b")}
           AND (b.available <> coalesce(last.available_after, 0)
                OR b.on_hold <> coalesce(last.on_hold_after, 0)
                OR b.version <> coalesce(last.version_after, 0)
                OR b.overdraft_used <> coalesce(last.overdraft_used_after, 0))
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
                -- In the transaction's asset: a leg's requested amount is its own movement
                -- plus its overdraft companion's; a converted entry's is the amount its rate
                -- records; the external legs of a conversion are checked per asset below.
                SELECT coalesce(sum(coalesce(o.converted, o.amount + o.drawn))
                           FILTER (WHERE o.direction = 'debit'
                                     AND o.type NOT IN ('ON_HOLD', 'OVERDRAFT')), 0) AS debits,
                       coalesce(sum(coalesce(o.converted, o.amount - o.drawn))
                           FILTER (WHERE o.direction = 'credit'
                                     AND o.type NOT IN ('RELEASE', 'OVERDRAFT')), 0) AS credits,
                       coalesce(sum(coalesce(o.converted, o.amount))
                           FILTER (WHERE o.type = 'ON_HOLD'), 0) AS holds,
                       coalesce(sum(coalesce(o.converted, o.amount))
                           FILTER (WHERE o.type = 'RELEASE'), 0) AS releases
                  FROM (SELECT o.type, o.direction, o.amount,
                               o.overdraft_used_after - o.overdraft_used_before AS drawn,
                               (o.rate ->> 'amount')::numeric AS converted
                          FROM transactions_operation o
                         WHERE o.transaction_id = t.id
                           AND NOT coalesce(o.rate ? 'of', false)) AS o) AS s ON true
         WHERE {_LEDGER_FILTER.format(alias="t")} AND NOT (
               CASE t.status
                 -- a hold as one ON_HOLD per leg, or split by routes into DEBIT + ON_HOLD
                 WHEN 'PENDING' THEN s.holds = t.amount AND s.credits = 0
                      AND (s.debits = 0 OR s.debits = t.amount)
                 -- accepted and not applied yet, or declined (asynchronous): nothing moved
                 WHEN 'CREATED' THEN s.debits = 0 AND s.credits = 0 AND s.holds = 0
                      AND s.releases = 0
                 WHEN 'DECLINED' THEN s.debits = 0 AND s.credits = 0 AND s.holds = 0
                      AND s.releases = 0
                 WHEN 'CANCELED' THEN s.holds = t.amount AND s.releases = t.amount
                      AND ((s.debits = 0 AND s.credits = 0)
                           OR (s.debits = t.amount AND s.credits = t.amount))
                 ELSE s.debits = t.amount AND s.credits = t.amount
                      AND s.holds IN (0, t.amount, 2 * t.amount) AND s.releases = 0
               END)
    """,
    "asset legs": f"""
        SELECT x.transaction_id::text, x.asset_code, x.debits, x.credits
          FROM (SELECT o.transaction_id, o.asset_code,
                       coalesce(sum(o.amount + o.overdraft_used_after - o.overdraft_used_before)
                           FILTER (WHERE o.direction = 'debit'
                                     AND o.type NOT IN ('ON_HOLD', 'OVERDRAFT')), 0) AS debits,
                       coalesce(sum(o.amount - o.overdraft_used_after + o.overdraft_used_before)
                           FILTER (WHERE o.direction = 'credit'
                                     AND o.type NOT IN ('RELEASE', 'OVERDRAFT')), 0) AS credits
                  FROM transactions_operation o
                  JOIN transactions_transaction t
                    ON t.id = o.transaction_id AND t.status <> 'PENDING'
                 WHERE {_LEDGER_FILTER.format(alias="o")}
                 GROUP BY 1, 2) AS x
         WHERE x.debits <> x.credits
    """,
    "overdraft companions": f"""
        SELECT coalesce(l.transaction_id, c.transaction_id)::text,
               coalesce(l.account_id, c.account_id)::text, l.used, c.moved
          FROM (SELECT o.transaction_id, o.account_id,
                       sum(o.overdraft_used_after - o.overdraft_used_before) AS used
                  FROM transactions_operation o
                 WHERE o.type <> 'OVERDRAFT' AND o.balance_affected
                   AND o.overdraft_used_after <> o.overdraft_used_before
                   AND {_LEDGER_FILTER.format(alias="o")}
                 GROUP BY 1, 2) AS l
          FULL JOIN
               (SELECT o.transaction_id, o.account_id,
                       sum(CASE WHEN o.direction = 'debit' THEN o.amount ELSE -o.amount END)
                           AS moved
                  FROM transactions_operation o
                 WHERE o.type = 'OVERDRAFT' AND {_LEDGER_FILTER.format(alias="o")}
                 GROUP BY 1, 2) AS c
            ON c.transaction_id = l.transaction_id AND c.account_id = l.account_id
         WHERE coalesce(l.used, 0) <> coalesce(c.moved, 0)
    """,
    "overdraft balance": f"""
        SELECT a.account_id::text, a.used, c.available, c.on_hold
          FROM (SELECT b.account_id, sum(b.overdraft_used) AS used
                  FROM transactions_balance b
                 WHERE b.key <> 'overdraft' AND {_LEDGER_FILTER.format(alias="b")}
                 GROUP BY 1) AS a
          LEFT JOIN transactions_balance c
            ON c.account_id = a.account_id AND c.key = 'overdraft' AND c.deleted_at IS NULL
         WHERE (c.id IS NULL AND a.used <> 0)
            OR (c.id IS NOT NULL AND (c.available <> a.used OR c.on_hold <> 0
                                      OR c.direction <> 'debit'
                                      OR c.settings ->> 'balanceScope' <> 'internal'))
    """,
    # A reversal gives back what its original moved, balance by balance: what the original
    # debited from a balance (the leg's own movement plus what its overdraft companion drew)
    # the reversal credits to that same balance, and the other way round. A reversal that
    # repays a sibling balance of the account instead still balances every other check.
    "reversal mirror": f"""
        SELECT r.id::text, m.balance_id::text, m.debited, m.credited, m.back_credited,
               m.back_debited
          FROM transactions_transaction r
          JOIN LATERAL (
                SELECT o.balance_id,
                       coalesce(sum(o.amount + o.drawn) FILTER (
                           WHERE o.transaction_id = r.parent_transaction_id
                             AND o.direction = 'debit'), 0) AS debited,
                       coalesce(sum(o.amount - o.drawn) FILTER (
                           WHERE o.transaction_id = r.parent_transaction_id
                             AND o.direction = 'credit'), 0) AS credited,
                       coalesce(sum(o.amount - o.drawn) FILTER (
                           WHERE o.transaction_id = r.id AND o.direction = 'credit'), 0)
                           AS back_credited,
                       coalesce(sum(o.amount + o.drawn) FILTER (
                           WHERE o.transaction_id = r.id AND o.direction = 'debit'), 0)
                           AS back_debited
                  FROM (SELECT o.transaction_id, o.balance_id, o.direction, o.amount,
                               o.overdraft_used_after - o.overdraft_used_before AS drawn
                          FROM transactions_operation o
                         WHERE o.transaction_id IN (r.id, r.parent_transaction_id)
                           AND o.type NOT IN ('ON_HOLD', 'RELEASE', 'OVERDRAFT')) AS o
                 GROUP BY o.balance_id) AS m ON true
         WHERE r.parent_transaction_id IS NOT NULL AND r.status = 'APPROVED'
           AND {_LEDGER_FILTER.format(alias="r")}
           AND (m.debited <> m.back_credited OR m.credited <> m.back_debited)
    """,
    # An enabled limit must be canonical decimal text (transactions.balances): one stored raw
    # by an older version is reported, never cast (the cast would fail the whole check).
    "overdraft limit": f"""
        SELECT b.id::text, b.alias, b.key, b.overdraft_used, b.settings ->> 'overdraftLimit'
          FROM (SELECT b.*, coalesce((b.settings ->> 'overdraftLimitEnabled')::boolean, false)
                            AS limited,
                       coalesce(b.settings ->> 'overdraftLimit', '') ~ '^[0-9]+([.][0-9]+)?$'
                            AS readable
                  FROM transactions_balance b
                 WHERE {_LEDGER_FILTER.format(alias="b")}) AS b
         WHERE (b.limited AND NOT b.readable)
            OR (b.overdraft_used > 0
                AND (b.direction <> 'credit' OR b.account_type = 'external'
                     OR (b.limited AND b.readable
                         AND b.overdraft_used > CASE WHEN b.readable
                             THEN (b.settings ->> 'overdraftLimit')::numeric END)))
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
