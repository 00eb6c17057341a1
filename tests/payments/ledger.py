"""Recompute an account's balance from the ledger rows and compare with the running totals."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum

from apps.accounts.models import Account
from apps.invoices.models import CreditNote, Invoice
from apps.payments.models import Payment, PaymentStatus


def assert_ledger_consistent(account: Account) -> None:
    account.refresh_from_db()
    open_due = Invoice.objects.filter(account=account, status="open").aggregate(s=Sum("amount_due"))["s"]
    payment_credit = sum(
        (p.unallocated for p in Payment.objects.filter(account=account, status=PaymentStatus.SUCCEEDED)), Decimal(0)
    )
    note_credit = sum((n.unapplied for n in CreditNote.objects.filter(account=account)), Decimal(0))
    assert account.amount_due == (open_due or Decimal(0))
    assert account.credit_balance == payment_credit + note_credit
    for invoice in Invoice.objects.filter(account=account):
        allocated = invoice.payment_allocations.aggregate(s=Sum("amount"))["s"] or Decimal(0)
        credited = invoice.credit_applications.aggregate(s=Sum("amount"))["s"] or Decimal(0)
        assert (invoice.amount_paid, invoice.amount_credited) == (allocated, credited)
