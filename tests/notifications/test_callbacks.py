"""Provider callbacks: Twilio's signed status POSTs and anymail's tracking webhooks."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from twilio.request_validator import RequestValidator

from apps.events.models import Event
from apps.notifications.delivery import notification_deliver
from apps.notifications.models import Notification, Status
from apps.notifications.services import send_notification
from tests.accounts.factories import AccountFactory
from tests.notifications.conftest import TWILIO_AUTH_TOKEN

pytestmark = pytest.mark.usefixtures("in_tenant_a", "no_quiet_hours")

STATUS_URL = "http://alpha.localhost/notifications/twilio/status/"


def sent(channel: str) -> Notification:
    [notification] = send_notification(
        account=AccountFactory(), kind="payment_failed", idempotency_key=f"cb-{channel}", channels=[channel]
    )
    notification_deliver(notification_id=str(notification.id))
    notification.refresh_from_db()
    assert notification.status == Status.SENT
    return notification


def twilio_post(client: Any, params: dict[str, str], token: str = TWILIO_AUTH_TOKEN) -> Any:
    signature = RequestValidator(token).compute_signature(STATUS_URL, params)
    return client.post("/notifications/twilio/status/", params, HTTP_X_TWILIO_SIGNATURE=signature)


def test_a_signed_twilio_callback_marks_the_sms_delivered(fake_twilio: Any, client_a: Any) -> None:
    sms = sent("sms")
    response = twilio_post(client_a, {"MessageSid": sms.provider_message_id, "MessageStatus": "delivered"})
    assert response.status_code == 204
    sms.refresh_from_db()
    assert sms.status == Status.DELIVERED
    assert sms.delivered_at is not None


def test_an_undelivered_sms_shows_why(fake_twilio: Any, client_a: Any) -> None:
    sms = sent("sms")
    params = {
        "MessageSid": sms.provider_message_id,
        "MessageStatus": "undelivered",
        "ErrorCode": "30003",
        "ErrorMessage": "Unreachable destination handset",
    }
    assert twilio_post(client_a, params).status_code == 204
    sms.refresh_from_db()
    assert (sms.status, sms.last_error) == ("failed", "Twilio error 30003: Unreachable destination handset")
    assert Event.objects.filter(type="notification.failed", data__notification=str(sms.id)).exists()


def test_a_forged_twilio_callback_is_refused(fake_twilio: Any, client_a: Any) -> None:
    sms = sent("sms")
    params = {"MessageSid": sms.provider_message_id, "MessageStatus": "delivered"}
    assert twilio_post(client_a, params, token="not-the-token").status_code == 403
    sms.refresh_from_db()
    assert sms.status == Status.SENT


def basic_auth(secret: str) -> str:
    return "Basic " + base64.b64encode(secret.encode()).decode()


def test_anymail_tracking_marks_emails_delivered_and_bounced(fake_postmark: Any, client_a: Any, settings: Any) -> None:
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": "hook:secret"}
    email = sent("email")
    delivery = {
        "RecordType": "Delivery",
        "MessageID": email.provider_message_id,
        "Recipient": email.recipient,
        "DeliveredAt": "2026-11-25T16:00:05Z",
        "Details": "Test delivery",
        "Metadata": {"tenant": "alpha", "notification": str(email.id)},
        "Tag": "payment_failed",
    }
    response = client_a.post(
        "/notifications/anymail/postmark/tracking/",
        json.dumps(delivery),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic_auth("hook:secret"),
    )
    assert response.status_code == 200
    email.refresh_from_db()
    assert email.status == Status.DELIVERED
    bounce = {
        "RecordType": "Bounce",
        "Type": "HardBounce",
        "TypeCode": 1,
        "MessageID": email.provider_message_id,
        "Email": email.recipient,
        "BouncedAt": "2026-11-25T16:01:00Z",
        "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Metadata": {"tenant": "alpha"},
    }
    client_a.post(
        "/notifications/anymail/postmark/tracking/",
        json.dumps(bounce),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic_auth("hook:secret"),
    )
    email.refresh_from_db()
    assert email.status == Status.BOUNCED
    assert "unable to deliver" in email.last_error
