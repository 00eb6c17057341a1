"""Sending notifications: the one entry point other apps call, and the staff's resend.

`send_notification` records one Notification per channel inside the caller's transaction
and hands them to Celery after commit. Its `idempotency_key` names the trigger: the unique
constraint on (key, channel) makes a trigger that runs twice, even concurrently, send once.

`send_notifications` is the same for many triggers at once (a dunning chunk): a few queries
for the whole batch instead of several per notice, and one Celery message per priority
carrying every id (`tasks.send_notification_batch`) instead of one message each.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import Account
from apps.core.actors import Actor, require_permission
from apps.core.copying import copy_insert
from apps.core.errors import ValidationFailed
from apps.core.tenancy import current_schema
from apps.events.services import publish
from apps.invoices.documents import issuer
from apps.invoices.models import Invoice
from apps.notifications.context import build_context
from apps.notifications.models import (
    Channel,
    Kind,
    Notification,
    NotificationPreference,
    NotificationTemplate,
    Priority,
    Status,
)
from apps.notifications.preferences import UNSET, PreferenceArg, choose_routes, sms_allowed_from
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
    _validate(kind=kind, priority=priority, channels=channels, idempotency_key=idempotency_key)
    with transaction.atomic():
        existing = list(Notification.objects.filter(idempotency_key=idempotency_key).order_by("channel"))
        if existing:
            return existing
        request = NotificationRequest(
            account=account,
            kind=kind,
            idempotency_key=idempotency_key,
            context=context,
            channels=channels,
            priority=priority,
            invoice=invoice,
        )
        candidates = _candidates(request, now=timezone.now())
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


_KINDS, _PRIORITIES, _CHANNELS = frozenset(Kind.values), frozenset(Priority.values), frozenset(Channel.values)


def _validate(*, kind: str, priority: str, channels: Sequence[str] | None, idempotency_key: str) -> None:
    if kind not in _KINDS:
        raise NotificationError(f"unknown notification kind {kind!r}")
    if priority not in _PRIORITIES:
        raise NotificationError(f"priority must be normal or high, not {priority!r}")
    if channels is not None and (unknown := [channel for channel in channels if channel not in _CHANNELS]):
        raise NotificationError(f"unknown channel(s): {', '.join(unknown)}")
    if not idempotency_key or len(idempotency_key) > 200:
        raise NotificationError("idempotency_key must be 1 to 200 characters")


@dataclass(frozen=True)
class NotificationRequest:
    """One trigger's notice: the arguments of `send_notification`."""

    account: Account
    kind: str
    idempotency_key: str
    context: dict[str, Any] | None = None
    channels: Sequence[str] | None = None
    priority: str = Priority.NORMAL
    invoice: Invoice | None = None


def _candidates(
    request: NotificationRequest,
    *,
    now: Any,
    preference: PreferenceArg = UNSET,
    profile: dict[str, Any] | None = None,
) -> list[Notification]:
    """The unsaved records of one request: one per channel it goes by (or fails on)."""
    account = request.account
    variables = build_context(
        account=account, kind=request.kind, invoice=request.invoice, extra=request.context, profile=profile
    )
    candidates = []
    for route in choose_routes(account=account, kind=request.kind, channels=request.channels, preference=preference):
        send_after = sms_allowed_from(account, now, preference) if route.channel == Channel.SMS else None
        candidates.append(
            Notification(
                account=account,
                invoice=request.invoice,
                kind=request.kind,
                channel=route.channel,
                priority=request.priority,
                idempotency_key=request.idempotency_key,
                recipient=route.recipient[:254],
                language=account.locale or "en",
                context=variables,
                status=Status.FAILED if route.problem else Status.QUEUED,
                last_error=route.problem,
                send_after=send_after,
                enqueued_at=None if route.problem or send_after else now,
            )
        )
    return candidates


def send_notifications(requests: Sequence[NotificationRequest]) -> list[list[Notification]]:
    """`send_notification` for many triggers in one go: the answer for each request, in order.

    Same records, same idempotency (a key already used answers the records made the first
    time; two requests with one key make one set), same `notification.failed` events; the
    difference is the cost. One read of the keys, of the accounts' preferences and of the
    tenant's profile for the whole batch, one INSERT ... ON CONFLICT DO NOTHING, and after
    commit one Celery message per priority with every id (`schedule_deliveries`).
    """
    for request in requests:
        _validate(
            kind=request.kind,
            priority=request.priority,
            channels=request.channels,
            idempotency_key=request.idempotency_key,
        )
    if not requests:
        return []
    with transaction.atomic():
        keys = list(dict.fromkeys(request.idempotency_key for request in requests))
        by_key: dict[str, list[Notification]] = defaultdict(list)
        for notification in Notification.objects.filter(idempotency_key__in=keys).order_by("channel"):
            by_key[notification.idempotency_key].append(notification)
        fresh: dict[str, NotificationRequest] = {}
        for request in requests:
            if request.idempotency_key not in by_key:
                fresh.setdefault(request.idempotency_key, request)
        if fresh:
            _record_many(list(fresh.values()), by_key)
    return [sorted(by_key.get(request.idempotency_key, []), key=lambda n: n.channel) for request in requests]


def _record_many(requests: list[NotificationRequest], by_key: dict[str, list[Notification]]) -> None:
    now = timezone.now()
    preferences = {
        preference.account_id: preference
        for preference in NotificationPreference.objects.filter(account_id__in={r.account.pk for r in requests})
    }
    profile = issuer()
    candidates = [
        candidate
        for request in requests
        for candidate in _candidates(request, now=now, preference=preferences.get(request.account.pk), profile=profile)
    ]
    # One lock order for every batch (key, channel): two batches sharing keys wait, never deadlock.
    candidates.sort(key=lambda n: (n.idempotency_key, n.channel))
    try:
        # The usual case (no key taken since the read above): one COPY, in a savepoint.
        with transaction.atomic():
            copy_insert(Notification, candidates)
        made, others = candidates, []
    except IntegrityError:
        # A concurrent trigger took a key: ON CONFLICT DO NOTHING (waiting for its commit), so
        # each key sends once, and its records are the ones answered.
        Notification.objects.bulk_create(candidates, ignore_conflicts=True)
        keys = [request.idempotency_key for request in requests]
        stored = set(Notification.objects.filter(idempotency_key__in=keys).values_list("id", flat=True))
        made = [candidate for candidate in candidates if candidate.id in stored]
        made_ids = {candidate.id for candidate in made}
        others = list(Notification.objects.filter(id__in=stored - made_ids)) if stored - made_ids else []
    for notification in [*made, *others]:
        by_key[notification.idempotency_key].append(notification)
    queued = []
    for notification in made:
        if notification.status == Status.FAILED:
            publish(
                "notification.failed",
                str(notification.id),
                notification_event_data(notification, notification.last_error),
            )
        elif notification.enqueued_at is not None:
            queued.append(notification)
    schedule_deliveries(queued)


def schedule_deliveries(notifications: Sequence[Notification]) -> None:
    """Hand many notifications to the queues after commit: one message per priority (and per
    `DELIVERY_BATCH` ids), which `tasks.send_notification_batch` delivers one by one."""
    from apps.notifications import tasks

    if not notifications:
        return
    ids: dict[str, list[str]] = defaultdict(list)
    for notification in notifications:
        ids[notification.priority].append(str(notification.id))
    schema = current_schema()

    def enqueue() -> None:
        for priority, batch in ids.items():
            task = (
                tasks.send_high_priority_notification_batch
                if priority == Priority.HIGH
                else tasks.send_notification_batch
            )
            for start in range(0, len(batch), DELIVERY_BATCH):
                task.apply_async(args=[batch[start : start + DELIVERY_BATCH]], headers={"_schema_name": schema})

    transaction.on_commit(enqueue)


DELIVERY_BATCH = 500


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
