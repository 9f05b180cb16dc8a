"""The Helm chart (helm/midaz), rendered by Helm's own engine for several value profiles and
validated against the Kubernetes 1.30 schemas (issue #8)."""

from __future__ import annotations

import re
from typing import Any

import helm_python as helm
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from tests.helm.chart import (
    CHART_DIR,
    KUBE_VERSION,
    MINIMAL,
    NAMESPACE,
    PROFILES,
    RELEASE,
    SECRET_KEY,
    SECRET_KEYS,
    Rendered,
    chart,
    containers,
    merged,
    pod_spec,
    render,
    settings_env_vars,
)

PROFILE_NAMES = sorted(PROFILES)
# The emptyDir of every ledger pod (HOME, temporary files): the root filesystem is read-only.
TMP = "/tmp"  # noqa: S108


@pytest.fixture(scope="module", params=PROFILE_NAMES)
def profile(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any], Rendered]:
    values = PROFILES[request.param]
    return request.param, values, render(values)


def _by_name(containers_: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in containers_}


# --- Helm: schema, lint, Kubernetes schemas -----------------------------------------------------


def test_every_profile_satisfies_values_schema() -> None:
    for values in PROFILES.values():
        chart().validate_schema(values)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"config": {"AUTH_ENABLED": "yes"}}, "/config/AUTH_ENABLED"),
        ({"config": {"SECRET_KEY": "in-a-configmap"}}, "SECRET_KEY"),
        ({"config": {"DATABASE_URL": "postgres://u:p@h/db"}}, "DATABASE_URL"),
        ({"config": {"METADATA_BACKEND": "cassandra"}}, "METADATA_BACKEND"),
        ({"api": {"replicas": 3}}, "replicas"),
        ({"externalServices": {"databaseUrl": "mysql://h/db"}}, "databaseUrl"),
    ],
)
def test_values_schema_refuses_bad_values(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmValuesError, match=message):
        chart().validate_schema(merged(MINIMAL, values))


@pytest.mark.parametrize("name", PROFILE_NAMES)
def test_helm_lint_strict_is_clean(name: str) -> None:
    report = helm.lint(
        CHART_DIR, PROFILES[name], strict=True, namespace=NAMESPACE, kube_version=f"v{KUBE_VERSION}"
    )
    assert report["errors"] == []
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert problems == [], problems


def test_manifests_validate_against_kubernetes_schemas(
    profile: tuple[str, dict[str, Any], Rendered],
) -> None:
    name, _, rendered = profile
    assert rendered.docs, name
    for doc in rendered.docs:
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


def test_kubernetes_validation_is_not_a_no_op() -> None:
    deployment = render(MINIMAL).get("Deployment", RELEASE)
    broken = merged(deployment, {"spec": {"replicas": "three"}})
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBE_VERSION, strict=True)
    unknown = merged(deployment, {"spec": {"replicaz": 3}})
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(unknown, KUBE_VERSION, strict=True)


def test_rendering_without_credentials_names_what_is_missing() -> None:
    with pytest.raises(helm.HelmRenderError, match="secretKey is required"):
        render({"externalServices": {"databaseUrl": "postgres://u:p@h:5432/d"}})
    with pytest.raises(helm.HelmRenderError, match=r"externalServices\.databaseUrl is required"):
        render({"secretKey": SECRET_KEY})
    with pytest.raises(helm.HelmRenderError, match=r"postgresql\.auth\.password is required"):
        render({"secretKey": SECRET_KEY, "postgresql": {"enabled": True}})


def test_impossible_combinations_are_refused() -> None:
    with pytest.raises(helm.HelmRenderError, match="TRANSACTION_ASYNC=true needs a broker"):
        render(merged(MINIMAL, {"config": {"TRANSACTION_ASYNC": True}}))
    with pytest.raises(helm.HelmRenderError, match="METADATA_BACKEND=mongodb needs"):
        render(merged(MINIMAL, {"config": {"METADATA_BACKEND": "mongodb"}}))


# --- The ledger's pods ----------------------------------------------------------------------------


def test_ledger_pods_are_locked_down(profile: tuple[str, dict[str, Any], Rendered]) -> None:
    _, _, rendered = profile
    workloads = rendered.ledger_workloads()
    assert {w["metadata"]["labels"]["app.kubernetes.io/component"] for w in workloads} >= {
        "api",
        "migrations",
    }
    for workload in workloads:
        spec = pod_spec(workload)
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True
        assert pod["runAsUser"] == 10001
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        assert spec["serviceAccountName"] == RELEASE
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert "emptyDir" in volumes["tmp"]
        for container in containers(workload):
            sc = container["securityContext"]
            assert sc["runAsNonRoot"] is True
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["privileged"] is False
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
            assert {"name": "tmp", "mountPath": TMP} in container["volumeMounts"]
            assert container["resources"]["requests"]
            assert container["resources"]["limits"]
            # Only the migrations Job applies migrations.
            if workload["kind"] != "Job":
                assert "migrate" not in container.get("args", [])


def test_api_probes_and_port(profile: tuple[str, dict[str, Any], Rendered]) -> None:
    _, _, rendered = profile
    api = _by_name(pod_spec(rendered.get("Deployment", RELEASE))["containers"])["api"]
    config = rendered.config_maps()[RELEASE]
    assert api["args"] == ["api"]
    assert api["ports"] == [
        {"name": "http", "containerPort": int(config["SERVER_PORT"]), "protocol": "TCP"}
    ]
    liveness, readiness = api["livenessProbe"]["httpGet"], api["readinessProbe"]["httpGet"]
    assert (liveness["path"], liveness["port"]) == ("/health", "http")
    assert (readiness["path"], readiness["port"]) == ("/readyz", "http")
    # The kubelet sends the pod IP as Host unless told otherwise; the ledger must accept it.
    allowed = config["ALLOWED_HOSTS"].split(",")
    for probe in (liveness, readiness):
        (host,) = [h["value"] for h in probe["httpHeaders"] if h["name"] == "Host"]
        assert host in allowed
    service = rendered.get("Service", RELEASE)
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert (
        service["spec"]["selector"]
        == rendered.get("Deployment", RELEASE)["spec"]["selector"]["matchLabels"]
    )


def test_init_container_waits_for_the_database(
    profile: tuple[str, dict[str, Any], Rendered],
) -> None:
    _, _, rendered = profile
    image = pod_spec(rendered.get("Deployment", RELEASE))["containers"][0]["image"]
    for workload in rendered.ledger_workloads():
        (init,) = pod_spec(workload)["initContainers"]
        assert init["name"] == "wait-for-database"
        assert init["image"] == image  # the ledger's own image, its own settings
        assert init["args"][0] == "wait-for-db"
        assert init["envFrom"] == pod_spec(workload)["containers"][0]["envFrom"]
        waits_for_migrations = "--migrations" in init["args"]
        assert waits_for_migrations == (workload["kind"] != "Job")


def test_migrations_job_is_a_hook(profile: tuple[str, dict[str, Any], Rendered]) -> None:
    _, values, rendered = profile
    job = rendered.get("Job", f"{RELEASE}-migrations")
    annotations = job["metadata"]["annotations"]
    hooks = set(annotations["helm.sh/hook"].split(","))
    if values.get("postgresql", {}).get("enabled"):
        # The in-cluster PostgreSQL only exists once the release is installed.
        assert hooks == {"post-install", "pre-upgrade"}
    else:
        assert hooks == {"pre-install", "pre-upgrade"}
    policy = set(annotations["helm.sh/hook-delete-policy"].split(","))
    assert {"before-hook-creation", "hook-succeeded"} <= policy
    spec = pod_spec(job)
    assert spec["restartPolicy"] == "Never"
    (migrate,) = spec["containers"]
    assert migrate["args"] == ["migrate"]
    # Its settings are hooks too, created before it (the release's own do not exist yet).
    config_name = migrate["envFrom"][0]["configMapRef"]["name"]
    secret_name = migrate["envFrom"][1]["secretRef"]["name"]
    copies = [rendered.get("ConfigMap", config_name)]
    if values.get("existingSecret"):
        assert secret_name == values["existingSecret"]
    else:
        copies.append(rendered.get("Secret", secret_name))
    for copy_ in copies:
        meta = copy_["metadata"]["annotations"]
        assert set(meta["helm.sh/hook"].split(",")) == hooks
        assert int(meta["helm.sh/hook-weight"]) < int(annotations["helm.sh/hook-weight"])
        assert "before-hook-creation" in meta["helm.sh/hook-delete-policy"]
    assert copies[0]["data"] == rendered.config_maps()[RELEASE]
    if len(copies) == 2:
        assert rendered.secrets()[secret_name] == rendered.secrets()[RELEASE]


def test_no_deployment_is_a_hook(profile: tuple[str, dict[str, Any], Rendered]) -> None:
    _, _, rendered = profile
    for doc in rendered.docs:
        if doc["kind"] not in {"Job", "ConfigMap", "Secret"}:
            assert "helm.sh/hook" not in (doc["metadata"].get("annotations") or {})


def test_beat_is_a_single_recreated_replica(profile: tuple[str, dict[str, Any], Rendered]) -> None:
    name, _, rendered = profile
    beats = [d for d in rendered.of_kind("Deployment") if d["metadata"]["name"].endswith("-beat")]
    workers = [
        d for d in rendered.of_kind("Deployment") if d["metadata"]["name"].endswith("-worker")
    ]
    has_broker = name in {"external", "in_cluster", "autoscaling_off", "existing_secret"}
    assert len(beats) == len(workers) == (1 if has_broker else 0), name
    if not has_broker:
        assert "No message broker is configured" in rendered.notes
        return
    (beat,) = beats
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    (container,) = pod_spec(beat)["containers"]
    assert container["args"] == ["beat"]
    schedule = {e["name"]: e.get("value") for e in container["env"]}["CELERY_BEAT_SCHEDULE_FILE"]
    assert schedule.startswith(f"{TMP}/")
    (worker,) = workers
    (container,) = pod_spec(worker)["containers"]
    assert container["args"] == ["worker"]
    # Liveness is the local heartbeat file, never a round trip through the broker.
    probe = container["livenessProbe"]["exec"]["command"]
    assert probe == ["/app/docker/entrypoint.sh", "worker-alive"]
    assert "celery" not in " ".join(probe)
    assert any(m["mountPath"] == TMP for m in container["volumeMounts"])  # the file's home


# --- Settings: ConfigMap and Secret --------------------------------------------------------------


def test_settings_list_is_read_from_settings_py() -> None:
    names = settings_env_vars()
    assert {"DATABASE_URL", "DATABASE_REPLICA_URL", "SECRET_KEY", "AUTH_ENABLED"} <= names
    assert {"MAX_REQUEST_BODY_BYTES", "TRANSACTION_ASYNC", "METADATA_BACKEND"} <= names
    assert len(names) >= 40


def test_every_setting_is_provided(profile: tuple[str, dict[str, Any], Rendered]) -> None:
    name, values, rendered = profile
    wanted = settings_env_vars()
    config_maps, secrets = rendered.config_maps(), rendered.secrets()
    for workload in rendered.ledger_workloads():
        for container in containers(workload):
            provided: set[str] = {e["name"] for e in container.get("env", [])}
            for source in container["envFrom"]:
                if "configMapRef" in source:
                    provided |= set(config_maps[source["configMapRef"]["name"]])
                else:
                    secret = source["secretRef"]["name"]
                    if secret == values.get("existingSecret"):
                        provided |= SECRET_KEYS  # what the README asks that Secret to hold
                    else:
                        provided |= set(secrets[secret])
            missing = sorted(wanted - provided)
            assert missing == [], f"{name}: {workload['metadata']['name']}/{container['name']}"


def test_chart_secret_holds_exactly_the_credentials() -> None:
    for name, values in PROFILES.items():
        rendered = render(values)
        secrets = rendered.secrets()
        if values.get("existingSecret"):
            assert RELEASE not in secrets
            continue
        assert set(secrets[RELEASE]) == SECRET_KEYS, name
        assert secrets[RELEASE]["SECRET_KEY"] == SECRET_KEY
        assert not SECRET_KEYS & set(rendered.config_maps()[RELEASE]), name


def test_no_secret_value_in_any_config_map(profile: tuple[str, dict[str, Any], Rendered]) -> None:
    name, values, rendered = profile
    secret_values = {v for data in rendered.secrets().values() for v in data.values() if v}
    secret_values |= set(re.findall(r"[A-Za-z-]+Pa55word", yaml.safe_dump(values)))
    secret_values.add(SECRET_KEY)
    assert len(secret_values) > (0 if values.get("existingSecret") else 1)
    for config_name, data in rendered.config_maps().items():
        text = yaml.safe_dump(data)
        for secret in secret_values:
            assert secret not in text, f"{name}: a secret value is in ConfigMap {config_name}"
    # Nor in any plain environment variable or annotation.
    for workload in rendered.workloads():
        text = yaml.safe_dump(workload)
        for secret in secret_values:
            assert secret not in text, (
                f"{name}: a secret value is in {workload['metadata']['name']}"
            )


def test_production_defaults_of_the_settings() -> None:
    config = render(MINIMAL).config_maps()[RELEASE]
    assert config["AUTH_ENABLED"] == config["PLUGIN_AUTH_ENABLED"] == "true"
    assert config["DEBUG"] == "false"
    assert config["ENV_NAME"] == "production"
    # No ingress: no TLS anywhere to redirect to, no proxy header to trust.
    assert config["SECURE_SSL_REDIRECT"] == "false"
    assert config["SECURE_PROXY_SSL_HEADER"] == "false"
    assert config["RABBITMQ_TRANSACTION_EVENTS_ENABLED"] == "false"
    assert config["VERSION"] == chart().metadata["appVersion"]
    # Whole numbers as the settings parse them (values arrive as floats).
    assert config["MAX_REQUEST_BODY_BYTES"] == "4194304"
    assert config["SECURE_HSTS_SECONDS"] == "31536000"
    assert {"localhost", f"{RELEASE}.{NAMESPACE}.svc.cluster.local"} <= set(
        config["ALLOWED_HOSTS"].split(",")
    )
    # gunicorn would otherwise start two workers per CPU of the node.
    assert config["GUNICORN_WORKERS"] == "2"


def test_external_services_reach_the_secret_and_config() -> None:
    rendered = render(PROFILES["external"])
    secret = rendered.secrets()[RELEASE]
    external = PROFILES["external"]["externalServices"]
    assert secret["DATABASE_URL"] == external["databaseUrl"]
    assert secret["DATABASE_REPLICA_URL"] == external["databaseReplicaUrl"]
    assert secret["VALKEY_URL"] == external["valkeyUrl"]
    assert secret["CELERY_BROKER_URL"] == external["brokerUrl"]
    assert secret["MONGO_URL"] == external["mongoUrl"]
    config = rendered.config_maps()[RELEASE]
    assert config["TRANSACTION_ASYNC"] == "true"
    assert config["METADATA_BACKEND"] == "mongodb"
    assert config["RATE_LIMIT"] == "200/s"
    assert config["ASYNC_WAIT_SECONDS"] == "2.5"
    assert config["RABBITMQ_TRANSACTION_EVENTS_ENABLED"] == "true"
    assert config["VERSION"] == "1.2.3"
    api = pod_spec(rendered.get("Deployment", RELEASE))["containers"][0]
    assert api["image"] == "registry.example.com/midaz-py:1.2.3"


def test_existing_secret_replaces_the_chart_secret() -> None:
    rendered = render(PROFILES["existing_secret"])
    assert RELEASE not in rendered.secrets()
    for workload in rendered.ledger_workloads():
        for container in containers(workload):
            refs = [s["secretRef"]["name"] for s in container["envFrom"] if "secretRef" in s]
            assert refs == ["midaz-credentials"]


# --- Rolling on change ----------------------------------------------------------------------------


def _checksums(rendered: Rendered) -> set[tuple[str, str]]:
    found = set()
    for workload in rendered.ledger_workloads():
        annotations = workload["spec"]["template"]["metadata"]["annotations"]
        found.add((annotations["checksum/config"], annotations["checksum/secret"]))
    assert len(found) == 1, "every ledger pod carries the same checksums"
    (pair,) = found
    return {("config", pair[0]), ("secret", pair[1])}


def test_checksum_annotations_follow_config_and_secret() -> None:
    base = dict(_checksums(render(MINIMAL)))
    assert dict(_checksums(render(MINIMAL))) == base  # deterministic
    config_changed = dict(_checksums(render(merged(MINIMAL, {"config": {"RATE_LIMIT": "5/s"}}))))
    assert config_changed["config"] != base["config"]
    assert config_changed["secret"] == base["secret"]
    secret_changed = dict(_checksums(render(merged(MINIMAL, {"secretKey": "another-key"}))))
    assert secret_changed["secret"] != base["secret"]
    assert secret_changed["config"] == base["config"]
    url_changed = dict(
        _checksums(
            render(merged(MINIMAL, {"externalServices": {"valkeyUrl": "redis://:x@valkey:6379/0"}}))
        )
    )
    assert url_changed["secret"] != base["secret"]
    # An ingress changes the auto settings (proxy header, hosts): the pods roll.
    assert dict(_checksums(render(PROFILES["ingress_tls"])))["config"] != base["config"]


# --- Service, ingress, autoscaling, disruption budgets --------------------------------------------


def test_ingress_with_tls() -> None:
    rendered = render(PROFILES["ingress_tls"])
    ingress = rendered.get("Ingress", RELEASE)
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [
        {"hosts": ["ledger.example.com"], "secretName": "ledger-example-com-tls"}
    ]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "ledger.example.com"
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": RELEASE, "port": {"name": "http"}}
    config = rendered.config_maps()[RELEASE]
    assert config["SECURE_PROXY_SSL_HEADER"] == "true"
    assert config["SECURE_SSL_REDIRECT"] == "true"
    assert "ledger.example.com" in config["ALLOWED_HOSTS"].split(",")
    assert "https://ledger.example.com" in rendered.notes
    assert rendered.of_kind("Ingress")
    assert not render(MINIMAL).of_kind("Ingress")


def test_autoscaling_on_by_default() -> None:
    rendered = render(PROFILES["external"])
    hpas = {h["metadata"]["name"]: h for h in rendered.of_kind("HorizontalPodAutoscaler")}
    assert set(hpas) == {RELEASE, f"{RELEASE}-worker"}
    for name, hpa in hpas.items():
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        resources = {m["resource"]["name"] for m in hpa["spec"]["metrics"]}
        assert resources == {"cpu", "memory"}
        # The Deployment leaves the replica count to the autoscaler.
        assert "replicas" not in rendered.get("Deployment", name)["spec"]
    pdbs = rendered.names("PodDisruptionBudget")
    assert pdbs == {RELEASE, f"{RELEASE}-worker"}


def test_autoscaling_off() -> None:
    rendered = render(PROFILES["autoscaling_off"])
    assert rendered.of_kind("HorizontalPodAutoscaler") == []
    assert rendered.get("Deployment", RELEASE)["spec"]["replicas"] == 3
    assert rendered.get("Deployment", f"{RELEASE}-worker")["spec"]["replicas"] == 2
    for pdb in rendered.of_kind("PodDisruptionBudget"):
        assert pdb["spec"]["maxUnavailable"] == 1


def test_service_account() -> None:
    rendered = render(MINIMAL)
    (account,) = rendered.of_kind("ServiceAccount")
    assert account["metadata"]["name"] == RELEASE
    assert account["automountServiceAccountToken"] is False


# --- In-cluster services --------------------------------------------------------------------------


def test_in_cluster_services() -> None:
    rendered = render(PROFILES["in_cluster"])
    statefulsets = {s["metadata"]["name"]: s for s in rendered.of_kind("StatefulSet")}
    assert set(statefulsets) == {
        f"{RELEASE}-postgresql",
        f"{RELEASE}-postgresql-replica",
        f"{RELEASE}-valkey",
        f"{RELEASE}-rabbitmq",
        f"{RELEASE}-mongodb",
    }
    services_secret = rendered.secrets()[f"{RELEASE}-services"]
    for name, sts in statefulsets.items():
        assert sts["spec"]["replicas"] == 1
        assert rendered.get("Service", sts["spec"]["serviceName"])
        (claim,) = sts["spec"]["volumeClaimTemplates"]
        assert claim["spec"]["resources"]["requests"]["storage"]
        spec = pod_spec(sts)
        assert spec["securityContext"]["runAsNonRoot"] is True
        for container in containers(sts):
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
            assert any(m["name"] == "data" for m in container["volumeMounts"])
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == f"{RELEASE}-services"
                    assert ref["key"] in services_secret, (name, ref)
        for container in spec["containers"]:
            assert container["livenessProbe"], name
            assert container["readinessProbe"], name
    replica = statefulsets[f"{RELEASE}-postgresql-replica"]
    (basebackup,) = pod_spec(replica)["initContainers"]
    assert "pg_basebackup" in basebackup["command"][-1]
    assert f"-h {RELEASE}-postgresql " in basebackup["command"][-1]

    secret = rendered.secrets()[RELEASE]
    assert secret["DATABASE_URL"] == (
        f"postgres://midaz:pg-Pa55word@{RELEASE}-postgresql:5432/midaz"
    )
    assert secret["DATABASE_REPLICA_URL"] == (
        f"postgres://midaz:pg-Pa55word@{RELEASE}-postgresql-replica:5432/midaz"
    )
    assert secret["VALKEY_URL"] == f"redis://:valkey-Pa55word@{RELEASE}-valkey:6379/0"
    assert secret["CELERY_BROKER_URL"] == f"amqp://midaz:rabbit-Pa55word@{RELEASE}-rabbitmq:5672//"
    assert secret["MONGO_URL"] == (
        f"mongodb://root:mongo-Pa55word@{RELEASE}-mongodb:27017/midaz?authSource=admin"
    )


def test_in_cluster_services_are_off_by_default() -> None:
    rendered = render(MINIMAL)
    assert rendered.of_kind("StatefulSet") == []
    assert f"{RELEASE}-services" not in rendered.secrets()


# --- Documentation --------------------------------------------------------------------------------


_DOCUMENTED_AS_A_WHOLE = {
    "config",
    "resources",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "podSecurityContext",
    "securityContext",
}


def _leaves(values: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and key not in _DOCUMENTED_AS_A_WHOLE:
            out.extend(_leaves(value, f"{path}."))
        else:
            out.append(path)
    return out


def test_chart_readme_documents_every_value() -> None:
    readme = (CHART_DIR / "README.md").read_text()
    defaults = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    undocumented = [leaf for leaf in _leaves(defaults) if f"`{leaf}`" not in readme]
    assert undocumented == []
    for key in SECRET_KEYS:
        assert f"`{key}`" in readme
