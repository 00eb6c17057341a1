"""Stripe through its official SDK: off-session PaymentIntents and signed webhooks.

`STRIPE_API_BASE` points the SDK at another API host (a local fake in tests).
Amounts go to Stripe in the currency's minor unit (kobo, cents; yen as is; BHD in fils),
from the same ISO 4217 data as apps.core.money.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import stripe
from django.conf import settings

from apps.core.metrics import observe_http_call
from apps.core.money import currency_precision, quantize
from apps.payments.gateways.base import (
    ChargeRequest,
    ChargeResult,
    EventKind,
    GatewayError,
    GatewayEvent,
    GatewayNotConfigured,
    GatewayUnavailable,
    PaymentGateway,
    WebhookSignatureInvalid,
)

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "Stripe-Signature"
EVENT_KINDS: dict[str, EventKind] = {
    "payment_intent.succeeded": "payment_succeeded",
    "payment_intent.payment_failed": "payment_failed",
}
# Stripe errors worth retrying with the same idempotency key (network, 5xx, rate limit).
TRANSIENT_ERRORS = (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError)


def to_minor_units(amount: Decimal, currency: str) -> int:
    """25000.00 NGN -> 2500000 (kobo)."""
    exact = quantize(amount, currency)
    if exact != amount:
        raise ValueError(f"{amount} is not exact in {currency}")
    return int(exact.scaleb(currency_precision(currency)))


def from_minor_units(value: int, currency: str) -> Decimal:
    """2500000 kobo -> Decimal('25000.00')."""
    return quantize(Decimal(value).scaleb(-currency_precision(currency)), currency)


class StripeGateway(PaymentGateway):
    """Charges saved cards with confirmed, off-session PaymentIntents."""

    name = "stripe"

    def __init__(
        self, *, api_key: str, webhook_secret: str = "", api_base: str = "", max_network_retries: int = 2
    ) -> None:
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.api_base = api_base
        self.max_network_retries = max_network_retries

    @classmethod
    def from_settings(cls) -> StripeGateway:
        return cls(
            api_key=settings.STRIPE_API_KEY,
            webhook_secret=settings.STRIPE_WEBHOOK_SECRET,
            api_base=settings.STRIPE_API_BASE,
            max_network_retries=settings.STRIPE_MAX_NETWORK_RETRIES,
        )

    def _client(self) -> stripe.StripeClient:
        if not self.api_key:
            raise GatewayNotConfigured("STRIPE_API_KEY is not set")
        return stripe.StripeClient(
            self.api_key,
            base_addresses={"api": self.api_base} if self.api_base else None,
            max_network_retries=self.max_network_retries,
            http_client=stripe.new_default_http_client(timeout=30),
        )

    def charge(self, request: ChargeRequest) -> ChargeResult:
        params: Any = {
            "amount": to_minor_units(request.amount, request.currency),
            "currency": request.currency.lower(),
            "customer": request.customer_reference,
            "payment_method": request.payment_method_reference,
            "confirm": True,
            "off_session": True,
            "metadata": dict(request.metadata),
        }
        if request.description:
            params["description"] = request.description
        try:
            with observe_http_call("stripe") as call:
                try:
                    intent = self._client().v1.payment_intents.create(
                        params, {"idempotency_key": request.idempotency_key}
                    )
                    call.status_code = 200
                except stripe.StripeError as exc:
                    # A declined card is an answer (402), not a network failure.
                    call.status_code = exc.http_status
                    raise
        except stripe.CardError as exc:
            return _declined(exc)
        except stripe.InvalidRequestError as exc:
            # Stripe's verdict on this charge (a detached or unknown payment method): retrying
            # with the same key replays it, so it is the attempt's outcome.
            error = _error_body(exc)
            return ChargeResult(
                status="failed",
                reference=((error.get("payment_intent") or {}).get("id") or ""),
                failure_code=exc.code or "invalid_request",
                failure_message=str(error.get("message") or exc.user_message or "")[:500],
            )
        except TRANSIENT_ERRORS as exc:
            raise GatewayUnavailable(f"Stripe did not complete the charge: {exc.user_message or exc}") from exc
        except stripe.StripeError as exc:
            raise GatewayError(f"Stripe refused the request: {exc.user_message or exc}") from exc
        return intent_result(intent.to_dict())

    def parse_webhook(self, payload: bytes, headers: Mapping[str, str]) -> GatewayEvent:
        if not self.webhook_secret:
            raise GatewayNotConfigured("STRIPE_WEBHOOK_SECRET is not set")
        signature = headers.get(SIGNATURE_HEADER) or ""
        try:
            event = stripe.Webhook.construct_event(payload, signature, self.webhook_secret)
        except (stripe.SignatureVerificationError, ValueError) as exc:
            raise WebhookSignatureInvalid(f"the Stripe signature does not verify: {exc}") from exc
        body = event.to_dict()
        kind = EVENT_KINDS.get(body.get("type", ""), "ignored")
        intent = (body.get("data") or {}).get("object") or {}
        if intent.get("object") != "payment_intent":
            kind = "ignored"
        return GatewayEvent(
            event_id=str(body.get("id", "")),
            event_type=str(body.get("type", "")),
            kind=kind,
            result=intent_result(intent) if kind != "ignored" else ChargeResult(status="pending"),
            currency=str(intent.get("currency") or "").upper(),
            metadata={str(key): str(value) for key, value in (intent.get("metadata") or {}).items()},
        )


def intent_result(intent: Mapping[str, Any]) -> ChargeResult:
    """Normalise a PaymentIntent (as a dict) into the outcome of our charge."""
    status = intent.get("status")
    reference = str(intent.get("id") or "")
    currency = str(intent.get("currency") or "").upper()
    if status == "succeeded":
        received = intent.get("amount_received") or intent.get("amount") or 0
        return ChargeResult(status="succeeded", reference=reference, amount=from_minor_units(int(received), currency))
    if status == "processing":
        return ChargeResult(status="pending", reference=reference)
    error = intent.get("last_payment_error") or {}
    code = error.get("code") or ("authentication_required" if status == "requires_action" else f"intent_{status}")
    return ChargeResult(
        status="failed",
        reference=reference,
        amount=_attempted_amount(intent),
        failure_code=str(code),
        failure_message=_failure_message(error),
        failed_charge_reference=str(error.get("charge") or ""),
    )


def _error_body(exc: stripe.StripeError) -> dict[str, Any]:
    body = exc.json_body if isinstance(exc.json_body, dict) else {}
    error = body.get("error")
    return error if isinstance(error, dict) else {}


def _attempted_amount(intent: Mapping[str, Any]) -> Decimal | None:
    if not intent.get("amount") or not intent.get("currency"):
        return None
    return from_minor_units(int(intent["amount"]), str(intent["currency"]).upper())


def _declined(exc: stripe.CardError) -> ChargeResult:
    error = _error_body(exc)
    intent = error.get("payment_intent") or {}
    return ChargeResult(
        status="failed",
        reference=str(intent.get("id") or ""),
        amount=_attempted_amount(intent),
        failure_code=str(error.get("code") or exc.code or "card_declined"),
        failure_message=_failure_message(error),
        failed_charge_reference=str(error.get("charge") or ""),
    )


def _failure_message(error: Mapping[str, Any]) -> str:
    message = str(error.get("message") or "")
    decline_code = error.get("decline_code")
    if decline_code:
        message = f"{message} ({decline_code})" if message else str(decline_code)
    return message[:500]
