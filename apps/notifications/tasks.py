"""Thin Celery tasks over apps.notifications.delivery (tenant-bound: they run in the
enqueuing tenant's schema). High priority goes to the `notifications-high` queue, which
workers serve first (CELERY_TASK_ROUTES).

The sending tasks keep no result in the result backend: the Notification row is the record
of what happened, and nothing reads a task result (one Redis write per message saved).
"""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from apps.core.tasks import TenantBoundTask
from apps.notifications.delivery import notification_deliver, notification_dispatch_due


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


@shared_task(base=TenantBoundTask, name="apps.notifications.tasks.dispatch_due")
def dispatch_due() -> int:
    """One tenant's sweep: quiet hours over, back-off elapsed, lost queue messages."""
    return notification_dispatch_due()


@shared_task(name="apps.notifications.tasks.dispatch_due_everywhere")
def dispatch_due_everywhere(**_: Any) -> int:
    """Beat (public schema): fan the sweep out to every active tenant."""
    from apps.tenants.fanout import enqueue_for_tenants

    return enqueue_for_tenants(dispatch_due)
