"""Reads of invoices worth naming: overdue buckets and the AR aging, computed in SQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum

from apps.accounts.models import Account
from apps.invoices.models import Invoice, InvoiceStatus


@dataclass(frozen=True)
class OverdueBucket:
    """Open invoices whose days overdue (today - due date) lie in [low, high] (high None: no limit)."""

    key: str
    label: str
    low: int | None
    high: int | None

    def due_condition(self, today: dt.date) -> Q:
        """Q on `due_date` alone: days overdue between low and high."""
        q = Q()
        if self.low is not None:
            q &= Q(due_date__lte=today - dt.timedelta(days=self.low))
        if self.high is not None:
            q &= Q(due_date__gte=today - dt.timedelta(days=self.high))
        return q

    def condition(self, today: dt.date) -> Q:
        """The bucket's invoices: open ones with days overdue between low and high."""
        return Q(status=InvoiceStatus.OPEN) & self.due_condition(today)


# "current" is not yet due (due today or later); the rest are days past the due date.
OVERDUE_BUCKETS = (
    OverdueBucket("current", "Current", None, 0),
    OverdueBucket("1_30", "1-30 days", 1, 30),
    OverdueBucket("31_60", "31-60 days", 31, 60),
    OverdueBucket("61_90", "61-90 days", 61, 90),
    OverdueBucket("90_plus", "90+ days", 91, None),
)
BUCKETS_BY_KEY = {bucket.key: bucket for bucket in OVERDUE_BUCKETS}


@dataclass
class AgingRow:
    """One currency's receivables by bucket; `credit` is unapplied account credit."""

    currency: str
    buckets: dict[str, Decimal] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    total: Decimal = Decimal(0)
    invoice_count: int = 0
    credit: Decimal = Decimal(0)

    @property
    def net(self) -> Decimal:
        """What the accounts owe after their unapplied credit (the sum of their balances)."""
        return self.total - self.credit


def ar_aging(*, today: dt.date) -> list[AgingRow]:
    """Open receivables per currency and overdue bucket, exact to the minor unit.

    Two aggregate queries (invoices by currency with one filtered SUM per bucket; account
    credit by currency): no Python loop over invoices.
    """
    aggregates: dict[str, Any] = {}
    for bucket in OVERDUE_BUCKETS:
        # Filters on due_date only (the WHERE keeps open invoices): an index-only scan.
        aggregates[f"sum_{bucket.key}"] = Sum("amount_due", filter=bucket.due_condition(today))
        aggregates[f"count_{bucket.key}"] = Count("due_date", filter=bucket.due_condition(today))
    rows: dict[str, AgingRow] = {}
    invoice_rows: Iterable[Mapping[str, Any]] = (
        Invoice.objects.filter(status=InvoiceStatus.OPEN)
        .values("currency")
        .annotate(total=Sum("amount_due"), invoice_count=Count("*"), **aggregates)
        .order_by("currency")
    )
    for values in invoice_rows:
        row = AgingRow(currency=values["currency"], total=values["total"], invoice_count=values["invoice_count"])
        for bucket in OVERDUE_BUCKETS:
            row.buckets[bucket.key] = values[f"sum_{bucket.key}"] or Decimal(0)
            row.counts[bucket.key] = values[f"count_{bucket.key}"]
        rows[row.currency] = row
    credit_rows: Iterable[Mapping[str, Any]] = (
        Account.objects.filter(credit_balance__gt=0).values("currency").annotate(credit=Sum("credit_balance"))
    )
    for credit in credit_rows:
        row = rows.setdefault(
            credit["currency"],
            AgingRow(
                currency=credit["currency"],
                buckets={b.key: Decimal(0) for b in OVERDUE_BUCKETS},
                counts={b.key: 0 for b in OVERDUE_BUCKETS},
            ),
        )
        row.credit = credit["credit"]
    return [rows[currency] for currency in sorted(rows)]
