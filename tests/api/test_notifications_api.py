"""`notifications/`: the delivery log, filtered, read only, tenant-scoped."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from apps.notifications.models import Notification
from apps.notifications.services import send_notification
from tests.accounts.factories import AccountFactory
from tests.api.conftest import JsonClient, assert_problem

pytestmark = pytest.mark.django_db

NOTIFICATIONS = "/api/v1/notifications/"


def make_notifications() -> tuple[str, str]:
    with schema_context("alpha"):
        ada = AccountFactory(name="Ada")
        bob = AccountFactory(name="Bob", email="")
        send_notification(account=ada, kind="payment_failed", idempotency_key="api-1", channels=["email", "sms"])
        send_notification(account=bob, kind="invoice_sent", idempotency_key="api-2", channels=["email"])
        return str(ada.id), str(bob.id)


def test_the_platform_lists_notifications_with_filters(reader: JsonClient) -> None:
    ada, bob = make_notifications()
    everything = reader.get(NOTIFICATIONS).json()["results"]
    assert len(everything) == 3
    by_ada = reader.get(NOTIFICATIONS, data={"account": ada}).json()["results"]
    assert sorted(item["channel"] for item in by_ada) == ["email", "sms"]
    [failed] = reader.get(NOTIFICATIONS, data={"status": "failed"}).json()["results"]
    assert (failed["account"], failed["kind"], failed["last_error"]) == (
        bob,
        "invoice_sent",
        "the account has no email address",
    )
    [sms] = reader.get(NOTIFICATIONS, data={"channel": "sms", "kind": "payment_failed"}).json()["results"]
    assert sms["recipient"] == "+2348012345678"
    detail = reader.get(f"{NOTIFICATIONS}{sms['id']}/").json()
    assert detail["status"] == "queued"
    with schema_context("alpha"):
        assert Notification.objects.count() == 3


def test_a_bad_filter_is_a_problem(reader: JsonClient) -> None:
    assert_problem(reader.get(NOTIFICATIONS, data={"status": "lost"}), 400, type_slug="validation-error")


def test_the_log_is_read_only(admin: JsonClient) -> None:
    assert admin.post(NOTIFICATIONS, {}).status_code == 405


def test_another_tenant_sees_none_of_them(outsider: JsonClient) -> None:
    make_notifications()
    assert outsider.get(NOTIFICATIONS).json()["results"] == []
