"""A test-only tenant app whose migrations the safe_migrate tests apply.

Installed only by `tests.migration_fixture.settings` (the settings the tests' subprocesses run
with), never by the project's settings, so `makemigrations --check` and the other tests never
see it. `MIGRATION_FIXTURE_SET` picks which second migration the app has:

- constraint: a CHECK constraint that a tenant with a negative reading violates;
- unsafe: a NOT NULL column without a database default and a non-concurrent index;
- nonatomic: `atomic = False`, a concurrent index then the same CHECK (restore from backup);
- rowloss: a data migration that deletes rows without declaring `changes_row_counts`.
"""
