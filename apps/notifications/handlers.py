"""Which domain events tell the customer something, by default, and what the notice says.

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

Notices are recorded from the outbox after the event's transaction commits
(`apps.notifications.outbox`: a per-tenant drain reads the committed events in sequence order
and records their notices in batches), not inside it: recording a receipt (preferences, the
tenant's profile, rendering its variables, a row per channel, a queue message) was the larger
part of a payment's own work. A committed event is never skipped (the drain's cursor follows
the gapless sequence) and never noticed twice (the key). What the notice says is what the
event says: a receipt's balance is the one the payment left (`account_balance` in its data).
A caller that needs an event's notice inside its own transaction (dunning's suspension step
records the notification ids it caused) calls `record_event_notices([event])`; the drain then
finds the key used and sends nothing more.

A notice that cannot be built (its payment or invoice is gone) is logged and skipped; it never
holds back the others. An operational database error (a deadlock, a lock timeout, a lost
connection) is raised instead: the drain's transaction rolls back and the events are read again
on the next run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from apps.accounts.models import Account
from apps.events.models import Event
from apps.events.registry import subscribe
from apps.invoices.models import CreditNote, Invoice
from apps.notifications.models import Kind, Notification, NotificationPreference, Priority
from apps.notifications.preferences import account_zone
from apps.notifications.services import NotificationRequest, send_notifications
from apps.payments.models import Payment

logger = logging.getLogger(__name__)


def _key(event: Event) -> str:
    return f"event:{event.id}"


def notifications_for_event(event: Event) -> list[Notification]:
    """The notifications an event's notice made (none when the event is not notified, or not yet)."""
    return list(Notification.objects.filter(idempotency_key=_key(event)).order_by("channel"))


@dataclass
class _Loaded:
    """What a batch of events' notices read, one query per kind of object."""

    accounts: dict[str, Account] = field(default_factory=dict)
    payments: dict[str, Payment] = field(default_factory=dict)
    invoices: dict[str, Invoice] = field(default_factory=dict)
    credit_notes: dict[str, CreditNote] = field(default_factory=dict)


def _ids(events: Sequence[Event], name: str) -> set[str]:
    return {str(event.data[name]) for event in events if event.data.get(name)}


def _load(events: Sequence[Event]) -> _Loaded:
    """The batch's accounts (locked: an erasure waits for the notices or they wait for it and
    read the erased account, so no personal data lands in the log after its erasure), and the
    payments, invoices and credit notes the events name."""
    loaded = _Loaded()
    by_type: dict[str, list[Event]] = {}
    for event in events:
        by_type.setdefault(event.type.split(".")[0], []).append(event)
    if ids := _ids(by_type.get("payment", []), "payment"):
        loaded.payments = {str(p.pk): p for p in Payment.objects.filter(pk__in=ids)}
    if ids := _ids(by_type.get("invoice", []), "invoice"):
        loaded.invoices = {str(i.pk): i for i in Invoice.objects.filter(pk__in=ids)}
    if ids := _ids(by_type.get("credit_note", []), "credit_note"):
        notes = CreditNote.objects.select_related("invoice").filter(pk__in=ids)
        loaded.credit_notes = {str(n.pk): n for n in notes}
    account_ids = _ids(events, "account")
    account_ids |= {str(p.account_id) for p in loaded.payments.values()}
    account_ids |= {str(i.account_id) for i in loaded.invoices.values()}
    account_ids |= {str(n.account_id) for n in loaded.credit_notes.values()}
    # One statement, in pk order: the lock order dunning's chunks use too.
    locked = Account.objects.select_for_update(no_key=True).filter(pk__in=account_ids).order_by("pk")
    loaded.accounts = {str(a.pk): a for a in locked}
    return loaded


def _payment_context(payment: Payment, account: Account) -> dict[str, object]:
    return {
        "amount": payment.amount,
        "payment_reference": payment.reference or payment.gateway_reference,
        "payment_date": timezone.localdate(payment.received_at, account_zone(account)),
    }


def _request(event: Event, account: Account, kind: str, **options: Any) -> NotificationRequest:
    return NotificationRequest(account=account, kind=kind, idempotency_key=_key(event), **options)


def on_invoice_sent(event: Event, loaded: _Loaded) -> NotificationRequest:
    invoice = loaded.invoices[str(event.data["invoice"])]
    return _request(event, loaded.accounts[str(invoice.account_id)], Kind.INVOICE_SENT, invoice=invoice)


def on_payment_succeeded(event: Event, loaded: _Loaded) -> NotificationRequest:
    payment = loaded.payments[str(event.data["payment"])]
    account = loaded.accounts[str(payment.account_id)]
    # The balance the payment left (events published before the field existed: the current one).
    balance = event.data.get("account_balance")
    context = {**_payment_context(payment, account), "balance": Decimal(balance) if balance else account.balance}
    return _request(event, account, Kind.PAYMENT_SUCCEEDED, context=context)


def on_payment_failed(event: Event, loaded: _Loaded) -> NotificationRequest:
    payment = loaded.payments[str(event.data["payment"])]
    account = loaded.accounts[str(payment.account_id)]
    context = {**_payment_context(payment, account), "failure_reason": payment.failure_message}
    return _request(event, account, Kind.PAYMENT_FAILED, context=context, priority=Priority.HIGH)


def on_payment_refunded(event: Event, loaded: _Loaded) -> NotificationRequest:
    payment = loaded.payments[str(event.data["payment"])]
    context = {
        "amount": Decimal(event.data["refund_amount"]),
        "payment_reference": payment.reference or payment.gateway_reference,
        "reason": event.data.get("reason", ""),
    }
    return _request(event, loaded.accounts[str(payment.account_id)], Kind.REFUND_ISSUED, context=context)


def on_credit_note_issued(event: Event, loaded: _Loaded) -> NotificationRequest:
    note = loaded.credit_notes[str(event.data["credit_note"])]
    context = {"credit_note_number": note.number, "amount": note.amount, "invoice_number": note.invoice.number}
    return _request(event, loaded.accounts[str(note.account_id)], Kind.CREDIT_NOTE_ISSUED, context=context)


def on_account_suspended(event: Event, loaded: _Loaded) -> NotificationRequest:
    account = loaded.accounts[str(event.data["account"])]
    context = {"reason": event.data.get("reason", "")}
    return _request(event, account, Kind.ACCOUNT_SUSPENDED, context=context, priority=Priority.HIGH)


def on_account_reactivated(event: Event, loaded: _Loaded) -> NotificationRequest:
    return _request(event, loaded.accounts[str(event.data["account"])], Kind.ACCOUNT_REACTIVATED)


SUBSCRIPTIONS: dict[str, Callable[[Event, _Loaded], NotificationRequest]] = {
    "invoice.sent": on_invoice_sent,
    "payment.succeeded": on_payment_succeeded,
    "payment.failed": on_payment_failed,
    "payment.refunded": on_payment_refunded,
    "credit_note.issued": on_credit_note_issued,
    "account.suspended": on_account_suspended,
    "account.reactivated": on_account_reactivated,
}
NOTIFIED_TYPES = tuple(SUBSCRIPTIONS)


def record_event_notices(events: Sequence[Event]) -> dict[Any, list[Notification]]:
    """Record the notices of `events` (those of a notified type) now: {event id: notifications}.

    Idempotent per event (its key): an event already noticed answers the records made then.
    One batch for all of them (apps.notifications' `send_notifications`); when the batch fails,
    each event on its own, and one that still fails is logged and left out.
    """
    notified = [event for event in events if event.type in SUBSCRIPTIONS]
    if not notified:
        return {}
    try:
        with transaction.atomic():
            return _record(notified)
    except (OperationalError, InterfaceError):
        raise  # a deadlock or a timeout: the drain's transaction is redone later, nothing skipped
    except Exception:
        if len(notified) == 1:
            logger.exception("notice for event %s (%s) not recorded", notified[0].id, notified[0].type)
            return {}
        logger.warning("a batch of %s notices failed; recording them one by one", len(notified), exc_info=True)
    made: dict[Any, list[Notification]] = {}
    for event in notified:
        made.update(record_event_notices([event]))
    return made


def _record(events: Sequence[Event]) -> dict[Any, list[Notification]]:
    loaded = _load(events)
    requests = [SUBSCRIPTIONS[event.type](event, loaded) for event in events]
    answers = send_notifications(requests)
    return {event.id: notifications for event, notifications in zip(events, answers, strict=True)}


def on_account_anonymised(event: Event) -> None:
    """Erase what the notification log holds on the person (apps.privacy's erasure).

    In the erasure's transaction, and not guarded: if the log cannot be scrubbed, the
    anonymisation must roll back with it. The log keeps that a notice of a kind went by a
    channel, not to whom or what it said.
    """
    account_id = event.data["account"]
    Notification.objects.filter(account_id=account_id).update(
        recipient="", subject="", body="", context={}, last_error=""
    )
    NotificationPreference.objects.filter(account_id=account_id).update(push_subscriber="")


def subscribe_all() -> None:
    from apps.events.services import _after_publish_hooks, on_published
    from apps.notifications.outbox import kick_after_commit

    if kick_after_commit not in _after_publish_hooks:
        on_published(kick_after_commit)
    subscribe("account.anonymised")(on_account_anonymised)
