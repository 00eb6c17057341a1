"""`tenants/`: provisioning by the platform (platform.admin only)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_tenants.utils import schema_context, schema_exists

from apps.tenants.models import Domain, Tenant, TenantStatus
from tests.api.conftest import assert_problem, bearer, operator_token, token

pytestmark = pytest.mark.django_db

TENANTS = "/api/v1/tenants/"
NEW_TENANT: dict[str, Any] = {
    "slug": "omega",
    "name": "Omega Telecom",
    "timezone": "Africa/Lagos",
    "currency": "NGN",
    "staff": {"username": "finance", "email": "finance@omega.test", "password": "a-long-passphrase-7"},
    "domains": ["billing.omega.test"],
}


@pytest.fixture
def operator() -> dict[str, Any]:
    return bearer(operator_token())


def test_the_platform_creates_a_tenant_with_its_host_and_first_staff_user(api: Client, operator: dict) -> None:
    response = api.post(TENANTS, NEW_TENANT, content_type="application/json", **operator)
    assert response.status_code == 201
    body = response.json()
    created_at = body.pop("created_at")
    assert body == {
        "slug": "omega",
        "name": "Omega Telecom",
        "status": "active",
        "timezone": "Africa/Lagos",
        "currency": "NGN",
        "domains": ["omega.localhost", "billing.omega.test"],
        "suspended_at": None,
        "suspension_reason": "",
    }
    tenant = Tenant.objects.get(schema_name="omega")
    assert created_at == tenant.created_at.isoformat().replace("+00:00", "Z")
    assert response["Location"] == "http://localhost/api/v1/tenants/omega/"
    assert schema_exists("omega")
    assert list(Domain.objects.filter(tenant=tenant).order_by("-is_primary").values_list("domain", flat=True)) == [
        "omega.localhost",
        "billing.omega.test",
    ]
    with schema_context("omega"):
        staff = get_user_model().objects.get(username="finance")
        assert staff.is_superuser and staff.check_password("a-long-passphrase-7")


def test_defaults_fill_timezone_currency_and_staff_username(api: Client, operator: dict) -> None:
    minimal = {"slug": "sigma", "name": "Sigma", "staff": {"email": "s@sigma.test", "password": "a-long-passphrase-8"}}
    body = api.post(TENANTS, minimal, content_type="application/json", **operator).json()
    assert (body["timezone"], body["currency"], body["domains"]) == ("UTC", "USD", ["sigma.localhost"])
    with schema_context("sigma"):
        assert get_user_model().objects.filter(username="admin").exists()


@pytest.mark.parametrize(
    ("change", "status", "type_slug", "detail"),
    [
        ({"slug": "alpha"}, 409, "tenant-exists", "tenant 'alpha' already exists"),
        ({"slug": "public"}, 400, "invalid-tenant", "invalid slug 'public'"),
        ({"currency": "XXY"}, 400, "invalid-tenant", "unknown currency 'XXY'"),
        ({"timezone": "Mars/Olympus"}, 400, "invalid-tenant", "unknown timezone 'Mars/Olympus'"),
        ({"domains": ["alpha.localhost"]}, 409, "tenant-exists", "host alpha.localhost is already in use"),
    ],
)
def test_a_tenant_that_cannot_exist_is_refused_with_the_reason(
    api: Client, operator: dict, change: dict, status: int, type_slug: str, detail: str
) -> None:
    response = api.post(TENANTS, {**NEW_TENANT, **change}, content_type="application/json", **operator)
    assert_problem(response, status, type_slug=type_slug, detail_contains=detail)
    assert not Tenant.objects.filter(name="Omega Telecom").exists()


def test_a_weak_staff_password_is_a_field_error(api: Client, operator: dict) -> None:
    weak = {**NEW_TENANT, "staff": {**NEW_TENANT["staff"], "password": "12345678"}}
    problem = assert_problem(
        api.post(TENANTS, weak, content_type="application/json", **operator), 400, type_slug="validation-error"
    )
    assert problem["errors"] == {
        "staff.password": ["This password is too common.", "This password is entirely numeric."]
    }


def test_the_platform_lists_and_reads_tenants_but_not_the_public_schema(api: Client, operator: dict) -> None:
    listing = api.get(TENANTS, **operator).json()
    assert listing["next"] is None and listing["previous"] is None
    assert [tenant["slug"] for tenant in listing["results"]] == ["alpha", "beta"]
    assert api.get(f"{TENANTS}alpha/", **operator).json()["name"] == "Alpha Networks"
    assert_problem(api.get(f"{TENANTS}public/", **operator), 404)
    assert_problem(api.get(f"{TENANTS}nobody/", **operator), 404)


def test_lists_paginate_by_cursor_and_filter_by_status(api: Client, operator: dict) -> None:
    first = api.get(f"{TENANTS}?limit=1", **operator).json()
    assert [tenant["slug"] for tenant in first["results"]] == ["alpha"]
    second = api.get(first["next"], **operator).json()
    assert [tenant["slug"] for tenant in second["results"]] == ["beta"]
    assert second["next"] is None and second["previous"] is not None
    api.post(f"{TENANTS}beta/suspend/", {"reason": "x"}, content_type="application/json", **operator)
    suspended = api.get(f"{TENANTS}?status=suspended", **operator).json()
    assert [tenant["slug"] for tenant in suspended["results"]] == ["beta"]
    newest_first = api.get(f"{TENANTS}?ordering=-created_at", **operator).json()
    assert [tenant["slug"] for tenant in newest_first["results"]] == ["beta", "alpha"]


def test_the_platform_suspends_and_reactivates_a_tenant(api: Client, operator: dict) -> None:
    suspended = api.post(
        f"{TENANTS}beta/suspend/",
        {"reason": "Platform subscription unpaid"},
        content_type="application/json",
        **operator,
    )
    assert suspended.status_code == 200
    body = suspended.json()
    assert (body["status"], body["suspension_reason"]) == ("suspended", "Platform subscription unpaid")
    assert body["suspended_at"] is not None
    assert Tenant.objects.get(schema_name="beta").status == TenantStatus.SUSPENDED
    reactivated = api.post(f"{TENANTS}beta/reactivate/", **operator)
    assert reactivated.status_code == 200
    assert (reactivated.json()["status"], reactivated.json()["suspended_at"]) == ("active", None)


def test_a_suspended_tenants_credentials_are_refused(api: Client, operator: dict, probe: str) -> None:
    beta_user = bearer(token("beta"))
    assert api.get(probe, **beta_user).status_code == 200
    api.post(f"{TENANTS}beta/suspend/", {}, content_type="application/json", **operator)
    assert_problem(api.get(probe, **beta_user), 403, type_slug="tenant-suspended")
    api.post(f"{TENANTS}beta/reactivate/", **operator)
    assert api.get(probe, **beta_user).status_code == 200


def test_only_platform_admins_provision(api: Client) -> None:
    for credential in (token("alpha", roles=("billing.admin",)), token("alpha", roles=("billing.read",))):
        assert_problem(api.get(TENANTS, **bearer(credential)), 403, detail_contains="platform.admin")
        response = api.post(TENANTS, NEW_TENANT, content_type="application/json", **bearer(credential))
        assert_problem(response, 403)
        assert_problem(api.post(f"{TENANTS}beta/suspend/", **bearer(credential)), 403)
    assert_problem(api.get(TENANTS), 401)
    # platform.admin in any tenant's token may provision: the role, not the tenant, decides.
    assert api.get(TENANTS, **bearer(token("alpha", roles=("platform.admin",)))).status_code == 200
