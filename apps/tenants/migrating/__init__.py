"""Tenant-safe migrations: the machinery behind `safe_migrate`, `migration_status` and `restore_tenant`.

- `lock`: the deploy's PostgreSQL advisory lock (tenant creation takes it shared).
- `plan`: which migrations each schema still needs, read for every schema in one query.
- `lint`: operations unsafe on a live database, found in the pending migrations.
- `drift`: a schema's tables, columns, indexes and constraints compared with the template's.
- `backups`: `pg_dump`/`pg_restore` of one schema, with a client matching the server.
- `schema_job`: migrating one schema: block writes, back up, migrate, validate, undo on failure.
- `runner`: a whole run: public, template, then tenants in parallel, recorded and summarised.
- `records`: the MigrationRun / MigrationTenantResult rows (the only writer of them).

These wrap django-tenants (`migrate_schemas -s <schema>` per schema, TENANT_BASE_MIGRATE_COMMAND),
they do not replace it: `migrate_schemas` stays usable on its own.
"""
