"""Gapless, per-tenant document numbers (`ACC-000123`, `INV-2026-000042`, `CN-2026-000007`).

The counter row is upserted and incremented in one statement; its row lock is held until
the caller's transaction commits, so concurrent finalizations queue for the next number
and a rolled-back transaction gives its number back. A unique constraint on the document's
number is the final guard, never `Max()+1`.
"""

from __future__ import annotations

import string
from datetime import date

from django.db import connection

from apps.accounts.models import NumberSequence
from apps.core.errors import ValidationFailed

ALLOWED_FIELDS = {"seq", "year", "month"}


def validate_number_format(number_format: str) -> None:
    """Refuse a format without `{seq}` or with unknown placeholders."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(number_format) if name is not None}
        number_format.format(seq=1, year=2026, month=1)
    except (ValueError, IndexError, KeyError) as exc:
        raise ValidationFailed(f"invalid number format {number_format!r}: {exc}") from exc
    if "seq" not in fields:
        raise ValidationFailed("a number format must contain {seq}, e.g. INV-{year}-{seq:06d}")
    unknown = fields - ALLOWED_FIELDS
    if unknown:
        raise ValidationFailed(f"unknown placeholder(s) {', '.join(sorted(unknown))}; use seq, year, month")


def next_number(kind: str, number_format: str, *, on: date) -> str:
    """Take the next number of `kind` for the period of `on`; call inside the transaction."""
    if "{month" in number_format:
        period = f"{on.year}-{on.month:02d}"
    elif "{year" in number_format:
        period = str(on.year)
    else:
        period = ""
    table = NumberSequence._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (kind, period, last_value) VALUES (%s, %s, 1) "  # noqa: S608
            f"ON CONFLICT (kind, period) DO UPDATE SET last_value = {table}.last_value + 1 "
            "RETURNING last_value",
            [kind, period],
        )
        row = cursor.fetchone()
    assert row is not None
    return number_format.format(seq=int(row[0]), year=on.year, month=on.month)
