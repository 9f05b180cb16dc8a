"""The environment the chart gives the ledger, loaded by the ledger's own settings: every value
parses (no empty integer, no misspelt boolean) and means what the chart intends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from tests.helm.chart import PROFILES, RELEASE, ROOT, merged, render

_PROBE = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({
    "DEBUG": s.DEBUG, "AUTH_ENABLED": s.AUTH_ENABLED, "ALLOWED_HOSTS": s.ALLOWED_HOSTS,
    "SECURE_SSL_REDIRECT": s.SECURE_SSL_REDIRECT,
    "SECURE_PROXY_SSL_HEADER": getattr(s, "SECURE_PROXY_SSL_HEADER", None),
    "DATA_UPLOAD_MAX_MEMORY_SIZE": s.DATA_UPLOAD_MAX_MEMORY_SIZE,
    "TRANSACTION_ASYNC": s.TRANSACTION_ASYNC, "METADATA_BACKEND": s.METADATA_BACKEND,
    "CELERY_TASK_ALWAYS_EAGER": s.CELERY_TASK_ALWAYS_EAGER, "VALKEY_URL": s.VALKEY_URL,
    "replica": "replica" in s.DATABASES, "VERSION": s.VERSION,
    "SECURE_HSTS_SECONDS": s.SECURE_HSTS_SECONDS, "CSRF_TRUSTED_ORIGINS": s.CSRF_TRUSTED_ORIGINS,
}))
"""


def _settings_under(profile: str) -> dict[str, Any]:
    rendered = render(PROFILES[profile])
    env = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "midaz.settings"}
    env.update(rendered.config_maps()[RELEASE])
    env.update(rendered.secrets()[RELEASE])
    result = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", _PROBE],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    loaded: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize("profile", ["defaults", "ingress_tls", "external"])
def test_settings_load_from_the_chart_environment(profile: str) -> None:
    loaded = _settings_under(profile)
    assert loaded["DEBUG"] is False
    assert loaded["AUTH_ENABLED"] is True
    assert "localhost" in loaded["ALLOWED_HOSTS"]
    assert loaded["DATA_UPLOAD_MAX_MEMORY_SIZE"] == 4 * 1024 * 1024
    assert loaded["SECURE_HSTS_SECONDS"] == 31_536_000
    assert loaded["CSRF_TRUSTED_ORIGINS"] == []
    behind_tls_ingress = profile == "ingress_tls"
    assert loaded["SECURE_SSL_REDIRECT"] is behind_tls_ingress
    assert (loaded["SECURE_PROXY_SSL_HEADER"] is not None) is behind_tls_ingress
    if profile == "external":
        assert loaded["TRANSACTION_ASYNC"] is True
        assert loaded["METADATA_BACKEND"] == "mongodb"
        assert loaded["CELERY_TASK_ALWAYS_EAGER"] is False
        assert loaded["VALKEY_URL"].startswith("rediss://")
        assert loaded["replica"] is True
        assert loaded["VERSION"] == "1.2.3"
    else:
        assert loaded["CELERY_TASK_ALWAYS_EAGER"] is True
        assert loaded["replica"] is False


def test_check_deploy_passes_behind_a_tls_ingress() -> None:
    """`manage.py check --deploy` with the chart's environment (and a key as the README makes
    it, `openssl rand -hex 32`): no warning at all."""
    values = merged(PROFILES["ingress_tls"], {"secretKey": "5f" * 8 + "a1b2c3d4e5f60718" * 3})
    rendered = render(values)
    env = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "midaz.settings"}
    env.update(rendered.config_maps()[RELEASE])
    env.update(rendered.secrets()[RELEASE])
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
