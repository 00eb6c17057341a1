"""The ledger's events tell the customer: which ones, in what words, once per event.

Notices are recorded from the outbox after commit (apps.notifications.outbox); these tests
run in one rolled-back transaction, where events are numbered at once, and drain in it.
"""

from __future__ import annotations

from typing import Any

import pytest

from apps.accounts.services import account_reactivate, account_suspend
from apps.invoices.credit_notes import credit_note_issue
from apps.invoices.services import invoice_mark_sent
from apps.notifications.models import Notification
from apps.notifications.outbox import drain_all
from apps.payments.services import payment_record, payment_record_failed, payment_refund
from tests.accounts.factories import AccountFactory
from tests.invoices.factories import open_invoice

pytestmark = pytest.mark.usefixtures("in_tenant_a", "no_quiet_hours")


def notices() -> list[tuple[str, str, str]]:
    drain_all()
    return sorted(Notification.objects.values_list("kind", "channel", "priority"))


def test_sending_an_invoice_sends_it_by_email_and_sms() -> None:
    account = AccountFactory()
    invoice = open_invoice(account, "25000.00")
    invoice_mark_sent(invoice=invoice)
    assert notices() == [("invoice_sent", "email", "normal"), ("invoice_sent", "sms", "normal")]
    email = Notification.objects.get(channel="email")
    assert email.invoice_id == invoice.id
    assert email.context["amount_due"] == "₦25,000.00"
    assert email.idempotency_key.startswith("event:")


def test_a_payment_sends_a_receipt_and_a_failure_sends_a_high_priority_notice() -> None:
    account = AccountFactory(locale="es")
    open_invoice(account, "100.00")
    payment = payment_record(
        account=account, amount="100.00", currency="NGN", method="bank_transfer", reference="TRF-1"
    )
    payment_record_failed(
        account=account,
        amount="50.00",
        currency="NGN",
        method="card",
        failure_code="card_declined",
        failure_message="Card declined",
    )
    assert notices() == [
        ("payment_failed", "email", "high"),
        ("payment_failed", "sms", "high"),
        ("payment_succeeded", "email", "normal"),
    ]
    receipt = Notification.objects.get(kind="payment_succeeded")
    assert receipt.language == "es"
    assert receipt.context["amount"] == "100,00\xa0NGN"
    assert receipt.context["payment_reference"] == "TRF-1"
    refund = payment_refund(payment=payment, amount="40.00", reason="Overpaid")
    assert refund is not None
    drain_all()
    refund_notice = Notification.objects.get(kind="refund_issued")
    assert refund_notice.context["reason"] == "Overpaid"


def test_credit_notes_suspension_and_reactivation_are_notified() -> None:
    account = AccountFactory()
    invoice = open_invoice(account, "100.00")
    credit_note_issue(invoice=invoice, amount="10.00", reason="Outage")
    account_suspend(account=account, reason="Unpaid invoices")
    account_reactivate(account=account)
    kinds = {kind for kind, _channel, _priority in notices()}
    assert kinds == {"credit_note_issued", "account_suspended", "account_reactivated"}
    suspended = Notification.objects.filter(kind="account_suspended").first()
    assert suspended is not None
    assert (suspended.priority, suspended.context["reason"]) == ("high", "Unpaid invoices")


def test_events_that_are_not_customer_notices_send_nothing() -> None:
    account = AccountFactory()
    open_invoice(account, "100.00")  # invoice.created + invoice.finalized
    assert notices() == []


def test_a_notice_that_cannot_be_recorded_is_skipped_and_the_others_still_are(monkeypatch: Any) -> None:
    from apps.notifications import handlers

    def broken(event: Any, loaded: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setitem(handlers.SUBSCRIPTIONS, "account.suspended", broken)
    account = AccountFactory()
    suspended = account_suspend(account=account, reason="x")
    account_reactivate(account=suspended)
    assert suspended.status == "suspended"
    # The suspension's notice failed alone (logged); the reactivation's was recorded; the
    # cursor moved past both, so the broken one does not hold the drain back.
    assert notices() == [("account_reactivated", "email", "normal"), ("account_reactivated", "sms", "normal")]
    assert drain_all() == (0, False)
