"""Valkey flushed (FLUSHALL) and then stopped while clients post with ``X-Idempotency`` keys
through a real gunicorn server: the durable idempotency record in PostgreSQL still answers
every repeat with the first transaction, nothing is posted twice, and the outage costs no
request an error. Valkey is started again by ``scripts/services.sh up``."""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.chaos.harness import (
    Http,
    Ledger,
    Load,
    Posting,
    assert_applied_exactly_once,
    run,
    send_until_answered,
    services,
    serving,
    transfer,
    wait_until,
)

pytestmark = [pytest.mark.chaos, pytest.mark.django_db(transaction=True)]

FUNDED = ("@a", "@b", "@c", "@d")


def redis_cli(*args: str) -> str:
    url = urlparse(os.environ.get("VALKEY_URL", "redis://127.0.0.1:6379/0"))
    port = str(url.port or 6379)
    try:
        return run("redis-cli", "-h", url.hostname or "127.0.0.1", "-p", port, *args).stdout.strip()
    except Exception:  # a stopped server: redis-cli exits non-zero
        return ""


def pick(i: int) -> tuple[str, str, str]:
    return FUNDED[i % 4], FUNDED[(i + 1 + (i // 4) % 3) % 4], "0.5"


def replay_all(ledger: Ledger, postings: list[Posting]) -> int:
    """Send every answered posting again (same key, same body): each must be a replay of its
    first transaction. Returns how many were replayed."""
    for p in postings:
        again = send_until_answered(
            ledger.http,
            "POST",
            ledger.path("/transactions/json"),
            transfer(p.src, p.dst, str(p.value), p.key),
            {"X-Idempotency": p.key},
            give_up_after=20,
        )
        assert again.final is not None, again.attempts
        assert again.final.status == 201, (p.key, again.final.status, again.final.raw[:500])
        assert again.final.replayed, f"{p.key} was posted again instead of replayed"
        assert again.final.body["id"] == p.tx_id
        assert not again.transient, again.attempts
    return len(postings)


def test_valkey_flushed_then_stopped_during_postings(log_dir: Path) -> None:
    assert redis_cli("ping") == "PONG", "Valkey must be up before the test"
    try:
        with serving(log_dir, workers=2, threads=2) as server:
            http = Http(server.port)
            ledger = Ledger(http, dict.fromkeys(FUNDED, "1000"))
            with Load(ledger, clients=4, pick=pick, pause=0.1) as load:
                load.wait_answered(30)
                # The answers are cached: the flush below really takes something away.
                assert redis_cli("--scan", "--pattern", "*idem:*"), "no idempotency answer cached"
                assert redis_cli("flushall") == "OK"
                flushed = [p for p in load.postings if p.outcome.succeeded]
                replayed = replay_all(ledger, flushed)
                load.wait_answered(load.answered() + 20)
                redis_cli("shutdown", "nosave")
                wait_until(lambda: redis_cli("ping") != "PONG", 10, "Valkey to stop")
                stopped_at = time.monotonic()
                load.wait_answered(load.answered() + 30)
                replayed += replay_all(ledger, [p for p in load.postings if p.outcome.succeeded])
                assert redis_cli("ping") != "PONG", "Valkey came back by itself"
                outage = time.monotonic() - stopped_at
                services("up")
                assert redis_cli("ping") == "PONG"
                load.wait_answered(load.answered() + 20)
            postings = load.postings
            replayed += replay_all(ledger, [p for p in postings if p.outcome.succeeded])
    finally:
        services("up")
    print(f"{len(postings)} postings, {replayed} replays, Valkey down {outage:.1f} s")
    # Neither the flush nor the outage cost a request an error or a retry.
    assert not [p for p in postings if p.outcome.transient]
    assert all(p.outcome.succeeded for p in postings)
    assert_applied_exactly_once(ledger, postings)
