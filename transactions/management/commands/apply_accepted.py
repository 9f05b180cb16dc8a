"""``manage.py apply_accepted [--older-than SECONDS]``: apply the asynchronous postings still
queued (transactions/asynchronous.py), as the beat sweep does; by default every one, however
recent."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from transactions.asynchronous import sweep


class Command(BaseCommand):
    help = "Apply the accepted asynchronous postings still waiting in the queue."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", type=float, default=0.0, metavar="SECONDS")

    def handle(self, *args: Any, **options: Any) -> None:
        done = sweep(older_than_seconds=options["older_than"])
        self.stdout.write(f"applied or declined {done} postings")
