"""OpenTelemetry tracing (README, "Observability"): off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` is
set. Then every request is a server span (named by its route), with spans for its PostgreSQL
statements, Valkey commands and Celery publishes, and a worker's tasks continue the trace of
the request that queued them. Spans go to the collector by OTLP over HTTP (protobuf), in
batches, from a background thread: an unreachable collector costs the requests nothing.

Initialised in one place, here, from midaz/wsgi.py (the API) and midaz/celery.py (the worker and
beat), before Django loads its middleware. The other ``OTEL_*`` variables (headers, timeouts,
sampler, resource attributes) are read by the SDK itself.
"""

from __future__ import annotations

import logging
import os
from typing import Any

logger = logging.getLogger(__name__)

_provider: Any = None


def endpoint() -> str:
    return os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()


def init(component: str, *, exporter: Any = None, set_global: bool = True) -> Any:
    """Sets up tracing for this process and returns its TracerProvider, or None (and imports
    nothing of OpenTelemetry) when no endpoint is set and no ``exporter`` is given. Tests pass an
    in-memory exporter (spans exported at once) and ``set_global=False``."""
    global _provider
    if exporter is None and not endpoint():
        return None
    if _provider is not None and exporter is None:
        return _provider  # once per process

    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    service = os.environ.get("OTEL_SERVICE_NAME", "").strip() or "midaz-ledger"
    resource = Resource.create(
        {
            "service.name": service,
            "service.version": os.environ.get("VERSION", ""),
            "midaz.component": component,
        }
    )
    provider = TracerProvider(resource=resource)
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    if set_global:
        trace.set_tracer_provider(provider)
    instrument(provider)
    _provider = provider
    logger.info("OpenTelemetry tracing on (%s, %s)", service, component)
    return provider


def instrument(provider: Any) -> None:
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    # The probes and the scrape would be most of the spans and tell nothing.
    DjangoInstrumentor().instrument(
        tracer_provider=provider, excluded_urls="/health$,/readyz$,/metrics$,/static/"
    )
    PsycopgInstrumentor().instrument(tracer_provider=provider)
    RedisInstrumentor().instrument(tracer_provider=provider)
    CeleryInstrumentor().instrument(tracer_provider=provider)


def shutdown() -> None:
    """Undoes init (tests): the instrumentations removed, the provider flushed and closed."""
    global _provider
    if _provider is None:
        return
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    for instrumentor in (
        DjangoInstrumentor(),
        PsycopgInstrumentor(),
        RedisInstrumentor(),
        CeleryInstrumentor(),
    ):
        instrumentor.uninstrument()
    _provider.shutdown()
    _provider = None


def enabled() -> bool:
    return _provider is not None
