"""The primary/replica router (DESIGN.md §7), against the real streaming replica."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext

from midaz import context
from midaz.db_router import PRIMARY, REPLICA, read_alias
from onboarding.models import Organization
from tests.conftest import replica_lagging, wait_for_replica
from tests.helpers import Api

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


@pytest.fixture
def replay_paused(real_replica: None) -> Iterator[None]:
    """Stop the replica from applying WAL, so it lags behind the primary on purpose.

    The replica first catches up, so the pause never falls inside the replay of a lock the
    earlier tests' table flushes took (reads of that table would wait for the resume), and
    the fixture ends only once replay is running again and caught up."""
    with replica_lagging():
        yield


def test_plain_reads_go_to_the_replica_and_writes_to_the_primary(real_replica: None) -> None:
    token = context.pinned_to_primary.set(False)
    try:
        assert read_alias() == REPLICA
        with transaction.atomic():
            assert read_alias() == PRIMARY  # locking reads and reads in a write transaction
        Organization.objects.create(legal_name="x", legal_document="1")
        assert read_alias() == PRIMARY  # pinned after the write: read your own writes
    finally:
        context.pinned_to_primary.reset(token)


def test_replica_is_a_read_only_standby(real_replica: None) -> None:
    with connections[REPLICA].cursor() as cur:
        cur.execute("SELECT pg_is_in_recovery()")
        assert cur.fetchone()[0] is True
    with pytest.raises(Exception, match="read-only"), connections[REPLICA].cursor() as cur:
        cur.execute("CREATE TABLE should_fail (id int)")


def test_get_reads_from_the_replica(api: Api, real_replica: None) -> None:
    org = api.create_organization()
    wait_for_replica()
    with (
        CaptureQueriesContext(connections[REPLICA]) as on_replica,
        CaptureQueriesContext(connections[PRIMARY]) as on_primary,
    ):
        body = api.ok(api.get(f"/organizations/{org['id']}"), 200)
    assert body["id"] == org["id"]
    assert len(on_replica) >= 1
    assert len(on_primary) == 0


def test_a_request_that_writes_reads_its_own_writes_on_the_primary(
    api: Api, real_replica: None
) -> None:
    parent = api.create_organization()
    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        child = api.create_organization(parentOrganizationId=parent["id"])
    assert child["parentOrganizationId"] == parent["id"]
    assert len(on_replica) == 0  # the parent lookup ran inside the write transaction

    wait_for_replica()
    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        ledger = api.create_ledger(parent["id"])
    assert ledger["organizationId"] == parent["id"]
    # Only the scope check before the write may use the replica (after asking it whether it
    # has replayed this client's last write, midaz/read_your_writes.py); nothing after it does.
    allowed = ("onboarding_organization", "pg_last_wal_replay_lsn")
    assert [q["sql"] for q in on_replica.captured_queries] == [
        q["sql"] for q in on_replica.captured_queries if any(a in q["sql"] for a in allowed)
    ]
    assert len(on_replica) <= 2


def test_a_lagging_replica_never_hides_a_fresh_row(api: Api, replay_paused: None) -> None:
    org = api.create_organization()
    # The replica has not replayed the insert, so only the retry on the primary can find it.
    assert not Organization.objects.using(REPLICA).filter(pk=org["id"]).exists()
    body = api.ok(api.get(f"/organizations/{org['id']}"), 200)
    assert body["legalName"] == org["legalName"]
    ledger = api.create_ledger(org["id"])
    assert (
        api.ok(api.get(f"/organizations/{org['id']}/ledgers/{ledger['id']}"), 200)["id"]
        == ledger["id"]
    )


def test_unknown_id_is_still_404_after_the_primary_retry(api: Api, real_replica: None) -> None:
    missing: dict[str, Any] = api.get("/organizations/01a20a4a-0024-76cc-8fd4-12161525a60f").json()
    assert missing["code"] == "0038"
