"""System endpoints, unknown routes and methods, the OpenAPI schema and the docs page."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from django.core.management import call_command
from django.test import Client

from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


def test_health_is_plain_text(client: Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.content == b"healthy"


def test_version_has_the_midaz_fields(client: Client) -> None:
    body = orjson.loads(client.get("/version").content)
    assert set(body) == {"version", "requestDate", "commit", "buildTime", "dirty"}
    assert body["requestDate"].endswith("Z")


@pytest.mark.django_db(databases="__all__")
def test_readyz_checks_every_configured_service(client: Client, real_replica: None) -> None:
    response = client.get("/readyz")
    body = orjson.loads(response.content)
    assert response.status_code == 200, body
    assert body["status"] == "healthy"
    # make test configures all of them, so each must really be up
    for name in ("database", "replica", "cache", "broker"):
        assert body["checks"][name]["status"] == "up", (name, body["checks"][name])


@pytest.mark.django_db(databases="__all__")
def test_readyz_stays_ready_when_an_optional_service_is_down(client: Client, settings: Any) -> None:
    # The ledger works without the broker, Valkey and the replica: removing every API pod from
    # the Service for their outage would turn it into a full one.
    settings.CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:1//"
    response = client.get("/readyz")
    body = orjson.loads(response.content)
    assert response.status_code == 200, body
    assert body["status"] == "degraded"
    assert body["checks"]["broker"]["status"] == "down"
    assert body["checks"]["database"]["status"] == "up"
    assert "broker" in body["degraded"]
    assert "broker" in body["reason"]


@pytest.mark.django_db(databases="__all__")
def test_readyz_strict_names_the_failing_check(client: Client, settings: Any) -> None:
    settings.CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:1//"
    response = client.get("/readyz?strict=true")
    body = orjson.loads(response.content)
    assert response.status_code == 503
    assert body["status"] == "unhealthy"
    assert body["checks"]["broker"]["status"] == "down"
    assert body["reason"] == "broker"


@pytest.mark.django_db(databases="__all__")
def test_readyz_fails_when_the_primary_is_down(client: Client, monkeypatch: Any) -> None:
    from midaz import health

    real = health._check_database

    def primary_down(alias: str) -> None:
        if alias == "default":
            raise ConnectionError("primary unreachable")
        real(alias)

    monkeypatch.setattr(health, "_check_database", primary_down)
    response = client.get("/readyz")
    body = orjson.loads(response.content)
    assert response.status_code == 503
    assert body["status"] == "unhealthy"
    assert body["checks"]["database"]["status"] == "down"
    assert "database" in body["reason"].split(", ")
    assert "database" not in body["degraded"]  # the primary is not optional


def test_unknown_route_is_0484(client: Client) -> None:
    assert_error(client.get("/v1/nothing-here"), 404, "0484")
    assert_error(client.post("/v1/organizations/x/y/z/w"), 404, "0484")


def test_wrong_method_is_0485(client: Client) -> None:
    assert_error(client.put("/v1/organizations"), 405, "0485")


def test_request_id_is_echoed_or_generated(client: Client) -> None:
    given = client.get("/health", headers={"X-Request-Id": "abc-123"})
    assert given["X-Request-Id"] == "abc-123"
    generated = client.get("/health")
    assert len(generated["X-Request-Id"]) == 36


def test_openapi_schema_generates_without_warnings(tmp_path) -> None:
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "/v1/organizations/{organization_id}/ledgers/{ledger_id}/accounts" in out.read_text()


def test_openapi_served_as_json_and_yaml_and_docs_use_local_files(client: Client) -> None:
    schema = orjson.loads(client.get("/v1/openapi.json").content)
    assert schema["openapi"].startswith("3.")
    assert "Organization" in schema["components"]["schemas"]
    assert client.get("/v1/openapi.yaml").status_code == 200
    docs = client.get("/v1/docs").content.decode()
    assert "swagger-ui" in docs
    assert "cdn" not in docs.lower()
    assert "unpkg" not in docs.lower()
