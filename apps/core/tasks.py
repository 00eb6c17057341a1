"""Tenant-aware task base.

A task that touches billing data must know its tenant: tenant-schemas-celery carries the
enqueuing connection's schema in a header and switches to it in the worker. A task enqueued
from the public schema would silently run there, so `TenantBoundTask` refuses both to be
enqueued and to run without a tenant.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django_tenants.utils import get_public_schema_name
from tenant_schemas_celery.task import TenantTask

from apps.core.tenancy import current_schema


class TenantRequired(RuntimeError):
    """A tenant task was enqueued or run from the public schema."""


class TenantBoundTask(TenantTask):
    """Base class of every task that works on one tenant's data."""

    abstract = True

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        headers = options.get("headers") or {}
        schema = headers.get("_schema_name") or current_schema()
        if schema == get_public_schema_name():
            raise TenantRequired(f"{self.name} must be enqueued inside a tenant's schema, not from public")
        return super().apply_async(args, kwargs, **options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if current_schema() == get_public_schema_name():
            raise TenantRequired(f"{self.name} refused to run in the public schema")
        return super().__call__(*args, **kwargs)


@shared_task(base=TenantBoundTask, name="apps.core.tenant_ping")
def tenant_ping(token: str = "") -> dict[str, str]:
    """Diagnostic: answer with the schema the task ran in (operators and tests use it)."""
    return {"schema": current_schema(), "token": token}
