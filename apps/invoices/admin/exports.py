"""Invoice exports from the changelist: a streamed CSV and a zip of PDFs."""

from __future__ import annotations

import csv
import io
import logging
import zipfile
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone

from apps.core.money import money_str
from apps.core.tenancy import tenant_today
from apps.invoices.documents import invoice_pdf
from apps.invoices.models import Invoice

logger = logging.getLogger(__name__)

CSV_HEADER = [
    "number",
    "status",
    "account_number",
    "account_name",
    "account_external_id",
    "currency",
    "issue_date",
    "due_date",
    "days_overdue",
    "subtotal",
    "tax",
    "total",
    "amount_paid",
    "amount_credited",
    "amount_due",
    "finalized_at",
    "sent_at",
    "paid_at",
]
PDF_MAX_INVOICES = 100


class _Echo:
    """A file-like object whose write() hands the line back, for csv.writer in a stream."""

    def write(self, value: str) -> str:
        return value


def spreadsheet_safe(value: str) -> str:
    """Neutralise text a spreadsheet would run as a formula (CSV injection, CWE-1236)."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _iso(value: Any) -> str:
    return value.isoformat() if value else ""


def invoice_csv_rows(queryset: QuerySet[Invoice]) -> Iterator[list[str]]:
    yield CSV_HEADER
    today = tenant_today()
    rows = queryset.select_related("account").order_by("-created_at", "id").iterator(chunk_size=2000)
    for invoice in rows:
        currency = invoice.currency
        yield [
            invoice.number or "",
            invoice.status,
            invoice.account.number,
            spreadsheet_safe(invoice.account.name),
            spreadsheet_safe(invoice.account.external_id or ""),
            currency,
            _iso(invoice.issue_date),
            _iso(invoice.due_date),
            str(invoice.days_overdue(today)),
            money_str(invoice.subtotal, currency),
            money_str(invoice.tax, currency),
            money_str(invoice.total, currency),
            money_str(invoice.amount_paid, currency),
            money_str(invoice.amount_credited, currency),
            money_str(invoice.amount_due, currency),
            _iso(invoice.finalized_at),
            _iso(invoice.sent_at),
            _iso(invoice.paid_at),
        ]


def invoice_csv_response(queryset: QuerySet[Invoice]) -> StreamingHttpResponse:
    """Stream the invoices as CSV (amounts exact to the minor unit), however many there are."""
    writer = csv.writer(_Echo())
    filename = f"invoices-{timezone.now():%Y%m%d-%H%M%S}.csv"
    return StreamingHttpResponse(
        (writer.writerow(row) for row in invoice_csv_rows(queryset)),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def invoice_pdf_zip_response(
    model_admin: Any, request: HttpRequest, queryset: QuerySet[Invoice]
) -> HttpResponse | None:
    """A zip of the selected invoices' PDFs (apps.invoices.documents), reporting each invoice."""
    invoices = list(queryset.select_related("account").order_by("-created_at", "id")[: PDF_MAX_INVOICES + 1])
    if len(invoices) > PDF_MAX_INVOICES:
        model_admin.message_user(
            request, f"Select at most {PDF_MAX_INVOICES} invoices per PDF download; nothing was done.", messages.ERROR
        )
        return None
    buffer = io.BytesIO()
    written = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for invoice in invoices:
            try:
                content = invoice_pdf(invoice)
            except Exception as exc:  # a rendering failure of one invoice must not stop the others
                logger.exception("PDF of invoice %s failed", invoice.pk)
                model_admin.message_user(request, f"{invoice}: no PDF: {exc}", messages.ERROR)
                continue
            archive.writestr(f"{invoice.number or f'draft-{invoice.pk}'}.pdf", content)
            written += 1
            model_admin.message_user(request, f"{invoice}: PDF added", messages.SUCCESS)
    if not written:
        return None
    return HttpResponse(
        buffer.getvalue(),
        content_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="invoices-{timezone.now():%Y%m%d-%H%M%S}.zip"'},
    )
