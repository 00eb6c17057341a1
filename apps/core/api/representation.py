"""Planned representations: DRF's output of a read-only serializer without its per-field machinery.

A page of 50 invoices is ~1,500 field values; DRF walks each through `get_attribute`,
`to_representation` and, for datetimes, a timezone lookup, and builds the serializer's fields
anew on every request. `PlannedRepresentation` looks at the serializer's fields once per class
and turns each into a plain function of the instance, for the field types whose output it can
reproduce exactly (the test compares it with DRF's own, field by field). A serializer with any
other field, or with a field configured differently (custom format, dotted source, ...), keeps
DRF's path unchanged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, ClassVar

from django.conf import settings
from django.db.models import Manager
from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from apps.core.api.fields import DecimalOutputField, MoneyField, _resolve
from apps.core.money import money_str

Converter = Callable[[Any], Any]
_UNPLANNED = object()


def _attribute(name: str, convert: Callable[[Any], Any]) -> Converter:
    def value(instance: Any) -> Any:
        raw = getattr(instance, name)
        return None if raw is None else convert(raw)

    return value


def _datetime(value: dt.datetime) -> str:
    """DRF's ISO 8601 output with USE_TZ: in the current timezone, UTC as `Z`."""
    current = timezone.get_current_timezone()
    value = value.astimezone(current) if timezone.is_aware(value) else timezone.make_aware(value, current)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def datetime_formatter() -> Callable[[dt.datetime | None], str | None]:
    """`_datetime` (None stays None) with the current timezone looked up once, for a whole page
    of rows: the lookup goes through a thread-local and is most of a single conversion's cost."""
    current = timezone.get_current_timezone()
    make_aware = timezone.make_aware

    def formatted(value: dt.datetime | None) -> str | None:
        if value is None:
            return None
        value = value.astimezone(current) if value.utcoffset() is not None else make_aware(value, current)
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return formatted


def _converter(field: Any) -> Converter | None:
    """A function of the instance giving `field`'s output, or None when DRF must do it."""
    if len(field.source_attrs) != 1 or field.source == "*":
        return None
    name = field.source_attrs[0]
    kind = type(field)
    if kind is MoneyField:
        currency_attribute = field.currency_attribute

        def money(instance: Any) -> str:
            return money_str(getattr(instance, name), _resolve(instance, currency_attribute))

        return money
    if kind is DecimalOutputField:
        return _attribute(name, lambda value: format(value.normalize(), "f"))
    if kind is serializers.DateTimeField:
        if getattr(field, "format", api_settings.DATETIME_FORMAT) != ISO_8601 or hasattr(field, "timezone"):
            return None
        if not settings.USE_TZ:
            return None
        return _attribute(name, _datetime)
    if kind is serializers.DateField:
        if getattr(field, "format", api_settings.DATE_FORMAT) != ISO_8601:
            return None
        return _attribute(name, lambda value: value if isinstance(value, str) else value.isoformat())
    if kind is serializers.UUIDField:
        return _attribute(name, str) if field.uuid_format == "hex_verbose" else None
    if kind is serializers.PrimaryKeyRelatedField:
        if field.pk_field is not None:
            return None
        attname = f"{name}_id"
        return lambda instance: getattr(instance, attname)
    if kind is serializers.CharField:
        return _attribute(name, str)
    if kind is serializers.IntegerField:
        return _attribute(name, int)
    if kind is serializers.BooleanField:
        return _attribute(name, bool)
    if kind is serializers.ChoiceField:
        choices = dict(field.choice_strings_to_values)
        return _attribute(name, lambda value: value if value == "" else choices.get(str(value), value))
    if kind is serializers.JSONField:
        return None if field.binary else _attribute(name, lambda value: value)
    if isinstance(field, serializers.ListSerializer) and isinstance(field.child, PlannedRepresentation):
        child = field.child

        def items(instance: Any) -> list[Any]:
            data = getattr(instance, name)
            iterable = data.all() if isinstance(data, Manager) else data
            return [child.to_representation(item) for item in iterable]

        return items
    return None


class PlannedRepresentation(serializers.Serializer[Any]):
    """Mixin for read-only (model) serializers: the same output as DRF's, planned once per class."""

    _plans: ClassVar[dict[type, Any]] = {}

    @classmethod
    def _plan(cls, serializer: serializers.Serializer[Any]) -> list[tuple[str, Converter | str]] | None:
        """(field name, function of the instance or name of a `get_<field>` method), or None."""
        plan = PlannedRepresentation._plans.get(cls, _UNPLANNED)
        if plan is _UNPLANNED:
            steps: list[tuple[str, Converter | str]] | None = []
            for field in serializer._readable_fields:
                step: Converter | str | None = (
                    field.method_name if type(field) is serializers.SerializerMethodField else _converter(field)
                )
                if step is None or steps is None:
                    steps = None
                    break
                steps.append((str(field.field_name), step))
            PlannedRepresentation._plans[cls] = plan = steps
        return plan

    def to_representation(self, instance: Any) -> Any:
        plan = type(self)._plan(self)
        if plan is None:
            return super().to_representation(instance)
        return {name: getattr(self, step)(instance) if isinstance(step, str) else step(instance) for name, step in plan}
