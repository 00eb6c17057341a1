"""Sending notifications: the one entry point other apps call, and the staff's resend.

`send_notification` records one Notification per channel inside the caller's transaction
and hands them to Celery after commit. Its `idempotency_key` names the trigger: the unique
constraint on (key, channel) makes a trigger that runs twice, even concurrently, send once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Account
from apps.core.actors import Actor, require_permission
from apps.core.errors import ValidationFailed
from apps.core.tenancy import current_schema
from apps.events.services import publish
from apps.invoices.models import Invoice
from apps.notifications.context import build_context
from apps.notifications.models import Channel, Kind, Notification, NotificationTemplate, Priority, Status
from apps.notifications.preferences import choose_routes, sms_allowed_from
from apps.notifications.rendering import TemplateProblem, validate_source


class NotificationError(ValidationFailed):
    """A notification that cannot be asked for (unknown kind, channel or priority)."""


def notification_event_data(notification: Notification, error: str = "") -> dict[str, Any]:
    data: dict[str, Any] = {
        "notification": str(notification.id),
        "account": str(notification.account_id),
        "kind": notification.kind,
        "channel": notification.channel,
        "status": notification.status,
    }
    if notification.invoice_id:
        data["invoice"] = str(notification.invoice_id)
    if error:
        data["error"] = error
    return data


def send_notification(
    *,
    account: Account,
    kind: str,
    context: dict[str, Any] | None = None,
    idempotency_key: str,
    channels: Sequence[str] | None = None,
    priority: str = "normal",
    invoice: Invoice | None = None,
) -> list[Notification]:
    """Record and schedule one notification per channel (None: the account's preferred ones).

    Call it inside the transaction of the change it reports; sending starts after commit.
    The same `idempotency_key` again returns the records made the first time.
    """
    if kind not in Kind.values:
        raise NotificationError(f"unknown notification kind {kind!r}")
    if priority not in Priority.values:
        raise NotificationError(f"priority must be normal or high, not {priority!r}")
    if channels is not None and (unknown := [channel for channel in channels if channel not in Channel.values]):
        raise NotificationError(f"unknown channel(s): {', '.join(unknown)}")
    if not idempotency_key or len(idempotency_key) > 200:
        raise NotificationError("idempotency_key must be 1 to 200 characters")
    with transaction.atomic():
        existing = list(Notification.objects.filter(idempotency_key=idempotency_key).order_by("channel"))
        if existing:
            return existing
        now = timezone.now()
        variables = build_context(account=account, kind=kind, invoice=invoice, extra=context)
        candidates = []
        for route in choose_routes(account=account, kind=kind, channels=channels):
            send_after = sms_allowed_from(account, now) if route.channel == Channel.SMS else None
            candidates.append(
                Notification(
                    account=account,
                    invoice=invoice,
                    kind=kind,
                    channel=route.channel,
                    priority=priority,
                    idempotency_key=idempotency_key,
                    recipient=route.recipient[:254],
                    language=account.locale or "en",
                    context=variables,
                    status=Status.FAILED if route.problem else Status.QUEUED,
                    last_error=route.problem,
                    send_after=send_after,
                    enqueued_at=None if route.problem or send_after else now,
                )
            )
        # ON CONFLICT DO NOTHING: a concurrent call with the same key waits here for the first
        # one's commit and then inserts nothing, so the key sends once.
        Notification.objects.bulk_create(candidates, ignore_conflicts=True)
        made = {candidate.id for candidate in candidates}
        stored = list(Notification.objects.filter(idempotency_key=idempotency_key).order_by("channel"))
        for notification in stored:
            if notification.id not in made:
                continue
            if notification.status == Status.FAILED:
                publish(
                    "notification.failed",
                    str(notification.id),
                    notification_event_data(notification, notification.last_error),
                )
            elif notification.enqueued_at is not None:
                schedule_delivery(notification)
    return stored


def schedule_delivery(notification: Notification, countdown: float | None = None) -> None:
    """Hand the notification to its priority's queue once the current transaction commits."""
    from apps.notifications import tasks

    task = tasks.send_high_priority_notification if notification.priority == Priority.HIGH else tasks.send_notification
    notification_id, schema = str(notification.id), current_schema()

    def enqueue() -> None:
        task.apply_async(args=[notification_id], countdown=countdown, headers={"_schema_name": schema})

    transaction.on_commit(enqueue)


def send_invoice_notification(
    *,
    account: Account,
    invoice: Invoice,
    idempotency_key: str | None = None,
    kind: str = Kind.INVOICE_SENT,
    channels: Sequence[str] | None = None,
    context: dict[str, Any] | None = None,
    priority: str = "normal",
) -> list[Notification]:
    """Send an invoice to its account (the email carries the PDF). Without a key, every call
    is a new sending (the clerk pressed "send" again)."""
    return send_notification(
        account=account,
        kind=kind,
        context=context,
        idempotency_key=idempotency_key or f"invoice:{invoice.pk}:{kind}:{uuid.uuid4().hex}",
        channels=channels,
        priority=priority,
        invoice=invoice,
    )


def notification_resend(*, notification: Notification, actor: Actor | None = None) -> Notification:
    """Send the same notice again on the same channel, as a new record linked to the first.

    Rendered again from the templates (a fixed template applies) to the account's current
    address; the original's variables are reused.
    """
    require_permission(actor, "notifications.resend_notification", "resend notifications")
    with transaction.atomic():
        account = Account.objects.get(pk=notification.account_id)
        made = send_notification(
            account=account,
            kind=notification.kind,
            context=notification.context,
            idempotency_key=f"resend:{notification.pk}:{uuid.uuid4().hex}",
            channels=[notification.channel],
            priority=notification.priority,
            invoice=notification.invoice,
        )
        if not made:
            raise NotificationError("the account cannot receive this notification any more")
        resent = made[0]
        Notification.objects.filter(pk=resent.pk).update(resend_of=notification)
        resent.resend_of = notification
    return resent


def notification_template_save(
    *,
    template: NotificationTemplate | None = None,
    kind: str,
    part: str,
    language: str,
    source: str,
    is_active: bool = True,
    actor: Actor | None = None,
) -> NotificationTemplate:
    """Create or change a tenant's override, refused (with the reason) when the source does
    not compile or reads a variable the kind does not provide."""
    require_permission(actor, "notifications.change_notificationtemplate", "edit notification templates")
    try:
        validate_source(kind=kind, part=part, source=source)
    except TemplateProblem as exc:
        raise ValidationFailed(str(exc), field="source") from exc
    with transaction.atomic():
        template = template or NotificationTemplate()
        template.kind, template.part, template.language = kind, part, language
        template.source, template.is_active = source, is_active
        template.save()
    return template
