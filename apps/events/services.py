"""Publishing domain events into the outbox."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.utils import timezone

from apps.events.catalogue import InvalidEventData, UnknownEventType, validate_data
from apps.events.catalogue import event_type as event_type_entry
from apps.events.models import Event, EventSequence
from apps.events.registry import handlers_for
from billing_project import API_VERSION

EVENT_TYPE_PATTERN = re.compile(r"^[a-z][a-z_]*\.[a-z][a-z_]*$")


class EventError(ValueError):
    """An event that is not in the catalogue, or whose data does not match its schema."""


def _next_sequence() -> int:
    # The row lock taken here is held until commit: see EventSequence.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {EventSequence._meta.db_table} SET value = value + 1 WHERE id = 1 RETURNING value"  # noqa: S608
        )
        row = cursor.fetchone()
        if row is None:
            EventSequence.objects.get_or_create(id=1)
            cursor.execute(
                f"UPDATE {EventSequence._meta.db_table} SET value = value + 1 WHERE id = 1 RETURNING value"  # noqa: S608
            )
            row = cursor.fetchone()
    assert row is not None
    return int(row[0])


def _insert_event(event: Event) -> Event:
    """Take the next sequence number and insert the event in one statement (one round trip).

    Same row lock as `_next_sequence` (held until commit); falls back to it when the counter
    row does not exist yet.
    """
    sequence, table = EventSequence._meta.db_table, Event._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH next AS (UPDATE {sequence} SET value = value + 1 WHERE id = 1 RETURNING value)"  # noqa: S608
            f" INSERT INTO {table} (id, type, subject, sequence, created_at, api_version, data)"
            " SELECT %s, %s, %s, next.value, %s, %s, %s::jsonb FROM next RETURNING sequence",
            [event.id, event.type, event.subject, event.created_at, event.api_version, json.dumps(event.data)],
        )
        row = cursor.fetchone()
    if row is None:
        event.sequence = _next_sequence()
        event.save(force_insert=True)
        return event
    event.sequence = int(row[0])
    event._state.adding = False
    event._state.db = connection.alias
    return event


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    """Decimals as strings, UUIDs and dates as ISO text: what webhook consumers receive."""
    return dict(json.loads(json.dumps(data, cls=DjangoJSONEncoder)))


def publish(event_type: str, subject: str, data: dict[str, Any]) -> Event:
    """Write one domain event in the current transaction (the outbox) and run its handlers.

    Must be called inside the transaction that makes the state change; delivery happens
    after commit.
    """
    if not EVENT_TYPE_PATTERN.match(event_type):
        raise EventError(f"event type {event_type!r} is not <noun>.<past_verb>")
    if not connection.in_atomic_block:
        raise EventError("publish() must run inside the transaction of the state change")
    try:
        event_type_entry(event_type)
        payload = _jsonable(data)
        if settings.EVENT_VALIDATE_PAYLOADS:
            validate_data(event_type, payload)
    except (UnknownEventType, InvalidEventData) as exc:
        raise EventError(str(exc)) from exc
    event = _insert_event(
        Event(
            id=uuid.uuid4(),
            type=event_type,
            subject=str(subject),
            created_at=timezone.now(),
            api_version=API_VERSION,
            data=payload,
        )
    )
    for handler in handlers_for(event_type):
        handler(event)
    for hook in _after_publish_hooks:
        hook(event)
    return event


# Delivery registers here (enqueue after commit); kept as a list so tests and publishers
# can add their own without touching publish().
_after_publish_hooks: list[Any] = []


def on_published(hook: Any) -> Any:
    """Register a callable run for each published event (inside the transaction)."""
    _after_publish_hooks.append(hook)
    return hook


def event_envelope(event: Event, tenant_slug: str) -> dict[str, Any]:
    """The JSON every consumer receives (ARCHITECTURE.md §4)."""
    return {
        "id": str(event.id),
        "type": event.type,
        "tenant": tenant_slug,
        "sequence": event.sequence,
        "created_at": event.created_at.isoformat(),
        "api_version": event.api_version,
        "data": event.data,
    }
