"""Reads over the whole ledger: account statements, payment allocation previews, the dashboard.

payments is the top of the ledger stack, so these may read accounts, invoices and payments.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from apps.accounts.models import Account
from apps.core.errors import ValidationFailed
from apps.core.money import money_str
from apps.core.tenancy import tenant_timezone, tenant_today
from apps.invoices.models import CreditNote, Invoice, InvoiceStatus
from apps.payments.models import Payment, PaymentStatus, Refund
from apps.payments.services import _oldest_first

ZERO = Decimal(0)


# --- Account statement ----------------------------------------------------------------------
@dataclass(frozen=True)
class StatementEntry:
    """One movement of the account's balance; `amount` > 0 raises what the account owes."""

    date: dt.date
    kind: str  # invoice | void | write_off | payment | refund | credit_note
    reference: str
    description: str
    amount: Decimal
    model: str  # "app_label.model_name" of the document, for links
    object_id: str
    balance: Decimal = ZERO


@dataclass
class Statement:
    """Opening balance, the period's movements with a running balance, closing balance."""

    account: Account
    start: dt.date
    end: dt.date
    opening_balance: Decimal
    entries: list[StatementEntry]
    closing_balance: Decimal
    totals: dict[str, Decimal] = field(default_factory=dict)

    @property
    def currency(self) -> str:
        return self.account.currency


KIND_LABELS = {
    "invoice": "Invoice",
    "void": "Invoice voided",
    "write_off": "Written off",
    "payment": "Payment",
    "refund": "Refund",
    "credit_note": "Credit note",
}
# Same-day order: what is billed first, then what settles it.
_KIND_ORDER = {"invoice": 0, "credit_note": 1, "payment": 2, "refund": 3, "void": 4, "write_off": 5}


def _local_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=tenant_timezone())


def account_statement(account: Account, start: dt.date, end: dt.date) -> Statement:
    """The account's statement for [start, end] (dates in the tenant's timezone).

    Movements: invoices (+total on the issue date), voids (-total), write-offs (-what the
    invoice still owes, on the write-off date), payments received (-amount), refunds (+amount)
    and credit notes (-amount). Their sum up to today is exactly the account's balance (open
    amount due minus unapplied credit). Money later recovered on a written-off invoice shrinks
    its write-off entry rather than adding a line. Eight queries, whatever the history's size.
    """
    if end < start:
        raise ValidationFailed("the statement's end is before its start", field="end")
    since, until = _local_start(start), _local_start(end + dt.timedelta(days=1))

    invoices = Invoice.objects.filter(account=account).exclude(status=InvoiceStatus.DRAFT)
    before = invoices.aggregate(
        issued=Sum("total", filter=Q(issue_date__lt=start)),
        voided=Sum("total", filter=Q(status=InvoiceStatus.VOID, voided_at__lt=since)),
        written_off=Sum("amount_due", filter=Q(status=InvoiceStatus.UNCOLLECTIBLE, marked_uncollectible_at__lt=since)),
    )
    payments = Payment.objects.filter(account=account, status=PaymentStatus.SUCCEEDED)
    refunds = Refund.objects.filter(payment__account=account)
    notes = CreditNote.objects.filter(account=account)
    opening = (
        (before["issued"] or ZERO)
        - (before["voided"] or ZERO)
        - (before["written_off"] or ZERO)
        - (payments.filter(received_at__lt=since).aggregate(s=Sum("amount"))["s"] or ZERO)
        + (refunds.filter(created_at__lt=since).aggregate(s=Sum("amount"))["s"] or ZERO)
        - (notes.filter(issue_date__lt=start).aggregate(s=Sum("amount"))["s"] or ZERO)
    )

    tz = tenant_timezone()
    entries: list[tuple[Any, StatementEntry]] = []
    period_invoices = invoices.filter(
        Q(issue_date__range=(start, end))
        | Q(status=InvoiceStatus.VOID, voided_at__gte=since, voided_at__lt=until)
        | Q(status=InvoiceStatus.UNCOLLECTIBLE, marked_uncollectible_at__gte=since, marked_uncollectible_at__lt=until)
    )
    for invoice in period_invoices:
        number = invoice.number or ""
        if invoice.issue_date and start <= invoice.issue_date <= end:
            description = f"due {invoice.due_date:%Y-%m-%d}" if invoice.due_date else ""
            entry = StatementEntry(
                invoice.issue_date, "invoice", number, description, invoice.total, "invoices.invoice", str(invoice.pk)
            )
            entries.append((invoice.finalized_at, entry))
        if invoice.status == InvoiceStatus.VOID and invoice.voided_at and since <= invoice.voided_at < until:
            day = invoice.voided_at.astimezone(tz).date()
            entry = StatementEntry(day, "void", number, "", -invoice.total, "invoices.invoice", str(invoice.pk))
            entries.append((invoice.voided_at, entry))
        marked = invoice.marked_uncollectible_at
        if invoice.status == InvoiceStatus.UNCOLLECTIBLE and marked and since <= marked < until:
            day = marked.astimezone(tz).date()
            entry = StatementEntry(
                day, "write_off", number, "", -invoice.amount_due, "invoices.invoice", str(invoice.pk)
            )
            entries.append((marked, entry))
    for payment in payments.filter(received_at__gte=since, received_at__lt=until):
        day = payment.received_at.astimezone(tz).date()
        description = payment.get_method_display() + (f" {payment.reference}" if payment.reference else "")
        entry = StatementEntry(
            day,
            "payment",
            payment.reference or str(payment.pk)[:8],
            description,
            -payment.amount,
            "payments.payment",
            str(payment.pk),
        )
        entries.append((payment.received_at, entry))
    for refund in refunds.filter(created_at__gte=since, created_at__lt=until):
        day = refund.created_at.astimezone(tz).date()
        entry = StatementEntry(
            day,
            "refund",
            str(refund.payment_id)[:8],
            refund.reason,
            refund.amount,
            "payments.payment",
            str(refund.payment_id),
        )
        entries.append((refund.created_at, entry))
    for note in notes.filter(issue_date__range=(start, end)):
        entry = StatementEntry(
            note.issue_date, "credit_note", note.number, note.reason, -note.amount, "invoices.creditnote", str(note.pk)
        )
        entries.append((note.created_at, entry))

    entries.sort(key=lambda pair: (pair[1].date, _KIND_ORDER[pair[1].kind], pair[0] or timezone.now()))
    running = opening
    listed = []
    totals = dict.fromkeys(KIND_LABELS, ZERO)
    for _when, entry in entries:
        running += entry.amount
        totals[entry.kind] += entry.amount
        listed.append(
            StatementEntry(**{**entry.__dict__, "balance": running}),
        )
    return Statement(
        account=account,
        start=start,
        end=end,
        opening_balance=opening,
        entries=listed,
        closing_balance=running,
        totals=totals,
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


# --- Admin home dashboard -------------------------------------------------------------------
@dataclass
class CurrencyFigures:
    currency: str
    open_receivables: Decimal = ZERO
    open_count: int = 0
    overdue: Decimal = ZERO
    overdue_count: int = 0
    collected_this_month: Decimal = ZERO
    collected_count: int = 0
    # month (first day) -> (invoiced, collected)
    trend: dict[dt.date, tuple[Decimal, Decimal]] = field(default_factory=dict)


@dataclass
class Dashboard:
    today: dt.date
    months: list[dt.date]
    currencies: list[CurrencyFigures]


def _month_start(day: dt.date, months_back: int = 0) -> dt.date:
    index = day.year * 12 + day.month - 1 - months_back
    return dt.date(index // 12, index % 12 + 1, 1)


def dashboard_figures(*, today: dt.date | None = None) -> Dashboard:
    """Open receivables, overdue and collected this month per currency, and a 12-month trend of
    invoiced vs collected. Four aggregate queries."""
    today = today or tenant_today()
    tz = tenant_timezone()
    months = [_month_start(today, back) for back in range(11, -1, -1)]
    first = _local_start(months[0])
    figures: dict[str, CurrencyFigures] = {}

    def row(currency: str) -> CurrencyFigures:
        return figures.setdefault(currency, CurrencyFigures(currency))

    open_rows: Iterable[Mapping[str, Any]] = (
        Invoice.objects.filter(status=InvoiceStatus.OPEN)
        .values("currency")
        .annotate(
            due=Sum("amount_due"),
            count=Count("id"),
            overdue=Sum("amount_due", filter=Q(due_date__lt=today)),
            overdue_count=Count("id", filter=Q(due_date__lt=today)),
        )
    )
    for values in open_rows:
        figure = row(values["currency"])
        figure.open_receivables, figure.open_count = values["due"], values["count"]
        figure.overdue, figure.overdue_count = values["overdue"] or ZERO, values["overdue_count"]

    invoiced: Iterable[Mapping[str, Any]] = (
        Invoice.objects.filter(issue_date__gte=months[0], issue_date__lte=today)
        .exclude(status__in=[InvoiceStatus.DRAFT, InvoiceStatus.VOID])
        .annotate(month=TruncMonth("issue_date"))
        .values("currency", "month")
        .annotate(total=Sum("total"))
    )
    collected: Iterable[Mapping[str, Any]] = (
        Payment.objects.filter(status=PaymentStatus.SUCCEEDED, received_at__gte=first)
        .annotate(month=TruncMonth("received_at", tzinfo=tz))
        .values("currency", "month")
        .annotate(total=Sum("amount"), count=Count("id"))
    )
    trend: dict[tuple[str, dt.date], list[Decimal]] = {}
    for billed in invoiced:
        trend.setdefault((billed["currency"], billed["month"]), [ZERO, ZERO])[0] = billed["total"]
    for received in collected:
        month = received["month"]
        month = month.astimezone(tz).date() if isinstance(month, dt.datetime) else month
        trend.setdefault((received["currency"], month), [ZERO, ZERO])[1] = received["total"]
        if month == months[-1]:
            figure = row(received["currency"])
            figure.collected_this_month, figure.collected_count = received["total"], received["count"]
    for (currency, month), (billed_total, received_total) in trend.items():
        row(currency).trend[month] = (billed_total, received_total)
    for figure in figures.values():
        figure.trend = {month: figure.trend.get(month, (ZERO, ZERO)) for month in months}
    ordered = sorted(figures.values(), key=lambda f: (-f.open_count, f.currency))
    return Dashboard(today=today, months=months, currencies=ordered)
