"""Admin report pages on a tenant host: the AR aging.

Thin views over selectors (apps.invoices.selectors.ar_aging); mounted under /admin/reports/
behind `admin.site.admin_view` (staff login), each checking its permissions. Account
statements are the documents' (apps.payments.views, /documents/accounts/<id>/statement/).
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import urlencode

from apps.core.admin_support import money_text
from apps.core.tenancy import tenant_today
from apps.invoices.selectors import OVERDUE_BUCKETS, ar_aging


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
