"""The recommended gunicorn settings (``gunicorn midaz.wsgi`` reads this file from the working
directory; the benchmark suite and the container image use it).

Threaded workers with keep-alive: a posting spends most of its time waiting for PostgreSQL, so
two workers per core with two threads each keep both cores busy, and keep-alive saves every
client a TCP connection (and gunicorn's graceful close) per request, which halves the latency
of short reads. Measured in BENCHMARKS.md; every value can be overridden from the environment.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('SERVER_PORT', '3002')}")
workers = int(os.environ.get("GUNICORN_WORKERS", str(2 * multiprocessing.cpu_count())))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "30"))
backlog = int(os.environ.get("GUNICORN_BACKLOG", "2048"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# Restart a worker now and then so that a slow leak can never grow without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "100000"))
max_requests_jitter = max_requests // 10


# --- Prometheus metrics across the workers (midaz/metrics.py) ------------------------------------
# With PROMETHEUS_MULTIPROC_DIR each worker writes its metrics to files there and /metrics, served
# by any worker, adds them all up. The directory is emptied when gunicorn starts (a previous run's
# files would be added in) and a dead worker's live gauges are dropped.


def on_starting(server: object) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from midaz.multiproc import reset_multiprocess_dir

        reset_multiprocess_dir()


def child_exit(server: object, worker: object) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]


# --- Logs ---------------------------------------------------------------------------------------
# gunicorn's own lines (start, workers booting, timeouts) in the ledger's format: JSON unless
# LOG_FORMAT=plain. Requests are logged by the ledger (midaz.access), not gunicorn's access log.
if os.environ.get("LOG_FORMAT", "json").lower() == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "generic": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(levelname)s %(name)s %(message)s",
                "rename_fields": {"levelname": "level", "name": "logger"},
                "timestamp": True,
            }
        },
    }
