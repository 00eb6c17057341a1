"""Admin report pages on a tenant host: the AR aging and an account's statement.

Thin views over selectors (apps.invoices.selectors.ar_aging, apps.payments.selectors); mounted
under /admin/reports/ behind `admin.site.admin_view` (staff login), each checking its permissions.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import urlencode

from apps.accounts.models import Account
from apps.core.admin_support import money_text
from apps.core.errors import ValidationFailed
from apps.core.tenancy import tenant_today
from apps.invoices.selectors import OVERDUE_BUCKETS, ar_aging
from apps.payments.selectors import KIND_LABELS, account_statement


def _require(request: HttpRequest, *perms: str) -> None:
    if not all(request.user.has_perm(perm) for perm in perms):
        raise PermissionDenied


def aging_report(request: HttpRequest) -> TemplateResponse:
    """Open receivables per currency and overdue bucket, each cell linked to its invoices."""
    _require(request, "invoices.view_invoice")
    today = tenant_today()
    changelist = reverse("admin:invoices_invoice_changelist")
    table = []
    for row in ar_aging(today=today):
        cells = [
            {
                "key": bucket.key,
                "amount": row.buckets[bucket.key],
                "text": money_text(row.buckets[bucket.key], row.currency),
                "count": row.counts[bucket.key],
                "url": f"{changelist}?{urlencode({'overdue': bucket.key, 'currency': row.currency})}",
            }
            for bucket in OVERDUE_BUCKETS
        ]
        table.append(
            {
                "row": row,
                "cells": cells,
                "total": money_text(row.total, row.currency),
                "total_url": f"{changelist}?{urlencode({'status__exact': 'open', 'currency': row.currency})}",
                "credit": money_text(row.credit, row.currency),
                "net": money_text(row.net, row.currency),
            }
        )
    context = {
        **admin.site.each_context(request),
        "title": "Accounts receivable aging",
        "today": today,
        "buckets": OVERDUE_BUCKETS,
        "table": table,
        "rows": [entry["row"] for entry in table],
    }
    return TemplateResponse(request, "admin/reports/aging.html", context)


class StatementPeriodForm(forms.Form):
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))


def default_statement_period(today: dt.date) -> tuple[dt.date, dt.date]:
    """The current month and the two before it."""
    index = today.year * 12 + today.month - 1 - 2
    return dt.date(index // 12, index % 12 + 1, 1), today


def statement_view(request: HttpRequest, account_id: Any) -> TemplateResponse:
    """An account's statement for a period (`?start=YYYY-MM-DD&end=YYYY-MM-DD`) as an admin page."""
    _require(request, "accounts.view_account", "invoices.view_invoice", "payments.view_payment")
    account = get_object_or_404(Account, pk=account_id)
    start, end = default_statement_period(tenant_today())
    form = StatementPeriodForm(request.GET or {"start": start, "end": end})
    statement = None
    if form.is_valid():
        start = form.cleaned_data.get("start") or start
        end = form.cleaned_data.get("end") or end
        try:
            statement = account_statement(account, start, end)
        except ValidationFailed as exc:
            form.add_error(None, exc.message)
    entries = []
    if statement is not None:
        for entry in statement.entries:
            app_label, model_name = entry.model.split(".")
            entries.append(
                {
                    "entry": entry,
                    "kind": KIND_LABELS[entry.kind],
                    "url": reverse(f"admin:{app_label}_{model_name}_change", args=[entry.object_id]),
                    "debit": money_text(entry.amount, account.currency) if entry.amount > 0 else "",
                    "credit": money_text(-entry.amount, account.currency) if entry.amount < 0 else "",
                    "balance": money_text(entry.balance, account.currency),
                }
            )
    context = {
        **admin.site.each_context(request),
        "title": f"Statement of {account}",
        "account": account,
        "account_url": reverse("admin:accounts_account_change", args=[account.pk]),
        "form": form,
        "statement": statement,
        "entries": entries,
        "opening": money_text(statement.opening_balance, account.currency) if statement else "",
        "closing": money_text(statement.closing_balance, account.currency) if statement else "",
    }
    return TemplateResponse(request, "admin/reports/statement.html", context)
