"""Thin Celery tasks on the `webhooks` queue; the work is in apps.events.delivery.

Unbatched deliveries go out through a per-tenant **drain**: a committed transaction does not
enqueue its deliveries, it makes sure one drain task is queued or running for its tenant
(`kick_drain`: a Redis SET NX marker, so a burst of commits enqueues one message), and the
drain claims due deliveries many at a time until none is left. The marker only saves
messages: a lost marker or message delays nothing beyond the sweeper (every
WEBHOOK_SWEEP_SECONDS), which finds due deliveries in the database and kicks the drain.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.core import drains
from apps.core.redis import redis_client, redis_key
from apps.core.tasks import TenantBoundTask
from apps.core.tenancy import current_schema
from apps.events import delivery
from apps.events.models import Delivery, DeliveryStatus, WebhookEndpoint

logger = logging.getLogger(__name__)

# A drain refreshes its marker every round; a killed drain's marker expires after this long
# (meanwhile the sweeper kicks a new drain regardless of the marker).
DRAIN_MARKER_SECONDS = 60
# A drain with work left re-enqueues itself after this long, so tenants take turns on a worker.
DRAIN_BUDGET_SECONDS = 20.0


def _drain_marker(schema: str, slot: int) -> str:
    return redis_key("events", "drain", schema, str(slot))


def kick_drain(*, force: bool = False) -> bool:
    """Make sure a drain runs for the current tenant after this point; True if a message was enqueued.

    Enqueues a drain only when none holds the tenant's marker (or with `force`: the sweeper);
    the protocol is apps.core.drains'.
    """
    key = _drain_marker(current_schema(), 0)
    return drains.kick(
        key,
        lambda: drain_webhooks.apply_async(kwargs={"slot": 0, "marker": key}),
        seconds=DRAIN_MARKER_SECONDS,
        force=force,
    )


@shared_task(base=TenantBoundTask, name="apps.events.tasks.drain_webhooks", ignore_result=True, tenant_cache_seconds=30)
def drain_webhooks(slot: int = 0, marker: str = "") -> int:
    """Send the tenant's due unbatched deliveries, WEBHOOK_DELIVERIES_PER_TASK claimed per round.

    Slot 0 is the drain that commits kick; while it finds full batches it starts helper drains
    (slots 1.. WEBHOOK_DRAINS_PER_TENANT-1, each behind its own marker) so a backlog uses more
    than one worker process. Idempotent: rows are claimed with a lease, SKIP LOCKED.
    `marker` is the key the enqueuer took (the drain gives up exactly that one).
    """
    key = marker or _drain_marker(current_schema(), slot)
    batch = max(1, settings.WEBHOOK_DELIVERIES_PER_TASK)
    return drains.run_marked(
        key,
        seconds=DRAIN_MARKER_SECONDS,
        drain=lambda: delivery.drain(batch=batch, budget_seconds=DRAIN_BUDGET_SECONDS, on_full_batch=_start_helpers),
        last_look=lambda: delivery.drain(batch=batch, budget_seconds=0.0)[0],
        requeue=lambda: drain_webhooks.apply_async(kwargs={"slot": slot, "marker": key}),
    )


def _start_helpers() -> None:
    """A full batch means a backlog: make sure the helper drains run (one message per free slot)."""
    schema = current_schema()
    client = redis_client()
    for slot in range(1, max(1, settings.WEBHOOK_DRAINS_PER_TENANT)):
        key = _drain_marker(schema, slot)
        if client.set(key, "1", nx=True, ex=DRAIN_MARKER_SECONDS):
            drain_webhooks.apply_async(kwargs={"slot": slot, "marker": key})


@shared_task(base=TenantBoundTask, name="apps.events.tasks.deliver_webhook", ignore_result=True)
def deliver_webhook(delivery_id: str) -> str:
    """Send one delivery if it is due and not held by another worker (idempotent)."""
    return delivery.deliver(delivery_id)


# Kept for messages queued before the drain existed; nothing enqueues it any more.
@shared_task(
    base=TenantBoundTask, name="apps.events.tasks.deliver_webhooks", ignore_result=True, tenant_cache_seconds=30
)
def deliver_webhooks(delivery_ids: list[str]) -> int:
    """Send several given deliveries; idempotent per delivery."""
    return sum(1 for result in delivery.deliver_many(delivery_ids).values() if result == "delivered")


@shared_task(base=TenantBoundTask, name="apps.events.tasks.flush_webhook_batch", ignore_result=True)
def flush_webhook_batch(endpoint_id: str, force: bool = False) -> str:
    """Batch mode: send a full (or, with force / after the window, partial) batch."""
    result = delivery.flush_batch(endpoint_id, force=force)
    if result == "delivered":  # more may be waiting
        flush_webhook_batch.apply_async(args=[endpoint_id])
    return result


def schedule_batch_window(endpoint: WebhookEndpoint) -> None:
    """At most one delayed (window-end) flush per endpoint and window; a short countdown only."""
    key = redis_key("events", "batch-window", current_schema(), str(endpoint.id))
    window = max(1, endpoint.batch_window_seconds)
    if redis_client().set(key, "1", nx=True, ex=window):
        flush_webhook_batch.apply_async(args=[str(endpoint.id)], kwargs={"force": True}, countdown=window)


def sweep_schema(limit: int = 5000) -> int:
    """Kick this tenant's drain when deliveries are due (retries, and first attempts whose kick was lost).

    Returns how many due deliveries it found (up to `limit`) plus the batched endpoints flushed.
    """
    now = timezone.now()
    grace = now - timedelta(seconds=settings.WEBHOOK_SWEEP_GRACE_SECONDS)
    due = Delivery.objects.filter(
        Q(attempt_count__gt=0, next_attempt_at__lte=now) | Q(attempt_count=0, next_attempt_at__lte=grace),
        Q(lease_until__isnull=True) | Q(lease_until__lt=now),
        status=DeliveryStatus.PENDING,
        endpoint__enabled=True,
    )
    count = len(due.filter(endpoint__batch_size__lte=1).values_list("id", flat=True)[:limit])
    if count:
        kick_drain(force=True)
    batched = due.filter(endpoint__batch_size__gt=1).values_list("endpoint_id", flat=True).distinct()
    for endpoint_id in batched:
        flush_webhook_batch.apply_async(args=[str(endpoint_id)], kwargs={"force": True})
        count += 1
    return count


@shared_task(name="apps.events.tasks.sweep", ignore_result=True)
def sweep() -> int:
    """Beat, every WEBHOOK_SWEEP_SECONDS: every tenant's due deliveries back onto the queue."""
    from apps.tenants.fanout import active_tenant_schemas

    total = 0
    for schema in active_tenant_schemas():
        with schema_context(schema):
            total += sweep_schema()
    if total:
        logger.info("webhook sweeper found %s due deliveries", total)
    return total
