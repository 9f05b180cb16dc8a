"""``manage.py verify_ledger [--ledger ID]``: check the ledger's invariants; exit 1 on any
violation (see transactions.verify)."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from tqdm import tqdm

from onboarding.models import Ledger
from transactions.verify import _CHECKS, ledger_verify


def _step(bar: tqdm[Any]) -> None:
    bar.update()


class Command(BaseCommand):
    help = "Check that balances replay from operations and that every posting balances."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--ledger", help="check one ledger (its id); default: all")

    def handle(self, *args: Any, **options: Any) -> None:
        ledger_ids: list[uuid.UUID | None]
        if options["ledger"]:
            try:
                ledger_id = uuid.UUID(options["ledger"])
            except ValueError:
                raise CommandError("--ledger must be a UUID") from None
            if not Ledger.all_objects.filter(pk=ledger_id).exists():
                raise CommandError(f"no ledger {ledger_id}")
            ledger_ids = [ledger_id]
        else:
            ledger_ids = list(Ledger.all_objects.values_list("id", flat=True).order_by("id"))
        problems: list[str] = []
        # One snapshot for every check, so that postings in flight cannot look like a violation
        # (unless a caller's transaction is already open, as in tests: then it is theirs).
        outermost = not connection.in_atomic_block
        with (
            transaction.atomic(),
            tqdm(
                total=len(ledger_ids) * len(_CHECKS), unit="check", disable=None, file=self.stderr
            ) as bar,
        ):
            if outermost:
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            for one in ledger_ids:
                report = ledger_verify(ledger_id=one, progress=lambda _name: _step(bar))
                problems.extend(report.problems)
        for problem in problems:
            self.stdout.write(problem)
        if problems:
            raise CommandError(f"{len(problems)} invariant violation(s)", returncode=1)
        self.stdout.write(self.style.SUCCESS(f"ledger invariants hold ({len(ledger_ids)} ledgers)"))
