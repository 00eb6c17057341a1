"""HTTP entry points of payments: the Stripe webhook (public host) and account statements (tenant host)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import asdict

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from apps.accounts.models import Account
from apps.core.errors import DomainError, ValidationFailed
from apps.core.tenancy import tenant_today
from apps.invoices.views import pdf_response, staff_document_view
from apps.payments.documents import statement_html, statement_pdf
from apps.payments.gateways import GatewayNotConfigured, WebhookSignatureInvalid
from apps.payments.selectors import account_statement
from apps.payments.webhooks import stripe_webhook_ingest


def _problem(error: DomainError, status: int) -> JsonResponse:
    return JsonResponse(
        {"type": "about:blank", "title": error.code, "status": status, "detail": error.message},
        status=status,
        content_type="application/problem+json",
    )


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    """POST /webhooks/stripe/: 400 when the signature does not verify, else 200 (also for replays)."""
    try:
        outcome = stripe_webhook_ingest(request.body, request.headers.get("Stripe-Signature", ""))
    except WebhookSignatureInvalid as exc:
        return _problem(exc, 400)
    except GatewayNotConfigured as exc:
        return _problem(exc, 503)
    return JsonResponse(asdict(outcome), status=200)


@staff_document_view("accounts.view_account")
def account_statement_document(request: HttpRequest, account_id: uuid.UUID) -> HttpResponse:
    """GET /documents/accounts/<id>/statement/?start=&end=[&format=pdf]: this month to date by default."""
    account = get_object_or_404(Account, pk=account_id)
    today = tenant_today()
    try:
        start = _date_param(request, "start", today.replace(day=1))
        end = _date_param(request, "end", today)
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc))
    try:
        statement = account_statement(account=account, start=start, end=end)
    except ValidationFailed as exc:
        return HttpResponseBadRequest(exc.message)
    if request.GET.get("format") == "pdf":
        return pdf_response(statement_pdf(statement), f"statement-{account.number}-{start}-{end}.pdf")
    return HttpResponse(statement_html(statement))


def _date_param(request: HttpRequest, name: str, default: dt.date) -> dt.date:
    value = request.GET.get(name)
    if not value:
        return default
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{name} must be a date (YYYY-MM-DD)") from exc
