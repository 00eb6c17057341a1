"""docker-compose.yml against the Compose specification's JSON schema, and .env.example
against ARCHITECTURE.md §5 and settings.py.

`docker compose` is not installed on these machines, so the file is validated with the
compose-spec schema vendored beside this test (compose_spec.json, from docker-compose
1.29.2's package) plus the ordering rules a schema cannot express.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.platform.conftest import (
    ARCHITECTURE,
    BASE_DIR,
    SECTION_5_COPY,
    TEST_ONLY_VARIABLES,
    architecture_section_5,
    env_example_variables,
    settings_env_reads,
)

SCHEMA = json.loads((Path(__file__).parent / "compose_spec.json").read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())


def test_the_compose_file_is_valid_under_the_compose_spec(compose: dict[str, Any]) -> None:
    jsonschema.validate(compose, SCHEMA, cls=jsonschema.Draft7Validator)


def test_the_schema_check_catches_a_broken_file(compose: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(compose))
    broken["services"]["web"]["depends_on"]["migrate"]["condition"] = "service_finished"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA, cls=jsonschema.Draft7Validator)


def test_the_platform_has_every_service(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {
        "postgres",
        "redis",
        "migrate",
        "web",
        "worker",
        "beat",
        "prometheus",
        "mailpit",
    }


def test_web_worker_and_beat_start_only_after_the_migration_succeeded(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert services[name]["image"] == "dotmac-billing:local"
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert [services[name]["command"] for name in ("web", "worker", "beat")] == [["web"], ["worker"], ["beat"]]


def test_prometheus_reads_deploy_prometheus_and_mail_goes_to_mailpit(compose: dict[str, Any]) -> None:
    prometheus = compose["services"]["prometheus"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert "./deploy/compose/prometheus.yml:/etc/prometheus-compose/prometheus.yml:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus-compose/prometheus.yml" in prometheus["command"]
    scrape = yaml.safe_load((BASE_DIR / "deploy" / "compose" / "prometheus.yml").read_text())
    [job] = scrape["scrape_configs"]
    assert job["static_configs"] == [{"targets": ["web:8000"]}]
    assert job["metrics_path"] == "/metrics"
    assert job["authorization"]["credentials_file"] == "/run/secrets/metrics_token"
    assert prometheus["secrets"] == ["metrics_token"]
    assert compose["secrets"]["metrics_token"] == {"file": "./.local/metrics-token"}
    assert scrape["rule_files"] == ["/etc/prometheus/rules*.yml"]
    env = (BASE_DIR / ".env.example").read_text()
    assert re.search(r"^EMAIL_URL=smtp://mailpit:1025$", env, re.MULTILINE)
    assert "8025:8025" in compose["services"]["mailpit"]["ports"]


def test_the_containers_have_read_only_root_filesystems(compose: dict[str, Any]) -> None:
    for name in ("migrate", "web", "worker", "beat"):
        assert compose["services"][name]["read_only"] is True
        assert "/tmp" in compose["services"][name]["tmpfs"]


def architecture_variables() -> set[str]:
    """Variable names of the table in ARCHITECTURE.md §5 (`ANYMAIL_*` stays a prefix)."""
    section = architecture_section_5()
    names: set[str] = set()
    for row in section.splitlines():
        if row.startswith("| `"):
            names.update(re.findall(r"`([A-Z][A-Z0-9_]*\*?)`", row.split("|")[1]))
    return names


def test_the_copy_of_architecture_section_5_is_current() -> None:
    if ARCHITECTURE.exists():
        assert SECTION_5_COPY.read_text() == architecture_section_5(), "refresh tests/platform/architecture_section5.md"
    assert "| `DJANGO_ENV` |" in SECTION_5_COPY.read_text()


def test_env_example_lists_every_variable_of_architecture_section_5() -> None:
    listed = env_example_variables()
    expected = architecture_variables()
    assert len(expected) >= 25
    for name in sorted(expected):
        if name.endswith("*"):
            assert any(variable.startswith(name[:-1]) for variable in listed), f"no {name} example in .env.example"
        else:
            assert name in listed, f"{name} (ARCHITECTURE.md §5) is missing from .env.example"


def test_env_example_lists_every_variable_settings_reads() -> None:
    missing = settings_env_reads() - set(env_example_variables()) - TEST_ONLY_VARIABLES
    assert not missing, f"add to .env.example (and the k8s ConfigMap or Secret): {sorted(missing)}"


def test_env_example_sets_no_variable_nothing_reads() -> None:
    # Commented (optional) lines may document variables of apps landing beside this one.
    read = settings_env_reads() | architecture_variables()
    entrypoint = (BASE_DIR / "deploy" / "docker" / "entrypoint.sh").read_text()
    unknown = {
        name
        for name, is_set in env_example_variables().items()
        if is_set and name not in read and f"${{{name}" not in entrypoint
    }
    # Read by prometheus-client and by the worker's heartbeat (observability), not by settings.py.
    assert unknown <= {"PROMETHEUS_MULTIPROC_DIR", "CELERY_HEARTBEAT_FILE"}, sorted(unknown)


def test_env_example_holds_no_secret_values() -> None:
    listed = env_example_variables()
    text = (BASE_DIR / ".env.example").read_text()
    for name in ("SECRET_KEY", "PLATFORM_JWT_SECRET", "METRICS_TOKEN"):
        assert listed[name] is True
        assert re.search(rf"^{name}=$", text, re.MULTILINE), f"{name} must be left empty in .env.example"
    assert ".env" in (BASE_DIR / ".gitignore").read_text().splitlines()
