"""Money: the one place amounts are quantised (ARCHITECTURE.md §3).

Minor units come from babel's copy of the CLDR/ISO 4217 data (JPY 0, USD 2, BHD 3).
Rounding rule: ROUND_HALF_UP at the currency's minor unit, applied once per line
total and once per line tax; invoice totals are sums of already-rounded lines.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from babel.numbers import format_currency, get_currency_precision, list_currencies
from django.db import models

ROUNDING = ROUND_HALF_UP


class MoneyError(ValueError):
    """An amount or currency that cannot be used."""


@lru_cache(maxsize=1)
def _known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def is_known_currency(code: str) -> bool:
    return code in _known_currencies()


@lru_cache(maxsize=512)
def minor_unit_exponent(currency: str) -> Decimal:
    """Decimal('0.01') for USD, Decimal('1') for JPY, Decimal('0.001') for BHD."""
    if not is_known_currency(currency):
        raise MoneyError(f"unknown currency {currency!r}")
    precision = get_currency_precision(currency)
    return Decimal(1).scaleb(-precision)


def currency_precision(currency: str) -> int:
    return -minor_unit_exponent(currency).as_tuple().exponent  # type: ignore[operator]


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round `amount` to the currency's minor unit with the documented rule."""
    return amount.quantize(minor_unit_exponent(currency), rounding=ROUNDING)


def parse_amount(value: object, currency: str) -> Decimal:
    """Parse an amount that must already be exact in the currency's minor unit."""
    if isinstance(value, float):
        raise MoneyError("amounts must be strings or decimals, never floats")
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise MoneyError(f"{value!r} is not an amount") from exc
    if not amount.is_finite():
        raise MoneyError(f"{value!r} is not an amount")
    if amount != quantize(amount, currency):
        raise MoneyError(f"{currency} amounts have at most {currency_precision(currency)} decimal places")
    return quantize(amount, currency)


def money_str(amount: Decimal, currency: str) -> str:
    """The JSON form of an amount: a string exact to the currency's minor unit ("99.99", "1500")."""
    return str(quantize(amount, currency))


def format_money(amount: Decimal, currency: str, locale: str = "en") -> str:
    return format_currency(amount, currency, locale=locale)


def money_field(**kwargs: Any) -> models.DecimalField:
    """A money column: 20 digits, 4 places (holds any ISO 4217 minor unit); currency beside it."""
    return models.DecimalField(max_digits=20, decimal_places=4, **kwargs)
