"""Migrating one schema safely; runs in a worker process (or in-process for public and the template).

For a tenant whose pending migrations are all atomic (the usual case), everything happens in one
transaction:

1. `LOCK TABLE <every table> IN EXCLUSIVE MODE` (under `lock_timeout`): the tenant's writes wait
   from before the backup to the end, so a restore could never lose one; reads go on.
2. `pg_dump -n <schema>` from another process: its ACCESS SHARE locks do not conflict with ours.
3. row counts, then `migrate_schemas -s <schema>` (django-tenants; each migration a savepoint),
   each statement under `statement_timeout`, each DDL lock under `lock_timeout`.
4. validation: nothing pending, no drift against the template, row counts unchanged.
5. commit; on any failure the rollback puts the tenant back exactly as it was.

A lock timeout rolls back, waits a little and retries, up to `lock_retries` times, so a deploy
never queues behind (or in front of) traffic for long.

A migration with `atomic = False` (AddIndexConcurrently) cannot run in a transaction, so such a
tenant is migrated migration by migration, and a failure restores it from the dump. Its writes
are not blocked then (a concurrent index build must wait for them), which the restore would lose:
that is why those migrations should stay small.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.migration import Migration
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.core.tenancy import use_public_schema
from apps.tenants.migrating.backups import BackupError, dump_schema, restore_schema
from apps.tenants.migrating.drift import align_names, drift_against, row_counts
from apps.tenants.migrating.plan import (
    MigrationKey,
    applied_by_schema,
    label,
    latest_per_app,
    migration_loader,
    pending_for,
)
from apps.tenants.models import MigrationResultStatus, SchemaKind

# Bookkeeping tables whose rows a migrate run itself adds (post_migrate makes content types and
# permissions for new models): not the tenant's data.
COUNT_EXEMPT_TABLES = ("django_migrations", "django_content_type", "auth_permission")
LOCK_NOT_AVAILABLE = "55P03"


@dataclass(frozen=True)
class Timeouts:
    lock_timeout_ms: int = 1000
    statement_timeout_ms: int = 5000
    # RunPython / RunSQL migrations touch every row; give them longer. AddIndexConcurrently gets none.
    data_statement_timeout_ms: int = 600_000
    lock_retries: int = 3
    retry_backoff_seconds: float = 0.5


@dataclass(frozen=True)
class SchemaJob:
    schema: str
    kind: str
    backup_path: str  # "" = take no backup
    timeouts: Timeouts
    reference: str = ""  # schema to check drift against (the template), "" = none
    target: tuple[str, str] | None = None  # reverse to (app, migration)
    # False: dump only when the plan cannot run in one transaction (the rollback undoes the rest).
    backup_atomic: bool = True


@dataclass
class SchemaOutcome:
    schema: str
    kind: str
    status: str
    started_at: datetime
    finished_at: datetime
    duration_seconds: float = 0.0
    versions_before: dict[str, str] = field(default_factory=dict)
    versions_after: dict[str, str] = field(default_factory=dict)
    migrations: list[str] = field(default_factory=list)
    attempts: int = 0
    backup_path: str = ""
    restored: str = ""
    error: str = ""
    note: str = ""

    @property
    def failed(self) -> bool:
        return self.status == MigrationResultStatus.FAILED


class ValidationFailed(Exception):
    """The schema migrated but does not look as it must afterwards."""


@dataclass
class _Active:
    """What the migrate command's progress callback needs to know about the job it runs in."""

    timeouts: Timeouts
    current: Migration | None = None


_active: _Active | None = None


def _set(name: str, milliseconds: int) -> None:
    # set_config(..., is_local): for this transaction only when in one, else for the session.
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, %s, %s)", [name, f"{milliseconds}ms", connection.in_atomic_block])


def statement_timeout_for(migration: Migration, timeouts: Timeouts) -> int:
    from django.db.migrations.operations import RunPython, RunSQL

    if not migration.atomic:
        return 0  # CREATE INDEX CONCURRENTLY waits for every running transaction by design
    if any(isinstance(operation, RunPython | RunSQL) for operation in migration.operations):
        return timeouts.data_statement_timeout_ms
    return timeouts.statement_timeout_ms


def on_migration_progress(action: str, migration: Migration | None) -> None:
    """Called by our migrate command (TENANT_BASE_MIGRATE_COMMAND) around each migration."""
    if _active is None or migration is None:
        return
    if action in {"apply_start", "unapply_start"}:
        _active.current = migration
        _set("statement_timeout", statement_timeout_for(migration, _active.timeouts))
    elif action in {"apply_success", "unapply_success"} and connection.in_atomic_block:
        # In one tenant transaction, deferred FK checks of a data migration would pile up and make
        # a later ALTER TABLE fail ("pending trigger events"); check them now, as a commit would.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _is_lock_timeout(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if getattr(seen, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            return True
        if isinstance(seen, BackupError) and "lock timeout" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def _lock_tables_for_writes(schema: str) -> None:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename", [schema])
        tables = [f"{quote(schema)}.{quote(name)}" for (name,) in cursor.fetchall()]
        if tables:
            cursor.execute(f"LOCK TABLE {', '.join(tables)} IN EXCLUSIVE MODE")


def _call_migrate(job: SchemaJob) -> None:
    arguments = list(job.target) if job.target else []
    call_command(
        "migrate_schemas",
        *arguments,
        schema_name=job.schema,
        executor="standard",
        interactive=False,
        verbosity=0,
    )
    use_public_schema()


def _plan(job: SchemaJob, applied: set[MigrationKey]) -> list[Migration]:
    loader = migration_loader()
    if job.target is None:
        return [loader.graph.nodes[key] for key in pending_for(loader, applied)]
    with schema_context(job.schema):
        steps = MigrationExecutor(connection).migration_plan([job.target])
    return [migration for migration, _backwards in steps]


def _validate(job: SchemaJob, counts_before: dict[str, int] | None, *, counts_may_change: bool) -> str:
    """Raise ValidationFailed unless the schema is where it must be; return a note otherwise."""
    use_public_schema()
    _set("statement_timeout", 0)
    applied = applied_by_schema([job.schema])[job.schema]
    remaining = _plan(job, applied)
    if remaining:
        names = ", ".join(f"{m.app_label}.{m.name}" for m in remaining[:5])
        raise ValidationFailed(f"validation: still to apply after migrating: {names}")
    note = ""
    if job.reference and job.target is None:
        reference_applied = applied_by_schema([job.reference]).get(job.reference)
        if reference_applied == applied:
            renamed = align_names(job.reference, job.schema)
            if renamed:
                note = f"renamed {len(renamed)} index/constraint name(s) to the template's"
            differences = drift_against(job.reference, [job.schema])[job.schema]
            if differences:
                shown = "; ".join(str(d) for d in differences[:3])
                raise ValidationFailed(f"validation: drift against {job.reference}: {shown}")
        else:
            note = f"drift not checked: {job.reference} is at other migrations"
    if counts_before is not None and not counts_may_change:
        after = row_counts(job.schema, exclude=COUNT_EXEMPT_TABLES)
        changed = [
            f"{table} {counts_before[table]} -> {after[table]}"
            for table in sorted(counts_before.keys() & after.keys())
            if counts_before[table] != after[table]
        ]
        if changed:
            raise ValidationFailed(f"validation: row counts changed: {', '.join(changed[:5])}")
    return note


def _attempt_in_one_transaction(job: SchemaJob, *, counts_may_change: bool) -> str:
    with transaction.atomic():
        use_public_schema()
        _set("lock_timeout", job.timeouts.lock_timeout_ms)
        _set("statement_timeout", 0)
        _lock_tables_for_writes(job.schema)
        if job.backup_path and job.backup_atomic:
            dump_schema(job.schema, Path(job.backup_path), lock_wait_timeout_ms=job.timeouts.lock_timeout_ms)
        counts = row_counts(job.schema, exclude=COUNT_EXEMPT_TABLES)
        _call_migrate(job)
        return _validate(job, counts, counts_may_change=counts_may_change)


def _attempt_step_by_step(job: SchemaJob, *, dumped: bool) -> str:
    use_public_schema()
    _set("lock_timeout", job.timeouts.lock_timeout_ms)
    _set("statement_timeout", 0)
    if job.backup_path and not dumped:
        dump_schema(job.schema, Path(job.backup_path), lock_wait_timeout_ms=job.timeouts.lock_timeout_ms)
    _call_migrate(job)
    return _validate(job, None, counts_may_change=True)


def _reset_connection() -> None:
    """Drop the session (and any SET it carried); the next query reconnects."""
    connection.close()
    use_public_schema()


def run_schema_job(job: SchemaJob) -> SchemaOutcome:
    """Migrate (or reverse) one schema as the module docstring says; never raises for a schema's failure."""
    global _active  # noqa: PLW0603 - one job at a time per process; the migrate callback reads it
    started_at, clock = timezone.now(), time.perf_counter()
    use_public_schema()
    outcome = SchemaOutcome(job.schema, job.kind, MigrationResultStatus.CURRENT, started_at, started_at)
    applied_before = applied_by_schema([job.schema]).get(job.schema)
    if applied_before is None:
        if job.kind != SchemaKind.TEMPLATE:
            return _finish(outcome, clock, status=MigrationResultStatus.FAILED, error="schema does not exist")
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {connection.ops.quote_name(job.schema)}")
        applied_before = set()
    outcome.versions_before = latest_per_app(applied_before)
    plan = _plan(job, applied_before)
    if not plan:
        outcome.versions_after = outcome.versions_before
        return _finish(outcome, clock, status=MigrationResultStatus.CURRENT)

    outcome.migrations = [label((m.app_label, m.name)) for m in plan]
    all_atomic = all(m.atomic for m in plan)
    counts_may_change = job.target is not None or any(getattr(m, "changes_row_counts", False) for m in plan)
    _active = _Active(job.timeouts)
    dumped = False
    try:
        while True:
            outcome.attempts += 1
            _active.current = None
            try:
                if all_atomic:
                    outcome.note = _attempt_in_one_transaction(job, counts_may_change=counts_may_change)
                else:
                    outcome.note = _attempt_step_by_step(job, dumped=dumped)
                status, error = MigrationResultStatus.MIGRATED, ""
                break
            except Exception as exc:  # a schema's failure is reported, never raised: the run goes on
                dumped = dumped or bool(job.backup_path and Path(job.backup_path).is_file())
                running = _active.current
                _reset_connection()
                lock_timeout = _is_lock_timeout(exc)
                # Retrying is safe when the failure was rolled back entirely: the whole tenant
                # transaction, or (step by step) the one atomic migration that timed out.
                retriable = lock_timeout and (all_atomic or (running is not None and running.atomic))
                if retriable and outcome.attempts <= job.timeouts.lock_retries:
                    time.sleep(job.timeouts.retry_backoff_seconds * outcome.attempts)
                    continue
                where = ""
                if running is not None and not isinstance(exc, ValidationFailed):
                    where = f"{running.app_label}.{running.name}: "
                error = f"{where}{_first_line(exc)}"
                if lock_timeout:
                    timeout = job.timeouts.lock_timeout_ms
                    error = f"lock timeout ({timeout} ms) on each of {outcome.attempts} attempts; {error}"
                status = MigrationResultStatus.FAILED
                if all_atomic:
                    outcome.restored = "rollback"
                elif running is None and not isinstance(exc, ValidationFailed):
                    outcome.restored = "nothing changed"  # failed before its first migration began
                else:
                    outcome.restored, restore_error = _restore(job)
                    error = f"{error}; {restore_error}" if restore_error else error
                break
    finally:
        _active = None
        _reset_connection()
    outcome.versions_after = latest_per_app(applied_by_schema([job.schema]).get(job.schema, set()))
    outcome.backup_path = job.backup_path if job.backup_path and Path(job.backup_path).is_file() else ""
    return _finish(outcome, clock, status=status, error=error)


def _restore(job: SchemaJob) -> tuple[str, str]:
    """Restore a half-migrated schema from its dump: (how it was restored, what went wrong)."""
    if not job.backup_path:
        return "not restored", "no backup was taken"
    try:
        note = restore_schema(job.schema, Path(job.backup_path))
    except Exception as exc:  # the schema is left as the failure left it; say so loudly
        return "restore failed", f"restore from {job.backup_path} failed: {_first_line(exc)}"
    finally:
        _reset_connection()
    return ("backup", "") if not note else ("backup (old copy left)", note)


def _finish(outcome: SchemaOutcome, clock: float, *, status: str, error: str = "") -> SchemaOutcome:
    outcome.status = status
    outcome.error = error
    outcome.finished_at = timezone.now()
    outcome.duration_seconds = round(time.perf_counter() - clock, 3)
    return outcome
