"""Payments: allocation, partial payment, overpayment as credit, credit notes, refunds.

Every test ends by checking the account's running balance against the ledger rows.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from apps.accounts.models import Account, BillingSettings
from apps.core.errors import InvalidTransition, ValidationFailed
from apps.events.models import Event
from apps.invoices.credit_notes import credit_note_issue
from apps.invoices.models import Invoice, InvoiceStatus
from apps.payments.models import Payment, PaymentStatus
from apps.payments.services import (
    AllocationInput,
    account_credit_apply,
    payment_record,
    payment_record_failed,
    payment_refund,
)
from apps.tenants.models import Tenant
from tests.accounts.factories import AccountFactory
from tests.invoices.factories import draft_invoice, open_invoice
from tests.payments.ledger import assert_ledger_consistent

pytestmark = pytest.mark.django_db


def pay(account: Account, amount: str, **kwargs: Any) -> Payment:
    return payment_record(account=account, amount=amount, currency=account.currency, method="bank_transfer", **kwargs)


def test_a_full_payment_pays_the_invoice(in_tenant_a: Tenant) -> None:
    account = AccountFactory()
    invoice = open_invoice(account, "25000.00")
    pay(account, "25000.00", reference="TRF-778")
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid, invoice.amount_due) == ("paid", Decimal("25000.00"), 0)
    assert_ledger_consistent(account)
    types = list(Event.objects.order_by("sequence").values_list("type", flat=True))
    assert types[-2:] == ["invoice.paid", "payment.succeeded"]


def test_a_partial_payment_leaves_the_rest_due(in_tenant_a: Tenant) -> None:
    account = AccountFactory()
    invoice = open_invoice(account, "100.00")
    pay(account, "40.00")
    invoice.refresh_from_db()
    account.refresh_from_db()
    assert (invoice.status, invoice.amount_due, account.balance) == ("open", Decimal("60.00"), Decimal("60.00"))
    assert Event.objects.filter(type="invoice.partially_paid").count() == 1
    assert_ledger_consistent(account)


def test_without_allocations_the_oldest_due_invoice_is_paid_first(in_tenant_a: Tenant) -> None:
    account = AccountFactory()
    newer = open_invoice(account, "50.00", due_date=dt.date(2026, 2, 1))
    older = open_invoice(account, "50.00", due_date=dt.date(2026, 1, 1))
    pay(account, "70.00")
    older.refresh_from_db()
    newer.refresh_from_db()
    assert (older.amount_due, newer.amount_due) == (0, Decimal("30.00"))
    assert_ledger_consistent(account)


def test_a_payment_locks_only_the_open_invoices_it_reaches_oldest_due_first(in_tenant_a: Tenant) -> None:
    from django.db import transaction

    from apps.invoices import services as invoice_services
    from apps.invoices.services import lock_invoices_to_pay

    account = AccountFactory()
    later = open_invoice(account, "50.00", due_date=dt.date(2026, 3, 1))
    middle = open_invoice(account, "50.00", due_date=dt.date(2026, 2, 1))
    first = open_invoice(account, "50.00", due_date=dt.date(2026, 1, 1))
    by_terms = open_invoice(account, "50.00")  # due by payment terms: after the others
    draft_invoice(account, "10.00")
    with transaction.atomic():
        assert lock_invoices_to_pay(account, Decimal("0.01")) == [first]
        assert lock_invoices_to_pay(account, Decimal("50.00")) == [first]
        assert lock_invoices_to_pay(account, Decimal("50.01")) == [first, middle]
        assert lock_invoices_to_pay(account, Decimal("1000")) == [first, middle, later, by_terms]
        # The running sum is taken over the first REACH_FIRST open invoices, then over all of them
        # when a payment reaches that far: the answer is the same.
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(invoice_services, "REACH_FIRST", 2)
            assert lock_invoices_to_pay(account, Decimal("50.00")) == [first]
            assert lock_invoices_to_pay(account, Decimal("50.01")) == [first, middle]
            assert lock_invoices_to_pay(account, Decimal("150.01")) == [first, middle, later, by_terms]
    pay(account, "60.00")
    first.refresh_from_db()
    middle.refresh_from_db()
    later.refresh_from_db()
    assert (first.amount_due, middle.amount_due, later.amount_due) == (0, Decimal("40.00"), Decimal("50.00"))
    assert_ledger_consistent(account)


def test_an_overpayment_becomes_credit_that_pays_the_next_invoice(in_tenant_a: Tenant) -> None:
    account = AccountFactory()
    open_invoice(account, "100.00")
    pay(account, "150.00")
    account.refresh_from_db()
    assert (account.credit_balance, account.balance) == (Decimal("50.00"), Decimal("-50.00"))
    later = open_invoice(account, "80.00")
    account.refresh_from_db()
    assert (later.status, later.amount_paid, later.amount_due) == ("open", Decimal("50.00"), Decimal("30.00"))
    assert (account.credit_balance, account.balance) == (0, Decimal("30.00"))
    assert_ledger_consistent(account)


def test_explicit_allocations_are_honoured_and_the_rest_is_credit(in_tenant_a: Tenant) -> None:
    account = AccountFactory()
    first = open_invoice(account, "100.00")
    second = open_invoice(account, "100.00")
    pay(account, "120.00", allocations=[AllocationInput(second, "100.00"), AllocationInput(first, "10.00")])
    first.refresh_from_db()
    second.refresh_from_db()
    account.refresh_from_db()
    assert (first.amount_due, second.status, account.credit_balance) == (Decimal("90.00"), "paid", Decimal("10.00"))
    assert_ledger_consistent(account)


@pytest.mark.parametrize(
    ("allocation_amount", "message"),
    [("100.01", "more than the 100.00 due"), ("200.00", "add up to more than the payment")],
)
def test_allocations_beyond_what_is_due_or_paid_are_refused(
    in_tenant_a: Tenant, allocation_amount: str, message: str
) -> None:
    account = AccountFactory()
    invoice = open_invoice(account, "100.00")
    with pytest.raises(ValidationFailed, match=message):
        pay(account, "150.00", allocations=[AllocationInput(invoice, allocation_amount)])
    assert not Payment.objects.exists()
    assert_ledger_consistent(account)


def test_a_payment_cannot_be_allocated_to_another_accounts_invoice(in_tenant_a: Tenant) -> None:
    mine, theirs = AccountFactory(), AccountFactory()
    invoice = open_invoice(theirs, "10.00")
    with pytest.raises(ValidationFailed, match="does not belong to this account"):
        pay(mine, "10.00", allocations=[AllocationInput(invoice.pk, "10.00")])


def test_a_payment_in_another_currency_is_refused(in_tenant_a: Tenant) -> None:
    account = AccountFactory()
    open_invoice(account, "10.00")
    with pytest.raises(ValidationFailed, match="payment in USD is refused"):
        payment_record(account=account, amount="10.00", currency="USD", method="cash")


@pytest.mark.parametrize("amount", ["0", "-5", "10.001", "abc", "1e20", "NaN"])
def test_nonsense_amounts_are_refused(in_tenant_a: Tenant, amount: str) -> None:
    with pytest.raises(ValidationFailed):
        pay(AccountFactory(), amount)


def test_a_failed_payment_is_recorded_without_moving_money(in_tenant_a: Tenant) -> None:
    account = AccountFactory()
    invoice = open_invoice(account, "10.00")
    failed = payment_record_failed(
        account=account, amount="10.00", currency="NGN", method="card", failure_code="card_declined"
    )
    invoice.refresh_from_db()
    assert (failed.status, invoice.amount_due) == (PaymentStatus.FAILED, Decimal("10.00"))
    assert Event.objects.get(type="payment.failed").data["failure_code"] == "card_declined"
    with pytest.raises(InvalidTransition):
        payment_refund(payment=failed, amount="1.00", reason="x")


def test_a_refund_takes_unallocated_credit_first_then_reopens_invoices(in_tenant_a: Tenant) -> None:
    account = AccountFactory()
    invoice = open_invoice(account, "100.00")
    payment = pay(account, "130.00")
    refund = payment_refund(payment=payment, amount="50.00", reason="double charge")
    invoice.refresh_from_db()
    account.refresh_from_db()
    assert (refund.from_credit, refund.from_invoices) == (Decimal("30.00"), {str(invoice.pk): "20.00"})
    assert (invoice.status, invoice.amount_due, account.balance) == ("open", Decimal("20.00"), Decimal("20.00"))
    with pytest.raises(ValidationFailed, match=r"at most 80\.00"):
        payment_refund(payment=payment, amount="80.01", reason="too much")
    assert_ledger_consistent(account)


def test_a_credit_note_reduces_what_is_due_and_the_excess_becomes_credit(in_tenant_a: Tenant) -> None:
    account = AccountFactory()
    invoice = open_invoice(account, "100.00")
    pay(account, "70.00")
    note = credit_note_issue(invoice=invoice, amount="50.00", reason="service outage")
    invoice.refresh_from_db()
    account.refresh_from_db()
    assert note.number.startswith("CN-") and note.number.endswith("-000001")
    assert (invoice.status, invoice.amount_credited, note.amount_applied) == (
        "paid",
        Decimal("30.00"),
        Decimal("30.00"),
    )
    assert (account.credit_balance, account.balance) == (Decimal("20.00"), Decimal("-20.00"))
    with pytest.raises(ValidationFailed, match=r"at most 50\.00"):
        credit_note_issue(invoice=invoice, amount="50.01", reason="again")
    assert_ledger_consistent(account)


def test_credit_notes_cannot_be_issued_on_drafts_or_void_invoices(in_tenant_a: Tenant) -> None:
    with pytest.raises(InvalidTransition):
        credit_note_issue(invoice=draft_invoice(AccountFactory()), amount="1.00", reason="x")


def test_applying_credit_pays_open_invoices_with_payment_credit_first(in_tenant_a: Tenant) -> None:
    billing = BillingSettings.load()
    billing.auto_apply_credit = False
    billing.save()
    account = AccountFactory()
    pay(account, "15.00")  # nothing open yet: all of it is credit
    paid = open_invoice(account, "10.00")
    pay(account, "10.00", allocations=[AllocationInput(paid, "10.00")])
    credit_note_issue(invoice=paid, amount="10.00", reason="goodwill")  # paid invoice: all credit
    later = open_invoice(account, "30.00")
    account.refresh_from_db()
    assert (later.amount_due, account.credit_balance) == (Decimal("30.00"), Decimal("25.00"))
    assert account_credit_apply(account=account) == Decimal("25.00")
    later.refresh_from_db()
    account.refresh_from_db()
    assert (later.amount_paid, later.amount_credited, later.amount_due) == (
        Decimal("15.00"),
        Decimal("10.00"),
        Decimal("5.00"),
    )
    assert (account.credit_balance, account.balance) == (0, Decimal("5.00"))
    assert_ledger_consistent(account)


def test_paying_a_written_off_invoice_marks_it_paid_without_touching_the_balance(in_tenant_a: Tenant) -> None:
    from apps.invoices.services import invoice_mark_uncollectible

    account = AccountFactory()
    invoice = invoice_mark_uncollectible(invoice=open_invoice(account, "10.00"))
    pay(account, "10.00", allocations=[AllocationInput(invoice, "10.00")])
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert_ledger_consistent(account)
    assert Invoice.objects.filter(status="paid").count() == 1
