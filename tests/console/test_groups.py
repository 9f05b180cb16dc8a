"""The staff groups are kept in step after ``migrate`` on the migrated database itself."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import connections
from django.test.utils import CaptureQueriesContext

from console.groups import OPERATOR, VIEWER, ensure_groups

pytestmark = pytest.mark.django_db(databases="__all__")


def test_groups_are_made_on_the_migrated_database_not_the_replica(settings: Any) -> None:
    """With reads routed to the replica (as in production), the post_migrate hook must still
    read the permissions from the database being migrated: the replica may not have replayed
    them yet, and while a test database is made it is still another database."""
    settings.READ_FROM_REPLICA = True
    Group.objects.filter(name__in=[VIEWER, OPERATOR]).delete()
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        ensure_groups(using="default")
    assert [q["sql"] for q in on_replica.captured_queries] == []
    viewer = Group.objects.get(name=VIEWER)
    operator = Group.objects.get(name=OPERATOR)
    assert viewer.permissions.filter(codename="view_transaction").exists()
    assert operator.permissions.filter(codename="operate_transactions").exists()
    assert not viewer.permissions.filter(codename="operate_transactions").exists()
