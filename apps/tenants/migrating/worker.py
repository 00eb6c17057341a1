"""Entry points of safe_migrate's worker processes.

This module imports nothing of Django at load time: a `spawn`ed worker unpickles its initializer
before Django is set up, and importing models then would fail (AppRegistryNotReady).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apps.tenants.migrating.schema_job import SchemaJob, SchemaOutcome


def worker_init(database_name: str) -> None:
    """Set Django up once per worker, on the run's database (the parent's, also under a test runner)."""
    import django
    from django.conf import settings

    settings.DATABASES["default"]["NAME"] = database_name
    django.setup()


def run_job(job: SchemaJob) -> SchemaOutcome:
    from apps.tenants.migrating.schema_job import run_schema_job

    return run_schema_job(job)
