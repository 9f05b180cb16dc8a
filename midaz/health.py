"""System endpoints (no ``/v1``, no auth): liveness, readiness with named checks, version."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request

from midaz import metadata as metadata_store
from midaz.api.render import json_response
from midaz.api.views import LedgerAPIView
from midaz.db_router import REPLICA, replica_configured

CHECK_TIMEOUT_SECONDS = 2.0


class SystemView(LedgerAPIView):
    """Probes and the version answer without credentials: they show no ledger data."""

    authentication_classes = ()
    permission_classes = (AllowAny,)


class HealthView(SystemView):
    @extend_schema(
        summary="Liveness", tags=["System"], responses={(200, "text/plain"): OpenApiTypes.STR}
    )
    def get(self, request: Request) -> HttpResponse:
        return HttpResponse("healthy", content_type="text/plain")


def _check_database(alias: str) -> None:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_cache() -> None:
    cache.set("readyz", "1", timeout=5)
    if cache.get("readyz") != "1":
        raise RuntimeError("cache did not return the value just written")


def _check_broker() -> None:
    url = urlparse(settings.CELERY_BROKER_URL)
    with socket.create_connection(
        (url.hostname or "localhost", url.port or 5672), CHECK_TIMEOUT_SECONDS
    ):
        pass


def _run(check: Callable[[], None]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:
        return {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"status": "up", "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


# The ledger posts, reads and replays without these (tests prove each outage): while one is
# down the pod still serves, so readiness reports it in the body and stays 200.
GATING = frozenset({"database"})


def readiness() -> tuple[bool, dict[str, dict[str, Any]]]:
    """Every check's result, and whether the ones that gate readiness (the primary) are up."""
    checks: dict[str, dict[str, Any]] = {"database": _run(lambda: _check_database("default"))}
    checks["replica"] = (
        _run(lambda: _check_database(REPLICA)) if replica_configured() else {"status": "n/a"}
    )
    checks["cache"] = (
        _run(_check_cache)
        if settings.VALKEY_URL
        else {"status": "skipped", "reason": "local memory"}
    )
    checks["broker"] = (
        _run(_check_broker)
        if settings.CELERY_BROKER_URL
        else {"status": "skipped", "reason": "tasks run in process"}
    )
    checks["metadata"] = (
        _run(metadata_store.store().ping)
        if settings.METADATA_BACKEND != "postgres"
        else {"status": "skipped", "reason": "metadata in PostgreSQL"}
    )
    ready = all(checks[name]["status"] != "down" for name in GATING)
    return ready, checks


class ReadyView(SystemView):
    """``GET /readyz``: 503 only when the primary database is down; an optional service that is
    down makes it ``degraded`` (200, named in ``degraded``). ``?strict=true`` answers 503 for
    any check that is down, for a person or a monitor that wants the whole picture."""

    @extend_schema(summary="Readiness", tags=["System"], responses={200: dict, 503: dict})
    def get(self, request: Request) -> HttpResponse:
        ready, checks = readiness()
        down = [name for name, c in checks.items() if c["status"] == "down"]
        strict = request.query_params.get("strict", "").lower() in {"1", "true", "yes"}
        status = "degraded" if down else "healthy"
        if not ready or (strict and down):
            status = "unhealthy"
        body: dict[str, Any] = {
            "status": status,
            "checks": checks,
            "version": settings.VERSION,
            "deployment_mode": "embedded" if settings.EMBEDDED else "external",
        }
        if down:
            body["reason"] = ", ".join(down)
            body["degraded"] = [name for name in down if name not in GATING]
        return json_response(body, status=503 if status == "unhealthy" else 200)


class VersionView(SystemView):
    @extend_schema(summary="Version", tags=["System"], responses={200: dict})
    def get(self, request: Request) -> HttpResponse:
        return json_response(
            {
                "version": settings.VERSION,
                "requestDate": datetime.now(UTC),
                "commit": settings.BUILD_COMMIT,
                "buildTime": settings.BUILD_TIME,
                "dirty": False,
            }
        )
