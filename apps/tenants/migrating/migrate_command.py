"""Django's `migrate`, as django-tenants runs it in each schema (TENANT_BASE_MIGRATE_COMMAND).

It only adds a hook around each migration for `safe_migrate`'s per-migration statement timeout
and deferred-constraint checks; outside a `safe_migrate` job it behaves exactly like `migrate`.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands.migrate import Command as DjangoMigrateCommand

from apps.tenants.migrating.schema_job import on_migration_progress


class MigrateCommand(DjangoMigrateCommand):
    def migration_progress_callback(self, action: str, migration: Any = None, fake: bool = False) -> None:
        super().migration_progress_callback(action, migration, fake)
        on_migration_progress(action, migration)
