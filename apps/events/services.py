"""Publishing domain events into the outbox.

Numbering (ARCHITECTURE.md §4: per tenant, increasing in commit order, gapless): publish()
inserts the event with `sequence` NULL and takes no lock; a deferred constraint trigger
(migration events/0004) numbers the transaction's events from the tenant's counter row at
COMMIT, so that row is held for the commit only, not from the first publish() to the commit.
Chosen over numbering by the readers (events inserted unnumbered, and the delivery path, the
sweeper and GET /events/ each running "number the committed unnumbered rows" under a lock
before reading): that keeps writers a little faster still, but moves a write and a lock into
every read path and makes every future consumer remember to number first, while the trigger
keeps each committed row numbered and every reader unchanged. Spike (8 threads publishing 2
events per transaction into one tenant, then 20 ms of other work, commit; load ~10): counter
lock until commit 20 tx/s, commit-time trigger 116 tx/s, unnumbered insert 146 tx/s
(docs/benchmarks.md, "Event numbering at commit").
"""

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
from apps.events.models import Event
from apps.events.registry import handlers_for
from billing_project import API_VERSION

EVENT_TYPE_PATTERN = re.compile(r"^[a-z][a-z_]*\.[a-z][a-z_]*$")


class EventError(ValueError):
    """An event that is not in the catalogue, or whose data does not match its schema."""


def _insert_event(event: Event, text: str) -> Event:
    """Insert the event with `sequence` NULL: no lock is taken here.

    Its number is given at COMMIT by the deferred constraint trigger
    `events_event_number_at_commit` (migration 0004; why, in EventSequence's docstring and
    docs/events.md), so `event.sequence` stays None in the publishing transaction.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Event._meta.db_table} (id, type, subject, created_at, api_version, data)"  # noqa: S608
            " VALUES (%s, %s, %s, %s, %s, %s::jsonb)",
            [event.id, event.type, event.subject, event.created_at, event.api_version, text],
        )
    event._state.adding = False
    event._state.db = connection.alias
    return event


def _jsonable(data: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Decimals as strings, UUIDs and dates as ISO text: what webhook consumers receive, and its JSON."""
    text = json.dumps(data, cls=DjangoJSONEncoder)
    return dict(json.loads(text)), text


def publish(event_type: str, subject: str, data: dict[str, Any]) -> Event:
    """Write one domain event in the current transaction (the outbox) and run its handlers.

    Must be called inside the transaction that makes the state change; delivery happens
    after commit. The event is numbered when that transaction commits: the returned Event
    (and what handlers and hooks get) has `sequence` None; read it from the database after
    commit (`sequence_of()`), as delivery and the events API do.
    """
    if not EVENT_TYPE_PATTERN.match(event_type):
        raise EventError(f"event type {event_type!r} is not <noun>.<past_verb>")
    if not connection.in_atomic_block:
        raise EventError("publish() must run inside the transaction of the state change")
    try:
        event_type_entry(event_type)
        payload, text = _jsonable(data)
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
        ),
        text,
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


def sequence_of(event: Event) -> int | None:
    """The number `event` got when its transaction committed (None before that), read back."""
    if event.sequence is None:
        event.sequence = Event.objects.filter(pk=event.pk).values_list("sequence", flat=True).first()
    return event.sequence


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
