"""Creating, suspending and routing tenants."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context, schema_exists

from apps.core.tenancy import use_public_schema
from apps.tenants.exceptions import InvalidTenant, TenantExists
from apps.tenants.models import Domain, Tenant, TenantStatus
from apps.tenants.services import StaffUser, tenant_create, tenant_reactivate, tenant_suspend
from apps.tenants.template import pending_migrations, template_schema_name
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_creating_a_tenant_makes_its_schema_host_and_first_staff_user() -> None:
    tenant = tenant_create(
        slug="gamma",
        name="Gamma Wireless",
        default_currency="JPY",
        timezone_name="Asia/Tokyo",
        staff=StaffUser("boss", "boss@gamma.test", PASSWORD),
    )
    assert schema_exists("gamma")
    assert Domain.objects.get(tenant=tenant).domain == "gamma.localhost"
    assert (tenant.default_currency, tenant.timezone, tenant.status) == ("JPY", "Asia/Tokyo", "active")
    with schema_context("gamma"):
        boss = get_user_model().objects.get(username="boss")
        assert boss.is_staff and boss.check_password(PASSWORD)
    use_public_schema()
    assert not get_user_model().objects.filter(username="boss").exists()


def test_a_new_tenant_has_no_pending_migrations() -> None:
    tenant_create(slug="delta", name="Delta")
    assert pending_migrations("delta") == []


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        ("Bad-Slug", "invalid slug"),
        ("public", "invalid slug"),
        ("tenant_template", "invalid slug"),
        ("x", "invalid slug"),
        ("alpha", "already exists"),
    ],
)
def test_unacceptable_slugs_are_refused_with_a_reason(slug: str, message: str) -> None:
    with pytest.raises((InvalidTenant, TenantExists), match=message):
        tenant_create(slug=slug, name="Whatever")


def test_an_unknown_currency_or_timezone_is_refused() -> None:
    with pytest.raises(InvalidTenant, match="unknown currency"):
        tenant_create(slug="epsilon", name="Epsilon", default_currency="XXY")
    with pytest.raises(InvalidTenant, match="unknown timezone"):
        tenant_create(slug="epsilon", name="Epsilon", timezone_name="Mars/Olympus")
    assert not schema_exists("epsilon")


def test_the_provision_command_ends_with_one_readable_line_on_bad_input() -> None:
    with pytest.raises(CommandError, match="already exists"):
        call_command("provision_tenant", "alpha", name="Again", staff_email="a@b.test", staff_password=PASSWORD)


def test_a_suspended_tenant_host_shows_the_suspended_page(tenant_a: Tenant, client_a: Client) -> None:
    tenant_suspend(tenant=tenant_a, reason="unpaid platform invoice")
    page = client_a.get("/admin/login/")
    assert page.status_code == 403
    assert b"Tenant suspended" in page.content
    assert b"unpaid platform invoice" in page.content
    api = client_a.get("/api/v1/accounts/")
    assert api.status_code == 403
    assert api["Content-Type"] == "application/problem+json"

    tenant_reactivate(tenant=tenant_a)
    assert Tenant.objects.get(pk=tenant_a.pk).status == TenantStatus.ACTIVE
    assert client_a.get("/admin/login/").status_code == 200


def test_an_unknown_host_gets_a_404_page_not_a_500() -> None:
    page = Client(HTTP_HOST="nobody.localhost").get("/admin/")
    assert page.status_code == 404
    assert b"No billing workspace here" in page.content


def test_the_public_host_serves_the_operators_admin_not_a_tenants() -> None:
    page = Client(HTTP_HOST="localhost").get("/admin/login/")
    assert page.status_code == 200
    assert b"platform operators" in page.content


def test_the_template_schema_is_migrated_by_migrate_schemas() -> None:
    """django-tenants never migrates the template (#1154); our migrate_schemas must."""
    template = template_schema_name()
    call_command("migrate_schemas", "--tenant", "-s", template, "auth", "0011", verbosity=0, interactive=False)
    # The template is now stale, as it is after a deploy adds a migration.
    assert pending_migrations(template) == ["auth.0012_alter_user_first_name_max_length"]
    call_command("migrate_schemas", verbosity=0, interactive=False)
    tenant_create(slug="zeta", name="Zeta")
    for schema in (template, "zeta"):
        assert pending_migrations(schema) == []
        with schema_context(schema), connection.cursor() as cursor:
            cursor.execute(
                "SELECT character_maximum_length FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = 'auth_user' AND column_name = 'first_name'",
                [schema],
            )
            assert cursor.fetchone() == (150,)
