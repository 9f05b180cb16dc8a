"""Per-client rate limiting (``RATE_LIMIT``, e.g. ``100/s`` or ``5000/m``; empty = off).

Each client (its address, or the first ``X-Forwarded-For`` hop when ``RATE_LIMIT_TRUST_PROXY``)
gets a fixed-window counter in Valkey, kept by the maintained ``django-ratelimit`` library; past
the limit a ``/v1`` request answers 429 with code ``0499`` (this project's own: Midaz has no
rate-limit code) and ``Retry-After``. The counters live in the shared cache, so the limit holds
across every server process. When Valkey cannot be reached the request goes through: a cache
outage must not stop the ledger (``/readyz`` reports the cache).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django_ratelimit.core import get_usage

from midaz.api.errors import error_response
from midaz.exceptions import LedgerError

logger = logging.getLogger(__name__)


def client_key(group: str, request: HttpRequest) -> str:
    if settings.RATE_LIMIT_TRUST_PROXY:
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return str(request.META.get("REMOTE_ADDR", ""))


class RateLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        rate = settings.RATE_LIMIT
        if rate and request.path.startswith("/v1/"):
            usage = self._usage(request, rate)
            if usage is not None and usage["should_limit"]:
                response = error_response(
                    LedgerError(
                        f"Too many requests from this client (limit {rate}); retry later.",
                        code="0499",
                    )
                )
                response["Retry-After"] = str(max(int(usage["time_left"]), 1))
                return response
        return self.get_response(request)

    @staticmethod
    def _usage(request: HttpRequest, rate: str) -> dict[str, Any] | None:
        try:
            return get_usage(request, group="midaz.api", key=client_key, rate=rate, increment=True)
        except Exception:  # the cache is down: let the request through
            logger.warning("rate limit skipped: the cache is unavailable", exc_info=True)
            return None
