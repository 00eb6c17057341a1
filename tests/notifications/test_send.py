"""send_notification: records, channels, idempotency, and delivery through the real clients."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from apps.events.models import Event
from apps.notifications.delivery import notification_deliver
from apps.notifications.models import Notification, Status
from apps.notifications.services import NotificationError, send_notification
from tests.accounts.factories import AccountFactory
from tests.invoices.factories import open_invoice

pytestmark = pytest.mark.usefixtures("in_tenant_a", "no_quiet_hours")


def deliver_all(notifications: list[Notification]) -> None:
    for notification in notifications:
        notification_deliver(notification_id=str(notification.id))


def test_a_payment_failure_goes_by_email_and_sms_through_the_providers(fake_postmark: Any, fake_twilio: Any) -> None:
    account = AccountFactory(name="Ada Obi", email="ada@example.com", phone="+2348012345678")
    notifications = send_notification(
        account=account,
        kind="payment_failed",
        context={"amount": "₦25,000.00", "failure_reason": "Card declined"},
        idempotency_key="test:payment-failed:1",
    )
    assert sorted(n.channel for n in notifications) == ["email", "sms"]
    deliver_all(notifications)

    email = Notification.objects.get(idempotency_key="test:payment-failed:1", channel="email")
    sms = Notification.objects.get(idempotency_key="test:payment-failed:1", channel="sms")
    assert (email.status, email.attempts, email.subject) == ("sent", 1, "Your payment of ₦25,000.00 failed")
    assert email.provider_message_id.startswith("0a129aee-")
    sent = fake_postmark.requests[0].json()
    assert sent["To"] == "ada@example.com"
    assert "Hello Ada Obi," in sent["TextBody"]
    assert "Reason: Card declined" in sent["TextBody"]
    assert sms.status == "sent"
    assert sms.provider_message_id.startswith("SM")
    form = fake_twilio.requests[0].form()
    assert form["To"] == "+2348012345678"
    assert form["From"] == "+15005550006"
    assert form["StatusCallback"] == "http://alpha.localhost/notifications/twilio/status/"
    assert "your payment of ₦25,000.00 failed" in form["Body"]
    events = Event.objects.filter(type="notification.sent").order_by("sequence")
    assert [e.data["channel"] for e in events] == ["email", "sms"]
    assert events[0].data == {
        "notification": str(email.id),
        "account": str(account.id),
        "kind": "payment_failed",
        "channel": "email",
        "status": "sent",
    }


def test_the_same_idempotency_key_twice_sends_nothing_more(fake_postmark: Any) -> None:
    account = AccountFactory()
    first = send_notification(account=account, kind="account_reactivated", idempotency_key="k-1", channels=["email"])
    second = send_notification(account=account, kind="account_reactivated", idempotency_key="k-1", channels=["email"])
    assert [n.id for n in first] == [n.id for n in second]
    deliver_all(first + second)
    assert len(fake_postmark.requests) == 1
    assert Notification.objects.filter(idempotency_key="k-1").count() == 1


def test_an_invoice_email_carries_its_pdf(fake_postmark: Any) -> None:
    account = AccountFactory(locale="fr", country="FR", currency="EUR", email="zoe@example.fr")
    invoice = open_invoice(account, "120.50")
    [notification] = send_notification(
        account=account, kind="invoice_sent", idempotency_key="inv-1", channels=["email"], invoice=invoice
    )
    deliver_all([notification])
    sent = fake_postmark.requests[0].json()
    assert sent["Subject"] == f"Votre facture {invoice.number}"
    assert "120,50\u00a0€" in sent["TextBody"]
    [attachment] = sent["Attachments"]
    assert attachment["Name"] == f"{invoice.number}.pdf"
    assert attachment["ContentType"] == "application/pdf"


def test_unknown_kinds_and_channels_are_refused() -> None:
    account = AccountFactory()
    with pytest.raises(NotificationError, match="unknown notification kind"):
        send_notification(account=account, kind="birthday", idempotency_key="x")
    with pytest.raises(NotificationError, match="unknown channel"):
        send_notification(account=account, kind="invoice_sent", idempotency_key="x", channels=["fax"])


def test_sending_waits_for_the_callers_commit(django_capture_on_commit_callbacks: Any) -> None:
    account = AccountFactory()
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        [notification] = send_notification(
            account=account, kind="account_reactivated", idempotency_key="k-2", channels=["email"]
        )
        assert notification.status == Status.QUEUED
    assert len(callbacks) == 1
