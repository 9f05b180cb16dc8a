"""Prometheus metrics (README, "Observability").

``/metrics`` serves django-prometheus's HTTP metrics and the ledger's own:

* ``midaz_postings_total{kind, status, code}``: every posting request by outcome. ``status`` is
  the state the transaction is left in (APPROVED, PENDING, NOTED, CANCELED; CREATED when it was
  accepted for a worker to apply, TRANSACTION_ASYNC), ``replayed`` for an idempotent replay
  (nothing posted), or ``refused`` with the Midaz error ``code``. A bulk request counts each of
  its items (an atomic bulk that is refused counts one refusal: nothing was posted).
* ``midaz_posting_duration_seconds{kind}``: the posting request's time in the view (body
  validation, resolution, the database round trips), refused ones included.
* ``midaz_idempotent_replays_total{kind}``.
* ``midaz_async_queue_depth`` and ``midaz_async_queue_oldest_age_seconds``: asynchronous postings
  accepted and not yet applied, queried when scraped (two index-only statements, the count capped).
* ``midaz_async_sweep_failures_total``: ledgers the sweep could not apply (it goes on past
  them), and ``midaz_async_batches_isolated_total``: batches that failed whole and were applied
  posting by posting (the one that failed is declined).
* ``midaz_async_postings_applied_total{status, code}`` and ``midaz_async_apply_lag_seconds``
  (accepted -> applied), observed by whichever process applies: the Celery worker, which serves
  them on ``METRICS_PORT`` (``serve_worker_metrics``), or the API for a commit, cancel or revert
  that applies a queued posting first.

Several processes: gunicorn's workers and Celery's pool children each keep their own values.
With ``PROMETHEUS_MULTIPROC_DIR`` set (the chart sets it) prometheus_client writes them to
memory-mapped files there and a scrape of any process adds them all up; gunicorn.conf.py and
midaz/celery.py empty the directory at start (midaz/multiproc.py) and drop the files of dead
processes.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from midaz.exceptions import LedgerError

logger = logging.getLogger(__name__)

_LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
_LAG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
# The queue depth is counted up to this many rows: the count stays cheap whatever the backlog.
QUEUE_DEPTH_CAP = 100_000

POSTINGS = Counter(
    "midaz_postings",
    "Posting requests by kind, outcome status and Midaz error code.",
    ["kind", "status", "code"],
)
POSTING_SECONDS = Histogram(
    "midaz_posting_duration_seconds",
    "Time of a posting request in the view, refused ones included.",
    ["kind"],
    buckets=_LATENCY_BUCKETS,
)
REPLAYS = Counter(
    "midaz_idempotent_replays", "Idempotent replays (the stored answer again).", ["kind"]
)
ASYNC_APPLIED = Counter(
    "midaz_async_postings_applied",
    "Asynchronous postings applied, by final status and Midaz code of a decline.",
    ["status", "code"],
)
ASYNC_SWEEP_FAILURES = Counter(
    "midaz_async_sweep_failures",
    "Ledgers the sweep could not apply (logged; the sweep goes on with the next ledger).",
)
ASYNC_ISOLATED = Counter(
    "midaz_async_batches_isolated",
    "Asynchronous batches that failed whole and were applied posting by posting.",
)
ASYNC_APPLY_LAG = Histogram(
    "midaz_async_apply_lag_seconds",
    "Seconds from an asynchronous posting's acceptance to its application.",
    buckets=_LAG_BUCKETS,
)

REFUSED = "refused"
REPLAYED = "replayed"


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def enabled() -> bool:
    return bool(settings.METRICS_ENABLED)


# --- Postings ------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one posting request did: (status, code) per posting it counts."""

    kind: str
    results: list[tuple[str, str]] = field(default_factory=list)

    def posted(self, status: str) -> None:
        self.results.append((status, ""))

    def replayed(self) -> None:
        self.results.append((REPLAYED, ""))

    def refused(self, code: str) -> None:
        self.results.append((REFUSED, code))


@contextmanager
def posting(kind: str) -> Iterator[Outcome]:
    """Times a posting request and counts its outcome. The body records what was posted; an
    exception counts as a refusal with its Midaz code (``unexpected`` for a failure that has
    none) and goes on."""
    outcome = Outcome(kind)
    started = time.perf_counter()
    try:
        yield outcome
    except LedgerError as exc:
        outcome.refused(exc.code)
        raise
    except Exception:
        outcome.refused("unexpected")
        raise
    finally:
        if enabled():
            POSTING_SECONDS.labels(kind).observe(time.perf_counter() - started)
            for status, code in outcome.results:
                POSTINGS.labels(kind, status, code).inc()
                if status == REPLAYED:
                    REPLAYS.labels(kind).inc()


def async_applied(
    lags: Iterable[float], statuses: Iterable[str], declined: Iterable[str] = ()
) -> None:
    """A worker applied a batch: the lag of each posting, the final status of each applied one
    and the code of each declined one."""
    if not enabled():
        return
    for lag in lags:
        ASYNC_APPLY_LAG.observe(max(lag, 0.0))
    for status in statuses:
        ASYNC_APPLIED.labels(status, "").inc()
    for code in declined:
        ASYNC_APPLIED.labels("DECLINED", code).inc()


def async_sweep_failed() -> None:
    """The sweep met a ledger whose postings it could not apply."""
    if enabled():
        ASYNC_SWEEP_FAILURES.inc()


def async_batch_isolated() -> None:
    """A worker's batch failed whole and was retried posting by posting."""
    if enabled():
        ASYNC_ISOLATED.inc()


# --- The asynchronous queue, measured when scraped --------------------------------------------

_DEPTH_SQL = "SELECT count(*) FROM (SELECT 1 FROM transactions_queuedposting LIMIT %s) q"
# The oldest by primary key (a UUIDv7, in acceptance order): one index probe.
_OLDEST_SQL = (
    "SELECT greatest(extract(epoch FROM clock_timestamp() - created_at), 0) "
    "FROM transactions_queuedposting "
    "ORDER BY transaction_id LIMIT 1"
)


class QueueCollector(Collector):
    """The depth of the asynchronous queue and the age of its oldest posting, read from the
    primary when Prometheus scrapes (not on any request path)."""

    def collect(self) -> Iterator[Metric]:
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute(_DEPTH_SQL, [QUEUE_DEPTH_CAP])
                (depth,) = cursor.fetchone() or (0,)
                cursor.execute(_OLDEST_SQL)
                row = cursor.fetchone()
        except DatabaseError:
            logger.warning("could not measure the asynchronous queue", exc_info=True)
            return
        yield GaugeMetricFamily(
            "midaz_async_queue_depth",
            f"Asynchronous postings accepted and not yet applied (up to {QUEUE_DEPTH_CAP}).",
            value=depth,
        )
        yield GaugeMetricFamily(
            "midaz_async_queue_oldest_age_seconds",
            "Age of the oldest asynchronous posting not yet applied (0 when none).",
            value=float(row[0]) if row else 0.0,
        )


_QUEUE = CollectorRegistry(auto_describe=False)
_QUEUE.register(QueueCollector())


def process_registry() -> CollectorRegistry:
    """This process's metrics, or every process's when PROMETHEUS_MULTIPROC_DIR is set."""
    if not multiprocess_dir():
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def metrics_view(request: HttpRequest) -> HttpResponse:
    output = generate_latest(process_registry()) + generate_latest(_QUEUE)
    return HttpResponse(output, content_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """``GET /metrics`` for Prometheus inside the cluster, answered before the rest of the stack:

    * no API key: it shows counts and timings, no ledger data;
    * any Host: Prometheus scrapes a pod by its IP, which ALLOWED_HOSTS does not list (the
      answer builds no URL from the host, so there is nothing to poison);
    * not through a proxy: a request that carries ``X-Forwarded-For`` came through the Ingress
      (every controller adds it, and a client cannot take it off), and gets the ordinary 404 of
      an unknown route. Scrapes go to the pods directly.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            request.path == "/metrics"
            and request.method in {"GET", "HEAD"}
            and "HTTP_X_FORWARDED_FOR" not in request.META
        ):
            return metrics_view(request)
        return self.get_response(request)


# --- Processes -----------------------------------------------------------------------------------


def pool_process_started() -> None:
    """In a worker's pool process: writes its (zero) apply-lag histogram at once, so that the
    worker's /metrics shows the series before the first task (and rate() has a start)."""
    if enabled() and multiprocess_dir():
        ASYNC_APPLY_LAG.collect()  # reading a value makes this process's file


def process_exited(pid: int) -> None:
    """Drops the live-gauge files of a dead worker process (its counters stay: they count)."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(pid)


def serve_worker_metrics(port: int, addr: str = "0.0.0.0") -> Any:  # noqa: S104 - the pod's port
    """The Celery worker's /metrics, served from its main process on ``port`` (a thread); its
    pool children write to PROMETHEUS_MULTIPROC_DIR."""
    from prometheus_client import start_http_server

    return start_http_server(port, addr=addr, registry=process_registry())
