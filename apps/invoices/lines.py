"""Invoice lines from staff or API input: validation and the arithmetic of apps.invoices.totals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from apps.core.errors import ValidationFailed
from apps.core.money import MoneyError, currency_precision
from apps.invoices.models import Invoice, InvoiceLine, TaxRate
from apps.invoices.totals import LineAmounts, invoice_amounts, line_amounts

MAX_LINES = 500
MAX_QUANTITY = Decimal("1e9")
MAX_UNIT_PRICE = Decimal("1e12")


@dataclass(frozen=True)
class LineInput:
    """One invoice line as given by staff or the API (amounts as Decimals or strings)."""

    description: str
    unit_price: Any
    quantity: Any = Decimal(1)
    discount: Any = Decimal(0)
    tax_rate: TaxRate | str | None = None


def _decimal(value: Any, field: str, *, places: int | None = None) -> Decimal:
    if isinstance(value, float):
        raise ValidationFailed("send amounts as strings, not floats", field=field)
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise ValidationFailed(f"{value!r} is not a number", field=field) from exc
    if not number.is_finite():
        raise ValidationFailed(f"{value!r} is not a number", field=field)
    if places is not None and number != number.quantize(Decimal(1).scaleb(-places)):
        raise ValidationFailed(f"at most {places} decimal places", field=field)
    return number


def _resolve_tax_rate(value: TaxRate | str | None, field: str) -> TaxRate | None:
    if value is None or value == "":
        return None
    if isinstance(value, TaxRate):
        return value
    try:
        return TaxRate.objects.get(pk=value, active=True)
    except (TaxRate.DoesNotExist, ValueError, Exception) as exc:  # invalid UUIDs raise ValidationError
        raise ValidationFailed(f"unknown tax rate {value!r}", field=field) from exc


def build_lines(invoice: Invoice, lines: Sequence[LineInput]) -> list[InvoiceLine]:
    if len(lines) > MAX_LINES:
        raise ValidationFailed(f"an invoice has at most {MAX_LINES} lines", field="lines")
    built = []
    precision = currency_precision(invoice.currency)
    for position, line in enumerate(lines):
        prefix = f"lines[{position}]"
        description = (line.description or "").strip()
        if not description:
            raise ValidationFailed("a line needs a description", field=f"{prefix}.description")
        quantity = _decimal(line.quantity, f"{prefix}.quantity", places=4)
        unit_price = _decimal(line.unit_price, f"{prefix}.unit_price", places=6)
        discount = _decimal(line.discount, f"{prefix}.discount", places=precision)
        if not Decimal(0) < quantity <= MAX_QUANTITY:
            raise ValidationFailed(f"quantity must be between 0 and {MAX_QUANTITY:,}", field=f"{prefix}.quantity")
        if not Decimal(0) <= unit_price <= MAX_UNIT_PRICE:
            raise ValidationFailed(f"unit price must be between 0 and {MAX_UNIT_PRICE:,}", field=f"{prefix}.unit_price")
        tax_rate = _resolve_tax_rate(line.tax_rate, f"{prefix}.tax_rate")
        percentage = tax_rate.percentage if tax_rate else Decimal(0)
        inclusive = tax_rate.inclusive if tax_rate else False
        try:
            amounts = line_amounts(
                quantity=quantity,
                unit_price=unit_price,
                discount=discount,
                tax_percentage=percentage,
                tax_inclusive=inclusive,
                currency=invoice.currency,
            )
        except MoneyError as exc:
            raise ValidationFailed(str(exc), field="currency") from exc
        if amounts.total < 0:
            raise ValidationFailed("the discount is larger than the line amount", field=f"{prefix}.discount")
        built.append(
            InvoiceLine(
                invoice=invoice,
                position=position,
                description=description[:500],
                quantity=quantity,
                unit_price=unit_price,
                discount=discount,
                tax_rate=tax_rate,
                tax_percentage=percentage,
                tax_inclusive=inclusive,
                net_amount=amounts.net,
                tax_amount=amounts.tax,
                total=amounts.total,
            )
        )
    return built


def apply_totals(invoice: Invoice, lines: Sequence[InvoiceLine]) -> None:
    amounts = invoice_amounts(line_amounts_of(line) for line in lines)
    invoice.subtotal, invoice.tax, invoice.total = amounts.subtotal, amounts.tax, amounts.total
    invoice.amount_due = invoice.total - invoice.amount_paid - invoice.amount_credited


def line_amounts_of(line: InvoiceLine) -> LineAmounts:
    return LineAmounts(net=line.net_amount, tax=line.tax_amount, total=line.total)
