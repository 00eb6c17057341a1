"""`migration_status`'s findings: pending migrations and drift of every schema, in a few queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apps.tenants.migrating.drift import Difference, drift_against
from apps.tenants.migrating.plan import Schema, all_schemas, applied_by_schema, label, migration_loader, pending_for
from apps.tenants.models import SchemaKind

EXIT_CURRENT = 0
EXIT_PENDING = 1
EXIT_DRIFT = 2


@dataclass
class SchemaStatus:
    schema: str
    kind: str
    pending: list[str] = field(default_factory=list)
    drift: list[Difference] = field(default_factory=list)
    drift_checked: bool = False
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "kind": self.kind,
            "pending": self.pending,
            "drift": [difference.as_dict() for difference in self.drift],
            "drift_checked": self.drift_checked,
            "note": self.note,
        }


def collect_status(only_tenants: tuple[str, ...] = ()) -> list[SchemaStatus]:
    """Pending migrations of public, the template and each tenant; drift of tenants against the template.

    Drift is only judged where a tenant has applied exactly the template's migrations: a schema
    with pending migrations is expected to differ, and says so as "pending".
    """
    loader = migration_loader()
    schemas: list[Schema] = all_schemas(only_tenants)
    applied = applied_by_schema(schema.name for schema in schemas)
    template = next(schema.name for schema in schemas if schema.kind == SchemaKind.TEMPLATE)
    statuses: list[SchemaStatus] = []
    comparable: list[str] = []
    for schema in schemas:
        status = SchemaStatus(schema.name, schema.kind)
        if schema.name not in applied:
            status.drift_checked = True
            status.drift = [Difference(schema.name, "schema", "", "", "missing", "the schema", "")]
        else:
            status.pending = [label(key) for key in pending_for(loader, applied[schema.name])]
            if schema.kind == SchemaKind.TENANT:
                if template in applied and applied[schema.name] == applied[template]:
                    comparable.append(schema.name)
                else:
                    status.note = "drift not checked: migrations differ from the template's"
            elif schema.kind == SchemaKind.TEMPLATE:
                status.note = "the reference tenants are compared with"
        statuses.append(status)
    differences = drift_against(template, comparable) if comparable else {}
    for status in statuses:
        if status.schema in differences:
            status.drift_checked = True
            status.drift = differences[status.schema]
    return statuses


def exit_code(statuses: list[SchemaStatus]) -> int:
    if any(status.drift for status in statuses):
        return EXIT_DRIFT
    if any(status.pending for status in statuses):
        return EXIT_PENDING
    return EXIT_CURRENT
