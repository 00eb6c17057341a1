"""Reads worth naming: an account's statement over the whole ledger."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from apps.accounts.models import Account
from apps.core.tenancy import tenant_timezone
from apps.invoices.models import CreditNote, Invoice, InvoiceStatus
from apps.payments.models import Payment, PaymentStatus, Refund

ZERO = Decimal(0)


@dataclass(frozen=True)
class StatementEntry:
    """One movement: a debit raises what the account owes, a credit lowers it."""

    date: dt.date
    at: dt.datetime  # when it happened, to order a day's entries
    kind: str
    reference: str
    description: str
    document: str
    debit: Decimal = ZERO
    credit: Decimal = ZERO


@dataclass
class Statement:
    account: Account
    start: dt.date | None
    end: dt.date | None
    opening_balance: Decimal = ZERO
    closing_balance: Decimal = ZERO
    entries: list[tuple[StatementEntry, Decimal]] = field(default_factory=list)


def _at(moment: dt.datetime | None) -> dt.datetime:
    assert moment is not None
    return moment


def _day(moment: dt.datetime | None, zone: ZoneInfo) -> dt.date:
    assert moment is not None
    return moment.astimezone(zone).date()


def _entries(account: Account) -> list[StatementEntry]:
    zone = tenant_timezone()
    entries: list[StatementEntry] = []
    invoices = Invoice.objects.filter(account=account).exclude(status=InvoiceStatus.DRAFT)
    for invoice in invoices:
        number = invoice.number or ""
        assert invoice.issue_date is not None
        entries.append(
            StatementEntry(
                invoice.issue_date,
                _at(invoice.finalized_at),
                "invoice",
                number,
                f"Invoice {number}",
                str(invoice.pk),
                debit=invoice.total,
            )
        )
        if invoice.status == InvoiceStatus.VOID:
            entries.append(
                StatementEntry(
                    _day(invoice.voided_at, zone),
                    _at(invoice.voided_at),
                    "void",
                    number,
                    f"Invoice {number} voided",
                    str(invoice.pk),
                    credit=invoice.total,
                )
            )
        elif invoice.status == InvoiceStatus.UNCOLLECTIBLE:
            # What is still written off today (later recoveries show as their payments).
            entries.append(
                StatementEntry(
                    _day(invoice.marked_uncollectible_at, zone),
                    _at(invoice.marked_uncollectible_at),
                    "write_off",
                    number,
                    f"Invoice {number} written off",
                    str(invoice.pk),
                    credit=invoice.amount_due,
                )
            )
    for payment in Payment.objects.filter(account=account, status=PaymentStatus.SUCCEEDED):
        entries.append(
            StatementEntry(
                _day(payment.received_at, zone),
                payment.received_at,
                "payment",
                payment.reference,
                f"Payment ({payment.get_method_display()})",
                str(payment.pk),
                credit=payment.amount,
            )
        )
    for refund in Refund.objects.filter(payment__account=account):
        entries.append(
            StatementEntry(
                _day(refund.created_at, zone),
                refund.created_at,
                "refund",
                "",
                f"Refund: {refund.reason}",
                str(refund.pk),
                debit=refund.amount,
            )
        )
    for note in CreditNote.objects.filter(account=account):
        entries.append(
            StatementEntry(
                note.issue_date,
                note.created_at,
                "credit_note",
                note.number,
                f"Credit note: {note.reason}",
                str(note.pk),
                credit=note.amount,
            )
        )
    entries.sort(key=lambda entry: (entry.date, entry.at, entry.document))
    return entries


def account_statement(*, account: Account, start: dt.date | None = None, end: dt.date | None = None) -> Statement:
    """The account's movements between `start` and `end` (inclusive), with running balances.

    Over the whole history the closing balance equals the account's `balance` (amount due
    minus unapplied credit); written-off invoices leave it with their write-off.
    """
    statement = Statement(account=account, start=start, end=end)
    balance = ZERO
    for entry in _entries(account):
        if end is not None and entry.date > end:
            break
        balance += entry.debit - entry.credit
        if start is not None and entry.date < start:
            statement.opening_balance = balance
            continue
        statement.entries.append((entry, balance))
    statement.closing_balance = balance
    return statement
