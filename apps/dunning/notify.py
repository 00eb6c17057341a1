"""Every notice dunning sends goes through here (customers through apps.notifications).

Each function takes (case, step, invoice, ...) and answers a `Notice`: the outcome to
record on the action and the ids of the notifications made. Calls run inside the caller's
transaction, as the notifications contract requires; the sending happens after commit.
The idempotency key is derived from (case, step), so a repeated call never sends twice.

The daily run asks for a whole chunk's reminders and final notices at once: `notice_request`
names each one and `send_many` records them with apps.notifications' batch API (a few
queries for the chunk, one Celery message per priority after commit); the answer is the
same `Notice` per request as the single calls give.

Suspension and reactivation are told to the customer by apps.notifications itself: it
subscribes to `account.suspended` / `account.reactivated` and sends `account_suspended` /
`account_reactivated` keyed by the event. Dunning does not send those kinds (the customer
would get two); `account_suspended` here only names the notice the event produced.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mass_mail
from django.db import transaction
from django.db.models import F, Q

from apps.core.money import money_str
from apps.dunning.models import DunningCase, DunningStep, Outcome
from apps.events.models import Event
from apps.notifications.handlers import record_event_notices
from apps.notifications.models import Notification, Status
from apps.notifications.services import NotificationRequest, send_notification, send_notifications

logger = logging.getLogger(__name__)


@dataclass
class Notice:
    outcome: str
    detail: str = ""
    notification_ids: list[str] = field(default_factory=list)


def _context(case: DunningCase, invoice: Any, step: DunningStep | None) -> dict[str, Any]:
    context: dict[str, Any] = {
        "case": str(case.pk),
        "amount_due": money_str(case.amount_due, case.currency),
        "currency": case.currency,
        "anchor_date": case.anchor_date.isoformat(),
    }
    if step is not None:
        context.update(step=str(step.pk), action=step.action, offset_days=step.offset_days)
    if invoice is not None:
        context.update(
            invoice=str(invoice.pk),
            invoice_number=invoice.number,
            due_date=invoice.due_date.isoformat() if invoice.due_date else None,
        )
    return context


def _send(request: NotificationRequest) -> Notice:
    notifications = send_notification(
        account=request.account,
        kind=request.kind,
        context=request.context,
        idempotency_key=request.idempotency_key,
        channels=request.channels,
        priority=request.priority,
        invoice=request.invoice,
    )
    return _notice(notifications)


def _notice(notifications: list[Notification]) -> Notice:
    ids = [str(n.pk) for n in notifications]
    if not ids:
        return Notice(Outcome.SKIPPED, "the account has no channel for this notice")
    if all(n.status == Status.FAILED and n.attempts == 0 for n in notifications):
        # Recorded failed at creation: the account lacks the address (or the relay is off).
        problems = sorted({n.last_error for n in notifications if n.last_error})
        return Notice(Outcome.SKIPPED, "; ".join(problems) or "no channel could be used", ids)
    return Notice(Outcome.SUCCEEDED, "", ids)


def _step_key(case: DunningCase, step: DunningStep) -> str:
    return f"dunning:{case.pk}:{step.pk}"


def notice_request(case: DunningCase, step: DunningStep, invoice: Any, *, channel: str | None) -> NotificationRequest:
    """The notice of a reminder step (`channel` given) or of a final notice (None: preferred channels)."""
    if channel is not None:
        return NotificationRequest(
            account=case.account,
            kind="dunning_reminder",
            idempotency_key=_step_key(case, step),
            context=_context(case, invoice, step),
            channels=[channel],
            invoice=invoice,
        )
    return NotificationRequest(
        account=case.account,
        kind="dunning_final_notice",
        idempotency_key=_step_key(case, step),
        context=_context(case, invoice, step),
        priority="high",
        invoice=invoice,
    )


def send_many(requests: Sequence[NotificationRequest]) -> list[Notice]:
    """Record many notices at once (inside the caller's transaction): a `Notice` per request."""
    return [_notice(notifications) for notifications in send_notifications(requests)]


def reminder(case: DunningCase, step: DunningStep, invoice: Any, *, channel: str) -> Notice:
    """An email, SMS, push or webhook-only reminder of the overdue (or soon due) amount."""
    return _send(notice_request(case, step, invoice, channel=channel))


def final_notice(case: DunningCase, step: DunningStep, invoice: Any) -> Notice:
    """The last notice before suspension or write-off, on the account's preferred channels."""
    return _send(notice_request(case, step, invoice, channel=None))


def account_suspended(case: DunningCase) -> Notice:
    """The customer's notice is the one for the `account.suspended` event just published.

    Call it right after `account_suspend`: it records that event's notice now, in the step's
    transaction (the notice drain would record it after commit; it then finds the key used),
    and answers the ids of its notifications.
    """
    return _event_notice(case, "account.suspended")


def _event_notice(case: DunningCase, event_type: str) -> Notice:
    # The event was just published in this transaction, so it has no number yet (events are
    # numbered at commit): unnumbered rows first, then the newest numbered one.
    newest = F("sequence").desc(nulls_first=True)
    event = Event.objects.filter(type=event_type, subject=str(case.account_id)).order_by(newest, "-created_at").first()
    made = record_event_notices([event]) if event is not None else {}
    ids = [str(n.pk) for n in made.get(event.id, [])] if event is not None else []
    return Notice(Outcome.SUCCEEDED, f"the customer is told by the {event_type} notice", ids)


def escalation(case: DunningCase, step: DunningStep, invoice: Any) -> Notice:
    """Tell the tenant's finance staff (e-mail after commit); the platform also gets dunning.escalated."""
    user_model = get_user_model()
    staff = user_model.objects.filter(is_active=True, is_staff=True).filter(
        Q(is_superuser=True) | Q(groups__name="Finance Manager")
    )
    recipients = sorted({u.email for u in staff if u.email})
    if not recipients:
        return Notice(Outcome.SKIPPED, "no finance staff with an e-mail address")
    account = case.account
    subject = f"Dunning escalation: {account.number} {account.name}"
    body = (
        f"Account {account.number} ({account.name}) owes {money_str(case.amount_due, case.currency)} "
        f"{case.currency}, overdue since {case.anchor_date.isoformat()}.\n"
        f"Step: {step}. {step.note}\n"
    )
    message = (subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    transaction.on_commit(lambda: _mail_quietly(message))
    return Notice(Outcome.SUCCEEDED, f"finance staff notified ({len(recipients)})")


def _mail_quietly(message: tuple[str, str, str, list[str]]) -> None:
    try:
        send_mass_mail([message], fail_silently=False)
    except Exception:  # the escalation is recorded; a mail outage must not fail the run
        logger.exception("dunning escalation e-mail failed")
