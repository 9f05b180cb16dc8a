"""``make bench``: the whole benchmark suite in one run (see BENCHMARKS.md).

Order: seed + verify, start gunicorn, then BENCH_REPEATS rounds of [pgbench, engine spread/hot,
hordak spread/hot, HTTP spread/hot (wrk), HTTP at a fixed rate] so that every ratio is taken
within one round; then the client sweep (chart), a py-spy profile of the create path, the read
benchmark at 10k and 1M transactions, and a final verify. Every figure is the median of the
rounds. Writes bench/results/latest.json (+ a timestamped copy) and prints a table.
"""

# ruff: noqa: S603, S607, S311

from __future__ import annotations

import importlib
import json
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import async_ingest, engine, httpclient
from bench.common import (
    ACCOUNTS,
    BENCH,
    BENCH_DB,
    HORDAK_DB,
    HOT_ALIAS,
    PG_HOST,
    PG_PASSWORD,
    PG_PORT,
    PG_USER,
    PGBENCH_DB,
    RESULTS,
    ROOT,
    Config,
    connect,
    median,
    percentile,
    recreate_database,
    wait_for_replica,
)

HOST = "127.0.0.1"
PORT = int(os.environ.get("BENCH_PORT", "3099"))
VENV_BIN = ROOT / ".venv" / "bin"
HORDAK_PY = BENCH / ".venv-hordak" / "bin" / "python"
GUNICORN_WORKERS = int(os.environ.get("BENCH_GUNICORN_WORKERS", "4"))
GUNICORN_THREADS = int(os.environ.get("BENCH_GUNICORN_THREADS", "2"))


def log(message: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def pg_env() -> dict[str, str]:
    return {
        **os.environ,
        "PGHOST": PG_HOST,
        "PGPORT": str(PG_PORT),
        "PGUSER": PG_USER,
        "PGPASSWORD": PG_PASSWORD,
    }


def manage(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **engine.django_env()},
        capture_output=True,
        text=True,
        check=False,
    )


def verify(ledger_id: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    done = manage("verify_ledger", "--ledger", ledger_id)
    out = (done.stdout.strip().splitlines() or [""])[-1]
    return {
        "ok": done.returncode == 0,
        "output": out if done.returncode == 0 else (done.stdout + done.stderr)[-2000:],
        "seconds": round(time.perf_counter() - t0, 1),
    }


# --- machine ----------------------------------------------------------------------------------


def machine_setting(name: str) -> str:
    with connect() as conn:
        row = conn.execute("SELECT current_setting(%s)", [name]).fetchone()
    return str(row[0]) if row else "?"


def machine() -> dict[str, Any]:
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with connect() as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
        sync_commit = conn.execute("SHOW synchronous_commit").fetchone()[0]
        fsync = conn.execute("SHOW fsync").fetchone()[0]
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "postgresql": pg,
        "synchronous_commit": sync_commit,
        "fsync": fsync,
        "python": platform.python_version(),
        "wrk": (wrk.stdout or wrk.stderr).splitlines()[0] if (wrk.stdout or wrk.stderr) else "",
        "kernel": platform.release(),
        "shared": "yes: a shared 2-core machine, other test suites may run at the same time",
    }


# --- pgbench ----------------------------------------------------------------------------------


def pgbench_init() -> None:
    recreate_database(PGBENCH_DB)
    subprocess.run(
        ["pgbench", "-i", "-q", "-s", "10", PGBENCH_DB],
        env=pg_env(),
        check=True,
        capture_output=True,
    )


def pgbench_run(seconds: float) -> dict[str, Any]:
    done = subprocess.run(
        ["pgbench", "-N", "-c", "8", "-j", "2", "-T", str(max(1, round(seconds))), PGBENCH_DB],
        env=pg_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", done.stdout)
    assert match, done.stdout
    return {"tps": float(match.group(1)), "failed": int(failed.group(1)) if failed else 0}


# --- hordak -----------------------------------------------------------------------------------


def hordak(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [str(HORDAK_PY), "-m", "bench.hordak_bench", *args],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if k not in engine.django_env()},
            "HORDAK_DB": HORDAK_DB,
        },
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"hordak {args}: {done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --- gunicorn ---------------------------------------------------------------------------------


class Server:
    """The real server: gunicorn on loopback, production settings against the bench db."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = RESULTS / "gunicorn.log"

    def command(self) -> list[str]:
        cmd = [
            str(VENV_BIN / "gunicorn"),
            "midaz.wsgi",
            "--bind",
            f"{HOST}:{PORT}",
            "--workers",
            str(GUNICORN_WORKERS),
            "--threads",
            str(GUNICORN_THREADS),
            "--config",
            "gunicorn.conf.py",
        ]
        if GUNICORN_THREADS <= 1:
            cmd += ["--worker-class", "sync"]
        return cmd

    def start(self) -> None:
        log_file = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            self.command(),
            cwd=ROOT,
            env={**os.environ, **engine.django_env()},
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                status, _ = httpclient.get_json(HOST, PORT, "/health")
                if status == 200 and len(self.worker_pids()) >= GUNICORN_WORKERS:
                    return
            except (OSError, ValueError):
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"gunicorn did not start; see {self.log_path}")

    def worker_pids(self) -> list[int]:
        if self.proc is None:
            return []
        done = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.proc.pid)],
            capture_output=True,
            text=True,
            check=False,
        )
        return [int(p) for p in done.stdout.split()]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None


def wrk(path: str, mode: str, connections: int, seconds: float) -> dict[str, Any]:
    threads = max(1, min(2, connections))
    done = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(BENCH / "wrk_post.lua"),
            f"http://{HOST}:{PORT}",
        ],
        env={**os.environ, "BENCH_PATH": path, "BENCH_MODE": mode, "BENCH_ACCOUNTS": str(ACCOUNTS)},
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("WRKJSON "))
    raw = json.loads(line[len("WRKJSON ") :])
    secs = raw["duration_us"] / 1e6
    return {
        "transfers_per_s": raw["created"] / secs,
        "requests": raw["requests"],
        "created": raw["created"],
        "non_201": raw["other_status"],
        "socket_errors": raw["connect_errors"]
        + raw["read_errors"]
        + raw["write_errors"]
        + raw["timeouts"],
        "p50_ms": raw["p50_us"] / 1000,
        "p95_ms": raw["p95_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "connections": connections,
    }


def fixed_rate_run(path: str, rate: int, seconds: float) -> dict[str, Any]:
    rng = random.Random()
    tag = uuid.uuid4().hex[:8]

    def make(i: int) -> tuple[str, str, bytes]:
        a, b = rng.sample(range(ACCOUNTS), 2)
        body = engine.transfer_body(f"@acct{a:04d}", f"@acct{b:04d}", f"fixed {tag} {i}")
        return "POST", path, json.dumps(body).encode()

    s = httpclient.fixed_rate(HOST, PORT, make, rate, seconds)
    ok = s.statuses.get(201, 0)
    return {
        "rate": rate,
        "requests": len(s.latencies_ms),
        "created": ok,
        "non_201": sum(v for k, v in s.statuses.items() if k != 201) + s.errors,
        "p50_ms": percentile(s.latencies_ms, 50),
        "p95_ms": percentile(s.latencies_ms, 95),
        "p99_ms": percentile(s.latencies_ms, 99),
        "service_p50_ms": percentile(s.service_ms, 50),
    }


BULK_SIZE = int(os.environ.get("BENCH_BULK_SIZE", "100"))
BULK_CLIENTS = int(os.environ.get("BENCH_BULK_CLIENTS", "4"))


def bulk_run(path: str, mode: str, seconds: float) -> dict[str, Any]:
    """``POST .../transactions/bulk`` (atomic) with BULK_SIZE 1:1 transfers per request from
    BULK_CLIENTS connections; the rate counts transactions, not requests."""
    rng = random.Random()
    tag = uuid.uuid4().hex[:8]

    def make(i: int) -> tuple[str, str, bytes]:
        items = []
        for n in range(BULK_SIZE):
            a, b = rng.sample(range(ACCOUNTS), 2)
            src = HOT_ALIAS if mode == "hot" else f"@acct{a:04d}"
            items.append(engine.transfer_body(src, f"@acct{b:04d}", f"bulk {tag} {i} {n}"))
        return "POST", path, json.dumps({"atomic": True, "transactions": items}).encode()

    s, elapsed = httpclient.closed_loop(HOST, PORT, make, BULK_CLIENTS, seconds)
    ok = s.statuses.get(201, 0)
    return {
        "bulk_size": BULK_SIZE,
        "clients": BULK_CLIENTS,
        "requests": len(s.latencies_ms),
        "created_requests": ok,
        "non_201": sum(v for k, v in s.statuses.items() if k != 201) + s.errors,
        "transactions_per_s": ok * BULK_SIZE / elapsed,
        "p50_ms": percentile(s.latencies_ms, 50),
        "p99_ms": percentile(s.latencies_ms, 99),
    }


# --- profile ----------------------------------------------------------------------------------


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def busiest(pids: list[int], seconds: float) -> int:
    """The worker that used the most CPU over ``seconds``."""
    before = {pid: _cpu_ticks(pid) for pid in pids}
    time.sleep(seconds)
    return max(pids, key=lambda pid: _cpu_ticks(pid) - before[pid])


def profile(server: Server, path: str, seconds: int) -> dict[str, Any]:
    """py-spy on the busiest gunicorn worker while wrk loads the create route: a flamegraph
    (SVG) and collapsed stacks, summarised into the top functions."""
    pyspy = shutil.which("py-spy", path=str(VENV_BIN)) or shutil.which("py-spy")
    if not pyspy:
        return {"skipped": "py-spy not installed"}
    pids = server.worker_pids()
    svg = RESULTS / "profile_http_create.svg"
    raw = RESULTS / "profile_http_create.txt"
    load = subprocess.Popen(
        [
            "wrk",
            "-t2",
            "-c16",
            f"-d{seconds + 3}s",
            "-s",
            str(BENCH / "wrk_post.lua"),
            f"http://{HOST}:{PORT}",
        ],
        env={**os.environ, "BENCH_PATH": path, "BENCH_MODE": "spread"},
        stdout=subprocess.DEVNULL,
    )
    time.sleep(1)
    # Both recordings sample the same worker, the busiest one: with keep-alive, connections
    # stay with the worker that accepted them, and an idle worker would give no samples.
    busy = busiest(pids, 1.0)
    spies = [
        subprocess.Popen(
            [pyspy, "record", "--nonblocking", "-p", str(busy), "-d", str(seconds), *out],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for out in (["-o", str(svg)], ["-f", "raw", "-o", str(raw)])
    ]
    for spy in spies:
        spy.wait(timeout=seconds + 60)
    load.wait(timeout=seconds + 60)
    if not raw.exists():
        return {"skipped": "py-spy produced nothing (ptrace not permitted?)"}
    return summarise_profile(raw)


def summarise_profile(raw: Path, top: int = 25) -> dict[str, Any]:
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = [re.sub(r" \((.*?):\d+\)$", r" (\1)", f) for f in stack.split(";")]
        frames = [f.replace(str(ROOT) + "/", "") for f in frames]
        frames = [re.sub(r".*/site-packages/", "", f) for f in frames]
        frames = [re.sub(r"/root/\.pyenv/versions/[^/]+/lib/python3\.\d+/", "", f) for f in frames]
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for f in set(frames):
            inclusive[f] = inclusive.get(f, 0) + count

    def pct(d: dict[str, int]) -> list[list[Any]]:
        items = sorted(d.items(), key=lambda kv: -kv[1])[:top]
        return [[name, round(100 * n / total, 1)] for name, n in items]

    summary = {"samples": total, "self": pct(own), "inclusive": pct(inclusive)}
    (RESULTS / "profile_summary.json").write_text(json.dumps(summary, indent=1))
    return summary


# --- reads ------------------------------------------------------------------------------------

_BULK_SQL = """
WITH acc AS (
    SELECT (row_number() OVER (ORDER BY alias) - 1)::int AS k, id, account_id, alias
      FROM transactions_balance
     WHERE ledger_id = %(ledger)s AND account_type <> 'external'),
ext AS (
    SELECT id, account_id, alias FROM transactions_balance
     WHERE ledger_id = %(ledger)s AND account_type = 'external'),
src AS (
    SELECT i, i / %(n)s AS j, acc.id AS bal, acc.account_id AS account, acc.alias AS alias,
           to_timestamp((%(base_ms)s + i) / 1000.0) AS ts,
           (lpad(to_hex(%(base_ms)s + i), 12, '0') || '7' || substr(md5('t' || i), 1, 3) || '8'
             || substr(md5('t' || i), 4, 15))::uuid AS tx
      FROM generate_series(%(lo)s::bigint, %(hi)s::bigint - 1) AS i
      JOIN acc ON acc.k = i %% %(n)s),
tx AS (
    INSERT INTO transactions_transaction
        (id, created_at, updated_at, deleted_at, metadata, description, code, status,
         status_description, amount, asset_code, chart_of_accounts_group_name, source,
         destination, body, route, route_id, fees_skipped, tracer_skipped, ledger_id,
         organization_id, parent_transaction_id)
    SELECT tx, ts, ts, NULL, '{}', 'bulk ' || i, NULL, 'APPROVED', 'APPROVED', 1, 'USD', NULL,
           ARRAY['@external/USD'], ARRAY[alias], NULL, NULL, NULL, false, false,
           %(ledger)s, %(org)s, NULL
      FROM src)
INSERT INTO transactions_operation
    (id, created_at, updated_at, deleted_at, metadata, description, type, direction,
     asset_code, chart_of_accounts, amount, available_before, on_hold_before, version_before,
     overdraft_used_before, available_after, on_hold_after, version_after,
     overdraft_used_after, account_alias, balance_key, balance_affected, route, route_id,
     route_code, route_description, status, account_id, balance_id, ledger_id,
     organization_id, transaction_id)
SELECT (lpad(to_hex(%(base_ms)s + i), 12, '0') || '7' || substr(md5('d' || i), 1, 3) || '8'
         || substr(md5('d' || i), 4, 15))::uuid,
       ts, ts, NULL::timestamptz, '{}'::jsonb, 'bulk ' || i, 'DEBIT', 'debit', 'USD',
       NULL::varchar, 1::numeric, i::numeric, 0::numeric, i, 0::numeric, (i + 1)::numeric,
       0::numeric, i + 1, 0::numeric, ext.alias, 'default', true, NULL::varchar, NULL::uuid,
       NULL::varchar, NULL::varchar, NULL::varchar, ext.account_id,
       ext.id, %(ledger)s, %(org)s, tx
  FROM src, ext
UNION ALL
SELECT (lpad(to_hex(%(base_ms)s + i), 12, '0') || '7' || substr(md5('c' || i), 1, 3) || '8'
         || substr(md5('c' || i), 4, 15))::uuid,
       ts, ts, NULL::timestamptz, '{}'::jsonb, 'bulk ' || i, 'CREDIT', 'credit', 'USD',
       NULL::varchar, 1::numeric, j::numeric, 0::numeric, j, 0::numeric, (j + 1)::numeric,
       0::numeric, j + 1, 0::numeric, alias, 'default', true, NULL::varchar, NULL::uuid,
       NULL::varchar, NULL::varchar, NULL::varchar, account, bal,
       %(ledger)s, %(org)s, tx
  FROM src
"""

_BALANCES_SQL = """
UPDATE transactions_balance b
   SET available = CASE WHEN b.account_type = 'external' THEN %(total)s
                        ELSE (%(total)s - a.k + %(n)s - 1) / %(n)s END,
       version = CASE WHEN b.account_type = 'external' THEN %(total)s
                      ELSE (%(total)s - a.k + %(n)s - 1) / %(n)s END,
       updated_at = now()
  FROM (SELECT id, (row_number() OVER (ORDER BY alias) - 1)::int AS k
          FROM transactions_balance
         WHERE ledger_id = %(ledger)s AND account_type <> 'external'
        UNION ALL
        SELECT id, 0 FROM transactions_balance
         WHERE ledger_id = %(ledger)s AND account_type = 'external') AS a
 WHERE b.id = a.id
"""

READ_ACCOUNTS = 100


def bulk_transactions(ids: dict[str, str], lo: int, hi: int, base_ms: int) -> float:
    """Transactions lo..hi-1 of the read ledger, each @external/USD -> @r<k> for 1, with
    operations whose before/after snapshots chain exactly (verify_ledger passes), in chunks
    of server-side INSERT ... SELECT generate_series (faster than COPY from a client)."""
    t0 = time.perf_counter()
    with connect(BENCH_DB) as conn:
        step = 200_000
        for start in range(lo, hi, step):
            end = min(hi, start + step)
            conn.execute(
                _BULK_SQL,
                {
                    "ledger": ids["ledger_id"],
                    "org": ids["organization_id"],
                    "n": READ_ACCOUNTS,
                    "lo": start,
                    "hi": end,
                    "base_ms": base_ms,
                },
            )
            log(f"  read ledger: {end:,} transactions")
        conn.execute(_BALANCES_SQL, {"ledger": ids["ledger_id"], "total": hi, "n": READ_ACCOUNTS})
        conn.execute("VACUUM ANALYZE transactions_transaction")
        conn.execute("VACUUM ANALYZE transactions_operation")
        conn.execute("ANALYZE transactions_balance")
    wait_for_replica()
    return time.perf_counter() - t0


def read_round(prefix: str, ids: dict[str, str], count: int) -> dict[str, Any]:
    base = f"{prefix}/organizations/{ids['organization_id']}/ledgers/{ids['ledger_id']}"
    with connect(BENCH_DB) as conn:
        balance_id, tx_id = conn.execute(
            "SELECT b.id::text, (SELECT id::text FROM transactions_transaction"
            " WHERE ledger_id = %(l)s ORDER BY id DESC LIMIT 1) FROM transactions_balance b"
            " WHERE b.ledger_id = %(l)s AND b.alias = '@r0042'",
            {"l": ids["ledger_id"]},
        ).fetchone()
    routes = {
        "balance_by_alias": f"{base}/accounts/alias/@r0042/balances",
        "balance_by_id": f"{base}/balances/{balance_id}",
        "transactions_list_50": f"{base}/transactions?limit=50",
        "account_by_alias": f"{base}/accounts/alias/@r0042",
        "transaction_by_id": f"{base}/transactions/{tx_id}",
    }
    out: dict[str, Any] = {}
    measured = httpclient.interleaved(HOST, PORT, routes, count)
    for name, path in routes.items():
        s = measured[name]
        ok = s.statuses.get(200, 0)
        out[name] = {
            "path": path.replace(base, "..."),
            "p50_ms": percentile(s.latencies_ms, 50),
            "p95_ms": percentile(s.latencies_ms, 95),
            "status": {str(k): v for k, v in s.statuses.items()},
            "ok": ok == count,
        }
    return out


# --- chart ------------------------------------------------------------------------------------


def chart(sweep: list[dict[str, Any]], target: Path) -> str:
    try:
        matplotlib = importlib.import_module("matplotlib")
    except ImportError:
        return "matplotlib not installed"
    matplotlib.use("Agg")
    plt = importlib.import_module("matplotlib.pyplot")
    clients = [p["connections"] for p in sweep]
    fig, ax1 = plt.subplots(figsize=(8, 4.5), dpi=110)
    ax1.plot(
        clients, [p["transfers_per_s"] for p in sweep], "o-", color="tab:blue", label="transfers/s"
    )
    ax1.set_xlabel("concurrent clients (wrk connections)")
    ax1.set_ylabel("transfers/s (201)", color="tab:blue")
    ax1.set_xscale("log", base=2)
    ax1.set_xticks(clients, [str(c) for c in clients])
    ax1.set_ylim(0, max(900.0, 1.1 * max(p["transfers_per_s"] for p in sweep)))
    ax1.axhline(800, color="tab:blue", linestyle=":", linewidth=1, label="target 800/s")
    ax2 = ax1.twinx()
    ax2.plot(clients, [p["p99_ms"] for p in sweep], "s--", color="tab:red", label="p99 ms")
    ax2.plot(clients, [p["p50_ms"] for p in sweep], "^--", color="tab:orange", label="p50 ms")
    ax2.set_ylabel("latency, ms", color="tab:red")
    ax2.set_ylim(bottom=0)
    ax2.axhline(25, color="tab:red", linestyle=":", linewidth=1, label="p99 target 25 ms")
    lines = ax1.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax1.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper left", fontsize=8)
    ax1.set_title("POST .../transactions/json, 1:1 spread, gunicorn on 2 shared cores")
    fig.tight_layout()
    fig.savefig(target)
    plt.close(fig)
    return str(target.relative_to(ROOT))


# --- the run ----------------------------------------------------------------------------------


def med(rounds: list[dict[str, Any]], *keys: str) -> float:
    values = []
    for r in rounds:
        v: Any = r
        for k in keys:
            v = v[k]
        values.append(v)
    return median(values)


def main() -> None:
    cfg = Config.from_env()
    RESULTS.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    command = "make bench" + (" BENCH_QUICK=1" if cfg.quick else "")
    result: dict[str, Any] = {
        "command": command,
        "date": started.isoformat(timespec="seconds"),
        "config": cfg.__dict__,
        "machine": machine(),
        "gunicorn": " ".join(Server().command()[1:]).replace(str(ROOT) + "/", ""),
    }
    log(f"config {cfg}")

    log("bench database: drop, create, migrate, seed")
    recreate_database(BENCH_DB)
    migrated = manage("migrate", "--noinput", "-v", "0")
    if migrated.returncode != 0:
        raise SystemExit(migrated.stderr)
    engine.setup_django()
    from django.db import connections

    t0 = time.perf_counter()
    ids = engine.seed_main()
    result["seed"] = {
        **ids,
        "accounts": ACCOUNTS + 1,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    connections.close_all()
    # Statistics for the seeded tables, as autovacuum would gather them on a live server
    # (scripts/services.sh turns it on): plans are made from them.
    with connect(BENCH_DB) as conn:
        conn.execute("VACUUM ANALYZE")
    result["autovacuum"] = machine_setting("autovacuum")
    result["verify_after_seed"] = verify(ids["ledger_id"])
    log(f"seeded {ids}; verify: {result['verify_after_seed']['output']}")

    log("pgbench database (pgbench -i -s 10)")
    pgbench_init()
    log("hordak database (migrate + 1,000 funded accounts)")
    recreate_database(HORDAK_DB)
    result["hordak_seed"] = hordak("setup")

    server = Server()
    path = (
        f"/v1/organizations/{ids['organization_id']}/ledgers/{ids['ledger_id']}/transactions/json"
    )
    bulk_path = path.rsplit("/", 1)[0] + "/bulk"
    rounds: list[dict[str, Any]] = []
    try:
        server.start()
        # Warm-up: load every worker's code paths and connections.
        wrk(path, "spread", cfg.http_connections, 2)
        for r in range(cfg.repeats):
            log(f"round {r + 1}/{cfg.repeats}")
            one: dict[str, Any] = {}
            one["pgbench"] = pgbench_run(cfg.seconds)
            log(f"  pgbench -N -c8: {one['pgbench']['tps']:.0f} tps")
            for mode in ("spread", "hot"):
                one[f"engine_{mode}"] = engine.run_engine(mode, ids, cfg.seconds, cfg.procs)
                log(
                    f"  engine {mode}: {one[f'engine_{mode}']['transfers_per_s']:.0f}/s, "
                    f"errors {one[f'engine_{mode}']['errors']}"
                )
            for mode in ("spread", "hot"):
                one[f"hordak_{mode}"] = hordak(mode, str(cfg.seconds), str(cfg.procs))
                log(f"  hordak {mode}: {one[f'hordak_{mode}']['transfers_per_s']:.0f}/s")
            for mode in ("spread", "hot"):
                one[f"http_{mode}"] = wrk(path, mode, cfg.http_connections, cfg.seconds)
                h = one[f"http_{mode}"]
                log(
                    f"  http {mode} c{cfg.http_connections}: {h['transfers_per_s']:.0f}/s "
                    f"p50 {h['p50_ms']:.1f} p95 {h['p95_ms']:.1f} p99 {h['p99_ms']:.1f} ms, "
                    f"non-201 {h['non_201']}"
                )
            for mode in ("spread", "hot"):
                one[f"bulk_{mode}"] = bulk_run(bulk_path, mode, cfg.seconds)
                b = one[f"bulk_{mode}"]
                log(
                    f"  http bulk {mode} ({BULK_SIZE}/request, {BULK_CLIENTS} conns): "
                    f"{b['transactions_per_s']:.0f} transactions/s, request p50 "
                    f"{b['p50_ms']:.0f} p99 {b['p99_ms']:.0f} ms, non-201 {b['non_201']}"
                )
            one["http_fixed"] = fixed_rate_run(path, cfg.fixed_rate, cfg.seconds)
            f = one["http_fixed"]
            log(
                f"  http fixed {cfg.fixed_rate}/s: p50 {f['p50_ms']:.2f} p95 {f['p95_ms']:.2f} "
                f"p99 {f['p99_ms']:.2f} ms, non-201 {f['non_201']}"
            )
            pg = one["pgbench"]["tps"]
            one["ratios"] = {
                "engine_spread_vs_hordak": one["engine_spread"]["transfers_per_s"]
                / max(one["hordak_spread"]["transfers_per_s"], 1e-9),
                "engine_hot_vs_hordak_funds_check": one["engine_hot"]["transfers_per_s"]
                / max(one["hordak_hot"]["transfers_per_s"], 1e-9),
                "engine_spread_vs_pgbench": one["engine_spread"]["transfers_per_s"] / pg,
                "engine_hot_vs_pgbench": one["engine_hot"]["transfers_per_s"] / pg,
                "http_spread_vs_pgbench": one["http_spread"]["transfers_per_s"] / pg,
                "http_hot_vs_pgbench": one["http_hot"]["transfers_per_s"] / pg,
                "bulk_spread_vs_http_spread": one["bulk_spread"]["transactions_per_s"]
                / max(one["http_spread"]["transfers_per_s"], 1e-9),
                "bulk_hot_vs_http_hot": one["bulk_hot"]["transactions_per_s"]
                / max(one["http_hot"]["transfers_per_s"], 1e-9),
                "bulk_spread_vs_pgbench": one["bulk_spread"]["transactions_per_s"] / pg,
                "bulk_hot_vs_pgbench": one["bulk_hot"]["transactions_per_s"] / pg,
                "hordak_spread_vs_pgbench": one["hordak_spread"]["transfers_per_s"] / pg,
                "hordak_hot_vs_pgbench": one["hordak_hot"]["transfers_per_s"] / pg,
            }
            rounds.append(one)

        workers = int(os.environ.get("BENCH_ASYNC_WORKERS", "2"))
        log(f"async postings: accept with {cfg.procs} procs, then apply with {workers} workers")
        result["async"] = {}
        for mode in ("spread", "hot"):
            a = async_ingest.run(mode, ids, cfg.seconds, cfg.procs, workers)
            result["async"][mode] = a
            log(
                f"  async {mode}: accepted {a['accepted_per_s']:.0f}/s, applied "
                f"{a['applied_per_s']:.0f}/s ({a['applied_per_s_with_startup']:.0f}/s with the "
                f"workers' start-up), {a['applied']} applied, statuses {a['statuses']}"
            )

        log("client sweep " + ",".join(map(str, cfg.sweep)))
        sweep = []
        for c in cfg.sweep:
            runs = [wrk(path, "spread", c, cfg.sweep_seconds) for _ in range(cfg.repeats)]
            point = {
                "connections": c,
                "transfers_per_s": med(runs, "transfers_per_s"),
                "p50_ms": med(runs, "p50_ms"),
                "p95_ms": med(runs, "p95_ms"),
                "p99_ms": med(runs, "p99_ms"),
                "non_201": sum(x["non_201"] for x in runs),
                "runs": runs,
            }
            log(f"  c{c}: {point['transfers_per_s']:.0f}/s p99 {point['p99_ms']:.1f} ms")
            sweep.append(point)
        result["sweep"] = sweep
        result["chart"] = chart(sweep, RESULTS / "http_clients.png")

        log(f"profile: py-spy on the create path for {cfg.profile_seconds}s")
        result["profile"] = profile(server, path, cfg.profile_seconds)

        log("reads: a second ledger, bulk transactions")
        reads_ids = {
            **engine.create_ledger_with_accounts(ids["organization_id"], "Reads", READ_ACCOUNTS),
            "organization_id": ids["organization_id"],
        }
        connections.close_all()
        base_ms = int(time.time() * 1000) - 2 * 3600 * 1000
        reads: dict[str, Any] = {"ledger_id": reads_ids["ledger_id"]}
        reads["load_small_s"] = bulk_transactions(reads_ids, 0, cfg.read_small, base_ms)
        reads["small"] = {
            "transactions": cfg.read_small,
            **read_round("/v1", reads_ids, cfg.read_requests),
        }
        reads["load_large_s"] = bulk_transactions(
            reads_ids, cfg.read_small, cfg.read_large, base_ms
        )
        reads["large"] = {
            "transactions": cfg.read_large,
            **read_round("/v1", reads_ids, cfg.read_requests),
        }
        result["reads"] = reads
        for name in (
            "balance_by_alias",
            "balance_by_id",
            "transactions_list_50",
            "account_by_alias",
            "transaction_by_id",
        ):
            s, lg = reads["small"][name], reads["large"][name]
            log(
                f"  {name}: p50 {s['p50_ms']:.2f} -> {lg['p50_ms']:.2f} ms, "
                f"p95 {s['p95_ms']:.2f} -> {lg['p95_ms']:.2f} ms, status {lg['status']}"
            )
    finally:
        server.stop()

    log("verify after the benchmarks")
    result["verify_after_bench"] = verify(ids["ledger_id"])
    if os.environ.get("BENCH_VERIFY_READS", "1") != "0":
        result["verify_reads_ledger"] = verify(result["reads"]["ledger_id"])
    result["rounds"] = rounds
    result["summary"] = summarise(rounds, result)
    result["targets"] = targets(result)
    result["elapsed_s"] = round((datetime.now(UTC) - started).total_seconds())
    text = json.dumps(result, indent=1, default=str)
    (RESULTS / "latest.json").write_text(text)
    (RESULTS / f"run-{started:%Y%m%dT%H%M%SZ}.json").write_text(text)
    print(table(result))


def summarise(rounds: list[dict[str, Any]], result: dict[str, Any]) -> dict[str, Any]:
    s: dict[str, Any] = {"pgbench_tps": med(rounds, "pgbench", "tps")}
    for k in ("engine_spread", "engine_hot", "hordak_spread", "hordak_hot"):
        s[f"{k}_per_s"] = med(rounds, k, "transfers_per_s")
        s[f"{k}_errors"] = sum(r[k]["errors"] for r in rounds)
    for k in ("http_spread", "http_hot"):
        for m in ("transfers_per_s", "p50_ms", "p95_ms", "p99_ms"):
            s[f"{k}_{m}"] = med(rounds, k, m)
        s[f"{k}_non_201"] = sum(r[k]["non_201"] + r[k]["socket_errors"] for r in rounds)
    for k in ("bulk_spread", "bulk_hot"):
        for m in ("transactions_per_s", "p50_ms", "p99_ms"):
            s[f"{k}_{m}"] = med(rounds, k, m)
        s[f"{k}_non_201"] = sum(r[k]["non_201"] for r in rounds)
    for m in ("p50_ms", "p95_ms", "p99_ms", "service_p50_ms"):
        s[f"http_fixed_{m}"] = med(rounds, "http_fixed", m)
    s["http_fixed_non_201"] = sum(r["http_fixed"]["non_201"] for r in rounds)
    for k in rounds[0]["ratios"]:
        s[f"ratio_{k}"] = med(rounds, "ratios", k)
    reads = result.get("reads", {})
    for name in (
        "balance_by_alias",
        "balance_by_id",
        "transactions_list_50",
        "account_by_alias",
        "transaction_by_id",
    ):
        if name in reads.get("small", {}):
            sm, lg = reads["small"][name], reads["large"][name]
            s[f"read_{name}_small_p50_ms"] = sm["p50_ms"]
            s[f"read_{name}_large_p50_ms"] = lg["p50_ms"]
            s[f"read_{name}_small_p95_ms"] = sm["p95_ms"]
            s[f"read_{name}_large_p95_ms"] = lg["p95_ms"]
            s[f"read_{name}_ratio"] = lg["p50_ms"] / sm["p50_ms"]
            s[f"read_{name}_ok"] = sm["ok"] and lg["ok"]
    return s


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    s = result["summary"]
    out = []

    def add(name: str, measured: str, met: bool) -> None:
        out.append({"target": name, "measured": measured, "met": bool(met)})

    add(
        "HTTP spread, 16 clients: >= 800 transfers/s",
        f"{s['http_spread_transfers_per_s']:.0f}/s",
        s["http_spread_transfers_per_s"] >= 800,
    )
    add(
        "HTTP spread, 16 clients: p99 < 25 ms",
        f"{s['http_spread_p99_ms']:.1f} ms",
        s["http_spread_p99_ms"] < 25,
    )
    add(
        "HTTP p50 at 100 requests/s <= 4.9 ms",
        f"{s['http_fixed_p50_ms']:.2f} ms",
        s["http_fixed_p50_ms"] <= 4.9,
    )
    add(
        "Engine spread >= 2x hordak (same round)",
        f"{s['ratio_engine_spread_vs_hordak']:.2f}x",
        s["ratio_engine_spread_vs_hordak"] >= 2,
    )
    add(
        "Engine hot >= 5x hordak with funds check (same round)",
        f"{s['ratio_engine_hot_vs_hordak_funds_check']:.2f}x",
        s["ratio_engine_hot_vs_hordak_funds_check"] >= 5,
    )
    for mode, a in result.get("async", {}).items():
        add(
            f"Async postings applied >= 2,000/s ({mode})",
            f"{a['applied_per_s']:.0f}/s",
            a["applied_per_s"] >= 2000,
        )
    large = result.get("reads", {}).get("large", {}).get("transactions", 0)
    if "read_balance_by_alias_large_p50_ms" in s:
        bal = "balance_by_alias" if s["read_balance_by_alias_ok"] else "account_by_alias"
        add(
            f"Balance read p50 < 2 ms at {large:,} transactions ({bal})",
            f"{s[f'read_{bal}_large_p50_ms']:.2f} ms",
            s[f"read_{bal}_large_p50_ms"] < 2,
        )
        add(
            f"Balance read within 1.5x of the 10k figure ({bal})",
            f"{s[f'read_{bal}_ratio']:.2f}x",
            s[f"read_{bal}_ratio"] <= 1.5,
        )
        add(
            f"List page (limit=50) p50 < 10 ms at {large:,} transactions",
            f"{s['read_transactions_list_50_large_p50_ms']:.2f} ms",
            s["read_transactions_list_50_large_p50_ms"] < 10,
        )
        add(
            "List page within 1.5x of the 10k figure",
            f"{s['read_transactions_list_50_ratio']:.2f}x",
            s["read_transactions_list_50_ratio"] <= 1.5,
        )
    return out


def table(result: dict[str, Any]) -> str:
    s = result["summary"]
    m = result["machine"]
    rows = [
        ("pgbench -N -c8 -j2 (tps)", f"{s['pgbench_tps']:.0f}", "1.00"),
        (
            "engine spread, 8 procs (transfers/s)",
            f"{s['engine_spread_per_s']:.0f}",
            f"{s['ratio_engine_spread_vs_pgbench']:.2f}",
        ),
        (
            "engine hot account, 8 procs",
            f"{s['engine_hot_per_s']:.0f}",
            f"{s['ratio_engine_hot_vs_pgbench']:.2f}",
        ),
        (
            "hordak spread, 8 procs",
            f"{s['hordak_spread_per_s']:.0f}",
            f"{s['ratio_hordak_spread_vs_pgbench']:.2f}",
        ),
        (
            "hordak hot + funds check, 8 procs",
            f"{s['hordak_hot_per_s']:.0f}",
            f"{s['ratio_hordak_hot_vs_pgbench']:.2f}",
        ),
        (
            "HTTP spread, 16 conns (transfers/s)",
            f"{s['http_spread_transfers_per_s']:.0f}",
            f"{s['ratio_http_spread_vs_pgbench']:.2f}",
        ),
        (
            "HTTP hot, 16 conns (transfers/s)",
            f"{s['http_hot_transfers_per_s']:.0f}",
            f"{s['ratio_http_hot_vs_pgbench']:.2f}",
        ),
        (
            f"HTTP bulk spread, {BULK_SIZE}/request (tx/s)",
            f"{s['bulk_spread_transactions_per_s']:.0f}",
            f"{s['ratio_bulk_spread_vs_pgbench']:.2f}",
        ),
        (
            f"HTTP bulk hot, {BULK_SIZE}/request (tx/s)",
            f"{s['bulk_hot_transactions_per_s']:.0f}",
            f"{s['ratio_bulk_hot_vs_pgbench']:.2f}",
        ),
    ]
    lines = [
        f"Midaz bench — {result['date']} — {result['command']}",
        f"machine: {m['nproc']} cores ({m['cpu']}), {m['ram_gib']} GiB, PostgreSQL "
        f"{m['postgresql']} (synchronous_commit={m['synchronous_commit']}), shared machine",
        f"gunicorn {result['gunicorn']}; median of {result['config']['repeats']} round(s) of "
        f"{result['config']['seconds']:g} s",
        "",
        f"{'benchmark':44} {'median':>10} {'x pgbench':>10}",
    ]
    lines += [f"{a:44} {b:>10} {c:>10}" for a, b, c in rows]
    lines += [
        "",
        f"errors: engine spread {s['engine_spread_errors']}, engine hot {s['engine_hot_errors']}, "
        f"hordak {s['hordak_spread_errors']}/{s['hordak_hot_errors']}, HTTP non-201 spread "
        f"{s['http_spread_non_201']}, hot {s['http_hot_non_201']}, "
        f"fixed {s['http_fixed_non_201']}",
        f"HTTP spread 16 conns: p50 {s['http_spread_p50_ms']:.1f}  "
        f"p95 {s['http_spread_p95_ms']:.1f}  p99 {s['http_spread_p99_ms']:.1f} ms",
        f"HTTP hot    16 conns: p50 {s['http_hot_p50_ms']:.1f}  p95 {s['http_hot_p95_ms']:.1f}"
        f"  p99 {s['http_hot_p99_ms']:.1f} ms",
        f"HTTP fixed {result['config']['fixed_rate']}/s: p50 {s['http_fixed_p50_ms']:.2f}  "
        f"p95 {s['http_fixed_p95_ms']:.2f}  p99 {s['http_fixed_p99_ms']:.2f} ms",
        f"engine/hordak: spread {s['ratio_engine_spread_vs_hordak']:.2f}x, hot (vs funds check) "
        f"{s['ratio_engine_hot_vs_hordak_funds_check']:.2f}x",
        f"bulk/single HTTP (transactions/s): spread {s['ratio_bulk_spread_vs_http_spread']:.2f}x, "
        f"hot {s['ratio_bulk_hot_vs_http_hot']:.2f}x; bulk request p50/p99: spread "
        f"{s['bulk_spread_p50_ms']:.0f}/{s['bulk_spread_p99_ms']:.0f} ms, hot "
        f"{s['bulk_hot_p50_ms']:.0f}/{s['bulk_hot_p99_ms']:.0f} ms, non-201 "
        f"{s['bulk_spread_non_201']}/{s['bulk_hot_non_201']}",
    ]
    for mode, a in result.get("async", {}).items():
        lines.append(
            f"async {mode}: accepted {a['accepted_per_s']:.0f}/s ({result['config']['procs']} "
            f"procs), applied {a['applied_per_s']:.0f}/s by {a['workers']} workers "
            f"({a['applied_per_s_with_startup']:.0f}/s counting their start-up), "
            f"statuses {a['statuses']}"
        )
    reads = result.get("reads", {})
    if reads:
        lines += [
            "",
            f"reads (p50/p95 ms) at {reads['small']['transactions']:,} -> "
            f"{reads['large']['transactions']:,} transactions:",
        ]
        for name in (
            "balance_by_alias",
            "balance_by_id",
            "transactions_list_50",
            "account_by_alias",
            "transaction_by_id",
        ):
            sm, lg = reads["small"][name], reads["large"][name]
            lines.append(
                f"  {name:22} {sm['p50_ms']:.2f}/{sm['p95_ms']:.2f} -> {lg['p50_ms']:.2f}/"
                f"{lg['p95_ms']:.2f}  ratio {lg['p50_ms'] / sm['p50_ms']:.2f}  "
                f"status {lg['status']}"
            )
    lines += [
        "",
        "verify_ledger: after seed "
        f"{'OK' if result['verify_after_seed']['ok'] else 'FAILED'}, after bench "
        f"{'OK' if result['verify_after_bench']['ok'] else 'FAILED'}"
        + (
            f", read ledger {'OK' if result['verify_reads_ledger']['ok'] else 'FAILED'}"
            if "verify_reads_ledger" in result
            else ""
        ),
    ]
    lines += ["", "targets:"]
    for t in result["targets"]:
        lines.append(f"  [{'MET   ' if t['met'] else 'MISSED'}] {t['target']}: {t['measured']}")
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:] == ["profile"]:
        # Profile again against the database of the last run: python -m bench.run profile
        latest_path = RESULTS / "latest.json"
        latest = json.loads(latest_path.read_text())
        seed = latest["seed"]
        server = Server()
        server.start()
        try:
            create = (
                f"/v1/organizations/{seed['organization_id']}/ledgers/{seed['ledger_id']}"
                "/transactions/json"
            )
            latest["profile"] = {
                **profile(server, create, Config.from_env().profile_seconds),
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        finally:
            server.stop()
        latest_path.write_text(json.dumps(latest, indent=1, default=str))
        print(json.dumps(latest["profile"], indent=1)[:3000])
    elif sys.argv[1:] == ["chart"]:
        # Redraw the chart from the last run: python -m bench.run chart
        latest = json.loads((RESULTS / "latest.json").read_text())
        print(chart(latest["sweep"], RESULTS / "http_clients.png"))
    else:
        main()
