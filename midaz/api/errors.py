"""Turns every failure into a Midaz error body (DESIGN.md §9) with the matching status."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions as drf_exceptions

from midaz.api.render import json_response
from midaz.exceptions import LedgerError

logger = logging.getLogger(__name__)


def error_response(error: LedgerError) -> HttpResponse:
    return json_response(error.as_dict(), status=error.status)


def exception_handler(exc: Exception, context: dict[str, Any]) -> HttpResponse | None:
    """DRF's hook: domain errors, DRF's own errors and anything unexpected."""
    if isinstance(exc, LedgerError):
        return error_response(exc)
    if isinstance(exc, RequestDataTooBig):
        return error_response(
            LedgerError(
                "The request body is larger than the server accepts.", code="0143", status=413
            )
        )
    if isinstance(exc, SuspiciousOperation | MultiPartParserError):
        # A multipart body that cannot be read, or with too many fields or files.
        return error_response(LedgerError(f"The request body cannot be read: {exc}", code="0047"))
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        return error_response(LedgerError("The method is not allowed on this route.", code="0485"))
    if isinstance(exc, drf_exceptions.ParseError):
        return error_response(LedgerError(str(exc.detail), code="0094"))
    if isinstance(exc, drf_exceptions.UnsupportedMediaType):
        return error_response(LedgerError(str(exc.detail), code="0047"))
    if isinstance(exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
        # No credentials at all is Midaz's "Token Missing"; credentials that are not a usable
        # key are "Invalid Token".
        code = "0041" if isinstance(exc, drf_exceptions.NotAuthenticated) else "0042"
        response = error_response(LedgerError(str(exc.detail), code=code))
        if auth_header := getattr(exc, "auth_header", None):
            response["WWW-Authenticate"] = auth_header
        return response
    if isinstance(exc, drf_exceptions.PermissionDenied):
        return error_response(LedgerError(str(exc.detail), code="0043"))
    if isinstance(exc, Http404 | drf_exceptions.NotFound):
        return error_response(LedgerError("The requested route was not found.", code="0484"))
    if _unique_metadata_clash(exc):
        return error_response(
            LedgerError(
                "A unique metadata index already holds this value; nothing was written.",
                code="0498",
            )
        )
    if _metadata_store_failed(exc):
        logger.error("the metadata store failed", exc_info=exc)
        return error_response(
            LedgerError(
                "The metadata store is unavailable; nothing was written. Try again later.",
                code="0046",
                status=503,
            )
        )
    if _database_unavailable(exc):
        logger.warning("the database is unavailable: %s", exc)
        response = error_response(
            LedgerError(
                "The database is unavailable. Try again later (a retry with the same "
                "X-Idempotency key is never posted twice).",
                code="0046",
                status=503,
            )
        )
        response["Retry-After"] = "1"
        return response
    logger.exception("unhandled error", exc_info=exc)
    return error_response(LedgerError("internal error", code="0046"))


def _database_unavailable(exc: Exception) -> bool:
    """A lost or refused database connection (a restart, a failover), or an operational
    failure PostgreSQL itself says is transient: the client may retry."""
    import psycopg
    from django.db import InterfaceError, OperationalError

    return isinstance(
        exc, OperationalError | InterfaceError | psycopg.OperationalError | psycopg.InterfaceError
    )


def _unique_metadata_clash(exc: Exception) -> bool:
    """A value that a unique metadata index (``/v1/settings/metadata-indexes``) already holds:
    PostgreSQL's index (named ``mdx_...``) or MongoDB's."""
    diag = getattr(exc, "diag", None) or getattr(exc.__cause__, "diag", None)
    name = getattr(diag, "constraint_name", None) or ""
    if name.startswith("mdx_"):
        return True
    from midaz.metadata import is_duplicate

    return is_duplicate(exc)


def _metadata_store_failed(exc: Exception) -> bool:
    """A MongoDB error (``METADATA_BACKEND=mongodb``): the request's database transaction has
    rolled back, so the client may retry."""
    try:
        from pymongo.errors import PyMongoError
    except ImportError:  # pragma: no cover - pymongo is a pinned dependency
        return False
    return isinstance(exc, PyMongoError)


@csrf_exempt
def route_not_found(request: HttpRequest) -> HttpResponse:
    return error_response(LedgerError("The requested route was not found.", code="0484"))


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_response(LedgerError("The requested route was not found.", code="0484"))


def handler500(request: HttpRequest) -> HttpResponse:
    return error_response(LedgerError("internal error", code="0046"))
