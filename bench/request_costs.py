"""What two per-request guarantees cost (issue 7), through Django without an HTTP server:

- the API key: the key lookup alone, and ``GET /v1/organizations/<id>`` with auth on and off;
- read your writes across requests: ``POST /v1/organizations`` with ``READ_YOUR_WRITES_SECONDS``
  on (the WAL position read and kept in Valkey) and off, with the streaming replica configured.

    .venv/bin/python -m bench.request_costs [iterations]

Uses its own database (``midaz_bench_auth``, recreated) on the services of ``make services``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from bench.common import (
    PG_REPLICA_PORT,
    ROOT,
    db_url,
    median,
    percentile,
    recreate_database,
    wait_for_replica,
)

DB = "midaz_bench_auth"


def timed(fn: Callable[[], object], n: int) -> list[float]:
    for _ in range(min(20, n)):  # warm the connection, the plans and the caches
        fn()
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    recreate_database(DB)
    os.environ.update(
        DATABASE_URL=db_url(DB),
        DATABASE_REPLICA_URL=db_url(DB, PG_REPLICA_PORT),
        VALKEY_URL="redis://127.0.0.1:6379/1",
        SECRET_KEY="bench-only-secret-key-not-for-production",  # noqa: S106
        DEBUG="false",
        ALLOWED_HOSTS="testserver",
        SECURE_SSL_REDIRECT="false",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="midaz.settings",
    )
    if not wait_for_replica():
        raise SystemExit("the streaming replica did not replay the new database")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from access.auth import _grant_for
    from access.models import ApiKey
    from onboarding import services

    call_command("migrate", verbosity=0)
    org = services.organization_create(data={"legalName": "Bench", "legalDocument": "1"})
    api_key = ApiKey(name="bench", scope=ApiKey.READ)
    key = api_key.issue()
    api_key.save()
    api_key.organizations.set([org])

    path = f"/v1/organizations/{org.pk}"
    with_key, without = Client(headers={"Authorization": f"Bearer {key}"}), Client()
    lookup: list[float] = []
    on: list[float] = []
    off: list[float] = []
    # Interleaved rounds, so that the machine's other work falls on both sides alike.
    rounds = 20
    for _ in range(rounds):
        lookup += timed(lambda: _grant_for(key), n // rounds)
        settings.AUTH_ENABLED = True
        on += timed(lambda: with_key.get(path), n // rounds)
        settings.AUTH_ENABLED = False
        off += timed(lambda: without.get(path), n // rounds)
    settings.AUTH_ENABLED = True
    assert with_key.get(path).status_code == 200
    assert without.get(path).status_code == 401

    settings.AUTH_ENABLED = False
    body = {"legalName": "Bench", "legalDocument": "1"}
    writes = n // 4

    def create() -> None:
        assert without.post("/v1/organizations", body, "application/json").status_code == 201

    ryw_on: list[float] = []
    ryw_off: list[float] = []
    for _ in range(rounds):
        settings.READ_YOUR_WRITES_SECONDS = 60
        ryw_on += timed(create, writes // rounds)
        settings.READ_YOUR_WRITES_SECONDS = 0
        ryw_off += timed(create, writes // rounds)

    def line(name: str, values: list[float]) -> str:
        return f"{name:<28} median {median(values):.3f} ms   p99 {percentile(values, 99):.3f} ms"

    print(f"{n} iterations each")
    print(line("key lookup alone", lookup))
    print(line("GET organization, auth on", on))
    print(line("GET organization, auth off", off))
    print(f"auth adds {median(on) - median(off):.3f} ms to the median read")
    print(line("POST organization, RYW on", ryw_on))
    print(line("POST organization, RYW off", ryw_off))
    print(f"read-your-writes adds {median(ryw_on) - median(ryw_off):.3f} ms to the median write")


if __name__ == "__main__":
    main()
