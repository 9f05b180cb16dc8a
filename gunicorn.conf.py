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
