"""Clone the template schema into a new tenant's schema, as migrations would have built it.

django-tenants' `clone_schema` plpgsql function scans information_schema across every
schema for each table, so creating a tenant got slower with every tenant (0.5 s with 10,
19 s with 300). Here every catalog lookup starts from a namespace oid and follows indexed
catalog columns (pg_depend's reference index, then conrelid, indrelid, attrelid), so the
cost does not depend on how many schemas exist.

The clone must be indistinguishable from a migrated schema, because later migrations drop
indexes and constraints by name:
- `CREATE TABLE ... (LIKE ... INCLUDING CONSTRAINTS INCLUDING INDEXES ...)` copies CHECK
  constraints with their names and every index's expression trees as they are. Re-creating
  them from pg_get_indexdef / pg_get_constraintdef text would not: PostgreSQL re-parses
  `status IN ('a', 'b')` into another tree (the cast moves into the ARRAY), so the clone's
  definitions would print differently from the migrated ones.
- LIKE names indexes and PK/UNIQUE/EXCLUDE constraints by the default rules, so each is
  paired with its template original (same table, same definition) and renamed back.
- FOREIGN KEYs, which LIKE never copies, are added from pg_get_constraintdef once every
  table exists (their text has no expression to re-parse).
- Rows are copied (django_migrations too: nothing is pending afterwards) and identity
  sequences continue after them.
- Functions (apps/events migration 0004's commit-time numbering) are re-created from
  pg_get_functiondef with the schema in their header rewritten, and triggers on the tables
  from pg_get_triggerdef with the schema of their table rewritten, after the rows are copied
  (copying rows fires no trigger). A function whose text names the template schema anywhere
  else (a body, a `SET search_path`) is refused: it would keep working on the template.
Anything else in the template (views, aggregates, disabled triggers, rules, serial sequences,
...) makes the clone refuse, loudly, rather than differ silently.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from typing import Any, NamedTuple

from django.db import connection, transaction

from apps.tenants.exceptions import TemplateNotCloneable

# PostgreSQL quotes identifiers and literals here (quote_ident, quote_literal); Python only
# assembles statements from the quoted pieces.

# The tables of a schema: pg_depend records every object created in a namespace against it.
TABLES_SQL = """
SELECT c.oid::int8, quote_ident(c.relname), c.relpersistence = 'u', copied.columns, quote_literal(dsc.description)
FROM pg_depend d
JOIN pg_class c ON c.oid = d.objid
LEFT JOIN pg_description dsc ON dsc.objoid = c.oid AND dsc.classoid = 'pg_class'::regclass AND dsc.objsubid = 0
CROSS JOIN LATERAL (
    -- Generated columns compute themselves; dropped ones are not copied by LIKE.
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) AS columns
    FROM pg_attribute a
    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
) copied
WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = %(namespace)s
  AND d.classid = 'pg_class'::regclass AND c.relkind = 'r'
ORDER BY c.relname
"""

# Tables and their identity sequences are what migrations make; anything else in the
# template, or on its tables, that LIKE would not reproduce is described here and refused.
UNCLONEABLE_SQL = """
SELECT pg_describe_object(d.classid, d.objid, 0)
FROM pg_depend d
LEFT JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = %(namespace)s
  AND NOT (d.classid = 'pg_proc'::regclass
           AND EXISTS (SELECT 1 FROM pg_proc p WHERE p.oid = d.objid AND p.prokind IN ('f', 'p')))
  AND NOT coalesce(
      c.relkind = 'r'
      OR c.relkind = 'S' AND EXISTS (
          SELECT 1 FROM pg_depend owner
          WHERE owner.classid = 'pg_class'::regclass AND owner.objid = c.oid AND owner.deptype = 'i'
      ),
      false
  )
UNION ALL
SELECT pg_describe_object('pg_class'::regclass, t.oid, 0)
       || ' (partition, inheritance, storage parameters, tablespace or row security)'
FROM pg_class t
WHERE t.oid = ANY(%(tables)s::oid[])
  AND (t.relispartition OR t.reloptions IS NOT NULL OR t.reltablespace <> 0 OR t.relrowsecurity
       OR EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = t.oid)
       OR EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhparent = t.oid))
UNION ALL
SELECT pg_describe_object('pg_class'::regclass, ic.oid, 0) || ' (invalid, or in a tablespace)'
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE i.indrelid = ANY(%(tables)s::oid[]) AND (NOT i.indisvalid OR ic.reltablespace <> 0)
UNION ALL
-- LIKE would copy it as valid.
SELECT pg_describe_object('pg_constraint'::regclass, con.oid, 0) || ' (NOT VALID)'
FROM pg_constraint con WHERE con.conrelid = ANY(%(tables)s::oid[]) AND con.contype = 'c' AND NOT con.convalidated
UNION ALL
SELECT pg_describe_object('pg_trigger'::regclass, tg.oid, 0) || ' (disabled or replica/always)'
FROM pg_trigger tg WHERE tg.tgrelid = ANY(%(tables)s::oid[]) AND NOT tg.tgisinternal AND tg.tgenabled <> 'O'
UNION ALL
SELECT pg_describe_object('pg_rewrite'::regclass, r.oid, 0) FROM pg_rewrite r WHERE r.ev_class = ANY(%(tables)s::oid[])
UNION ALL
SELECT pg_describe_object('pg_policy'::regclass, p.oid, 0) FROM pg_policy p WHERE p.polrelid = ANY(%(tables)s::oid[])
UNION ALL
SELECT pg_describe_object('pg_statistic_ext'::regclass, s.oid, 0)
FROM pg_statistic_ext s WHERE s.stxrelid = ANY(%(tables)s::oid[])
UNION ALL
-- A serial column's default is nextval() of a sequence in the template: LIKE would copy
-- that default as it is, and every tenant would draw its ids from the template's sequence.
SELECT pg_describe_object('pg_attrdef'::regclass, ad.oid, 0)
       || ' calls nextval() on the template''s sequence ' || seq.relname || ' (a serial column)'
FROM pg_attrdef ad
CROSS JOIN LATERAL (
    -- OFFSET 0 keeps this a lookup per default, never a scan of every default's dependencies.
    SELECT dep.refobjid FROM pg_depend dep
    WHERE dep.classid = 'pg_attrdef'::regclass AND dep.objid = ad.oid AND dep.refclassid = 'pg_class'::regclass
    OFFSET 0
) dep
JOIN pg_class seq ON seq.oid = dep.refobjid AND seq.relkind = 'S' AND seq.relnamespace = %(namespace)s
WHERE ad.adrelid = ANY(%(tables)s::oid[])
"""

# Every index of a schema's tables, with the PK/UNIQUE/EXCLUDE constraint it backs, if any.
INDEXES_SQL = """
SELECT quote_ident(t.relname), quote_ident(ic.relname), i.indisunique, pg_get_indexdef(i.indexrelid),
       coalesce(pg_get_constraintdef(con.oid), ''), quote_literal(dsc.description)
FROM pg_depend d
JOIN pg_class t ON t.oid = d.objid AND t.relkind = 'r'
JOIN pg_index i ON i.indrelid = t.oid
JOIN pg_class ic ON ic.oid = i.indexrelid
LEFT JOIN pg_constraint con
       ON con.conrelid = i.indrelid AND con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x')
LEFT JOIN pg_description dsc ON dsc.objoid = ic.oid AND dsc.classoid = 'pg_class'::regclass AND dsc.objsubid = 0
WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = %(namespace)s AND d.classid = 'pg_class'::regclass
ORDER BY t.relname, ic.relname
"""

# FOREIGN KEYs (LIKE copies none), and the comments on every constraint.
CONSTRAINTS_SQL = """
SELECT quote_ident(t.relname), quote_ident(con.conname), con.contype = 'f', pg_get_constraintdef(con.oid),
       quote_literal(dsc.description)
FROM pg_constraint con
JOIN pg_class t ON t.oid = con.conrelid
LEFT JOIN pg_description dsc
       ON dsc.objoid = con.oid AND dsc.classoid = 'pg_constraint'::regclass AND dsc.objsubid = 0
WHERE con.conrelid = ANY(%(tables)s::oid[]) AND (con.contype = 'f' OR dsc.description IS NOT NULL)
ORDER BY t.relname, con.conname
"""

# The identity columns of a schema's tables and their sequences. `target_sequence` is the
# literal naming the sequence once it lives, under the same name, in the target schema.
IDENTITIES_SQL = """
SELECT quote_ident(t.relname), quote_ident(a.attname), quote_ident(seq.relname),
       quote_literal(quote_ident(%(target)s) || '.' || quote_ident(seq.relname)),
       format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement > 0
FROM pg_depend d
JOIN pg_class t ON t.oid = d.objid AND t.relkind = 'r'
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attidentity <> ''
JOIN pg_depend owner ON owner.refclassid = 'pg_class'::regclass AND owner.refobjid = a.attrelid
                    AND owner.refobjsubid = a.attnum AND owner.classid = 'pg_class'::regclass AND owner.deptype = 'i'
JOIN pg_class seq ON seq.oid = owner.objid
JOIN pg_sequence s ON s.seqrelid = seq.oid
WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = %(namespace)s AND d.classid = 'pg_class'::regclass
ORDER BY t.relname, a.attnum
"""

# The functions of a schema (found through pg_depend, like its tables) and their comments.
FUNCTIONS_SQL = """
SELECT quote_ident(p.proname), pg_get_functiondef(p.oid), pg_get_function_identity_arguments(p.oid),
       CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, quote_literal(dsc.description)
FROM pg_depend d
JOIN pg_proc p ON p.oid = d.objid
LEFT JOIN pg_description dsc ON dsc.objoid = p.oid AND dsc.classoid = 'pg_proc'::regclass AND dsc.objsubid = 0
WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = %(namespace)s AND d.classid = 'pg_proc'::regclass
ORDER BY p.proname, p.oid
"""

# The triggers on a schema's tables (not the internal ones of foreign keys) and their comments.
TRIGGERS_SQL = """
SELECT quote_ident(t.relname), quote_ident(tg.tgname), pg_get_triggerdef(tg.oid), quote_literal(dsc.description)
FROM pg_trigger tg
JOIN pg_class t ON t.oid = tg.tgrelid
LEFT JOIN pg_description dsc ON dsc.objoid = tg.oid AND dsc.classoid = 'pg_trigger'::regclass AND dsc.objsubid = 0
WHERE tg.tgrelid = ANY(%(tables)s::oid[]) AND NOT tg.tgisinternal
ORDER BY t.relname, tg.tgname
"""

LIKE_OPTIONS = " ".join(
    f"INCLUDING {part}"
    for part in ("DEFAULTS", "IDENTITY", "GENERATED", "CONSTRAINTS", "INDEXES", "STORAGE", "COMPRESSION", "COMMENTS")
)


class Identity(NamedTuple):
    table: str  # quoted, like every name here
    column: str
    sequence: str
    target_sequence: str  # a quoted literal: the schema-qualified sequence in the target
    type: str
    start: int
    ascending: bool


class Index(NamedTuple):
    table: str  # quoted, like every name here
    name: str
    shape: tuple[str, str, str]  # table, backed constraint's definition, index definition after its table
    comment: str | None  # a quoted literal


def schema_clone(*, template: str, target: str) -> None:
    """Create schema `target` as a copy of `template`: tables, names, constraints, indexes and rows.

    One transaction: if any step fails, `target` does not exist afterwards.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('search_path'), current_setting('enable_seqscan')")
        search_path, seqscan = cursor.fetchone()
        _clone(cursor, template=template, target=target, seqscan=seqscan)
        # set_config(..., true) would otherwise last until the outer transaction ends (a
        # failure's rollback undoes it).
        _set(cursor, search_path=search_path, enable_seqscan=seqscan)


def _clone(cursor: Any, *, template: str, target: str, seqscan: str) -> None:
    namespace = _namespace(cursor, template)
    if namespace is None:
        raise TemplateNotCloneable(f"template schema {template!r} does not exist")
    cursor.execute("SELECT quote_ident(%s), quote_ident(%s)", [template, target])
    source, destination = cursor.fetchone()
    cursor.execute(TABLES_SQL, {"namespace": namespace})
    tables = cursor.fetchall()
    params = {"namespace": namespace, "tables": [table_oid for table_oid, *_ in tables], "target": target}
    cursor.execute(UNCLONEABLE_SQL, params)
    if refused := [description for (description,) in cursor.fetchall()]:
        raise TemplateNotCloneable(
            f"template schema {template!r} holds what a clone cannot reproduce exactly: {'; '.join(refused)}"
        )

    # Printed with search_path = the template, names of its own tables come out unqualified;
    # run with search_path = target, they name the clone's tables.
    # Catalog statistics lag behind a burst of tenant creations (autovacuum analyzes them only
    # now and then, and not at all where it is off): the planner would then scan all of
    # pg_trigger, which grows with every tenant, rather than look up the template's tables.
    _set(cursor, search_path=source, enable_seqscan="off")
    originals = _indexes(cursor, namespace=namespace, schema=source)
    cursor.execute(CONSTRAINTS_SQL, params)
    constraints = cursor.fetchall()
    identities = _identities(cursor, namespace=namespace, target=target)
    cursor.execute(FUNCTIONS_SQL, params)
    functions = _functions(cursor.fetchall(), template=template, source=source, destination=destination)
    cursor.execute(TRIGGERS_SQL, params)
    triggers = _triggers(cursor.fetchall(), template=template, source=source, destination=destination)

    cursor.execute(f"CREATE SCHEMA {destination}")
    _set(cursor, search_path=destination)
    # Identifiers in these statements were quoted by PostgreSQL (quote_ident).
    _run(cursor, [_create_table(source, destination, table, unlogged) for _oid, table, unlogged, *_ in tables])
    clone_namespace = _namespace(cursor, target)
    copies = _indexes(cursor, namespace=clone_namespace, schema=destination)
    _run(cursor, _index_renames(originals, copies, schema=destination))
    copied_identities = _identities(cursor, namespace=clone_namespace, target=target)
    _run(cursor, _sequence_fixes(identities, copied_identities, schema=destination))
    _set(cursor, enable_seqscan=seqscan)  # for reading the template's rows and checking foreign keys
    _run(
        cursor,
        [
            f"INSERT INTO {destination}.{table} ({columns}) OVERRIDING SYSTEM VALUE "  # noqa: S608
            f"SELECT {columns} FROM {source}.{table}"
            for _oid, table, _unlogged, columns, _comment in tables
            if columns
        ],
    )
    # After the rows, and every unique index the keys reference.
    _run(
        cursor,
        [
            f"ALTER TABLE {destination}.{table} ADD CONSTRAINT {name} {definition}"
            for table, name, is_foreign_key, definition, _comment in constraints
            if is_foreign_key
        ],
    )
    # Functions first: a trigger names its function as PostgreSQL printed it with search_path =
    # the template (unqualified when it lives there), now resolved with search_path = target.
    _run(cursor, functions + triggers)
    _run(
        cursor,
        [f"COMMENT ON TABLE {destination}.{table} IS {comment}" for _oid, table, *_, comment in tables if comment]
        + [f"COMMENT ON INDEX {destination}.{index.name} IS {index.comment}" for index in originals if index.comment]
        + [
            f"COMMENT ON CONSTRAINT {name} ON {destination}.{table} IS {comment}"
            for table, name, _is_foreign_key, _definition, comment in constraints
            if comment
        ],
    )
    _run(cursor, [_sequence_continue(destination, identity) for identity in identities])


def _create_table(source: str, destination: str, table: str, unlogged: bool) -> str:
    persistence = "UNLOGGED " if unlogged else ""
    return f"CREATE {persistence}TABLE {destination}.{table} (LIKE {source}.{table} {LIKE_OPTIONS})"


def _functions(rows: list[Any], *, template: str, source: str, destination: str) -> list[str]:
    """CREATE FUNCTION statements (and COMMENTs) for the target, from the template's definitions."""
    statements = []
    for name, definition, arguments, kind, comment in rows:
        head = f"CREATE OR REPLACE {kind} {source}.{name}("
        if not definition.startswith(head):
            raise TemplateNotCloneable(f"function {name} has a definition of an unexpected form: {definition[:200]}")
        rest = definition[len(head) :]
        if template in rest:
            raise TemplateNotCloneable(
                f"template schema {template!r} holds what a clone cannot reproduce exactly: "
                f"function {name}({arguments}) names the template schema in its definition"
            )
        statements.append(f"CREATE {kind} {destination}.{name}({rest}")
        if comment:
            statements.append(f"COMMENT ON {kind} {destination}.{name}({arguments}) IS {comment}")
    return statements


def _triggers(rows: list[Any], *, template: str, source: str, destination: str) -> list[str]:
    """CREATE TRIGGER statements (and COMMENTs) for the target's tables, from the template's definitions."""
    statements = []
    for table, name, definition, comment in rows:
        on_table = f" ON {source}.{table} "
        if definition.count(on_table) != 1:
            raise TemplateNotCloneable(f"trigger {name} has a definition of an unexpected form: {definition}")
        copied = definition.replace(on_table, f" ON {destination}.{table} ")
        if template in copied.replace(f" ON {destination}.{table} ", " "):
            raise TemplateNotCloneable(
                f"template schema {template!r} holds what a clone cannot reproduce exactly: "
                f"trigger {name} on {table} names the template schema in its definition"
            )
        statements.append(copied)
        if comment:
            statements.append(f"COMMENT ON TRIGGER {name} ON {destination}.{table} IS {comment}")
    return statements


def _namespace(cursor: Any, schema: str) -> int | None:
    cursor.execute("SELECT oid::int8 FROM pg_namespace WHERE nspname = %s", [schema])
    row = cursor.fetchone()
    return None if row is None else int(row[0])


def _set(cursor: Any, **settings: str) -> None:
    """SET LOCAL the given settings."""
    for name, value in settings.items():
        cursor.execute("SELECT set_config(%s, %s, true)", [name, value])


def _indexes(cursor: Any, *, namespace: int | None, schema: str) -> list[Index]:
    cursor.execute(INDEXES_SQL, {"namespace": namespace})
    indexes = []
    for table, name, unique, definition, constraint, comment in cursor.fetchall():
        head = f"CREATE {'UNIQUE ' if unique else ''}INDEX {name} ON {schema}.{table} "
        if not definition.startswith(head):
            raise TemplateNotCloneable(f"index {name} has a definition of an unexpected form: {definition}")
        indexes.append(Index(table, name, (table, constraint, definition[len(head) :]), comment))
    return indexes


def _index_renames(originals: list[Index], copies: list[Index], *, schema: str) -> list[str]:
    """ALTER INDEX statements giving each copied index (and its constraint) its original's name.

    A copy is paired with the original of the same table and definition; copies of identical
    indexes are interchangeable.
    """
    wanted: defaultdict[tuple[str, str, str], list[str]] = defaultdict(list)
    found: defaultdict[tuple[str, str, str], list[str]] = defaultdict(list)
    for index in originals:
        wanted[index.shape].append(index.name)
    for index in copies:
        found[index.shape].append(index.name)
    if {shape: len(names) for shape, names in wanted.items()} != {shape: len(names) for shape, names in found.items()}:
        raise TemplateNotCloneable(f"LIKE copied other indexes than the template's: {sorted(set(found) ^ set(wanted))}")
    taken = {index.name for index in copies}
    renames, finals = [], []
    for shape, names in wanted.items():
        for current, original in zip(sorted(found[shape]), sorted(names), strict=True):
            if current == original:
                continue
            if original in taken:  # another copy holds that name until its own rename
                parked = f"clone_{secrets.token_hex(8)}"
                renames.append(f"ALTER INDEX {schema}.{current} RENAME TO {parked}")
                finals.append(f"ALTER INDEX {schema}.{parked} RENAME TO {original}")
            else:
                renames.append(f"ALTER INDEX {schema}.{current} RENAME TO {original}")
    return renames + finals


def _identities(cursor: Any, *, namespace: int | None, target: str) -> list[Identity]:
    cursor.execute(IDENTITIES_SQL, {"namespace": namespace, "target": target})
    return [Identity(*row) for row in cursor.fetchall()]


def _sequence_fixes(originals: list[Identity], copies: list[Identity], *, schema: str) -> list[str]:
    """Give each identity sequence made by LIKE its original's name and type.

    PostgreSQL 15's LIKE ... INCLUDING IDENTITY makes a bigint sequence for an integer column.
    """
    copied = {(copy.table, copy.column): copy for copy in copies}
    statements = []
    for original in originals:
        copy = copied[original.table, original.column]
        if copy.type != original.type:
            statements.append(f"ALTER SEQUENCE {schema}.{copy.sequence} AS {original.type}")
        if copy.sequence != original.sequence:
            statements.append(f"ALTER SEQUENCE {schema}.{copy.sequence} RENAME TO {original.sequence}")
    return statements


def _sequence_continue(schema: str, identity: Identity) -> str:
    """Move an identity sequence past the copied rows, or back to its start for an empty table."""
    last = f"{'max' if identity.ascending else 'min'}({identity.column})"
    return (
        f"SELECT setval({identity.target_sequence}, coalesce({last}, {identity.start}), "  # noqa: S608
        f"{last} IS NOT NULL) FROM {schema}.{identity.table}"
    )


def _run(cursor: Any, statements: list[str]) -> None:
    # One round trip per step: psycopg sends a query without parameters with the simple
    # protocol, which takes several statements.
    if statements:
        cursor.execute(";\n".join(statements))
