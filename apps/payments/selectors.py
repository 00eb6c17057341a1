"""Reads worth naming over the whole ledger (payments sits on top of invoices and accounts):
account statements and payment allocation previews."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from apps.accounts.models import Account
from apps.core.errors import ValidationFailed
from apps.core.money import money_str
from apps.core.tenancy import tenant_timezone
from apps.invoices.models import CreditNote, Invoice, InvoiceStatus
from apps.payments.models import Payment, PaymentStatus, Refund
from apps.payments.services import _oldest_first

ZERO = Decimal(0)
StatementLineKind = Literal["invoice", "void", "credit_note", "payment", "refund", "write_off", "recovery"]


@dataclass(frozen=True)
class StatementLine:
    """One movement of the account's balance: positive amounts raise what the account owes."""

    date: dt.date
    kind: StatementLineKind
    reference: str
    description: str
    amount: Decimal
    balance: Decimal
    at: dt.datetime


@dataclass(frozen=True)
class AccountStatement:
    """An account's balance over a period (dates inclusive, in the tenant's timezone).

    closing = opening + invoiced - voided - credited - paid + refunded - written_off, where
    written_off is net of money recovered on written-off invoices. The balance is the
    account's: open amount due minus unapplied credit.
    """

    account: Account
    currency: str
    start: dt.date
    end: dt.date
    opening_balance: Decimal
    lines: tuple[StatementLine, ...]
    invoiced: Decimal
    voided: Decimal
    credited: Decimal
    paid: Decimal
    refunded: Decimal
    written_off: Decimal
    closing_balance: Decimal


@dataclass(frozen=True)
class _Movement:
    at: dt.datetime
    date: dt.date
    kind: StatementLineKind
    reference: str
    description: str
    amount: Decimal


def _sum(queryset: QuerySet, field: str) -> Decimal:
    return queryset.aggregate(total=Sum(field))["total"] or ZERO


def _midnight(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=tz)


def account_statement(*, account: Account, start: dt.date, end: dt.date) -> AccountStatement:
    """The account's statement for [start, end]: opening balance, every movement, closing balance.

    Invoices and credit notes count on their document date, payments when received, refunds,
    voids and write-offs when they happened. Exact Decimal sums of stored (already quantised)
    amounts; the closing balance at the end of today is the account's balance.
    """
    if end < start:
        raise ValidationFailed("the statement ends before it starts", field="end")
    tz = tenant_timezone()
    since, until = _midnight(start, tz), _midnight(end + dt.timedelta(days=1), tz)
    finalized = Invoice.objects.filter(account=account).exclude(status=InvoiceStatus.DRAFT)
    voided = finalized.filter(status=InvoiceStatus.VOID, voided_at__isnull=False)
    notes = CreditNote.objects.filter(account=account)
    payments = Payment.objects.filter(account=account, status=PaymentStatus.SUCCEEDED)
    refunds = Refund.objects.filter(payment__account=account)

    opening = (
        _sum(finalized.filter(issue_date__lt=start), "total")
        - _sum(voided.filter(voided_at__lt=since), "total")
        - _sum(notes.filter(issue_date__lt=start), "amount")
        - _sum(payments.filter(received_at__lt=since), "amount")
        + _sum(refunds.filter(created_at__lt=since), "amount")
    )
    write_offs = list(_write_off_movements(finalized, tz))
    opening += sum((m.amount for m in write_offs if m.at < since), ZERO)

    movements: list[_Movement] = [
        *(
            _Movement(
                _at(invoice.finalized_at, invoice.issue_date, tz),
                invoice.issue_date,
                "invoice",
                invoice.number or "",
                "Invoice",
                invoice.total,
            )
            for invoice in finalized.filter(issue_date__range=(start, end))
            if invoice.issue_date is not None
        ),
        *(
            _Movement(
                invoice.voided_at,
                timezone.localtime(invoice.voided_at, tz).date(),
                "void",
                invoice.number or "",
                "Invoice voided" + (f": {invoice.status_reason}" if invoice.status_reason else ""),
                -invoice.total,
            )
            for invoice in voided.filter(voided_at__gte=since, voided_at__lt=until)
            if invoice.voided_at is not None
        ),
        *(
            _Movement(
                _at(note.created_at, note.issue_date, tz),
                note.issue_date,
                "credit_note",
                note.number,
                f"Credit note on {note.invoice.number}: {note.reason}",
                -note.amount,
            )
            for note in notes.filter(issue_date__range=(start, end)).select_related("invoice")
        ),
        *(
            _Movement(
                payment.received_at,
                timezone.localtime(payment.received_at, tz).date(),
                "payment",
                payment.reference or payment.gateway_reference,
                f"Payment, {payment.get_method_display().lower()}",
                -payment.amount,
            )
            for payment in payments.filter(received_at__gte=since, received_at__lt=until)
        ),
        *(
            _Movement(
                refund.created_at,
                timezone.localtime(refund.created_at, tz).date(),
                "refund",
                refund.payment.reference or refund.payment.gateway_reference,
                f"Refund: {refund.reason}",
                refund.amount,
            )
            for refund in refunds.filter(created_at__gte=since, created_at__lt=until).select_related("payment")
        ),
        *(m for m in write_offs if since <= m.at < until),
    ]
    movements.sort(key=lambda m: (m.date, m.at))

    balance = opening
    lines = []
    for movement in movements:
        balance += movement.amount
        lines.append(
            StatementLine(
                date=movement.date,
                kind=movement.kind,
                reference=movement.reference,
                description=movement.description,
                amount=movement.amount,
                balance=balance,
                at=movement.at,
            )
        )

    def total(*kinds: StatementLineKind) -> Decimal:
        return sum((m.amount for m in movements if m.kind in kinds), ZERO)

    return AccountStatement(
        account=account,
        currency=account.currency,
        start=start,
        end=end,
        opening_balance=opening,
        lines=tuple(lines),
        invoiced=total("invoice"),
        voided=-total("void"),
        credited=-total("credit_note"),
        paid=-total("payment"),
        refunded=total("refund"),
        written_off=-total("write_off", "recovery"),
        closing_balance=balance,
    )


def _at(moment: dt.datetime | None, day: dt.date | None, tz: dt.tzinfo) -> dt.datetime:
    """When a dated document happened, for ordering within its day (imports may lack a time)."""
    if moment is not None and day is not None and timezone.localtime(moment, tz).date() == day:
        return moment
    return _midnight(day or dt.date.min, tz)


def _write_off_movements(finalized: QuerySet[Invoice], tz: dt.tzinfo) -> Iterable[_Movement]:
    """What write-offs took off the balance, from each written-off invoice's audit history.

    A written-off invoice's amount due leaves the account's balance; money later applied to
    it (or taken back from it by a refund) changes that amount, so each change of "amount
    due while uncollectible" is a movement: a write-off, or a recovery.
    """
    written_off = finalized.filter(Q(marked_uncollectible_at__isnull=False) | Q(status=InvoiceStatus.UNCOLLECTIBLE))
    history = Invoice.history.filter(id__in=written_off.values("id")).order_by("id", "history_date", "history_id")
    previous: dict[object, Decimal] = {}
    for record in history.only("id", "status", "amount_due", "number", "history_date"):
        excluded = record.amount_due if record.status == InvoiceStatus.UNCOLLECTIBLE else ZERO
        change = excluded - previous.get(record.id, ZERO)
        previous[record.id] = excluded
        if change == 0:
            continue
        yield _Movement(
            record.history_date,
            timezone.localtime(record.history_date, tz).date(),
            "write_off" if change > 0 else "recovery",
            record.number or "",
            "Invoice written off" if change > 0 else "Recovered on a written-off invoice",
            -change,
        )


# --- Payment allocation preview -------------------------------------------------------------
@dataclass(frozen=True)
class PreviewLine:
    invoice: Invoice
    amount: Decimal

    @property
    def amount_due_after(self) -> Decimal:
        return self.invoice.amount_due - self.amount


@dataclass(frozen=True)
class AllocationPreview:
    """What recording a payment would do now: the invoices it pays and the credit left over."""

    account: Account
    amount: Decimal
    lines: list[PreviewLine]
    explicit: bool

    @property
    def allocated(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)

    @property
    def credit_left(self) -> Decimal:
        return self.amount - self.allocated

    @property
    def balance_after(self) -> Decimal:
        return self.account.balance - self.amount


PREVIEW_MAX_INVOICES = 200


def payment_allocation_preview(
    *, account: Account, amount: Decimal, allocations: Sequence[tuple[Invoice, Decimal]] | None = None
) -> AllocationPreview:
    """Preview `payment_record`: explicit allocations as given, else the open invoices oldest
    due first (the service's order), without locking or writing anything."""
    if allocations:
        lines = []
        for index, (invoice, portion) in enumerate(allocations):
            if invoice.account_id != account.pk:
                raise ValidationFailed(f"invoice {invoice} belongs to another account", field="allocations")
            if invoice.status not in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE):
                raise ValidationFailed(f"invoice {invoice} is {invoice.status}", field="allocations")
            if portion > invoice.amount_due:
                raise ValidationFailed(
                    f"line {index + 1}: more than the {money_str(invoice.amount_due, invoice.currency)} "
                    f"{invoice.currency} due on {invoice}",
                    field="allocations",
                )
            lines.append(PreviewLine(invoice, portion))
        preview = AllocationPreview(account, amount, lines, explicit=True)
        if preview.allocated > amount:
            raise ValidationFailed("the allocations add up to more than the payment", field="allocations")
        return preview
    candidates = list(
        Invoice.objects.filter(account=account, status=InvoiceStatus.OPEN, amount_due__gt=0).order_by(
            "due_date", "finalized_at", "pk"
        )[:PREVIEW_MAX_INVOICES]
    )
    amounts = _oldest_first(amount, candidates)
    lines = [PreviewLine(invoice, portion) for invoice, portion in zip(candidates, amounts, strict=True) if portion]
    return AllocationPreview(account, amount, lines, explicit=False)
