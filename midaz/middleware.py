"""Request context: the request id (``X-Request-Id``), the organization and ledger of the path
(for the logs), the read-your-writes pin, and the access log (one line per request)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from uuid_utils.compat import uuid7

from midaz import context, read_your_writes
from midaz.db_router import reads_use_replica

_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# A path id is logged as the client sent it, cut to this length (a UUID has 36 characters).
_MAX_ID = 64
access_logger = logging.getLogger("midaz.access")
_QUIET = frozenset({"/health", "/readyz", "/metrics"})


class RequestContextMiddleware:
    """Gives each request an id (the caller's ``X-Request-Id`` when it is sane), echoes it back,
    and starts each request unpinned from the primary database."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        incoming = request.headers.get("X-Request-Id", "")
        rid = incoming if _SAFE_REQUEST_ID.match(incoming) else str(uuid7())
        rid_token = context.request_id.set(rid)
        pin_token = context.pinned_to_primary.set(False)
        across = reads_use_replica() and settings.READ_YOUR_WRITES_SECONDS > 0
        writer = read_your_writes.writer_of(request) if across else None
        writer_token = context.writer.set(writer)
        fresh_token = context.replica_has_writes.set(None)
        org_token = context.organization_id.set(None)
        ledger_token = context.ledger_id.set(None)
        try:
            response = self.get_response(request)
            if writer is not None and request.method not in _SAFE and response.status_code < 400:
                read_your_writes.remember_write(writer)
            # The path only: a query string may carry what a client did not mean to be logged.
            # Probes and scrapes (every few seconds) only at DEBUG.
            access_logger.log(
                logging.DEBUG if request.path in _QUIET else logging.INFO,
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
        finally:
            context.organization_id.reset(org_token)
            context.ledger_id.reset(ledger_token)
            context.request_id.reset(rid_token)
            context.pinned_to_primary.reset(pin_token)
            context.writer.reset(writer_token)
            context.replica_has_writes.reset(fresh_token)
        response["X-Request-Id"] = rid
        return response

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> None:
        """The organization and ledger the route names, for every log line of the request."""
        organization = view_kwargs.get("organization_id")
        if organization is None and "id" in view_kwargs:
            match = request.resolver_match
            if match is not None and match.route.endswith("organizations/<str:id>"):
                organization = view_kwargs["id"]  # the organization's own route
        if organization is not None:
            context.organization_id.set(str(organization)[:_MAX_ID])
        if (ledger := view_kwargs.get("ledger_id")) is not None:
            context.ledger_id.set(str(ledger)[:_MAX_ID])


class RequestContextLogFilter(logging.Filter):
    """Adds ``request_id`` to every log record, and ``organization_id`` / ``ledger_id`` when the
    request's path names them."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = context.request_id.get()
        if (organization := context.organization_id.get()) is not None:
            record.organization_id = organization
        if (ledger := context.ledger_id.get()) is not None:
            record.ledger_id = ledger
        return True


# --- cross-site writes ----------------------------------------------------------------------
# A page on any site can make a browser POST to the ledger without asking first (no CORS
# preflight) only with a body of text/plain, application/x-www-form-urlencoded or
# multipart/form-data, or with no Content-Type at all. With API keys off nothing else stops
# such a request, so the JSON API takes a body only as application/json; and a write that a
# browser marks as coming from another site is refused whatever it carries: by Sec-Fetch-Site
# (unless its Origin is one of CSRF_TRUSTED_ORIGINS), or, for a browser that does not send
# it, by an Origin that is neither the request's own host nor one of CSRF_TRUSTED_ORIGINS. A
# client other than a browser sends no Origin.
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_BODY_WRITES = frozenset({"POST", "PUT", "PATCH"})
# Routes that read no body (the body is ignored, so its type does not matter) and the one that
# reads a multipart upload (the deprecated Gold DSL file).
_NO_BODY_ROUTE = re.compile(r"/transactions/<str:transaction_id>/(commit|cancel|revert)$")
_MULTIPART_ROUTE = re.compile(r"/transactions/dsl$")
_FOREIGN_SITES = frozenset({"cross-site", "same-site"})


def _media_type(content_type: str) -> tuple[str, dict[str, str]]:
    kind, _, rest = content_type.partition(";")
    params: dict[str, str] = {}
    for part in rest.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            params[name.strip().lower()] = value.strip().strip('"').lower()
    return kind.strip().lower(), params


_DEFAULT_PORTS = {"http": "80", "https": "443"}


def _netloc(scheme: str, netloc: str) -> str:
    host, sep, port = netloc.lower().rpartition(":")
    if not sep or "]" in port:  # no port (or the tail of an IPv6 literal)
        return netloc.lower()
    return host if _DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"


_ABSENT, _OWN, _TRUSTED, _FOREIGN = "absent", "own", "trusted", "foreign"


def _origin_kind(request: HttpRequest) -> str:
    """What the request's Origin (a browser's) is: absent (not a browser), the host it was sent
    to (own), one of CSRF_TRUSTED_ORIGINS, wildcards included (trusted), or anything else
    (foreign). ``Origin: null`` (a sandboxed frame, a file, a redirect across sites) is
    foreign."""
    origin = request.headers.get("Origin")
    if origin is None:
        return _ABSENT
    origin = origin.strip().lower()
    scheme, sep, netloc = origin.partition("://")
    if not sep or not netloc or "/" in netloc:
        return _FOREIGN
    netloc = _netloc(scheme, netloc)
    try:
        own = request.get_host()  # X-Forwarded-Host when USE_X_FORWARDED_HOST
    except Exception:  # DisallowedHost: CommonMiddleware has answered 400 before this
        return _FOREIGN
    if netloc == _netloc(scheme, own):
        return _OWN
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        t_scheme, _, t_netloc = trusted.strip().lower().partition("://")
        if t_scheme != scheme:
            continue
        t_netloc = _netloc(t_scheme, t_netloc)
        if t_netloc == netloc:
            return _TRUSTED
        if t_netloc.startswith("*.") and netloc.endswith(t_netloc[1:]):
            return _TRUSTED
    return _FOREIGN


def _has_body(request: HttpRequest) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 1  # unreadable: treat as a body, so its type is checked
    return length > 0 or bool(request.META.get("HTTP_TRANSFER_ENCODING"))


def write_refusal(request: HttpRequest, view_func: Callable[..., Any]) -> Any:
    """The LedgerError a write to ``/v1`` earns by how it was sent, or None when it may go on.
    Only the API's views are checked: an unknown route is still 0484."""
    from midaz.exceptions import LedgerError

    if request.method not in _WRITES or not request.path.startswith("/v1/"):
        return None
    if getattr(view_func, "view_class", None) is None:
        return None
    # A browser's own Sec-Fetch-Site is believed (a page cannot set it), so a proxy that
    # rewrites Host does not refuse same-origin pages. A page of another site may write only
    # from an origin the operator trusts (CSRF_TRUSTED_ORIGINS): every current browser names
    # such a console same-site or cross-site. Without Sec-Fetch-Site (an older browser) the
    # Origin must be the host itself or a trusted one.
    site = request.headers.get("Sec-Fetch-Site", "").strip().lower()
    if site in _FOREIGN_SITES:
        refused = _origin_kind(request) != _TRUSTED
    else:
        refused = not site and _origin_kind(request) == _FOREIGN
    if refused:
        return LedgerError(
            "A browser request from another site cannot write to the ledger.", code="0043"
        )
    if request.method not in _BODY_WRITES or not _has_body(request):
        return None
    match = getattr(request, "resolver_match", None)
    route = str(match.route) if match is not None else request.path
    if _NO_BODY_ROUTE.search(route):
        return None
    kind, params = _media_type(request.META.get("CONTENT_TYPE", ""))
    if kind == "application/json" and params.get("charset", "utf-8") in {"utf-8", "utf8"}:
        return None
    if kind == "multipart/form-data" and _MULTIPART_ROUTE.search(route):
        return None
    return LedgerError(
        "The request body must be sent as Content-Type: application/json (UTF-8).",
        code="0047",
        status=415,
    )


class JsonWritesOnlyMiddleware:
    """Refuses, before the view, a ``/v1`` write whose body is not declared as JSON (415, Midaz
    code 0047) or that a browser sends from another site (403, 0043)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        refusal = write_refusal(request, view_func)
        if refusal is None:
            return None
        from midaz.api.errors import error_response

        return error_response(refusal)
