"""Scaffolding for race tests: work in a thread with its own database connection (its commits
outlive the test's transaction), and waiting until PostgreSQL shows a statement blocked on a
lock, which is the real synchronisation point of an idempotency race, not a sleep."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import connection, connections


def in_thread(work: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """Start `work` in a thread with its own (autocommit) connection.

    Returns the thread and its outcome: `{"value": ...}` or `{"error": exception}` once joined.
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def in_own_connection(work: Callable[[], Any], timeout: float = 60) -> Any:
    """Run `work` in a thread with its own connection, wait for it, re-raise its error."""
    thread, outcome = in_thread(work)
    thread.join(timeout=timeout)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def wait_for_blocked_insert(table: str, *, deadline_seconds: float = 10.0, failure: str = "") -> None:
    """Poll pg_stat_activity until a backend waits on a lock while inserting into `table`."""
    # Anywhere in the query: the idempotency claim sends its INSERT between two set_config().
    wait_for_blocked(
        f'%INSERT INTO "{table}"%',
        deadline_seconds=deadline_seconds,
        failure=failure or f"no INSERT into {table} ever waited on a lock",
    )


def wait_for_blocked(query_like: str, *, deadline_seconds: float = 10.0, failure: str = "") -> None:
    """Poll pg_stat_activity until a backend whose query matches `query_like` (SQL LIKE) waits on a lock."""
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            # A transaction would otherwise keep seeing its first snapshot of the view.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query LIKE %s",
                [query_like],
            )
            if cursor.fetchone()[0] > 0:
                return
    raise AssertionError(failure or f"no statement like {query_like!r} ever waited on a lock")


def committed_account(tenant: Any) -> str:
    """A new account in `tenant`, committed from its own connection (race tests and workers see
    it): its id."""

    def make() -> str:
        from apps.core.tenancy import use_tenant
        from tests.accounts.factories import AccountFactory

        use_tenant(tenant)
        return str(AccountFactory().pk)

    return str(in_own_connection(make, timeout=30))
