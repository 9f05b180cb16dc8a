"""Production settings: ``check --deploy`` passes, secrets come from the environment, and the
security headers are set."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client, override_settings

ROOT = Path(__file__).resolve().parents[2]


def production_env(**extra: str) -> dict[str, str]:
    """The process environment of a production deployment: a database, a real secret key,
    real host names, and nothing that loosens security (no DEBUG, no SECURE_* overrides)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SECURE_", "SESSION_", "CSRF_", "AUTH_")) and k != "DEBUG"
    }
    env.update(
        DATABASE_URL=os.environ.get("DATABASE_URL", "postgres://midaz:midaz@127.0.0.1/midaz"),
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="ledger.example.com",
        DJANGO_SETTINGS_MODULE="midaz.settings",
    )
    env.update(extra)
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_settings_pass_check_deploy() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_with_debug_on() -> None:
    """The check above can fail: DEBUG in production is reported."""
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", env=production_env(DEBUG="true")
    )
    assert result.returncode != 0
    assert "security.W018" in result.stderr + result.stdout


def test_no_secret_key_no_start() -> None:
    env = production_env()
    del env["SECRET_KEY"]
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_auth_is_on_by_default_in_production() -> None:
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.AUTH_ENABLED)",
        env=production_env(),
    )
    assert result.stdout.strip().splitlines()[-1] == "True", result.stderr


def test_security_headers_on_an_https_answer() -> None:
    response = Client().get("/health", secure=True)
    assert response.status_code == 200
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


@pytest.mark.django_db
@override_settings(SECURE_SSL_REDIRECT=True)
def test_plain_http_is_redirected_except_the_probes() -> None:
    client = Client()
    response = client.get("/v1/organizations")
    assert response.status_code == 301
    assert response["Location"].startswith("https://")
    assert client.get("/health").status_code == 200


@pytest.mark.django_db
@override_settings(
    SECURE_SSL_REDIRECT=True, SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https")
)
def test_behind_a_tls_proxy_the_forwarded_scheme_is_believed() -> None:
    response = Client().get("/v1/organizations", headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 200
