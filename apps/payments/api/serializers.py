"""Request and response shapes of `payments/` and `accounts/<id>/statement/`."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.core.api.fields import DecimalStringField, LedgerDateField, LedgerDateTimeField, MoneyField
from apps.core.api.representation import PlannedRepresentation
from apps.core.money import money_str
from apps.payments.models import Payment, PaymentAllocation, PaymentMethod, Refund

ALLOCATION_EXAMPLE = {"invoice": "8c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f", "amount": "25000.00"}
REFUND_EXAMPLE = {
    "id": "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a",
    "amount": "5000.00",
    "reason": "Double charge",
    "from_credit": "0.00",
    "created_at": "2026-11-27T08:00:00Z",
    "created_by": "platform-user-7",
}
PAYMENT_EXAMPLE: dict[str, Any] = {
    "id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
    "account": "5b0e7c1e-2f4b-4f0e-9d4a-1c2b3d4e5f60",
    "status": "succeeded",
    "currency": "NGN",
    "amount": "25000.00",
    "amount_allocated": "25000.00",
    "amount_refunded": "0.00",
    "unallocated": "0.00",
    "method": "bank_transfer",
    "gateway": "manual",
    "gateway_reference": "",
    "reference": "TRF-778",
    "received_at": "2026-11-26T14:05:00Z",
    "metadata": {},
    "allocations": [ALLOCATION_EXAMPLE],
    "refunds": [],
    "created_by": "platform-user-7",
    "created_at": "2026-11-26T14:05:01Z",
}


class AllocationOutput(serializers.ModelSerializer[PaymentAllocation]):
    amount = MoneyField(currency_attribute="payment.currency")

    class Meta:
        model = PaymentAllocation
        fields = ["invoice", "amount"]
        read_only_fields = fields


class RefundOutput(PlannedRepresentation, serializers.ModelSerializer[Refund]):
    amount = MoneyField(currency_attribute="payment.currency")
    from_credit = MoneyField(currency_attribute="payment.currency")

    class Meta:
        model = Refund
        fields = list(REFUND_EXAMPLE)
        read_only_fields = fields


class PaymentOutput(PlannedRepresentation, serializers.ModelSerializer[Payment]):
    amount = MoneyField()
    amount_allocated = MoneyField()
    amount_refunded = MoneyField()
    unallocated = MoneyField(help_text="Held as account credit.")
    allocations = serializers.SerializerMethodField()
    refunds = RefundOutput(many=True, read_only=True)

    class Meta:
        model = Payment
        fields = list(PAYMENT_EXAMPLE)
        read_only_fields = fields

    def get_allocations(self, payment: Payment) -> list[dict[str, str]]:
        """What the payment paid, per invoice (allocations a refund took back entirely are left out)."""
        return [
            {"invoice": str(allocation.invoice_id), "amount": money_str(allocation.amount, payment.currency)}
            for allocation in payment.allocations.all()
            if allocation.amount > 0
        ]


class AllocationInput(serializers.Serializer[dict[str, Any]]):
    invoice = serializers.UUIDField()
    amount = DecimalStringField()


class PaymentCreateInput(serializers.Serializer[dict[str, Any]]):
    account = serializers.UUIDField()
    amount = DecimalStringField(help_text='Exact in the currency\'s minor unit, e.g. "25000.00".')
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", help_text="Must be the account's currency.")
    method = serializers.ChoiceField(choices=PaymentMethod.choices)
    reference = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    gateway_reference = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="", help_text="Unique per gateway when given."
    )
    received_at = LedgerDateTimeField(required=False, allow_null=True, help_text="Defaults to now.")
    metadata = serializers.DictField(required=False)
    allocations = serializers.ListField(
        child=AllocationInput(),
        required=False,
        max_length=500,
        help_text="Optional: which invoices it pays. Without them it pays open invoices oldest due first; "
        "the rest is account credit.",
    )


class RefundInput(serializers.Serializer[dict[str, Any]]):
    amount = DecimalStringField()
    reason = serializers.CharField(max_length=500)


class StatementLineOutput(serializers.Serializer[dict[str, Any]]):
    date = serializers.DateField()
    kind = serializers.ChoiceField(
        choices=["invoice", "void", "credit_note", "payment", "refund", "write_off", "recovery"]
    )
    reference = serializers.CharField()
    description = serializers.CharField()
    amount = serializers.CharField(help_text="Positive raises what the account owes, negative lowers it.")
    balance = serializers.CharField(help_text="What the account owes after this line (negative: in credit).")


class StatementOutput(serializers.Serializer[dict[str, Any]]):
    account = serializers.UUIDField()
    currency = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    opening_balance = serializers.CharField()
    invoiced = serializers.CharField()
    voided = serializers.CharField()
    credited = serializers.CharField()
    paid = serializers.CharField()
    refunded = serializers.CharField()
    written_off = serializers.CharField(help_text="Net of money recovered on written-off invoices.")
    closing_balance = serializers.CharField()
    lines = StatementLineOutput(many=True)


class StatementQuery(serializers.Serializer[dict[str, Any]]):
    start = LedgerDateField(required=False, help_text="First day (inclusive); default the 1st of this month.")
    end = LedgerDateField(required=False, help_text="Last day (inclusive); default today.")
