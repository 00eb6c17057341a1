"""Where published events go, chosen by settings.EVENT_PUBLISHERS (dotted class paths).

Every publisher gets `published(event)` inside the publishing transaction and must defer
any I/O to transaction.on_commit. A message bus (Kafka, NATS) is one more class here.
- WebhookPublisher: the outbox to webhooks (Delivery rows in the transaction, Celery after commit).
- InMemoryPublisher: keeps committed envelopes in a list (tests).
- LogPublisher: logs each committed event (dev).
"""

from __future__ import annotations

import fnmatch
import logging
from functools import cache
from typing import Any, ClassVar, Protocol

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from django.utils.module_loading import import_string

from apps.core.drains import on_commit_once
from apps.core.tenancy import current_schema
from apps.events.models import Delivery, EndpointKind, Event, WebhookEndpoint
from apps.events.services import event_envelope, sequence_of
from apps.events.signing import new_secret

logger = logging.getLogger(__name__)


class Publisher(Protocol):
    def published(self, event: Event) -> None:
        """Called inside the publishing transaction."""


def endpoint_wants(endpoint: WebhookEndpoint, event_type: str) -> bool:
    if endpoint.kind == EndpointKind.PLATFORM:
        return True
    return any(fnmatch.fnmatchcase(event_type, pattern) for pattern in endpoint.event_types)


class WebhookPublisher:
    """One Delivery per subscribed endpoint, written with the event; the tenant's drain kicked after commit."""

    def published(self, event: Event) -> None:
        if event.type == "webhook_endpoint.ping":
            return
        pending = pending_enqueue(current_schema())
        if pending.endpoints is None:
            pending.endpoints = _load_endpoints()
        targets = [
            e
            for e in pending.endpoints
            if e.enabled
            and endpoint_wants(e, event.type)
            and (e.kind != EndpointKind.PLATFORM or settings.PLATFORM_WEBHOOK_URL)
        ]
        if not targets:
            return
        now = timezone.now()
        Delivery.objects.bulk_create(Delivery(event=event, endpoint=e, next_attempt_at=now) for e in targets)
        pending.single = pending.single or any(not e.batched for e in targets)
        pending.batched.update({e.id: e for e in targets if e.batched})


def _load_endpoints() -> list[WebhookEndpoint]:
    endpoints = list(WebhookEndpoint.objects.all())
    if settings.PLATFORM_WEBHOOK_URL and not any(e.kind == EndpointKind.PLATFORM for e in endpoints):
        endpoints.append(
            WebhookEndpoint.objects.create(
                kind=EndpointKind.PLATFORM,
                url=settings.PLATFORM_WEBHOOK_URL,
                description="Platform (all events)",
                event_types=["*"],
                secret=new_secret(),
            )
        )
    return endpoints


class PendingEnqueue:
    """What one transaction (one schema) leaves to send, handed to Celery by one on_commit callback.

    It also keeps the tenant's endpoints, read at the transaction's first event (one query per
    transaction, not per event); saving or deleting an endpoint forgets them (signals below).
    """

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self.endpoints: list[WebhookEndpoint] | None = None
        self.single = False  # unbatched deliveries: the drain sends them
        self.batched: dict[Any, WebhookEndpoint] = {}

    def __call__(self) -> None:
        enqueue(self.schema, self.single, list(self.batched.values()))


def pending_enqueue(schema: str) -> PendingEnqueue:
    """This transaction's PendingEnqueue, registered with on_commit on first use (apps.core.drains)."""
    return on_commit_once(PendingEnqueue, schema, lambda: PendingEnqueue(schema))


@receiver(post_save, sender=WebhookEndpoint)
@receiver(post_delete, sender=WebhookEndpoint)
def _forget_endpoints(**_kwargs: Any) -> None:
    for _savepoints, callback, _robust in transaction.get_connection().run_on_commit:
        if isinstance(callback, PendingEnqueue):
            callback.endpoints = None


def enqueue(schema: str, single: bool, batched: list[WebhookEndpoint]) -> None:
    """After commit: kick the tenant's drain for unbatched deliveries (no message when one is
    already queued or running), a flush per batched endpoint.

    The sweeper backs both up (a lost message only delays a delivery).
    """
    from django_tenants.utils import schema_context

    from apps.events import tasks

    try:
        with schema_context(schema):
            if single:
                tasks.kick_drain()
            for endpoint in batched:
                tasks.flush_webhook_batch.apply_async(args=[str(endpoint.id)])
                tasks.schedule_batch_window(endpoint)
    except Exception:  # the broker is down: the sweeper will send them
        logger.warning("could not enqueue webhook deliveries; the sweeper will", exc_info=True)


def _committed_envelope(event: Event, schema: str) -> dict[str, Any]:
    """The envelope once the publishing transaction has committed: with the sequence it got then."""
    from django_tenants.utils import schema_context

    with schema_context(schema):
        sequence_of(event)
    return event_envelope(event, schema)


class InMemoryPublisher:
    """Committed envelopes, in commit order, in `InMemoryPublisher.events` (tests read and clear it)."""

    events: ClassVar[list[dict[str, Any]]] = []

    def published(self, event: Event) -> None:
        schema = current_schema()
        transaction.on_commit(lambda: self.events.append(_committed_envelope(event, schema)))


class LogPublisher:
    """Logs each committed event (dev)."""

    def published(self, event: Event) -> None:
        schema = current_schema()

        def log() -> None:
            envelope = _committed_envelope(event, schema)
            logger.info("event %s #%s %s", envelope["type"], envelope["sequence"], envelope)

        transaction.on_commit(log)


@cache
def _load(paths: tuple[str, ...]) -> list[Publisher]:
    return [import_string(path)() for path in paths]


def publishers() -> list[Publisher]:
    return _load(tuple(settings.EVENT_PUBLISHERS))


def dispatch(event: Event) -> None:
    """The on_published hook: hand the event to every configured publisher."""
    for publisher in publishers():
        publisher.published(event)
