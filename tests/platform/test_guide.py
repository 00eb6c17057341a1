"""Every code sample of docs/PLATFORM_INTEGRATION.md runs, in order, against a running app.

Fenced blocks tagged ```python test run in one shared namespace (like a notebook), ```bash test
blocks in bash with `set -euo pipefail`; both see BILLING_URL (a real threaded HTTP server
on 127.0.0.1 serving the app on the test database), PLATFORM_JWT_SECRET, METRICS_TOKEN (the
server's /metrics requires it) and the repository as the working directory. Blocks that need
Docker or a cluster (```bash needs-docker / needs-cluster) cannot run on these machines: they
are syntax-checked with `bash -n`, and the files they use are validated by test_compose.py /
test_k8s.py. Any other python, bash or sh block fails the build: a sample that is not run is
not allowed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer
from django.test.utils import override_settings

from apps.core.tenancy import use_public_schema
from apps.tenants.models import Tenant
from tests import conftest as root_conftest
from tests.api.conftest import _QuietHandler
from tests.platform.conftest import BASE_DIR

GUIDE = BASE_DIR / "docs" / "PLATFORM_INTEGRATION.md"
FENCE = re.compile(r"^```([A-Za-z]*)([^\n]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
CODE_LANGUAGES = {"python", "bash", "sh", "shell", "console"}
NOT_RUNNABLE_HERE = {"needs-docker", "needs-cluster"}
# Tenants the samples provision: removed before and after the run.
SAMPLE_TENANTS = ("initech",)
METRICS_TOKEN = "guide-metrics-token-0123456789abcdef"


@dataclass(frozen=True)
class Sample:
    language: str
    tags: tuple[str, ...]
    code: str
    line: int

    @property
    def label(self) -> str:
        return f"line {self.line} ({self.language})"


def samples() -> list[Sample]:
    text = GUIDE.read_text()
    found = []
    for match in FENCE.finditer(text):
        found.append(
            Sample(
                language=match[1].lower(),
                tags=tuple(match[2].split()),
                code=match[3],
                line=text.count("\n", 0, match.start()) + 1,
            )
        )
    return found


def runnable() -> list[Sample]:
    return [sample for sample in samples() if "test" in sample.tags]


def test_every_code_sample_is_run_or_needs_docker_or_a_cluster() -> None:
    for sample in samples():
        if sample.language in CODE_LANGUAGES:
            assert "test" in sample.tags or NOT_RUNNABLE_HERE & set(sample.tags), (
                f"{GUIDE.name} {sample.label}: tag it `test` (it will run) or say why it cannot"
            )
    assert len(runnable()) >= 10


def test_the_guide_has_the_sections_the_platform_needs() -> None:
    headings = re.findall(r"^## (.+)$", GUIDE.read_text(), re.MULTILINE)
    assert headings == [
        "Architecture",
        "Authentication",
        "Tenancy",
        "API",
        "Events and webhooks",
        "Docker",
        "Kubernetes",
        "API gateway",
        "Data protection",
        "Monitoring",
        "Scaling",
        "Troubleshooting",
    ]


@pytest.mark.parametrize(
    "sample",
    [sample for sample in samples() if NOT_RUNNABLE_HERE & set(sample.tags)],
    ids=lambda sample: sample.label,
)
def test_samples_needing_docker_or_a_cluster_are_valid_shell(sample: Sample) -> None:
    result = subprocess.run(["bash", "-n"], input=sample.code, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def _drop_sample_tenants() -> None:
    use_public_schema()
    for tenant in Tenant.objects.filter(schema_name__in=SAMPLE_TENANTS):
        tenant.delete(force_drop=True)


@pytest.fixture(scope="module")
def running_app(django_db_setup: None, django_db_blocker: Any) -> Iterator[dict[str, str]]:
    """The app on a real HTTP server (committed data; the samples' tenant is dropped afterwards)."""
    with django_db_blocker.unblock():
        _drop_sample_tenants()
        server = ThreadedWSGIServer(("127.0.0.1", 0), _QuietHandler, allow_reuse_address=False)
        server.set_app(WSGIHandler())
        import threading

        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        environment = {
            **root_conftest.test_database_environment(),
            "BILLING_URL": f"http://127.0.0.1:{server.server_port}",
            "PLATFORM_JWT_SECRET": settings.PLATFORM_JWT_SECRET,
            "METRICS_TOKEN": METRICS_TOKEN,
            "PYTHONPATH": str(BASE_DIR),
        }
        # /metrics behind a bearer token, as in production (the Monitoring samples scrape it).
        metrics_token = override_settings(METRICS_TOKEN=METRICS_TOKEN)
        metrics_token.enable()
        try:
            yield environment
        finally:
            metrics_token.disable()
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)
            from django.db import connections

            connections.close_all()
            _drop_sample_tenants()


@pytest.fixture(scope="module")
def namespace() -> dict[str, Any]:
    return {"__name__": "guide"}


@pytest.mark.slow
@pytest.mark.parametrize("sample", runnable(), ids=lambda sample: sample.label)
def test_the_sample_runs(
    sample: Sample, running_app: dict[str, str], namespace: dict[str, Any], django_db_blocker: Any, monkeypatch: Any
) -> None:
    if sample.language == "python":
        for name, value in running_app.items():
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(BASE_DIR)
        with django_db_blocker.unblock():
            exec(compile(sample.code, f"{GUIDE.name}:{sample.line}", "exec"), namespace)
        return
    assert sample.language in {"bash", "sh"}, sample.label
    with django_db_blocker.unblock():  # the server's threads answer the script's requests
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", sample.code],
            cwd=BASE_DIR,
            env={**running_app, "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert result.returncode == 0, f"{sample.label} failed:\n{result.stdout}\n{result.stderr}"
