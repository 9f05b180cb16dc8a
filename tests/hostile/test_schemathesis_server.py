"""Schemathesis against a real server with everything optional configured: gunicorn on the
test database, plain reads on the streaming replica, the idempotency and settings caches in
Valkey. Where tests/hostile/test_schemathesis.py runs each example in process inside a rolled
back savepoint, here every example is committed, so state builds up the way it does in
production (deleted ledgers, reused keys, cached answers, a replica a little behind).

The run lasts ``SCHEMATHESIS_SERVER_SECONDS`` (60 by default, so that CI runs it; the
hostile-input review asks for 600): rounds over every operation of the schema, positive and
negative data in turn, each round against freshly seeded objects (an example may delete
them). No answer may be a 5xx, and the ledger's invariants (verify_ledger) hold afterwards.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok

from tests.chaos.harness import database_url, replica_port, serving
from tests.helpers import Api
from tests.hostile.test_schemathesis import RAW_SCHEMA, point_at_seeded_objects
from tests.hostile.test_schemathesis import seed as seed_objects

SECONDS = float(os.environ.get("SCHEMATHESIS_SERVER_SECONDS", "60"))
# Examples per operation and round: small, so that a short run still visits every operation.
PER_ROUND = int(os.environ.get("SCHEMATHESIS_SERVER_EXAMPLES", "3"))

# Its own schema object: the in-process test's one carries the WSGI app, and calls made through it
# never leave the process, whatever base URL they name.
SCHEMA = schemathesis.openapi.from_dict(RAW_SCHEMA)
SCHEMA.config.generation.update(with_security_parameters=False)

pytestmark = [
    pytest.mark.django_db(transaction=True, databases=["default", "replica"]),
    pytest.mark.timeout(SECONDS + 600),
]


def _server_env() -> dict[str, str]:
    valkey = os.environ.get("VALKEY_URL", "")
    assert valkey, "VALKEY_URL must name the Valkey/Redis that make test starts"
    return {
        "DATABASE_REPLICA_URL": database_url(replica_port()),
        "READ_FROM_REPLICA": "true",
        "VALKEY_URL": valkey,
    }


def _run_operation(
    operation: Any, mode: GenerationMode, round_no: int, base_url: str, objects: dict[str, str]
) -> list[str]:
    failures: list[str] = []

    @seed(round_no)
    @settings(
        max_examples=PER_ROUND,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def example(case: Any) -> None:
        point_at_seeded_objects(case, objects)
        case.call_and_validate(base_url=base_url, checks=[not_a_server_error], timeout=30)

    try:
        example()
    except Unsatisfiable:
        pass  # no negative data exists for an operation without inputs
    except (Exception, BaseExceptionGroup) as exc:  # every failure is kept
        failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    return failures


def test_a_live_server_with_replica_and_valkey_never_answers_5xx(
    api: Api, tmp_path: Path, drop_made_indexes: None
) -> None:
    operations = []
    for result in SCHEMA.get_all_operations():
        assert isinstance(result, Ok), f"the schema has an invalid operation: {result.err()}"
        operations.append(result.ok())
    assert len(operations) > 50, "the schema lists every operation of the API"
    failures: list[str] = []
    examples = 0
    with serving(tmp_path, workers=2, threads=2, **_server_env()) as server:
        base_url = f"http://127.0.0.1:{server.port}"
        deadline = time.monotonic() + SECONDS
        round_no = 0
        while time.monotonic() < deadline:
            objects = seed_objects(api)
            mode = GenerationMode.POSITIVE if round_no % 2 == 0 else GenerationMode.NEGATIVE
            for operation in operations:
                if time.monotonic() >= deadline:
                    break
                failures += _run_operation(operation, mode, round_no, base_url, objects)
                examples += PER_ROUND
            round_no += 1
        log = server.log()
    print(f"schemathesis on a live server: {round_no} rounds, ~{examples} examples, {SECONDS} s")
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:30])
    assert "Traceback" not in log, log[-5000:]

    from transactions.verify import ledger_verify

    report = ledger_verify()
    assert report.ok, "\n".join(report.problems[:20])
