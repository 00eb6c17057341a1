"""Thin Celery tasks on the `webhooks` queue; the work is in apps.events.delivery."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.core.redis import redis_client, redis_key
from apps.core.tasks import TenantBoundTask
from apps.core.tenancy import current_schema
from apps.events import delivery
from apps.events.models import Delivery, DeliveryStatus, WebhookEndpoint

logger = logging.getLogger(__name__)


@shared_task(base=TenantBoundTask, name="apps.events.tasks.deliver_webhook", ignore_result=True)
def deliver_webhook(delivery_id: str) -> str:
    """Send one delivery if it is due and not held by another worker (idempotent)."""
    return delivery.deliver(delivery_id)


# The tenant row behind a schema name is cached for a few seconds per worker process (one query
# less per message); the schema name itself comes from the message, so isolation is unchanged.
@shared_task(
    base=TenantBoundTask, name="apps.events.tasks.deliver_webhooks", ignore_result=True, tenant_cache_seconds=30
)
def deliver_webhooks(delivery_ids: list[str]) -> int:
    """Send several deliveries (one committed transaction's, or a sweep's chunk); idempotent per delivery."""
    return sum(1 for result in delivery.deliver_many(delivery_ids).values() if result == "delivered")


def enqueue_deliveries(delivery_ids: list[str]) -> None:
    """One message per WEBHOOK_DELIVERIES_PER_TASK deliveries (a lost one is the sweeper's)."""
    size = max(1, settings.WEBHOOK_DELIVERIES_PER_TASK)
    for start in range(0, len(delivery_ids), size):
        deliver_webhooks.apply_async(args=[delivery_ids[start : start + size]])


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
    """Enqueue this tenant's due deliveries (retries, and first attempts whose message was lost)."""
    now = timezone.now()
    grace = now - timedelta(seconds=settings.WEBHOOK_SWEEP_GRACE_SECONDS)
    due = Delivery.objects.filter(
        Q(attempt_count__gt=0, next_attempt_at__lte=now) | Q(attempt_count=0, next_attempt_at__lte=grace),
        Q(lease_until__isnull=True) | Q(lease_until__lt=now),
        status=DeliveryStatus.PENDING,
        endpoint__enabled=True,
    )
    single = [str(i) for i in due.filter(endpoint__batch_size__lte=1).values_list("id", flat=True)[:limit]]
    enqueue_deliveries(single)
    count = len(single)
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
        logger.info("webhook sweeper enqueued %s deliveries", total)
    return total
