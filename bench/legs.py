"""How the apply step grows with the size of one request (issue 16, item 10): one posting of
100, 500, 999 and ``MAX_TRANSACTION_LEGS`` legs (one source, the rest destinations, every leg
on its own balance), bulks of 250, 500 and ``bulk.MAX_ITEMS`` 1:1 items, and a bulk of ten
items of ``MAX_TRANSACTION_LEGS`` legs. For each: the time of the database call alone
(``midaz_post`` / ``midaz_post_bulk``; the balances stay locked for about this long) and of the
whole service call, the median of a few runs; and the CPU time the database session spent per
run (read from /proc when PostgreSQL runs on this machine: on a busy machine the wall times
grow, this does not).

    .venv/bin/python -m bench.legs [repeats]

With ``BENCH_LEGS_SQL=<file>`` that SQL file is run after the migrations (another version of
``transactions/sql/midaz_post.sql``, to compare). Uses its own database (``midaz_bench_legs``,
recreated) on the services of ``make services``; no replica, no Valkey.
"""

from __future__ import annotations

import os
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.common import ROOT, db_url, median, recreate_database

DB = "midaz_bench_legs"
SIZES = (100, 500, 999)


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    recreate_database(DB)
    os.environ.update(
        DATABASE_URL=db_url(DB),
        DATABASE_REPLICA_URL="",
        VALKEY_URL="",
        SECRET_KEY="bench-only-secret-key-not-for-production",  # noqa: S106
        DEBUG="false",
        SECURE_SSL_REDIRECT="false",
        TRANSACTION_ASYNC="false",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="midaz.settings",
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, transaction

    from onboarding import services as onboarding
    from transactions import bulk, posting, services
    from transactions.posting import transaction_create
    from transactions.spec import Entry, TransactionSpec

    call_command("migrate", verbosity=0)
    if other := os.environ.get("BENCH_LEGS_SQL"):
        # Another version of the functions (e.g. an earlier transactions/sql/midaz_post.sql
        # from git), to compare.
        with connection.cursor() as cursor:
            cursor.execute(Path(other).read_text())
    org = onboarding.organization_create(data={"legalName": "Bench", "legalDocument": "1"})
    ledger = onboarding.ledger_create(organization=org, data={"name": "Legs"})
    services.asset_create(
        ledger=ledger, data={"name": "US Dollar", "type": "currency", "code": "USD"}
    )
    max_legs = settings.MAX_TRANSACTION_LEGS
    accounts = max(max_legs, bulk.MAX_ITEMS + 1)
    aliases = [f"@l{i:05d}" for i in range(accounts)]
    with transaction.atomic():
        for a in aliases:
            services.account_create(
                ledger=ledger, data={"name": a, "assetCode": "USD", "type": "deposit", "alias": a}
            )

    # The database call alone: the posting's round trip to midaz_post (or midaz_post_bulk).
    db_times: list[float] = []

    def timed(fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                db_times.append(time.perf_counter() - start)

        return wrapper

    posting._call_post = timed(posting._call_post)
    bulk._call_bulk = timed(bulk._call_bulk)

    def spec_of(legs: int, amount: Decimal = Decimal("1")) -> TransactionSpec:
        """One source (@external/USD) and legs - 1 destinations."""
        total = amount * (legs - 1)
        return TransactionSpec(
            asset="USD",
            value=total,
            sources=(Entry(account_alias="@external/USD", amount=total, amount_asset="USD"),),
            destinations=tuple(
                Entry(account_alias=a, amount=amount, amount_asset="USD")
                for a in aliases[: legs - 1]
            ),
            description=f"{legs} legs",
        )

    def backend_cpu() -> float | None:
        """CPU seconds the database session has used (its process's /proc entry, when the
        server runs on this machine): unlike the wall times, not inflated by other load."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (pid,) = cursor.fetchone()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def measure(label: str, run: Any) -> None:
        run()  # warm the plans and the caches
        totals, dbs = [], []
        cpu_start = backend_cpu()
        for _ in range(repeats):
            db_times.clear()
            start = time.perf_counter()
            run()
            totals.append(time.perf_counter() - start)
            dbs.append(sum(db_times))
        cpu_end = backend_cpu()
        cpu = (
            f"{(cpu_end - cpu_start) / repeats * 1000:10.0f}"
            if cpu_start is not None and cpu_end is not None
            else f"{'n/a':>10}"
        )
        print(f"{label:<34} {median(dbs) * 1000:10.1f} {median(totals) * 1000:10.1f} {cpu}")

    print(f"{'request':<34} {'db ms':>10} {'total ms':>10} {'db cpu ms':>10}")
    for legs in sorted({*SIZES, max_legs}):
        measure(
            f"one posting, {legs} legs",
            lambda legs=legs: transaction_create(ledger=ledger, spec=spec_of(legs)),
        )

    # A bulk of MAX_ITEMS 1:1 transfers, every item between its own two accounts; first funded.
    transaction_create(ledger=ledger, spec=spec_of(min(max_legs, accounts), Decimal("1000000")))
    pairs = [(aliases[i], aliases[(i + 1) % bulk.MAX_ITEMS]) for i in range(bulk.MAX_ITEMS)]

    def run_bulk(size: int) -> None:
        items = [
            bulk.BulkItem(
                spec=TransactionSpec(
                    asset="USD",
                    value=Decimal("1"),
                    sources=(Entry(account_alias=s, amount=Decimal("1"), amount_asset="USD"),),
                    destinations=(Entry(account_alias=d, amount=Decimal("1"), amount_asset="USD"),),
                    description="bulk item",
                )
            )
            for s, d in pairs[:size]
        ]
        key = bulk.request_idempotency(os.urandom(16), None, None)
        result = bulk.bulk_post(ledger=ledger, items=items, atomic=True, idempotency=key)
        assert result.body["created"] == len(items), result.body

    for size in sorted({250, 500, bulk.MAX_ITEMS}):
        measure(f"bulk of {size} 1:1 items", lambda size=size: run_bulk(size))

    # The largest items in a bulk: what one request can lock for, within the body size limit.
    def run_wide_bulk(size: int) -> None:
        items = [bulk.BulkItem(spec=spec_of(max_legs)) for _ in range(size)]
        key = bulk.request_idempotency(os.urandom(16), None, None)
        result = bulk.bulk_post(ledger=ledger, items=items, atomic=True, idempotency=key)
        assert result.body["created"] == len(items), result.body

    measure(f"bulk of 10 items of {max_legs} legs", lambda: run_wide_bulk(10))


if __name__ == "__main__":
    main()
