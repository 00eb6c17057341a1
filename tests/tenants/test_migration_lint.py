"""The linter's rules, on real Django operations against a real project state (no database)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.postgres.operations import AddConstraintNotValid, AddIndexConcurrently
from django.db import migrations, models
from django.db.migrations.state import ProjectState

from apps.tenants.migrating.lint import lint_operations
from tests.migration_fixture.initial import InitialMigration

APP = "migration_fixture"


def meter_state() -> ProjectState:
    """The project state after the fixture's first migration: an existing `meter` table."""
    state = ProjectState()
    for operation in InitialMigration.operations:
        operation.state_forwards(APP, state)
    return state


def codes(*operations: Any, new_models: set[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    return [
        (code, severity)
        for _operation, code, severity, _message in lint_operations(APP, operations, meter_state(), new_models or set())
    ]


@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        (
            migrations.AddField("meter", "serial", models.IntegerField(default=0), preserve_default=False),
            [("add-not-null-column", "unsafe")],
        ),
        (migrations.AddField("meter", "serial", models.IntegerField(default=0)), [("add-not-null-column", "unsafe")]),
        (migrations.AddField("meter", "serial", models.IntegerField(null=True)), []),
        (migrations.AddField("meter", "serial", models.IntegerField(db_default=0)), []),
        (
            migrations.AddField("meter", "code", models.CharField(max_length=9, null=True, unique=True)),
            [("non-concurrent-index", "unsafe")],
        ),
        (
            migrations.AddIndex("meter", models.Index(fields=["reading"], name="ix")),
            [("non-concurrent-index", "unsafe")],
        ),
        (AddIndexConcurrently("meter", models.Index(fields=["reading"], name="ix")), []),
        (migrations.RemoveField("meter", "note"), [("drop-column", "unsafe")]),
        (migrations.RenameField("meter", "note", "remark"), [("rename-column", "unsafe")]),
        (migrations.AlterField("meter", "reading", models.BigIntegerField()), [("column-type-rewrite", "unsafe")]),
        (migrations.AlterField("meter", "note", models.CharField(max_length=200, default="")), []),
        (migrations.AlterField("meter", "note", models.TextField(default="")), []),
        (
            migrations.AlterField("meter", "note", models.CharField(max_length=50, default="")),
            [("column-type-rewrite", "unsafe")],
        ),
        (
            migrations.AddConstraint("meter", models.CheckConstraint(condition=models.Q(reading__gte=0), name="c")),
            [("check-constraint-scan", "warning")],
        ),
        (AddConstraintNotValid("meter", models.CheckConstraint(condition=models.Q(reading__gte=0), name="c")), []),
        (
            migrations.AddConstraint("meter", models.UniqueConstraint(fields=["note"], name="u")),
            [("non-concurrent-index", "unsafe")],
        ),
        (migrations.RenameModel("meter", "gauge"), [("rename-table", "unsafe")]),
        (migrations.DeleteModel("meter"), [("drop-table", "unsafe")]),
        (migrations.RunSQL("SELECT 1", migrations.RunSQL.noop), [("raw-sql", "warning")]),
        (migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop), []),
    ],
    ids=lambda value: value.describe() if hasattr(value, "describe") else str(value),
)
def test_each_rule_flags_what_hurts_a_live_table_and_nothing_else(operation: Any, expected: list) -> None:
    assert codes(operation) == expected


def test_making_a_nullable_column_not_null_is_unsafe() -> None:
    nullable = migrations.AddField("meter", "serial", models.IntegerField(null=True))
    required = migrations.AlterField("meter", "serial", models.IntegerField(default=0))
    assert codes(nullable, required) == [("set-not-null", "unsafe")]


def test_anything_done_to_a_table_created_in_the_same_deploy_is_safe() -> None:
    operations = [
        migrations.AddField("meter", "serial", models.IntegerField(default=0), preserve_default=False),
        migrations.AddIndex("meter", models.Index(fields=["reading"], name="ix")),
        migrations.RemoveField("meter", "note"),
    ]
    assert codes(*operations, new_models={(APP, "meter")}) == []
