"""deploy/k8s/: every manifest valid against the Kubernetes schemas (kubernetes-validate's
bundled schemas, strict: unknown fields are errors), the kustomization complete, and the
properties the platform relies on (probes, one beat, non-root, read-only root, every variable)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from django.conf import settings

from tests.platform.conftest import BASE_DIR, env_example_variables

K8S = BASE_DIR / "deploy" / "k8s"
KUBERNETES_VERSION = "1.33"
NOT_APPLIED = {"kustomization.yaml", "secret.example.yaml"}


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((K8S / name).read_text())


def manifests() -> list[Path]:
    return sorted(K8S.glob("*.yaml"))


def kustomization() -> dict[str, Any]:
    return load("kustomization.yaml")


def workloads() -> dict[str, dict[str, Any]]:
    """Deployments and the Job, by name."""
    found = {}
    for path in manifests():
        document = yaml.safe_load(path.read_text())
        if document.get("kind") in {"Deployment", "Job"}:
            found[document["metadata"]["name"]] = document
    return found


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


@pytest.mark.parametrize(
    "path", [path for path in manifests() if path.name != "kustomization.yaml"], ids=lambda path: path.name
)
def test_every_manifest_is_valid_against_the_kubernetes_schemas(path: Path) -> None:
    for document in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_the_schema_check_catches_a_broken_manifest() -> None:
    broken = load("web-deployment.yaml")
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["prot"] = 8000
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_the_kustomization_lists_every_manifest_and_nothing_else() -> None:
    listed = kustomization()["resources"]
    assert len(listed) == len(set(listed))
    assert set(listed) == {path.name for path in manifests()} - NOT_APPLIED
    assert kustomization()["namespace"] == "billing"


def test_web_has_readiness_liveness_an_hpa_and_a_pdb() -> None:
    web = workloads()["billing-web"]
    container = pod_spec(web)["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert web["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert load("web-hpa.yaml")["spec"]["scaleTargetRef"]["name"] == "billing-web"
    assert load("web-pdb.yaml")["spec"]["selector"]["matchLabels"] == web["spec"]["selector"]["matchLabels"]
    assert load("web-service.yaml")["spec"]["selector"] == web["spec"]["selector"]["matchLabels"]


def test_worker_groups_cover_every_routed_queue_exactly_once() -> None:
    groups = {}
    for name, workload in workloads().items():
        if name.startswith("billing-worker-"):
            env = {item["name"]: item.get("value") for item in pod_spec(workload)["containers"][0]["env"]}
            assert pod_spec(workload)["containers"][0]["args"] == ["worker"]
            groups[name] = env["CELERY_QUEUES"].split(",")
    assert groups == {
        "billing-worker-webhooks": ["webhooks"],
        "billing-worker-notifications": ["notifications-high", "notifications"],
        "billing-worker-default": ["dunning", "default"],
    }
    queues = [queue for group in groups.values() for queue in group]
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()} | {settings.CELERY_TASK_DEFAULT_QUEUE}
    assert sorted(queues) == sorted(routed)


def test_beat_is_exactly_one_replica_replaced_with_recreate() -> None:
    beat = workloads()["billing-beat"]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    assert pod_spec(beat)["containers"][0]["args"] == ["beat"]


def test_the_migration_job_runs_safe_migrate_once_and_keeps_its_backups() -> None:
    job = workloads()["billing-migrate"]
    spec = pod_spec(job)
    assert spec["containers"][0]["args"] == ["migrate"]
    entrypoint = (BASE_DIR / "deploy" / "docker" / "entrypoint.sh").read_text()
    assert 'exec python manage.py safe_migrate --wait --parallel "${MIGRATE_PARALLEL:-4}"' in entrypoint
    assert load("configmap.yaml")["data"]["MIGRATE_PARALLEL"] == "4"
    assert job["spec"]["backoffLimit"] == 0
    assert spec["restartPolicy"] == "Never"
    mounts = {mount["mountPath"]: mount["name"] for mount in spec["containers"][0]["volumeMounts"]}
    backups = load("configmap.yaml")["data"]["MIGRATION_BACKUP_DIR"]
    claim = next(volume for volume in spec["volumes"] if volume["name"] == mounts[backups])
    assert claim["persistentVolumeClaim"]["claimName"] == load("migration-backups-pvc.yaml")["metadata"]["name"]
    # Web, workers and beat wait for the migrations of their release.
    for name, workload in workloads().items():
        if name != "billing-migrate":
            init = pod_spec(workload)["initContainers"][0]
            assert init["args"] == ["python", "manage.py", "migrate_schemas", "--shared", "--check"]


def test_every_pod_runs_non_root_with_a_read_only_root_and_limits() -> None:
    for name, workload in workloads().items():
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] == 10001, name
        assert spec["automountServiceAccountToken"] is False, name
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        for container in spec["containers"] + spec.get("initContainers", []):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert set(container["resources"]) == {"requests", "limits"}, name
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), name
            mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
            assert "emptyDir" in volumes[mounts["/tmp"]], name
            multiproc = load("configmap.yaml")["data"]["PROMETHEUS_MULTIPROC_DIR"]
            assert volumes[mounts[multiproc]]["emptyDir"]["medium"] == "Memory", name


def secret_keys() -> set[str]:
    return set(load("secret.example.yaml")["stringData"])


def test_every_variable_comes_from_the_configmap_or_the_secret() -> None:
    config = set(load("configmap.yaml")["data"])
    secrets = secret_keys()
    assert not config & secrets
    # CELERY_QUEUES is set per worker Deployment (test_worker_groups_...).
    missing = set(env_example_variables()) - config - secrets - {"CELERY_QUEUES"}
    assert not missing, f"add to deploy/k8s/configmap.yaml or secret.example.yaml: {sorted(missing)}"
    for name, workload in workloads().items():
        for container in pod_spec(workload)["containers"] + pod_spec(workload).get("initContainers", []):
            assert container["envFrom"] == [{"configMapRef": {"name": "billing-config"}}], name
            referenced = {
                item["valueFrom"]["secretKeyRef"]["key"]
                for item in container["env"]
                if "valueFrom" in item and item["valueFrom"]["secretKeyRef"]["name"] == "billing-secrets"
            }
            assert referenced == secrets, name


def test_the_secret_example_holds_only_placeholders() -> None:
    for key, value in load("secret.example.yaml")["stringData"].items():
        assert re.search(r"<[^>]+>", value), f"{key} must be a <placeholder>, never a value"


def test_the_ingress_serves_the_public_and_the_wildcard_tenant_host_but_not_metrics() -> None:
    ingress = load("ingress.yaml")
    hosts = [rule["host"] for rule in ingress["spec"]["rules"]]
    assert hosts == ["billing.example.com", "*.billing.example.com"]
    configmap = load("configmap.yaml")["data"]
    assert configmap["BASE_DOMAIN"] == hosts[0]
    for rule in ingress["spec"]["rules"]:
        paths = {path["path"] for path in rule["http"]["paths"]}
        assert "/api/" in paths and "/admin/" in paths
        assert not any(path in {"/", "/metrics", "/health/"} for path in paths)
