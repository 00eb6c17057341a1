"""Query-parameter filters every resource shares."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 time, normalised to UTC.

    Python accepts UTC offsets up to ±23:59 but PostgreSQL only ±15:59, so a query with an
    exotic offset would fail in the database (a 500) instead of being answered; in UTC every
    representable instant is fine, and one that leaves the calendar is a 400.
    """

    def to_python(self, value: Any) -> datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(UTC)
        except OverflowError as exc:
            raise forms.ValidationError("Enter a date/time between years 1 and 9999.", code="invalid") from exc


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """`django_filters.IsoDateTimeFilter`, safe for any offset the format allows."""

    field_class = UtcIsoDateTimeField
