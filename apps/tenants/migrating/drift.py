"""Has a schema drifted from what its migrations say? Compared with the template schema.

Three catalogs, each normalised so that the schema's own name does not count as a difference:
columns (table, column, type, NOT NULL), indexes (`pg_indexes.indexdef`) and constraints
(`pg_get_constraintdef`). A fingerprint (md5) per schema and catalog is computed in SQL, so
hundreds of schemas cost three queries; details are fetched only where a fingerprint differs.

Run in the public search path: PostgreSQL qualifies names outside the search path, and the
normalisation relies on that.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from django.db import connection

from apps.core.tenancy import use_public_schema

_COLUMNS = """
    SELECT n.nspname, c.relname, a.attname,
           format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE ' NULL' END
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
"""
_TABLES = """
    SELECT n.nspname, c.relname, '', 'table'
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p')
"""
_INDEXES = """
    SELECT schemaname, tablename, indexname,
           replace(indexdef, ' ON ' || quote_ident(schemaname) || '.', ' ON @.')
    FROM pg_indexes WHERE schemaname = ANY(%s)
"""
_CONSTRAINTS = """
    SELECT n.nspname, c.relname, con.conname,
           con.contype::text || ' ' || replace(pg_get_constraintdef(con.oid),
                                               'REFERENCES ' || quote_ident(n.nspname) || '.', 'REFERENCES @.')
    FROM pg_constraint con
    JOIN pg_class c ON c.oid = con.conrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ANY(%s)
"""
CATALOGS = {"table": _TABLES, "column": _COLUMNS, "index": _INDEXES, "constraint": _CONSTRAINTS}

# PostgreSQL does not deparse every expression back to the text it parsed: after a dump and
# restore, `x = ANY ((ARRAY['a'::varchar])::text[])` reads `x = ANY (ARRAY[('a'::varchar)::text])`.
# Definitions are compared without casts, parentheses and spaces, so a restored schema does not
# count as drifted; they are shown as PostgreSQL prints them.
CAST_PATTERN = r'::"?[a-z_]+(?: varying| precision| with time zone| without time zone)?"?(?:\[\])?'


def _canonical_sql(query: str) -> str:
    # `query` is one of the catalog constants above; the cast pattern goes as a parameter.
    canon = "regexp_replace(regexp_replace(dfn, %s, '', 'g'), '[()[:space:]]', '', 'g')"
    return f"SELECT nsp, tbl, obj, {canon} AS canon, dfn FROM ({query}) AS raw(nsp, tbl, obj, dfn)"  # noqa: S608


def canonical(definition: str) -> str:
    """The Python twin of `_canonical_sql`'s normalisation."""
    return re.sub(r"[()\s]", "", re.sub(CAST_PATTERN, "", definition))


@dataclass(frozen=True)
class Difference:
    schema: str
    object: str  # table, column, index, constraint
    table: str
    name: str  # the column, index or constraint name ("" for a table)
    problem: str  # missing, unexpected, different
    expected: str
    found: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    def __str__(self) -> str:
        where = f"{self.table}.{self.name}" if self.name else self.table
        if self.problem == "missing":
            return f"{self.schema}: {self.object} {where} is missing (template: {self.expected})"
        if self.problem == "unexpected":
            return f"{self.schema}: {self.object} {where} is not in the template ({self.found})"
        return f"{self.schema}: {self.object} {where} differs: template {self.expected}, here {self.found}"


def _fingerprints(schemas: list[str]) -> dict[tuple[str, str], str]:
    result: dict[tuple[str, str], str] = {}
    with connection.cursor() as cursor:
        for catalog, query in CATALOGS.items():
            cursor.execute(
                f"""
                SELECT nsp, md5(string_agg(tbl || '|' || obj || '|' || canon, E'\\n' ORDER BY tbl, obj, canon))
                FROM ({_canonical_sql(query)}) AS rows GROUP BY nsp
                """,  # noqa: S608 - the catalog queries are constants
                [CAST_PATTERN, schemas],
            )
            for schema, digest in cursor.fetchall():
                result[(schema, catalog)] = digest
    return result


def _details(schema: str, catalog: str) -> dict[tuple[str, str], tuple[str, str]]:
    """{(table, name): (canonical definition, definition as printed)} of one schema's catalog."""
    with connection.cursor() as cursor:
        cursor.execute(_canonical_sql(CATALOGS[catalog]), [CAST_PATTERN, [schema]])
        return {(table, name): (canon, raw) for _schema, table, name, canon, raw in cursor.fetchall()}


def _compare(schema: str, catalog: str, reference: str) -> list[Difference]:
    expected, found = _details(reference, catalog), _details(schema, catalog)
    differences = []
    for key in sorted(expected.keys() | found.keys()):
        table, name = key
        if key not in found:
            differences.append(Difference(schema, catalog, table, name, "missing", expected[key][1], ""))
        elif key not in expected:
            differences.append(Difference(schema, catalog, table, name, "unexpected", "", found[key][1]))
        elif expected[key][0] != found[key][0]:
            differences.append(Difference(schema, catalog, table, name, "different", expected[key][1], found[key][1]))
    if catalog == "column":
        # A missing table shows once as a table, not again as each of its columns.
        missing_tables = {d.table for d in _compare_tables(schema, reference)}
        differences = [d for d in differences if d.table not in missing_tables]
    return differences


def _compare_tables(schema: str, reference: str) -> list[Difference]:
    expected, found = _details(reference, "table"), _details(schema, "table")
    return [
        Difference(schema, "table", table, "", "missing" if (table, name) in expected else "unexpected", "", "")
        for table, name in sorted(expected.keys() ^ found.keys())
    ]


def drift_against(reference: str, schemas: Iterable[str]) -> dict[str, list[Difference]]:
    """Differences of each schema from `reference` (empty list: no drift)."""
    schemas = list(schemas)
    use_public_schema()
    prints = _fingerprints([reference, *schemas])
    result: dict[str, list[Difference]] = {}
    for schema in schemas:
        differences: list[Difference] = []
        for catalog in CATALOGS:
            if prints.get((schema, catalog)) != prints.get((reference, catalog)):
                if catalog == "table":
                    differences += _compare_tables(schema, reference)
                else:
                    differences += _compare(schema, catalog, reference)
        result[schema] = differences
    return result


def row_counts(schema: str, *, exclude: Iterable[str] = ()) -> dict[str, int]:
    """Exact `count(*)` of every table of `schema` (one statement), except the `exclude`d ones."""
    excluded = set(exclude)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY c.relname",
            [schema],
        )
        tables = [name for (name,) in cursor.fetchall() if name not in excluded]
        if not tables:
            return {}
        quote = connection.ops.quote_name
        cursor.execute(
            # Identifiers from the catalog, quoted; the values go as parameters.
            " UNION ALL ".join(f"SELECT %s, count(*) FROM {quote(schema)}.{quote(table)}" for table in tables),  # noqa: S608
            tables,
        )
        return {table: int(count) for table, count in cursor.fetchall()}


_INDEX_NAME = re.compile(r'^(CREATE (?:UNIQUE )?INDEX )("[^"]+"|\S+)( ON )')


def _by_definition(schema: str, catalog: str) -> dict[tuple[str, str], list[str]]:
    """{(table, definition without its name): [names]} of one schema's indexes or constraints."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for (table, name), (_canon, definition) in _details(schema, catalog).items():
        grouped.setdefault((table, canonical(_INDEX_NAME.sub(r"\1\3", definition))), []).append(name)
    return grouped


def align_names(reference: str, schema: str) -> list[str]:
    """Rename `schema`'s constraints and indexes to `reference`'s where only the name differs.

    django-tenants' clone_schema recreates UNIQUE constraints under PostgreSQL's default names
    (`..._key` instead of Django's `..._uniq`), so a later migration that drops or renames one by
    name would fail in every cloned tenant. Returns what was renamed ("table: old -> new").
    """
    use_public_schema()
    quote = connection.ops.quote_name
    renamed: list[str] = []
    for catalog in ("constraint", "index"):  # renaming a constraint renames its index too
        wanted = _by_definition(reference, catalog)
        for (table, definition), names in _by_definition(schema, catalog).items():
            target = wanted.get((table, definition))
            if target is None or len(target) != 1 or len(names) != 1 or names == target:
                continue
            with connection.cursor() as cursor:
                if catalog == "constraint":
                    cursor.execute(
                        f"ALTER TABLE {quote(schema)}.{quote(table)} "
                        f"RENAME CONSTRAINT {quote(names[0])} TO {quote(target[0])}"
                    )
                else:
                    cursor.execute(f"ALTER INDEX {quote(schema)}.{quote(names[0])} RENAME TO {quote(target[0])}")
            renamed.append(f"{table}: {names[0]} -> {target[0]}")
    return renamed
