"""Per-tenant fan-out for beat jobs: beat runs in the public schema, the work in each tenant's."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from celery import Task
from django_tenants.utils import schema_context

from apps.tenants.models import Tenant, TenantStatus


def active_tenant_schemas() -> list[str]:
    """Schemas of every active tenant, in a stable order."""
    return list(
        Tenant.objects.filter(status=TenantStatus.ACTIVE)
        .exclude(schema_name="public")
        .order_by("schema_name")
        .values_list("schema_name", flat=True)
    )


def enqueue_for_tenants(task: Task, *args: Any, schemas: Iterable[str] | None = None, **kwargs: Any) -> int:
    """Enqueue `task` once per tenant (every active one by default), each message carrying its tenant."""
    count = 0
    for schema in active_tenant_schemas() if schemas is None else schemas:
        with schema_context(schema):
            task.apply_async(args=args, kwargs=kwargs)
        count += 1
    return count
