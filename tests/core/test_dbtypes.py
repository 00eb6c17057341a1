"""Timestamps are parsed by psycopg's compiled loader and read exactly as Django's own loader reads them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import register_tzloader
from psycopg.postgres import types
from psycopg.pq import Format

from apps.accounts.models import Account
from apps.accounts.services import account_create

pytestmark = pytest.mark.django_db

# Whole and fractional seconds, the epoch's edge, a leap day, far past and future, another offset.
LITERALS = [
    "2026-11-26 03:46:49+00",
    "2026-11-26 03:46:49.000001+00",
    "2026-11-26 03:46:49.999999+00",
    "1970-01-01 00:00:00+00",
    "2028-02-29 23:59:59.5+00",
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
    "2026-06-30 23:30:00-07:30",
]
QUERY = "SELECT " + ", ".join(f"'{literal}'::timestamptz" for literal in LITERALS)


def loader_class() -> Any:
    connection.ensure_connection()
    return connection.connection.adapters.get_loader(types["timestamptz"].oid, Format.TEXT)


def test_the_connection_parses_timestamps_with_the_compiled_loader() -> None:
    loader = loader_class()
    assert loader.__name__ == "UtcTimestamptzLoader"
    assert loader.timezone is dt.UTC  # what Django's create_cursor compares with its time zone
    parse = loader(types["timestamptz"].oid, connection.connection).load
    assert type(parse.__self__).__module__ == "psycopg_binary._psycopg"  # compiled, not the Python parser
    assert parse(b"2026-11-26 03:46:49.5+00") == dt.datetime(2026, 11, 26, 3, 46, 49, 500000, tzinfo=dt.UTC)


def test_timestamps_read_exactly_as_djangos_own_loader_reads_them() -> None:
    with connection.cursor() as cursor:
        cursor.execute(QUERY)
        compiled = cursor.fetchone()
    with connection.cursor() as cursor:
        register_tzloader(connection.timezone, cursor.cursor)  # Django's pure-Python loader, this cursor only
        cursor.execute(QUERY)
        django_own = cursor.fetchone()
    assert compiled == django_own
    assert [value.tzinfo for value in compiled] == [dt.UTC] * len(LITERALS)
    assert [value.isoformat() for value in compiled] == [value.isoformat() for value in django_own]
    assert compiled[-1] == dt.datetime(2026, 7, 1, 7, 0, tzinfo=dt.UTC)


def test_a_model_timestamp_round_trips_to_the_microsecond(in_tenant_a: object) -> None:
    account = account_create(name="Ada Obi", currency="NGN", email="ada@example.com")
    stored = Account.objects.values_list("created_at", flat=True).get(pk=account.pk)
    assert stored == account.created_at and stored.tzinfo is dt.UTC
