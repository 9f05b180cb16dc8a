"""The Midaz side, in process: Django setup against the bench database, the seed, and the
worker processes that post 1:1 transfers through ``transactions.posting.transaction_create``
(the engine entry point, no HTTP)."""

# ruff: noqa: S311

from __future__ import annotations

import multiprocessing as mp
import os
import random
import time
import uuid
from decimal import Decimal
from typing import Any

from bench.common import (
    ACCOUNTS,
    AMOUNT,
    BENCH_DB,
    HOT_ALIAS,
    HOT_FUNDS,
    PG_REPLICA_PORT,
    ROOT,
    SPREAD_FUNDS,
    alias,
    db_url,
)


def django_env() -> dict[str, str]:
    """The environment of every Django process of the benchmark (engine, gunicorn, manage.py):
    production settings against the bench database."""
    return {
        "DATABASE_URL": db_url(BENCH_DB),
        "DATABASE_REPLICA_URL": db_url(BENCH_DB, PG_REPLICA_PORT),
        "VALKEY_URL": "redis://127.0.0.1:6379/1",
        "CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//",
        "SECRET_KEY": "bench-only-secret-key-not-for-production",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Comparable with the earlier runs: no API key, plain HTTP. What a key costs per
        # request is measured on its own (BENCHMARKS.md, "API keys").
        "AUTH_ENABLED": "false",
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_CONN_MAX_AGE": "600",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "midaz.settings",
    }


def setup_django() -> None:
    import sys

    os.environ.update(django_env())
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def seed_main() -> dict[str, Any]:
    """Organization, ledger, asset USD (with @external/USD), 1,000 accounts and one hot account,
    funded by one inflow posting through the engine (so the ledger is consistent by
    construction)."""
    from django.db import transaction

    from onboarding import services as onboarding
    from transactions import services
    from transactions.posting import transaction_create
    from transactions.spec import Entry, TransactionSpec

    org = onboarding.organization_create(
        data={
            "legalName": "Bench Payments Ltd.",
            "legalDocument": "12345678901234",
            "address": {
                "line1": "1 Main St",
                "city": "New York",
                "state": "NY",
                "zipCode": "10001",
                "country": "US",
            },
        }
    )
    ledger = onboarding.ledger_create(organization=org, data={"name": "Bench"})
    services.asset_create(
        ledger=ledger, data={"name": "US Dollar", "type": "currency", "code": "USD"}
    )
    aliases = [alias(i) for i in range(ACCOUNTS)] + [HOT_ALIAS]
    with transaction.atomic():
        for a in aliases:
            services.account_create(
                ledger=ledger,
                data={"name": a, "assetCode": "USD", "type": "deposit", "alias": a},
            )
    spread, hot = Decimal(SPREAD_FUNDS), Decimal(HOT_FUNDS)
    total = spread * ACCOUNTS + hot
    spec = TransactionSpec(
        asset="USD",
        value=total,
        sources=(Entry(account_alias="@external/USD", amount=total, amount_asset="USD"),),
        destinations=tuple(
            Entry(account_alias=a, amount=hot if a == HOT_ALIAS else spread, amount_asset="USD")
            for a in aliases
        ),
        description="bench funding",
    )
    transaction_create(ledger=ledger, spec=spec)
    return {"organization_id": str(org.id), "ledger_id": str(ledger.id)}


def create_ledger_with_accounts(organization_id: str, name: str, n: int) -> dict[str, Any]:
    """A second ledger (for the read benchmark) with ``n`` accounts @r0000.. and USD."""
    from django.db import transaction

    from onboarding import services as onboarding
    from onboarding.models import Organization
    from transactions import services

    org = Organization.objects.get(pk=organization_id)
    ledger = onboarding.ledger_create(organization=org, data={"name": name})
    services.asset_create(
        ledger=ledger, data={"name": "US Dollar", "type": "currency", "code": "USD"}
    )
    with transaction.atomic():
        for i in range(n):
            a = f"@r{i:04d}"
            services.account_create(
                ledger=ledger,
                data={"name": a, "assetCode": "USD", "type": "deposit", "alias": a},
            )
    return {"ledger_id": str(ledger.id)}


def transfer_body(src: str, dst: str, description: str) -> dict[str, Any]:
    """The Midaz JSON body of a 1:1 transfer (what the HTTP benchmark sends too)."""
    return {
        "description": description,
        "send": {
            "asset": "USD",
            "value": AMOUNT,
            "source": {
                "from": [{"accountAlias": src, "amount": {"asset": "USD", "value": AMOUNT}}]
            },
            "distribute": {
                "to": [{"accountAlias": dst, "amount": {"asset": "USD", "value": AMOUNT}}]
            },
        },
    }


def _worker(
    index: int,
    mode: str,
    ids: dict[str, str],
    seconds: float,
    barrier: Any,
    out: Any,
) -> None:
    setup_django()
    from django.db import connection

    from onboarding.models import Ledger
    from transactions.posting import Idempotency, transaction_create
    from transactions.spec import Entry, TransactionSpec

    ledger = Ledger(
        id=uuid.UUID(ids["ledger_id"]), organization_id=uuid.UUID(ids["organization_id"])
    )
    rng = random.Random(index * 7919 + int(time.time()))
    amount = Decimal(AMOUNT)
    tag = uuid.uuid4().hex[:8]
    connection.ensure_connection()
    ok = errors = 0
    first_error = ""
    barrier.wait()
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1
        if mode == "hot":
            src, dst = HOT_ALIAS, alias(rng.randrange(ACCOUNTS))
        else:
            i, j = rng.sample(range(ACCOUNTS), 2)
            src, dst = alias(i), alias(j)
        description = f"engine {tag} {index} {n}"
        spec = TransactionSpec(
            asset="USD",
            value=amount,
            sources=(Entry(account_alias=src, amount=amount, amount_asset="USD"),),
            destinations=(Entry(account_alias=dst, amount=amount, amount_asset="USD"),),
            description=description,
        )
        idem = Idempotency.for_request(
            body=transfer_body(src, dst, description), kind="json", header_key=None, header_ttl=None
        )
        try:
            transaction_create(ledger=ledger, spec=spec, idempotency=idem)
            ok += 1
        except Exception as exc:
            errors += 1
            first_error = first_error or f"{type(exc).__name__}: {exc}"
    out.put({"ok": ok, "errors": errors, "first_error": first_error})
    connection.close()


def run_engine(mode: str, ids: dict[str, str], seconds: float, procs: int) -> dict[str, Any]:
    """``procs`` processes (spawned: each its own Django and connection) posting for
    ``seconds``; transfers/s = successful postings / seconds."""
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(procs + 1)
    out = ctx.Queue()
    workers = [
        ctx.Process(target=_worker, args=(i, mode, ids, seconds, barrier, out))
        for i in range(procs)
    ]
    for w in workers:
        w.start()
    barrier.wait(timeout=120)
    started = time.perf_counter()
    results = [out.get(timeout=seconds + 120) for _ in workers]
    for w in workers:
        w.join(timeout=30)
    wall = time.perf_counter() - started
    ok = sum(r["ok"] for r in results)
    errors = sum(r["errors"] for r in results)
    first = next((r["first_error"] for r in results if r["first_error"]), "")
    return {
        "transfers_per_s": ok / seconds,
        "ok": ok,
        "errors": errors,
        "first_error": first,
        "seconds": seconds,
        "wall": wall,
    }
