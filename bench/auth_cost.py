"""What an API key costs per request (issue 7): the key lookup alone, and a whole small read
(``GET /v1/organizations/<id>`` through Django, no HTTP server) with authentication on and off.

    .venv/bin/python -m bench.auth_cost [iterations]

Uses its own database (``midaz_bench_auth``, recreated) on the primary of ``make services``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from bench.common import ROOT, db_url, median, percentile, recreate_database

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
        SECRET_KEY="bench-only-secret-key-not-for-production",
        DEBUG="false",
        ALLOWED_HOSTS="testserver",
        SECURE_SSL_REDIRECT="false",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="midaz.settings",
    )
    os.environ.pop("DATABASE_REPLICA_URL", None)
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

    def line(name: str, values: list[float]) -> str:
        return f"{name:<28} median {median(values):.3f} ms   p99 {percentile(values, 99):.3f} ms"

    print(f"{n} iterations each")
    print(line("key lookup alone", lookup))
    print(line("GET organization, auth on", on))
    print(line("GET organization, auth off", off))
    print(f"auth adds {median(on) - median(off):.3f} ms to the median read")


if __name__ == "__main__":
    main()
