"""The payment gateway interface: charge a saved method off-session; read a verified webhook.

Gateways speak in normalised results (`ChargeResult`, `GatewayEvent`) so the services that
record payments never see a provider's objects.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from apps.core.errors import DomainError

ChargeOutcome = Literal["succeeded", "failed", "pending"]
EventKind = Literal["payment_succeeded", "payment_failed", "ignored"]


class GatewayError(DomainError):
    """The gateway refused the request for a reason that retrying will not fix (bad key, bad setup)."""

    status = 502
    code = "gateway_error"


class GatewayUnavailable(GatewayError):
    """The gateway could not be reached or answered with a server error: retry the same charge."""

    status = 503
    code = "gateway_unavailable"


class GatewayNotConfigured(GatewayError):
    """The gateway's credentials are not set on this deployment."""

    status = 503
    code = "gateway_not_configured"


class ChargeNotSupported(DomainError):
    """This gateway cannot charge a saved method (manual payments are recorded by staff)."""

    status = 409
    code = "charge_not_supported"


class WebhookSignatureInvalid(DomainError):
    """A webhook whose signature (or timestamp) does not verify: it did not come from the gateway."""

    code = "invalid_signature"


@dataclass(frozen=True)
class ChargeRequest:
    """An off-session charge of a saved method, in the invoice currency."""

    amount: Decimal
    currency: str
    customer_reference: str
    payment_method_reference: str
    idempotency_key: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class ChargeResult:
    """What the gateway says about a charge.

    `pending` means the gateway accepted it but settles later (its webhook brings the outcome).
    `amount` is what was received (succeeded) or attempted (failed), when the gateway says.
    """

    status: ChargeOutcome
    reference: str = ""
    amount: Decimal | None = None
    failure_code: str = ""
    failure_message: str = ""
    failed_charge_reference: str = ""


@dataclass(frozen=True)
class GatewayEvent:
    """A verified webhook, normalised: which payment it concerns and what happened to it."""

    event_id: str
    event_type: str
    kind: EventKind
    result: ChargeResult
    currency: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)


class PaymentGateway(abc.ABC):
    """A payment provider as the payments app uses it."""

    name: str

    @abc.abstractmethod
    def charge(self, request: ChargeRequest) -> ChargeResult:
        """Charge a saved payment method without the customer present.

        A decline is a `failed` result, not an exception; `GatewayUnavailable` means "retry
        with the same idempotency key".
        """

    @abc.abstractmethod
    def parse_webhook(self, payload: bytes, headers: Mapping[str, str]) -> GatewayEvent:
        """Verify a webhook's signature and normalise it; raise WebhookSignatureInvalid if it fails."""
