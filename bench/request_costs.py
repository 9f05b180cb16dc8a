"""What per-request guarantees and instruments cost (issues 7 and 8), through Django without an
HTTP server:

- the API key: the key lookup alone, and ``GET /v1/organizations/<id>`` with auth on and off;
- read your writes across requests: ``POST /v1/organizations`` with ``READ_YOUR_WRITES_SECONDS``
  on (the WAL position read and kept in Valkey) and off, with the streaming replica configured;
- Prometheus metrics (``METRICS_ENABLED``: django-prometheus's middleware and the ledger's posting
  counters), on and off, for ``GET /v1/organizations/<id>`` and ``POST .../transactions/json``.

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

    # Metrics: a client whose middleware was loaded without django-prometheus's and /metrics'.
    settings.READ_YOUR_WRITES_SECONDS = 0
    metered = Client()
    api = metered
    ledger = _post(api, f"/v1/organizations/{org.pk}/ledgers", {"name": "bench"})
    base = f"/v1/organizations/{org.pk}/ledgers/{ledger['id']}"
    _post(api, f"{base}/assets", {"name": "usd", "type": "currency", "code": "USD"})
    _post(api, f"{base}/accounts", {"assetCode": "USD", "type": "deposit", "alias": "@bench"})
    instruments = ("django_prometheus.", "midaz.metrics.")
    full = list(settings.MIDDLEWARE)
    settings.MIDDLEWARE = [m for m in full if not m.startswith(instruments)]
    bare = Client()
    assert bare.get(path).status_code == 200  # loads its middleware now
    settings.MIDDLEWARE = full
    assert metered.get("/metrics").status_code == 200
    assert bare.get("/metrics").status_code == 404
    counter = iter(range(10**9))

    def posting(client: Client) -> None:
        body = {
            "description": f"bench {next(counter)}",  # a new body each time: no replay
            "send": {
                "asset": "USD",
                "value": "1",
                "source": {"from": [_leg("@external/USD")]},
                "distribute": {"to": [_leg("@bench")]},
            },
        }
        response = client.post(f"{base}/transactions/json", body, "application/json")
        assert response.status_code == 201, response.content

    metrics_read_on: list[float] = []
    metrics_read_off: list[float] = []
    metrics_post_on: list[float] = []
    metrics_post_off: list[float] = []
    for _ in range(rounds):
        settings.METRICS_ENABLED = True
        metrics_read_on += timed(lambda: metered.get(path), n // rounds)
        metrics_post_on += timed(lambda: posting(metered), writes // rounds)
        settings.METRICS_ENABLED = False
        metrics_read_off += timed(lambda: bare.get(path), n // rounds)
        metrics_post_off += timed(lambda: posting(bare), writes // rounds)
    settings.METRICS_ENABLED = True

    def line(name: str, values: list[float]) -> str:
        return f"{name:<30} median {median(values):.3f} ms   p99 {percentile(values, 99):.3f} ms"

    print(f"{n} iterations each")
    print(line("key lookup alone", lookup))
    print(line("GET organization, auth on", on))
    print(line("GET organization, auth off", off))
    print(f"auth adds {median(on) - median(off):.3f} ms to the median read")
    print(line("POST organization, RYW on", ryw_on))
    print(line("POST organization, RYW off", ryw_off))
    print(f"read-your-writes adds {median(ryw_on) - median(ryw_off):.3f} ms to the median write")
    print(line("GET organization, metrics on", metrics_read_on))
    print(line("GET organization, metrics off", metrics_read_off))
    print(f"metrics add {median(metrics_read_on) - median(metrics_read_off):.3f} ms to the read")
    print(line("POST posting, metrics on", metrics_post_on))
    print(line("POST posting, metrics off", metrics_post_off))
    print(f"metrics add {median(metrics_post_on) - median(metrics_post_off):.3f} ms to a posting")


def _post(client: object, path: str, body: dict[str, object]) -> dict[str, object]:
    response = client.post(path, body, "application/json")  # type: ignore[attr-defined]
    assert response.status_code == 201, response.content
    result: dict[str, object] = response.json()
    return result


def _leg(alias: str) -> dict[str, object]:
    return {"accountAlias": alias, "amount": {"asset": "USD", "value": "1"}}


if __name__ == "__main__":
    main()
