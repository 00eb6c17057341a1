"""A whole `safe_migrate` run: lock, plan, lint, then public → template → tenants, recorded.

Public and the template are migrated in this process, first and in that order: tenant code may
need public's tables, and the template is both the reference tenants are validated against and
the source of tenants created after the deploy. Tenants then run in a pool of worker processes
(`spawn`: a fresh interpreter each, nothing inherited mid-connection; django-tenants #1123,
#1160), each worker migrating one tenant at a time with `run_schema_job`. This process alone
writes the run records, as results come in.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.db import connection
from django.db.migrations.exceptions import AmbiguityError
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.core.tenancy import use_public_schema
from apps.tenants.migrating import records
from apps.tenants.migrating.backups import pg_tools, prune_backups, run_directory
from apps.tenants.migrating.lint import Finding, lint_plan, lint_reversal, unsafe
from apps.tenants.migrating.lock import migration_lock
from apps.tenants.migrating.plan import (
    MigrationKey,
    Schema,
    all_schemas,
    applied_by_schema,
    latest_per_app,
    migration_loader,
    pending_for,
    tenant_schema_names,
)
from apps.tenants.migrating.report import Progress, plan_lines, summary_lines
from apps.tenants.migrating.schema_job import SchemaJob, SchemaOutcome, Timeouts, run_schema_job
from apps.tenants.migrating.worker import run_job, worker_init
from apps.tenants.models import MigrationResultStatus, MigrationRun, MigrationRunKind, MigrationRunStatus, SchemaKind

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_REFUSED = 2
EXIT_LOCKED = 3


class RunRefused(Exception):
    """The run did not start: unsafe or irreversible migrations, unknown tenants, bad target."""


@dataclass(frozen=True)
class RunOptions:
    backup_dir: Path
    parallel: int = 1
    wait: bool = False
    dry_run: bool = False
    fail_fast: bool = False
    allow_unsafe: str = ""
    tenants: tuple[str, ...] = ()
    target: tuple[str, str] | None = None
    keep_backups: int = 5
    # "all": dump every schema before migrating it; "non-atomic": only those whose migrations cannot
    # run in one transaction (pg_dump reads the whole catalog, so its cost grows with the fleet).
    backups: str = "all"
    timeouts: Timeouts = field(default_factory=Timeouts)


@dataclass
class RunResult:
    exit_code: int
    run_id: int | None = None
    outcomes: list[SchemaOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        return [outcome.schema for outcome in self.outcomes if outcome.failed]


def usable_parallelism(requested: int) -> tuple[int, str]:
    """Cap workers so that each one's session and its pg_dump fit in `max_connections`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int,"
            " (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')"
        )
        max_connections, reserved, in_use = cursor.fetchone()
    free = max_connections - reserved - in_use - 2  # keep two for operators
    usable = max(1, min(requested, free // 2))
    if usable < requested:
        return usable, f"--parallel {requested} capped to {usable}: {in_use} of {max_connections} connections in use"
    return usable, ""


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


class Run:
    """One run's state while it executes (options, record, backup directory, outcomes, output)."""

    def __init__(self, options: RunOptions, write: Callable[[str], None], out: Any) -> None:
        self.options = options
        self.write = write
        self.out = out
        self.record: MigrationRun | None = None
        self.outcomes: list[SchemaOutcome] = []
        self.started = time.monotonic()
        self.stamp = _stamp(timezone.now())
        self.backup_dir = ""

    def start_record(self, *, kind: str, parallel: int, findings: Sequence[Finding]) -> None:
        if self.record is not None or not records.records_available():
            return
        self.record = records.migration_run_start(
            kind=kind,
            parallel=parallel,
            target=" ".join(self.options.target or ()),
            allow_unsafe_reason=self.options.allow_unsafe,
            findings=findings,
        )
        self.record.backup_dir = self.backup_dir = str(
            run_directory(self.options.backup_dir, self.stamp, int(self.record.pk))
        )
        self.record.save(update_fields=["backup_dir"])
        for outcome in self.outcomes:  # recorded late: the records table came with this run
            records.migration_result_record(run=self.record, outcome=outcome)

    def directory(self) -> Path:
        if not self.backup_dir:
            self.backup_dir = str(run_directory(self.options.backup_dir, self.stamp, 0))
        return Path(self.backup_dir)

    def job(self, schema: Schema, *, reference: str = "") -> SchemaJob:
        return SchemaJob(
            schema=schema.name,
            kind=schema.kind,
            backup_path=str(self.directory() / f"{schema.name}.dump"),
            timeouts=self.options.timeouts,
            reference=reference,
            target=self.options.target,
            backup_atomic=self.options.backups == "all",
        )

    def add(self, outcome: SchemaOutcome) -> None:
        self.outcomes.append(outcome)
        use_public_schema()
        if self.record is not None:
            records.migration_result_record(run=self.record, outcome=outcome)

    def finish(self, error: str = "") -> RunResult:
        if self.record is not None:
            records.migration_run_finish(run=self.record, error=error)
        for line in summary_lines(
            self.outcomes,
            run_id=self.record.pk if self.record else None,
            elapsed=time.monotonic() - self.started,
            backup_dir=self.backup_dir,
        ):
            self.write(line)
        if self.options.keep_backups:
            for path in prune_backups(self.options.backup_dir, keep=self.options.keep_backups):
                self.write(f"retention: removed old backups {path}")
        failed = error or any(outcome.failed for outcome in self.outcomes)
        return RunResult(EXIT_FAILED if failed else EXIT_OK, self.record.pk if self.record else None, self.outcomes)


def _current(schema: Schema, applied: set[MigrationKey] | None) -> SchemaOutcome:
    now = timezone.now()
    if applied is None:
        return SchemaOutcome(
            schema.name, schema.kind, MigrationResultStatus.FAILED, now, now, error="schema does not exist"
        )
    versions = latest_per_app(applied)
    return SchemaOutcome(
        schema.name,
        schema.kind,
        MigrationResultStatus.CURRENT,
        now,
        now,
        versions_before=versions,
        versions_after=versions,
    )


def _skipped(job: SchemaJob) -> SchemaOutcome:
    now = timezone.now()
    return SchemaOutcome(
        job.schema, job.kind, MigrationResultStatus.SKIPPED, now, now, error="not started: --fail-fast"
    )


def _run_jobs(run: Run, jobs: Sequence[SchemaJob], parallel: int, progress: Progress) -> None:
    """Run tenant jobs, `parallel` at a time; record each as it ends; stop early on --fail-fast."""
    if parallel <= 1 or len(jobs) <= 1:
        for index, job in enumerate(jobs):
            outcome = run_schema_job(job)
            run.add(outcome)
            progress.update(outcome)
            if outcome.failed and run.options.fail_fast:
                for rest in jobs[index + 1 :]:
                    skipped = _skipped(rest)
                    run.add(skipped)
                    progress.update(skipped)
                return
        return
    database_name = connection.settings_dict["NAME"]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=parallel, mp_context=context, initializer=worker_init, initargs=(database_name,)
    ) as pool:
        futures: dict[Future[SchemaOutcome], SchemaJob] = {pool.submit(run_job, job): job for job in jobs}
        stopping = False
        for future in as_completed(futures):
            job = futures[future]
            if future.cancelled():
                outcome = _skipped(job)
            else:
                try:
                    outcome = future.result()
                except Exception as exc:  # the worker died: PostgreSQL rolled its transaction back
                    now = timezone.now()
                    outcome = SchemaOutcome(
                        job.schema,
                        job.kind,
                        MigrationResultStatus.FAILED,
                        now,
                        now,
                        error=f"worker died ({type(exc).__name__}: {exc}); check it with migration_status",
                    )
            run.add(outcome)
            progress.update(outcome)
            if outcome.failed and run.options.fail_fast and not stopping:
                stopping = True
                for other in futures:
                    other.cancel()  # not-yet-started only; those in flight finish their tenant


def safe_migrate(options: RunOptions, write: Callable[[str], None], out: Any) -> RunResult:
    """The deploy: see the module docstring. Raises MigrationLockHeld and RunRefused."""
    use_public_schema()
    if options.dry_run:  # reads only: an operator may look at the plan while a deploy runs
        return _reverse(options, write, out) if options.target is not None else _forward(options, write, out)
    with migration_lock(wait=options.wait, application_name=f"safe_migrate pid {os.getpid()}", on_wait=write):
        use_public_schema()
        if options.target is not None:
            return _reverse(options, write, out)
        return _forward(options, write, out)


def _forward(options: RunOptions, write: Callable[[str], None], out: Any) -> RunResult:
    loader = migration_loader()
    schemas = all_schemas(options.tenants)
    missing = sorted(set(options.tenants) - {schema.name for schema in schemas})
    if missing:
        raise RunRefused(f"unknown tenant(s): {', '.join(missing)}")
    applied = applied_by_schema(schema.name for schema in schemas)
    plans: dict[str, list[MigrationKey] | None] = {
        schema.name: pending_for(loader, applied[schema.name]) if schema.name in applied else None for schema in schemas
    }
    decided = _present_plan(options, write, schemas, plans, kind=MigrationRunKind.MIGRATE)
    if decided is None:
        return RunResult(EXIT_OK)
    parallel, findings = decided
    run = Run(options, write, out)
    run.start_record(kind=MigrationRunKind.MIGRATE, parallel=parallel, findings=findings)
    public, template, *tenants = schemas
    try:
        for schema in (public, template):
            outcome = (
                run_schema_job(run.job(schema))
                if plans[schema.name] != []
                else _current(schema, applied.get(schema.name))
            )
            run.add(outcome)
            run.start_record(kind=MigrationRunKind.MIGRATE, parallel=parallel, findings=findings)
            write(f"{schema.name}: {outcome.status}" + (f" ({outcome.error})" if outcome.error else ""))
            if outcome.failed:
                return run.finish(error=f"{schema.name} failed; no tenant was migrated")
        _run_tenants(run, tenants, plans, applied, parallel, reference=template.name)
    except KeyboardInterrupt:
        run.finish(error="interrupted")
        raise
    return run.finish()


def _present_plan(
    options: RunOptions,
    write: Callable[[str], None],
    schemas: Sequence[Schema],
    plans: dict[str, list[MigrationKey] | None],
    *,
    kind: str,
) -> tuple[int, list[Finding]] | None:
    """Lint and print the plan; None for a dry run, else (workers, findings). Raises RunRefused."""
    union: dict[MigrationKey, None] = {}
    for plan in plans.values():
        union.update(dict.fromkeys(plan or []))
    reversal = kind == MigrationRunKind.REVERSE
    findings = (lint_reversal if reversal else lint_plan)(migration_loader(), union)
    parallel, capped = usable_parallelism(options.parallel)
    for line in plan_lines(schemas, plans, findings, parallel, reversal=reversal):
        write(line)
    if capped:
        write(capped)
    if options.dry_run:
        write("Dry run: nothing changed.")
        return None
    _refuse_unsafe(options, findings, kind, parallel)
    if union:
        pg_tools()  # fail now, not at the first tenant, if no suitable pg_dump exists
    return parallel, findings


def _run_tenants(
    run: Run,
    tenants: Sequence[Schema],
    plans: dict[str, list[MigrationKey] | None],
    applied: dict[str, set[MigrationKey]],
    parallel: int,
    *,
    reference: str = "",
) -> None:
    """Record tenants with nothing to do at once; run the others' jobs, `parallel` at a time."""
    jobs = []
    for schema in tenants:
        if plans[schema.name]:
            jobs.append(run.job(schema, reference=reference))
        else:
            run.add(_current(schema, applied.get(schema.name)))
    progress = Progress(run.out, len(jobs))
    _run_jobs(run, jobs, parallel, progress)
    progress.close()


def _refuse_unsafe(options: RunOptions, findings: Sequence[Finding], kind: str, parallel: int) -> None:
    blocking = unsafe(findings)
    irreversible = [finding for finding in blocking if finding.code == "irreversible"]
    if not irreversible and (not blocking or options.allow_unsafe.strip()):
        return
    if records.records_available():
        records.migration_run_start(
            kind=kind,
            parallel=parallel,
            target=" ".join(options.target or ()),
            allow_unsafe_reason=options.allow_unsafe,
            findings=findings,
            status=MigrationRunStatus.REFUSED,
        )
    if irreversible:
        raise RunRefused(
            f"refused: {len(irreversible)} operation(s) cannot be reversed:\n" + "\n".join(map(str, irreversible))
        )
    raise RunRefused(
        f"refused: {len(blocking)} unsafe operation(s) (see Lint above); rerun with "
        '--allow-unsafe "<why this is fine>" to apply them anyway (the reason is recorded)'
    )


def _reverse(options: RunOptions, write: Callable[[str], None], out: Any) -> RunResult:
    if not options.tenants:
        raise RunRefused("--to reverses named tenants only: give --tenant SLUG")
    assert options.target is not None
    app_label, name = options.target
    loader = migration_loader()
    if name != "zero":
        try:
            name = loader.get_migration_by_prefix(app_label, name).name
        except (KeyError, AmbiguityError) as exc:
            raise RunRefused(f"no migration {app_label} {name}: {exc}") from exc
    options = RunOptions(**{**options.__dict__, "target": (app_label, name)})
    names = tenant_schema_names(options.tenants)
    missing = sorted(set(options.tenants) - set(names))
    if missing:
        raise RunRefused(f"unknown tenant(s): {', '.join(missing)}")
    schemas = [Schema(schema_name, SchemaKind.TENANT) for schema_name in names]
    plans: dict[str, list[MigrationKey] | None] = {}
    for schema in schemas:
        with schema_context(schema.name):
            steps = MigrationExecutor(connection).migration_plan([(app_label, name)])
        if any(not backwards for _migration, backwards in steps):
            raise RunRefused(f"{schema.name} is behind {app_label} {name}: --to only goes back; use safe_migrate")
        plans[schema.name] = [(migration.app_label, migration.name) for migration, _backwards in steps]
    decided = _present_plan(options, write, schemas, plans, kind=MigrationRunKind.REVERSE)
    if decided is None:
        return RunResult(EXIT_OK)
    parallel, findings = decided
    run = Run(options, write, out)
    run.start_record(kind=MigrationRunKind.REVERSE, parallel=parallel, findings=findings)
    _run_tenants(run, schemas, plans, applied_by_schema(schema.name for schema in schemas), parallel)
    return run.finish()
