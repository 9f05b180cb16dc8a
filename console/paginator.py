"""Changelist pagination that never counts a big table.

Django's admin counts the rows of a list (``SELECT COUNT(*)``) to number its pages: on a ledger
with a million transactions that reads the whole table or index on every page view. Here the
count stops at ``CAP`` rows (``SELECT COUNT(*) FROM (... LIMIT CAP + 1)``, a few milliseconds
whatever the table's size), and pages are numbered up to the cap: past it an operator narrows
the list with a filter or a search (deep OFFSET pages would be slow anyway). The dashboard
shows the tables' sizes from PostgreSQL's estimate (``estimated_rows``).
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

CAP = 10_000


def estimated_rows(model: Any, using: str = "default") -> int:
    """PostgreSQL's estimate of a table's rows (-1 before its first VACUUM/ANALYZE)."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
            [model._meta.db_table],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else -1


class BoundedCountPaginator(Paginator):
    """``count`` is exact up to ``cap`` rows, else ``cap`` (and ``capped`` is True)."""

    cap = CAP

    @cached_property
    def count(self) -> int:
        object_list = self.object_list
        if not isinstance(object_list, QuerySet):
            return len(object_list)
        bounded = object_list.order_by()[: self.cap + 1].count()
        if bounded <= self.cap:
            return bounded
        self.capped = True
        # Pages are numbered up to the cap only: deep OFFSETs are slow anyway.
        return self.cap

    capped = False
