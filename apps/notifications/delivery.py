"""Delivering one notification: queued -> sending -> sent (-> delivered), or failed/bounced.

At most once: a worker moves the row from queued to sending under its lock and commits
before calling the provider, so a second worker (a duplicate message, the sweeper) finds it
taken. Provider errors that may pass (5xx, 429, network) put it back to queued with a
back-off; permanent ones (an invalid number) fail it at once. A worker killed mid-send leaves
it `sending`: we cannot know whether the provider got it, so staff decide (resend).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.core.tenancy import current_schema
from apps.events.services import publish
from apps.notifications.channels import channel_backend
from apps.notifications.channels.base import Attachment, OutgoingMessage, PermanentChannelError, TransientChannelError
from apps.notifications.models import Channel, Notification, Status
from apps.notifications.rendering import RenderedMessage, TemplateProblem, render_message
from apps.notifications.services import notification_event_data, schedule_delivery

logger = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class DeliveryOutcome:
    status: str
    retry_in: float | None = None


def _retry_delay(attempts: int) -> float:
    base = settings.NOTIFICATIONS_RETRY_BACKOFF_SECONDS
    return float(min(base * 2 ** max(attempts - 1, 0), 60 * 60))


def _claim(notification_id: str) -> Notification | None:
    with transaction.atomic():
        # Row lock: two workers holding the same message (redelivery, the sweeper) must not
        # both send it.
        notification = Notification.objects.select_for_update().filter(pk=notification_id).first()
        if notification is None or notification.status != Status.QUEUED:
            return None
        if notification.send_after and notification.send_after > timezone.now() + dt.timedelta(seconds=1):
            return None
        notification.status = Status.SENDING
        notification.attempts += 1
        notification.save(update_fields=["status", "attempts", "updated_at"])
    return notification


def _attachments(notification: Notification) -> tuple[Attachment, ...]:
    if notification.channel != Channel.EMAIL or notification.invoice is None:
        return ()
    from apps.invoices.documents import invoice_pdf

    invoice = notification.invoice
    return (Attachment(f"{invoice.number or invoice.pk}.pdf", invoice_pdf(invoice), "application/pdf"),)


def notification_deliver(*, notification_id: str) -> DeliveryOutcome:
    """Render and send one queued notification; record the outcome (the Celery task's body)."""
    notification = _claim(notification_id)
    if notification is None:
        current = Notification.objects.filter(pk=notification_id).values_list("status", flat=True).first()
        return DeliveryOutcome(status=current or "missing")
    rendered = RenderedMessage()
    try:
        rendered = render_message(
            kind=notification.kind,
            channel=notification.channel,
            language=notification.language,
            context=notification.context,
        )
        message = OutgoingMessage(
            notification_id=str(notification.id),
            tenant=current_schema(),
            kind=notification.kind,
            recipient=notification.recipient,
            rendered=rendered,
            attachments=_attachments(notification),
        )
        result = channel_backend(notification.channel).send(message)
    except TransientChannelError as exc:
        return _record_transient(notification, rendered, str(exc))
    except (PermanentChannelError, TemplateProblem) as exc:
        _record_failed(notification, rendered, str(exc))
        return DeliveryOutcome(status=Status.FAILED)
    except Exception as exc:
        logger.exception("notification %s: unexpected error while sending", notification.id)
        _record_failed(notification, rendered, f"internal error: {type(exc).__name__}: {exc}")
        raise
    with transaction.atomic():
        notification.status = Status.SENT
        notification.provider_message_id = result.provider_message_id[:200]
        notification.sent_at = timezone.now()
        notification.last_error = ""
        _keep_rendered(notification, rendered)
        notification.save(update_fields=[*RESULT_FIELDS, "provider_message_id", "sent_at"])
        publish(
            "notification.sent", str(notification.id), {**notification_event_data(notification), **result.event_data}
        )
    return DeliveryOutcome(status=Status.SENT)


# What recording an outcome writes: never the whole row (its context, recipient, ...), which a
# full save would rewrite from the copy read when the message was claimed.
RESULT_FIELDS = ("status", "last_error", "subject", "body", "updated_at")


def _keep_rendered(notification: Notification, rendered: RenderedMessage) -> None:
    notification.subject = rendered.subject[:300]
    notification.body = rendered.text


def _record_transient(notification: Notification, rendered: RenderedMessage, error: str) -> DeliveryOutcome:
    if notification.attempts >= settings.NOTIFICATIONS_MAX_ATTEMPTS:
        _record_failed(notification, rendered, f"gave up after {notification.attempts} attempts: {error}")
        return DeliveryOutcome(status=Status.FAILED)
    delay = _retry_delay(notification.attempts)
    now = timezone.now()
    with transaction.atomic():
        notification.status = Status.QUEUED
        notification.last_error = error
        notification.send_after = now + dt.timedelta(seconds=delay)
        notification.enqueued_at = notification.send_after
        _keep_rendered(notification, rendered)
        notification.save(update_fields=[*RESULT_FIELDS, "send_after", "enqueued_at"])
    return DeliveryOutcome(status=Status.QUEUED, retry_in=delay)


def _record_failed(notification: Notification, rendered: RenderedMessage, error: str) -> None:
    with transaction.atomic():
        notification.status = Status.FAILED
        notification.last_error = error
        _keep_rendered(notification, rendered)
        notification.save(update_fields=RESULT_FIELDS)
        publish("notification.failed", str(notification.id), notification_event_data(notification, error))


# Provider statuses (anymail's normalised event types, Twilio's MessageStatus) -> ours.
PROVIDER_STATUSES = {
    "delivered": Status.DELIVERED,
    "bounced": Status.BOUNCED,
    "rejected": Status.FAILED,
    "failed": Status.FAILED,
    "undelivered": Status.FAILED,
    "complained": None,
}


def notification_record_provider_status(
    *, channel: str, provider_message_id: str, provider_status: str, error: str = ""
) -> Notification | None:
    """A provider's callback: delivered, bounced or failed (other statuses are ignored).

    Only moves forward from sent (a late `delivered` never hides a bounce).
    """
    status = PROVIDER_STATUSES.get(provider_status)
    if status is None or not provider_message_id:
        return None
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update()
            .filter(channel=channel, provider_message_id=provider_message_id)
            .first()
        )
        if notification is None:
            return None
        movable = {Status.SENT, Status.SENDING} | ({Status.DELIVERED} if status != Status.DELIVERED else set())
        if notification.status not in movable:
            return notification
        notification.status = status
        if status == Status.DELIVERED:
            notification.delivered_at = timezone.now()
        else:
            notification.last_error = error or f"the provider reported {provider_status}"
            publish(
                "notification.failed",
                str(notification.id),
                notification_event_data(notification, notification.last_error),
            )
        notification.save(update_fields=["status", "delivered_at", "last_error", "updated_at"])
    return notification


def notification_dispatch_due(*, now: dt.datetime | None = None, limit: int = 1000) -> int:
    """The sweeper: hand to the queue every queued notification whose time has come (after
    quiet hours, after a back-off) and any whose queue message was lost. Returns the count."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(status=Status.QUEUED)
            .exclude(send_after__gt=now)
            .exclude(enqueued_at__gt=now - LEASE)
            .order_by("send_after", "created_at")[:limit]
        )
        for notification in due:
            notification.enqueued_at = now
            schedule_delivery(notification)
        Notification.objects.bulk_update(due, ["enqueued_at"])
    return len(due)
