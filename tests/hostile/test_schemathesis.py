"""Schemathesis against the ledger's own OpenAPI schema, in process through the WSGI app.

Every operation of the schema is called with generated data (valid and invalid); every answer
must be documented: no 5xx, a status code the operation lists, the content type it lists, a
body that matches its response schema. Path parameters mostly point at real objects of a
seeded ledger (so the 2xx answers are reached and checked too), sometimes keep the generated
value (so malformed and unknown ids are checked). Each example runs in a savepoint that is
rolled back, so a DELETE of the seeded ledger does not starve the examples after it.

The number of examples per operation is bounded (``SCHEMATHESIS_MAX_EXAMPLES``, default 12) so
the whole run stays within about two minutes.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from uuid_utils.compat import uuid7

from midaz.wsgi import application
from tests.conftest import json_body
from tests.helpers import Api, ledger_path
from tests.transactions.book import Book, amt, send

# The replica alias too: GET /readyz checks it (a replica down is 200 "degraded", 503 only
# with ?strict=true or the primary down).
pytestmark = pytest.mark.django_db(databases=["default", "replica"])

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "12"))

# The schema the ledger serves at /v1/openapi.json (test_served_schema_is_the_tested_one
# proves they are the same document), generated without a request so that loading it at
# collection time needs neither the database nor authentication.
RAW_SCHEMA: dict[str, Any] = SchemaGenerator().get_schema(request=None, public=True)
SCHEMA = schemathesis.openapi.from_dict(RAW_SCHEMA)
SCHEMA.app = application
# API-key authentication is off in these tests (tests/conftest.py) and has tests of its own
# (marker ``auth``): a request without a key is accepted here, so negative data must not be a
# missing or broken Authorization header.
SCHEMA.config.generation.update(with_security_parameters=False)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture
def wsgi_in_test_transaction() -> Iterator[None]:
    """Django's WSGI handler closes "old" connections when a request starts and ends; inside
    a test transaction that would drop it. The test client disconnects the same handler."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def seeded(api: Api) -> dict[str, str]:
    return seed(api)


def seed(api: Api) -> dict[str, str]:
    """One of everything a path can name, by path parameter name (``id`` by collection)."""
    org = api.create_organization()
    ledger = api.create_ledger(org["id"])
    api.create_asset(ledger, code="USD")
    book = Book(api, ledger)
    alice = book.account("@alice")
    book.account("@bob")
    book.fund("@alice", "100")
    tx = book.ok(book.post(send("USD", "5", [amt("@alice", "5")], [amt("@bob", "5")])))
    operation = tx["operations"][0]

    def made(suffix: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
        return api.ok(api.request("POST", ledger_path(ledger, suffix), body), status)

    op_route = made("/operation-routes", {"title": "both", "operationType": "bidirectional"})
    tx_route = made("/transaction-routes", {"title": "t", "operationRoutes": [op_route["id"]]})
    rate_id = str(uuid7())
    api.ok(
        api.request(
            "PUT",
            ledger_path(ledger, "/asset-rates"),
            {"from": "USD", "to": "BRL", "rate": 5, "externalId": rate_id},
        ),
        201,
    )
    balance = json_body(api.get(ledger_path(ledger, f"/accounts/{alice['id']}/balances")))
    return {
        "organization_id": org["id"],
        "ledger_id": ledger["id"],
        "account_id": alice["id"],
        "transaction_id": tx["id"],
        "operation_id": operation["id"],
        "balance_id": balance["items"][0]["id"],
        "alias": "@alice",
        "code": "USD",
        "asset_code": "USD",
        "external_id": rate_id,
        "operation_route_id": op_route["id"],
        "transaction_route_id": tx_route["id"],
        "entity_name": "transaction",
        "index_key": "invoice",
        "id:/v1/organizations/{id}": org["id"],
        "id:accounts": alice["id"],
        "id:assets": made("/assets", {"name": "Euro", "type": "currency", "code": "EUR"})["id"],
        "id:portfolios": made("/portfolios", {"name": "Main"})["id"],
        "id:segments": made("/segments", {"name": "Retail"})["id"],
        "id:account-types": made("/account-types", {"name": "Checking", "keyValue": "chk"})["id"],
    }


def _real_value(path: str, name: str, seeded: dict[str, str]) -> str | None:
    if name != "id":
        return seeded.get(name)
    if path == "/v1/organizations/{id}":
        return seeded["id:/v1/organizations/{id}"]
    collection = path.rsplit("/", 2)[-2]
    return seeded.get(f"id:{collection}")


def point_at_seeded_objects(case: Any, seeded: dict[str, str]) -> None:
    """Three times in four, a path parameter names the seeded object (chosen from the
    generated value, so that Hypothesis replays the same choice when it shrinks)."""
    for name, value in list((case.path_parameters or {}).items()):
        real = _real_value(case.path, name, seeded)
        if real is not None and zlib.crc32(repr(value).encode()) % 4:
            case.path_parameters[name] = real


@SCHEMA.exclude(path_regex="metadata-indexes/entities").parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_answer_is_documented(
    case: Any, seeded: dict[str, str], wsgi_in_test_transaction: None
) -> None:
    point_at_seeded_objects(case, seeded)
    with transaction.atomic():
        try:
            # https: the ledger redirects plain HTTP outside DEBUG (SECURE_SSL_REDIRECT).
            case.call_and_validate(base_url="https://localhost", checks=CHECKS)
        finally:
            transaction.set_rollback(True)


# Metadata indexes are built and dropped CONCURRENTLY, which PostgreSQL refuses inside a
# transaction block: these two operations run without the test transaction and savepoints.
@SCHEMA.include(path_regex="metadata-indexes/entities").parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
@pytest.mark.django_db(transaction=True)
def test_metadata_index_answers_are_documented(
    case: Any, wsgi_in_test_transaction: None, drop_made_indexes: None
) -> None:
    case.call_and_validate(base_url="https://localhost", checks=CHECKS)


def test_served_schema_is_the_tested_one(api: Api) -> None:
    served = api.client.get("/v1/openapi.json")
    assert served.status_code == 200
    assert json_body(served) == RAW_SCHEMA
