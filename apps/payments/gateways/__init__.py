"""Payment gateways: `get_gateway(name)` returns the adapter for a gateway name."""

from __future__ import annotations

from apps.core.errors import ValidationFailed
from apps.payments.gateways.base import (
    ChargeNotSupported,
    ChargeRequest,
    ChargeResult,
    GatewayError,
    GatewayEvent,
    GatewayNotConfigured,
    GatewayUnavailable,
    PaymentGateway,
    WebhookSignatureInvalid,
)
from apps.payments.gateways.manual import ManualGateway
from apps.payments.gateways.stripe_gateway import StripeGateway

__all__ = [
    "ChargeNotSupported",
    "ChargeRequest",
    "ChargeResult",
    "GatewayError",
    "GatewayEvent",
    "GatewayNotConfigured",
    "GatewayUnavailable",
    "ManualGateway",
    "PaymentGateway",
    "StripeGateway",
    "WebhookSignatureInvalid",
    "get_gateway",
]


def get_gateway(name: str) -> PaymentGateway:
    """The adapter for `name`, configured from settings."""
    if name == ManualGateway.name:
        return ManualGateway()
    if name == StripeGateway.name:
        return StripeGateway.from_settings()
    raise ValidationFailed(f"unknown payment gateway {name!r}", field="gateway")
