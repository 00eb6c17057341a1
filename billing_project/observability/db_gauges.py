"""Business gauges computed from the database at scrape time, over every tenant schema.

Counters live in each process, but "how much is overdue now" is a fact of the ledger: it must
read the same whichever gunicorn worker or Celery child answers the scrape. So a collector in
the per-scrape registry computes these gauges from the database, cached for
`METRICS_CACHE_SECONDS` in the process.

Cheap at 500 tenants: a fixed handful of statements, never one per tenant.
1. The tenants with, per schema, which of the tables/columns the sections need exist there
   (one pass over the catalog; the same statement sets the session's `statement_timeout`).
2. One `UNION ALL` of every section per `METRICS_SCHEMAS_PER_STATEMENT` schemas (50: 10
   statements at 500 tenants). Each branch is an aggregate answered from an index (the
   open-invoice partial index holds `currency, due_date, amount_due`), so the cost follows open
   invoices, not history. A single statement over 500 schemas fails: it locks every table and
   index it plans, beyond PostgreSQL's shared lock table.
3. Restoring the timeout.

Sections are built from the tables present, so an app whose tables do not exist yet
(dunning, a new events column) simply contributes nothing until its migration runs. Apps
added later register a `Section` with `register_section()`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from apps.core.metrics import TENANT_LABEL_ENABLED, tenant_label_value

logger = logging.getLogger(__name__)


Row = tuple[str, str, str, Decimal, int]  # (tenant label or "", label1, label2, value, count)
Emit = Callable[[list[Row]], Iterator[GaugeMetricFamily]]


@dataclass(frozen=True)
class Section:
    """One aggregate per tenant schema, and the gauge families made from its rows.

    `sql` selects exactly (label1 text, label2 text, value numeric, count bigint) from
    `{schema}`-qualified tables, with `{today}` the tenant's local date. It runs only for
    schemas where every `requires` entry (`table.column`) exists. `emit` turns the rows of
    every tenant (summed per label set) into gauge families; it is called even with no rows,
    so a family is always present.
    """

    name: str
    requires: tuple[str, ...]
    sql: str
    emit: Emit
    # How the values of several schemas combine into one series: "sum" (amounts, counts) or
    # "max" (ages). Counts always sum.
    combine: str = "sum"


_sections: dict[str, Section] = {}


def register_section(section: Section) -> Section:
    """Add (or replace) a section: apps with tables of their own call this from ready()."""
    _sections[section.name] = section
    return section


def _tenant_labels() -> list[str]:
    return ["tenant"] if TENANT_LABEL_ENABLED else []


def _labels(tenant: str, *values: str) -> list[str]:
    return [*values, tenant] if TENANT_LABEL_ENABLED else list(values)


def _emit_receivables(rows: list[Row]) -> Iterator[GaugeMetricFamily]:
    labels = ["currency", "age_bucket", *_tenant_labels()]
    open_amount = GaugeMetricFamily(
        "billing_open_invoice_amount",
        "Amount due on open invoices, in the currency's units, by currency and age bucket (current or overdue).",
        labels=labels,
    )
    open_count = GaugeMetricFamily("billing_open_invoices", "Open invoices, by currency and age bucket.", labels=labels)
    overdue_amount = GaugeMetricFamily(
        "billing_overdue_amount",
        "Amount due on overdue invoices, in the currency's units, by currency and days-overdue bucket.",
        labels=labels,
    )
    for tenant, currency, bucket, value, count in rows:
        open_amount.add_metric(_labels(tenant, currency, bucket), float(value))
        open_count.add_metric(_labels(tenant, currency, bucket), float(count))
        if bucket != "current":
            overdue_amount.add_metric(_labels(tenant, currency, bucket), float(value))
    yield from (open_amount, open_count, overdue_amount)


def _emit_accounts(rows: list[Row]) -> Iterator[GaugeMetricFamily]:
    family = GaugeMetricFamily("billing_accounts", "Billing accounts, by status.", labels=["status", *_tenant_labels()])
    for tenant, status, _unused, _value, count in rows:
        family.add_metric(_labels(tenant, status), float(count))
    yield family


def _emit_dunning(rows: list[Row]) -> Iterator[GaugeMetricFamily]:
    family = GaugeMetricFamily("billing_dunning_cases_active", "Active dunning cases.", labels=_tenant_labels())
    for tenant, _label1, _label2, _value, count in rows:
        family.add_metric(_labels(tenant), float(count))
    yield family


# Days overdue = tenant-local today - due_date; the same boundaries as the AR aging report
# (apps.invoices.selectors.OVERDUE_BUCKETS): current (not yet due), 1-30, 31-60, 61-90, 91+.
# The WHERE and the columns match the partial index invoice_open_currency_due: index-only.
register_section(
    Section(
        name="receivables",
        requires=(
            "invoices_invoice.status",
            "invoices_invoice.currency",
            "invoices_invoice.due_date",
            "invoices_invoice.amount_due",
        ),
        sql="""SELECT currency,
                  CASE WHEN due_date IS NULL OR due_date >= {today} THEN 'current'
                       WHEN due_date >= {today} - 30 THEN '0-30'
                       WHEN due_date >= {today} - 60 THEN '31-60'
                       WHEN due_date >= {today} - 90 THEN '61-90'
                       ELSE '90+' END,
                  sum(amount_due), count(*)
               FROM {schema}.invoices_invoice WHERE status = 'open' GROUP BY 1, 2""",
        emit=_emit_receivables,
    )
)
register_section(
    Section(
        name="accounts",
        requires=("accounts_account.status",),
        sql="SELECT status, '', 0, count(*) FROM {schema}.accounts_account GROUP BY 1",
        emit=_emit_accounts,
    )
)
# The dunning app's table may not exist yet: the section only runs where it does.
register_section(
    Section(
        name="dunning_cases",
        requires=("dunning_dunningcase.status",),
        sql="SELECT '', '', 0, count(*) FROM {schema}.dunning_dunningcase WHERE status = 'active'",
        emit=_emit_dunning,
    )
)


def _emit_outbox(rows: list[Row]) -> Iterator[GaugeMetricFamily]:
    backlog = GaugeMetricFamily(
        "billing_outbox_undelivered_events", "Webhook deliveries not yet made (pending).", labels=_tenant_labels()
    )
    oldest = GaugeMetricFamily(
        "billing_outbox_oldest_event_age_seconds",
        "Age of the oldest pending webhook delivery (0 when none).",
        labels=_tenant_labels(),
    )
    for tenant, _label1, _label2, age, count in rows:
        backlog.add_metric(_labels(tenant), float(count))
        oldest.add_metric(_labels(tenant), float(age))
    yield from (backlog, oldest)


def _emit_disabled_endpoints(rows: list[Row]) -> Iterator[GaugeMetricFamily]:
    family = GaugeMetricFamily(
        "billing_webhook_endpoints_disabled", "Webhook endpoints currently disabled.", labels=_tenant_labels()
    )
    for tenant, _label1, _label2, _value, count in rows:
        family.add_metric(_labels(tenant), float(count))
    yield family


# The events app's outbox (#5): pending deliveries, from the partial index on pending rows.
register_section(
    Section(
        name="outbox",
        requires=("events_delivery.status", "events_delivery.created_at"),
        sql="SELECT '', '', COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0), count(*) "
        "FROM {schema}.events_delivery WHERE status = 'pending'",
        emit=_emit_outbox,
        combine="max",
    )
)
register_section(
    Section(
        name="webhook_endpoints",
        requires=("events_webhookendpoint.enabled",),
        sql="SELECT '', '', 0, count(*) FROM {schema}.events_webhookendpoint WHERE NOT enabled",
        emit=_emit_disabled_endpoints,
    )
)


@dataclass
class Snapshot:
    """One refresh: per section, (tenant, label1, label2) -> [value, count] summed over schemas."""

    refreshed_at: float = 0.0
    duration: float = 0.0
    statements: int = 0
    tenants: int = 0
    sums: dict[str, dict[tuple[str, str, str], list[Any]]] = field(default_factory=dict)

    def rows(self, section: str) -> list[Row]:
        cells = self.sums.get(section, {})
        return [(key[0], key[1], key[2], cell[0], cell[1]) for key, cell in sorted(cells.items())]


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# One pass over the catalog (hash joins, not a subquery per tenant): per tenant schema, which of
# the `table.column` requirements exist there.
TENANTS_SQL = """
WITH previous AS MATERIALIZED (SELECT current_setting('statement_timeout') AS timeout),
     config AS MATERIALIZED (SELECT previous.timeout, set_config('statement_timeout', %s, false) FROM previous)
SELECT t.schema_name, (now() AT TIME ZONE t.timezone)::date::text,
       COALESCE(array_agg(present.requirement) FILTER (WHERE present.requirement IS NOT NULL), '{}'),
       config.timeout
  FROM public.tenants_tenant t
 CROSS JOIN config
  LEFT JOIN (
        SELECT n.nspname AS schema_name, c.relname || '.' || a.attname AS requirement
          FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         WHERE c.relkind IN ('r', 'p') AND c.relname = ANY(%s)
           AND c.relname || '.' || a.attname = ANY(%s)
       ) present ON present.schema_name = t.schema_name
 WHERE t.schema_name <> 'public'
 GROUP BY t.schema_name, t.timezone, config.timeout
 ORDER BY t.schema_name
"""


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def refresh(timeout_ms: int | None = None, schemas_per_statement: int | None = None) -> Snapshot:
    """Run the catalog statement and the batched aggregates; sum their rows (the collector's cache
    calls this).

    Each aggregate statement covers `METRICS_SCHEMAS_PER_STATEMENT` schemas and runs in its own
    implicit transaction: one statement over 500 schemas would hold a lock on every table and
    index it plans (about 20 per tenant), beyond PostgreSQL's shared lock table
    (max_locks_per_transaction x max_connections). The statement_timeout is set for the session
    by the first statement and restored by the last, so it never leaks into later requests.
    """
    timeout = str(int(timeout_ms or settings.METRICS_DB_TIMEOUT_MS))
    batch_size = schemas_per_statement or settings.METRICS_SCHEMAS_PER_STATEMENT
    sections = list(_sections.values())
    requirements = sorted({req for section in sections for req in section.requires})
    tables = sorted({req.split(".", 1)[0] for req in requirements})
    started = time.perf_counter()
    snapshot = Snapshot(sums={section.name: {} for section in sections})
    with connection.cursor() as cursor:
        cursor.execute(TENANTS_SQL, [timeout, tables, requirements])
        tenants = cursor.fetchall()
        snapshot.statements, snapshot.tenants = 1, len(tenants)
        previous_timeout = tenants[0][3] if tenants else None
        try:
            branches: dict[str, list[str]] = {}
            for schema, today, present, _previous in tenants:
                available = set(present)
                for section in sections:
                    if all(req in available for req in section.requires):
                        sql = section.sql.format(schema=_quote_ident(schema), today=f"DATE {_quote_literal(today)}")
                        branches.setdefault(schema, []).append(
                            # Schema names and dates are quoted; the section SQL is ours.
                            f"SELECT {_quote_literal(section.name)}, {_quote_literal(schema)}, q.* FROM ({sql}) q"  # noqa: S608
                        )
            for batch in _batches(sorted(branches), batch_size):
                cursor.execute("\nUNION ALL\n".join(branch for schema in batch for branch in branches[schema]))
                snapshot.statements += 1
                for row in cursor.fetchall():
                    _add(snapshot, row)
        finally:
            if previous_timeout is not None:
                cursor.execute("SELECT set_config('statement_timeout', %s, false)", [previous_timeout])
                snapshot.statements += 1
    snapshot.duration = time.perf_counter() - started
    snapshot.refreshed_at = time.time()
    return snapshot


def _add(snapshot: Snapshot, row: tuple[Any, ...]) -> None:
    """Add one (section, schema, label1, label2, value, count) row to the snapshot."""
    name, schema, label1, label2, value, count = row
    key = (tenant_label_value(schema) if TENANT_LABEL_ENABLED else "", label1 or "", label2 or "")
    cell = snapshot.sums[name].setdefault(key, [Decimal(0), 0])
    if _sections[name].combine == "max":
        cell[0] = max(cell[0], Decimal(value or 0))
    else:
        cell[0] += Decimal(value or 0)
    cell[1] += int(count or 0)


class DatabaseGaugeCollector(Collector):
    """Yields the DB gauges from a snapshot at most `METRICS_CACHE_SECONDS` old (per process)."""

    _lock = threading.Lock()
    _snapshot: Snapshot | None = None
    _failures = 0

    def __init__(self, ttl_seconds: float | None = None) -> None:
        self.ttl = settings.METRICS_CACHE_SECONDS if ttl_seconds is None else ttl_seconds

    @classmethod
    def reset(cls) -> None:
        with cls._lock:
            cls._snapshot = None

    def current(self) -> Snapshot | None:
        cls = type(self)
        with cls._lock:
            snapshot = cls._snapshot
            if snapshot is not None and time.time() - snapshot.refreshed_at < self.ttl:
                return snapshot
            try:
                cls._snapshot = refresh()
            except Exception:
                # Serve the stale snapshot (its timestamp tells how stale) rather than nothing.
                cls._failures += 1
                logger.exception("metrics: refreshing the database gauges failed")
            return cls._snapshot

    def collect(self) -> Iterator[GaugeMetricFamily]:
        snapshot = self.current()
        for section in _sections.values():
            yield from section.emit(snapshot.rows(section.name) if snapshot else [])
        failures = GaugeMetricFamily(
            "billing_metrics_refresh_failures", "Failed database gauge refreshes since this process started."
        )
        failures.add_metric([], float(type(self)._failures))
        yield failures
        if snapshot is None:
            return
        for name, documentation, value in (
            (
                "billing_metrics_refreshed_timestamp_seconds",
                "When the database gauges were last computed (Unix time).",
                snapshot.refreshed_at,
            ),
            (
                "billing_metrics_refresh_duration_seconds",
                "How long the last database gauge refresh took.",
                snapshot.duration,
            ),
            ("billing_tenants", "Tenant schemas the database gauges cover.", float(snapshot.tenants)),
        ):
            family = GaugeMetricFamily(name, documentation)
            family.add_metric([], value)
            yield family
