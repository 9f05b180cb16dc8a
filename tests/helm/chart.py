"""Rendering the chart with Helm's own engine (PyPI ``helm-python-sdk``: Helm's Go library
behind a C ABI, no ``helm`` binary, no cluster, no network) and reading what it renders."""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = ROOT / "helm" / "midaz"
SETTINGS = ROOT / "midaz" / "settings.py"
RELEASE = "midaz"
NAMESPACE = "ledger"
KUBE_VERSION = "1.30.0"

# The credentials: in the chart's Secret (or the operator's existingSecret), never a ConfigMap.
SECRET_KEYS = frozenset(
    {
        "SECRET_KEY",
        "DATABASE_URL",
        "DATABASE_REPLICA_URL",
        "VALKEY_URL",
        "REDIS_URL",
        "CELERY_BROKER_URL",
        "MONGO_URL",
    }
)

_ENV_READ = re.compile(
    r"""\benv\.(?:str|bool|int|float|list|db_url)\(\s*["']([A-Z][A-Z0-9_]*)["']"""
)
_DATABASE_READ = re.compile(r"""\b_database\(\s*["']([A-Z][A-Z0-9_]*)["']\s*\)""")


def settings_env_vars() -> set[str]:
    """Every environment variable midaz/settings.py reads, from its source (so that a setting
    added there must also be added to the chart)."""
    source = SETTINGS.read_text()
    return set(_ENV_READ.findall(source)) | set(_DATABASE_READ.findall(source))


# --- Value profiles -------------------------------------------------------------------------------

SECRET_KEY = "test-secret-key-0123456789abcdef"
DATABASE_URL = "postgres://ledger:db-Pa55word@pg.example.internal:5432/midaz"

MINIMAL: dict[str, Any] = {
    "secretKey": SECRET_KEY,
    "externalServices": {"databaseUrl": DATABASE_URL},
}

EXTERNAL: dict[str, Any] = {
    "secretKey": SECRET_KEY,
    "image": {"repository": "registry.example.com/midaz-py", "tag": "1.2.3"},
    "externalServices": {
        "databaseUrl": DATABASE_URL,
        "databaseReplicaUrl": "postgres://ledger:db-Pa55word@pg-ro.example.internal:5432/midaz",
        "valkeyUrl": "rediss://:valkey-Pa55word@valkey.example.internal:6380/0",
        "brokerUrl": "amqps://ledger:mq-Pa55word@mq.example.internal:5671//",
        "mongoUrl": "mongodb://ledger:mongo-Pa55word@mongo.example.internal:27017/midaz",
    },
    "config": {
        "TRANSACTION_ASYNC": True,
        "METADATA_BACKEND": "mongodb",
        "RATE_LIMIT": "200/s",
        "ASYNC_WAIT_SECONDS": 2.5,
    },
}

IN_CLUSTER: dict[str, Any] = {
    "secretKey": SECRET_KEY,
    "postgresql": {
        "enabled": True,
        "auth": {"password": "pg-Pa55word", "replicationPassword": "repl-Pa55word"},
    },
    "valkey": {"enabled": True, "auth": {"password": "valkey-Pa55word"}},
    "rabbitmq": {"enabled": True, "auth": {"password": "rabbit-Pa55word"}},
    "mongodb": {"enabled": True, "auth": {"rootPassword": "mongo-Pa55word"}},
    "config": {"METADATA_BACKEND": "mongodb", "TRANSACTION_ASYNC": True},
}

INGRESS_TLS: dict[str, Any] = {
    **MINIMAL,
    "ingress": {
        "enabled": True,
        "className": "nginx",
        "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"},
        "hosts": [{"host": "ledger.example.com", "paths": [{"path": "/", "pathType": "Prefix"}]}],
        "tls": [{"secretName": "ledger-example-com-tls", "hosts": ["ledger.example.com"]}],
    },
}

AUTOSCALING_OFF: dict[str, Any] = {
    **MINIMAL,
    "externalServices": {
        **MINIMAL["externalServices"],
        "brokerUrl": "amqp://u:mq-Pa55word@mq:5672//",
    },
    "api": {"replicaCount": 3, "autoscaling": {"enabled": False}},
    "worker": {"replicaCount": 2, "autoscaling": {"enabled": False}},
}

EXISTING_SECRET: dict[str, Any] = {"existingSecret": "midaz-credentials"}

PROFILES: dict[str, dict[str, Any]] = {
    "defaults": MINIMAL,
    "external": EXTERNAL,
    "in_cluster": IN_CLUSTER,
    "ingress_tls": INGRESS_TLS,
    "autoscaling_off": AUTOSCALING_OFF,
    "existing_secret": EXISTING_SECRET,
}


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# --- Rendering ------------------------------------------------------------------------------------


@cache
def chart() -> helm.Chart:
    return helm.Chart.load(CHART_DIR)


class Rendered:
    """The manifests of one render, by kind and name."""

    def __init__(self, files: dict[str, str]):
        self.files = files
        self.notes = next((text for path, text in files.items() if path.endswith("NOTES.txt")), "")
        self.docs: list[dict[str, Any]] = [
            doc
            for path, text in sorted(files.items())
            if path.endswith((".yaml", ".yml"))
            for doc in yaml.safe_load_all(text)
            if doc
        ]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] == kind]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        found = [d for d in self.of_kind(kind) if d["metadata"]["name"] == name]
        assert len(found) == 1, f"{kind}/{name}: {len(found)} rendered"
        return found[0]

    def names(self, kind: str) -> set[str]:
        return {d["metadata"]["name"] for d in self.of_kind(kind)}

    def config_maps(self) -> dict[str, dict[str, str]]:
        return {d["metadata"]["name"]: d.get("data") or {} for d in self.of_kind("ConfigMap")}

    def secrets(self) -> dict[str, dict[str, str]]:
        return {
            d["metadata"]["name"]: {
                key: base64.b64decode(value).decode()
                for key, value in (d.get("data") or {}).items()
            }
            for d in self.of_kind("Secret")
        }

    def workloads(self) -> Iterator[dict[str, Any]]:
        """Every object with a pod template."""
        for doc in self.docs:
            if doc["kind"] in {"Deployment", "StatefulSet", "Job"}:
                yield doc

    def ledger_workloads(self) -> list[dict[str, Any]]:
        """The ledger's own pods (API, worker, beat, migrations): the image of the chart."""
        return [
            w
            for w in self.workloads()
            if w["metadata"]["labels"]["app.kubernetes.io/component"]
            in {"api", "worker", "beat", "migrations"}
        ]


def render(values: dict[str, Any], *, upgrade: bool = False) -> Rendered:
    files = chart().render(
        values=values,
        name=RELEASE,
        namespace=NAMESPACE,
        is_install=not upgrade,
        is_upgrade=upgrade,
    )
    return Rendered(files)


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]
