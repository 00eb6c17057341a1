"""What a schema looks like to migrations, with its own name normalised away (for comparisons)."""

from __future__ import annotations

from django.db import connection

from apps.core.tenancy import use_public_schema

PLACEHOLDER = "<schema>"

SHAPE_QUERIES = {
    "columns": """
        SELECT table_name, column_name, data_type, character_maximum_length, numeric_precision, numeric_scale,
               is_nullable, column_default, is_identity, identity_generation, identity_start, identity_increment,
               is_generated, generation_expression, collation_name
        FROM information_schema.columns WHERE table_schema = %(schema)s
        ORDER BY table_name, ordinal_position
    """,
    "indexes": """
        SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = %(schema)s
        ORDER BY tablename, indexname
    """,
    "constraints": """
        SELECT t.relname, con.conname, con.contype, pg_get_constraintdef(con.oid)
        FROM pg_constraint con
        JOIN pg_class t ON t.oid = con.conrelid
        JOIN pg_namespace n ON n.oid = con.connamespace
        WHERE n.nspname = %(schema)s
        ORDER BY t.relname, con.conname
    """,
    "sequences": """
        SELECT sequencename, data_type, start_value, min_value, max_value, increment_by, cycle, cache_size, last_value
        FROM pg_sequences WHERE schemaname = %(schema)s ORDER BY sequencename
    """,
    "functions": """
        SELECT p.proname, pg_get_functiondef(p.oid), obj_description(p.oid, 'pg_proc')
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = %(schema)s ORDER BY p.proname
    """,
    "triggers": """
        SELECT c.relname, tg.tgname, pg_get_triggerdef(tg.oid), tg.tgenabled, obj_description(tg.oid, 'pg_trigger')
        FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(schema)s AND NOT tg.tgisinternal ORDER BY c.relname, tg.tgname
    """,
    "tables": """
        SELECT c.relname, c.relkind, c.relpersistence, obj_description(c.oid, 'pg_class')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(schema)s ORDER BY c.relname
    """,
}


def schema_shape(schema: str) -> dict[str, list[tuple[object, ...]]]:
    """Columns, indexes, constraints, sequences, functions, triggers and relations of `schema`, its name replaced."""
    # Definitions name objects outside the search_path with their schema: look from public.
    use_public_schema()
    shape = {}
    with connection.cursor() as cursor:
        for part, sql in SHAPE_QUERIES.items():
            cursor.execute(sql, {"schema": schema})
            shape[part] = [tuple(_normalise(value, schema) for value in row) for row in cursor.fetchall()]
    return shape


def _normalise(value: object, schema: str) -> object:
    return value.replace(f"{schema}.", f"{PLACEHOLDER}.") if isinstance(value, str) else value
