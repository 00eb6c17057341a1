"""Write many new rows with PostgreSQL's COPY (the chunk's cases, actions, markers and events).

Django's bulk_create builds one INSERT ... UNNEST with every value quoted in Python; COPY
streams the rows in PostgreSQL's text format through psycopg's C adapters, several times
cheaper per row. Only for plain new rows: no signals, no returned ids (ours are UUIDs
assigned in Python), constraints checked by the database as usual.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, models
from psycopg.types.json import Jsonb


def copy_insert(model: type[models.Model], objects: Sequence[models.Model]) -> None:
    """INSERT `objects` (new rows of `model`) with one COPY; auto_now(_add) fields are filled as save() would."""
    if not objects:
        return
    fields = [f for f in model._meta.concrete_fields if not (f.primary_key and isinstance(f, models.AutoField))]
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    json_fields = {f.attname for f in fields if isinstance(f, models.JSONField)}
    with connection.cursor() as cursor:
        raw: Any = cursor.cursor  # psycopg's own cursor under Django's wrapper
        with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for obj in objects:
                row = []
                for field in fields:
                    value = field.pre_save(obj, add=True)
                    row.append(Jsonb(value) if field.attname in json_fields else value)
                copy.write_row(row)
    for obj in objects:
        obj._state.adding = False
        obj._state.db = connection.alias
