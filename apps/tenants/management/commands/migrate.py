"""`migrate` is `migrate_schemas` here (as in django-tenants), template included."""

from apps.tenants.management.commands.migrate_schemas import Command as MigrateSchemas


class Command(MigrateSchemas):
    pass
