"""Wait until the database answers, and with ``--migrations`` until it is fully migrated.

The init container of the chart's pods (``docker/entrypoint.sh wait-for-db``). It connects
with the ledger's own settings (``DATABASE_URL``), so it checks exactly what the ledger will
use. Exit status 0 when ready, 1 after ``--timeout`` seconds. It never applies a migration.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def _database_ready() -> str | None:
    """None when a query runs on the primary, else why not."""
    from django.db import connections

    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".strip()[:300]
    finally:
        connection.close()
    return None


def _pending_migrations() -> list[str]:
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor

    connection = connections["default"]
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]
    except Exception as exc:  # the database went away meanwhile: keep waiting
        return [f"(check failed: {type(exc).__name__}: {exc})"[:300]]
    finally:
        connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds (default 300)")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between attempts")
    parser.add_argument(
        "--migrations", action="store_true", help="also wait until no migration is pending"
    )
    args = parser.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "midaz.settings")
    import django

    django.setup()

    deadline = time.monotonic() + args.timeout
    last = ""
    while (problem := _database_ready()) is not None:
        if problem != last:
            print(f"wait-for-db: database not ready: {problem}", flush=True)
            last = problem
        if time.monotonic() >= deadline:
            print(f"wait-for-db: gave up after {args.timeout:g}s", file=sys.stderr)
            return 1
        time.sleep(args.interval)
    print("wait-for-db: database ready", flush=True)

    if args.migrations:
        while pending := _pending_migrations():
            print(f"wait-for-db: {len(pending)} migration(s) pending, e.g. {pending[0]}")
            if time.monotonic() >= deadline:
                print(f"wait-for-db: gave up after {args.timeout:g}s", file=sys.stderr)
                return 1
            time.sleep(args.interval)
        print("wait-for-db: no migration pending", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
