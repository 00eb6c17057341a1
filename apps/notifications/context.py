"""The variables a notification's templates see, formatted for the account's locale (babel)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from apps.accounts.models import Account
from apps.core.tenancy import tenant_today
from apps.invoices.documents import Formatter, formatter_for, issuer
from apps.invoices.models import Invoice
from apps.notifications.kinds import kind_spec


def account_formatter(account: Account, currency: str | None = None) -> Formatter:
    return formatter_for(account, currency or account.currency)


def format_value(value: Any, formatter: Formatter, timezone_name: str) -> str:
    """Decimals as money in the account's currency, dates and times in its locale and zone."""
    if isinstance(value, Decimal):
        return formatter.money(value)
    if isinstance(value, dt.datetime):
        return format_datetime(value, "medium", tzinfo=ZoneInfo(timezone_name or "UTC"), locale=formatter.locale)
    if isinstance(value, dt.date):
        return formatter.date(value)
    if value is None:
        return ""
    return str(value)


def invoice_variables(invoice: Invoice, formatter: Formatter) -> dict[str, str]:
    overdue_days = (tenant_today() - invoice.due_date).days if invoice.due_date else 0
    return {
        "invoice_number": invoice.number or "",
        "invoice_total": formatter.money(invoice.total),
        "amount_due": formatter.money(invoice.amount_due),
        "issue_date": formatter.date(invoice.issue_date),
        "due_date": formatter.date(invoice.due_date),
        "days_overdue": str(max(overdue_days, 0)),
    }


def build_context(
    *,
    account: Account,
    kind: str,
    invoice: Invoice | None = None,
    extra: dict[str, Any] | None = None,
    profile: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Every variable the kind declares (blank when unknown), then the caller's values.

    Callers pass raw values: a Decimal is formatted as money in the invoice's (else the
    account's) currency, a date or datetime for the account's locale and timezone.
    `profile` is the tenant's `issuer()`, read here when not given (a batch reads it once).
    """
    spec = kind_spec(kind)
    formatter = account_formatter(account, invoice.currency if invoice else None)
    profile = profile if profile is not None else issuer()
    context: dict[str, str] = dict.fromkeys(spec.variable_names, "")
    context.update(
        {
            "account_name": account.name,
            "account_number": account.number,
            "company_name": profile["name"] or "",
            "support_email": profile["email"] or "",
            "amount_due": formatter.money(account.amount_due),
            "days_overdue": "0",
        }
    )
    if invoice is not None:
        context.update(invoice_variables(invoice, formatter))
    for name, value in (extra or {}).items():
        context[name] = format_value(value, formatter, account.timezone)
    return {name: value for name, value in context.items() if name in spec.variable_names or name in (extra or {})}
