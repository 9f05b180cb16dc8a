"""Structured logs (settings.LOGGING, midaz/middleware.py): one JSON object per line with the
request id, the organization and ledger of the path, an access line per request; no secret and
no request body in them."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.conf import settings
from django.test import Client

from tests.access.test_api_keys import make_key
from tests.helpers import Api, ledger_path
from tests.transactions.book import amt, send

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the ledger's console handler writes, at DEBUG, as the process would print it."""
    (handler,) = [h for h in logging.getLogger().handlers if h.name == "console"]
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    previous = handler.setStream(stream)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.setLevel(level)
        handler.setStream(previous)


def parsed(stream: io.StringIO) -> list[dict[str, Any]]:
    lines = [line for line in stream.getvalue().splitlines() if line]
    assert lines, "nothing was logged"
    return [orjson.loads(line) for line in lines]  # every line is one JSON object


@pytest.mark.auth
@pytest.mark.django_db
def test_a_posting_logs_json_with_its_ids_and_no_secret(log_lines: io.StringIO) -> None:
    assert settings.LOG_FORMAT == "json"
    key = make_key(write=True, everything=True)
    api = Api(Client(headers={"Authorization": f"Bearer {key}"}))
    org = api.create_organization()
    ledger = api.create_ledger(org["id"])
    api.create_asset(ledger, code="USD")
    api.create_account(ledger, alias="@alice")
    secret_metadata = "do-not-log-this-metadata-7f3a9c"
    body = send(
        "USD",
        "10",
        [amt("@external/USD", "10")],
        [amt("@alice", "10")],
        metadata={"note": secret_metadata},
    )
    response = api.post(
        ledger_path(ledger, "/transactions/json"), body, **{"X-Request-Id": "req-obs-1"}
    )
    assert response.status_code == 201, response.content
    records = parsed(log_lines)

    lines = [r for r in records if r.get("request_id") == "req-obs-1"]
    assert len(lines) == 1, records
    (access,) = lines
    assert access["logger"] == "midaz.access"
    assert access["level"] == "INFO"
    assert access["method"] == "POST"
    assert access["path"].endswith("/transactions/json")
    assert access["status"] == 201
    assert access["duration_ms"] > 0
    assert access["organization_id"] == org["id"]
    assert access["ledger_id"] == ledger["id"]
    assert access["timestamp"].startswith("20")
    assert "message" in access
    # Routes without a ledger carry only what they name.
    org_only = [r for r in records if r.get("path") == f"/v1/organizations/{org['id']}/ledgers"]
    assert org_only
    assert org_only[0]["organization_id"] == org["id"]
    assert "ledger_id" not in org_only[0]

    text = log_lines.getvalue()
    assert key not in text, text
    assert key.split("_")[-1] not in text, text
    assert "Bearer" not in text, text
    assert secret_metadata not in text, text
    # No database URL with its password (the test password, "midaz", is also a logger's name).
    database_password = settings.DATABASES["default"]["PASSWORD"]
    assert database_password
    assert f":{database_password}@" not in text
    assert os.environ["DATABASE_URL"] not in text


@pytest.mark.django_db
def test_a_refused_request_is_logged_with_its_ids(log_lines: io.StringIO, client: Client) -> None:
    response = client.get("/v1/organizations/not-a-uuid", headers={"X-Request-Id": "req-obs-2"})
    assert response.status_code == 400
    records = [r for r in parsed(log_lines) if r.get("request_id") == "req-obs-2"]
    (access,) = [r for r in records if r["logger"] == "midaz.access"]
    assert access["status"] == 400
    assert access["organization_id"] == "not-a-uuid"  # as the path said it


def _format_under(env: dict[str, str]) -> str:
    probe = "import django; django.setup(); from django.conf import settings; "
    probe += "print(settings.LOG_FORMAT)"
    base = {k: v for k, v in os.environ.items() if k not in {"LOG_FORMAT", "DEBUG"}}
    result = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**base, "DJANGO_SETTINGS_MODULE": "midaz.settings", **env},
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()[-1]


def test_log_format_is_json_in_production_plain_under_debug_and_selectable() -> None:
    assert _format_under({}) == "json"
    assert _format_under({"DEBUG": "true"}) == "plain"  # as `make run` (the embedded default)
    assert _format_under({"LOG_FORMAT": "plain"}) == "plain"
    assert _format_under({"DEBUG": "true", "LOG_FORMAT": "json"}) == "json"
