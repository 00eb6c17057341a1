"""`manage.py safe_migrate`: the deploy command (Procfile `release`, the Kubernetes migration Job).

Lock, lint, back up, migrate public → template → tenants in parallel, validate, restore what
failed, record everything, summarise. See docs/operations.md ("Migrations").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.tenants.migrating.lock import MigrationLockHeld
from apps.tenants.migrating.runner import EXIT_LOCKED, EXIT_REFUSED, RunOptions, RunRefused, safe_migrate
from apps.tenants.migrating.schema_job import Timeouts


def _milliseconds(seconds: float) -> int:
    return max(0, round(seconds * 1000))


class Command(BaseCommand):
    help = (
        "Migrate public, the template and every tenant safely: advisory lock, lint, per-schema backup, "
        "parallel tenants with lock/statement timeouts, validation, restore on failure, recorded runs. "
        "Exit 0 all good, 1 some schema failed, 2 refused (unsafe/irreversible), 3 another run holds the lock."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--parallel", type=int, default=1, help="tenants migrated at once (default 1)")
        parser.add_argument("--wait", action="store_true", help="wait for another run's lock instead of exiting")
        parser.add_argument("--dry-run", action="store_true", help="print the plan and lint findings; change nothing")
        parser.add_argument("--fail-fast", action="store_true", help="stop starting tenants after the first failure")
        parser.add_argument(
            "--allow-unsafe",
            default="",
            metavar="REASON",
            help="apply migrations the linter finds unsafe; the reason is recorded with the run",
        )
        parser.add_argument(
            "--tenant",
            action="append",
            default=[],
            metavar="SLUG",
            help="only this tenant (repeatable); public and the template are still brought up to date first",
        )
        parser.add_argument(
            "--to",
            nargs=2,
            metavar=("APP", "MIGRATION"),
            help="reverse the --tenant(s) to this migration (or 'zero'), where every step is reversible",
        )
        parser.add_argument("--backup-dir", default=settings.MIGRATION_BACKUP_DIR, help="where pg_dump files go")
        parser.add_argument(
            "--backups",
            choices=["all", "non-atomic"],
            default="all",
            help="dump every schema first (all), or only where a failure cannot simply roll back (non-atomic)",
        )
        parser.add_argument("--keep-backups", type=int, default=5, help="run directories to keep (0: keep all)")
        parser.add_argument("--lock-timeout", type=float, default=1.0, help="seconds a DDL waits for a lock (1)")
        parser.add_argument("--lock-retries", type=int, default=3, help="retries of a tenant after a lock timeout (3)")
        parser.add_argument("--statement-timeout", type=float, default=5.0, help="seconds per schema statement (5)")
        parser.add_argument(
            "--data-statement-timeout",
            type=float,
            default=600.0,
            help="seconds per statement in RunPython/RunSQL migrations (600)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["parallel"] < 1:
            raise CommandError("--parallel must be at least 1")
        run_options = RunOptions(
            backup_dir=Path(options["backup_dir"]).resolve(),
            parallel=options["parallel"],
            wait=options["wait"],
            dry_run=options["dry_run"],
            fail_fast=options["fail_fast"],
            allow_unsafe=options["allow_unsafe"],
            tenants=tuple(options["tenant"]),
            target=tuple(options["to"]) if options["to"] else None,
            keep_backups=options["keep_backups"],
            backups=options["backups"],
            timeouts=Timeouts(
                lock_timeout_ms=_milliseconds(options["lock_timeout"]),
                statement_timeout_ms=_milliseconds(options["statement_timeout"]),
                data_statement_timeout_ms=_milliseconds(options["data_statement_timeout"]),
                lock_retries=options["lock_retries"],
            ),
        )
        try:
            result = safe_migrate(run_options, self.stdout.write, self.stdout)
        except MigrationLockHeld as exc:
            raise CommandError(
                f"{exc}; another run is migrating (use --wait to wait for it)", returncode=EXIT_LOCKED
            ) from exc
        except RunRefused as exc:
            raise CommandError(str(exc), returncode=EXIT_REFUSED) from exc
        if result.exit_code:
            failed = result.failed
            raise CommandError(
                f"run {result.run_id}: {len(failed)} schema(s) failed: {', '.join(failed) or 'see above'}",
                returncode=result.exit_code,
            )
