"""Typed access to django-tenants' schema switching on the default connection."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.utils import timezone

# django-tenants' DatabaseWrapper adds schema switching; the stubs only know Django's base.
_tenant_connection: Any = connection


def current_schema() -> str:
    """The schema the default connection works in now (`public` or a tenant's slug)."""
    return str(_tenant_connection.schema_name)


def use_public_schema() -> None:
    _tenant_connection.set_schema_to_public()


def use_tenant(tenant: Any) -> None:
    """Switch the default connection to `tenant`'s schema (public stays on the search path)."""
    _tenant_connection.set_tenant(tenant)


def current_tenant() -> Any:
    """The Tenant the default connection serves (None in the public schema)."""
    tenant = getattr(_tenant_connection, "tenant", None)
    if tenant is None or getattr(tenant, "schema_name", "public") == "public":
        return None
    return tenant


def tenant_timezone() -> ZoneInfo:
    """The current tenant's timezone: it defines "today" for due dates and dunning."""
    tenant = current_tenant()
    return ZoneInfo(getattr(tenant, "timezone", None) or "UTC")


def tenant_today() -> date:
    return timezone.localdate(timezone=tenant_timezone())
