"""Every change to a Payment goes through here: record, allocate, apply credit, refund.

Lock order (shared with invoices): the account row, then invoices by id, then payments by
id. Locking the account first serialises all money movements of one account, so two
payments racing for one invoice can never over-allocate it (and the CHECK constraints on
Invoice and Payment would refuse it if they did).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import Account, AccountStatus
from apps.accounts.services import account_adjust_balances, account_lock
from apps.core.actors import Actor, actor_label, require_permission
from apps.core.errors import InvalidTransition, ValidationFailed
from apps.core.money import MoneyError, money_str, parse_amount
from apps.events.services import publish
from apps.invoices.models import Invoice, InvoiceStatus
from apps.invoices.services import invoice_settle, invoice_unsettle, lock_invoices_to_pay, lock_open_invoices
from apps.payments.models import Payment, PaymentAllocation, PaymentMethod, PaymentStatus, Refund


@dataclass(frozen=True)
class AllocationInput:
    invoice: Invoice | Any  # an Invoice or its id
    amount: Any


def _amount(value: Any, currency: str, field: str = "amount") -> Decimal:
    try:
        amount = parse_amount(value, currency)
    except MoneyError as exc:
        raise ValidationFailed(str(exc), field=field) from exc
    if amount <= 0:
        raise ValidationFailed("the amount must be positive", field=field)
    if amount >= Decimal("1e15"):
        raise ValidationFailed("the amount is too large", field=field)
    return amount


def _payment_data(payment: Payment, allocations: Sequence[PaymentAllocation] = ()) -> dict[str, Any]:
    return {
        "payment": str(payment.id),
        "account": str(payment.account_id),
        "status": payment.status,
        "currency": payment.currency,
        "amount": money_str(payment.amount, payment.currency),
        "method": payment.method,
        "gateway": payment.gateway,
        "reference": payment.reference,
        "allocations": [
            {"invoice": str(a.invoice_id), "amount": money_str(a.amount, payment.currency)} for a in allocations
        ],
        "unallocated": money_str(payment.unallocated, payment.currency),
    }


def _allocate(
    *, account: Account, payment: Payment, invoices: Sequence[Invoice], amounts: Sequence[Decimal], save: bool = True
) -> list[PaymentAllocation]:
    """Settle the invoices and write the allocations. With `save=False` the payment's
    amount_allocated already holds their sum (it was inserted with it) and is not written again."""
    allocations = []
    allocated = Decimal(0)
    for invoice, amount in zip(invoices, amounts, strict=True):
        if amount <= 0:
            continue
        invoice_settle(account=account, invoice=invoice, paid=amount)
        allocations.append(PaymentAllocation(payment=payment, invoice=invoice, amount=amount))
        allocated += amount
    PaymentAllocation.objects.bulk_create(allocations)
    if save:
        payment.amount_allocated += allocated
        payment.save(update_fields=["amount_allocated"])
    return allocations


def _as_read_back(payment: Payment, allocations: Sequence[PaymentAllocation]) -> Payment:
    """The recorded payment with its relations as a read of it would prefetch them (its
    allocations, no refunds yet), so that its representation costs no further query."""
    cache: dict[str, Any] = {}
    for name, rows in (("allocations", allocations), ("refunds", [])):
        queryset = getattr(payment, name).all()
        queryset._result_cache = list(rows)
        queryset._prefetch_done = True
        cache[name] = queryset
    payment._prefetched_objects_cache = cache  # type: ignore[attr-defined]
    return payment


def _oldest_first(total: Decimal, invoices: Sequence[Invoice]) -> list[Decimal]:
    remaining = total
    amounts = []
    for invoice in invoices:
        portion = min(remaining, invoice.amount_due)
        amounts.append(portion)
        remaining -= portion
    return amounts


def payment_record(
    *,
    account: Account | Any,
    amount: Any,
    currency: str,
    method: str,
    reference: str = "",
    gateway: str = "manual",
    gateway_reference: str = "",
    received_at: dt.datetime | None = None,
    allocations: Sequence[AllocationInput] | None = None,
    metadata: dict[str, Any] | None = None,
    actor: Actor | None = None,
) -> Payment:
    """Record a received payment and allocate it: to the given invoices, or oldest due first.

    `account` is an Account or its id (the API passes the id: the account is read once, locked).
    Whatever is not allocated stays on the account as credit.
    """
    require_permission(actor, "payments.add_payment", "record payments")
    currency = (currency or "").upper()
    with transaction.atomic():
        # Checked on the locked row (nothing is written before these checks).
        locked_account = _lock_payer(account)
        if currency != locked_account.currency:
            raise ValidationFailed(
                f"the account is billed in {locked_account.currency}; a payment in {currency or '?'} is refused",
                field="currency",
            )
        if method not in PaymentMethod.values:
            raise ValidationFailed(f"method must be one of {', '.join(PaymentMethod.values)}", field="method")
        total = _amount(amount, currency)
        if locked_account.status == AccountStatus.CLOSED:
            raise InvalidTransition("the account is closed")
        payment = Payment(
            account=locked_account,
            status=PaymentStatus.SUCCEEDED,
            currency=currency,
            amount=total,
            method=method,
            gateway=gateway,
            gateway_reference=gateway_reference,
            reference=reference,
            received_at=received_at or timezone.now(),
            metadata=metadata or {},
            created_by=actor_label(actor),
        )
        # The invoices are locked (the shared lock order) and the amounts fixed before the payment
        # is written, so it is inserted once with its allocated amount (no second UPDATE, no
        # second history row).
        if allocations:
            invoices, amounts = _explicit_targets(locked_account, payment, allocations)
        else:
            invoices = lock_invoices_to_pay(locked_account, total)
            amounts = _oldest_first(total, invoices)
        payment.amount_allocated = sum((portion for portion in amounts if portion > 0), Decimal(0))
        if gateway_reference:  # only a gateway reference can collide (payment_gateway_reference_unique)
            try:
                with transaction.atomic():
                    payment.save()
            except IntegrityError as exc:
                raise ValidationFailed(
                    f"{gateway} payment {gateway_reference!r} is already recorded", field="gateway_reference"
                ) from exc
        else:
            payment.save()
        made = _allocate(account=locked_account, payment=payment, invoices=invoices, amounts=amounts, save=False)
        if payment.unallocated > 0:
            account_adjust_balances(account=locked_account, credit_delta=payment.unallocated)
        data = _payment_data(payment, made)
        data["account_balance"] = money_str(locked_account.balance, currency)  # what the receipt shows
        publish("payment.succeeded", str(payment.id), data)
    return _as_read_back(payment, made)


def _lock_payer(account: Account | Any) -> Account:
    """The account (an Account or its id), locked; an unknown id is the caller's field error."""
    account_id = account.pk if isinstance(account, Account) else account
    try:
        return account_lock(account_id)
    except (Account.DoesNotExist, ValueError, DjangoValidationError) as exc:
        raise ValidationFailed(f"no account {account_id}", field="account") from exc


def _explicit_targets(
    account: Account, payment: Payment, allocations: Sequence[AllocationInput]
) -> tuple[list[Invoice], list[Decimal]]:
    wanted: dict[str, Decimal] = {}
    for index, allocation in enumerate(allocations):
        invoice_id = str(getattr(allocation.invoice, "pk", allocation.invoice))
        amount = _amount(allocation.amount, payment.currency, field=f"allocations[{index}].amount")
        if invoice_id in wanted:
            raise ValidationFailed("an invoice appears twice in the allocations", field=f"allocations[{index}].invoice")
        wanted[invoice_id] = amount
    if sum(wanted.values(), Decimal(0)) > payment.amount:
        raise ValidationFailed("the allocations add up to more than the payment", field="allocations")
    try:
        locked = {str(invoice.pk): invoice for invoice in lock_open_invoices(account, list(wanted))}
    except (ValueError, Exception) as exc:  # a malformed id
        if isinstance(exc, ValidationFailed):
            raise
        raise ValidationFailed("an allocation names an invalid invoice id", field="allocations") from exc
    for index, invoice_id in enumerate(wanted):
        if invoice_id not in locked:
            exists = Invoice.objects.filter(pk=invoice_id, account=account).first()
            reason = f"is {exists.status}" if exists else "does not belong to this account"
            raise ValidationFailed(f"invoice {invoice_id} {reason}", field=f"allocations[{index}].invoice")
        if locked[invoice_id].currency != payment.currency:
            raise ValidationFailed("invoice and payment currencies differ", field=f"allocations[{index}].invoice")
    invoices = [locked[invoice_id] for invoice_id in wanted]
    return invoices, [wanted[str(invoice.pk)] for invoice in invoices]


def payment_record_failed(
    *,
    account: Account,
    amount: Any,
    currency: str,
    method: str,
    failure_code: str,
    failure_message: str = "",
    gateway: str = "manual",
    gateway_reference: str = "",
    reference: str = "",
    actor: Actor | None = None,
) -> Payment:
    """Record a payment attempt that failed (a declined card); no money moves."""
    require_permission(actor, "payments.add_payment", "record payments")
    currency = (currency or "").upper()
    if currency != account.currency:
        raise ValidationFailed(f"the account is billed in {account.currency}", field="currency")
    total = _amount(amount, currency)
    with transaction.atomic():
        payment = Payment(
            account=account,
            status=PaymentStatus.FAILED,
            currency=currency,
            amount=total,
            method=method,
            gateway=gateway,
            gateway_reference=gateway_reference,
            reference=reference,
            received_at=timezone.now(),
            failure_code=failure_code,
            failure_message=failure_message[:500],
            created_by=actor_label(actor),
        )
        try:
            with transaction.atomic():
                payment.save()
        except IntegrityError as exc:
            raise ValidationFailed(f"{gateway} payment {gateway_reference!r} is already recorded") from exc
        publish(
            "payment.failed",
            str(payment.id),
            {**_payment_data(payment), "failure_code": failure_code, "failure_message": payment.failure_message},
        )
    return payment


def credit_apply(*, account: Account, invoices: Sequence[Invoice] | None = None) -> Decimal:
    """Apply unallocated payment money on the account to its open invoices, oldest due first.

    Runs inside the caller's transaction with the account locked. Returns the amount applied.
    """
    payments = list(
        Payment.objects.filter(account=account, status=PaymentStatus.SUCCEEDED).select_for_update().order_by("pk")
    )
    payments = sorted((p for p in payments if p.unallocated > 0), key=lambda p: (p.received_at, p.pk))
    if not payments:
        return Decimal(0)
    targets = list(invoices) if invoices is not None else lock_open_invoices(account)
    applied = Decimal(0)
    for payment in payments:
        open_targets = [inv for inv in targets if inv.status == InvoiceStatus.OPEN and inv.amount_due > 0]
        if not open_targets:
            break
        amounts = _oldest_first(payment.unallocated, open_targets)
        made = _allocate(account=account, payment=payment, invoices=open_targets, amounts=amounts)
        moved = sum((a.amount for a in made), Decimal(0))
        if moved:
            account_adjust_balances(account=account, credit_delta=-moved)
            applied += moved
    return applied


def account_credit_apply(*, account: Account, actor: Actor | None = None) -> Decimal:
    """Apply all of the account's unused credit (payments, then credit notes) to its open invoices."""
    require_permission(actor, "payments.add_payment", "apply credit")
    from apps.invoices.credit_notes import credit_notes_apply

    with transaction.atomic():
        locked = account_lock(account.pk)
        applied = credit_apply(account=locked)
        applied += credit_notes_apply(account=locked)
    return applied


def payment_refund(*, payment: Payment, amount: Any, reason: str, actor: Actor | None = None) -> Refund:
    """Refund part or all of a payment: first from its unallocated credit, then by reversing
    its allocations, newest first (those invoices reopen)."""
    require_permission(actor, "payments.refund_payment", "refund payments")
    if not (reason or "").strip():
        raise ValidationFailed("a refund needs a reason", field="reason")
    refund_amount = _amount(amount, payment.currency)
    with transaction.atomic():
        account = account_lock(payment.account_id)
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked.status != PaymentStatus.SUCCEEDED:
            raise InvalidTransition(f"a {locked.status} payment cannot be refunded")
        if refund_amount > locked.refundable:
            raise ValidationFailed(
                f"at most {money_str(locked.refundable, locked.currency)} {locked.currency} "
                "of this payment can be refunded",
                field="amount",
            )
        from_credit = min(refund_amount, locked.unallocated)
        if from_credit:
            account_adjust_balances(account=account, credit_delta=-from_credit)
        remaining = refund_amount - from_credit
        taken: dict[str, Decimal] = {}
        if remaining:
            allocations = list(locked.allocations.filter(amount__gt=0).order_by("-created_at", "-pk"))
            invoice_ids = sorted({a.invoice_id for a in allocations})
            invoices = {inv.pk: inv for inv in Invoice.objects.select_for_update().filter(pk__in=invoice_ids)}
            for allocation in allocations:
                if not remaining:
                    break
                portion = min(remaining, allocation.amount)
                invoice_unsettle(account=account, invoice=invoices[allocation.invoice_id], paid=portion)
                allocation.amount -= portion
                allocation.save(update_fields=["amount"])
                locked.amount_allocated -= portion
                taken[str(allocation.invoice_id)] = taken.get(str(allocation.invoice_id), Decimal(0)) + portion
                remaining -= portion
        locked.amount_refunded += refund_amount
        locked.save(update_fields=["amount_refunded", "amount_allocated"])
        refund = Refund.objects.create(
            payment=locked,
            amount=refund_amount,
            reason=reason.strip(),
            from_credit=from_credit,
            from_invoices={key: money_str(value, locked.currency) for key, value in taken.items()},
            created_by=actor_label(actor),
        )
        publish(
            "payment.refunded",
            str(locked.id),
            {
                **_payment_data(locked),
                "refund": str(refund.id),
                "refund_amount": money_str(refund_amount, locked.currency),
                "from_credit": money_str(from_credit, locked.currency),
                "from_invoices": [
                    {"invoice": key, "amount": money_str(value, locked.currency)} for key, value in taken.items()
                ],
                "reason": refund.reason,
                "amount_refunded": money_str(locked.amount_refunded, locked.currency),
            },
        )
    return refund
