"""Operations unsafe on a live database, found in the migrations a deploy is about to apply.

We read the migrations' operations with Django's own project state rather than grepping the SQL
(django-migration-linter, squawk): the state says which table an operation touches, whether that
table is new in this deploy (then nothing about it can hurt running code or hold a long lock),
and what a field was before an AlterField. The rules follow squawk's "safe migrations" guide
and the expand/contract practice: old code keeps running while the migration applies.

"unsafe" findings refuse the run unless `--allow-unsafe "<reason>"`; "warning" findings are
shown and recorded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from django.contrib.postgres.operations import AddConstraintNotValid, AddIndexConcurrently
from django.db import connection
from django.db.migrations import operations as ops
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ProjectState
from django.db.models import CheckConstraint, UniqueConstraint
from django.db.models.fields import NOT_PROVIDED, Field

from apps.tenants.migrating.plan import MigrationKey, label

UNSAFE = "unsafe"
WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    migration: str
    operation: str
    code: str
    severity: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    def __str__(self) -> str:
        return f"[{self.severity}] {self.migration}: {self.operation}: {self.message} ({self.code})"


def _field(state: ProjectState, app_label: str, model_name: str, field_name: str) -> Field | None:
    model = state.models.get((app_label, model_name.lower()))
    if model is None:
        return None
    field = model.fields.get(field_name)
    return field if isinstance(field, Field) else None


def _column_type(field: Field) -> str | None:
    """The column type, or None when it cannot be known without the other model (relations)."""
    if field.is_relation:
        return None
    try:
        return field.db_type(connection)
    except Exception:  # a custom field that needs a bound model: compare nothing rather than guess
        return None


_VARCHAR = re.compile(r"varchar\((\d+)\)")


def _type_change_rewrites(old: str, new: str) -> bool:
    """PostgreSQL changes varchar(n) to a longer varchar or text without rewriting the table."""
    if old == new:
        return False
    old_match, new_match = _VARCHAR.fullmatch(old), _VARCHAR.fullmatch(new)
    if old_match and new == "text":
        return False
    return not (old_match and new_match and int(new_match.group(1)) >= int(old_match.group(1)))


def _has_index(field: Any) -> bool:
    return bool(field.db_index or field.unique or field.primary_key)


def _check(
    operation: Any, app_label: str, before: ProjectState, new_models: set[tuple[str, str]]
) -> list[tuple[str, str, str]]:
    """(code, severity, message) for one operation, given the project state before it."""
    model_name = str(
        getattr(operation, "model_name", None) or getattr(operation, "name", None) or getattr(operation, "old_name", "")
    ).lower()
    if (app_label, model_name) in new_models:
        return []  # a table created by this same deploy: no data, no running code using it
    table = f"{app_label}.{model_name}"
    found: list[tuple[str, str, str]] = []
    if isinstance(operation, ops.AddField):
        field = operation.field
        if field.many_to_many:
            return []
        if not field.null and field.db_default is NOT_PROVIDED:
            found.append(
                (
                    "add-not-null-column",
                    UNSAFE,
                    f"adds NOT NULL column {table}.{operation.name} without a database default: INSERTs of the "
                    "code still running fail (use null=True or db_default=...)",
                )
            )
        if _has_index(field):
            found.append(
                (
                    "non-concurrent-index",
                    UNSAFE,
                    f"builds an index on {table}.{operation.name} without CONCURRENTLY, blocking writes "
                    "(add the field without db_index, then AddIndexConcurrently)",
                )
            )
    elif isinstance(operation, ops.RemoveField):
        found.append(
            (
                "drop-column",
                UNSAFE,
                f"drops column {table}.{operation.name} while old code may still read it "
                "(stop using it in one release, drop it in the next)",
            )
        )
    elif isinstance(operation, ops.RenameField):
        found.append(
            (
                "rename-column",
                UNSAFE,
                f"renames column {table}.{operation.old_name} to {operation.new_name}: old code breaks "
                "(add the new column, copy, switch, drop later)",
            )
        )
    elif isinstance(operation, ops.AlterField):
        old = _field(before, app_label, model_name, operation.name)
        new = operation.field
        if old is not None:
            old_type, new_type = _column_type(old), _column_type(new)
            if old_type and new_type and _type_change_rewrites(old_type, new_type):
                found.append(
                    (
                        "column-type-rewrite",
                        UNSAFE,
                        f"changes {table}.{operation.name} from {old_type} to {new_type}: rewrites the table "
                        "under an ACCESS EXCLUSIVE lock",
                    )
                )
            if old.null and not new.null:
                found.append(
                    (
                        "set-not-null",
                        UNSAFE,
                        f"makes {table}.{operation.name} NOT NULL: scans the table under an ACCESS EXCLUSIVE "
                        "lock, and old code may still write NULLs",
                    )
                )
            if (new.unique and not old.unique) or (_has_index(new) and not _has_index(old)):
                found.append(
                    (
                        "non-concurrent-index",
                        UNSAFE,
                        f"builds an index on {table}.{operation.name} without CONCURRENTLY, blocking writes",
                    )
                )
    elif isinstance(operation, ops.AddIndex):
        if not isinstance(operation, AddIndexConcurrently):
            found.append(
                (
                    "non-concurrent-index",
                    UNSAFE,
                    f"builds index {operation.index.name} on {table} without CONCURRENTLY, blocking writes "
                    "(use django.contrib.postgres.operations.AddIndexConcurrently in an atomic=False migration)",
                )
            )
    elif isinstance(operation, ops.AddConstraint):
        constraint = operation.constraint
        if isinstance(operation, AddConstraintNotValid):
            return []
        if isinstance(constraint, CheckConstraint):
            found.append(
                (
                    "check-constraint-scan",
                    WARNING,
                    f"adds CHECK {constraint.name} on {table}: validates every row under an ACCESS EXCLUSIVE lock "
                    "(on big tables: AddConstraintNotValid, then ValidateConstraint)",
                )
            )
        elif isinstance(constraint, UniqueConstraint) or constraint.__class__.__name__ == "ExclusionConstraint":
            found.append(
                (
                    "non-concurrent-index",
                    UNSAFE,
                    f"adds constraint {constraint.name} on {table}, building its index without CONCURRENTLY",
                )
            )
    elif isinstance(operation, ops.AlterUniqueTogether | ops.AlterIndexTogether):
        model = before.models.get((app_label, model_name))
        option = operation.option_name
        old_sets = set(model.options.get(option, set())) if model is not None else set()
        if set(operation.option_value or ()) - old_sets:
            found.append(("non-concurrent-index", UNSAFE, f"builds a {option} index on {table} without CONCURRENTLY"))
    elif isinstance(operation, ops.RenameModel):
        found.append(("rename-table", UNSAFE, f"renames table {table} to {operation.new_name}: old code breaks"))
    elif isinstance(operation, ops.AlterModelTable):
        found.append(("rename-table", UNSAFE, f"renames the table of {table}: old code breaks"))
    elif isinstance(operation, ops.DeleteModel):
        found.append(("drop-table", UNSAFE, f"drops table {table} while old code may still use it"))
    elif isinstance(operation, ops.RunSQL):
        found.append(("raw-sql", WARNING, "runs raw SQL, which this linter cannot read: review its locks by hand"))
    return found


def lint_operations(
    app_label: str, operations: Iterable[Any], state: ProjectState, new_models: set[tuple[str, str]]
) -> list[tuple[str, str, str, str]]:
    """(operation, code, severity, message) for `operations` applied in order from `state` (which advances)."""
    found = []
    for operation in operations:
        for code, severity, message in _check(operation, app_label, state, new_models):
            found.append((operation.describe(), code, severity, message))
        operation.state_forwards(app_label, state)
    return found


def lint_plan(loader: MigrationLoader, plan: Iterable[MigrationKey]) -> list[Finding]:
    """Findings for the migrations of `plan` (forward), in plan order."""
    plan = list(plan)
    migrations = [loader.graph.nodes[key] for key in plan]
    new_models = {
        (migration.app_label, operation.name_lower)
        for migration in migrations
        for operation in migration.operations
        if isinstance(operation, ops.CreateModel)
    }
    findings: list[Finding] = []
    for key, migration in zip(plan, migrations, strict=True):
        state = loader.project_state(key, at_end=False)
        for found in lint_operations(migration.app_label, migration.operations, state, new_models):
            findings.append(Finding(label(key), *found))
    return findings


def lint_reversal(loader: MigrationLoader, plan: Iterable[MigrationKey]) -> list[Finding]:
    """Findings for unapplying `plan` (newest first): irreversible steps, and steps that drop data."""
    findings: list[Finding] = []
    for key in plan:
        migration = loader.graph.nodes[key]
        for operation in reversed(migration.operations):
            where = (label(key), operation.describe())
            if not operation.reversible:
                findings.append(
                    Finding(*where, "irreversible", UNSAFE, "cannot be reversed (no reverse_code / reverse_sql)")
                )
            elif isinstance(operation, ops.AddField):
                findings.append(
                    Finding(*where, "reverse-drops-column", UNSAFE, f"reversing drops column {operation.name}")
                )
            elif isinstance(operation, ops.CreateModel):
                findings.append(
                    Finding(*where, "reverse-drops-table", UNSAFE, f"reversing drops table {operation.name}")
                )
    return findings


def unsafe(findings: Iterable[Finding]) -> list[Finding]:
    return [finding for finding in findings if finding.severity == UNSAFE]
