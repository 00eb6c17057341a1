"""Request and response shapes of `invoices/` and `credit-notes/`."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.core.api.fields import DecimalOutputField, DecimalStringField, LedgerDateField, MoneyField
from apps.core.api.representation import PlannedRepresentation
from apps.invoices.lines import MAX_LINES, LineInput
from apps.invoices.models import CreditNote, Invoice, InvoiceLine

LINE_EXAMPLE: dict[str, Any] = {
    "id": "0f5a3c1d-7e2b-4a9c-8d1e-2b3c4d5e6f70",
    "position": 0,
    "description": "Fibre 100 Mbps, December",
    "quantity": "1",
    "unit_price": "25000",
    "discount": "0.00",
    "tax_rate": None,
    "tax_percentage": "0",
    "tax_inclusive": False,
    "net_amount": "25000.00",
    "tax_amount": "0.00",
    "total": "25000.00",
}
INVOICE_EXAMPLE: dict[str, Any] = {
    "id": "8c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
    "number": "INV-2026-000042",
    "status": "open",
    "account": "5b0e7c1e-2f4b-4f0e-9d4a-1c2b3d4e5f60",
    "currency": "NGN",
    "issue_date": "2026-11-25",
    "due_date": "2026-12-01",
    "memo": "",
    "subtotal": "25000.00",
    "tax": "0.00",
    "total": "25000.00",
    "amount_paid": "0.00",
    "amount_credited": "0.00",
    "amount_due": "25000.00",
    "external_id": None,
    "metadata": {},
    "lines": [LINE_EXAMPLE],
    "finalized_at": "2026-11-25T09:30:00Z",
    "sent_at": None,
    "paid_at": None,
    "voided_at": None,
    "marked_uncollectible_at": None,
    "status_reason": "",
    "created_at": "2026-11-25T09:29:00Z",
    "updated_at": "2026-11-25T09:30:00Z",
}
CREDIT_NOTE_EXAMPLE: dict[str, Any] = {
    "id": "3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a6b",
    "number": "CN-2026-000007",
    "invoice": INVOICE_EXAMPLE["id"],
    "account": INVOICE_EXAMPLE["account"],
    "currency": "NGN",
    "amount": "5000.00",
    "amount_applied": "5000.00",
    "reason": "Service outage, 6 days",
    "issue_date": "2026-11-28",
    "created_at": "2026-11-28T10:00:00Z",
    "created_by": "platform-user-7",
}


class InvoiceLineOutput(PlannedRepresentation, serializers.ModelSerializer[InvoiceLine]):
    quantity = DecimalOutputField()
    unit_price = DecimalOutputField()
    tax_percentage = DecimalOutputField()
    discount = MoneyField(currency_attribute="invoice.currency")
    net_amount = MoneyField(currency_attribute="invoice.currency")
    tax_amount = MoneyField(currency_attribute="invoice.currency")
    total = MoneyField(currency_attribute="invoice.currency")

    class Meta:
        model = InvoiceLine
        fields = list(LINE_EXAMPLE)
        read_only_fields = fields


class InvoiceOutput(PlannedRepresentation, serializers.ModelSerializer[Invoice]):
    subtotal = MoneyField()
    tax = MoneyField()
    total = MoneyField()
    amount_paid = MoneyField()
    amount_credited = MoneyField()
    amount_due = MoneyField()
    lines = InvoiceLineOutput(many=True, read_only=True, source="line_list")

    class Meta:
        model = Invoice
        fields = list(INVOICE_EXAMPLE)
        read_only_fields = fields


class InvoiceLineInput(serializers.Serializer[dict[str, Any]]):
    description = serializers.CharField(max_length=500)
    quantity = DecimalStringField(required=False, default="1")
    unit_price = DecimalStringField()
    discount = DecimalStringField(required=False, default="0", help_text="An amount off this line.")
    tax_rate = serializers.UUIDField(
        required=False, allow_null=True, help_text="The tax rate's id; a line without one is untaxed."
    )

    def to_line(self, values: dict[str, Any]) -> LineInput:
        return LineInput(
            description=values["description"],
            # .get: a PATCH validates partially, and DRF then leaves the defaults out.
            quantity=values.get("quantity", "1"),
            unit_price=values["unit_price"],
            discount=values.get("discount", "0"),
            tax_rate=str(values["tax_rate"]) if values.get("tax_rate") else None,
        )


def lines_of(values: list[dict[str, Any]]) -> list[LineInput]:
    return [InvoiceLineInput().to_line(line) for line in values]


class InvoiceCreateInput(serializers.Serializer[dict[str, Any]]):
    account = serializers.UUIDField()
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", required=False, help_text="Defaults to the account's.")
    issue_date = LedgerDateField(required=False, allow_null=True, help_text="Given for imported invoices.")
    due_date = LedgerDateField(
        required=False, allow_null=True, help_text="Kept as given (may lie in the past); else from payment terms."
    )
    memo = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    external_id = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=100)
    metadata = serializers.DictField(required=False)
    lines = serializers.ListField(child=InvoiceLineInput(), min_length=1, max_length=MAX_LINES)
    finalize = serializers.BooleanField(default=False, help_text="Finalize at once (number, due date, open).")


class InvoiceUpdateInput(serializers.Serializer[dict[str, Any]]):
    due_date = LedgerDateField(required=False, allow_null=True)
    memo = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    metadata = serializers.DictField(required=False)
    lines = serializers.ListField(
        child=InvoiceLineInput(), min_length=1, max_length=MAX_LINES, required=False, help_text="Replaces every line."
    )


class BulkInvoicesInput(serializers.Serializer[dict[str, Any]]):
    invoices = serializers.ListField(
        child=serializers.DictField(), min_length=1, max_length=500, help_text="Each item as for POST invoices/."
    )


class BulkItemResult(serializers.Serializer[dict[str, Any]]):
    index = serializers.IntegerField()
    status = serializers.IntegerField(help_text="201 when created, else the problem's status.")
    invoice = InvoiceOutput(required=False, allow_null=True)
    error = serializers.DictField(required=False, allow_null=True, help_text="A problem document.")


class BulkInvoicesOutput(serializers.Serializer[dict[str, Any]]):
    created = serializers.IntegerField()
    failed = serializers.IntegerField()
    results = BulkItemResult(many=True)


class CreditNoteOutput(serializers.ModelSerializer[CreditNote]):
    amount = MoneyField()
    amount_applied = MoneyField()

    class Meta:
        model = CreditNote
        fields = list(CREDIT_NOTE_EXAMPLE)
        read_only_fields = fields


class CreditNoteCreateInput(serializers.Serializer[dict[str, Any]]):
    invoice = serializers.UUIDField()
    amount = DecimalStringField()
    reason = serializers.CharField(max_length=500)
