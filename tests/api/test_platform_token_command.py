"""`manage.py platform_token` (dev only) and the curl `make run` prints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from apps.tenants.api.tokens import verify_platform_token
from tests.api.conftest import bearer
from tests.core.test_settings import BASE_DIR, PRODUCTION

pytestmark = pytest.mark.django_db


def test_the_command_prints_a_token_the_api_accepts(api: Client, probe: str) -> None:
    out = StringIO()
    call_command("platform_token", "--tenant", "alpha", "--roles", "billing.read,billing.write", stdout=out)
    printed = out.getvalue().strip()
    claims = verify_platform_token(printed)
    assert (claims.tenant, claims.sub, claims.roles) == (
        "alpha",
        "dev-user",
        frozenset({"billing.read", "billing.write"}),
    )
    assert claims.expires_at - claims.issued_at == 600
    assert api.get(probe, **bearer(printed)).json()["roles"] == ["billing.read", "billing.write"]


def test_the_command_refuses_unknown_roles() -> None:
    with pytest.raises(CommandError, match=r"unknown role\(s\) billing\.god"):
        call_command("platform_token", "--tenant", "alpha", "--roles", "billing.god")


def test_the_command_is_refused_in_production() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "platform_token", "--tenant", "acme"],
        cwd=BASE_DIR,
        env={**os.environ, **PRODUCTION},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "platform_token is a dev tool and is refused in production" in result.stderr
    assert result.stdout == ""


def test_the_dev_banner_prints_a_ready_curl_with_a_fresh_token(api: Client) -> None:
    out = StringIO()
    call_command("dev_banner", "--port", "8000", stdout=out)
    banner = out.getvalue()
    assert "API docs         : http://localhost:8000/api/v1/docs/" in banner
    match = re.search(r'curl -H "Authorization: Bearer ([^"]+)" http://localhost:8000(/api/v1/\S+)', banner)
    assert match is not None
    claims = verify_platform_token(match.group(1))
    assert (claims.tenant, claims.roles) == ("acme", frozenset({"billing.admin"}))
