"""A minimal Django project around django-hordak, the peer of the benchmark. Runs only in
bench/.venv-hordak (hordak brings its own Django app); same PostgreSQL, its own database."""

import os

SECRET_KEY = os.environ.get("SECRET_KEY", "bench-only-hordak-key")
DEBUG = False
ALLOWED_HOSTS: list[str] = []
USE_TZ = True
TIME_ZONE = "UTC"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "mptt",
    "djmoney",
    "hordak",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": os.environ.get("BENCH_PG_HOST", "127.0.0.1"),
        "PORT": os.environ.get("BENCH_PG_PORT", "5432"),
        "USER": os.environ.get("BENCH_PG_USER", "midaz"),
        "PASSWORD": os.environ.get("BENCH_PG_PASSWORD", "midaz"),
        "NAME": os.environ.get("HORDAK_DB", "midaz_bench_hordak"),
        # The same persistent connections as the ledger gets.
        "CONN_MAX_AGE": 600,
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DEFAULT_CURRENCY = "USD"
CURRENCIES = ["USD"]
HORDAK_CURRENCIES = ["USD"]
