"""``manage.py list_api_keys``: every key, its scope and state (never the key itself)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from access.models import ApiKey


class Command(BaseCommand):
    help = "List API keys: id, prefix, scope, organizations, state."

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        for key in ApiKey.objects.prefetch_related("organizations"):
            orgs = (
                "all"
                if key.all_organizations
                else ",".join(str(o.pk) for o in key.organizations.all())
            )
            state = "active" if key.usable_at(now) else "revoked/expired"
            self.stdout.write(f"{key.id} {key.prefix} {key.scope} {state} orgs={orgs} {key.name}")
