"""``manage.py create_api_key NAME (--organization ID ... | --all-organizations) [--write]``

Prints the new key once; only its digest is stored.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from access.models import ApiKey
from onboarding.models import Organization


class Command(BaseCommand):
    help = "Make an API key for Authorization: Bearer <key>; the key is printed once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="who or what uses the key")
        parser.add_argument(
            "--organization",
            action="append",
            default=[],
            metavar="ID",
            help="an organization the key reaches (repeat for several)",
        )
        parser.add_argument(
            "--all-organizations",
            action="store_true",
            help="every organization, and the routes outside them",
        )
        parser.add_argument(
            "--write", action="store_true", help="read-write (the default is read only)"
        )
        parser.add_argument("--expires-in-days", type=int, default=None, metavar="N")

    def handle(self, *args: Any, **options: Any) -> None:
        wanted: list[str] = options["organization"]
        if bool(wanted) == options["all_organizations"]:
            raise CommandError("give either --organization ID (one or more) or --all-organizations")
        try:
            ids = {uuid.UUID(raw) for raw in wanted}
        except ValueError as exc:
            raise CommandError(f"not an organization id: {exc}") from None
        organizations = list(Organization.objects.without_metadata().alive().filter(pk__in=ids))
        missing = ids - {o.pk for o in organizations}
        if missing:
            raise CommandError(f"no such organization: {', '.join(sorted(map(str, missing)))}")
        days = options["expires_in_days"]
        if days is not None and days <= 0:
            raise CommandError("--expires-in-days must be positive")
        api_key = ApiKey(
            name=options["name"],
            scope=ApiKey.READ_WRITE if options["write"] else ApiKey.READ,
            all_organizations=options["all_organizations"],
            expires_at=timezone.now() + timedelta(days=days) if days else None,
            created_by="manage.py",
        )
        key = api_key.issue()
        with transaction.atomic():
            api_key.save()
            api_key.organizations.set(organizations)
        self.stderr.write(
            f"API key {api_key.id} ({api_key.scope}) made; it is shown once, store it now:"
        )
        self.stdout.write(key)
