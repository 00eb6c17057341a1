"""What one tenant holds is invisible from another: ORM, admin, cache."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from django_tenants.utils import schema_context

from apps.core.tenancy import use_public_schema
from apps.tenants.models import Tenant
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_a_user_made_in_tenant_a_is_not_visible_from_tenant_b(tenant_a: Tenant, tenant_b: Tenant) -> None:
    user_model = get_user_model()
    with schema_context(tenant_a.schema_name):
        user_model.objects.create_user("clerk-only-in-a", password=PASSWORD)
        assert user_model.objects.filter(username="clerk-only-in-a").count() == 1
    with schema_context(tenant_b.schema_name):
        assert not user_model.objects.filter(username="clerk-only-in-a").exists()
    use_public_schema()
    assert not user_model.objects.filter(username="clerk-only-in-a").exists()


def test_staff_of_tenant_a_log_in_on_their_host_only(client_a: Client, client_b: Client) -> None:
    login = {"username": "admin", "password": PASSWORD, "next": "/admin/"}
    own = client_a.post("/admin/login/?next=/admin/", login)
    assert own.status_code == 302
    assert own["Location"] == "/admin/"
    assert client_a.get("/admin/").status_code == 200

    with schema_context("beta"):
        get_user_model().objects.filter(username="admin").update(password="!unusable")
    foreign = client_b.post("/admin/login/?next=/admin/", login)
    assert foreign.status_code == 200
    assert b"Please enter the correct username and password" in foreign.content


def test_a_session_cookie_from_tenant_a_does_not_open_tenant_b(client_a: Client, tenant_b: Tenant) -> None:
    client_a.post("/admin/login/?next=/admin/", {"username": "admin", "password": PASSWORD})
    assert client_a.get("/admin/").status_code == 200
    stolen = Client(HTTP_HOST=f"{tenant_b.schema_name}.localhost")
    stolen.cookies = client_a.cookies
    answer = stolen.get("/admin/")
    assert answer.status_code == 302
    assert answer["Location"].startswith("/admin/login/")


def test_cache_entries_are_scoped_to_their_tenant(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with schema_context(tenant_a.schema_name):
        cache.set("dashboard-totals", "alpha's numbers", 30)
        assert cache.get("dashboard-totals") == "alpha's numbers"
    with schema_context(tenant_b.schema_name):
        assert cache.get("dashboard-totals") is None
    with schema_context(tenant_a.schema_name):
        cache.delete("dashboard-totals")
