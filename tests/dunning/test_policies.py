"""Which policy applies, pre-due reminders, minimums, tenant timezones, pause and resume."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection

from apps.core.errors import InvalidTransition, NotPermitted, ValidationFailed
from apps.core.tenancy import tenant_today
from apps.dunning.models import CaseStatus, DunningAssignment, DunningCase, DunningMinimum, DunningPolicy
from apps.dunning.policies import PolicyBook, timeline
from apps.dunning.services import case_pause, case_resume
from apps.tenants.models import Tenant
from tests.dunning.helpers import actions_of, events_of, make_policy, overdue_account, run_inline

DUE = dt.date(2026, 3, 2)


def test_a_pre_due_reminder_runs_before_the_due_date(in_tenant_a: Tenant) -> None:
    policy = make_policy("Courteous", (-3, "email_reminder"), (2, "sms_reminder"))
    account, invoice = overdue_account(DUE)
    DunningAssignment.objects.create(policy=policy, kind="account", account=account)
    run_inline(DUE - dt.timedelta(days=4))
    assert actions_of(account) == []
    run_inline(DUE - dt.timedelta(days=3))
    assert actions_of(account) == [("email_reminder", -3, "succeeded")]
    # Not overdue yet: no invoice.overdue until the day after the due date.
    assert events_of("invoice.overdue", invoice=str(invoice.pk)) == []
    run_inline(DUE + dt.timedelta(days=2))
    assert actions_of(account) == [("email_reminder", -3, "succeeded"), ("sms_reminder", 2, "succeeded")]
    assert len(events_of("invoice.overdue", invoice=str(invoice.pk))) == 1


def test_assignment_order_is_account_then_tag_then_currency_then_default(in_tenant_a: Tenant) -> None:
    by_tag = make_policy("Business", (3, "email_reminder"))
    by_currency = make_policy("Dollar", (5, "email_reminder"))
    by_account = make_policy("VIP", (30, "escalate"))
    DunningAssignment.objects.create(policy=by_tag, kind="tag", tag="business")
    DunningAssignment.objects.create(policy=by_currency, kind="currency", currency="USD")
    plain, _ = overdue_account(DUE)
    tagged, _ = overdue_account(DUE, currency="USD", tags=["business"])
    dollar, _ = overdue_account(DUE, currency="USD")
    vip, _ = overdue_account(DUE, tags=["business"])
    DunningAssignment.objects.create(policy=by_account, kind="account", account=vip)
    book = PolicyBook()
    assert book.policy_for(plain) == DunningPolicy.objects.get(is_default=True)
    assert book.policy_for(tagged) == by_tag
    assert book.policy_for(dollar) == by_currency
    assert book.policy_for(vip) == by_account


def test_below_the_minimum_overdue_amount_dunning_does_not_start(in_tenant_a: Tenant) -> None:
    policy = DunningPolicy.objects.get(is_default=True)
    DunningMinimum.objects.create(policy=policy, currency="NGN", amount="1000.00")
    small, _ = overdue_account(DUE, amount="999.99")
    large, _ = overdue_account(DUE, amount="1000.00")
    dollars, _ = overdue_account(DUE, amount="1.00", currency="USD")
    run_inline(DUE + dt.timedelta(days=1))
    assert not DunningCase.objects.filter(account=small).exists()
    assert DunningCase.objects.filter(account=large).exists()
    assert DunningCase.objects.filter(account=dollars).exists()


def test_the_tenant_timezone_defines_today(in_tenant_a: Tenant) -> None:
    account, _invoice = overdue_account(DUE)
    tenant = connection.tenant  # type: ignore[attr-defined]
    tenant.timezone = "Pacific/Kiritimati"  # UTC+14
    try:
        # 10:30 UTC on D is already D+1 in Kiritimati: the D+1 reminder is due there.
        with time_machine.travel(dt.datetime(2026, 3, 2, 10, 30, tzinfo=dt.UTC), tick=False):
            assert tenant_today() == DUE + dt.timedelta(days=1)
            run_inline()
        assert actions_of(account) == [("email_reminder", 1, "succeeded")]
        tenant.timezone = "Pacific/Pago_Pago"  # UTC-11: still D-1 there at 09:00 UTC on D+1
        other, _ = overdue_account(DUE)
        with time_machine.travel(dt.datetime(2026, 3, 3, 9, 0, tzinfo=ZoneInfo("UTC")), tick=False):
            assert tenant_today() == DUE
            run_inline()
        assert actions_of(other) == []
    finally:
        tenant.timezone = "UTC"


def test_a_paused_case_takes_no_step_until_resumed(in_tenant_a: Tenant, clerk: object, manager: object) -> None:
    account, _invoice = overdue_account(DUE)
    run_inline(DUE + dt.timedelta(days=1))
    case = DunningCase.objects.get(account=account)
    with pytest.raises(ValidationFailed):
        case_pause(case=case, reason="  ")
    case = case_pause(case=case, reason="invoice disputed", actor=manager)  # type: ignore[arg-type]
    assert case.status == CaseStatus.PAUSED
    assert case.paused_by == "manager"
    run_inline(DUE + dt.timedelta(days=7))
    run_inline(DUE + dt.timedelta(days=14))
    assert actions_of(account) == [("email_reminder", 1, "succeeded")]
    case = case_resume(case=case, reason="dispute settled", actor=clerk)  # type: ignore[arg-type]
    assert case.status == CaseStatus.ACTIVE
    with pytest.raises(InvalidTransition):
        case_resume(case=case, actor=clerk)  # type: ignore[arg-type]
    run_inline(DUE + dt.timedelta(days=15))
    # Catch-up after the pause: only the latest due step (suspension), the SMS recorded as missed.
    assert actions_of(account)[-1] == ("suspend_account", 14, "succeeded")


def test_pausing_needs_the_permission(in_tenant_a: Tenant, roleless: object) -> None:
    account, _invoice = overdue_account(DUE)
    run_inline(DUE + dt.timedelta(days=1))
    with pytest.raises(NotPermitted):
        case_pause(case=DunningCase.objects.get(account=account), reason="x", actor=roleless)  # type: ignore[arg-type]


def test_the_timeline_preview_lists_each_step_on_its_day(in_tenant_a: Tenant) -> None:
    policy = DunningPolicy.objects.get(is_default=True)
    assert [(day, str(step)) for day, step in timeline(policy, DUE)] == [
        (dt.date(2026, 3, 3), "D+1 Email reminder"),
        (dt.date(2026, 3, 9), "D+7 SMS reminder"),
        (dt.date(2026, 3, 16), "D+14 Suspend the account"),
        (dt.date(2026, 5, 1), "D+60 Write off (invoice uncollectible)"),
    ]
