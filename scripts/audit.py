#!/usr/bin/env python3
"""Dependency audit of the pinned requirements with pip-audit (``make audit``; ``.ci/run``).

Fails (exit 1) when a pinned package has a known vulnerability, or when the vulnerability
service answered for some packages but not for others. pip-audit's PyPI service reads
``https://pypi.org/pypi/<name>/<version>/json``; where that address does not answer at all (a
network that only proxies package downloads, as on the machines this project is built on),
nothing can be audited: the run says so in capitals and exits 0, or 1 with AUDIT_REQUIRED=1.

    python scripts/audit.py [requirements files...]   (default: requirements*.txt)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROBE = "https://pypi.org/pypi/pip/24.0/json"  # a release that exists forever


def service_reachable(url: str = PROBE, timeout: float = 10.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            return bool(response.status == 200)
    except (urllib.error.URLError, TimeoutError, OSError):
        return False


def verdict(report: dict[str, Any]) -> tuple[int, list[str]]:
    """The exit status and the lines to print for a pip-audit JSON report."""
    lines: list[str] = []
    vulnerable = [d for d in report.get("dependencies", []) if d.get("vulns")]
    skipped = [d for d in report.get("dependencies", []) if d.get("skip_reason")]
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed release"
            lines.append(
                f"VULNERABLE {dep['name']} {dep.get('version', '')}: {vuln['id']} ({fixes})"
            )
    for dep in skipped:
        lines.append(f"NOT AUDITED {dep['name']}: {dep['skip_reason']}")
    audited = len(report.get("dependencies", [])) - len(skipped)
    counts = f"{len(vulnerable)} vulnerable, {len(skipped)} not audited"
    lines.append(f"audit: {audited} packages audited, {counts}")
    return (1 if vulnerable or skipped else 0), lines


def run_pip_audit(requirements: list[Path]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "audit.json"
        command = [sys.executable, "-m", "pip_audit", "--no-deps", "--disable-pip"]
        command += ["--progress-spinner", "off", "-f", "json", "-o", str(out)]
        for req in requirements:
            command += ["-r", str(req)]
        # Exit status 1 means "found something"; the report says what.
        subprocess.run(command, check=False, cwd=ROOT)  # noqa: S603
        if not out.exists():
            raise SystemExit("audit: pip-audit wrote no report")
        report: dict[str, Any] = json.loads(out.read_text())
        return report


def main(argv: list[str]) -> int:
    requirements = [Path(a) for a in argv] or sorted(ROOT.glob("requirements*.txt"))
    if not service_reachable():
        print(
            "audit: DEPENDENCY AUDIT NOT PERFORMED: pip-audit's vulnerability service "
            f"({PROBE}) does not answer from this machine.",
            file=sys.stderr,
        )
        return 1 if os.environ.get("AUDIT_REQUIRED") == "1" else 0
    status, lines = verdict(run_pip_audit(requirements))
    print("\n".join(lines))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
