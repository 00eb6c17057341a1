"""migration_status: exit 0 current, 1 pending, 2 drift; a table for people and JSON for machines."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.db import connection

from apps.core.tenancy import use_public_schema
from apps.tenants.migrating.plan import applied_by_schema, migration_loader, pending_for
from apps.tenants.template import pending_migrations, template_schema_name
from tests.tenants.migration_support import manage


def status(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        call_command("migration_status", *args)
    return int(exit_info.value.code or 0), capsys.readouterr().out


@pytest.fixture
def unblocked(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> Iterator[None]:
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        use_public_schema()
        yield
        use_public_schema()


def test_a_current_fleet_exits_0(unblocked: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, output = status(capsys=capsys)
    assert code == 0, output
    assert output.splitlines()[-1] == "status: everything current (exit 0)"


def test_a_column_dropped_by_hand_is_drift_naming_schema_table_and_column(
    unblocked: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE beta.auth_user DROP COLUMN last_name")
    try:
        code, output = status(capsys=capsys)
        assert code == 2
        expected = "drift: beta: column auth_user.last_name is missing (template: character varying(150) NOT NULL)"
        assert expected in output
        code, output = status("--format", "json", capsys=capsys)
        document = json.loads(output)
        assert (code, document["exit_code"], document["summary"]["drifted"]) == (2, 2, 1)
        (beta,) = [schema for schema in document["schemas"] if schema["schema"] == "beta"]
        assert beta["drift"] == [
            {
                "schema": "beta",
                "object": "column",
                "table": "auth_user",
                "name": "last_name",
                "problem": "missing",
                "expected": "character varying(150) NOT NULL",
                "found": "",
            }
        ]
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE beta.auth_user ADD COLUMN last_name varchar(150) NOT NULL DEFAULT ''")
            cursor.execute("ALTER TABLE beta.auth_user ALTER COLUMN last_name DROP DEFAULT")
    assert status(capsys=capsys)[0] == 0


def test_pending_migrations_exit_1_and_are_listed_per_schema() -> None:
    """The fixture app (installed by the subprocess's settings only) is pending everywhere."""
    done = manage("migration_status", "--format", "json")
    document = json.loads(done.stdout)
    assert done.returncode == 1 == document["exit_code"]
    schemas = {schema["schema"]: schema for schema in document["schemas"]}
    fixture = ["migration_fixture.0001_initial", "migration_fixture.0002_reading_not_negative"]
    assert schemas["alpha"]["pending"] == fixture
    assert schemas[template_schema_name()]["pending"] == schemas["alpha"]["pending"]


@pytest.mark.django_db
def test_the_one_query_plan_agrees_with_djangos_own_per_schema_plan() -> None:
    template = template_schema_name()
    call_command("migrate_schemas", "--tenant", "-s", template, "auth", "0011", verbosity=0, interactive=False)
    applied = applied_by_schema([template, "alpha"])
    loader = migration_loader()
    assert [f"{app}.{name}" for app, name in pending_for(loader, applied[template])] == pending_migrations(template)
    assert pending_for(loader, applied[template]) == [("auth", "0012_alter_user_first_name_max_length")]
    assert pending_for(loader, applied["alpha"]) == [] == pending_migrations("alpha")
