"""``manage.py relay_events``: publish the transaction events waiting in the outbox
(transactions/events.py), once; Celery beat runs the same relay every second."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from transactions.events import relay


class Command(BaseCommand):
    help = "Publish the transaction events waiting in the outbox to RabbitMQ."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"published {relay()} events")
