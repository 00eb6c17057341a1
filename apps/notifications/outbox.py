"""Customer notices for domain events, recorded from the outbox after the events commit.

A transaction that publishes a notified event (apps.notifications.handlers' table) kicks the
tenant's notice drain once it commits: a Redis SET NX marker, so a burst of commits enqueues
one message (as the webhook drain does). The drain locks the tenant's `NoticeCursor`, reads up
to `NOTICE_DRAIN_BATCH` notified events past it in sequence order, records their notices in
one batch, moves the cursor and commits; it goes on while it finds full batches.

Nothing is lost: sequences are given at commit, gapless and in commit order, so an event the
drain has not read is always past the cursor; if a kick or a drain is lost, the tenant's
notifications sweep (`dispatch_due`, every 30 s) drains too. Nothing is sent twice: drains of
one tenant take turns on the cursor row, and every notice's key is its event's id (a redone
batch, or an event dunning already noticed in its own transaction, records nothing more).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection, transaction

from apps.core import drains
from apps.core.drains import on_commit_once
from apps.core.redis import redis_key
from apps.core.tenancy import current_schema
from apps.events.models import Event
from apps.notifications.models import NoticeCursor

logger = logging.getLogger(__name__)

# A killed drain's marker expires after this long (the sweep drains regardless meanwhile).
MARKER_SECONDS = 60


def marker_key(schema: str) -> str:
    return redis_key("notifications", "drain", schema)


class _KickOnCommit:
    """One per transaction and schema: kicks the drain after commit (registered at the first
    notified event; a savepoint rolled back with it takes it off the connection's list)."""

    def __init__(self, schema: str) -> None:
        self.schema = schema

    def __call__(self) -> None:
        from django_tenants.utils import schema_context

        try:
            with schema_context(self.schema):
                kick_drain()
        except Exception:  # the broker is down: the sweep records them
            logger.warning("could not kick the notice drain; the sweep will", exc_info=True)


def kick_after_commit(event: Event) -> None:
    """An events on_published hook: a notified event's transaction kicks the drain on commit."""
    from apps.notifications.handlers import SUBSCRIPTIONS

    if event.type in SUBSCRIPTIONS:
        schema = current_schema()
        on_commit_once(_KickOnCommit, schema, lambda: _KickOnCommit(schema))


def kick_drain(*, force: bool = False) -> bool:
    """Make sure a drain runs for the current tenant after this point; True if one was enqueued
    (only when no drain holds the tenant's marker, or with `force`: apps.core.drains)."""
    from apps.notifications import tasks

    key = marker_key(current_schema())
    return drains.kick(
        key, lambda: tasks.record_notices.apply_async(kwargs={"marker": key}), seconds=MARKER_SECONDS, force=force
    )


def drain_notices(batch: int | None = None) -> tuple[int, bool]:
    """Record the notices of the next notified events past the cursor, in one transaction.

    Returns (events read, whether a full batch was read: more may be waiting).
    """
    from apps.notifications.handlers import NOTIFIED_TYPES, record_event_notices

    size = max(1, batch or settings.NOTICE_DRAIN_BATCH)

    with transaction.atomic():
        cursor = _locked_cursor()
        events = list(
            Event.objects.filter(sequence__gt=cursor.last_sequence, type__in=NOTIFIED_TYPES).order_by("sequence")[:size]
        )
        if not events:
            return 0, False
        record_event_notices(events)
        NoticeCursor.objects.filter(pk=cursor.pk).update(last_sequence=events[-1].sequence)
    return len(events), len(events) == size


def _locked_cursor() -> NoticeCursor:
    """The tenant's cursor row, locked (made at 0 if a schema lacks it: a new tenant has no events)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {NoticeCursor._meta.db_table} (id, last_sequence, updated_at)"  # noqa: S608
            " VALUES (1, 0, now()) ON CONFLICT (id) DO NOTHING"
        )
    return NoticeCursor.objects.select_for_update().get(pk=1)


def drain_all(batch: int | None = None, rounds: int | None = None) -> tuple[int, bool]:
    """Drain batch after batch until none is left or `rounds` batches were read.

    Returns (events read, whether more may be waiting).
    """
    total, done = 0, 0
    while True:
        read, more = drain_notices(batch)
        total, done = total + read, done + 1
        if not more or (rounds is not None and done >= rounds):
            return total, more


def run_drain(marker: str = "") -> int:
    """The drain task's body behind the tenant's marker (apps.core.drains); returns events read.

    After `NOTICE_DRAIN_ROUNDS` full batches it enqueues itself again and stops, so tenants
    with a backlog take turns on the workers.
    """
    from apps.notifications import tasks

    key = marker or marker_key(current_schema())
    return drains.run_marked(
        key,
        seconds=MARKER_SECONDS,
        drain=lambda: drain_all(rounds=settings.NOTICE_DRAIN_ROUNDS),
        last_look=lambda: drain_notices()[0],
        requeue=lambda: tasks.record_notices.apply_async(kwargs={"marker": key}),
    )
