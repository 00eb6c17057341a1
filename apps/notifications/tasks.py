"""Thin Celery tasks over apps.notifications.delivery (tenant-bound: they run in the
enqueuing tenant's schema). High priority goes to the `notifications-high` queue, which
workers serve first (CELERY_TASK_ROUTES).

The sending tasks keep no result in the result backend: the Notification row is the record
of what happened, and nothing reads a task result (one Redis write per message saved).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from django.conf import settings

from apps.core.tasks import TenantBoundTask
from apps.notifications import outbox
from apps.notifications.delivery import notification_deliver, notification_dispatch_due
from apps.notifications.models import Notification

logger = logging.getLogger(__name__)


def _deliver(task: Task, notification_id: str) -> str:
    outcome = notification_deliver(notification_id=notification_id)
    if outcome.retry_in is not None:
        # The row already says queued with send_after: if this retry message is lost the
        # sweeper sends it.
        raise task.retry(countdown=outcome.retry_in, max_retries=None)
    return outcome.status


@shared_task(base=TenantBoundTask, bind=True, name="apps.notifications.tasks.send_notification", ignore_result=True)
def send_notification(self: Task, notification_id: str) -> str:
    return _deliver(self, notification_id)


@shared_task(
    base=TenantBoundTask, bind=True, name="apps.notifications.tasks.send_high_priority_notification", ignore_result=True
)
def send_high_priority_notification(self: Task, notification_id: str) -> str:
    return _deliver(self, notification_id)


def _deliver_each(notification_ids: list[str]) -> int:
    """A batch's notifications one after the other, each exactly as `send_notification` would.

    One that must wait (a transient provider error) gets its own delayed message; one that
    fails unexpectedly is recorded failed and the rest still go. A redelivered batch (worker
    killed) sends nothing twice: each claim moves queued -> sending under the row lock.
    """
    from apps.notifications.services import schedule_delivery

    sent = 0
    for notification_id in notification_ids:
        try:
            outcome = notification_deliver(notification_id=notification_id)
        except Exception:
            logger.exception("notification %s: delivery failed in a batch", notification_id)
            continue
        if outcome.retry_in is not None:
            notification = Notification.objects.filter(pk=notification_id).only("id", "priority").first()
            if notification is not None:  # else the sweeper finds it (still queued, send_after set)
                schedule_delivery(notification, countdown=outcome.retry_in)
        sent += outcome.status == "sent"
    return sent  # sent now or before (a redelivered batch counts those again)


@shared_task(base=TenantBoundTask, name="apps.notifications.tasks.send_notification_batch", ignore_result=True)
def send_notification_batch(notification_ids: list[str]) -> int:
    return _deliver_each(notification_ids)


@shared_task(
    base=TenantBoundTask, name="apps.notifications.tasks.send_high_priority_notification_batch", ignore_result=True
)
def send_high_priority_notification_batch(notification_ids: list[str]) -> int:
    return _deliver_each(notification_ids)


@shared_task(
    base=TenantBoundTask, name="apps.notifications.tasks.record_notices", ignore_result=True, tenant_cache_seconds=30
)
def record_notices(marker: str = "") -> int:
    """The tenant's notice drain (apps.notifications.outbox): notices of committed events."""
    return outbox.run_drain(marker)


@shared_task(base=TenantBoundTask, name="apps.notifications.tasks.dispatch_due")
def dispatch_due() -> int:
    """One tenant's sweep: events whose notice a lost kick left unrecorded, then quiet hours
    over, back-off elapsed, lost queue messages."""
    recorded, _more = outbox.drain_all(rounds=settings.NOTICE_DRAIN_ROUNDS)
    if recorded:
        logger.info("notice sweep recorded the notices of %s events", recorded)
    return recorded + notification_dispatch_due()


@shared_task(name="apps.notifications.tasks.dispatch_due_everywhere")
def dispatch_due_everywhere(**_: Any) -> int:
    """Beat (public schema): fan the sweep out to every active tenant."""
    from apps.tenants.fanout import enqueue_for_tenants

    return enqueue_for_tenants(dispatch_due)
