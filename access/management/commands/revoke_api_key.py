"""``manage.py revoke_api_key ID_OR_PREFIX``: the key stops working at once."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from access.models import ApiKey


class Command(BaseCommand):
    help = "Revoke an API key by its id or its shown prefix (mdz_xxxxxxxx)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("key", help="the key's id or prefix")

    def handle(self, *args: Any, **options: Any) -> None:
        wanted: str = options["key"]
        try:
            keys = ApiKey.objects.filter(pk=uuid.UUID(wanted))
        except ValueError:
            keys = ApiKey.objects.filter(prefix=wanted)
        found = list(keys)
        if len(found) != 1:
            raise CommandError(f"{len(found)} keys match {wanted!r}; give the key's id")
        found[0].revoke()
        self.stdout.write(f"revoked {found[0]}")
