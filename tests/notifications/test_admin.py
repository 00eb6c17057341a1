"""The finance admin: the log with its filters and search, resend, the template editor."""

from __future__ import annotations

from typing import Any

import pytest

from apps.notifications.models import Notification, NotificationTemplate
from apps.notifications.services import send_notification
from tests.accounts.factories import AccountFactory

pytestmark = pytest.mark.usefixtures("in_tenant_a", "no_quiet_hours")

LOG = "/admin/notifications/notification/"
TEMPLATES = "/admin/notifications/notificationtemplate/"


def failed_sms() -> Notification:
    account = AccountFactory(name="Ada Obi", email="ada@example.com")
    Notification.objects.filter(account=account).delete()
    [sms] = send_notification(account=account, kind="payment_failed", idempotency_key="adm-1", channels=["sms"])
    Notification.objects.filter(pk=sms.pk).update(status="failed", last_error="Twilio 400 error 21211: bad number")
    return sms


def test_the_log_lists_filters_and_searches_with_the_last_error(login_a: Any, clerk: Any) -> None:
    failed_sms()
    client = login_a(clerk)
    page = client.get(LOG, {"status": "failed", "channel": "sms", "kind": "payment_failed"})
    assert page.status_code == 200
    assert "Twilio 400 error 21211: bad number" in page.content.decode()
    assert "+2348012345678" in client.get(LOG, {"q": "+2348012345678"}).content.decode()
    assert "+2348012345678" not in client.get(LOG, {"q": "nobody@example.com"}).content.decode()
    assert client.get(LOG, {"created_at__gte": "2020-01-01T00:00:00+00:00"}).status_code == 200


def test_a_clerk_resends_and_sees_the_result_per_notification(login_a: Any, clerk: Any) -> None:
    sms = failed_sms()
    client = login_a(clerk)
    response = client.post(LOG, {"action": "resend_notifications", "_selected_action": [str(sms.pk)]}, follow=True)
    messages = [str(message) for message in response.context["messages"]]
    assert messages == ["Payment failed by sms to +2348012345678: resent again to +2348012345678 (Queued)"]
    resent = Notification.objects.get(resend_of=sms)
    assert (resent.status, resent.channel, resent.kind) == ("queued", "sms", "payment_failed")


def test_an_auditor_cannot_resend(login_a: Any, auditor: Any) -> None:
    sms = failed_sms()
    client = login_a(auditor)
    assert client.get(LOG).status_code == 200
    client.post(LOG, {"action": "resend_notifications", "_selected_action": [str(sms.pk)]})
    assert not Notification.objects.filter(resend_of=sms).exists()


def test_a_template_with_an_unknown_variable_is_refused_with_the_reason(login_a: Any, manager: Any) -> None:
    client = login_a(manager)
    form = {"kind": "payment_failed", "part": "sms", "language": "fr", "source": "Payé {{ amout }}", "is_active": "on"}
    response = client.post(TEMPLATES + "add/", form)
    assert response.status_code == 200
    assert "unknown variable(s): amout" in response.content.decode()
    response = client.post(TEMPLATES + "add/", {**form, "source": "{% if amount %}"})
    assert "template syntax error" in response.content.decode()
    assert not NotificationTemplate.objects.exists()
    response = client.post(TEMPLATES + "add/", {**form, "source": "Paiement de {{ amount }} refusé."})
    assert response.status_code == 302
    assert NotificationTemplate.objects.get().source == "Paiement de {{ amount }} refusé."


def test_the_live_preview_renders_sample_data_and_counts_sms_segments(login_a: Any, manager: Any) -> None:
    client = login_a(manager)
    answer = client.post(
        TEMPLATES + "preview/",
        {"kind": "payment_failed", "part": "sms", "language": "es", "source": ""},
    ).json()
    assert answer["ok"] is True
    assert answer["output"].startswith("Acme Fibre: su pago de ₦25,000.00 no se ha realizado.")
    assert answer["segments"] == "2 segments (UCS-2, 82 characters)"
    bad = client.post(TEMPLATES + "preview/", {"kind": "payment_failed", "part": "sms", "source": "{{ x }}"}).json()
    assert bad == {"ok": False, "error": bad["error"], "variables": bad["variables"]}
    assert bad["error"].startswith("unknown variable(s): x")
    page = client.get(TEMPLATES + "add/")
    assert "Preview on sample data" in page.content.decode()


def test_clerks_may_resend_and_only_managers_edit_templates(clerk: Any, manager: Any, auditor: Any) -> None:
    assert clerk.has_perm("notifications.resend_notification")
    assert not clerk.has_perm("notifications.change_notificationtemplate")
    assert manager.has_perm("notifications.change_notificationtemplate")
    assert auditor.has_perm("notifications.view_notification")
    assert not auditor.has_perm("notifications.resend_notification")
