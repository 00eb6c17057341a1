"""Query-parameter filters every resource shares."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.request import Request
from rest_framework.views import APIView


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


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, skipped when the query string names none of the view's filters.

    A FilterSet built from an empty query (a form, a field per filter, its validation) filters
    nothing but is a tenth of a list page's time; with none of its parameters given the answer is
    the queryset as it is. Any parameter that starts like a filter's name (range filters take
    suffixes) goes through django-filter as before, errors included.
    """

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: APIView) -> QuerySet[Any]:
        filterset_class = getattr(view, "filterset_class", None)
        if filterset_class is not None and getattr(view, "filterset_fields", None) is None:
            names = tuple(filterset_class.base_filters)
            if not any(key.startswith(names) for key in request.query_params):
                return queryset
        return super().filter_queryset(request, queryset, view)
