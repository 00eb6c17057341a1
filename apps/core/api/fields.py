"""Serializer fields every resource shares: money as exact strings, decimals as strings."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.money import money_str

# Path converters for ids: anything else is an unmatched URL (a 404 problem), never a 500.
UUID_PATTERN = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
DECIMAL_PATTERN = r"^-?[0-9]{1,30}(\.[0-9]{1,30})?$"


@extend_schema_field({"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "example": "25000.00"})
class MoneyField(serializers.Field):
    """An amount as a string exact to its currency's minor unit ("99.99", "1500" for JPY).

    Read-only: the currency comes from the object's `currency_attribute`.
    """

    def __init__(self, *, currency_attribute: str = "currency", **kwargs: Any) -> None:
        kwargs["read_only"] = True
        super().__init__(**kwargs)
        self.currency_attribute = currency_attribute

    def get_attribute(self, instance: Any) -> Any:
        return super().get_attribute(instance), _resolve(instance, self.currency_attribute)

    def to_representation(self, value: tuple[Decimal, str]) -> str:
        amount, currency = value
        return money_str(amount, currency)


def _resolve(instance: Any, dotted: str) -> str:
    value = instance
    for part in dotted.split("."):
        value = getattr(value, part)
    return str(value)


@extend_schema_field({"type": "string", "pattern": DECIMAL_PATTERN, "example": "25000.00"})
class DecimalStringField(serializers.CharField):
    """A decimal input sent as a string ("25000.00"); JSON numbers are accepted and kept exact as text.

    Its range and precision are the service's to check (they depend on the currency).
    """

    default_error_messages = {"invalid": 'Send a decimal number as a string, e.g. "25000.00".'}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 40)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, bool) or not isinstance(data, str | int | float):
            self.fail("invalid")
        text = repr(data) if isinstance(data, float) else str(data).strip()
        if not re.fullmatch(DECIMAL_PATTERN, text):
            self.fail("invalid")
        return str(super().to_internal_value(text))


@extend_schema_field(OpenApiTypes.STR)
class DecimalOutputField(serializers.Field):
    """A stored decimal (a quantity, a rate) as its exact string without trailing zeros."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: Decimal) -> str:
        normalized = value.normalize()
        return format(normalized, "f")


# Dates the ledger accepts: wide enough for any import, narrow enough that date arithmetic
# (due date = issue date + terms, the day after a period, timezone shifts) cannot overflow.
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2999, 12, 31)


class LedgerDateField(serializers.DateField):
    """A date between 1900-01-01 and 2999-12-31."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("validators", [])
        kwargs["validators"] += [
            MinValueValidator(EARLIEST_DATE, message="Dates start on 1900-01-01."),
            MaxValueValidator(LATEST_DATE, message="Dates end on 2999-12-31."),
        ]
        super().__init__(**kwargs)


class LedgerDateTimeField(serializers.DateTimeField):
    """A moment between 1900-01-01 and 2999-12-31 (UTC)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("validators", [])
        kwargs["validators"] += [
            MinValueValidator(dt.datetime(1900, 1, 1, tzinfo=dt.UTC), message="Dates start on 1900-01-01."),
            MaxValueValidator(dt.datetime(2999, 12, 31, tzinfo=dt.UTC), message="Dates end on 2999-12-31."),
        ]
        super().__init__(**kwargs)
