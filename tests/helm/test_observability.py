"""The chart's observability wiring: Prometheus annotations and ports on the API and worker pods,
the optional ServiceMonitor/PodMonitor, the multiprocess directory inside the writable /tmp,
and the settings of logs and tracing."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest

from tests.helm.chart import (
    CHART_DIR,
    KUBE_VERSION,
    MINIMAL,
    NAMESPACE,
    PROFILES,
    RELEASE,
    chart,
    merged,
    pod_spec,
    render,
)

WORKER = f"{RELEASE}-worker"
WITH_WORKER = PROFILES["autoscaling_off"]  # a broker, so a worker


def _annotations(workload: dict[str, Any]) -> dict[str, str]:
    annotations: dict[str, str] = workload["spec"]["template"]["metadata"]["annotations"]
    return annotations


def test_api_and_worker_pods_are_annotated_for_prometheus() -> None:
    rendered = render(WITH_WORKER)
    api = _annotations(rendered.get("Deployment", RELEASE))
    assert api["prometheus.io/scrape"] == "true"
    assert api["prometheus.io/port"] == "3002"
    assert api["prometheus.io/path"] == "/metrics"
    worker_deployment = rendered.get("Deployment", WORKER)
    worker = _annotations(worker_deployment)
    assert worker["prometheus.io/port"] == "9101"
    assert worker["prometheus.io/path"] == "/metrics"
    (container,) = pod_spec(worker_deployment)["containers"]
    assert {"name": "metrics", "containerPort": 9101, "protocol": "TCP"} in container["ports"]
    # Beat and the migrations Job serve nothing.
    for name in (f"{RELEASE}-beat",):
        assert "prometheus.io/scrape" not in _annotations(rendered.get("Deployment", name))


def test_metrics_off_annotates_nothing() -> None:
    rendered = render(merged(WITH_WORKER, {"config": {"METRICS_ENABLED": False}}))
    for name in (RELEASE, WORKER):
        assert "prometheus.io/scrape" not in _annotations(rendered.get("Deployment", name))
    assert rendered.config_maps()[RELEASE]["METRICS_ENABLED"] == "false"
    no_annotations = render(merged(MINIMAL, {"metrics": {"podAnnotations": False}}))
    assert "prometheus.io/scrape" not in _annotations(no_annotations.get("Deployment", RELEASE))


def test_service_monitor_is_off_by_default_and_optional() -> None:
    for values in PROFILES.values():
        rendered = render(values)
        assert not rendered.of_kind("ServiceMonitor")
        assert not rendered.of_kind("PodMonitor")
    values = merged(
        WITH_WORKER,
        {"metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "kube-prom"}}}},
    )
    rendered = render(values)
    monitor = rendered.get("ServiceMonitor", RELEASE)
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prom"
    assert monitor["spec"]["endpoints"] == [
        {"port": "http", "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s"}
    ]
    selector = monitor["spec"]["selector"]["matchLabels"]
    service = rendered.get("Service", RELEASE)
    assert selector == service["spec"]["selector"]
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    pods = rendered.get("PodMonitor", WORKER)
    assert pods["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    worker_labels = rendered.get("Deployment", WORKER)["spec"]["template"]["metadata"]["labels"]
    assert pods["spec"]["selector"]["matchLabels"].items() <= worker_labels.items()
    # No worker (no broker): no PodMonitor.
    alone = render(merged(MINIMAL, {"metrics": {"serviceMonitor": {"enabled": True}}}))
    assert alone.of_kind("ServiceMonitor")
    assert not alone.of_kind("PodMonitor")
    report = helm.lint(
        CHART_DIR, values, strict=True, namespace=NAMESPACE, kube_version=f"v{KUBE_VERSION}"
    )
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_settings_of_observability_in_the_config_map() -> None:
    config = render(MINIMAL).config_maps()[RELEASE]
    assert config["LOG_FORMAT"] == "json"
    assert config["METRICS_ENABLED"] == "true"
    assert config["METRICS_PORT"] == "9101"
    # Inside the pods' writable emptyDir (the root filesystem is read-only).
    assert config["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/")  # noqa: S108 - the emptyDir
    assert config["OTEL_EXPORTER_OTLP_ENDPOINT"] == ""  # tracing off
    assert config["OTEL_SERVICE_NAME"] == "midaz-ledger"
    traced = render(
        merged(MINIMAL, {"config": {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318"}})
    )
    assert traced.config_maps()[RELEASE]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel:4318"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"config": {"LOG_FORMAT": "xml"}}, "LOG_FORMAT"),
        ({"config": {"METRICS_PORT": 0}}, "METRICS_PORT"),
        ({"metrics": {"serviceMonitor": {"interval": "often"}}}, "interval"),
        ({"metrics": {"unknown": True}}, "unknown"),
    ],
)
def test_values_schema_refuses_bad_observability_values(
    override: dict[str, Any], message: str
) -> None:
    with pytest.raises(helm.HelmValuesError, match=message):
        chart().validate_schema(merged(MINIMAL, override))
