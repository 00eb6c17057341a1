"""`manage.py restore_tenant SLUG --run RUN_ID`: put a tenant back as a safe_migrate run's backup has it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from apps.tenants.migrating import records
from apps.tenants.migrating.backups import BackupError, restore_schema
from apps.tenants.migrating.drift import row_counts
from apps.tenants.migrating.lock import MigrationLockHeld, migration_lock
from apps.tenants.migrating.plan import applied_by_schema, latest_per_app
from apps.tenants.migrating.schema_job import SchemaOutcome
from apps.tenants.models import MigrationResultStatus, MigrationRunKind, MigrationTenantResult, SchemaKind


class Command(BaseCommand):
    help = (
        "Restore a tenant's schema from the pg_dump a safe_migrate run took before migrating it. "
        "Writes made in the tenant since that backup are lost; asks first unless --yes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="tenant schema (or the template schema)")
        parser.add_argument(
            "--run", type=int, required=True, metavar="RUN_ID", help="the MigrationRun whose backup to use"
        )
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        parser.add_argument("--wait", action="store_true", help="wait for a running safe_migrate instead of exiting")

    def handle(self, *args: Any, **options: Any) -> None:
        slug, run_id = options["slug"], options["run"]
        if slug == get_public_schema_name():
            raise CommandError("restore_tenant does not restore the public schema (it holds the run records)")
        result = (
            MigrationTenantResult.objects.filter(run_id=run_id, schema_name=slug)
            .exclude(backup_path="")
            .select_related("run")
            .first()
        )
        if result is None:
            raise CommandError(f"run {run_id} took no backup of {slug} (see the run in the operators' admin)")
        path = Path(result.backup_path)
        if not path.is_file():
            raise CommandError(f"backup {path} is gone (removed by retention, or on another machine)")
        if not options["yes"]:
            answer = input(
                f"Restore {slug} from {path} (taken {result.started_at:%Y-%m-%d %H:%M:%S %Z} by run {run_id})? "
                f"Everything written in {slug} since then is lost. Type 'yes' to go on: "
            )
            if answer.strip().lower() != "yes":
                raise CommandError("not restored")
        started_at = timezone.now()
        try:
            with migration_lock(wait=options["wait"], application_name=f"restore_tenant {slug}"):
                note = restore_schema(slug, path)
        except MigrationLockHeld as exc:
            raise CommandError(f"{exc}; a migration run is in progress (use --wait)", returncode=3) from exc
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        versions = latest_per_app(applied_by_schema([slug]).get(slug, set()))
        run = records.migration_run_start(
            kind=MigrationRunKind.RESTORE, target=f"run {run_id}", backup_dir=str(path.parent)
        )
        kind = SchemaKind.TENANT if result.schema_kind == SchemaKind.TENANT else result.schema_kind
        outcome = SchemaOutcome(
            slug,
            kind,
            MigrationResultStatus.RESTORED,
            started_at,
            timezone.now(),
            duration_seconds=round((timezone.now() - started_at).total_seconds(), 3),
            versions_after=versions,
            attempts=1,
            backup_path=str(path),
            restored="backup",
            note=note,
        )
        records.migration_result_record(run=run, outcome=outcome)
        records.migration_run_finish(run=run)
        counts = row_counts(slug)
        migrations = ", ".join(f"{app} {name}" for app, name in versions.items()) or "none"
        self.stdout.write(
            self.style.SUCCESS(
                f"restored {slug} from {path}: {len(counts)} tables, {sum(counts.values())} rows; "
                f"latest migrations: {migrations}"
            )
        )
        if note:
            self.stdout.write(self.style.WARNING(note))
