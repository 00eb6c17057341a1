"""`{% billing_dashboard %}`: the finance figures on the admin home (templates/admin/index.html)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import template
from django.urls import reverse
from django.utils.http import urlencode

from apps.core.admin_support import money_text
from apps.core.tenancy import current_tenant
from apps.payments.dashboard import CurrencyFigures, dashboard_figures

register = template.Library()

# Chart geometry (pixels): 12 month groups of two bars.
CHART_LEFT, GROUP_WIDTH, BAR_WIDTH, PLOT_HEIGHT, PLOT_TOP = 8, 46, 17, 120, 10


def _bar_height(value: Decimal, peak: Decimal) -> int:
    if peak <= 0 or value <= 0:
        return 0
    return max(int(value * PLOT_HEIGHT / peak), 1)


def trend_chart(figure: CurrencyFigures, months: list[dt.date]) -> dict[str, Any]:
    """Bars of invoiced vs collected per month, scaled to the largest, for an inline SVG."""
    peak = max((max(billed, received) for billed, received in figure.trend.values()), default=Decimal(0))
    bottom = PLOT_TOP + PLOT_HEIGHT
    groups = []
    for index, month in enumerate(months):
        billed, received = figure.trend[month]
        x = CHART_LEFT + index * GROUP_WIDTH
        billed_height, received_height = _bar_height(billed, peak), _bar_height(received, peak)
        groups.append(
            {
                "label": month.strftime("%b"),
                "label_x": x + BAR_WIDTH,
                "billed": {
                    "x": x,
                    "y": bottom - billed_height,
                    "h": billed_height,
                    "text": money_text(billed, figure.currency),
                },
                "received": {
                    "x": x + BAR_WIDTH + 2,
                    "y": bottom - received_height,
                    "h": received_height,
                    "text": money_text(received, figure.currency),
                },
                "month": month.strftime("%B %Y"),
            }
        )
    return {
        "groups": groups,
        "width": CHART_LEFT * 2 + GROUP_WIDTH * len(months),
        "height": bottom + 22,
        "bottom": bottom,
        "label_y": bottom + 15,
        "bar_width": BAR_WIDTH,
        "peak": money_text(peak, figure.currency),
    }


@register.inclusion_tag("admin/billing/dashboard.html", takes_context=True)
def billing_dashboard(context: template.Context) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if current_tenant() is None or user is None or not user.has_perm("invoices.view_invoice"):
        return {"show": False}
    dashboard = dashboard_figures()
    invoices = reverse("admin:invoices_invoice_changelist")
    cards = []
    for figure in dashboard.currencies:
        cards.append(
            {
                "currency": figure.currency,
                "open": money_text(figure.open_receivables, figure.currency),
                "open_count": figure.open_count,
                "open_url": f"{invoices}?{urlencode({'status__exact': 'open', 'currency': figure.currency})}",
                "overdue": money_text(figure.overdue, figure.currency),
                "overdue_count": figure.overdue_count,
                "collected": money_text(figure.collected_this_month, figure.currency),
                "collected_count": figure.collected_count,
                "chart": trend_chart(figure, dashboard.months),
            }
        )
    links = [("AR aging report", reverse("reports:aging"))]
    if user.has_perm("payments.add_payment"):
        links.append(("Record a payment", reverse("admin:payments_payment_add")))
    if user.has_perm("invoices.add_invoice"):
        links.append(("New invoice", reverse("admin:invoices_invoice_add")))
    if user.has_perm("accounts.add_account"):
        links.append(("New account", reverse("admin:accounts_account_add")))
    links.append(("Overdue invoices (90+ days)", f"{invoices}?overdue=90_plus"))
    links.append(("Failed payments", f"{reverse('admin:payments_payment_changelist')}?status__exact=failed"))
    return {
        "show": True,
        "today": dashboard.today,
        "month": dashboard.months[-1],
        "cards": cards,
        "links": links,
    }
