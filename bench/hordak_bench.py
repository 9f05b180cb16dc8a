"""The peer: django-hordak doing the same 1:1 transfers, 8 processes. Runs in
bench/.venv-hordak only (``python -m bench.hordak_bench setup|spread|hot SECONDS PROCS``) and
prints one JSON line. hordak's own modules are imported by name at run time: they are not
installed in the project's virtualenv, which type-checks this file.

- setup: migrate, 1,000 asset accounts + a hot one + an equity account, funded from equity.
- spread: ``Account.transfer_to`` between two random accounts (hordak checks no funds).
- hot: a funds check before each transfer out of the hot account: the source row locked with
  ``select_for_update``, its balance (hordak sums the account's legs) compared with the amount,
  then ``transfer_to``, all in one database transaction.
"""

# ruff: noqa: S311

from __future__ import annotations

import importlib
import json
import multiprocessing as mp
import os
import random
import sys
import time
from decimal import Decimal
from typing import Any

from bench.common import ACCOUNTS, AMOUNT, HOT_FUNDS, ROOT, SPREAD_FUNDS


def _setup() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.hordak_project.settings"
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _models() -> tuple[Any, Any, Any]:
    core = importlib.import_module("hordak.models")
    money = importlib.import_module("moneyed").Money
    return core.Account, core.AccountType, money


def seed() -> dict[str, Any]:
    from django.core.management import call_command
    from django.db import transaction

    _setup()
    call_command("migrate", verbosity=0)
    account_model, types, money = _models()
    with transaction.atomic():
        equity = account_model.objects.create(name="Equity", type=types.equity, code="9")
        accounts = [
            account_model.objects.create(name=f"acct{i:04d}", type=types.asset, code=f"1{i:04d}")
            for i in range(ACCOUNTS)
        ]
        hot = account_model.objects.create(name="hot", type=types.asset, code="2")
        for acc in accounts:
            equity.transfer_to(acc, money(SPREAD_FUNDS, "USD"))
        equity.transfer_to(hot, money(HOT_FUNDS, "USD"))
    return {"accounts": ACCOUNTS, "hot_balance": str(hot.get_simple_balance())}


def _worker(index: int, mode: str, seconds: float, barrier: Any, out: Any) -> None:
    from django.db import connection, transaction

    _setup()
    account_model, _types, money = _models()
    accounts = list(account_model.objects.filter(name__startswith="acct").order_by("name"))
    hot = account_model.objects.get(name="hot")
    amount = money(AMOUNT, "USD")
    needed = Decimal(AMOUNT)
    rng = random.Random(index * 104729 + int(time.time()))
    ok = errors = 0
    first_error = ""
    barrier.wait()
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1
        try:
            if mode == "hot":
                dst = accounts[rng.randrange(ACCOUNTS)]
                with transaction.atomic():
                    src = account_model.objects.select_for_update().get(pk=hot.pk)
                    balance = src.get_simple_balance()
                    if balance["USD"].amount < needed:
                        raise RuntimeError("insufficient funds")
                    src.transfer_to(dst, amount, description=f"hordak {index} {n}")
            else:
                src, dst = rng.sample(accounts, 2)
                src.transfer_to(dst, amount, description=f"hordak {index} {n}")
            ok += 1
        except Exception as exc:
            errors += 1
            first_error = first_error or f"{type(exc).__name__}: {exc}"
    out.put({"ok": ok, "errors": errors, "first_error": first_error})
    connection.close()


def run(mode: str, seconds: float, procs: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(procs + 1)
    out = ctx.Queue()
    workers = [
        ctx.Process(target=_worker, args=(i, mode, seconds, barrier, out)) for i in range(procs)
    ]
    for w in workers:
        w.start()
    barrier.wait(timeout=120)
    results = [out.get(timeout=seconds + 120) for _ in workers]
    for w in workers:
        w.join(timeout=30)
    ok = sum(r["ok"] for r in results)
    return {
        "transfers_per_s": ok / seconds,
        "ok": ok,
        "errors": sum(r["errors"] for r in results),
        "first_error": next((r["first_error"] for r in results if r["first_error"]), ""),
        "seconds": seconds,
    }


def main() -> None:
    command = sys.argv[1]
    result = seed() if command == "setup" else run(command, float(sys.argv[2]), int(sys.argv[3]))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
