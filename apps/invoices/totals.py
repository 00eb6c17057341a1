"""Invoice arithmetic: the one documented rounding rule.

For each line, in the invoice currency:
    amount   = round(quantity x unit_price) - discount
    exclusive tax:  tax = round(amount x rate / 100);          net = amount;       total = net + tax
    inclusive tax:  tax = round(amount x rate / (100 + rate)); net = amount - tax; total = amount
Invoice: subtotal = sum(net), tax = sum(tax), total = sum(total).

`round` is ROUND_HALF_UP to the currency's ISO 4217 minor unit (apps.core.money.quantize).
Rounding per line (not on the invoice sum) keeps every line printable as-is and makes the
invoice total exactly the sum of the lines a customer sees.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from apps.core.money import quantize

ZERO = Decimal(0)
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class LineAmounts:
    net: Decimal
    tax: Decimal
    total: Decimal


@dataclass(frozen=True)
class InvoiceAmounts:
    subtotal: Decimal
    tax: Decimal
    total: Decimal


def line_amounts(
    *,
    quantity: Decimal,
    unit_price: Decimal,
    discount: Decimal,
    tax_percentage: Decimal,
    tax_inclusive: bool,
    currency: str,
) -> LineAmounts:
    amount = quantize(quantity * unit_price, currency) - quantize(discount, currency)
    if tax_inclusive:
        tax = quantize(amount * tax_percentage / (HUNDRED + tax_percentage), currency)
        return LineAmounts(net=amount - tax, tax=tax, total=amount)
    tax = quantize(amount * tax_percentage / HUNDRED, currency)
    return LineAmounts(net=amount, tax=tax, total=amount + tax)


def invoice_amounts(lines: Iterable[LineAmounts]) -> InvoiceAmounts:
    subtotal = tax = total = ZERO
    for line in lines:
        subtotal += line.net
        tax += line.tax
        total += line.total
    return InvoiceAmounts(subtotal=subtotal, tax=tax, total=total)
