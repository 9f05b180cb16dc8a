"""Prometheus metrics (midaz/metrics.py): /metrics without a key, the ledger's posting counters,
latency and replays, the asynchronous queue and apply lag, the switch, and the aggregation
across gunicorn's worker processes (PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

import http.client
import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from prometheus_client import REGISTRY

from midaz.celery import app as celery_app
from tests.chaos.harness import serving
from tests.helpers import Api, assert_error
from tests.transactions.book import Book
from transactions.models import QueuedPosting

pytestmark = pytest.mark.django_db


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def postings(kind: str, status: str, code: str = "") -> float:
    return sample("midaz_postings_total", kind=kind, status=status, code=code)


@pytest.fixture
def book(api: Api, ledger: dict[str, Any], usd: dict[str, Any]) -> Book:
    b = Book(api, ledger)
    for alias in ("@alice", "@bob"):
        b.account(alias)
    b.fund("@alice", "100")
    return b


def scrape(client: Client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def value_in(text: str, line_prefix: str) -> float:
    match = re.search(rf"^{re.escape(line_prefix)} ([0-9.e+-]+)$", text, re.MULTILINE)
    assert match, f"{line_prefix} not in the scrape"
    return float(match.group(1))


@pytest.mark.auth
def test_metrics_need_no_api_key_and_show_http_and_ledger_metrics(client: Client) -> None:
    assert client.get("/v1/organizations").status_code == 401  # keys are on
    text = scrape(client)
    assert "django_http_requests_total_by_method_total" in text
    assert "# TYPE midaz_postings_total counter" in text
    assert "# TYPE midaz_posting_duration_seconds histogram" in text
    assert value_in(text, "midaz_async_queue_depth") == 0


def test_metrics_answer_a_scrape_by_pod_ip_but_not_through_the_ingress(client: Client) -> None:
    # Prometheus scrapes a pod by its IP: a host ALLOWED_HOSTS does not list.
    assert client.get("/v1/organizations", HTTP_HOST="10.1.2.3:3002").status_code == 400
    assert (
        "midaz_postings_total" in client.get("/metrics", HTTP_HOST="10.1.2.3:3002").content.decode()
    )
    # Through the Ingress (X-Forwarded-For): an unknown route.
    proxied = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert_error(proxied, 404, "0484")


def test_postings_are_counted_by_kind_status_and_code(book: Book) -> None:
    before = {
        "approved": postings("json", "APPROVED"),
        "refused": postings("json", "refused", "0018"),
        "replayed": postings("json", "replayed"),
        "replays": sample("midaz_idempotent_replays_total", kind="json"),
        "latency": sample("midaz_posting_duration_seconds_count", kind="json"),
        "pending": postings("json", "PENDING"),
        "commit": postings("commit", "APPROVED"),
        "cancel": postings("cancel", "CANCELED"),
        "revert": postings("revert", "APPROVED"),
        "notfound": postings("commit", "refused", "0007"),
    }
    first = book.ok(book.transfer("@alice", "@bob", "10", headers={"X-Idempotency": "k-1"}))
    again = book.transfer("@alice", "@bob", "10", headers={"X-Idempotency": "k-1"})
    assert again.status_code == 201
    assert again["X-Idempotency-Replayed"] == "true"
    assert_error(book.transfer("@alice", "@bob", "1000"), 422, "0018")
    held = book.ok(book.transfer("@alice", "@bob", "5", pending=True))
    held_too = book.ok(book.transfer("@alice", "@bob", "6", pending=True))
    tx_path = "/transactions/{}/{}"
    assert book.api.post(book.path(tx_path.format(held["id"], "commit"))).status_code == 201
    assert book.api.post(book.path(tx_path.format(held_too["id"], "cancel"))).status_code == 201
    assert book.api.post(book.path(tx_path.format(first["id"], "revert"))).status_code == 201
    missing = "019a0000-0000-7000-8000-000000000000"
    assert book.api.post(book.path(tx_path.format(missing, "commit"))).status_code == 404

    assert postings("json", "APPROVED") == before["approved"] + 1
    assert postings("json", "replayed") == before["replayed"] + 1
    assert sample("midaz_idempotent_replays_total", kind="json") == before["replays"] + 1
    assert postings("json", "refused", "0018") == before["refused"] + 1
    assert postings("json", "PENDING") == before["pending"] + 2
    assert postings("commit", "APPROVED") == before["commit"] + 1
    assert postings("cancel", "CANCELED") == before["cancel"] + 1
    assert postings("revert", "APPROVED") == before["revert"] + 1
    assert postings("commit", "refused", "0007") == before["notfound"] + 1
    # One latency observation per json request: approved, replayed, refused, two pending.
    assert sample("midaz_posting_duration_seconds_count", kind="json") == before["latency"] + 5


def test_a_bulk_counts_each_item(book: Book) -> None:
    before_ok = postings("bulk", "APPROVED")
    before_refused = postings("bulk", "refused", "0018")
    items = [
        {"send": {**_send("1"), "source": {"from": [_amt("@alice", "1")]}}},
        {"send": {**_send("9999"), "source": {"from": [_amt("@alice", "9999")]}}},
        {"send": {**_send("2"), "source": {"from": [_amt("@alice", "2")]}}},
    ]
    for item, value in zip(items, ("1", "9999", "2"), strict=True):
        item["send"]["distribute"] = {"to": [_amt("@bob", value)]}
    response = book.api.post(
        book.path("/transactions/bulk"), {"atomic": False, "transactions": items}
    )
    assert response.status_code == 207, response.content
    assert postings("bulk", "APPROVED") == before_ok + 2
    assert postings("bulk", "refused", "0018") == before_refused + 1


def _send(value: str) -> dict[str, Any]:
    return {"asset": "USD", "value": value}


def _amt(alias: str, value: str) -> dict[str, Any]:
    return {"accountAlias": alias, "amount": {"asset": "USD", "value": value}}


def test_async_queue_depth_and_apply_lag(
    book: Book, settings: Any, client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    settings.TRANSACTION_ASYNC = True
    before_created = postings("json", "CREATED")
    # Inside the test's transaction the publication waits for a commit: the posting stays queued.
    book.ok(book.transfer("@alice", "@bob", "7"))
    book.ok(book.transfer("@alice", "@bob", "8"))
    assert QueuedPosting.objects.count() == 2
    assert postings("json", "CREATED") == before_created + 2
    text = scrape(client)
    assert value_in(text, "midaz_async_queue_depth") == 2
    assert value_in(text, "midaz_async_queue_oldest_age_seconds") >= 0

    lag_before = sample("midaz_async_apply_lag_seconds_count")
    applied_before = sample("midaz_async_postings_applied_total", status="APPROVED", code="")
    celery_app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            book.ok(book.transfer("@alice", "@bob", "9"))  # its task applies the ledger's queue
    finally:
        celery_app.conf.task_always_eager = False
    assert not QueuedPosting.objects.exists()
    assert sample("midaz_async_apply_lag_seconds_count") == lag_before + 3
    assert (
        sample("midaz_async_postings_applied_total", status="APPROVED", code="")
        == applied_before + 3
    )
    assert value_in(scrape(client), "midaz_async_queue_depth") == 0


def test_metrics_off_counts_nothing(book: Book, settings: Any) -> None:
    settings.METRICS_ENABLED = False
    before = postings("json", "APPROVED")
    latency = sample("midaz_posting_duration_seconds_count", kind="json")
    book.ok(book.transfer("@alice", "@bob", "1"))
    assert postings("json", "APPROVED") == before
    assert sample("midaz_posting_duration_seconds_count", kind="json") == latency


# --- several gunicorn workers -------------------------------------------------------------------


def _get(port: int, path: str) -> tuple[int, str]:
    """A new connection per request, so that gunicorn's workers share them out."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def test_metrics_add_up_across_gunicorn_workers(tmp_path: Path, transactional_db: None) -> None:
    directory = tmp_path / "prometheus"
    directory.mkdir()
    stale = directory / "counter_999999.db"
    stale.write_bytes(b"left by a previous run")
    with serving(tmp_path, workers=2, PROMETHEUS_MULTIPROC_DIR=str(directory)) as server:
        assert not stale.exists()  # emptied when gunicorn started
        # Until both workers have answered some (the kernel shares connections out unevenly).
        requests = 0
        pids: set[str] = set()
        while requests < 40 or (len(pids) < 2 and requests < 2000):
            assert _get(server.port, "/version")[0] == 200
            requests += 1
            pids = {re.sub(r"\D", "", p.name) for p in directory.glob("counter_*.db")}
        assert len(pids) == 2, sorted(p.name for p in directory.iterdir())
        for _ in range(6):
            status, text = _get(server.port, "/metrics")
            assert status == 200
            # Whichever worker answers, the count is that of both.
            total = value_in(text, 'django_http_requests_total_by_method_total{method="GET"}')
            assert total >= requests + 1
