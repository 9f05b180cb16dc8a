"""The directory of prometheus_client's multiprocess mode (midaz/metrics.py), emptied before a
server's processes start. Imports neither Django nor prometheus_client: importing the metrics
would create this process's files, which emptying the directory would then lose."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def reset_multiprocess_dir() -> None:
    """Empties PROMETHEUS_MULTIPROC_DIR (when set): the files of a previous run of the container
    (an emptyDir outlives it) would otherwise be added in."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if not path:
        return
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    for child in directory.iterdir():
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
