"""OpenTelemetry tracing (midaz/tracing.py): with an in-memory exporter (the SDK's own) a request
is a server span named by its route, with its database spans; with no endpoint nothing is set up."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from midaz import tracing
from tests.helpers import Api, ledger_path
from tests.transactions.book import amt, send

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.init("api", exporter=exporter, set_global=False)
    try:
        yield exporter
    finally:
        tracing.shutdown()
    assert "opentelemetry" not in " ".join(settings.MIDDLEWARE)


@pytest.mark.django_db
def test_a_request_is_a_server_span_with_its_route(spans: InMemorySpanExporter) -> None:
    assert tracing.enabled()
    assert "opentelemetry" in " ".join(settings.MIDDLEWARE)
    api = Api(Client())  # a new client loads the middleware as it is now
    org = api.create_organization()
    ledger = api.create_ledger(org["id"])
    api.create_asset(ledger, code="USD")
    api.create_account(ledger, alias="@alice")
    spans.clear()
    body = send("USD", "10", [amt("@external/USD", "10")], [amt("@alice", "10")])
    response = api.post(ledger_path(ledger, "/transactions/json"), body)
    assert response.status_code == 201, response.content
    finished = spans.get_finished_spans()
    (server,) = [s for s in finished if s.kind == SpanKind.SERVER]
    route = "v1/organizations/<str:organization_id>/ledgers/<str:ledger_id>/transactions/json"
    assert server.attributes is not None
    assert server.attributes["http.route"] == route
    assert server.name == f"POST {route}"
    assert server.resource.attributes["service.name"] == "midaz-ledger"
    # The statements of the request are its children.
    database = [s for s in finished if s.kind == SpanKind.CLIENT and s.parent is not None]
    assert database, [s.name for s in finished]
    assert all(s.context.trace_id == server.context.trace_id for s in database)


@pytest.mark.django_db
def test_probes_make_no_span(spans: InMemorySpanExporter, client: Any) -> None:
    assert Client().get("/health").status_code == 200
    assert spans.get_finished_spans() == ()


def _probe(env: dict[str, str]) -> str:
    script = (
        "import sys, midaz.wsgi; from midaz import tracing; from opentelemetry import trace; "
        "from django.conf import settings; "
        "print(tracing.enabled(), type(trace.get_tracer_provider()).__name__, "
        "any('opentelemetry' in m for m in settings.MIDDLEWARE))"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**base, "DJANGO_SETTINGS_MODULE": "midaz.settings", **env},
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()[-1]


def test_without_an_endpoint_nothing_is_set_up() -> None:
    assert _probe({}) == "False ProxyTracerProvider False"
    assert _probe({"OTEL_EXPORTER_OTLP_ENDPOINT": ""}) == "False ProxyTracerProvider False"


def test_with_an_endpoint_the_wsgi_application_is_traced() -> None:
    # Nothing listens there: spans are exported in the background and dropped, requests unharmed.
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}
    assert _probe(endpoint) == "True TracerProvider True"
