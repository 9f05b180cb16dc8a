"""``manage.py purge_expired_keys [--batch N]``: delete the idempotency and bulk records whose
lifetime is over.

A posting keeps one record per key (300 s for a body-hash key, 24 h for ``X-Idempotency``
unless ``X-TTL`` says otherwise); an expired one is never answered again, but it stays in the
table until something deletes it: at 1,000 postings/s, 86 million rows a day. Run this every
few minutes (cron, a Kubernetes CronJob, or Celery beat). It deletes in short batches, each
its own transaction, so it never holds many locks or a long snapshot; postings that meet an
expired key replace it themselves, so the two never conflict.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection
from django.utils import timezone

from transactions.models import BulkRecord, IdempotencyRecord

_DELETE = """
DELETE FROM {table} WHERE id IN (
    SELECT id FROM {table} WHERE expires_at < %s ORDER BY expires_at LIMIT %s
)
"""


def purge(model: Any, batch: int) -> int:
    """Deletes the expired rows of ``model`` in batches; returns how many."""
    table = connection.ops.quote_name(model._meta.db_table)
    now = timezone.now()
    total = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(_DELETE.format(table=table), [now, batch])
            deleted = cursor.rowcount
        total += deleted
        if deleted < batch:
            return total


class Command(BaseCommand):
    help = "Delete expired idempotency and bulk records."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=10_000, help="rows per transaction")

    def handle(self, *args: Any, **options: Any) -> None:
        batch = max(1, options["batch"])
        keys = purge(IdempotencyRecord, batch)
        bulks = purge(BulkRecord, batch)
        self.stdout.write(f"deleted {keys} expired idempotency records, {bulks} bulk records")
