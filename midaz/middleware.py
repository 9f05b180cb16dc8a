"""Request context: the request id (``X-Request-Id``) and the read-your-writes pin."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from uuid_utils.compat import uuid7

from midaz import context

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
        try:
            response = self.get_response(request)
        finally:
            context.request_id.reset(rid_token)
            context.pinned_to_primary.reset(pin_token)
        response["X-Request-Id"] = rid
        return response


class RequestContextLogFilter(logging.Filter):
    """Adds ``request_id`` to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = context.request_id.get()
        return True
