"""Filters shared by the API's resources."""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 date-time filter that queries in UTC.

    Python accepts UTC offsets up to +-23:59, PostgreSQL only up to +-15:59: a value such as
    `...T22:01:04-23:23` would reach the database as written and fail there (a 500). The same
    instant in UTC is always accepted.
    """

    def filter(self, qs: Any, value: Any) -> Any:
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return super().filter(qs, value)
