"""Observability costs (issue: observability).

1. Overhead of the metrics middleware and the SQL instrumentation on the API list endpoint
   (`GET /api/v1/invoices/`, 50 invoices): the same requests with and without, in turns; goal
   at most 5% slower.
2. Scrape time of `/metrics` at 10 and at 500 tenants with the database gauges read from the
   summary table (cache emptied before each scrape), the SQL of one read, and, in the same run,
   the previous design's baseline (every tenant schema aggregated at scrape time, one `UNION
   ALL` per 50 schemas); goal under 1 s at 500. Also the cost of the work moved to beat: one
   refresh of every tenant's summary row, in total and per tenant.

    python -m bench.metrics [--tenants 500] [--requests 300] [--scrapes 7] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

# The previous design's catalog statement (commit 403df33), for the same-run baseline: every
# tenant with the gauge tables and columns its schema has, in one pass over the catalog.
LEGACY_TENANTS_SQL = """
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=10)
    parser.add_argument("--tenants", type=int, default=500)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--scrapes", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3, help="refreshes of every tenant timed per size")
    options = parser.parse_args(argv)

    from bench.report import median, scratch_database, write_section

    with scratch_database("bench_metrics"):
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_project.settings")
        os.environ["METRICS_TOKEN"] = ""
        # Request logs would flood the output (both cases log alike).
        os.environ.setdefault("LOG_LEVEL", "WARNING")
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext, override_settings

        from apps.core.tenancy import use_public_schema, use_tenant
        from apps.tenants.api.tokens import mint_platform_token
        from apps.tenants.models import Tenant
        from apps.tenants.services import tenant_create
        from billing_project.observability import db_gauges
        from billing_project.observability.db import QueryMetrics
        from billing_project.observability.db_gauges import DatabaseGaugeCollector
        from tests.accounts.factories import AccountFactory
        from tests.invoices.factories import open_invoice

        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
        call_command("migrate_schemas", interactive=False, verbosity=0)
        use_public_schema()
        seed = tenant_create(slug="seed", name="Seed tenant")
        use_tenant(seed)
        accounts = [AccountFactory(currency=currency) for currency in ("NGN", "USD", "NGN", "KES", "NGN")]
        for index in range(50):
            open_invoice(accounts[index % 5], f"{100 + index}.25")
        with connection.cursor() as cursor:
            # Spread the due dates over every age bucket (made overdue by SQL, like time passing).
            cursor.execute("UPDATE invoices_invoice SET due_date = current_date - (random() * 150)::int")
        use_public_schema()

        # --- 1. API overhead -------------------------------------------------------------------
        token = mint_platform_token(tenant="seed", roles=["billing.read"], sub="bench", lifetime=600)

        def fetch(client: Client) -> int:
            response = client.get("/api/v1/invoices/", HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {token}")
            return int(response.status_code)

        instrumented = Client()
        plain_middleware = [m for m in settings.MIDDLEWARE if not m.endswith("RequestMetricsMiddleware")]
        with override_settings(MIDDLEWARE=plain_middleware):
            plain = Client()
            assert fetch(plain) == 200  # loads its middleware chain under the override
        assert fetch(instrumented) == 200

        def sql_instrumentation(on: bool) -> None:
            wrappers = connection.execute_wrappers
            wrappers[:] = [w for w in wrappers if not isinstance(w, QueryMetrics)]
            if on:
                wrappers.insert(0, QueryMetrics(connection.alias))

        timings: dict[str, list[float]] = {"with": [], "without": []}
        for index in range(options.requests * 2):
            # Alternate request by request (the order flips every pair): load on the shared
            # machine weighs on both cases alike.
            case = ("with", "without")[(index + index // 2) % 2]
            sql_instrumentation(case == "with")
            client = instrumented if case == "with" else plain
            started = time.perf_counter()
            status = fetch(client)
            timings[case].append(time.perf_counter() - started)
            assert status == 200
        sql_instrumentation(True)
        with_ms, without_ms = median(timings["with"]) * 1000, median(timings["without"]) * 1000
        overhead = with_ms / without_ms

        # --- 2. Scrape time at 10 and at N tenants ----------------------------------------------
        scraper = Client(HTTP_HOST="localhost")

        # Creating 500 full tenants (every table cloned) takes most of an hour on the shared box,
        # so the bench tenants' schemas hold the tables the gauges read: copies of the seed
        # tenant's, with its indexes and rows. The catalog lookups are by schema and table name
        # (index lookups), so the other tables would not change the cost.
        requirements = sorted({req for section in db_gauges._sections.values() for req in section.requires})
        gauge_tables = sorted({req.split(".", 1)[0] for req in requirements})
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'seed' AND tablename = ANY(%s)", [gauge_tables]
            )
            seed_tables = sorted(row[0] for row in cursor.fetchall())

        def add_bench_tenant(schema: str) -> None:
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE SCHEMA "{schema}"')
                for table in seed_tables:
                    cursor.execute(f'CREATE TABLE "{schema}".{table} (LIKE seed.{table} INCLUDING ALL)')
                    cursor.execute(f'INSERT INTO "{schema}".{table} SELECT * FROM seed.{table}')
            Tenant.objects.bulk_create([Tenant(schema_name=schema, name=f"Bench {schema}")])

        def legacy_recompute() -> int:
            """The previous design, for the baseline: every schema aggregated at scrape time.

            A catalog statement (which also set the statement timeout), one `UNION ALL` per 50
            schemas, one statement restoring the timeout (a single statement over 500 schemas
            runs out of PostgreSQL's lock table). Returns its statement count.
            """
            with connection.cursor() as cursor:
                cursor.execute(LEGACY_TENANTS_SQL, ["5000", gauge_tables, requirements])
                rows = [(row[3], None, row[0], row[1], row[2]) for row in cursor.fetchall()]
                statements = 1
                per_schema = [
                    [
                        f"SELECT {db_gauges._quote_literal(schema)}, b.* FROM ({branch}) b"
                        for branch in db_gauges.tenant_branches(schema, today, set(present))
                    ]
                    for _previous, _id, schema, today, present in rows
                ]
                for start in range(0, len(per_schema), 50):
                    batch = [branch for branches in per_schema[start : start + 50] for branch in branches]
                    cursor.execute("\nUNION ALL\n".join(batch))
                    cursor.fetchall()
                    statements += 1
                cursor.execute("SELECT set_config('statement_timeout', %s, false)", [rows[0][0]])
                return statements + 1

        def measure(tenant_count: int) -> dict[str, float]:
            # The work moved to beat: refresh every tenant's summary row (what the fanned-out
            # batch tasks do, here in one process, one after the other).
            refresh_times = []
            for _ in range(options.rounds):
                started = time.perf_counter()
                result = db_gauges.refresh_all()
                refresh_times.append(time.perf_counter() - started)
                assert not result.failed and len(result.refreshed) == tenant_count, result
            with connection.cursor() as cursor:
                cursor.execute("SELECT refresh_seconds FROM public.tenants_tenantmetrics")
                db_seconds = [row[0] for row in cursor.fetchall()]
            scrape_times, read_times, legacy_times = [], [], []
            legacy_statements = 0
            for _ in range(options.scrapes):
                # Interleaved, so the machine's load weighs on old and new alike.
                started = time.perf_counter()
                legacy_statements = legacy_recompute()
                legacy_times.append(time.perf_counter() - started)
                DatabaseGaugeCollector.reset()
                started = time.perf_counter()
                response = scraper.get("/metrics")
                scrape_times.append(time.perf_counter() - started)
                assert response.status_code == 200
                assert f"billing_tenants {float(tenant_count)}" in response.content.decode()
                started = time.perf_counter()
                snapshot = db_gauges.read()
                read_times.append(time.perf_counter() - started)
            DatabaseGaugeCollector.reset()
            with CaptureQueriesContext(connection) as queries:
                scraper.get("/metrics")
            captured = [q["sql"] for q in queries.captured_queries if "search_path" not in q["sql"]]
            gauge_round_trips = [sql for sql in captured if "tenants_tenantmetrics" in sql]
            assert len(gauge_round_trips) == 1, captured
            return {
                "scrape": median(scrape_times),
                "read": median(read_times),
                "read_statements": snapshot.statements,
                "read_round_trips": len(gauge_round_trips),
                "scrape_round_trips": len(captured),
                "legacy": median(legacy_times),
                "legacy_statements": legacy_statements,
                "refresh": median(refresh_times),
                "refresh_per_tenant": median(refresh_times) / tenant_count,
                "refresh_db_per_tenant": median(db_seconds),
            }

        tenants = 1
        results = {}
        for target in (options.small, options.tenants):
            while tenants < target:
                use_public_schema()
                add_bench_tenant(f"t{tenants:04d}")
                tenants += 1
                if tenants % 50 == 0:
                    print(f"  {tenants} tenants", flush=True)
            use_public_schema()
            results[target] = measure(target)
        load = os.getloadavg()
        connection.close()

    small, large = results[options.small], results[options.tenants]
    overhead_verdict = "meets" if overhead <= 1.05 else "misses"
    scrape_verdict = "meets" if large["scrape"] < 1.0 else "misses"
    batch_size = settings.METRICS_REFRESH_BATCH_SIZE
    header = (
        "| tenants | `/metrics` scrape | gauge read | statements (round trips) | scrape round trips "
        "| old: recompute | statements | old / new |\n|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    rows = "\n".join(
        f"| {count} | {r['scrape'] * 1000:.0f} ms | {r['read'] * 1000:.1f} ms | "
        f"{int(r['read_statements'])} in {int(r['read_round_trips'])} | {int(r['scrape_round_trips'])} | "
        f"{r['legacy'] * 1000:.0f} ms | {int(r['legacy_statements'])} | {r['legacy'] / r['read']:.0f}x |"
        for count, r in ((options.small, small), (options.tenants, large))
    )
    refresh_rows = "\n".join(
        f"| {count} | {r['refresh'] * 1000:.0f} ms | {r['refresh_per_tenant'] * 1000:.2f} ms | "
        f"{r['refresh_db_per_tenant'] * 1000:.2f} ms | {count + 2 * -(-count // batch_size)} |"
        for count, r in ((options.small, small), (options.tenants, large))
    )
    body = f"""
**Instrumentation overhead.** `GET /api/v1/invoices/` (50 open invoices, platform token), with
the request-metrics middleware and the SQL execute wrapper and without them, {len(timings["with"])}
requests each, alternating request by request in one process:

| | median per request |
|---|---:|
| without instrumentation | {without_ms:.2f} ms |
| with instrumentation | {with_ms:.2f} ms |
| ratio | {overhead:.3f}x |

The goal (at most 5% slower) {overhead_verdict}.

**Scrape time.** The database gauges are read from the summary table `tenants_tenantmetrics`
that beat refreshes per tenant (cache emptied before each scrape, so every scrape reads it);
median of {options.scrapes} scrapes per size; load average {load[0]:.2f} / {load[1]:.2f} /
{load[2]:.2f} (1/5/15 min) at the end. Each tenant holds 5 accounts and 50 open invoices in 3
currencies spread over every age bucket (bench tenants' schemas hold copies of the tables the
gauges read, {", ".join(seed_tables)}, with their indexes and rows). Baseline, in the same run
and interleaved scrape by scrape: the previous design, which aggregated every tenant schema at
scrape time (one `UNION ALL` per 50 schemas, plus a catalog statement and one restoring the
timeout).

{header}
{rows}

Scrape ratio {options.tenants} / {options.small}: {large["scrape"] / small["scrape"]:.2f}x. The
goal (under 1 s at {options.tenants} tenants) {scrape_verdict}: {large["scrape"] * 1000:.0f} ms
("old: recompute" is the previous design's recompute alone; it took {large["legacy"] * 1000:.0f} ms in this run; its
last committed scrape was 1,386 ms with 12 statements, when the bench tenants held only the
invoice and account tables; each of its statements now plans the five tables the gauges read).
The read is one round trip carrying two
statements (a transaction-local `statement_timeout`, then one `jsonb_to_recordset` sum over
every active tenant's row) whatever the number of tenants; the scrape's other round trips are
the migration-run collector's ("scrape round trips" counts every collector's).

**Refresh cost (moved to beat).** Every tenant's row refreshed once in one process (beat fans
the same work out as one task per {batch_size} tenants on the `default` queue), median of
{options.rounds}:

| tenants | refresh of every tenant | per tenant | database time per tenant (its one statement) | statements |
|---:|---:|---:|---:|---:|
{refresh_rows}

Statements: one per tenant plus two per batch (catalog and timeout, restore). At the default
`METRICS_REFRESH_SECONDS=30` that is {large["refresh"] / 30 * 100:.1f}% of one worker process at
{options.tenants} tenants.
"""
    write_section("metrics", "Metrics: instrumentation overhead and scrape time (observability)", body)
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
