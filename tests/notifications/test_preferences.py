"""Opt-outs (with the transactional rule), SMS quiet hours in the account's timezone, E.164
and SMS segments."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine

from apps.notifications.delivery import notification_deliver, notification_dispatch_due
from apps.notifications.models import Notification, NotificationPreference, Status
from apps.notifications.phone import InvalidPhoneNumber, sms_segments, to_e164
from apps.notifications.services import send_notification
from tests.accounts.factories import AccountFactory

pytestmark = pytest.mark.usefixtures("in_tenant_a")

UTC = dt.UTC


def channels_of(notifications: list[Notification]) -> list[str]:
    return sorted(n.channel for n in notifications)


@pytest.mark.usefixtures("no_quiet_hours")
def test_an_opted_out_channel_is_left_out() -> None:
    account = AccountFactory(notify_by_sms=False)
    made = send_notification(account=account, kind="payment_failed", idempotency_key="o-1")
    assert channels_of(made) == ["email"]


@pytest.mark.usefixtures("no_quiet_hours")
def test_a_transactional_notice_still_goes_by_email_when_every_channel_is_opted_out() -> None:
    account = AccountFactory(notify_by_email=False, notify_by_sms=False, notify_by_push=False)
    made = send_notification(account=account, kind="account_suspended", idempotency_key="o-2")
    assert channels_of(made) == ["email"]


@pytest.mark.usefixtures("no_quiet_hours")
def test_without_an_email_address_the_fallback_is_sms() -> None:
    account = AccountFactory(email="", notify_by_sms=False)
    made = send_notification(account=account, kind="payment_succeeded", idempotency_key="o-3")
    assert channels_of(made) == ["sms"]


@pytest.mark.usefixtures("no_quiet_hours")
def test_an_explicit_channel_without_an_address_is_recorded_as_failed_with_the_reason() -> None:
    account = AccountFactory(email="")
    [made] = send_notification(account=account, kind="invoice_sent", idempotency_key="o-4", channels=["email"])
    assert (made.status, made.last_error) == ("failed", "the account has no email address")


def test_an_sms_in_quiet_hours_waits_for_the_morning_in_the_accounts_timezone(fake_twilio: Any) -> None:
    account = AccountFactory(timezone="Africa/Lagos")  # UTC+1; default quiet hours 21:00-08:00
    with time_machine.travel(dt.datetime(2026, 11, 25, 22, 30, tzinfo=UTC)):  # 23:30 in Lagos
        [sms] = send_notification(account=account, kind="payment_failed", idempotency_key="q-1", channels=["sms"])
        assert sms.send_after == dt.datetime(2026, 11, 26, 7, 0, tzinfo=UTC)  # 08:00 in Lagos
        assert notification_deliver(notification_id=str(sms.id)).status == "queued"
        assert notification_dispatch_due() == 0
    assert fake_twilio.requests == []
    with time_machine.travel(dt.datetime(2026, 11, 26, 7, 0, 30, tzinfo=UTC)):
        assert notification_dispatch_due() == 1
        notification_deliver(notification_id=str(sms.id))
    sms.refresh_from_db()
    assert sms.status == Status.SENT
    assert len(fake_twilio.requests) == 1


def test_email_is_not_held_by_quiet_hours() -> None:
    account = AccountFactory(timezone="Africa/Lagos")
    with time_machine.travel(dt.datetime(2026, 11, 25, 22, 30, tzinfo=UTC)):
        [email] = send_notification(account=account, kind="payment_failed", idempotency_key="q-2", channels=["email"])
    assert email.send_after is None


def test_an_account_can_have_its_own_quiet_hours_or_none() -> None:
    account = AccountFactory(timezone="UTC")
    preference = NotificationPreference.objects.create(
        account=account, sms_quiet_hours_start=dt.time(12, 0), sms_quiet_hours_end=dt.time(13, 0)
    )
    with time_machine.travel(dt.datetime(2026, 11, 25, 12, 15, tzinfo=UTC)):
        [held] = send_notification(account=account, kind="payment_failed", idempotency_key="q-3", channels=["sms"])
        preference.quiet_hours_enabled = False
        preference.save()
        [free] = send_notification(account=account, kind="payment_failed", idempotency_key="q-4", channels=["sms"])
    assert held.send_after == dt.datetime(2026, 11, 25, 13, 0, tzinfo=UTC)
    assert free.send_after is None


def test_phone_numbers_are_normalised_to_e164() -> None:
    assert to_e164("+234 801 234 5678") == "+2348012345678"
    assert to_e164("0801 234 5678", "NG") == "+2348012345678"
    with pytest.raises(InvalidPhoneNumber):
        to_e164("+1555")


def test_sms_segments_count_gsm7_and_ucs2() -> None:
    assert str(sms_segments("a" * 160)) == "1 segment (GSM-7, 160 characters)"
    assert sms_segments("a" * 161).segments == 2
    assert sms_segments("€" * 80).length == 160  # the euro sign takes two septets
    assert str(sms_segments("₦" + "a" * 69)) == "1 segment (UCS-2, 70 characters)"
    assert sms_segments("₦" + "a" * 70).segments == 2
