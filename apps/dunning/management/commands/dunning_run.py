"""`manage.py dunning_run [--tenant SLUG] [--as-of YYYY-MM-DD] [--dry-run]`: the operators' run.

The same code path as beat: `run_start` plans each tenant's run and enqueues its chunks on
the `dunning` queue; the command then waits for every chunk (progress bar) and prints the
summary, so what it prints is what happened. `--dry-run` computes the run in this process
and rolls it back (no message, no charge).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context

from apps.dunning.engine import ChunkResult
from apps.dunning.models import DunningRun
from apps.dunning.runs import run_dry, run_finish_if_complete, run_progress, run_start, run_summary
from apps.tenants.fanout import active_tenant_schemas
from apps.tenants.models import Tenant

BAR_WIDTH = 30
POLL_SECONDS = 0.25  # the waiting shares the box with the workers it waits for: not too often


class Command(BaseCommand):
    help = "Run dunning now for one tenant or all (waits for the fanned-out work, then summarises)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--tenant", metavar="SLUG", action="append", help="only this tenant (repeatable; default: every active one)"
        )
        parser.add_argument(
            "--as-of", metavar="YYYY-MM-DD", help="run as if today were this day (default: each tenant's today)"
        )
        parser.add_argument("--dry-run", action="store_true", help="show what would happen; change nothing")
        parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for the workers")

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = _parse_date(options["as_of"])
        schemas = self._schemas(options["tenant"])
        total = ChunkResult()
        if options["dry_run"]:
            for schema in schemas:
                with schema_context(schema):
                    total.merge_json(run_dry(as_of=as_of, progress=self._bar(schema)).as_json())
                self.stdout.write("")
            self._summary(total, dry_run=True)
            return
        _require_worker()
        runs: list[tuple[str, Any]] = []
        for schema in schemas:
            with schema_context(schema):
                run = run_start(as_of=as_of)
                assert run is not None
                runs.append((schema, run.pk))
        self._wait(runs, options["timeout"])
        for schema, run_id in runs:
            with schema_context(schema):
                run_finish_if_complete(run_id=run_id)
                total.merge_json(run_summary(DunningRun.objects.get(pk=run_id)).as_json())
        self._summary(total, dry_run=False)

    def _schemas(self, slugs: list[str] | None) -> list[str]:
        if not slugs:
            return active_tenant_schemas()
        for slug in slugs:
            if slug == "public" or not Tenant.objects.filter(schema_name=slug).exists():
                raise CommandError(f"no tenant {slug!r}")
        return list(dict.fromkeys(slugs))

    def _wait(self, runs: list[tuple[str, Any]], timeout: float) -> None:
        """Poll the runs' chunk counts (one query per unfinished run) until every chunk is done."""
        deadline = time.monotonic() + timeout
        progress: dict[Any, tuple[int, int]] = {}
        while True:
            for schema, run_id in runs:
                if run_id in progress and progress[run_id][0] >= progress[run_id][1]:
                    continue  # finished: no need to ask again
                with schema_context(schema):
                    progress[run_id] = run_progress(run_id)
            done = sum(d for d, _t in progress.values())
            total = sum(t for _d, t in progress.values())
            self._draw("chunks", done, total)
            if done >= total:
                self.stdout.write("")
                return
            if time.monotonic() > deadline:
                self.stdout.write("")
                raise CommandError(f"timed out after {timeout:.0f}s with {total - done} of {total} chunks not done")
            time.sleep(POLL_SECONDS)

    def _bar(self, label: str) -> Any:
        return lambda done, total: self._draw(f"{label} (dry run)", done, total)

    def _draw(self, label: str, done: int, total: int) -> None:
        filled = BAR_WIDTH if total == 0 else BAR_WIDTH * done // total
        self.stdout.write(f"\r{label}: [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total}", ending="")
        self.stdout.flush()

    def _summary(self, total: ChunkResult, *, dry_run: bool) -> None:
        title = "Dunning dry run (nothing changed)" if dry_run else "Dunning run"
        self.stdout.write(
            f"{title}: {total.accounts} accounts considered, {total.started} cases started, {total.resolved} resolved"
        )
        rows: list[tuple[str, ...]] = [("step", "action", "outcome", "cases")]
        rows += [(step, action, outcome, str(n)) for (step, action, outcome), n in sorted(total.actions.items())]
        self._table(rows)
        amounts: list[tuple[str, ...]] = [("step", "action", "currency", "amount due")]
        amounts += [(step, action, cur, str(v)) for (step, action, cur), v in sorted(total.amounts.items())]
        if len(amounts) > 1:
            self._table(amounts)
        if len(rows) == 1:
            self.stdout.write("no step was due")

    def _table(self, rows: list[tuple[str, ...]]) -> None:
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for n, row in enumerate(rows):
            self.stdout.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
            if n == 0:
                self.stdout.write("  ".join("-" * w for w in widths))


def _parse_date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--as-of must be YYYY-MM-DD, not {value!r}") from exc


def _require_worker() -> None:
    from billing_project.celery import app

    # The first worker to answer usually consumes dunning too; otherwise ask everyone.
    queues = app.control.inspect(timeout=2.0, limit=1).active_queues() or {}
    if not any(q.get("name") == "dunning" for worker in queues.values() for q in worker):
        queues = app.control.inspect(timeout=2.0).active_queues() or {}
    if not any(q.get("name") == "dunning" for worker in queues.values() for q in worker):
        raise CommandError("no Celery worker consumes the dunning queue; start one (or use --dry-run)")
