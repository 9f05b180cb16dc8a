"""Per-request context shared by the middleware, the database router and logging."""

from __future__ import annotations

from contextvars import ContextVar

request_id: ContextVar[str] = ContextVar("request_id", default="-")
# The organization and ledger the request's path names (for the logs); None when it names none.
organization_id: ContextVar[str | None] = ContextVar("organization_id", default=None)
ledger_id: ContextVar[str | None] = ContextVar("ledger_id", default=None)

# Set once the current request (or task) has written to the primary: its later reads must see
# that write, so they go to the primary too (read your own writes).
pinned_to_primary: ContextVar[bool] = ContextVar("pinned_to_primary", default=False)


# Who sent the request (midaz.read_your_writes.writer_of), and whether the replica has replayed
# that writer's last write: None until a read first asks.
writer: ContextVar[str | None] = ContextVar("writer", default=None)
replica_has_writes: ContextVar[bool | None] = ContextVar("replica_has_writes", default=None)


def pin_to_primary() -> None:
    pinned_to_primary.set(True)
