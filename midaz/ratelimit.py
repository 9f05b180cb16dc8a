"""Per-client rate limiting (``RATE_LIMIT``, e.g. ``100/s`` or ``5000/m``; empty = off).

Who the client is: the API key, when the request carries a valid one (all its requests share
one budget, from wherever they come); otherwise its address. The address is the peer's, or,
behind ``RATE_LIMIT_TRUST_PROXY`` trusted proxies, the ``X-Forwarded-For`` hop that many places
from the right: the one the outermost trusted proxy appended. The hops to the left of it are
whatever the client sent, so they are never believed (a client that could choose its address
could choose a fresh budget per request). A key that is not valid counts as no key: made-up
keys buy no budgets, and guessing keys spends the address's.

Each client gets a fixed-window counter in Valkey, kept by the maintained ``django-ratelimit``
library; past the limit a ``/v1`` request answers 429 with code ``0499`` (this project's own:
Midaz has no rate-limit code) and ``Retry-After``. The counters live in the shared cache, so the
limit holds across every server process. When Valkey cannot be reached the request goes
through: a cache outage must not stop the ledger (``/readyz`` reports the cache).
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django_ratelimit.core import get_usage

from access.auth import _MAX_KEY_LENGTH, _grant_for
from access.models import digest_of
from midaz.api.errors import error_response
from midaz.exceptions import LedgerError

logger = logging.getLogger(__name__)


# Valid keys seen lately (digest -> key id, until when), so that a request is not looked up
# twice (here and by the authentication). Only valid keys are kept, for a few seconds: a key
# revoked meanwhile keeps its own budget that long (it is refused all the same, by the
# authentication, which always asks the database).
_KEY_SECONDS = 10.0
_KEY_ENTRIES = 4096
_valid_keys: dict[str, tuple[str, float]] = {}


def _api_key_id(request: HttpRequest) -> str | None:
    """The id of the request's API key, if it carries a valid one (with authentication on)."""
    if not settings.AUTH_ENABLED:
        return None
    scheme, _, key = str(request.META.get("HTTP_AUTHORIZATION", "")).partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key or len(key) > _MAX_KEY_LENGTH or "\x00" in key:
        return None
    digest = digest_of(key)
    now = time.monotonic()
    known = _valid_keys.get(digest)
    if known is not None and known[1] > now:
        return known[0]
    try:
        grant = _grant_for(key)
    except Exception:  # the database is unreachable: count the address
        logger.warning("rate limit: the API key could not be looked up", exc_info=True)
        return None
    if grant is None:
        return None
    if len(_valid_keys) >= _KEY_ENTRIES:
        _valid_keys.clear()
    _valid_keys[digest] = (str(grant.key_id), now + _KEY_SECONDS)
    return str(grant.key_id)


def _address(hop: str) -> str | None:
    """An IP address as a proxy writes it (maybe with a port, IPv6 maybe in brackets)."""
    hop = hop.strip()
    candidates = [hop]
    if hop.startswith("[") and "]" in hop:
        candidates.append(hop[1 : hop.index("]")])
    elif hop.count(":") == 1:
        candidates.append(hop.partition(":")[0])
    for candidate in candidates:
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None


def client_address(request: HttpRequest) -> str:
    """The client's address: the peer's, or the hop the outermost trusted proxy appended."""
    peer = str(request.META.get("REMOTE_ADDR", ""))
    proxies = int(settings.RATE_LIMIT_TRUST_PROXY)
    if proxies <= 0:
        return peer
    hops = [h for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    if len(hops) < proxies:
        return peer  # it did not come through every trusted proxy
    return _address(hops[-proxies]) or peer


def client_key(group: str, request: HttpRequest) -> str:
    key_id = _api_key_id(request)
    if key_id is not None:
        return f"key:{key_id}"
    return f"ip:{client_address(request)}"


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
