"""Invoices through the services: drafts, finalized (open) invoices."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from apps.accounts.models import Account
from apps.invoices.models import Invoice, TaxRate
from apps.invoices.services import LineInput, invoice_create, invoice_finalize


def draft_invoice(
    account: Account,
    *amounts: str,
    tax_rate: TaxRate | None = None,
    due_date: dt.date | None = None,
) -> Invoice:
    lines = [
        LineInput(description=f"Fibre plan, month {i + 1}", unit_price=Decimal(amount), tax_rate=tax_rate)
        for i, amount in enumerate(amounts or ("25000.00",))
    ]
    return invoice_create(account=account, lines=lines, due_date=due_date)


def open_invoice(account: Account, *amounts: str, due_date: dt.date | None = None) -> Invoice:
    return invoice_finalize(invoice=draft_invoice(account, *amounts, due_date=due_date))
