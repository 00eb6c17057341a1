"""Property tests: totals, tax and rounding are exact in every currency's minor unit."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from apps.core.money import currency_precision, minor_unit_exponent, quantize
from apps.invoices.totals import invoice_amounts, line_amounts

CURRENCIES = ["JPY", "USD", "NGN", "EUR", "BHD", "KWD", "CLP"]

quantities = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("10000"), places=4)
prices = st.decimals(min_value=Decimal(0), max_value=Decimal("1000000"), places=6)
rates = st.decimals(min_value=Decimal(0), max_value=Decimal(100), places=4)


def test_minor_units_come_from_the_iso_data() -> None:
    assert {code: currency_precision(code) for code in ["JPY", "USD", "BHD", "NGN", "CLP"]} == {
        "JPY": 0,
        "USD": 2,
        "BHD": 3,
        "NGN": 2,
        "CLP": 0,
    }
    assert quantize(Decimal("2.5"), "JPY") == Decimal(3)
    assert quantize(Decimal("0.0005"), "BHD") == Decimal("0.001")


@given(
    currency=st.sampled_from(CURRENCIES),
    quantity=quantities,
    unit_price=prices,
    rate=rates,
    inclusive=st.booleans(),
)
def test_every_line_amount_is_exact_in_the_minor_unit_and_adds_up(
    currency: str, quantity: Decimal, unit_price: Decimal, rate: Decimal, inclusive: bool
) -> None:
    line = line_amounts(
        quantity=quantity,
        unit_price=unit_price,
        discount=Decimal(0),
        tax_percentage=rate,
        tax_inclusive=inclusive,
        currency=currency,
    )
    unit = minor_unit_exponent(currency)
    for amount in (line.net, line.tax, line.total):
        assert amount == amount.quantize(unit)
    assert line.net + line.tax == line.total
    gross = quantize(quantity * unit_price, currency)
    if inclusive:
        assert line.total == gross
        assert line.tax <= line.total
    else:
        assert line.net == gross
        assert abs(line.tax - gross * rate / 100) <= unit / 2


@given(
    currency=st.sampled_from(CURRENCIES),
    lines=st.lists(st.tuples(quantities, prices, rates, st.booleans()), min_size=1, max_size=20),
)
def test_invoice_totals_are_the_sums_of_their_lines(currency: str, lines: list) -> None:
    computed = [
        line_amounts(
            quantity=q, unit_price=p, discount=Decimal(0), tax_percentage=r, tax_inclusive=i, currency=currency
        )
        for q, p, r, i in lines
    ]
    totals = invoice_amounts(computed)
    assert totals.total == sum((line.total for line in computed), Decimal(0))
    assert totals.subtotal + totals.tax == totals.total
