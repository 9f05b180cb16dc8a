"""Read your writes across requests, with a lagging replica (DESIGN.md §7).

Within a request, reads after a write already go to the primary (``context.pinned_to_primary``).
Across requests, a client that wrote and then reads (posts, then asks for its balance) must not
be answered from a replica that has not replayed its write yet. After a write request that
succeeded, the primary's WAL position is kept in Valkey under the writer's name for
``READ_YOUR_WRITES_SECONDS``; the writer's next request that would read from the replica first
asks the replica whether it has replayed that far, and reads from the primary if not.

The writer is the API key (its digest, so no key is ever stored) or, without one, the client's
address. Costs: a write request, one ``pg_current_wal_lsn()`` and one Valkey SET; a read
request, one Valkey GET, and one replica query only for a writer with a recent write. With no
replica nothing of this runs. If Valkey fails, a read goes to the primary when it cannot tell.
"""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connections
from django.http import HttpRequest

logger = logging.getLogger(__name__)

_PREFIX = "ryw:"


def writer_of(request: HttpRequest) -> str:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header:
        return "k:" + hashlib.sha256(header.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    from midaz.ratelimit import client_key

    return "a:" + client_key("", request)


def remember_write(writer: str) -> None:
    """After a write request: where the primary's WAL is now (past this request's commit)."""
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_lsn()::text")
            lsn = cursor.fetchone()[0]
        cache.set(_PREFIX + writer, lsn, timeout=settings.READ_YOUR_WRITES_SECONDS)
    except Exception:  # the write is done; a lost mark only risks a stale read
        logger.warning("could not record the write position of %s", writer, exc_info=True)


def replica_has(writer: str | None) -> bool:
    """Whether the replica has replayed the writer's last write (True for no recent write)."""
    if writer is None:
        return True
    try:
        lsn = cache.get(_PREFIX + writer)
    except Exception:  # Valkey down: cannot tell, so the primary answers
        logger.warning("the write-position cache failed; reading from the primary")
        return False
    if lsn is None:
        return True
    try:
        with connections["replica"].cursor() as cursor:
            cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [lsn])
            return bool(cursor.fetchone()[0])
    except DatabaseError:
        return False
