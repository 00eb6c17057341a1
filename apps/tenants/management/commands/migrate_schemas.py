"""`migrate_schemas`, which also keeps the template schema migrated (django-tenants #1154)."""

from typing import Any

from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand

from apps.tenants.template import template_schema_migrate


class Command(MigrateSchemasCommand):
    help = MigrateSchemasCommand.help + " Also migrates the tenant template schema."

    def handle(self, *args: Any, **options: Any) -> None:
        super().handle(*args, **options)
        # A run over every tenant (not one schema, not --shared only) migrates the template
        # too, to the same target, so that tenants cloned from it later match the others.
        if self.sync_tenant and not options.get("schema_name") and not options.get("check_unapplied"):
            template_schema_migrate(
                verbosity=max(int(options.get("verbosity", 1)) - 1, 0),
                app_label=options.get("app_label"),
                migration_name=options.get("migration_name"),
            )
