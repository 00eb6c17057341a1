"""Typed access to django-tenants' schema switching on the default connection."""

from __future__ import annotations

from typing import Any

from django.db import connection

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
