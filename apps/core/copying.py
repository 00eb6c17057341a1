"""Writing many new rows with PostgreSQL's COPY (dunning chunks, notification batches).

Django's bulk_create builds one INSERT ... UNNEST with every value quoted in Python; COPY
streams the rows through psycopg's C adapters, several times cheaper per row. Only for plain
new rows: no signals, no returned ids (ours are set in Python), constraints checked by the
database as usual. COPY has no ON CONFLICT: a caller that may meet a taken unique key runs it
in a savepoint and falls back to bulk_create(ignore_conflicts=True) on IntegrityError.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, models
from psycopg.types.json import Jsonb


def copy_insert(model: type[models.Model], objects: Sequence[models.Model]) -> None:
    """INSERT `objects` (new rows, ids set in Python) with one COPY; auto_now(_add) filled as save() would."""
    if not objects:
        return
    fields = [f for f in model._meta.concrete_fields if not (f.primary_key and isinstance(f, models.AutoField))]
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    json_fields = {f.attname for f in fields if isinstance(f, models.JSONField)}
    # Django's error wrapper: a taken key raises django.db.IntegrityError, as an INSERT would.
    with connection.cursor() as cursor, connection.wrap_database_errors:
        raw = cursor.cursor  # psycopg's own cursor under Django's wrapper
        with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for obj in objects:
                copy.write_row(
                    [
                        Jsonb(value) if field.attname in json_fields else value
                        for field in fields
                        for value in (field.pre_save(obj, add=True),)
                    ]
                )
    for obj in objects:
        obj._state.adding = False
        obj._state.db = connection.alias
