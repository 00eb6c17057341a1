"""HTTP entry points of payments: the Stripe webhook (public host)."""

from __future__ import annotations

from dataclasses import asdict

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from apps.core.errors import DomainError
from apps.payments.gateways import GatewayNotConfigured, WebhookSignatureInvalid
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
