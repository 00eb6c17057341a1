"""Which migrations each schema still needs, for hundreds of schemas at once.

django-tenants applies the whole migration graph in every schema (operations of apps that do not
belong there are skipped by its router but still recorded), so every schema's pending list is
"the graph minus its `django_migrations` rows". The graph is loaded once and the rows of every
schema are read in one query, instead of one MigrationExecutor per schema (#1082: 300 schemas
took 15 minutes with nothing to do).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django_tenants.utils import get_public_schema_name, get_tenant_migration_order

from apps.tenants.models import SchemaKind, Tenant
from apps.tenants.template import template_schema_name

MigrationKey = tuple[str, str]


@dataclass(frozen=True)
class Schema:
    name: str
    kind: str  # SchemaKind value


def tenant_schema_names(only: Sequence[str] = ()) -> list[str]:
    """Tenant schemas in django-tenants' migration order (TENANT_MIGRATION_ORDER), optionally limited."""
    tenants = Tenant.objects.exclude(schema_name=get_public_schema_name())
    if only:
        tenants = tenants.filter(schema_name__in=only)
    order = get_tenant_migration_order() or ["schema_name"]
    return list(tenants.order_by(*order).values_list("schema_name", flat=True))


def all_schemas(only_tenants: Sequence[str] = ()) -> list[Schema]:
    """Public, the template, then tenants: the order a deploy migrates them in."""
    return [
        Schema(get_public_schema_name(), SchemaKind.PUBLIC),
        Schema(template_schema_name(), SchemaKind.TEMPLATE),
        *(Schema(name, SchemaKind.TENANT) for name in tenant_schema_names(only_tenants)),
    ]


@cache
def migration_loader() -> MigrationLoader:
    """The migration graph from disk, without reading any schema's history (once per process:
    the files do not change during a run)."""
    return MigrationLoader(None, ignore_no_migrations=True)


def existing_schemas(names: Iterable[str]) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", [list(names)])
        return {row[0] for row in cursor.fetchall()}


def applied_by_schema(names: Iterable[str]) -> dict[str, set[MigrationKey]]:
    """`django_migrations` rows of every existing schema given (empty set if it has no such table)."""
    names = list(names)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT n.nspname, c.oid IS NOT NULL
            FROM pg_namespace n
            LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = 'django_migrations' AND c.relkind = 'r'
            WHERE n.nspname = ANY(%s)
            """,
            [names],
        )
        found = cursor.fetchall()
        applied: dict[str, set[MigrationKey]] = {name: set() for name, _has_table in found}
        with_table = [name for name, has_table in found if has_table]
        # One UNION ALL per batch keeps the statement a reasonable size with thousands of schemas.
        for start in range(0, len(with_table), 200):
            batch = with_table[start : start + 200]
            query = " UNION ALL ".join(  # schema names from the catalog, quoted
                f"SELECT %s, app, name FROM {connection.ops.quote_name(name)}.django_migrations"  # noqa: S608
                for name in batch
            )
            cursor.execute(query, batch)
            for schema, app, name in cursor.fetchall():
                applied[schema].add((app, name))
    return applied


def pending_for(loader: MigrationLoader, applied: set[MigrationKey]) -> list[MigrationKey]:
    """Migrations of the graph not yet applied, in the order `migrate` would apply them."""
    applied = set(applied)
    # A squashed migration counts as applied once everything it replaces is (as Django's recorder does).
    for key, migration in loader.replacements.items():
        if all(replaced in applied for replaced in migration.replaces):
            applied.add(key)
    plan: dict[MigrationKey, None] = {}
    for leaf in loader.graph.leaf_nodes():
        for node in loader.graph.forwards_plan(leaf):
            if node not in applied:
                plan.setdefault(node)
    return list(plan)


def latest_per_app(applied: Iterable[MigrationKey]) -> dict[str, str]:
    """The newest applied migration of each app (names sort by their number prefix)."""
    latest: dict[str, str] = {}
    for app, name in applied:
        if name > latest.get(app, ""):
            latest[app] = name
    return dict(sorted(latest.items()))


def migration_objects(loader: MigrationLoader, keys: Iterable[MigrationKey]) -> list[Migration]:
    return [loader.graph.nodes[key] for key in keys]


def label(key: MigrationKey) -> str:
    return f"{key[0]}.{key[1]}"
