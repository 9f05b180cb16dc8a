"""Test configuration: real PostgreSQL (primary + streaming replica), Redis and RabbitMQ.

``make test`` starts the services and exports their URLs. Ordinary tests read through the
``replica`` alias mirrored onto the primary's test database (uncommitted test data is visible);
tests marked with the ``real_replica`` fixture re-point that alias at the streaming replica.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

import orjson
import pytest
from django.db import connections
from django.test import Client

from tests.helpers import Api

pytest_plugins = ["tests.metadata_backends"]


@pytest.fixture(autouse=True, scope="session")
def _static_files_without_a_manifest() -> Iterator[None]:
    """The manifest storage of production (hashed names, settings.STORAGES) needs the manifest
    that collectstatic writes, at the image's build; the tests have none, so their pages link the
    plain names. tests/midaz/test_static_files.py runs collectstatic and the real storage."""
    from django.conf import settings
    from django.test.utils import override_settings

    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    with override_settings(STORAGES={**settings.STORAGES, "staticfiles": plain}):
        yield


@pytest.fixture
def api(client: Client) -> Api:
    return Api(client)


@pytest.fixture
def organization(api: Api) -> dict[str, Any]:
    return api.create_organization()


@pytest.fixture
def ledger(api: Api, organization: dict[str, Any]) -> dict[str, Any]:
    return api.create_ledger(organization["id"])


@pytest.fixture
def usd(api: Api, ledger: dict[str, Any]) -> dict[str, Any]:
    return api.create_asset(ledger, code="USD")


def _replica_lsn_caught_up() -> bool:
    with connections["default"].cursor() as cur:
        cur.execute("SELECT pg_current_wal_lsn()")
        primary_lsn = cur.fetchone()[0]
    with connections["replica"].cursor() as cur:
        cur.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [primary_lsn])
        return bool(cur.fetchone()[0])


def wait_for_replica(timeout: float = 10.0) -> None:
    """Block until the replica has replayed everything the primary has written so far."""
    deadline = time.monotonic() + timeout
    while not _replica_lsn_caught_up():
        if time.monotonic() > deadline:
            raise AssertionError("the streaming replica did not catch up in time")
        time.sleep(0.02)


@pytest.fixture
def drop_made_indexes() -> Iterator[None]:
    """Metadata indexes are DDL, which outlives a test's data: drop every one a test made."""
    yield
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND indexname LIKE "
            "'mdx\\_%%'"
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')


def pause_replay() -> None:
    """Stop the replica from applying WAL, so that it lags behind the primary on purpose. It
    first catches up, so the pause never falls inside the replay of a lock that an earlier
    test's table flush took (reads of that table would wait for the resume)."""
    wait_for_replica()
    with connections["replica"].cursor() as cur:
        cur.execute("SELECT pg_wal_replay_pause()")


def resume_replay() -> None:
    """Resume the replica's replay and wait until it runs again and has caught up."""
    with connections["replica"].cursor() as cur:
        cur.execute("SELECT pg_wal_replay_resume()")
        deadline = time.monotonic() + 10
        while True:
            cur.execute("SELECT pg_get_wal_replay_pause_state()")
            row = cur.fetchone()
            if row is not None and row[0] == "not paused":
                break
            assert time.monotonic() < deadline, "the replica did not resume replay"
            time.sleep(0.02)
    wait_for_replica()


@contextmanager
def replica_lagging() -> Iterator[None]:
    """The replica's replay paused for the block (tests that use it also use ``real_replica``);
    resumed afterwards, pass or fail. A test may pause again inside (``pause_replay``)."""
    pause_replay()
    try:
        yield
    finally:
        resume_replay()


@pytest.fixture(autouse=True)
def _reads_on_primary_by_default(settings: Any) -> None:
    """Most tests keep their data in an uncommitted transaction that a replica can never see,
    so plain reads stay on the primary unless a test asks for ``real_replica``."""
    settings.READ_FROM_REPLICA = False


@pytest.fixture(autouse=True)
def _auth_off_unless_marked(request: pytest.FixtureRequest, settings: Any) -> None:
    """API-key authentication is on outside the embedded default. The ledger's behaviour is
    tested without it, as Midaz's compatibility runs are; tests marked ``auth`` turn it on."""
    settings.AUTH_ENABLED = request.node.get_closest_marker("auth") is not None


@pytest.fixture
def real_replica(transactional_db: None, settings: Any) -> Iterator[None]:
    """Point the ``replica`` alias at the real streaming replica (the test database is
    replicated physically, so it exists there under the same name) and route reads to it."""
    settings.READ_FROM_REPLICA = True
    url = os.environ.get("DATABASE_REPLICA_URL")
    if not url or "replica" not in connections.settings:
        pytest.fail("DATABASE_REPLICA_URL must point at the streaming replica (make test sets it)")
    parsed = urlparse(url)
    conn = connections["replica"]
    original = conn.settings_dict
    conn.close()
    conn.settings_dict = {
        **connections["default"].settings_dict,
        "HOST": parsed.hostname,
        "PORT": str(parsed.port or 5432),
        "USER": parsed.username or original.get("USER"),
        "PASSWORD": parsed.password or original.get("PASSWORD"),
    }
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_is_in_recovery()")
            assert cur.fetchone()[0] is True, "the replica alias does not reach a standby"
        yield
    finally:
        conn.close()
        conn.settings_dict = original


def json_body(response: Any) -> Any:
    return orjson.loads(response.content)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """After every passing test that used the database, the ledger's invariants must hold
    (``verify_ledger``): no test may leave money that does not add up. Tests that write money
    state by hand on purpose carry the marker ``fakes_ledger_state``."""
    result = yield
    if item.get_closest_marker("django_db") and not item.get_closest_marker("fakes_ledger_state"):
        from transactions.verify import ledger_verify

        report = ledger_verify()
        assert report.ok, "ledger invariants broken:\n" + "\n".join(report.problems[:20])
    return result
