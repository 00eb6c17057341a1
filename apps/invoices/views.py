"""Invoice documents for finance staff on the tenant host (login required)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse

from apps.invoices.documents import invoice_html, invoice_pdf
from apps.invoices.models import Invoice

View = Callable[..., HttpResponse]


def staff_document_view(permission: str) -> Callable[[View], View]:
    """Staff of this tenant only: anonymous users go to the admin login, staff without
    `permission` get 403. Each tenant's users live in its own schema, so another tenant's
    ids simply do not exist here (404)."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path(), reverse("admin:login"))
            if not (user.is_active and user.is_staff and user.has_perm(permission)):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def pdf_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def _invoice(invoice_id: uuid.UUID) -> Invoice:
    return get_object_or_404(Invoice.objects.select_related("account"), pk=invoice_id)


@staff_document_view("invoices.view_invoice")
def invoice_document(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    """GET /documents/invoices/<id>/: the invoice as HTML."""
    return HttpResponse(invoice_html(_invoice(invoice_id)))


@staff_document_view("invoices.view_invoice")
def invoice_document_pdf(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    """GET /documents/invoices/<id>/pdf/: the invoice as a PDF."""
    invoice = _invoice(invoice_id)
    return pdf_response(invoice_pdf(invoice), f"{invoice.number or f'draft-{invoice.pk}'}.pdf")
