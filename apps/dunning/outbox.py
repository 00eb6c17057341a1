"""Publishing a chunk's events in one round trip.

`apps.events.services.publish` inserts one row per call; a dunning chunk publishes hundreds of
events, so it collects them and writes them here at the end of the chunk's transaction with
one COPY, then runs each event's in-transaction handlers and after-publish hooks as publish()
would. Like publish(), it leaves `sequence` NULL: the events' commit-time trigger (migration
events/0004) numbers the rows at COMMIT in the order they were written, so no counter lock is
held through the chunk and sequences stay gapless and commit-ordered.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from apps.core.copying import copy_insert
from apps.events import services as event_services
from apps.events.catalogue import InvalidEventData, UnknownEventType, validate_data
from apps.events.catalogue import event_type as event_type_entry
from apps.events.models import Event
from apps.events.registry import handlers_for
from billing_project import API_VERSION


class EventBatch:
    """Events of one transaction, published together by `flush()`."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, dict[str, Any]]] = []

    def add(self, event_type: str, subject: Any, data: dict[str, Any]) -> None:
        if not event_services.EVENT_TYPE_PATTERN.match(event_type):
            raise event_services.EventError(f"event type {event_type!r} is not <noun>.<past_verb>")
        self.items.append((event_type, str(subject), data))

    def __len__(self) -> int:
        return len(self.items)

    def flush(self) -> list[Event]:
        """Write the collected events inside the current transaction and run their handlers."""
        if not self.items:
            return []
        if not connection.in_atomic_block:
            raise event_services.EventError("events must be published inside the state change's transaction")
        payloads = [(event_type, subject, _jsonable(data)) for event_type, subject, data in self.items]
        try:
            for event_type, _subject, payload in payloads:
                event_type_entry(event_type)  # the catalogue's types only, as publish() requires
                if settings.EVENT_VALIDATE_PAYLOADS:
                    validate_data(event_type, payload)
        except (UnknownEventType, InvalidEventData) as exc:
            raise event_services.EventError(str(exc)) from exc
        now = timezone.now()
        events = [
            Event(
                type=event_type,
                subject=subject,
                sequence=None,
                created_at=now,
                api_version=API_VERSION,
                data=payload,
            )
            for event_type, subject, payload in payloads
        ]
        copy_insert(Event, events)
        self.items = []
        hooks = list(event_services._after_publish_hooks)
        for event in events:
            for handler in handlers_for(event.type):
                handler(event)
            for hook in hooks:
                hook(event)
        return events


_AS_IS = (str, int, float, bool, type(None))
_AS_TEXT = (uuid.UUID, Decimal)
_SEQUENCES = (list, tuple)
_SIMPLE = (str, int, float, bool, type(None), dt.date, uuid.UUID, Decimal)


def _plain(value: Any) -> Any:
    if isinstance(value, _AS_IS):
        return value
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, _AS_TEXT):
        return str(value)
    if isinstance(value, _SEQUENCES):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return None


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    """What publish() stores, without its JSON round trip for the common types (the chunk's hot path)."""
    if all(_is_plain(v) for v in data.values()):
        return {str(k): _plain(v) for k, v in data.items()}
    return event_services._jsonable(data)[0]


def _is_plain(value: Any) -> bool:
    if isinstance(value, _SIMPLE):
        return not isinstance(value, dt.datetime)  # datetimes: DjangoJSONEncoder's own format
    if isinstance(value, _SEQUENCES):
        return all(_is_plain(v) for v in value)
    return False
