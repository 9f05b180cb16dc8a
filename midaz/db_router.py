"""Routes plain reads to the streaming replica and everything else to the primary.

Writes, reads inside an atomic block (which include every locking read) and reads that follow
a write in the same request go to the primary; other reads go to ``replica`` when one is
configured. See DESIGN.md §7.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connections

from midaz import context

PRIMARY = "default"
REPLICA = "replica"


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
    return REPLICA


class PrimaryReplicaRouter:
    def db_for_read(self, model: type[Any], **hints: Any) -> str:
        return read_alias()

    def db_for_write(self, model: type[Any], **hints: Any) -> str:
        context.pin_to_primary()
        return PRIMARY

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        # The replica is a copy of the primary: objects from either may be related.
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == PRIMARY
