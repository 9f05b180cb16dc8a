"""The staff groups of the console: ``viewer`` reads, ``operator`` also runs the actions.

A superuser sees and does everything; any other staff user gets what their groups give
(README, "Operator console"). Kept in step after every ``migrate`` (post_migrate)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission

VIEWER = "viewer"
OPERATOR = "operator"
# The apps whose records the console shows. API keys (access) are for superusers only.
VIEWED_APPS = ("onboarding", "transactions", "console")
OPERATE = "transactions.operate_transactions"
EXPORT = "transactions.export_records"
OPERATOR_EXTRA = (OPERATE, EXPORT)


def _permissions(codenames: tuple[str, ...], using: str) -> list[Permission]:
    found: list[Permission] = []
    for label in codenames:
        app_label, codename = label.split(".", 1)
        found.extend(
            Permission.objects.using(using).filter(
                content_type__app_label=app_label, codename=codename
            )
        )
    return found


def ensure_groups(**kwargs: Any) -> None:
    """Creates the groups if absent and sets their permissions to exactly these.

    Every query names the migrated database: a plain read would go to the replica, which may
    not have replayed the permissions this migrate just made (and, while a test database is
    being made, still points at the real database of the replica)."""
    using = kwargs.get("using", "default")
    if using != "default":
        return
    view = list(
        Permission.objects.using(using).filter(
            content_type__app_label__in=VIEWED_APPS, codename__startswith="view_"
        )
    )
    viewer, _ = Group.objects.using(using).get_or_create(name=VIEWER)
    viewer.permissions.set(view)
    operator, _ = Group.objects.using(using).get_or_create(name=OPERATOR)
    operator.permissions.set(view + _permissions(OPERATOR_EXTRA, using))
