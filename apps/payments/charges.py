"""Charging saved payment methods off-session, and recording what the gateway says happened.

Retry safety: a ChargeAttempt row is written before the gateway is called and its id is the
gateway's idempotency key. An account has at most one attempt in flight (a DB constraint);
a call while one is pending finishes that one with the same key, so a retried task, a crash
after Stripe charged but before we recorded, or two racing dunning runs all end in one
charge and one Payment. Call these services outside a transaction, so that the attempt is
committed before the network call.

Lock order (shared with the ledger): the account row, then the attempt, then what
payment_record locks.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Account, AccountStatus
from apps.accounts.services import account_lock
from apps.core.actors import Actor, actor_label, require_permission
from apps.core.errors import InvalidTransition, NotFound, ValidationFailed
from apps.core.money import money_str
from apps.core.tenancy import current_schema
from apps.events.services import publish
from apps.invoices.models import Invoice, InvoiceStatus
from apps.payments.gateways import (
    ChargeNotSupported,
    ChargeRequest,
    ChargeResult,
    GatewayError,
    GatewayUnavailable,
    get_gateway,
)
from apps.payments.models import (
    ChargeAttempt,
    ChargeStatus,
    Payment,
    PaymentMethod,
    PaymentMethodOnFile,
    PaymentStatus,
)
from apps.payments.services import AllocationInput, _amount, payment_record, payment_record_failed

logger = logging.getLogger(__name__)

# Stripe keeps an idempotency key for 24 hours; after that the same key would make a new
# charge, so an attempt still pending by then is closed (its webhook still records it).
IDEMPOTENCY_WINDOW = dt.timedelta(hours=23)
KNOWN_GATEWAYS = ("stripe", "manual")


def payment_method_save(
    *,
    account: Account,
    customer_reference: str,
    payment_method_reference: str,
    gateway: str = "stripe",
    brand: str = "",
    last4: str = "",
    make_default: bool = True,
    actor: Actor | None = None,
) -> PaymentMethodOnFile:
    """Keep a gateway customer's saved method on file for the account (the default one is charged)."""
    require_permission(actor, "payments.add_paymentmethodonfile", "save payment methods")
    if gateway not in KNOWN_GATEWAYS:
        raise ValidationFailed(f"gateway must be one of {', '.join(KNOWN_GATEWAYS)}", field="gateway")
    customer_reference, payment_method_reference = customer_reference.strip(), payment_method_reference.strip()
    if not customer_reference:
        raise ValidationFailed("the gateway's customer id is required", field="customer_reference")
    if not payment_method_reference:
        raise ValidationFailed("the gateway's payment method id is required", field="payment_method_reference")
    with transaction.atomic():
        locked = account_lock(account.pk)
        method = PaymentMethodOnFile.objects.filter(
            gateway=gateway, payment_method_reference=payment_method_reference
        ).first()
        if method is not None and method.account_id != locked.pk:
            raise ValidationFailed("that payment method belongs to another account", field="payment_method_reference")
        others = PaymentMethodOnFile.objects.filter(account=locked, is_default=True)
        if method is not None:
            others = others.exclude(pk=method.pk)
        make_default = make_default or not others.exists()
        if make_default:
            others.update(is_default=False)
        method = method or PaymentMethodOnFile(
            account=locked, gateway=gateway, payment_method_reference=payment_method_reference
        )
        method.customer_reference = customer_reference
        method.brand, method.last4 = brand[:30], last4[-4:]
        method.is_default = make_default or method.is_default
        method.save()
        publish(
            "payment_method.saved",
            str(method.id),
            {
                "payment_method": str(method.id),
                "account": str(locked.pk),
                "gateway": gateway,
                "brand": method.brand,
                "last4": method.last4,
                "is_default": method.is_default,
            },
        )
    return method


def payment_charge_saved_method(
    *,
    account: Account,
    invoice: Invoice | None = None,
    amount: Any = None,
    actor: Actor | None = None,
) -> ChargeAttempt:
    """Charge the account's default saved method off-session and record the outcome as a Payment.

    The amount is `amount`, else the invoice's amount due, else the account's balance. A
    decline is a recorded failed payment, not an exception. If a charge of the account is
    still in flight, that one is finished instead (same key: never a second charge).
    Raises GatewayUnavailable when the outcome is unknown: call again to retry the same charge.
    """
    require_permission(actor, "payments.add_payment", "charge saved payment methods")
    attempt = _attempt_for(account=account, invoice=invoice, amount=amount, actor=actor)
    method = attempt.payment_method
    try:
        result = get_gateway(attempt.gateway).charge(
            ChargeRequest(
                amount=attempt.amount,
                currency=attempt.currency,
                customer_reference=method.customer_reference,
                payment_method_reference=method.payment_method_reference,
                idempotency_key=attempt.idempotency_key,
                metadata=charge_metadata(attempt),
                description=_description(attempt),
            )
        )
    except GatewayUnavailable:
        raise  # outcome unknown: the attempt stays pending and a retry replays the same key
    except (GatewayError, ChargeNotSupported) as exc:
        # Refused before anything was charged (bad credentials, manual gateway).
        _close_unsent(attempt, exc.code, exc.message)
        raise
    return charge_attempt_resolve(attempt=attempt, result=result, actor=actor)


def charge_metadata(attempt: ChargeAttempt) -> dict[str, str]:
    """What we put on the gateway's payment: its webhook finds the tenant and the attempt by it."""
    return {
        "tenant": current_schema(),
        "account": str(attempt.account_id),
        "invoice": str(attempt.invoice_id or ""),
        "charge": str(attempt.id),
    }


def _description(attempt: ChargeAttempt) -> str:
    if attempt.invoice is not None:
        return f"Invoice {attempt.invoice.number}"
    return f"Account {attempt.account.number}"


def _charge_amount(account: Account, invoice: Invoice | None, amount: Any) -> tuple[Decimal, Invoice | None]:
    requested = _amount(amount, account.currency) if amount is not None else None
    if invoice is None:
        due = account.balance
        if requested is None:
            requested = due
        if requested <= 0:
            raise InvalidTransition(f"account {account.number} owes nothing", code="nothing_due")
        return requested, None
    current = Invoice.objects.filter(pk=invoice.pk, account=account).first()
    if current is None:
        raise NotFound("no such invoice on this account")
    if current.status != InvoiceStatus.OPEN or current.amount_due <= 0:
        raise InvalidTransition(f"invoice {current} is {current.status}; nothing is due on it", code="nothing_due")
    if requested is None:
        requested = current.amount_due
    if requested > current.amount_due:
        raise ValidationFailed(
            f"{money_str(requested, current.currency)} {current.currency} is more than the "
            f"{money_str(current.amount_due, current.currency)} due on invoice {current}",
            field="amount",
        )
    return requested, current


def _attempt_for(*, account: Account, invoice: Invoice | None, amount: Any, actor: Actor | None) -> ChargeAttempt:
    """The account's charge in flight (to be finished with its own key), or a new one."""
    with transaction.atomic():
        # The account lock serialises every attempt of one account (and its money movements).
        locked = account_lock(account.pk)
        pending = ChargeAttempt.objects.filter(account=locked, status=ChargeStatus.PENDING).first()
        if pending is not None:
            if timezone.now() - pending.created_at < IDEMPOTENCY_WINDOW:
                return ChargeAttempt.objects.select_related("payment_method", "invoice", "account").get(pk=pending.pk)
            pending.status = ChargeStatus.FAILED
            pending.failure_code = "expired"
            pending.failure_message = "no outcome within the gateway's idempotency window"
            pending.resolved_at = timezone.now()
            pending.save(update_fields=["status", "failure_code", "failure_message", "resolved_at"])
        if locked.status == AccountStatus.CLOSED:
            raise InvalidTransition("the account is closed")
        method = PaymentMethodOnFile.objects.filter(account=locked, is_default=True).first()
        if method is None:
            raise ValidationFailed("the account has no saved payment method", code="no_payment_method")
        charge_amount, current_invoice = _charge_amount(locked, invoice, amount)
        attempt_id = uuid.uuid4()
        attempt = ChargeAttempt.objects.create(
            id=attempt_id,
            account=locked,
            invoice=current_invoice,
            payment_method=method,
            gateway=method.gateway,
            currency=locked.currency,
            amount=charge_amount,
            idempotency_key=f"{current_schema()}-charge-{attempt_id}",
            created_by=actor_label(actor),
        )
    return attempt


def _close_unsent(attempt: ChargeAttempt, code: str, message: str) -> None:
    ChargeAttempt.objects.filter(pk=attempt.pk, status=ChargeStatus.PENDING).update(
        status=ChargeStatus.FAILED, failure_code=code, failure_message=message[:500], resolved_at=timezone.now()
    )


def charge_attempt_resolve(
    *, attempt: ChargeAttempt, result: ChargeResult, actor: Actor | None = None
) -> ChargeAttempt:
    """Record a gateway's outcome for an attempt once: a Payment (succeeded or failed).

    Both the charge call and the gateway's webhook come here; the second to arrive finds the
    attempt resolved and changes nothing.
    """
    with transaction.atomic():
        account = account_lock(attempt.account_id)
        locked = ChargeAttempt.objects.select_for_update().get(pk=attempt.pk)
        if result.reference and not locked.gateway_reference:
            locked.gateway_reference = result.reference
            locked.save(update_fields=["gateway_reference"])
        if result.status == "pending" or locked.status == ChargeStatus.SUCCEEDED:
            return locked
        if result.status == "failed":
            if locked.status == ChargeStatus.FAILED:
                return locked
            locked.payment = _record_failure(account, locked, result, actor)
            locked.status = ChargeStatus.FAILED
            locked.failure_code, locked.failure_message = result.failure_code, result.failure_message
        else:
            # Also when the attempt was closed as failed or expired: the money was taken after all.
            locked.payment = _record_success(account, locked, result, actor)
            locked.status = ChargeStatus.SUCCEEDED
            locked.failure_code = locked.failure_message = ""
        locked.resolved_at = timezone.now()
        locked.save()
    return locked


def _record_success(account: Account, attempt: ChargeAttempt, result: ChargeResult, actor: Actor | None) -> Payment:
    amount = result.amount if result.amount is not None else attempt.amount
    payment, _created = card_payment_record(
        account=account,
        amount=amount,
        currency=attempt.currency,
        gateway=attempt.gateway,
        result=result,
        invoice=attempt.invoice,
        metadata={"charge": str(attempt.id)},
        actor=actor,
    )
    return payment


def _record_failure(account: Account, attempt: ChargeAttempt, result: ChargeResult, actor: Actor | None) -> Payment:
    payment, _created = card_failure_record(
        account=account,
        amount=attempt.amount,
        currency=attempt.currency,
        gateway=attempt.gateway,
        result=result,
        # A PaymentIntent can fail more than once; each failed charge has its own id.
        failure_reference=result.failed_charge_reference,
        actor=actor,
    )
    return payment


def card_payment_record(
    *,
    account: Account,
    amount: Decimal,
    currency: str,
    gateway: str,
    result: ChargeResult,
    invoice: Invoice | None,
    metadata: dict[str, str],
    actor: Actor | None = None,
) -> tuple[Payment, bool]:
    """Record a gateway's successful card payment once (keyed by its reference): (payment, created).

    The caller holds the account lock, so the look-up and the insert cannot interleave.
    """
    existing = Payment.objects.filter(
        gateway=gateway, gateway_reference=result.reference, status=PaymentStatus.SUCCEEDED
    ).first()
    if existing is not None:
        return existing, False
    payment = payment_record(
        account=account,
        amount=amount,
        currency=currency,
        method=PaymentMethod.CARD,
        gateway=gateway,
        gateway_reference=result.reference,
        allocations=allocation_to(invoice, amount),
        metadata={**metadata, "payment_intent": result.reference},
        actor=actor,
    )
    return payment, True


def card_failure_record(
    *,
    account: Account,
    amount: Decimal,
    currency: str,
    gateway: str,
    result: ChargeResult,
    failure_reference: str,
    actor: Actor | None = None,
) -> tuple[Payment, bool]:
    """Record a failed card payment once (keyed by `failure_reference` when there is one)."""
    if failure_reference:
        existing = Payment.objects.filter(gateway=gateway, gateway_reference=failure_reference).first()
        if existing is not None:
            return existing, False
    payment = payment_record_failed(
        account=account,
        amount=amount,
        currency=currency,
        method=PaymentMethod.CARD,
        failure_code=result.failure_code or "declined",
        failure_message=result.failure_message,
        gateway=gateway,
        gateway_reference=failure_reference,
        reference=result.reference,
        actor=actor,
    )
    return payment, True


def allocation_to(invoice: Invoice | None, amount: Decimal) -> list[AllocationInput] | None:
    """Pay the charged invoice if it is still open; otherwise oldest due first (None)."""
    if invoice is None:
        return None
    current = Invoice.objects.get(pk=invoice.pk)
    if current.status != InvoiceStatus.OPEN or current.amount_due <= 0:
        return None
    return [AllocationInput(invoice=current.pk, amount=min(amount, current.amount_due))]
