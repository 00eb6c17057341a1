"""Put every schema's fixture app back at 0001, whichever set's 0002 ran (tests' and bench's bookkeeping).

Plain SQL on purpose: reversing through `migrate_schemas` costs seconds per run, and the reversal
itself is tested on its own.
"""

from __future__ import annotations

from typing import Any

METER = "migration_fixture_meter"


def schemas_with(session: Any, table: str) -> list[str]:
    return [name for (name,) in session.execute("SELECT schemaname FROM pg_tables WHERE tablename = %s", [table])]


def reset_fixture(session: Any) -> None:
    """`session`: an autocommit psycopg connection to the database."""
    for schema in schemas_with(session, METER):
        session.execute(f'ALTER TABLE "{schema}".{METER} DROP CONSTRAINT IF EXISTS meter_reading_not_negative')
        session.execute(f'DROP INDEX IF EXISTS "{schema}".meter_reading_idx')
        session.execute(f'ALTER TABLE "{schema}".{METER} DROP COLUMN IF EXISTS serial')
    for schema in schemas_with(session, "django_migrations"):
        session.execute(
            f"DELETE FROM \"{schema}\".django_migrations WHERE app = 'migration_fixture' AND name <> '0001_initial'"
        )


def drop_fixture(session: Any) -> None:
    """The fixture app gone from every schema, as before it was installed."""
    for schema in schemas_with(session, METER):
        session.execute(f'DROP TABLE "{schema}".{METER}')
    for schema in schemas_with(session, "django_migrations"):
        session.execute(f"DELETE FROM \"{schema}\".django_migrations WHERE app = 'migration_fixture'")
