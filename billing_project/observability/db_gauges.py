"""Business gauges from the database: refreshed per tenant by beat, read at scrape time in one statement.

Counters live in each process, but "how much is overdue now" is a fact of the ledger: it must
read the same whichever gunicorn worker or Celery child answers the scrape. So a collector in
the per-scrape registry reads these gauges from the database, cached `METRICS_CACHE_SECONDS` in
the process.

Cheap at any number of tenants (issue #9: one query per tenant schema at scrape time is not):
- **Refresh (beat, off the scrape path).** `apps.tenants.tasks.refresh_metrics_summaries` runs
  every `METRICS_REFRESH_SECONDS` on the `default` queue. It deletes the rows of tenants no
  longer active and enqueues one `refresh_metrics_summary_batch` task per
  `METRICS_REFRESH_BATCH_SIZE` active tenants. A batch is one catalog statement (which of the
  tables and columns the sections need exist in each schema, the tenant's local date, and a
  session `statement_timeout` of `METRICS_DB_TIMEOUT_MS`), then ONE statement per tenant that
  aggregates that tenant's schema (each branch from an index: the open-invoice partial index
  holds `currency, due_date, amount_due`) and upserts the result into the public
  `tenants_tenantmetrics` row of the tenant, then one statement restoring the timeout. A
  tenant whose statement fails (timeout on a locked table) is logged and counted; the others
  of its batch go on, and other batches run in parallel on other worker processes.
- **Scrape.** One statement reads every active tenant's row (`jsonb_to_recordset`, summed as
  `numeric` per label set) plus the summary's freshness; one more before it sets a
  transaction-local `statement_timeout`, both in one round trip. Two statements whether there
  are 10 tenants or 5,000.
- **Staleness.** A figure is at most about `METRICS_REFRESH_SECONDS` + one batch's run time +
  `METRICS_CACHE_SECONDS` old. Ages (oldest undelivered event) are stored as timestamps and
  computed when the gauges are collected, so they keep growing between refreshes. The
  summary's own age is exported (`billing_db_gauges_age_seconds`, alert
  BillingMetricsSummaryStale).

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
from django.db import DatabaseError, connection, transaction
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from apps.core.metrics import METRICS_SUMMARY_REFRESHES, TENANT_LABEL_ENABLED, tenant_label_value
from apps.notifications.handlers import NOTIFIED_TYPES

logger = logging.getLogger(__name__)

SUMMARY_TABLE = "public.tenants_tenantmetrics"

# (tenant label or "", label1, label2, value, count, age in seconds of the oldest timestamp or 0)
Row = tuple[str, str, str, Decimal, int, float]
Emit = Callable[[list[Row]], Iterator[GaugeMetricFamily]]


@dataclass(frozen=True)
class Section:
    """One aggregate per tenant schema, and the gauge families made from its rows.

    `sql` selects exactly (label1 text, label2 text, value numeric, count bigint, oldest_at
    timestamptz) from `{schema}`-qualified tables, with `{today}` the tenant's local date; cast
    literals (`NULL::timestamptz`, `0::numeric`) so the branches of the tenant's UNION agree. It
    runs only for schemas where every `requires` entry (`table.column`) exists. Values and
    counts are summed over tenants per label set; `oldest_at` is reduced to the oldest and
    turned into an age when collected. `emit` turns the rows into gauge families; it is called
    even with no rows, so a family is always present.
    """

    name: str
    requires: tuple[str, ...]
    sql: str
    emit: Emit


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
    for tenant, currency, bucket, value, count, _age in rows:
        open_amount.add_metric(_labels(tenant, currency, bucket), float(value))
        open_count.add_metric(_labels(tenant, currency, bucket), float(count))
        if bucket != "current":
            overdue_amount.add_metric(_labels(tenant, currency, bucket), float(value))
    yield from (open_amount, open_count, overdue_amount)


def _emit_accounts(rows: list[Row]) -> Iterator[GaugeMetricFamily]:
    family = GaugeMetricFamily("billing_accounts", "Billing accounts, by status.", labels=["status", *_tenant_labels()])
    for tenant, status, _unused, _value, count, _age in rows:
        family.add_metric(_labels(tenant, status), float(count))
    yield family


def _emit_dunning(rows: list[Row]) -> Iterator[GaugeMetricFamily]:
    family = GaugeMetricFamily("billing_dunning_cases_active", "Active dunning cases.", labels=_tenant_labels())
    for tenant, _label1, _label2, _value, count, _age in rows:
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
        sql="""SELECT currency::text,
                  CASE WHEN due_date IS NULL OR due_date >= {today} THEN 'current'
                       WHEN due_date >= {today} - 30 THEN '0-30'
                       WHEN due_date >= {today} - 60 THEN '31-60'
                       WHEN due_date >= {today} - 90 THEN '61-90'
                       ELSE '90+' END,
                  sum(amount_due)::numeric, count(*), NULL::timestamptz
               FROM {schema}.invoices_invoice WHERE status = 'open' GROUP BY 1, 2""",
        emit=_emit_receivables,
    )
)
register_section(
    Section(
        name="accounts",
        requires=("accounts_account.status",),
        sql="SELECT status::text, '', 0::numeric, count(*), NULL::timestamptz "
        "FROM {schema}.accounts_account GROUP BY 1",
        emit=_emit_accounts,
    )
)
# The dunning app's table may not exist yet: the section only runs where it does.
register_section(
    Section(
        name="dunning_cases",
        requires=("dunning_dunningcase.status",),
        sql="SELECT '', '', 0::numeric, count(*), NULL::timestamptz FROM {schema}.dunning_dunningcase "
        "WHERE status = 'active'",
        emit=_emit_dunning,
    )
)


def _backlog(count: tuple[str, str], age: tuple[str, str]) -> Callable[[list[Row]], Iterator[GaugeMetricFamily]]:
    """An emitter of a backlog's size and its oldest item's age, per tenant: (name, help) each."""

    def emit(rows: list[Row]) -> Iterator[GaugeMetricFamily]:
        backlog = GaugeMetricFamily(*count, labels=_tenant_labels())
        oldest = GaugeMetricFamily(*age, labels=_tenant_labels())
        for tenant, _label1, _label2, _value, how_many, seconds in rows:
            backlog.add_metric(_labels(tenant), float(how_many))
            oldest.add_metric(_labels(tenant), seconds)
        yield from (backlog, oldest)

    return emit


_emit_outbox = _backlog(
    ("billing_outbox_undelivered_events", "Webhook deliveries not yet made (pending)."),
    ("billing_outbox_oldest_event_age_seconds", "Age of the oldest pending webhook delivery (0 when none)."),
)
_emit_notices = _backlog(
    (
        "billing_notices_pending_events",
        "Committed events whose customer notice the notice drain has not recorded yet.",
    ),
    (
        "billing_notices_oldest_pending_age_seconds",
        "Age of the oldest committed event whose notice is not recorded yet (0 when none).",
    ),
)


def _emit_disabled_endpoints(rows: list[Row]) -> Iterator[GaugeMetricFamily]:
    family = GaugeMetricFamily(
        "billing_webhook_endpoints_disabled", "Webhook endpoints currently disabled.", labels=_tenant_labels()
    )
    for tenant, _label1, _label2, _value, count, _age in rows:
        family.add_metric(_labels(tenant), float(count))
    yield family


# The events app's outbox (#5): pending deliveries, from the partial index on pending rows. The
# oldest one's creation time is stored, not its age: the age is computed when collected.
register_section(
    Section(
        name="outbox",
        requires=("events_delivery.status", "events_delivery.created_at"),
        sql="SELECT '', '', 0::numeric, count(*), min(created_at) "
        "FROM {schema}.events_delivery WHERE status = 'pending'",
        emit=_emit_outbox,
    )
)
# The notifications app's notice drain (apps.notifications.outbox): notified events past its
# cursor, read through the (type, sequence) index. The types are the code's own constants.
_NOTIFIED = ", ".join(f"'{event_type}'" for event_type in NOTIFIED_TYPES)
register_section(
    Section(
        name="notices",
        requires=("notifications_noticecursor.last_sequence", "events_event.sequence"),
        sql="SELECT '', '', 0::numeric, count(*), min(created_at) FROM {schema}.events_event "  # noqa: S608
        f"WHERE type IN ({_NOTIFIED}) AND sequence > "
        "COALESCE((SELECT last_sequence FROM {schema}.notifications_noticecursor WHERE id = 1), 0)",
        emit=_emit_notices,
    )
)
register_section(
    Section(
        name="webhook_endpoints",
        requires=("events_webhookendpoint.enabled",),
        sql="SELECT '', '', 0::numeric, count(*), NULL::timestamptz FROM {schema}.events_webhookendpoint "
        "WHERE NOT enabled",
        emit=_emit_disabled_endpoints,
    )
)


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# --- Refresh (beat): one statement per tenant, off the scrape path ----------------------------

# The batch's active tenants with, per schema, which of the `table.column` requirements exist
# there, and the tenant's local date. Each requirement is a cache lookup (to_regclass) and an
# index probe of pg_attribute, per tenant: no join over the whole catalog, whose plan would
# depend on catalog statistics (a nested loop over 2,500 stale pg_class rows took seconds).
# The same statement sets the session's statement_timeout and returns the old one.
TENANTS_SQL = """
WITH previous AS MATERIALIZED (SELECT current_setting('statement_timeout') AS timeout),
     config AS MATERIALIZED (SELECT previous.timeout, set_config('statement_timeout', %s, false) FROM previous),
     tenants AS (
        SELECT t.id, t.schema_name, (now() AT TIME ZONE t.timezone)::date::text AS today,
               ARRAY(
                   SELECT r.requirement
                     FROM unnest(%s::text[]) AS r(requirement)
                    WHERE EXISTS (
                          SELECT 1 FROM pg_catalog.pg_attribute a
                           WHERE a.attrelid = to_regclass(quote_ident(t.schema_name) || '.'
                                                          || quote_ident(split_part(r.requirement, '.', 1)))
                             AND a.attname = split_part(r.requirement, '.', 2)
                             AND a.attnum > 0 AND NOT a.attisdropped)
               ) AS present
          FROM public.tenants_tenant t
         WHERE t.schema_name <> 'public' AND t.status = 'active' AND t.schema_name = ANY(%s)
     )
-- config first: its one row (and the SET) exists even when no tenant matches.
SELECT config.timeout, tenants.id, tenants.schema_name, tenants.today, tenants.present
  FROM config LEFT JOIN tenants ON true
 ORDER BY tenants.schema_name
"""


def catalog(cursor: Any, schemas: list[str], timeout_ms: int | str) -> list[tuple[Any, ...]]:
    """Run TENANTS_SQL: [(previous timeout, tenant id, schema, today, present requirements)]."""
    requirements, _tables = _requirements()
    cursor.execute(TENANTS_SQL, [str(timeout_ms), requirements, list(schemas)])
    return list(cursor.fetchall())


# The tenant's aggregates and the upsert of its summary row, in one statement and one
# transaction. refresh_seconds is the read's own time (clock_timestamp() is evaluated after the
# aggregate has consumed its input). Amounts go into the JSON as strings: exact.
UPSERT_SQL = """
WITH fresh(section, label1, label2, value, count, oldest_at) AS MATERIALIZED (
{union}
)
INSERT INTO public.tenants_tenantmetrics AS m (tenant_id, refreshed_at, refresh_seconds, rows)
SELECT %s, statement_timestamp(), EXTRACT(EPOCH FROM clock_timestamp() - statement_timestamp())::float8,
       COALESCE(jsonb_agg(jsonb_build_object(
           'section', section, 'label1', label1, 'label2', label2, 'value', value::text, 'count', count,
           'oldest_at', oldest_at) ORDER BY section, label1, label2), '[]'::jsonb)
  FROM fresh
ON CONFLICT (tenant_id) DO UPDATE
   SET refreshed_at = EXCLUDED.refreshed_at, refresh_seconds = EXCLUDED.refresh_seconds, rows = EXCLUDED.rows
"""

NO_SECTIONS = "SELECT NULL::text AS section, ''::text, ''::text, 0::numeric, 0::bigint, NULL::timestamptz WHERE false"

# Summary rows of tenants that are suspended, deleted or gone (the scrape ignores them anyway).
PRUNE_SQL = """
DELETE FROM public.tenants_tenantmetrics m
 WHERE NOT EXISTS (SELECT 1 FROM public.tenants_tenant t
                    WHERE t.id = m.tenant_id AND t.status = 'active' AND t.schema_name <> 'public')
"""


@dataclass
class RefreshResult:
    """What one batch refresh did: tenants refreshed, the ones that failed, and its SQL statements."""

    refreshed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    statements: int = 0
    duration: float = 0.0


def _requirements() -> tuple[list[str], list[str]]:
    requirements = sorted({req for section in _sections.values() for req in section.requires})
    return requirements, sorted({req.split(".", 1)[0] for req in requirements})


def tenant_branches(schema: str, today: str, present: set[str]) -> list[str]:
    """One SELECT (section, label1, label2, value, count, oldest_at) per section the schema has."""
    branches = []
    for section in _sections.values():
        if all(req in present for req in section.requires):
            sql = section.sql.format(schema=_quote_ident(schema), today=f"DATE {_quote_literal(today)}")
            # Schema names and dates are quoted; the section SQL is ours.
            branches.append(
                f"SELECT {_quote_literal(section.name)}::text AS section, q.* FROM ({sql}) q"  # noqa: S608
            )
    return branches


def tenant_refresh_sql(schema: str, today: str, present: set[str]) -> str:
    """The one statement that refreshes a tenant's summary row (its id is the parameter)."""
    branches = tenant_branches(schema, today, present)
    union = "\nUNION ALL\n".join(branches) if branches else NO_SECTIONS
    return UPSERT_SQL.format(union=union)


def _run_isolated(cursor: Any, sql: str, params: list[Any]) -> None:
    """Run one statement; inside a transaction (tests) under a savepoint, so a failure stays its own."""
    if connection.in_atomic_block:
        with transaction.atomic():
            cursor.execute(sql, params)
    else:
        cursor.execute(sql, params)


def refresh_tenants(schemas: list[str], timeout_ms: int | None = None) -> RefreshResult:
    """Refresh the summary rows of these (active) tenants: one statement each, plus two.

    A tenant's failure (statement timeout on a locked table, a broken schema) is logged and
    counted and does not stop the others. The session's statement_timeout is restored at the end.
    """
    timeout = int(timeout_ms or settings.METRICS_DB_TIMEOUT_MS)
    result = RefreshResult()
    if not schemas:
        return result
    started = time.perf_counter()
    with connection.cursor() as cursor:
        rows = catalog(cursor, schemas, timeout)
        result.statements = 1
        previous_timeout = rows[0][0]
        try:
            for _previous, tenant_id, schema, today, present in rows:
                if tenant_id is None:  # no active tenant among `schemas`
                    continue
                try:
                    _run_isolated(cursor, tenant_refresh_sql(schema, today, set(present)), [tenant_id])
                except DatabaseError:
                    logger.exception("metrics: refreshing the summary of tenant %s failed", schema)
                    result.failed.append(schema)
                    METRICS_SUMMARY_REFRESHES.labels(outcome="failed").inc()
                else:
                    result.refreshed.append(schema)
                    METRICS_SUMMARY_REFRESHES.labels(outcome="succeeded").inc()
                result.statements += 1
        finally:
            cursor.execute("SELECT set_config('statement_timeout', %s, false)", [previous_timeout])
            result.statements += 1
    result.duration = time.perf_counter() - started
    return result


def prune_summaries() -> int:
    """Delete the summary rows of tenants that are no longer active (or no longer exist)."""
    with connection.cursor() as cursor:
        cursor.execute(PRUNE_SQL)
        return int(cursor.rowcount)


def active_schemas() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT schema_name FROM public.tenants_tenant WHERE status = 'active' AND schema_name <> 'public' "
            "ORDER BY schema_name"
        )
        return [row[0] for row in cursor.fetchall()]


def refresh_all(batch_size: int | None = None) -> RefreshResult:
    """Prune and refresh every active tenant in this process (tests, `bench.metrics`, a shell).

    Production runs the same work fanned out over Celery (apps.tenants.tasks).
    """
    prune_summaries()
    schemas = active_schemas()
    size = max(1, batch_size or settings.METRICS_REFRESH_BATCH_SIZE)
    total = RefreshResult()
    for start in range(0, len(schemas), size):
        part = refresh_tenants(schemas[start : start + size])
        total.refreshed += part.refreshed
        total.failed += part.failed
        total.statements += part.statements
        total.duration += part.duration
    return total


# --- Scrape: one statement over the summary table ---------------------------------------------

# Every active tenant's rows, summed per (section, tenant or '', label1, label2), then two rows on
# the summary itself: '~covered' (tenants with a row: their count and total refresh time) and
# '~active' (active tenants, and the oldest refresh among them; a tenant never refreshed counts
# from its creation). Rows of suspended or deleted tenants are ignored.
READ_SQL = """
SELECT r.section, CASE WHEN %(by_tenant)s THEN t.schema_name ELSE '' END,
       COALESCE(r.label1, ''), COALESCE(r.label2, ''),
       COALESCE(sum(r.value), 0), COALESCE(sum(r.count), 0)::bigint, EXTRACT(EPOCH FROM min(r.oldest_at))::float8
  FROM public.tenants_tenant t
  JOIN public.tenants_tenantmetrics m ON m.tenant_id = t.id
 CROSS JOIN LATERAL jsonb_to_recordset(m.rows)
       AS r(section text, label1 text, label2 text, value numeric, count bigint, oldest_at timestamptz)
 WHERE t.status = 'active' AND t.schema_name <> 'public'
 GROUP BY 1, 2, 3, 4
UNION ALL
SELECT '~covered', '', '', '', COALESCE(sum(m.refresh_seconds), 0)::numeric, count(*), NULL::float8
  FROM public.tenants_tenant t
  JOIN public.tenants_tenantmetrics m ON m.tenant_id = t.id
 WHERE t.status = 'active' AND t.schema_name <> 'public'
UNION ALL
SELECT '~active', '', '', '', 0::numeric, count(*),
       EXTRACT(EPOCH FROM min(COALESCE(m.refreshed_at, t.created_at)))::float8
  FROM public.tenants_tenant t
  LEFT JOIN public.tenants_tenantmetrics m ON m.tenant_id = t.id
 WHERE t.status = 'active' AND t.schema_name <> 'public'
"""


@dataclass
class Snapshot:
    """One read of the summary: per section, (tenant, label1, label2) -> [value, count, oldest].

    `oldest` is the Unix time of the oldest stored timestamp (None when the section has none):
    ages are computed from it when collected, not when read or refreshed.
    """

    refreshed_at: float = 0.0  # when this process read the summary
    duration: float = 0.0
    statements: int = 0
    tenants: int = 0  # active tenants with a summary row
    active_tenants: int = 0
    oldest_refresh: float | None = None  # Unix time of the stalest active tenant's refresh
    refresh_seconds: float = 0.0  # sum of the covered tenants' last refresh statements
    sums: dict[str, dict[tuple[str, str, str], list[Any]]] = field(default_factory=dict)

    def rows(self, section: str, now: float | None = None) -> list[Row]:
        now = time.time() if now is None else now
        cells = self.sums.get(section, {})
        return [
            (key[0], key[1], key[2], cell[0], cell[1], max(0.0, now - cell[2]) if cell[2] is not None else 0.0)
            for key, cell in sorted(cells.items())
        ]

    def summary_age(self, now: float | None = None) -> float:
        """Seconds since the stalest active tenant's summary was refreshed (0 without tenants)."""
        if self.oldest_refresh is None:
            return 0.0
        return max(0.0, (time.time() if now is None else now) - self.oldest_refresh)


def read(timeout_ms: int | None = None) -> Snapshot:
    """Read the summary table: one round trip of two statements, a statement_timeout then the read.

    Both go in one simple-query message, which PostgreSQL runs as one implicit transaction: the
    transaction-local `set_config(..., true)` bounds the read (PostgreSQL 13+ times each statement
    of a message separately) and ends with it, so nothing leaks into the connection's later
    statements, and there is no BEGIN/COMMIT round trip.
    """
    timeout = int(timeout_ms or settings.METRICS_DB_TIMEOUT_MS)
    by_tenant = "true" if TENANT_LABEL_ENABLED else "false"
    started = time.perf_counter()
    snapshot = Snapshot(sums={section.name: {} for section in _sections.values()})
    with connection.cursor() as cursor:
        # Both values are ours (an int and a boolean literal): no parameters, so one message.
        cursor.execute(
            f"SELECT set_config('statement_timeout', '{timeout}', true);\n"
            + READ_SQL.replace("%(by_tenant)s", by_tenant)
        )
        cursor.nextset()
        rows = cursor.fetchall()
    snapshot.statements = 2
    for row in rows:
        _add(snapshot, row)
    snapshot.duration = time.perf_counter() - started
    snapshot.refreshed_at = time.time()
    return snapshot


def _add(snapshot: Snapshot, row: tuple[Any, ...]) -> None:
    """Add one (section, schema, label1, label2, value, count, oldest) row to the snapshot."""
    name, schema, label1, label2, value, count, oldest = row
    if name == "~covered":
        snapshot.tenants, snapshot.refresh_seconds = int(count), float(value)
        return
    if name == "~active":
        snapshot.active_tenants, snapshot.oldest_refresh = int(count), oldest
        return
    if name not in snapshot.sums:  # a section no longer registered, until the next refresh
        return
    key = (tenant_label_value(schema) if TENANT_LABEL_ENABLED else "", label1, label2)
    cell = snapshot.sums[name].setdefault(key, [Decimal(0), 0, None])
    cell[0] += Decimal(value)
    cell[1] += int(count)
    if oldest is not None:
        cell[2] = oldest if cell[2] is None else min(cell[2], oldest)


class DatabaseGaugeCollector(Collector):
    """Yields the DB gauges from a read at most `METRICS_CACHE_SECONDS` old (per process)."""

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
                cls._snapshot = read()
            except Exception:
                # Serve the stale read (its timestamp tells how stale) rather than nothing.
                cls._failures += 1
                logger.exception("metrics: reading the database gauges failed")
            return cls._snapshot

    def collect(self) -> Iterator[GaugeMetricFamily]:
        snapshot = self.current()
        now = time.time()
        for section in _sections.values():
            yield from section.emit(snapshot.rows(section.name, now) if snapshot else [])
        failures = GaugeMetricFamily(
            "billing_metrics_refresh_failures", "Failed reads of the database gauges since this process started."
        )
        failures.add_metric([], float(type(self)._failures))
        yield failures
        if snapshot is None:
            return
        for name, documentation, value in (
            (
                "billing_metrics_refreshed_timestamp_seconds",
                "When this process last read the database gauges from the summary table (Unix time).",
                snapshot.refreshed_at,
            ),
            (
                "billing_metrics_refresh_duration_seconds",
                "How long that read of the summary table took.",
                snapshot.duration,
            ),
            (
                "billing_db_gauges_age_seconds",
                "Seconds since the stalest active tenant's summary was refreshed by beat "
                "(a tenant never refreshed counts from its creation).",
                snapshot.summary_age(now),
            ),
            (
                "billing_db_gauges_refresh_seconds",
                "Database time of the last refresh of every covered tenant's summary, summed.",
                snapshot.refresh_seconds,
            ),
            ("billing_tenants", "Active tenants the database gauges cover (with a summary).", float(snapshot.tenants)),
            ("billing_tenants_active", "Active tenants.", float(snapshot.active_tenants)),
        ):
            family = GaugeMetricFamily(name, documentation)
            family.add_metric([], value)
            yield family
