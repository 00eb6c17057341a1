"""Payments, their allocations to invoices, and refunds."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models
from django.db.models import F, Q

from apps.accounts.models import Account
from apps.core.api.audit import audited
from apps.core.money import money_field
from apps.invoices.models import Invoice


class PaymentMethod(models.TextChoices):
    CARD = "card", "Card"
    BANK_TRANSFER = "bank_transfer", "Bank transfer"
    CASH = "cash", "Cash"
    MOBILE_MONEY = "mobile_money", "Mobile money"
    OTHER = "other", "Other"


class PaymentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Payment(models.Model):
    """Money received from (or attempted by) an account. What is not allocated is credit."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="payments")
    status = models.CharField(max_length=10, choices=PaymentStatus.choices, default=PaymentStatus.SUCCEEDED)
    currency = models.CharField(max_length=3)
    amount = money_field()
    amount_allocated = money_field(default=Decimal(0))
    amount_refunded = money_field(default=Decimal(0))
    method = models.CharField(max_length=20, choices=PaymentMethod.choices)
    gateway = models.CharField(max_length=20, default="manual")
    gateway_reference = models.CharField(max_length=200, blank=True, help_text="The gateway's id (Stripe PI id).")
    reference = models.CharField(max_length=200, blank=True, help_text="Bank or receipt reference.")
    received_at = models.DateTimeField()
    failure_code = models.CharField(max_length=100, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    history = audited()

    class Meta:
        ordering = ["-received_at", "-created_at"]
        permissions = [("refund_payment", "Can refund payments")]
        indexes = [
            models.Index(fields=["account", "status", "received_at"], name="payment_account_status"),
            models.Index(fields=["-received_at", "id"], name="payment_received_id"),
            # One account's payments, newest first (the account page, the changelist's account filter).
            models.Index(fields=["account", "-received_at", "id"], name="payment_account_received"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(amount_allocated__gte=0)
                & Q(amount_refunded__gte=0)
                & Q(amount_allocated__lte=F("amount") - F("amount_refunded")),
                name="payment_never_over_allocated",
            ),
            models.CheckConstraint(
                condition=Q(status=PaymentStatus.SUCCEEDED) | (Q(amount_allocated=0) & Q(amount_refunded=0)),
                name="payment_only_succeeded_moves_money",
            ),
            models.UniqueConstraint(
                fields=["gateway", "gateway_reference"],
                condition=~Q(gateway_reference=""),
                name="payment_gateway_reference_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} {self.get_method_display()} ({self.status})"

    @property
    def unallocated(self) -> Decimal:
        """The part of the payment held as account credit."""
        if self.status != PaymentStatus.SUCCEEDED:
            return Decimal(0)
        return self.amount - self.amount_refunded - self.amount_allocated

    @property
    def refundable(self) -> Decimal:
        return self.amount - self.amount_refunded if self.status == PaymentStatus.SUCCEEDED else Decimal(0)


class PaymentAllocation(models.Model):
    """Part of a payment applied to one invoice (reduced when a refund reverses it)."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="allocations")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payment_allocations")
    amount = money_field()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [models.CheckConstraint(condition=Q(amount__gte=0), name="allocation_non_negative")]

    def __str__(self) -> str:
        return f"{self.amount} -> {self.invoice}"


class Refund(models.Model):
    """Money returned from a payment, first from its unallocated part, then from its invoices."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = money_field()
    reason = models.CharField(max_length=500)
    from_credit = money_field(default=Decimal(0))
    from_invoices = models.JSONField(default=dict, help_text="invoice id -> amount taken back")
    gateway_reference = models.CharField(max_length=200, blank=True)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive")]

    def __str__(self) -> str:
        return f"refund {self.amount} of {self.payment_id}"


class PaymentMethodOnFile(models.Model):
    """A payment method saved with a gateway (a Stripe card on a Stripe customer), chargeable off-session.

    The account's default method is the one `payment_charge_saved_method` charges.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="payment_methods")
    gateway = models.CharField(max_length=20, default="stripe")
    customer_reference = models.CharField(max_length=200, help_text="The gateway's customer id (Stripe cus_...).")
    payment_method_reference = models.CharField(
        max_length=200, help_text="The gateway's payment method id (Stripe pm_...)."
    )
    brand = models.CharField(max_length=30, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    is_default = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_default", "-created_at"]
        verbose_name = "payment method on file"
        verbose_name_plural = "payment methods on file"
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "payment_method_reference"], name="payment_method_on_file_unique"
            ),
            models.UniqueConstraint(
                fields=["account"], condition=Q(is_default=True), name="payment_method_one_default_per_account"
            ),
        ]

    def __str__(self) -> str:
        label = f"{self.brand} ••••{self.last4}" if self.last4 else self.payment_method_reference
        return f"{self.gateway}: {label}"


class ChargeStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class ChargeAttempt(models.Model):
    """One off-session charge of a saved payment method.

    Written (and committed, outside a caller's transaction) before the gateway is called: its
    id is the gateway's idempotency key, so a retry after a lost response or a crash replays
    the same charge instead of making a second one. Its outcome is a Payment (succeeded or
    failed), recorded once by whichever of the charge call and the gateway's webhook gets
    there first.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="charge_attempts")
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    payment_method = models.ForeignKey(PaymentMethodOnFile, on_delete=models.PROTECT, related_name="charges")
    gateway = models.CharField(max_length=20)
    currency = models.CharField(max_length=3)
    amount = money_field()
    status = models.CharField(max_length=10, choices=ChargeStatus.choices, default=ChargeStatus.PENDING)
    idempotency_key = models.CharField(max_length=120, unique=True)
    gateway_reference = models.CharField(max_length=200, blank=True, help_text="Stripe PaymentIntent id.")
    payment = models.OneToOneField(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="charge_attempt"
    )
    failure_code = models.CharField(max_length=100, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["account", "status"], name="charge_attempt_account_status")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="charge_attempt_amount_positive"),
            models.CheckConstraint(condition=Q(status__in=ChargeStatus.values), name="charge_attempt_status_valid"),
            models.UniqueConstraint(
                fields=["account"], condition=Q(status="pending"), name="charge_attempt_one_pending_per_account"
            ),
        ]

    def __str__(self) -> str:
        return f"charge {self.amount} {self.currency} ({self.status})"
