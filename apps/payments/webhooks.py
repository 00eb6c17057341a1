"""Gateway webhooks into payments: verified, routed to the tenant, recorded once."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace
from typing import Literal

from django.db import transaction
from django_tenants.utils import schema_context

from apps.accounts.models import Account
from apps.accounts.services import account_lock
from apps.core.errors import DomainError
from apps.payments.charges import card_failure_record, card_payment_record, charge_attempt_resolve
from apps.payments.gateways import GatewayEvent, StripeGateway
from apps.payments.gateways.stripe_gateway import SIGNATURE_HEADER
from apps.payments.models import ChargeAttempt
from apps.tenants.models import Tenant

logger = logging.getLogger(__name__)

WebhookResult = Literal["recorded", "duplicate", "ignored", "rejected"]


@dataclass(frozen=True)
class WebhookOutcome:
    """What a webhook did: `recorded` a payment, `duplicate` (already recorded), `ignored`
    (not about our payments), or `rejected` (ours, but the ledger refused it; logged)."""

    result: WebhookResult
    detail: str = ""
    tenant: str = ""
    payment: str = ""


def stripe_webhook_ingest(payload: bytes, signature_header: str) -> WebhookOutcome:
    """Verify a Stripe webhook (the SDK checks the signature) and record its payment outcome in
    the tenant named by the PaymentIntent's metadata. Replays change nothing."""
    event = StripeGateway.from_settings().parse_webhook(payload, {SIGNATURE_HEADER: signature_header})
    if event.kind == "ignored":
        return WebhookOutcome("ignored", f"{event.event_type} is not handled")
    slug = event.metadata.get("tenant", "")
    tenant = Tenant.objects.filter(schema_name=slug).first() if slug else None
    if tenant is None:
        logger.warning("stripe webhook %s names no known tenant (%r); ignored", event.event_id, slug)
        return WebhookOutcome("ignored", "no tenant of ours in the payment's metadata")
    with schema_context(tenant.schema_name):
        outcome = gateway_event_apply(event=event, gateway=StripeGateway.name)
    return replace(outcome, tenant=tenant.schema_name)


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def gateway_event_apply(*, event: GatewayEvent, gateway: str) -> WebhookOutcome:
    """Record a verified gateway event in the current tenant's schema, at most once."""
    account_id = _uuid(event.metadata.get("account", ""))
    account = Account.objects.filter(pk=account_id).first() if account_id else None
    if account is None:
        logger.warning("%s webhook %s names no account of this tenant; ignored", gateway, event.event_id)
        return WebhookOutcome("ignored", "no account of this tenant in the payment's metadata")
    try:
        charge_id = _uuid(event.metadata.get("charge", ""))
        attempt = ChargeAttempt.objects.filter(pk=charge_id, account=account).first() if charge_id else None
        if attempt is not None:
            before = (attempt.status, attempt.payment_id)
            resolved = charge_attempt_resolve(attempt=attempt, result=event.result)
            changed = (resolved.status, resolved.payment_id) != before
            return WebhookOutcome("recorded" if changed else "duplicate", payment=str(resolved.payment_id or ""))
        return _apply_foreign(event=event, gateway=gateway, account=account)
    except DomainError as exc:
        # Ours, but the ledger refuses it (a closed account, another currency): retrying the
        # webhook cannot fix that, so it is logged for finance staff rather than retried.
        logger.error("%s webhook %s for account %s refused: %s", gateway, event.event_id, account.pk, exc.message)
        return WebhookOutcome("rejected", exc.message)


def _apply_foreign(*, event: GatewayEvent, gateway: str, account: Account) -> WebhookOutcome:
    """A payment made outside our charge flow (e.g. a checkout page) for one of our accounts."""
    result = event.result
    if result.amount is None:
        raise DomainError("the payment intent carries no amount")
    with transaction.atomic():
        locked = account_lock(account.pk)
        if event.kind == "payment_succeeded":
            invoice_id = _uuid(event.metadata.get("invoice", ""))
            payment, created = card_payment_record(
                account=locked,
                amount=result.amount,
                currency=event.currency,
                gateway=gateway,
                result=result,
                invoice=locked.invoices.filter(pk=invoice_id).first() if invoice_id else None,
                metadata={"event": event.event_id},
            )
        else:
            payment, created = card_failure_record(
                account=locked,
                amount=result.amount,
                currency=event.currency,
                gateway=gateway,
                result=result,
                # A PaymentIntent may fail several times: each failed charge (else each event) once.
                failure_reference=result.failed_charge_reference or event.event_id,
            )
    return WebhookOutcome("recorded" if created else "duplicate", payment=str(payment.pk))
