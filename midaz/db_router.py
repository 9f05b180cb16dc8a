"""Routes plain reads to the streaming replica and everything else to the primary.

Writes, reads inside an atomic block (which include every locking read) and reads that follow
a write in the same request go to the primary; other reads go to ``replica`` when one is
configured. See DESIGN.md §7.

A replica that cannot be reached is skipped: reads go to the primary for
``REPLICA_RETRY_SECONDS``, then one read tries the replica again.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections

from midaz import context, read_your_writes

PRIMARY = "default"
REPLICA = "replica"
REPLICA_RETRY_SECONDS = 5.0

logger = logging.getLogger(__name__)
# time.monotonic() until which this process reads from the primary (the replica was down).
_replica_down_until = 0.0


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def reads_use_replica() -> bool:
    """Plain reads go to the replica when one is configured and ``READ_FROM_REPLICA`` holds
    (tests turn it off unless they run against the real replica)."""
    return replica_configured() and settings.READ_FROM_REPLICA


def read_alias() -> str:
    """The alias a plain read would use right now."""
    if (
        not reads_use_replica()
        or context.pinned_to_primary.get()
        or connections[PRIMARY].in_atomic_block
    ):
        return PRIMARY
    if not _replica_has_the_writers_writes():
        return PRIMARY
    return REPLICA if _replica_reachable() else PRIMARY


def _replica_has_the_writers_writes() -> bool:
    """Asked once per request, at its first replica read (midaz.read_your_writes)."""
    known = context.replica_has_writes.get()
    if known is None:
        if settings.READ_YOUR_WRITES_SECONDS <= 0 or not _replica_reachable():
            known = True
        else:
            known = read_your_writes.replica_has(context.writer.get())
        context.replica_has_writes.set(known)
        if not known:
            context.pin_to_primary()
    return known


def _replica_reachable() -> bool:
    """False while the replica is known to be down. A thread without a replica connection
    opens one here, so a replica that refuses connections sends the read to the primary
    instead of failing it (an open connection that breaks fails its query, and Django drops
    it at the end of that request)."""
    global _replica_down_until
    if time.monotonic() < _replica_down_until:
        return False
    conn = connections[REPLICA]
    if conn.connection is None:
        try:
            conn.ensure_connection()
        except DatabaseError as exc:
            _replica_down_until = time.monotonic() + REPLICA_RETRY_SECONDS
            logger.warning("the replica is unreachable, reading from the primary: %s", exc)
            return False
    return True


class PrimaryReplicaRouter:
    def db_for_read(self, model: type[Any], **hints: Any) -> str:
        instance = hints.get("instance")
        if instance is not None and instance._state.db == PRIMARY:
            # The rows related to a row read from the primary (a miss on the replica retried
            # there) are read there too: a lagging replica may not have them yet.
            return PRIMARY
        return read_alias()

    def db_for_write(self, model: type[Any], **hints: Any) -> str:
        context.pin_to_primary()
        return PRIMARY

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        # The replica is a copy of the primary: objects from either may be related.
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == PRIMARY
