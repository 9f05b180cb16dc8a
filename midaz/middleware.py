"""Request context: the request id (``X-Request-Id``) and the read-your-writes pin."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from uuid_utils.compat import uuid7

from midaz import context, read_your_writes
from midaz.db_router import reads_use_replica

_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContextMiddleware:
    """Gives each request an id (the caller's ``X-Request-Id`` when it is sane), echoes it back,
    and starts each request unpinned from the primary database."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-Id", "")
        rid = incoming if _SAFE_REQUEST_ID.match(incoming) else str(uuid7())
        rid_token = context.request_id.set(rid)
        pin_token = context.pinned_to_primary.set(False)
        across = reads_use_replica() and settings.READ_YOUR_WRITES_SECONDS > 0
        writer = read_your_writes.writer_of(request) if across else None
        writer_token = context.writer.set(writer)
        fresh_token = context.replica_has_writes.set(None)
        try:
            response = self.get_response(request)
            if writer is not None and request.method not in _SAFE and response.status_code < 400:
                read_your_writes.remember_write(writer)
        finally:
            context.request_id.reset(rid_token)
            context.pinned_to_primary.reset(pin_token)
            context.writer.reset(writer_token)
            context.replica_has_writes.reset(fresh_token)
        response["X-Request-Id"] = rid
        return response


class RequestContextLogFilter(logging.Filter):
    """Adds ``request_id`` to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = context.request_id.get()
        return True
