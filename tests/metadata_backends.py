"""The metadata stores the tests run against.

- ``postgres``: the default store, the jsonb column (always).
- ``mongodb``: a real MongoDB server, when ``MONGO_URL`` is set (skipped otherwise). No MongoDB
  server can be installed on the machines this project is developed and tested on, so these
  runs happen wherever an operator sets ``MONGO_URL``; each run uses a database of its own and
  drops it afterwards.
- ``mongomock``: the same MongoDB adapter over mongomock, an in-memory implementation of
  pymongo's API and MongoDB's query language. It exercises every line of the adapter (documents,
  filters, indexes, the wiring of postings) but it is not a MongoDB server: wire protocol, write
  concern and server-side index builds are verified only by the ``mongodb`` runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from uuid_utils.compat import uuid7

from midaz import metadata
from midaz.metadata import MetadataStore, MongoMetadataStore, PostgresMetadataStore

MONGO_URL = os.environ.get("MONGO_URL", "")
needs_mongodb = pytest.mark.skipif(
    not MONGO_URL, reason="MONGO_URL is not set: no MongoDB server to test against"
)


def _store(kind: str) -> Iterator[MetadataStore]:
    if kind == "postgres":
        yield PostgresMetadataStore()
        return
    if kind == "mongomock":
        import mongomock

        yield MongoMetadataStore(mongomock.MongoClient(tz_aware=True), "midaz_test")
        return
    from pymongo import MongoClient

    client: Any = MongoClient(MONGO_URL, serverSelectionTimeoutMS=3000, tz_aware=True)
    database = f"midaz_test_{uuid7().hex}"
    try:
        yield MongoMetadataStore(client, database)
    finally:
        client.drop_database(database)
        client.close()


MONGO_KINDS = [pytest.param("mongodb", marks=needs_mongodb), "mongomock"]
ALL_KINDS = ["postgres", *MONGO_KINDS]


@pytest.fixture
def use_store(request: pytest.FixtureRequest, settings: Any) -> Iterator[MetadataStore]:
    """The store named by the test's parameter, made the store of the process."""
    kind = request.param
    for store in _store(kind):
        settings.METADATA_BACKEND = "postgres" if kind == "postgres" else "mongodb"
        with metadata.using(store):
            yield store
