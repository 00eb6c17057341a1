"""Delivery outcomes: retries on provider errors, no retry on permanent ones, push signing,
and the sweeper that sends what quiet hours or a back-off held back."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from standardwebhooks import Webhook

from apps.accounts.models import Account
from apps.events.models import Event
from apps.notifications.delivery import notification_deliver, notification_dispatch_due
from apps.notifications.models import Notification, Status
from apps.notifications.services import send_notification
from tests.accounts.factories import AccountFactory
from tests.notifications.conftest import PUSH_SECRET

pytestmark = pytest.mark.usefixtures("in_tenant_a", "no_quiet_hours")


def one(channel: str, **kwargs: Any) -> Notification:
    account = kwargs.pop("account", None) or AccountFactory()
    [notification] = send_notification(
        account=account,
        kind=kwargs.pop("kind", "payment_failed"),
        idempotency_key=kwargs.pop("key", f"test:{channel}"),
        channels=[channel],
        **kwargs,
    )
    return notification


def deliver(notification: Notification) -> Notification:
    notification_deliver(notification_id=str(notification.id))
    notification.refresh_from_db()
    return notification


def test_an_sms_provider_5xx_is_retried_with_backoff_and_then_sent(fake_twilio: Any) -> None:
    fake_twilio.outcomes.extend(["server_error"])
    notification = one("sms")
    outcome = notification_deliver(notification_id=str(notification.id))
    notification.refresh_from_db()
    assert (outcome.status, outcome.retry_in) == ("queued", 30.0)
    assert notification.status == Status.QUEUED
    assert notification.attempts == 1
    assert notification.last_error == "Twilio 500 error 20500: Unable to create record: Internal Server Error"
    assert notification.send_after is not None
    with time_machine.travel(notification.send_after + dt.timedelta(seconds=1)):
        notification = deliver(notification)
    assert (notification.status, notification.attempts, notification.last_error) == ("sent", 2, "")
    assert len(fake_twilio.requests) == 2


def test_an_email_provider_5xx_is_retried(fake_postmark: Any) -> None:
    fake_postmark.outcomes.extend(["server_error"])
    notification = one("email")
    outcome = notification_deliver(notification_id=str(notification.id))
    notification.refresh_from_db()
    assert outcome.retry_in == 30.0
    assert notification.status == Status.QUEUED
    assert "500" in notification.last_error


def test_an_invalid_number_fails_at_once_without_retry(fake_twilio: Any) -> None:
    fake_twilio.outcomes.extend(["invalid_number"])
    notification = deliver(one("sms"))
    assert notification.status == Status.FAILED
    assert notification.attempts == 1
    assert (
        notification.last_error
        == "Twilio 400 error 21211: Unable to create record: Invalid 'To' Phone Number: +2348012345678"
    )
    assert notification_deliver(notification_id=str(notification.id)).status == "failed"
    assert len(fake_twilio.requests) == 1
    event = Event.objects.get(type="notification.failed")
    assert event.data["error"] == notification.last_error
    assert event.data["channel"] == "sms"


def test_a_number_that_is_not_e164_fails_before_any_provider_call(fake_twilio: Any) -> None:
    account = AccountFactory()
    Account.objects.filter(pk=account.pk).update(phone="12345")  # from before phones were validated
    account.refresh_from_db()
    notification = one("sms", account=account)
    assert notification.status == Status.FAILED
    assert notification.last_error == "cannot send SMS: '12345' is not an E.164 phone number (+<country code><number>)"
    assert fake_twilio.requests == []


def test_a_refused_email_address_fails_without_retry(fake_postmark: Any) -> None:
    fake_postmark.outcomes.extend(["invalid_address"])
    notification = deliver(one("email"))
    assert notification.status == Status.FAILED
    assert notification.last_error == "recipient refused: All message recipients were rejected or invalid"


def test_retries_stop_after_the_configured_attempts(fake_twilio: Any, settings: Any) -> None:
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 2
    fake_twilio.default = "server_error"
    notification = deliver(one("sms"))
    assert notification.status == Status.QUEUED
    with time_machine.travel(timezone.now() + dt.timedelta(hours=1)):
        notification = deliver(notification)
    assert notification.status == Status.FAILED
    assert notification.last_error.startswith("gave up after 2 attempts: Twilio 500")


def test_push_is_a_standard_webhooks_signed_post_to_the_relay(fake_push: Any) -> None:
    account = AccountFactory(external_id="sub-77")
    notification = deliver(one("push", account=account, context={"amount": "₦9.00"}))
    assert notification.status == Status.SENT
    request = fake_push.requests[0]
    payload = Webhook(PUSH_SECRET).verify(request.body, request.headers)
    assert payload == json.loads(request.body)
    assert payload["subscriber"] == "sub-77"
    assert payload["title"] == "Payment failed"
    assert payload["body"] == "Your payment of ₦9.00 did not go through."


def test_the_webhook_channel_publishes_the_message_as_an_event() -> None:
    notification = deliver(one("webhook", context={"amount": "₦9.00"}))
    assert notification.status == Status.SENT
    event = Event.objects.get(type="notification.sent")
    assert event.data["channel"] == "webhook"
    assert event.data["title"] == "Payment failed"
    assert event.data["body"] == "Your payment of ₦9.00 did not go through."


def test_the_sweeper_hands_over_due_notifications_once(django_capture_on_commit_callbacks: Any) -> None:
    notification = one("email")
    Notification.objects.filter(pk=notification.pk).update(enqueued_at=timezone.now() - dt.timedelta(minutes=10))
    with django_capture_on_commit_callbacks() as callbacks:
        assert notification_dispatch_due() == 1
        assert notification_dispatch_due() == 0
    assert len(callbacks) == 1
