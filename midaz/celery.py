"""The Celery application. Without ``CELERY_BROKER_URL`` tasks run in process (eager).

Postings' tasks go to the durable queue ``midaz.postings``, whose rejected messages RabbitMQ
dead-letters to ``midaz.postings.dead`` (through the exchange ``midaz.dead``): a task that
fails is rejected rather than acknowledged (``task_acks_on_failure_or_timeout`` off), so it
can be inspected there. Losing one loses nothing: the state of a posting is in PostgreSQL.
"""

import logging
import os
import threading
from pathlib import Path

from celery import Celery
from celery.signals import (
    beat_init,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "midaz.settings")

DEAD_LETTERS = Exchange("midaz.dead", type="direct", durable=True)
POSTINGS_DEAD = Queue(
    "midaz.postings.dead", DEAD_LETTERS, routing_key="midaz.postings", durable=True
)
POSTINGS = Queue(
    "midaz.postings",
    Exchange("midaz.postings", type="direct", durable=True),
    routing_key="midaz.postings",
    durable=True,
    queue_arguments={
        "x-dead-letter-exchange": DEAD_LETTERS.name,
        "x-dead-letter-routing-key": "midaz.postings",
    },
)

app = Celery("midaz")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_queues=(POSTINGS,),
    task_default_exchange="midaz.postings",
    task_default_routing_key="midaz.postings",
)
app.autodiscover_tasks()


@worker_ready.connect
def _declare_dead_letters(sender: object = None, **_: object) -> None:
    """The dead-letter queue must exist for RabbitMQ to keep what it dead-letters."""
    with app.connection_for_write() as conn:
        POSTINGS_DEAD.bind(conn).declare()


# --- liveness: a local heartbeat file -------------------------------------------------------
# Kubernetes asks whether the worker process is alive by the age of this file (the image's
# `worker-alive` command), not through the broker: `celery inspect ping` fails during a broker
# blip, and restarting every healthy worker for it only adds an outage to an outage. The file
# is written when the worker process starts (before it connects to the broker, so a worker
# started during an outage is not restarted for waiting), then every WORKER_HEARTBEAT_SECONDS by
# a thread of the main process, whatever the broker's state; it is removed at shutdown.
_heartbeat_stop = threading.Event()


def heartbeat_file() -> Path | None:
    path = os.environ.get("WORKER_HEARTBEAT_FILE", "").strip()
    return Path(path) if path else None


def _touch(path: Path) -> None:
    try:
        path.touch()
    except OSError:
        logging.getLogger(__name__).exception("cannot write the heartbeat file %s", path)


def _beat(path: Path, interval: float) -> None:
    main = threading.main_thread()
    while main.is_alive() and not _heartbeat_stop.wait(interval):
        _touch(path)


@worker_init.connect
def _start_heartbeat(sender: object = None, **_: object) -> None:
    path = heartbeat_file()
    if path is None:
        return
    try:
        interval = float(os.environ.get("WORKER_HEARTBEAT_SECONDS", "") or 10)
    except ValueError:
        interval = 10.0
    interval = min(max(interval, 0.1), 3600.0)
    _heartbeat_stop.clear()
    _touch(path)
    threading.Thread(
        target=_beat, args=(path, interval), name="midaz-heartbeat", daemon=True
    ).start()


@worker_shutdown.connect
def _stop_heartbeat(sender: object = None, **_: object) -> None:
    _heartbeat_stop.set()
    path = heartbeat_file()
    if path is not None:
        path.unlink(missing_ok=True)


@worker_init.connect
def _serve_metrics(sender: object = None, **_: object) -> None:
    """The worker's metrics (async apply lag, applied postings) on METRICS_PORT, served by the
    main process; with PROMETHEUS_MULTIPROC_DIR its pool children's too (emptied first)."""
    from django.conf import settings

    from midaz.multiproc import reset_multiprocess_dir

    if not settings.METRICS_ENABLED:
        return
    reset_multiprocess_dir()  # before this process creates its own files

    from midaz import metrics

    try:
        metrics.serve_worker_metrics(settings.METRICS_PORT)
    except OSError:
        # A port already taken must not stop the worker: postings matter more than metrics.
        logging.getLogger(__name__).exception(
            "the worker's metrics cannot be served on port %s", settings.METRICS_PORT
        )


@worker_process_shutdown.connect
def _drop_process_metrics(pid: int | None = None, **_: object) -> None:
    from midaz import metrics

    metrics.process_exited(pid or os.getpid())


@worker_process_init.connect
def _pool_process(**_: object) -> None:
    """In each pool process: its metrics file, and tracing (after the fork: the span exporter's
    thread must be its own; nothing unless OTEL_EXPORTER_OTLP_ENDPOINT is set)."""
    from midaz import metrics, tracing

    metrics.pool_process_started()
    tracing.init("worker")


@beat_init.connect
def _trace_beat(**_: object) -> None:
    from midaz import tracing

    tracing.init("beat")
