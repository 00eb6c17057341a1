"""Per-credential rate limit in Redis: 429 problem with Retry-After, callers counted apart."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client

from apps.core.api.throttling import parse_rate
from apps.core.redis import redis_client, redis_key
from apps.tenants.models import Tenant
from apps.tenants.services import api_key_create
from tests.api.conftest import assert_problem, bearer, token

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_windows() -> Iterator[None]:
    """Time is frozen, so windows repeat across runs: start and end with no counters."""

    def clear() -> None:
        client = redis_client()
        for key in client.scan_iter(match=redis_key("throttle", "*")):
            client.delete(key)

    clear()
    yield
    clear()


# 15 seconds into a minute: a 3/min window then has 45 seconds left.
FROZEN = datetime(2031, 5, 6, 7, 8, 15, tzinfo=UTC)


def test_the_rate_is_read_in_drf_syntax() -> None:
    assert parse_rate("1000/min") == (1000, 60)
    assert parse_rate("10/s") == (10, 1)
    assert parse_rate("5/hour") == (5, 3600)
    assert parse_rate("none") is None


def test_a_caller_over_the_limit_gets_429_with_retry_after(api: Client, probe: str, settings) -> None:
    settings.API_RATE_LIMIT = "3/min"
    with time_machine.travel(FROZEN, tick=False):
        alice = bearer(token(sub="alice"))
        assert [api.get(probe, **alice).status_code for _ in range(3)] == [200, 200, 200]
        limited = api.get(probe, **alice)
        body = assert_problem(limited, 429, detail_contains="Expected available in 45 seconds")
        assert limited["Retry-After"] == "45"
        assert body["retry_after"] == 45
        # Another user of the same tenant has an allowance of their own.
        assert api.get(probe, **bearer(token())).status_code == 200
    with time_machine.travel(FROZEN.replace(second=0, minute=9), tick=False):
        assert api.get(probe, **alice).status_code == 200  # a new window


def test_each_api_key_has_its_own_allowance(api: Client, probe: str, tenant_a: Tenant, settings) -> None:
    settings.API_RATE_LIMIT = "2/min"
    _, first = api_key_create(tenant=tenant_a, name="one", scope="read")
    _, second = api_key_create(tenant=tenant_a, name="two", scope="read")
    with time_machine.travel(FROZEN, tick=False):
        assert [api.get(probe, **bearer(first)).status_code for _ in range(3)] == [200, 200, 429]
        assert api.get(probe, **bearer(second)).status_code == 200


def test_anonymous_requests_are_limited_per_address(api: Client, settings) -> None:
    settings.API_RATE_LIMIT = "2/min"
    with time_machine.travel(FROZEN, tick=False):
        codes = [api.get("/api/v1/version/", REMOTE_ADDR="10.9.8.7").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
