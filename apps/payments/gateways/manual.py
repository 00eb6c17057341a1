"""The manual gateway: money that staff record by hand (bank transfers, cash, mobile money)."""

from __future__ import annotations

from collections.abc import Mapping

from apps.payments.gateways.base import ChargeNotSupported, ChargeRequest, ChargeResult, GatewayEvent, PaymentGateway


class ManualGateway(PaymentGateway):
    """Nothing to call: payments arrive through `payment_record`, so there is nothing to charge
    off-session and no webhook to read."""

    name = "manual"

    def charge(self, request: ChargeRequest) -> ChargeResult:
        raise ChargeNotSupported("manual payments are recorded by staff; there is no saved method to charge")

    def parse_webhook(self, payload: bytes, headers: Mapping[str, str]) -> GatewayEvent:
        raise ChargeNotSupported("the manual gateway sends no webhooks")
