"""The admin home's figures: receivables, overdue, collected this month, a 12-month trend."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncMonth

from apps.core.tenancy import tenant_timezone, tenant_today
from apps.invoices.models import Invoice, InvoiceStatus
from apps.payments.models import Payment, PaymentStatus

ZERO = Decimal(0)


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


def _tenant_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=tenant_timezone())


def _month_start(day: dt.date, months_back: int = 0) -> dt.date:
    index = day.year * 12 + day.month - 1 - months_back
    return dt.date(index // 12, index % 12 + 1, 1)


def dashboard_figures(*, today: dt.date | None = None) -> Dashboard:
    """Open receivables, overdue and collected this month per currency, and a 12-month trend of
    invoiced vs collected. Four aggregate queries."""
    today = today or tenant_today()
    tz = tenant_timezone()
    months = [_month_start(today, back) for back in range(11, -1, -1)]
    first = _tenant_midnight(months[0])
    figures: dict[str, CurrencyFigures] = {}

    def row(currency: str) -> CurrencyFigures:
        return figures.setdefault(currency, CurrencyFigures(currency))

    open_rows: Iterable[Mapping[str, Any]] = (
        Invoice.objects.filter(status=InvoiceStatus.OPEN)
        .values("currency")
        .annotate(
            due=Sum("amount_due"),
            count=Count("*"),
            overdue=Sum("amount_due", filter=Q(due_date__lt=today)),
            overdue_count=Count("due_date", filter=Q(due_date__lt=today)),
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
