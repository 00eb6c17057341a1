"""A policy run day by day: each step once, on its day, with its effects and events."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import time_machine

from apps.accounts.models import AccountStatus
from apps.dunning.models import CaseStatus, DunningAction, DunningCase, DunningPolicy, OverdueInvoice
from apps.invoices.models import InvoiceStatus
from apps.notifications.models import Notification
from apps.tenants.models import Tenant
from tests.dunning.helpers import (
    actions_of,
    assert_one_notification_per_notice,
    events_of,
    notice_keys,
    overdue_account,
    run_inline,
)

DUE = dt.date(2026, 3, 2)


def test_a_new_tenant_starts_with_the_default_policy(in_tenant_a: Tenant) -> None:
    policy = DunningPolicy.objects.get(is_default=True)
    assert [(s.offset_days, s.action) for s in policy.steps.all()] == [
        (1, "email_reminder"),
        (7, "sms_reminder"),
        (14, "suspend_account"),
        (60, "write_off"),
    ]
    assert not policy.minimums.exists()


def test_time_travel_through_the_default_policy_runs_each_step_once_on_its_day(in_tenant_a: Tenant) -> None:
    account, invoice = overdue_account(DUE)
    executed_on: dict[str, dt.date] = {}
    for day in range(-2, 63):
        today = DUE + dt.timedelta(days=day)
        with time_machine.travel(dt.datetime(today.year, today.month, today.day, 9, tzinfo=dt.UTC), tick=False):
            run_inline()
        for action in DunningAction.objects.filter(case__account=account):
            executed_on.setdefault(action.action, action.run_date)

    assert executed_on == {
        "email_reminder": DUE + dt.timedelta(days=1),
        "sms_reminder": DUE + dt.timedelta(days=7),
        "suspend_account": DUE + dt.timedelta(days=14),
        "write_off": DUE + dt.timedelta(days=60),
    }
    assert actions_of(account) == [
        ("email_reminder", 1, "succeeded"),
        ("sms_reminder", 7, "succeeded"),
        ("suspend_account", 14, "succeeded"),
        ("write_off", 60, "succeeded"),
    ]
    assert_one_notification_per_notice(DunningAction.objects.filter(case__account=account))
    # The suspension notice is the one apps.notifications sends for account.suspended: one, not two.
    [suspended] = events_of("account.suspended", account=str(account.pk))
    assert notice_keys(account, "account_suspended") == [f"event:{suspended.id}"]
    suspend = DunningAction.objects.get(case__account=account, action="suspend_account")
    told = Notification.objects.filter(kind="account_suspended", account=account).values_list("pk", flat=True)
    assert sorted(suspend.notification_ids) == sorted(str(pk) for pk in told)
    assert suspend.notification_ids
    assert "account.suspended notice" in suspend.detail
    account.refresh_from_db()
    invoice.refresh_from_db()
    case = DunningCase.objects.get(account=account)
    assert account.status == AccountStatus.SUSPENDED
    assert account.suspension_source == "dunning"
    assert invoice.status == InvoiceStatus.UNCOLLECTIBLE
    assert case.status == CaseStatus.WRITTEN_OFF
    assert case.suspended_account
    assert len(events_of("dunning.started", account=str(account.pk))) == 1
    assert len(events_of("invoice.overdue", invoice=str(invoice.pk))) == 1
    assert len(events_of("account.suspended", account=str(account.pk))) == 1
    steps = events_of("dunning.step_executed", account=str(account.pk))
    assert sorted((e.data["action"], e.data["offset_days"]) for e in steps) == [
        ("email_reminder", 1),
        ("sms_reminder", 7),
        ("suspend_account", 14),
        ("write_off", 60),
    ]
    started = events_of("dunning.started", account=str(account.pk))[0].data
    assert started["amount_due"] == "25000.00"
    assert started["currency"] == "NGN"
    assert started["invoices"] == [str(invoice.pk)]
    assert OverdueInvoice.objects.filter(invoice=invoice).count() == 1


def test_running_the_same_day_twice_takes_no_second_action(in_tenant_a: Tenant) -> None:
    account, _invoice = overdue_account(DUE)
    first = run_inline(DUE + dt.timedelta(days=1))
    second = run_inline(DUE + dt.timedelta(days=1))
    assert sum(first.actions.values()) == 1
    assert sum(second.actions.values()) == 0
    assert actions_of(account) == [("email_reminder", 1, "succeeded")]
    assert_one_notification_per_notice(DunningAction.objects.filter(case__account=account))
    assert len(events_of("dunning.step_executed", account=str(account.pk))) == 1
    assert len(events_of("dunning.started", account=str(account.pk))) == 1


def test_nothing_happens_before_the_first_step_is_due(in_tenant_a: Tenant) -> None:
    account, _invoice = overdue_account(DUE)
    run_inline(DUE)
    assert not DunningCase.objects.filter(account=account).exists()


def test_a_case_that_missed_days_runs_only_the_latest_due_step(in_tenant_a: Tenant) -> None:
    account, _invoice = overdue_account(DUE)
    result = run_inline(DUE + dt.timedelta(days=9))
    assert actions_of(account) == [
        ("email_reminder", 1, "skipped"),  # missed
        ("sms_reminder", 7, "succeeded"),
    ]
    [email, sms] = DunningAction.objects.filter(case__account=account).order_by("offset_days")
    assert email.detail.startswith("missed")
    assert sms.detail == ""
    assert_one_notification_per_notice([email, sms])  # the SMS only: no notice for the missed e-mail
    assert result.started == 1
    assert result.amounts[("D+7 SMS reminder", "sms_reminder", "NGN")] == Decimal("25000.00")


def test_catch_up_all_runs_every_missed_step(in_tenant_a: Tenant) -> None:
    DunningPolicy.objects.filter(is_default=True).update(catch_up="all")
    account, _invoice = overdue_account(DUE)
    run_inline(DUE + dt.timedelta(days=15))
    assert [a.detail.startswith("missed") for a in DunningAction.objects.filter(case__account=account)] == [
        False,
        False,
        False,
    ]
    account.refresh_from_db()
    assert account.status == AccountStatus.SUSPENDED


def test_beat_runs_hourly_and_a_day_already_run_is_not_run_again(in_tenant_a: Tenant, settings: object) -> None:
    from celery.schedules import crontab

    from apps.dunning.runs import run_start

    entry = settings.CELERY_BEAT_SCHEDULE["dunning.daily"]  # type: ignore[attr-defined]
    assert entry["task"] == "apps.dunning.tasks.daily"
    assert entry["schedule"] == crontab(minute=5)
    overdue_account(DUE)
    first = run_start(as_of=DUE + dt.timedelta(days=1), enqueue=False, skip_if_done=True)
    assert first is not None
    assert run_start(as_of=DUE + dt.timedelta(days=1), enqueue=False, skip_if_done=True) is None
    assert run_start(as_of=DUE + dt.timedelta(days=2), enqueue=False, skip_if_done=True) is not None


def test_a_reminder_by_a_channel_the_account_lacks_is_recorded_skipped(in_tenant_a: Tenant) -> None:
    account, _invoice = overdue_account(DUE, email="")
    run_inline(DUE + dt.timedelta(days=1))
    assert actions_of(account) == [("email_reminder", 1, "skipped")]
    action = DunningAction.objects.get(case__account=account)
    assert action.detail == "the account has no email address"
    # The notification log still shows why nothing went (one failed record, never attempted).
    [notification] = Notification.objects.filter(account=account, kind="dunning_reminder")
    assert (notification.status, notification.attempts) == ("failed", 0)
    assert action.notification_ids == [str(notification.pk)]
