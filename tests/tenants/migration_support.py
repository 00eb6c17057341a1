"""Helpers for the safe-migration tests: a committed fleet of tenants, commands run as operators do.

The commands run in subprocesses with `tests.migration_fixture.settings` (the project plus the
fixture app), on the test database; the test process itself never installs the fixture app.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from tests.conftest import BASE_DIR, test_database_environment
from tests.migration_fixture import reset as fixture_reset
from tests.migration_fixture.reset import METER

FIXTURE_SETTINGS = "tests.migration_fixture.settings"
FLEET = [f"mt{index}" for index in range(6)]  # with the session's alpha and beta: 8 tenants
BAD_TENANT = "mt5"  # holds a negative reading, which the fixture's CHECK constraint refuses


def manage(*args: str, fixture_set: str = "constraint", timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """`python manage.py ...` with the fixture app installed, as an operator would run it."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=_environment(fixture_set),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _environment(fixture_set: str) -> dict[str, str]:
    environment = test_database_environment()
    environment["DJANGO_SETTINGS_MODULE"] = FIXTURE_SETTINGS
    environment["MIGRATION_FIXTURE_SET"] = fixture_set
    return environment


def start(*args: str, fixture_set: str = "constraint") -> subprocess.Popen[str]:
    """The same, in the background."""
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=_environment(fixture_set),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def connect() -> psycopg.Connection:
    """A session of our own on the test database (autocommit), apart from Django's."""
    return psycopg.connect(test_database_environment()["DATABASE_URL"], autocommit=True)


def sql(query: str, params: tuple | list = ()) -> list[tuple]:
    with connect() as session, session.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall() if cursor.description else []


def fixture_migrations(schema: str) -> list[str]:
    return [
        name
        for (name,) in sql(
            f'SELECT name FROM "{schema}".django_migrations WHERE app = %s ORDER BY name', ["migration_fixture"]
        )
    ]


def row_counts(schema: str) -> dict[str, int]:
    tables = [name for (name,) in sql("SELECT tablename FROM pg_tables WHERE schemaname = %s", [schema])]
    return {table: sql(f'SELECT count(*) FROM "{schema}"."{table}"')[0][0] for table in sorted(tables)}


def constraint_names(schema: str) -> set[str]:
    return {
        name
        for (name,) in sql(
            "SELECT con.conname FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s",
            [schema, METER],
        )
    }


def index_names(schema: str) -> set[str]:
    return {
        name
        for (name,) in sql("SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = %s", [schema, METER])
    }


def reset_fixture() -> None:
    """Every schema back at the fixture's 0001, whichever set's 0002 ran."""
    with connect() as session:
        fixture_reset.reset_fixture(session)


def drop_fixture() -> None:
    with connect() as session:
        fixture_reset.drop_fixture(session)


def schema_only_dump(schema: str) -> str:
    """`pg_dump --schema-only -n schema`, without the per-dump \\restrict key lines of recent clients."""
    from apps.tenants.migrating.backups import libpq_environment, pg_tools

    completed = subprocess.run(
        [pg_tools().pg_dump, "--schema-only", f"--schema={schema}"],
        env=libpq_environment(),
        capture_output=True,
        text=True,
        check=True,
    )
    return "\n".join(
        line for line in completed.stdout.splitlines() if not line.startswith(("\\restrict", "\\unrestrict"))
    )


@contextmanager
def holding(query: str) -> Iterator[psycopg.Connection]:
    """A session that ran `query` inside an open transaction, kept open for the block."""
    session = psycopg.connect(test_database_environment()["DATABASE_URL"])
    try:
        with session.cursor() as cursor:
            cursor.execute(query)
        yield session
    finally:
        session.rollback()
        session.close()
