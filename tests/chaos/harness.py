"""The fault tests' harness: the ledger served by a real gunicorn process (the recommended
``gunicorn.conf.py``) against the pytest-django test database, a stdlib HTTP client that retries
a posting with the same ``X-Idempotency`` key until it gets a definitive answer, and the checks
that every answered posting was applied exactly once and nothing refused was applied.

Everything here is the standard library plus the project's own code: no new dependency.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

import orjson
from django.db import connection, connections
from uuid_utils.compat import uuid7

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "scripts" / "services.sh"
# The Debian cluster of the primary: the newest configured version (scripts/services.sh).
PG_VERSION = max(
    (v.name for v in Path("/etc/postgresql").glob("*") if v.name.isdigit()),
    key=int,
    default="15",
)


# --- services -------------------------------------------------------------------------------


def services(*args: str, timeout: float = 180) -> None:
    """``scripts/services.sh <args>`` (``up`` brings back whatever a test stopped)."""
    subprocess.run([str(SERVICES), *args], check=True, timeout=timeout, capture_output=True)  # noqa: S603


def run(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    tool = shutil.which(argv[0])
    assert tool is not None, f"{argv[0]} is installed by scripts/services.sh"
    return subprocess.run(  # noqa: S603
        [tool, *argv[1:]], check=True, timeout=timeout, capture_output=True, text=True
    )


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` every 0.1 s; fail naming ``what`` when ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def database_url(port: int | None = None) -> str:
    """The URL of the pytest-django test database (on another port: the replica's copy)."""
    s = connection.settings_dict
    user = quote(s["USER"] or "", safe="")
    password = quote(s.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}" if password else user
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{port or s['PORT'] or 5432}/{s['NAME']}"


def replica_port() -> int:
    url = os.environ.get("DATABASE_REPLICA_URL", "")
    return urlparse(url).port or 5433 if url else 5433


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the gunicorn server -----------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def rss_bytes(pid: int) -> int:
    """Resident set size of one process, from /proc (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class Server:
    """``python -m gunicorn midaz.wsgi -c gunicorn.conf.py`` on a free port, in its own process
    group, pointed at the test database. Authentication and production security are off (the
    ledger's behaviour under faults is what is tested here)."""

    def __init__(self, log_dir: Path, *, workers: int = 2, threads: int = 2, **env: str) -> None:
        self.port = free_port()
        self.workers = workers
        self.log_path = log_dir / f"gunicorn-{self.port}.log"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "GUNICORN_WORKERS": str(workers),
            "GUNICORN_THREADS": str(threads),
            "AUTH_ENABLED": "false",
            "SECURE_SSL_REDIRECT": "false",
            "DEBUG": "false",
            "SECRET_KEY": "test-only-secret-key",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "READ_FROM_REPLICA": "false",
            "TRANSACTION_ASYNC": "false",
            "RATE_LIMIT": "",
            "LOG_LEVEL": "WARNING",
        }
        self.env.pop("DATABASE_REPLICA_URL", None)
        self.env.update(env)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> Server:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "midaz.wsgi", "-c", "gunicorn.conf.py"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        http = Http(self.port, timeout=2)
        wait_until(lambda: self._healthy(http), 60, f"gunicorn to serve (log: {self.log_path})")
        self.wait_for_workers()
        return self

    def _healthy(self, http: Http) -> bool:
        assert self.proc is not None
        assert self.proc.poll() is None, f"gunicorn exited:\n{self.log()[-3000:]}"
        try:
            return http.request("GET", "/health").status == 200
        except (OSError, http_errors):
            return False

    def worker_pids(self) -> list[int]:
        return _children(self.pid)

    def wait_for_workers(self, timeout: float = 60) -> list[int]:
        wait_until(lambda: len(self.worker_pids()) == self.workers, timeout, "the gunicorn workers")
        return self.worker_pids()

    def rss(self) -> int:
        """RSS of the master and its workers together, in bytes."""
        return sum(rss_bytes(p) for p in [self.pid, *self.worker_pids()])

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@contextmanager
def serving(log_dir: Path, **kw: Any) -> Iterator[Server]:
    server = Server(log_dir, **kw)
    try:
        yield server.start()
    finally:
        server.stop()
        # The pytest process reads the outcome next: its connections may predate a restart.
        connections.close_all()


# --- HTTP ---------------------------------------------------------------------------------------

http_errors = http.client.HTTPException


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    raw: bytes

    @property
    def body(self) -> Any:
        return orjson.loads(self.raw) if self.raw else None

    @property
    def replayed(self) -> bool:
        return self.headers.get("x-idempotency-replayed") == "true"


class Http:
    """A keep-alive JSON client, one connection per thread; a broken connection is dropped and
    the next request opens a new one."""

    def __init__(self, port: int, timeout: float = 15) -> None:
        self.port = port
        self.timeout = timeout
        self._local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Answer:
        data = orjson.dumps(body) if body is not None else None
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        conn = self._conn()
        try:
            conn.request(method, path, body=data, headers=hdrs)
            response = conn.getresponse()
            raw = response.read()
        except (OSError, http_errors):
            self.close()
            raise
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, raw)

    def ok(self, method: str, path: str, body: Any = None, status: int = 201) -> Any:
        answer = self.request(method, path, body)
        assert answer.status == status, (method, path, answer.status, answer.raw[:2000])
        return answer.body


@dataclass
class Attempt:
    """One try of a request: its status, or the network error that replaced it."""

    status: int | None
    error: str = ""
    code: str = ""


@dataclass
class Outcome:
    """A request sent until it got a definitive answer (2xx or 4xx), with every try."""

    attempts: list[Attempt] = field(default_factory=list)
    final: Answer | None = None
    started: float = 0.0  # time.monotonic() of the first try
    elapsed: float = 0.0  # seconds from the first try to the final answer (or giving up)

    @property
    def status(self) -> int | None:
        return self.final.status if self.final else None

    @property
    def succeeded(self) -> bool:
        return self.final is not None and 200 <= self.final.status < 300

    @property
    def transient(self) -> list[Attempt]:
        """The tries that failed on the way (5xx or a network error)."""
        return [a for a in self.attempts if a.status is None or a.status >= 500]


def send_until_answered(
    http: Http,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    *,
    give_up_after: float = 60,
) -> Outcome:
    """Send, and on a network error or a 5xx send again (the same body and headers, so the same
    idempotency key), backing off up to 0.5 s, until a 2xx or 4xx answers or time runs out."""
    outcome = Outcome(started=time.monotonic())
    deadline = outcome.started + give_up_after
    pause = 0.05
    while True:
        try:
            answer = http.request(method, path, body, headers)
        except (OSError, http_errors) as exc:
            outcome.attempts.append(Attempt(None, error=type(exc).__name__))
        else:
            code = ""
            if answer.status >= 400 and answer.raw.startswith(b"{"):
                code = str(answer.body.get("code", ""))
            outcome.attempts.append(Attempt(answer.status, code=code))
            if answer.status < 500:
                outcome.final = answer
                outcome.elapsed = time.monotonic() - outcome.started
                return outcome
        if time.monotonic() > deadline:
            outcome.elapsed = time.monotonic() - outcome.started
            return outcome
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


# --- a ledger to post on, built through the server ----------------------------------------------


class Ledger:
    """One organization, ledger and USD asset with funded accounts, created over HTTP."""

    def __init__(self, http: Http, aliases: dict[str, str]) -> None:
        """``aliases``: alias -> initial funding (a decimal string; "0" for none)."""
        self.http = http
        org = http.ok(
            "POST", "/v1/organizations", {"legalName": "Chaos Ltd.", "legalDocument": "1"}
        )
        led = http.ok("POST", f"/v1/organizations/{org['id']}/ledgers", {"name": f"l-{uuid7()}"})
        self.id: str = led["id"]
        self.base = f"/v1/organizations/{org['id']}/ledgers/{led['id']}"
        http.ok(
            "POST", self.base + "/assets", {"name": "US Dollar", "type": "currency", "code": "USD"}
        )
        self.funding: dict[str, Decimal] = {}
        for alias, amount in aliases.items():
            http.ok(
                "POST",
                self.base + "/accounts",
                {"name": alias, "assetCode": "USD", "type": "deposit", "alias": alias},
            )
            if Decimal(amount) > 0:
                http.ok("POST", self.base + "/transactions/inflow", inflow(alias, amount))
            self.funding[alias] = Decimal(amount)

    def path(self, suffix: str) -> str:
        return self.base + suffix


def transfer(src: str, dst: str, value: str, description: str, **top: Any) -> dict[str, Any]:
    leg = {"asset": "USD", "value": value}
    return {
        "description": description,
        **top,
        "send": {
            "asset": "USD",
            "value": value,
            "source": {"from": [{"accountAlias": src, "amount": leg}]},
            "distribute": {"to": [{"accountAlias": dst, "amount": leg}]},
        },
    }


def inflow(alias: str, value: str) -> dict[str, Any]:
    leg = {"asset": "USD", "value": value}
    return {
        "send": {
            "asset": "USD",
            "value": value,
            "distribute": {"to": [{"accountAlias": alias, "amount": leg}]},
        }
    }


@dataclass
class Posting:
    """A transfer sent with its own ``X-Idempotency`` key (also its description)."""

    key: str
    src: str
    dst: str
    value: Decimal
    outcome: Outcome = field(default_factory=Outcome)

    @property
    def tx_id(self) -> str | None:
        return (
            self.outcome.final.body["id"] if self.outcome.succeeded and self.outcome.final else None
        )


def post_transfer(
    ledger: Ledger, src: str, dst: str, value: str, *, give_up_after: float = 60
) -> Posting:
    key = f"chaos-{uuid7()}"
    posting = Posting(key, src, dst, Decimal(value))
    posting.outcome = send_until_answered(
        ledger.http,
        "POST",
        ledger.path("/transactions/json"),
        transfer(src, dst, value, key),
        {"X-Idempotency": key},
        give_up_after=give_up_after,
    )
    return posting


class Load:
    """``clients`` threads posting transfers in a loop (``pick(i)`` -> (src, dst, value)) until
    stopped, each retried until answered; the postings are kept for the checks."""

    def __init__(
        self,
        ledger: Ledger,
        clients: int,
        pick: Callable[[int], tuple[str, str, str]],
        *,
        give_up_after: float = 60,
        pause: float = 0.0,
    ) -> None:
        """``pause``: seconds each client waits between two postings."""
        self.ledger = ledger
        self.pick = pick
        self.pause = pause
        self.give_up_after = give_up_after
        self.postings: list[Posting] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]
        self._count = 0

    def _run(self) -> None:
        http = Http(self.ledger.http.port)
        ledger = Ledger.__new__(Ledger)
        ledger.__dict__.update(self.ledger.__dict__)
        ledger.http = http
        while not self._stop.is_set():
            with self._lock:
                i = self._count
                self._count += 1
            src, dst, value = self.pick(i)
            posting = post_transfer(ledger, src, dst, value, give_up_after=self.give_up_after)
            with self._lock:
                self.postings.append(posting)
            self._stop.wait(self.pause)
        http.close()

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def answered(self) -> int:
        with self._lock:
            return sum(1 for p in self.postings if p.outcome.final is not None)

    def wait_answered(self, n: int, timeout: float = 60) -> None:
        wait_until(lambda: self.answered() >= n, timeout, f"{n} answered postings")

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(self.give_up_after + 30)
        assert not any(t.is_alive() for t in self._threads), "a client thread is stuck"


# --- the checks ---------------------------------------------------------------------------------


def assert_applied_exactly_once(
    ledger: Ledger, postings: list[Posting], moved: dict[str, int] | None = None
) -> dict[str, Decimal]:
    """Every posting answered 2xx is in the ledger exactly once (one transaction with its
    description and its id, two operations, the idempotency record naming it); every posting
    refused (4xx) left nothing; no posting went unanswered; the ledger holds nothing else; each
    balance equals its funding plus the answered transfers; the invariants of ``ledger_verify``
    hold. ``moved``: what the test moved on purpose outside ``postings``. Returns the balances."""
    from transactions.models import IdempotencyRecord, Operation, Transaction
    from transactions.verify import ledger_verify

    connections.close_all()  # a fault may have broken the pytest process's own connections
    unanswered = [p for p in postings if p.outcome.final is None]
    assert not unanswered, (
        f"{len(unanswered)} postings got no answer; last tries of the first: "
        f"{unanswered[0].outcome.attempts[-5:]}"
    )
    rows = dict(
        Transaction.objects.filter(ledger_id=ledger.id, description__startswith="chaos-")
        .values_list("description", "id")
        .order_by()
    )
    seen: dict[str, int] = {}
    for description in Transaction.objects.filter(
        ledger_id=ledger.id, description__startswith="chaos-"
    ).values_list("description", flat=True):
        seen[description] = seen.get(description, 0) + 1
    doubled = {k: n for k, n in seen.items() if n > 1}
    assert not doubled, f"postings applied more than once: {doubled}"
    keys = dict(
        IdempotencyRecord.objects.filter(ledger_id=ledger.id, key__startswith="chaos-").values_list(
            "key", "transaction_id"
        )
    )
    ops: dict[Any, int] = {}
    for tx_id in Operation.objects.filter(ledger_id=ledger.id).values_list(
        "transaction_id", flat=True
    ):
        ops[tx_id] = ops.get(tx_id, 0) + 1
    expected = dict(ledger.funding)
    for alias, delta in (moved or {}).items():
        expected[alias] += delta
    ok = [p for p in postings if p.outcome.succeeded]
    refused = [p for p in postings if not p.outcome.succeeded]
    for p in ok:
        assert p.key in rows, f"{p.key} answered {p.outcome.status} but is not in the ledger"
        assert str(rows[p.key]) == p.tx_id, (p.key, rows[p.key], p.tx_id)
        assert str(keys.get(p.key)) == p.tx_id, f"the idempotency record of {p.key}"
        assert ops.get(rows[p.key]) == 2, f"{p.key} has {ops.get(rows[p.key])} operations"
        expected[p.src] -= p.value
        expected[p.dst] += p.value
    for p in refused:
        assert p.key not in rows, f"{p.key} was refused ({p.outcome.status}) but is in the ledger"
        assert p.key not in keys, f"{p.key} was refused but its idempotency key was claimed"
    assert len(rows) == len(ok), "the ledger holds postings no client sent"
    balances = balances_of(ledger.id)
    for alias, value in expected.items():
        assert balances[alias] == value, (alias, balances[alias], value)
        assert balances[alias] >= 0
    report = ledger_verify(ledger_id=uuid_of(ledger.id))
    assert report.ok, "\n".join(report.problems[:20])
    return balances


def balances_of(ledger_id: str) -> dict[str, Decimal]:
    from transactions.models import Balance

    return dict(
        Balance.objects.filter(ledger_id=ledger_id, key="default").values_list("alias", "available")
    )


def uuid_of(value: str) -> Any:
    import uuid

    return uuid.UUID(value)
