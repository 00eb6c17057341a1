"""The per-tenant drain: claims many due deliveries in one statement, POSTs them concurrently
(each signed on its own) to real receivers on 127.0.0.1, records each round in bulk; the
Redis marker that lets a burst of commits enqueue one drain."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from apps.core.redis import redis_client
from apps.core.tenancy import current_schema
from apps.events import delivery as sending
from apps.events import tasks
from apps.events.models import Delivery, DeliveryAttempt, DeliveryStatus, Event, WebhookEndpoint
from apps.events.services import publish
from apps.events.webhooks import endpoint_create
from apps.tenants.models import Tenant
from billing_project.celery import app
from tests.events.receiver import Receiver, running_receiver

pytestmark = pytest.mark.django_db


def emit_many(count: int, per_transaction: int = 4) -> list[Event]:
    events = []
    for first in range(0, count, per_transaction):
        with transaction.atomic():
            events += [
                publish("account.created", f"acc-{n}", {"account": f"acc-{n}"})
                for n in range(first, min(first + per_transaction, count))
            ]
    return events


@pytest.fixture
def markers(in_tenant_a: Tenant) -> Iterator[list[str]]:
    """This tenant's drain markers, cleared before and after the test."""
    keys = [tasks._drain_marker(current_schema(), slot) for slot in range(4)]
    redis_client().delete(*keys)
    yield keys
    redis_client().delete(*keys)


@pytest.fixture
def eager() -> Iterator[None]:
    """Celery runs a task in-process when it is enqueued (the test's transaction sees the rows)."""
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


def test_claim_due_leases_due_unbatched_deliveries_once(in_tenant_a: Tenant, receiver: Receiver) -> None:
    single = endpoint_create(url=receiver.url, event_types=["*"])
    batched = endpoint_create(url=receiver.url, event_types=["*"], batch_size=10)
    disabled = endpoint_create(url=receiver.url, event_types=["*"], enabled=False)
    emit_many(6)
    mine = Delivery.objects.filter(endpoint=single).order_by("created_at")
    assert mine.count() == 6 and not Delivery.objects.filter(endpoint=disabled).exists()
    later, held = mine[0], mine[1]
    Delivery.objects.filter(pk=later.pk).update(next_attempt_at=timezone.now() + timedelta(minutes=5))
    Delivery.objects.filter(pk=held.pk).update(lease_until=timezone.now() + timedelta(minutes=5))

    first = sending.claim_due(3)
    second = sending.claim_due(3)
    assert len(first) == 3 and len(second) == 1
    claimed = {d.id for d in first + second}
    assert claimed == set(mine.values_list("id", flat=True)) - {later.id, held.id}
    assert all(d.endpoint_id == single.id for d in first + second)  # never the batched endpoint's
    assert sending.claim_due(3) == []
    # Leased for the sends they need: send_concurrency() at a time, each up to its timeouts.
    leases = set(Delivery.objects.filter(id__in=[d.id for d in first]).values_list("lease_until", flat=True))
    lease = leases.pop()
    assert not leases and lease is not None and lease > timezone.now() + timedelta(seconds=sending.lease_seconds() - 5)
    assert Delivery.objects.filter(endpoint=batched, lease_until__isnull=True).count() == 6


def test_the_drain_sends_every_due_delivery_signed_concurrently_and_records_them(
    in_tenant_a: Tenant, receiver: Receiver, settings: Any
) -> None:
    settings.WEBHOOK_SEND_CONCURRENCY = 4
    endpoint = endpoint_create(url=receiver.url, event_types=["*"])
    events = emit_many(30)

    assert sending.drain(batch=8, budget_seconds=60) == (30, False)

    assert len(receiver.received) == 30
    deliveries = {d.message_id: d for d in Delivery.objects.filter(endpoint=endpoint).select_related("event")}
    sequences = {str(e.id): Event.objects.get(pk=e.pk).sequence for e in events}
    for request in receiver.received:
        envelope = Webhook(endpoint.secret).verify(request.body, request.headers)
        delivery = deliveries.pop(request.headers["webhook-id"])  # each delivery exactly once
        assert envelope["id"] == str(delivery.event_id)
        assert envelope["sequence"] == sequences[envelope["id"]]  # the committed sequence
    assert not deliveries
    rows = Delivery.objects.filter(endpoint=endpoint)
    assert set(rows.values_list("status", "attempt_count", "lease_until", "last_status_code")) == {
        (DeliveryStatus.DELIVERED, 1, None, 200)
    }
    assert DeliveryAttempt.objects.filter(delivery__endpoint=endpoint, status_code=200).count() == 30
    assert sending.drain(batch=8, budget_seconds=60) == (0, False)


def test_a_drain_round_records_each_outcome(in_tenant_a: Tenant, receiver: Receiver, settings: Any) -> None:
    settings.WEBHOOK_SEND_CONCURRENCY = 4
    with running_receiver() as broken, running_receiver() as gone, running_receiver() as rejecting:
        broken.default = (503, {"retry-after": "120"}, b"busy")
        gone.default = (410, {}, b"gone")
        rejecting.default = (400, {}, b"bad")
        healthy = endpoint_create(url=receiver.url, event_types=["account.created"])
        failing = endpoint_create(url=broken.url, event_types=["account.created"])
        removed = endpoint_create(url=gone.url, event_types=["account.created"])
        refusing = endpoint_create(url=rejecting.url, event_types=["account.created"])
        emit_many(3)
        started = timezone.now()

        assert sending.drain(batch=100, budget_seconds=60) == (12, False)

    def rows(endpoint: WebhookEndpoint) -> set[tuple[Any, ...]]:
        return set(
            Delivery.objects.filter(endpoint=endpoint).values_list("status", "attempt_count", "last_status_code")
        )

    assert rows(healthy) == {(DeliveryStatus.DELIVERED, 1, 200)}
    assert rows(failing) == {(DeliveryStatus.PENDING, 1, 503)}  # retried, at the Retry-After
    for due in Delivery.objects.filter(endpoint=failing).values_list("next_attempt_at", flat=True):
        assert due is not None and due >= started + timedelta(seconds=119)
    assert rows(removed) == {(DeliveryStatus.FAILED, 1, 410)}
    assert rows(refusing) == {(DeliveryStatus.FAILED, 1, 400)}  # other 4xx: no retry
    assert DeliveryAttempt.objects.filter(delivery__endpoint=failing, response_snippet="busy").count() == 3
    for endpoint in (healthy, failing, removed, refusing):
        endpoint.refresh_from_db()
    assert healthy.failing_since is None and failing.failing_since is not None
    assert not removed.enabled and refusing.enabled
    assert Event.objects.filter(type="webhook_endpoint.disabled", subject=str(removed.id)).count() == 1


def test_commits_that_find_the_marker_taken_are_sent_by_the_drain_holding_it(
    in_tenant_a: Tenant, receiver: Receiver, markers: list[str], eager: None, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint = endpoint_create(url=receiver.url, event_types=["*"])
    redis_client().set(markers[0], "1")  # a drain is queued or running
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        emit_many(12)
    assert callbacks  # each commit tried to kick the drain...
    assert receiver.received == []  # ...and found it taken: no message, nothing sent yet

    assert tasks.drain_webhooks.run(slot=0) == 12  # the drain holding the marker finishes

    assert len({r.headers["webhook-id"] for r in receiver.received}) == 12 == len(receiver.received)
    assert not Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).exists()
    assert not redis_client().exists(markers[0])  # given up: the next commit kicks a new drain
    emit_many(1)
    assert tasks.kick_drain() is True
    assert len(receiver.received) == 13


def test_a_kick_takes_the_marker_and_the_sweeper_kicks_regardless(
    in_tenant_a: Tenant, receiver: Receiver, markers: list[str], eager: None
) -> None:
    endpoint = endpoint_create(url=receiver.url, event_types=["*"])
    emit_many(2)
    redis_client().set(markers[0], "1")
    assert tasks.kick_drain() is False  # taken: nothing enqueued
    assert receiver.received == []
    # The holder may be a killed drain: the sweeper enqueues one anyway (for due deliveries).
    Delivery.objects.filter(endpoint=endpoint).update(next_attempt_at=timezone.now() - timedelta(minutes=1))
    assert tasks.sweep_schema() == 2
    assert len(receiver.received) == 2
    redis_client().delete(markers[0])
    emit_many(1)
    assert tasks.kick_drain() is True
    assert len(receiver.received) == 3


def test_a_backlog_starts_helper_drains(
    in_tenant_a: Tenant, receiver: Receiver, markers: list[str], eager: None, settings: Any
) -> None:
    settings.WEBHOOK_DRAINS_PER_TENANT = 3
    endpoint_create(url=receiver.url, event_types=["*"])
    emit_many(25)
    # Eagerly, the first helper (started on the first full claim) sends the rest itself; the
    # drain that started it then finds nothing left. Every delivery goes out once.
    settings.WEBHOOK_DELIVERIES_PER_TASK = 5
    assert tasks.kick_drain() is True
    assert len(receiver.received) == 25 == len({r.headers["webhook-id"] for r in receiver.received})
    assert not any(redis_client().exists(key) for key in markers)
