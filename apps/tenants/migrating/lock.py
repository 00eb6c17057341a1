"""The deploy lock: one PostgreSQL advisory lock, held by `safe_migrate` for its whole run.

It lives on a dedicated session, not in a transaction (`pg_advisory_xact_lock`), because a run
commits many times; and not on Django's default connection, which django-tenants closes after
each schema it migrates. Tenant creation takes the same key in shared mode, so creations run
side by side but wait for a deploy, and a deploy waits for creations in flight: a tenant cloned
from the template mid-deploy would start with the old schema.

Breaks under PgBouncer transaction pooling (the session is not ours); point migrations at
PostgreSQL directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

# "billmig" in ASCII: one key for the whole database.
MIGRATION_LOCK_KEY = 0x62696C6C6D6967


class MigrationLockHeld(Exception):
    """Another run holds the deploy lock (and we were asked not to wait)."""


def _dedicated_session(application_name: str) -> Any:
    session = connections.create_connection(DEFAULT_DB_ALIAS)
    session.ensure_connection()
    with session.cursor() as cursor:
        cursor.execute("SELECT set_config('application_name', %s, false)", [application_name[:63]])
    return session


def lock_holder_description(session: Any) -> str:
    """Who holds the deploy lock: pid, application name and since when (or 'unknown')."""
    with session.cursor() as cursor:
        cursor.execute(
            """
            SELECT a.pid, a.application_name, a.backend_start
            FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted
              AND l.classid = %s AND l.objid = %s AND l.objsubid = 1
            ORDER BY a.backend_start LIMIT 1
            """,
            [MIGRATION_LOCK_KEY >> 32, MIGRATION_LOCK_KEY & 0xFFFFFFFF],
        )
        row = cursor.fetchone()
    if row is None:
        return "unknown"
    pid, application_name, since = row
    return f"pid {pid} ({application_name or 'no application name'}, connected {since:%Y-%m-%d %H:%M:%S %Z})"


@contextmanager
def migration_lock(
    *, wait: bool, application_name: str = "safe_migrate", on_wait: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the deploy lock exclusively for the block; raise MigrationLockHeld unless `wait`."""
    session = _dedicated_session(application_name)
    try:
        with session.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
            (acquired,) = cursor.fetchone()
            if not acquired:
                holder = f"migration lock held by {lock_holder_description(session)}"
                if not wait:
                    raise MigrationLockHeld(holder)
                if on_wait is not None:
                    on_wait(f"{holder}; waiting for it (--wait)")
                cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
        yield
    finally:
        # Closing the session releases the lock, also when the block raised.
        session.close()


@contextmanager
def tenant_creation_lock() -> Iterator[None]:
    """Wait until no deploy runs, and keep deploys out until the block ends (shared mode)."""
    session = _dedicated_session("tenant_create")
    try:
        with session.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock_shared(%s)", [MIGRATION_LOCK_KEY])
        yield
    finally:
        session.close()
