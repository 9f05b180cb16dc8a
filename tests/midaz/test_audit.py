"""The dependency audit of ``.ci/run`` (scripts/audit.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "audit.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


audit = load()


def test_a_known_vulnerability_fails_the_audit() -> None:
    """pip-audit's JSON report (its documented ``-f json`` shape) with one vulnerable pin."""
    report = {
        "dependencies": [
            {
                "name": "django",
                "version": "3.2.0",
                "vulns": [{"id": "PYSEC-2021-9", "fix_versions": ["3.2.1"], "aliases": []}],
            },
            {"name": "orjson", "version": "3.13.0", "vulns": []},
        ]
    }
    status, lines = audit.verdict(report)
    assert status == 1
    assert "VULNERABLE django 3.2.0: PYSEC-2021-9 (3.2.1)" in lines
    assert lines[-1] == "audit: 2 packages audited, 1 vulnerable, 0 not audited"


def test_a_package_the_service_did_not_answer_for_fails_the_audit() -> None:
    report = {
        "dependencies": [
            {"name": "orjson", "version": "3.13.0", "vulns": []},
            {"name": "lark", "skip_reason": "Dependency not found on PyPI"},
        ]
    }
    status, lines = audit.verdict(report)
    assert status == 1
    assert lines[0].startswith("NOT AUDITED lark")


def test_a_clean_report_passes() -> None:
    status, _ = audit.verdict({"dependencies": [{"name": "orjson", "version": "3", "vulns": []}]})
    assert status == 0


@pytest.mark.skipif(
    not audit.service_reachable(), reason="pip-audit's vulnerability service is unreachable here"
)
def test_a_vulnerable_pin_is_found_by_the_real_service(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("django==3.2.0\n")
    status, lines = audit.verdict(audit.run_pip_audit([requirements]))
    assert status == 1
    assert any(line.startswith("VULNERABLE django 3.2.0") for line in lines)
