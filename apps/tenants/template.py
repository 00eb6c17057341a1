"""The template schema new tenants are cloned from.

django-tenants only migrates schemas that have a Tenant row, so it never migrates the
template (django-tenants #1154); a stale template would make every tenant created after
a deploy silently drift. Every migrate step of ours calls `template_schema_migrate()`.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django_tenants.utils import schema_exists

from apps.core.tenancy import use_public_schema


def template_schema_name() -> str:
    return str(settings.TENANT_BASE_SCHEMA)


def template_schema_migrate(
    *, verbosity: int = 0, app_label: str | None = None, migration_name: str | None = None
) -> None:
    """Create the template schema if missing and bring it to the latest migrations (or to the target given)."""
    name = template_schema_name()
    if not schema_exists(name):
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{name}"')
    target = [label for label in (app_label, migration_name) if label]
    call_command(
        "migrate_schemas",
        *target,
        tenant=True,
        schema_name=name,
        interactive=False,
        verbosity=verbosity,
    )
    use_public_schema()


def pending_migrations(schema_name: str) -> list[str]:
    """`app.migration` names not yet applied in `schema_name` (tenant apps for tenant schemas)."""
    from django.db.migrations.executor import MigrationExecutor
    from django_tenants.utils import schema_context

    with schema_context(schema_name):
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]
