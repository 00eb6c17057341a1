"""The run records (MigrationRun, MigrationTenantResult): every write to them goes through here."""

from __future__ import annotations

import getpass
import socket
import sys
from collections.abc import Iterable

from django.db import connection
from django.utils import timezone

from apps.tenants.migrating.lint import Finding
from apps.tenants.migrating.schema_job import SchemaOutcome
from apps.tenants.models import (
    MigrationResultStatus,
    MigrationRun,
    MigrationRunKind,
    MigrationRunStatus,
    MigrationTenantResult,
)


def records_available() -> bool:
    """False before the migration that creates the records table has run (a first deploy)."""
    return MigrationRun._meta.db_table in connection.introspection.table_names()


def operator_name() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def migration_run_start(
    *,
    kind: str = MigrationRunKind.MIGRATE,
    parallel: int = 1,
    target: str = "",
    allow_unsafe_reason: str = "",
    findings: Iterable[Finding] = (),
    backup_dir: str = "",
    status: str = MigrationRunStatus.RUNNING,
) -> MigrationRun:
    """Record a run as it starts (or as refused, with its findings)."""
    now = timezone.now()
    return MigrationRun.objects.create(
        kind=kind,
        status=status,
        started_at=now,
        finished_at=now if status == MigrationRunStatus.REFUSED else None,
        duration_seconds=0 if status == MigrationRunStatus.REFUSED else None,
        operator=operator_name(),
        command=" ".join(sys.argv)[:2000],
        parallel=parallel,
        target=target,
        allow_unsafe_reason=allow_unsafe_reason,
        lint_findings=[finding.as_dict() for finding in findings],
        backup_dir=backup_dir,
    )


def migration_result_record(*, run: MigrationRun, outcome: SchemaOutcome) -> MigrationTenantResult:
    """Record what happened to one schema in `run`."""
    error = outcome.error if not outcome.note else f"{outcome.error} ({outcome.note})".strip()
    return MigrationTenantResult.objects.create(
        run=run,
        schema_name=outcome.schema,
        schema_kind=outcome.kind,
        status=outcome.status,
        versions_before=outcome.versions_before,
        versions_after=outcome.versions_after,
        migrations=outcome.migrations,
        started_at=outcome.started_at,
        finished_at=outcome.finished_at,
        duration_seconds=outcome.duration_seconds,
        attempts=outcome.attempts,
        backup_path=outcome.backup_path,
        restored=outcome.restored,
        error=error,
    )


def migration_run_finish(*, run: MigrationRun, error: str = "") -> MigrationRun:
    """Close a run: its totals from the recorded results, succeeded only if no schema failed."""
    results = MigrationTenantResult.objects.filter(run=run)
    run.schemas_total = results.count()
    run.schemas_failed = results.filter(status=MigrationResultStatus.FAILED).count()
    run.finished_at = timezone.now()
    run.duration_seconds = round((run.finished_at - run.started_at).total_seconds(), 3)
    run.error = error
    failed = bool(error) or run.schemas_failed > 0
    run.status = MigrationRunStatus.FAILED if failed else MigrationRunStatus.SUCCEEDED
    run.save(update_fields=["schemas_total", "schemas_failed", "finished_at", "duration_seconds", "error", "status"])
    return run
