"""Asynchronous mode under adversarial bodies (issue 16): a Hypothesis state machine posts, in
any order, valid transfers and hostile bodies (negative and oversized shares, shares of shares,
remaining with nothing or less than nothing left, huge digit counts, long strings in every
field a row stores, pending holds, Gold DSL uploads), applies the queue, commits and cancels
holds. Whatever happens:

* every answer is a 201 or a Midaz 4xx, never a 5xx;
* every accepted posting ends APPROVED, PENDING, NOTED or DECLINED once the queue is applied
  (none stays CREATED, the ledger's queue empties);
* a valid posting accepted after a hostile one is never blocked by it: funded from the
  external account it is always APPROVED;
* ``verify_ledger`` holds for the ledger after every application.

The machine runs with ``apply_ledger`` called in process (fast, many examples), and once more
with a real Celery worker on RabbitMQ applying what is published.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test

from midaz.error_codes import CATALOG
from tests.helpers import Api
from tests.transactions import test_async
from tests.transactions.book import Book, amt, rest, send, share
from tests.transactions.test_async import Worker
from transactions import asynchronous
from transactions.models import QueuedPosting, Transaction
from transactions.verify import ledger_verify

worker = test_async.worker  # the fixture: a real Celery worker of the postings queue

ACCOUNTS = ["@a0", "@a1", "@a2"]
FINAL = {"APPROVED", "PENDING", "NOTED", "DECLINED", "CANCELED"}

who = st.sampled_from(ACCOUNTS)
small = st.integers(1, 50).map(str)
percent = st.one_of(
    st.integers(-300, 300),
    st.sampled_from([150, -50, 101, 0, 100, 10**30, -(10**30), 2**63]),
)
digits = st.one_of(
    st.sampled_from([30, 38, 39, 64, 65, 200, 1000, 5000]).map(lambda n: "9" * n),
    st.sampled_from([30, 63, 64, 300, 2000]).map(lambda n: "0." + "0" * n + "1"),
    st.sampled_from(["1e400", "1E+99999", "-10", "0", "\u0661\u0660", "1_000", "NaN", "Infinity"]),
)
long_text = st.sampled_from([101, 256, 257, 1000, 20000]).map(lambda n: "é" * n)


@st.composite
def hostile_json(draw: Any) -> dict[str, Any]:
    """One hostile JSON transaction body, from @a0 (funded) or the external account."""
    src = draw(st.sampled_from(["@external/USD", "@a0"]))
    dst = draw(who.filter(lambda a: a != "@a0"))
    value = draw(small)
    shape = draw(
        st.sampled_from(
            ["shares", "share+remaining", "of", "digits", "strings", "pending-share", "route"]
        )
    )
    if shape == "shares":
        p = draw(percent)
        return send("USD", value, [amt(src, value)], [share(dst, p), share("@a2", 100 - p)])
    if shape == "share+remaining":
        side = [share(dst, draw(percent)), rest("@a2")]
        if draw(st.booleans()):
            return send("USD", value, side, [amt("@a1", value)]) if src == "@a0" else {}
        return send("USD", value, [amt(src, value)], side)
    if shape == "of":
        p, of = draw(percent), draw(percent)
        return send("USD", value, [amt(src, value)], [share(dst, p, of), rest("@a2")])
    if shape == "digits":
        v = draw(digits)
        return send("USD", v, [amt(src, v)], [amt(dst, v)])
    if shape == "strings":
        text = draw(long_text)
        where = draw(
            st.sampled_from(
                ["description", "code", "chart", "entry-description", "metadata", "key", "alias"]
            )
        )
        to: dict[str, Any] = amt(dst, value)
        top: dict[str, Any] = {}
        if where == "description":
            top["description"] = text
        elif where == "code":
            top["code"] = text
        elif where == "chart":
            top["chartOfAccountsGroupName"] = text
        elif where == "entry-description":
            to["description"] = text
        elif where == "metadata":
            top["metadata"] = {"k": text}
        elif where == "key":
            to["balanceKey"] = text
        else:
            to["accountAlias"] = "@" + text
        return send("USD", value, [amt(src, value)], [to], **top)
    if shape == "pending-share":
        p = draw(percent)
        body = send("USD", value, [amt("@a0", value)], [share(dst, p), share("@a2", 100 - p)])
        return {**body, "pending": True}
    return send("USD", value, [amt(src, value, route=draw(long_text))], [amt(dst, value)])


@st.composite
def hostile_dsl(draw: Any) -> str:
    value = draw(st.sampled_from(["10|0", "9" * 40 + "|0", "1|" + "9" * 3, "0|0"]))
    to = draw(
        st.sampled_from(
            [
                ":share 150",
                ":share 100 :of 150",
                ":share 50",
                ':amount USD 10|0 :description "' + "d" * 300 + '"',
                ":remaining",
            ]
        )
    )
    desc = draw(st.sampled_from(["ok", "x" * 300]))
    return (
        f'(transaction V1 (chart-of-accounts-group-name G) (description "{desc}")'
        f" (send USD {value} (source (from @external/USD :amount USD {value}))"
        f" (distribute (to @a1 {to}) (to @a2 :remaining))))"
    )


class AsyncLedger(RuleBasedStateMachine):
    """One fresh ledger per example, in asynchronous mode."""

    client: Client
    settings: Any
    apply: Callable[[str, list[str]], None]

    def __init__(self) -> None:
        super().__init__()
        api = Api(self.client)
        self.settings.TRANSACTION_ASYNC = False
        org = api.create_organization()
        ledger = api.create_ledger(org["id"])
        api.create_asset(ledger, code="USD")
        self.book = Book(api, ledger)
        for alias in ACCOUNTS:
            self.book.account(alias)
        self.book.fund("@a0", "1000")
        self.settings.TRANSACTION_ASYNC = True
        self.accepted: list[str] = []
        self.valid: list[str] = []
        self.pending: list[str] = []

    def _answer(self, response: Any) -> str | None:
        body = orjson.loads(response.content)
        assert response.status_code < 500, (response.status_code, body)
        event(f"answer {response.status_code} {body.get('code', '')}")
        if response.status_code in (200, 201):
            self.accepted.append(body["id"])
            return str(body["id"])
        assert body["code"] in CATALOG, body
        return None

    @rule(dst=who, value=small)
    def valid_posting(self, dst: str, value: str) -> None:
        body = send("USD", value, [amt("@external/USD", value)], [amt(dst, value)])
        body["description"] = str(uuid.uuid4())  # distinct: never an idempotent replay
        tx_id = self._answer(self.book.post(body))
        assert tx_id is not None
        self.valid.append(tx_id)

    @rule(src=who, dst=who, value=small, pending=st.booleans())
    def transfer(self, src: str, dst: str, value: str, pending: bool) -> None:
        if src == dst:
            return
        body = send("USD", value, [amt(src, value)], [amt(dst, value)], pending=pending)
        body["description"] = str(uuid.uuid4())
        tx_id = self._answer(self.book.post(body))
        if tx_id is not None and pending:
            self.pending.append(tx_id)

    @rule(body=hostile_json())
    def hostile(self, body: dict[str, Any]) -> None:
        if not body:
            return
        body["metadata"] = {**body.get("metadata", {}), "n": str(uuid.uuid4())}
        # json, not orjson: the body may hold integers beyond 64 bits
        raw = json.dumps(body, ensure_ascii=False).encode()
        path = self.book.path("/transactions/json")
        tx_id = self._answer(self.book.api.request("POST", path, raw=raw))
        if tx_id is not None and body.get("pending"):
            self.pending.append(tx_id)

    @rule(text=hostile_dsl())
    def hostile_dsl(self, text: str) -> None:
        file = SimpleUploadedFile(f"{uuid.uuid4()}.gold", text.encode(), content_type="text/plain")
        self._answer(self.client.post("/v1" + self.book.path("/transactions/dsl"), {"dsl": file}))

    @rule(commit=st.booleans())
    def settle_a_hold(self, commit: bool) -> None:
        if not self.pending:
            return
        tx_id = self.pending.pop(0)
        response = self.book.action(tx_id, "commit" if commit else "cancel")
        assert response.status_code < 500, response.content

    @rule()
    def apply_queue(self) -> None:
        self.check()

    def check(self) -> None:
        ledger_id = self.book.ledger["id"]
        type(self).apply(ledger_id, self.accepted)
        assert not QueuedPosting.objects.filter(ledger_id=ledger_id).exists()
        statuses = dict(
            Transaction.objects.filter(pk__in=self.accepted).values_list("id", "status")
        )
        for status in statuses.values():
            event(f"ended {status}")
        stuck = {k: v for k, v in statuses.items() if v not in FINAL}
        assert not stuck, stuck
        blocked = {str(k) for k, v in statuses.items() if v != "APPROVED"} & set(self.valid)
        assert not blocked, blocked
        report = ledger_verify(ledger_id=uuid.UUID(ledger_id))
        assert report.ok, report.problems

    def teardown(self) -> None:
        self.check()


def _apply_in_process(ledger_id: str, _ids: list[str]) -> None:
    asynchronous.apply_ledger(ledger_id)


def _run(client: Client, dj_settings: Any, apply: Any, examples: int, steps: int) -> None:
    AsyncLedger.client = client
    AsyncLedger.settings = dj_settings
    AsyncLedger.apply = staticmethod(apply)
    run_state_machine_as_test(
        AsyncLedger,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            derandomize=True,
            suppress_health_check=[
                HealthCheck.too_slow,
                HealthCheck.data_too_large,
                HealthCheck.function_scoped_fixture,
                HealthCheck.filter_too_much,
            ],
        ),
    )


@pytest.mark.django_db
def test_async_mode_with_adversarial_bodies(client: Client, settings: Any) -> None:
    _run(client, settings, _apply_in_process, examples=20, steps=15)


@pytest.mark.django_db(transaction=True)
def test_async_mode_with_adversarial_bodies_and_a_real_worker(
    client: Client, settings: Any, worker: Worker
) -> None:
    worker.start()

    def drained(ledger_id: str, ids: list[str]) -> None:
        deadline = time.monotonic() + 60
        while QueuedPosting.objects.filter(ledger_id=ledger_id).exists():
            assert time.monotonic() < deadline, "the worker did not drain the ledger"
            time.sleep(0.05)

    _run(client, settings, drained, examples=3, steps=10)
