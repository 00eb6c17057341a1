"""Production mode refuses dev secrets and missing variables, in one readable line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]

PRODUCTION = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "k" * 20 + "production-secret-that-is-long-enough-0123456789",
    "DATABASE_URL": "postgres://billing@db.internal:5432/billing",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "BASE_DOMAIN": "billing.example.com",
    "PLATFORM_JWT_SECRET": "a-real-shared-secret-from-the-platform-vault-0123456789",
}


def manage(*args: str, **overrides: str | None) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key not in PRODUCTION}
    environment.update(PRODUCTION)
    for key, value in overrides.items():
        if value is None:
            environment.pop(key, None)
        else:
            environment[key] = value
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_refuses_to_start_without_a_secret_key() -> None:
    result = manage("check", SECRET_KEY=None)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "configuration error: DJANGO_ENV=production needs SECRET_KEY to be set"
    ]


def test_production_refuses_the_dev_secret_key() -> None:
    from billing_project.settings import DEV_SECRET_KEY

    result = manage("check", SECRET_KEY=DEV_SECRET_KEY)
    assert result.returncode == 2
    assert "refuses the dev SECRET_KEY" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_production_names_every_missing_variable() -> None:
    result = manage("check", DATABASE_URL=None, REDIS_URL=None, PLATFORM_JWT_SECRET=None)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "configuration error: DJANGO_ENV=production needs DATABASE_URL, REDIS_URL, "
        "PLATFORM_JWT_SECRET, PLATFORM_JWT_PUBLIC_KEY or PLATFORM_JWT_JWKS_URL to be set"
    )


def test_an_unknown_environment_name_is_refused() -> None:
    result = manage("check", DJANGO_ENV="staging")
    assert result.returncode == 2
    assert "DJANGO_ENV must be dev, test or production" in result.stderr


def test_check_deploy_is_clean_in_production_mode() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
