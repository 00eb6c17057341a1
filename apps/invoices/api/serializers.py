"""Request and response shapes of `invoices/` and `credit-notes/`."""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db.models.expressions import RawSQL
from rest_framework import serializers

from apps.core.api.fields import DecimalOutputField, DecimalStringField, LedgerDateField, MoneyField
from apps.core.api.representation import PlannedRepresentation, datetime_formatter
from apps.core.money import ROUNDING, minor_unit_exponent
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


# --- Invoice pages from rows ------------------------------------------------------------------
# A list page reads the columns InvoiceOutput shows (values(), no model instances) with each
# invoice's lines embedded as one JSON array by a correlated subquery (no second query, no
# prefetch), and builds the very same representation as InvoiceOutput (tests/api/
# test_representation.py compares them, rendered, field for field).

INVOICE_ROW_COLUMNS = (
    "id",
    "number",
    "status",
    "account_id",
    "currency",
    "issue_date",
    "due_date",
    "memo",
    "subtotal",
    "tax",
    "total",
    "amount_paid",
    "amount_credited",
    "amount_due",
    "external_id",
    "metadata",
    "finalized_at",
    "sent_at",
    "paid_at",
    "voided_at",
    "marked_uncollectible_at",
    "status_reason",
    "created_at",
    "updated_at",
)
# Decimals as text (exact; JSON numbers would become floats), in InvoiceLineOutput's field order.
LINE_ROWS_SQL = """
    SELECT COALESCE(json_agg(json_build_array(
        line.id, line.position, line.description, line.quantity::text, line.unit_price::text,
        line.discount::text, line.tax_rate_id, line.tax_percentage::text, line.tax_inclusive,
        line.net_amount::text, line.tax_amount::text, line.total::text
    ) ORDER BY line.position, line.id), '[]')::text
    FROM invoices_invoiceline AS line WHERE line.invoice_id = invoices_invoice.id
"""
INVOICE_LINE_ROWS = "line_rows"


def invoice_line_rows() -> RawSQL:
    """The annotation holding an invoice's lines (see LINE_ROWS_SQL)."""
    return RawSQL(LINE_ROWS_SQL, ())  # noqa: S611 - constant SQL, no parameters


def _decimal_text(text: str) -> str:
    """DecimalOutputField's output from the database's text of the decimal."""
    return format(Decimal(text).normalize(), "f")


def invoice_representations(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """InvoiceOutput's representation of each row of INVOICE_ROW_COLUMNS + INVOICE_LINE_ROWS."""
    moment = datetime_formatter()
    result = []
    for row in rows:
        currency = row["currency"]
        unit = minor_unit_exponent(currency)  # raises on an unknown currency, as money_str does

        def money(amount: Decimal, unit: Decimal = unit) -> str:  # money_str, the exponent looked up once
            return str(amount.quantize(unit, rounding=ROUNDING))

        lines = [
            {
                "id": line[0],
                "position": line[1],
                "description": line[2],
                "quantity": _decimal_text(line[3]),
                "unit_price": _decimal_text(line[4]),
                "discount": money(Decimal(line[5])),
                "tax_rate": line[6],
                "tax_percentage": _decimal_text(line[7]),
                "tax_inclusive": line[8],
                "net_amount": money(Decimal(line[9])),
                "tax_amount": money(Decimal(line[10])),
                "total": money(Decimal(line[11])),
            }
            for line in json.loads(row[INVOICE_LINE_ROWS])
        ]
        issue_date, due_date = row["issue_date"], row["due_date"]
        result.append(
            {
                "id": str(row["id"]),
                "number": row["number"],
                "status": row["status"],
                "account": str(row["account_id"]),
                "currency": currency,
                "issue_date": None if issue_date is None else issue_date.isoformat(),
                "due_date": None if due_date is None else due_date.isoformat(),
                "memo": row["memo"],
                "subtotal": money(row["subtotal"]),
                "tax": money(row["tax"]),
                "total": money(row["total"]),
                "amount_paid": money(row["amount_paid"]),
                "amount_credited": money(row["amount_credited"]),
                "amount_due": money(row["amount_due"]),
                "external_id": row["external_id"],
                "metadata": row["metadata"],
                "lines": lines,
                "finalized_at": moment(row["finalized_at"]),
                "sent_at": moment(row["sent_at"]),
                "paid_at": moment(row["paid_at"]),
                "voided_at": moment(row["voided_at"]),
                "marked_uncollectible_at": moment(row["marked_uncollectible_at"]),
                "status_reason": row["status_reason"],
                "created_at": moment(row["created_at"]),
                "updated_at": moment(row["updated_at"]),
            }
        )
    return result


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
