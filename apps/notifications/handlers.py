"""Which domain events tell the customer something, by default (subscribed in ready()).

| event                  | notice               | priority | why                               |
|------------------------|----------------------|----------|-----------------------------------|
| invoice.sent           | invoice_sent (+PDF)  | normal   | the staff's "send" action         |
| payment.succeeded      | payment_succeeded    | normal   | a receipt                         |
| payment.failed         | payment_failed       | high     | the customer must act             |
| payment.refunded       | refund_issued        | normal   | money goes back                   |
| credit_note.issued     | credit_note_issued   | normal   | what they owe changed             |
| account.suspended      | account_suspended    | high     | their service stops               |
| account.reactivated    | account_reactivated  | normal   | their service is back             |

Not notified: invoice.created (a draft is not the customer's business), invoice.finalized
(finalizing is not sending: staff or the platform send), invoice.paid / partially_paid
(the payment receipt says it), invoice.overdue (dunning decides reminders and calls
send_notification itself), voids and write-offs (staff explain those), account.created /
updated / closed. The idempotency key is the event's id: one notice per event.

A handler runs inside the publisher's transaction; a notification that cannot be recorded
is logged and must never undo the payment or suspension that caused it (savepoint).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Account
from apps.events.models import Event
from apps.events.registry import subscribe
from apps.invoices.models import CreditNote, Invoice
from apps.notifications.models import Kind, Notification, NotificationPreference, Priority
from apps.notifications.preferences import account_zone
from apps.notifications.services import send_invoice_notification, send_notification
from apps.payments.models import Payment

logger = logging.getLogger(__name__)


def _guarded(handler: Callable[[Event], None]) -> Callable[[Event], None]:
    def run(event: Event) -> None:
        try:
            with transaction.atomic():
                handler(event)
        except Exception:
            logger.exception("notification for event %s (%s) not recorded", event.id, event.type)

    run.__name__ = handler.__name__
    run.__doc__ = handler.__doc__
    return run


def _key(event: Event) -> str:
    return f"event:{event.id}"


def notifications_for_event(event: Event) -> list[Notification]:
    """The notifications an event's handler made (none when the event is not notified)."""
    return list(Notification.objects.filter(idempotency_key=_key(event)).order_by("channel"))


def on_invoice_sent(event: Event) -> None:
    invoice = Invoice.objects.select_related("account").get(pk=event.data["invoice"])
    send_invoice_notification(account=invoice.account, invoice=invoice, idempotency_key=_key(event))


def _payment_context(payment: Payment, account: Account) -> dict[str, object]:
    return {
        "amount": payment.amount,
        "payment_reference": payment.reference or payment.gateway_reference,
        "payment_date": timezone.localdate(payment.received_at, account_zone(account)),
    }


def on_payment_succeeded(event: Event) -> None:
    payment = Payment.objects.get(pk=event.data["payment"])
    account = Account.objects.get(pk=payment.account_id)
    context = {**_payment_context(payment, account), "balance": account.balance}
    send_notification(account=account, kind=Kind.PAYMENT_SUCCEEDED, context=context, idempotency_key=_key(event))


def on_payment_failed(event: Event) -> None:
    payment = Payment.objects.get(pk=event.data["payment"])
    account = Account.objects.get(pk=payment.account_id)
    context = {**_payment_context(payment, account), "failure_reason": payment.failure_message}
    send_notification(
        account=account,
        kind=Kind.PAYMENT_FAILED,
        context=context,
        idempotency_key=_key(event),
        priority=Priority.HIGH,
    )


def on_payment_refunded(event: Event) -> None:
    payment = Payment.objects.get(pk=event.data["payment"])
    account = Account.objects.get(pk=payment.account_id)
    context = {
        "amount": Decimal(event.data["refund_amount"]),
        "payment_reference": payment.reference or payment.gateway_reference,
        "reason": event.data.get("reason", ""),
    }
    send_notification(account=account, kind=Kind.REFUND_ISSUED, context=context, idempotency_key=_key(event))


def on_credit_note_issued(event: Event) -> None:
    note = CreditNote.objects.select_related("account", "invoice").get(pk=event.data["credit_note"])
    context = {"credit_note_number": note.number, "amount": note.amount, "invoice_number": note.invoice.number}
    send_notification(account=note.account, kind=Kind.CREDIT_NOTE_ISSUED, context=context, idempotency_key=_key(event))


def on_account_suspended(event: Event) -> None:
    account = Account.objects.get(pk=event.data["account"])
    send_notification(
        account=account,
        kind=Kind.ACCOUNT_SUSPENDED,
        context={"reason": event.data.get("reason", "")},
        idempotency_key=_key(event),
        priority=Priority.HIGH,
    )


def on_account_reactivated(event: Event) -> None:
    account = Account.objects.get(pk=event.data["account"])
    send_notification(account=account, kind=Kind.ACCOUNT_REACTIVATED, idempotency_key=_key(event))


SUBSCRIPTIONS: dict[str, Callable[[Event], None]] = {
    "invoice.sent": on_invoice_sent,
    "payment.succeeded": on_payment_succeeded,
    "payment.failed": on_payment_failed,
    "payment.refunded": on_payment_refunded,
    "credit_note.issued": on_credit_note_issued,
    "account.suspended": on_account_suspended,
    "account.reactivated": on_account_reactivated,
}
GUARDED = {event_type: _guarded(handler) for event_type, handler in SUBSCRIPTIONS.items()}


def on_account_anonymised(event: Event) -> None:
    """Erase what the notification log holds on the person (apps.privacy's erasure).

    Not guarded: if the log cannot be scrubbed, the anonymisation must roll back with it. The
    log keeps that a notice of a kind went by a channel, not to whom or what it said.
    """
    account_id = event.data["account"]
    Notification.objects.filter(account_id=account_id).update(
        recipient="", subject="", body="", context={}, last_error=""
    )
    NotificationPreference.objects.filter(account_id=account_id).update(push_subscriber="")


def subscribe_all() -> None:
    for event_type, handler in GUARDED.items():
        subscribe(event_type)(handler)
    subscribe("account.anonymised")(on_account_anonymised)
