"""Credit notes: reduce what an invoice owes; any excess becomes account credit."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F

from apps.accounts.models import Account, BillingSettings
from apps.accounts.numbering import next_number
from apps.accounts.services import account_adjust_balances
from apps.core.actors import Actor, actor_label, require_permission
from apps.core.errors import InvalidTransition, ValidationFailed
from apps.core.money import MoneyError, money_str, parse_amount
from apps.core.tenancy import tenant_today
from apps.events.services import publish
from apps.invoices.models import CreditApplication, CreditNote, Invoice, InvoiceStatus
from apps.invoices.services import _lock_invoice, invoice_settle, lock_open_invoices

CREDITABLE = (InvoiceStatus.OPEN, InvoiceStatus.PAID)


def credit_note_issue(*, invoice: Invoice, amount: Any, reason: str, actor: Actor | None = None) -> CreditNote:
    """Issue a credit note against an open or paid invoice, up to what was not yet credited.

    It settles what the invoice still owes first; the rest is account credit.
    """
    require_permission(actor, "invoices.issue_credit_note", "issue credit notes")
    if not (reason or "").strip():
        raise ValidationFailed("a credit note needs a reason", field="reason")
    try:
        amount = parse_amount(amount, invoice.currency)
    except MoneyError as exc:
        raise ValidationFailed(str(exc), field="amount") from exc
    if amount <= 0:
        raise ValidationFailed("the amount must be positive", field="amount")
    with transaction.atomic():
        account, locked = _lock_invoice(invoice)
        if locked.status not in CREDITABLE:
            raise InvalidTransition(f"invoice {locked} is {locked.status}; only open or paid invoices can be credited")
        already = sum((note.amount for note in locked.credit_notes.all()), Decimal(0))
        if amount > locked.total - already:
            raise ValidationFailed(
                f"at most {money_str(locked.total - already, locked.currency)} {locked.currency} "
                f"of invoice {locked} can still be credited",
                field="amount",
            )
        settings = BillingSettings.load()
        note = CreditNote.objects.create(
            number=next_number("credit_note", settings.credit_note_number_format, on=tenant_today()),
            invoice=locked,
            account=account,
            currency=locked.currency,
            amount=amount,
            reason=reason.strip(),
            issue_date=tenant_today(),
            created_by=actor_label(actor),
        )
        applied = Decimal(0)
        if locked.status == InvoiceStatus.OPEN:
            applied = min(amount, locked.amount_due)
            CreditApplication.objects.create(credit_note=note, invoice=locked, amount=applied)
            note.amount_applied = applied
            note.save(update_fields=["amount_applied"])
        if amount - applied > 0:
            account_adjust_balances(account=account, credit_delta=amount - applied)
        publish(
            "credit_note.issued",
            str(note.id),
            {
                "credit_note": str(note.id),
                "number": note.number,
                "invoice": str(locked.id),
                "account": str(account.id),
                "currency": note.currency,
                "amount": money_str(note.amount, note.currency),
                "applied_to_invoice": money_str(applied, note.currency),
                "credit_added": money_str(amount - applied, note.currency),
                "reason": note.reason,
            },
        )
        if applied > 0:
            invoice_settle(account=account, invoice=locked, credited=applied)
    return note


def credit_notes_apply(*, account: Account, invoices: Sequence[Invoice] | None = None) -> Decimal:
    """Apply the unused part of the account's credit notes to its open invoices, oldest due first.

    The caller holds the account lock (and the invoices' locks when it passes them).
    Returns the amount applied.
    """
    notes = list(
        CreditNote.objects.filter(account=account, amount_applied__lt=F("amount"))
        .select_for_update()
        .order_by("created_at", "pk")
    )
    if not notes:
        return Decimal(0)
    targets = list(invoices) if invoices is not None else lock_open_invoices(account)
    total_applied = Decimal(0)
    for invoice in targets:
        for note in notes:
            if invoice.amount_due <= 0 or invoice.status not in (InvoiceStatus.OPEN,):
                break
            available = note.amount - note.amount_applied
            if available <= 0:
                continue
            portion = min(available, invoice.amount_due)
            CreditApplication.objects.create(credit_note=note, invoice=invoice, amount=portion)
            note.amount_applied += portion
            note.save(update_fields=["amount_applied"])
            account_adjust_balances(account=account, credit_delta=-portion)
            invoice_settle(account=account, invoice=invoice, credited=portion)
            total_applied += portion
    return total_applied
