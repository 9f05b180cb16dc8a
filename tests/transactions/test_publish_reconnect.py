"""Publishing an asynchronous posting's apply task after RabbitMQ dropped the connection.

After a broker restart (or an idle timeout), every process's pooled connection is dead, and
its first publish fails. The posting is durable either way and the sweep would apply it, but
only ``ASYNC_SWEEP_AFTER_SECONDS`` later: the publish retries once at once, on a new
connection, so the task reaches the queue now. Real RabbitMQ: ``rabbitmqctl
stop_app`` / ``start_app`` restarts the broker under the pooled connection.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid

import pytest
from django.conf import settings

from midaz.celery import POSTINGS
from midaz.celery import app as celery_app
from transactions import asynchronous


def _queued_ledger_ids() -> list[str]:
    """Every apply task waiting in the postings queue (consumed: no worker runs here)."""
    found = []
    with celery_app.connection_for_read() as conn:
        queue = POSTINGS(conn.default_channel)
        while (message := queue.get(no_ack=False)) is not None:
            args = message.decode()[0]
            found.append(str(args[0]) if args else "")
            message.ack()
    return found


def test_a_publish_on_a_connection_the_broker_dropped_still_reaches_the_queue() -> None:
    if not settings.CELERY_BROKER_URL:
        pytest.fail("CELERY_BROKER_URL must name the RabbitMQ that make test starts")
    rabbitmqctl = shutil.which("rabbitmqctl")
    assert rabbitmqctl is not None, "scripts/services.sh installs RabbitMQ"
    first, second = uuid.uuid4(), uuid.uuid4()
    asynchronous.publish(first)  # opens the pooled connection

    def ctl(*args: str) -> None:
        subprocess.run([rabbitmqctl, *args], check=True, capture_output=True, timeout=120)  # noqa: S603

    ctl("stop_app")
    try:
        time.sleep(0.5)
    finally:
        ctl("start_app")
    ctl("await_startup")
    asynchronous.publish(second)
    queued = _queued_ledger_ids()
    assert str(first) in queued
    assert str(second) in queued, "the publish after the dropped connection was lost"
