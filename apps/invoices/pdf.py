"""An invoice as a PDF (weasyprint), from templates/invoices/invoice.html."""

from __future__ import annotations

from django.template.loader import render_to_string

from apps.accounts.models import BillingSettings
from apps.core.money import format_money
from apps.invoices.models import Invoice


def invoice_pdf(invoice: Invoice) -> bytes:
    """Render the invoice (its frozen account snapshot once finalized) to PDF bytes."""
    import weasyprint

    locale = invoice.account.locale or "en"
    lines = [
        {
            "line": line,
            "unit_price": format_money(line.unit_price, invoice.currency, locale),
            "total": format_money(line.total, invoice.currency, locale),
        }
        for line in invoice.lines.all()
    ]
    html = render_to_string(
        "invoices/invoice.html",
        {
            "invoice": invoice,
            "customer": invoice.account_snapshot or {"name": invoice.account.name, "number": invoice.account.number},
            "issuer": BillingSettings.load(),
            "lines": lines,
            "subtotal": format_money(invoice.subtotal, invoice.currency, locale),
            "tax": format_money(invoice.tax, invoice.currency, locale),
            "total": format_money(invoice.total, invoice.currency, locale),
            "amount_due": format_money(invoice.amount_due, invoice.currency, locale),
        },
    )
    return bytes(weasyprint.HTML(string=html).write_pdf())
