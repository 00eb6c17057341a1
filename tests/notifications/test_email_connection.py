"""The email channel keeps one anymail HTTP backend per process for many messages, and drops
it when the settings it was made from change."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail

from apps.notifications.channels.email import reusable_connection
from apps.notifications.delivery import notification_deliver
from apps.notifications.models import Status
from apps.notifications.services import send_notification
from tests.accounts.factories import AccountFactory
from tests.notifications.fakes import FakePostmark, serve

pytestmark = pytest.mark.usefixtures("in_tenant_a")


def test_anymail_backend_is_reused_across_messages(fake_postmark: Any) -> None:
    account = AccountFactory()
    sent = []
    for index in range(2):
        [notification] = send_notification(
            account=account, kind="payment_failed", idempotency_key=f"reuse:{index}", channels=["email"]
        )
        notification_deliver(notification_id=str(notification.id))
        notification.refresh_from_db()
        sent.append(notification)
    assert [n.status for n in sent] == [Status.SENT, Status.SENT]
    assert len(fake_postmark.requests) == 2
    assert reusable_connection() is reusable_connection()


def test_changed_settings_make_a_new_backend(settings: Any, fake_postmark: Any) -> None:
    first = reusable_connection()
    with serve(FakePostmark()) as other:
        settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "other-token", "POSTMARK_API_URL": other.url + "/"}
        second = reusable_connection()
    assert second is not None and second is not first
    assert second.api_url == other.url + "/"


def test_non_http_backends_get_a_connection_per_message(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert reusable_connection() is None
    [notification] = send_notification(
        account=AccountFactory(), kind="payment_failed", idempotency_key="locmem:1", channels=["email"]
    )
    notification_deliver(notification_id=str(notification.id))
    assert len(mail.outbox) == 1
