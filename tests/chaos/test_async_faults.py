"""Asynchronous postings (``TRANSACTION_ASYNC``) sent through a real gunicorn server to a real
Celery worker on RabbitMQ, with clients retrying under their ``X-Idempotency`` keys: the worker
killed with SIGKILL and started again, then RabbitMQ's app stopped and started under the load.
Every accepted posting is applied exactly once. (tests/transactions/test_async.py has the
same faults driven in process, with the batch caught mid-lock.)"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos.harness import (
    ROOT,
    Http,
    Ledger,
    Load,
    assert_applied_exactly_once,
    database_url,
    services,
    serving,
    wait_until,
)
from tests.transactions.test_async import worker_command

pytestmark = [pytest.mark.chaos, pytest.mark.django_db(transaction=True)]

FUNDED = ("@a", "@b", "@c", "@d")


def pick(i: int) -> tuple[str, str, str]:
    return FUNDED[i % 4], FUNDED[(i + 1 + (i // 4) % 3) % 4], "0.25"


def rabbitmqctl(*args: str) -> None:
    tool = shutil.which("rabbitmqctl")
    assert tool is not None, "rabbitmqctl is installed with RabbitMQ (scripts/services.sh)"
    subprocess.run([tool, *args], check=True, capture_output=True, timeout=120)  # noqa: S603


class Worker:
    """``celery -A midaz worker`` on the postings queue, in its own process group."""

    def __init__(self, log_dir: Path) -> None:
        self.log = log_dir / "celery.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "DATABASE_URL": database_url(), "SECRET_KEY": "test-only-secret-key"}
        env["METRICS_PORT"] = "0"  # any free port: never one a stray worker of another run holds
        env.pop("DATABASE_REPLICA_URL", None)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(  # noqa: S603 - a fixed command
                worker_command(),
                cwd=ROOT,
                env=env,
                start_new_session=True,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


@pytest.fixture
def worker(log_dir: Path) -> Iterator[Worker]:
    from midaz.celery import POSTINGS
    from midaz.celery import app as celery_app

    with celery_app.connection_for_write() as conn:
        POSTINGS.bind(conn).declare()
        POSTINGS.bind(conn).purge()  # messages of earlier runs name ledgers long gone
    w = Worker(log_dir)
    try:
        yield w
    finally:
        w.stop()
        services("up")  # RabbitMQ back whatever happened


def test_worker_killed_and_rabbitmq_restarted_under_http_load(
    log_dir: Path, worker: Worker
) -> None:
    from transactions import asynchronous
    from transactions.models import QueuedPosting

    with serving(log_dir, workers=2, threads=2, TRANSACTION_ASYNC="true") as server:
        ledger = Ledger(Http(server.port), dict.fromkeys(FUNDED, "1000"))
        worker.start()
        with Load(ledger, clients=4, pick=pick, pause=0.02) as load:
            load.wait_answered(60)
            worker.kill()  # SIGKILL, with postings queued and in flight
            load.wait_answered(load.answered() + 60)
            worker.start()
            load.wait_answered(load.answered() + 40)
            rabbitmqctl("stop_app")
            try:
                load.wait_answered(load.answered() + 40)  # accepted; publishing fails
            finally:
                rabbitmqctl("start_app")
            rabbitmqctl("await_startup")
            load.wait_answered(load.answered() + 60)
        postings = load.postings
    ids = [p.tx_id for p in postings if p.tx_id]
    # The worker reconnects and drains what was published; the sweep (Celery beat's job)
    # applies what no message reached.
    wait_until(
        lambda: not QueuedPosting.objects.filter(transaction_id__in=ids[-20:]).exists(),
        60,
        "the worker to apply what was published after the restart",
    )
    asynchronous.sweep(older_than_seconds=0)
    wait_until(
        lambda: not QueuedPosting.objects.filter(transaction_id__in=ids).exists(),
        60,
        "every accepted posting to be applied",
    )
    print(f"{len(postings)} postings, {sum(1 for p in postings if p.outcome.transient)} retried")
    assert all(p.outcome.succeeded for p in postings)
    assert all(p.outcome.final and p.outcome.final.status == 201 for p in postings)
    assert_applied_exactly_once(ledger, postings)
