"""`manage.py migration_status`: pending migrations and drift of public, the template and every tenant.

Exit 0 when everything is current, 1 when migrations are pending, 2 on drift (drift wins).
Read-only, so it serves CI and readiness probes; `--format json` for machines.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apps.tenants.migrating.status import collect_status, exit_code


class Command(BaseCommand):
    help = (
        "Show pending migrations and schema drift (tables, columns and types, indexes, constraints compared "
        "with the template schema) for public, the template and every tenant. Exit 0 current, 1 pending, 2 drift."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=["table", "json"], default="table")
        parser.add_argument("--tenant", action="append", default=[], metavar="SLUG", help="only these tenants")

    def handle(self, *args: Any, **options: Any) -> None:
        statuses = collect_status(tuple(options["tenant"]))
        code = exit_code(statuses)
        if options["format"] == "json":
            drifted = sum(1 for status in statuses if status.drift)
            pending = sum(1 for status in statuses if status.pending)
            document = {
                "exit_code": code,
                "summary": {"schemas": len(statuses), "pending": pending, "drifted": drifted},
                "schemas": [status.as_dict() for status in statuses],
            }
            self.stdout.write(json.dumps(document, indent=2))
        else:
            self._table(statuses, code, verbose=int(options["verbosity"]) > 1)
        raise SystemExit(code)

    def _table(self, statuses: list[Any], code: int, *, verbose: bool) -> None:
        rows = [("schema", "kind", "pending", "drift")]
        quiet = 0
        for status in statuses:
            if not verbose and not status.pending and not status.drift and status.kind == "tenant":
                quiet += 1
                continue
            drift = f"{len(status.drift)} difference(s)" if status.drift else ("none" if status.drift_checked else "-")
            rows.append((status.schema, status.kind, str(len(status.pending)), drift))
        widths = [max(len(row[column]) for row in rows) for column in range(3)]
        for row in rows:
            self.stdout.write("  ".join([*(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])), row[3]]))
        if quiet:
            self.stdout.write(f"({quiet} tenant(s) current and matching the template; -v 2 lists them)")
        for status in statuses:
            for difference in status.drift:
                self.stdout.write(self.style.ERROR(f"drift: {difference}"))
        for status in statuses:
            if status.pending:
                shown = ", ".join(status.pending[:6]) + (", ..." if len(status.pending) > 6 else "")
                self.stdout.write(self.style.WARNING(f"pending: {status.schema}: {shown}"))
        verdict = {0: "everything current", 1: "migrations pending", 2: "drift found"}[code]
        self.stdout.write(f"status: {verdict} (exit {code})")
