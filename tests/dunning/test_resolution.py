"""Money arriving resolves the case in its own transaction and gives service back."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from apps.accounts.models import AccountStatus
from apps.accounts.services import account_suspend
from apps.dunning.models import CaseStatus, DunningAction, DunningCase
from apps.invoices.credit_notes import credit_note_issue
from apps.invoices.services import invoice_void
from apps.payments.services import AllocationInput, payment_record
from apps.tenants.models import Tenant
from tests.dunning.helpers import actions_of, events_of, notice_keys, overdue_account, run_inline

DUE = dt.date(2026, 3, 2)


def test_a_payment_mid_cycle_resolves_the_case_reactivates_and_stops_further_steps(in_tenant_a: Tenant) -> None:
    account, _invoice = overdue_account(DUE)
    run_inline(DUE + dt.timedelta(days=1))
    run_inline(DUE + dt.timedelta(days=14))
    account.refresh_from_db()
    assert account.status == AccountStatus.SUSPENDED

    payment_record(account=account, amount="25000.00", currency="NGN", method="bank_transfer")

    # Resolved in the payment's transaction: no run needed.
    case = DunningCase.objects.get(account=account)
    account.refresh_from_db()
    assert case.status == CaseStatus.RESOLVED
    assert case.resolution == "paid"
    assert case.amount_recovered == Decimal("25000.00")
    assert account.status == AccountStatus.ACTIVE
    reactivated = events_of("account.reactivated", account=str(account.pk))
    assert len(reactivated) == 1
    assert reactivated[0].data["suspended_by"] == "dunning"
    assert len(events_of("dunning.resolved", account=str(account.pk))) == 1

    for day in (15, 30, 60, 61):
        run_inline(DUE + dt.timedelta(days=day))
    assert actions_of(account) == [
        ("email_reminder", 1, "succeeded"),
        ("sms_reminder", 7, "skipped"),  # missed: the run jumped from D+1 to D+14
        ("suspend_account", 14, "succeeded"),
    ]
    assert DunningCase.objects.filter(account=account).count() == 1
    # One notice each for the suspension and the reactivation: those apps.notifications sends
    # for the account.suspended / account.reactivated events (dunning sends neither kind).
    [suspended] = events_of("account.suspended", account=str(account.pk))
    assert notice_keys(account, "account_suspended") == [f"event:{suspended.id}"]
    assert notice_keys(account, "account_reactivated") == [f"event:{reactivated[0].id}"]


def test_a_partial_payment_keeps_the_case_open(in_tenant_a: Tenant) -> None:
    account, _invoice = overdue_account(DUE)
    run_inline(DUE + dt.timedelta(days=1))
    payment_record(account=account, amount="5000.00", currency="NGN", method="bank_transfer")
    case = DunningCase.objects.get(account=account)
    assert case.status == CaseStatus.ACTIVE
    run_inline(DUE + dt.timedelta(days=7))
    case.refresh_from_db()
    assert case.amount_due == Decimal("20000.00")
    assert [a.action for a in DunningAction.objects.filter(case=case)] == ["email_reminder", "sms_reminder"]


def test_a_credit_note_that_clears_the_invoice_resolves_the_case(in_tenant_a: Tenant) -> None:
    account, invoice = overdue_account(DUE)
    run_inline(DUE + dt.timedelta(days=1))
    credit_note_issue(invoice=invoice, amount="25000.00", reason="service outage")
    assert DunningCase.objects.get(account=account).status == CaseStatus.RESOLVED


def test_voiding_the_invoice_resolves_the_case(in_tenant_a: Tenant) -> None:
    account, invoice = overdue_account(DUE)
    run_inline(DUE + dt.timedelta(days=1))
    invoice_void(invoice=invoice, reason="billed in error")
    assert DunningCase.objects.get(account=account).status == CaseStatus.RESOLVED


def test_an_account_suspended_by_staff_is_not_reactivated_by_dunning(in_tenant_a: Tenant) -> None:
    account, _invoice = overdue_account(DUE)
    account_suspend(account=account, reason="fraud check")
    run_inline(DUE + dt.timedelta(days=14))
    assert actions_of(account)[-1] == ("suspend_account", 14, "skipped")
    assert DunningAction.objects.get(case__account=account, action="suspend_account").detail == (
        "the account is already suspended"
    )
    payment_record(account=account, amount="25000.00", currency="NGN", method="bank_transfer")
    account.refresh_from_db()
    assert DunningCase.objects.get(account=account).status == CaseStatus.RESOLVED
    assert account.status == AccountStatus.SUSPENDED
    assert account.suspension_source == "staff"


def test_paying_a_written_off_debt_gives_service_back(in_tenant_a: Tenant) -> None:
    account, invoice = overdue_account(DUE)
    run_inline(DUE + dt.timedelta(days=14))
    run_inline(DUE + dt.timedelta(days=60))
    assert DunningCase.objects.get(account=account).status == CaseStatus.WRITTEN_OFF
    payment_record(
        account=account,
        amount="25000.00",
        currency="NGN",
        method="bank_transfer",
        allocations=[AllocationInput(invoice.pk, "25000.00")],
    )
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE


def test_a_later_invoice_joins_the_open_case_and_the_case_needs_both_paid(in_tenant_a: Tenant) -> None:
    from tests.invoices.factories import open_invoice

    account, first = overdue_account(DUE)
    run_inline(DUE + dt.timedelta(days=1))
    open_invoice(account, "10000.00", due_date=DUE + dt.timedelta(days=3))
    run_inline(DUE + dt.timedelta(days=7))
    case = DunningCase.objects.get(account=account)
    assert case.amount_due == Decimal("35000.00")
    assert case.anchor_date == DUE
    payment_record(
        account=account,
        amount="25000.00",
        currency="NGN",
        method="bank_transfer",
        allocations=[AllocationInput(first.pk, "25000.00")],
    )
    case.refresh_from_db()
    assert case.status == CaseStatus.ACTIVE
    payment_record(account=account, amount="10000.00", currency="NGN", method="bank_transfer")
    case.refresh_from_db()
    assert case.status == CaseStatus.RESOLVED
