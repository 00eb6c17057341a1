"""What `safe_migrate` prints: the plan, a progress bar (or plain lines off a terminal), the summary."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from apps.tenants.migrating.lint import Finding
from apps.tenants.migrating.plan import MigrationKey, Schema, label
from apps.tenants.migrating.schema_job import SchemaOutcome
from apps.tenants.models import MigrationResultStatus, SchemaKind


def _short(name: str | None) -> str:
    if not name:
        return "zero"
    prefix = name.split("_", 1)[0]
    return prefix if prefix.isdigit() else name


def versions_moved(outcome: SchemaOutcome) -> str:
    """`app 0001→0002` for each app the run planned to change in this schema."""
    apps = sorted({migration.split(".", 1)[0] for migration in outcome.migrations})
    if not apps:
        return "-"
    return ", ".join(
        f"{app} {_short(outcome.versions_before.get(app))}→{_short(outcome.versions_after.get(app))}" for app in apps
    )


def plan_lines(
    schemas: Sequence[Schema],
    plans: dict[str, list[MigrationKey] | None],
    findings: Sequence[Finding],
    parallel: int,
    *,
    reversal: bool = False,
) -> list[str]:
    """The plan: what each schema will get (tenants grouped by identical plans), lint, order."""
    verb = "to unapply" if reversal else "to apply"
    tenants = [schema for schema in schemas if schema.kind == SchemaKind.TENANT]
    lines = [f"Plan: {len(schemas) - len(tenants)} shared schema(s), {len(tenants)} tenant(s), parallel {parallel}"]
    for schema in schemas:
        if schema.kind != SchemaKind.TENANT:
            lines.append(f"  {schema.name:<20} {_describe(plans.get(schema.name), verb)}")
    groups: dict[tuple[MigrationKey, ...] | None, list[str]] = defaultdict(list)
    for schema in tenants:
        plan = plans.get(schema.name)
        groups[tuple(plan) if plan is not None else None].append(schema.name)
    for plan_key, names in sorted(groups.items(), key=lambda item: -len(item[1])):
        shown = ", ".join(names[:8]) + (f", ... ({len(names) - 8} more)" if len(names) > 8 else "")
        description = _describe(list(plan_key) if plan_key is not None else None, verb)
        lines.append(f"  {len(names)} tenant(s) {description}: {shown}")
    if findings:
        lines.append(f"Lint: {len(findings)} finding(s)")
        lines.extend(f"  {finding}" for finding in findings)
    else:
        lines.append("Lint: no unsafe operations found")
    pace = f"{parallel} at a time" if parallel > 1 else "one at a time"
    first = ", ".join(schema.name for schema in tenants[:5]) + (", ..." if len(tenants) > 5 else "")
    shared = [schema.name for schema in schemas if schema.kind != SchemaKind.TENANT]
    before = f"{', '.join(shared)}, then " if shared else ""
    lines.append(f"Order: {before}{len(tenants)} tenant(s) in migration order ({first}), {pace}")
    return lines


def _describe(plan: list[MigrationKey] | None, verb: str) -> str:
    if plan is None:
        return "schema missing"
    if not plan:
        return "nothing " + verb
    names = ", ".join(label(key) for key in plan[:6]) + (", ..." if len(plan) > 6 else "")
    return f"{len(plan)} {verb}: {names}"


class Progress:
    """A one-line bar on a terminal; elsewhere one plain line per schema that had work."""

    def __init__(self, out: Any, total: int) -> None:
        self.out = out
        self.total = total
        self.done = 0
        self.failed = 0
        self.started = time.monotonic()
        self.tty = bool(getattr(out, "isatty", lambda: False)())

    def _line(self, outcome: SchemaOutcome) -> str:
        result = outcome.status + (f" ({outcome.restored})" if outcome.restored else "")
        tail = f"  {outcome.error}" if outcome.error else ""
        position = f"[{self.done:>{len(str(self.total))}}/{self.total}]"
        return f"{position} {outcome.schema:<20} {result:<20} {outcome.duration_seconds:7.2f}s{tail}"

    def update(self, outcome: SchemaOutcome) -> None:
        self.done += 1
        self.failed += outcome.failed
        if self.tty:
            if outcome.failed:
                self.out.write("\r\033[K" + self._line(outcome) + "\n", ending="")
            self.out.write("\r\033[K" + self._bar(), ending="")
            self.out.flush()
        elif outcome.status != MigrationResultStatus.CURRENT:
            self.out.write(self._line(outcome))

    def _bar(self, width: int = 30) -> str:
        filled = int(width * self.done / max(self.total, 1))
        elapsed = time.monotonic() - self.started
        remaining = elapsed / self.done * (self.total - self.done) if self.done else 0
        return (
            f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} schemas, "
            f"{self.failed} failed, {elapsed:.0f}s elapsed, ~{remaining:.0f}s left"
        )

    def close(self) -> None:
        if self.tty:
            self.out.write("\n", ending="")


def summary_lines(
    outcomes: Sequence[SchemaOutcome], *, run_id: int | None, elapsed: float, backup_dir: str
) -> list[str]:
    """The closing table (schema, from → to, duration, result, backup) and one totals line."""
    worked = [outcome for outcome in outcomes if outcome.status != MigrationResultStatus.CURRENT]
    current = len(outcomes) - len(worked)
    rows = [("schema", "from → to", "duration", "result", "backup")]
    for outcome in worked:
        result = outcome.status + (f" ({outcome.restored})" if outcome.restored else "")
        rows.append(
            (
                outcome.schema,
                versions_moved(outcome),
                f"{outcome.duration_seconds:.2f}s",
                result,
                outcome.backup_path or "-",
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    lines = (
        ["  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(row)) for row in rows]
        if worked
        else []
    )
    if current:
        lines.append(f"({current} schema(s) already current, not listed)")
    failures = [outcome for outcome in outcomes if outcome.failed]
    for outcome in failures:
        lines.append(f"FAILED {outcome.schema}: {outcome.error}")
    counts: dict[str, int] = defaultdict(int)
    for outcome in outcomes:
        counts[outcome.status] += 1
    totals = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
    run = f"Run {run_id}" if run_id is not None else "Run"
    backups = f"; backups in {backup_dir}" if any(outcome.backup_path for outcome in outcomes) else ""
    lines.append(f"{run}: {totals} in {elapsed:.1f}s{backups}")
    return lines
