"""Finance admin pages with 1,000 vs 1,000,000 invoices in one tenant (issue 3).

The invoice changelist (default ordering, and filtered by status) and the account change page
are timed with Django's test client (real middleware, tenant routing, templates); the goal is
that the large case takes no more than 1.5x the small one, with the same number of queries
(no full COUNT, no N+1).

Data is written with set-based SQL straight into the tenant's tables (honouring every CHECK
constraint), then ANALYZEd, so a million invoices take a minute rather than hours.

    python -m bench.admin_pages [--small 1000] [--large 1000000] [--accounts 2000] [--samples 15]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

SLUG = "benchadmin"
PASSWORD = "bench-password-not-secret"

ACCOUNTS_SQL = """
INSERT INTO accounts_account (
    id, number, external_id, name, email, phone, address_line1, address_line2, city, region,
    postal_code, country, tax_id, currency, locale, timezone, status, suspension_source,
    suspension_reason, payment_terms_days, notify_by_email, notify_by_sms, notify_by_push, tags,
    metadata, amount_due, credit_balance, created_at, updated_at)
SELECT gen_random_uuid(), 'ACC-' || lpad(k::text, 6, '0'), 'sub-' || k, 'Subscriber ' || k,
       'subscriber' || k || '@example.test', '+23480' || lpad(k::text, 8, '0'), k || ' Ring Road', '',
       'Lagos', 'LA', '100001', 'NG', '', (ARRAY['USD', 'EUR', 'NGN'])[1 + k %% 3], 'en', 'UTC',
       CASE WHEN k %% 50 = 0 THEN 'suspended' ELSE 'active' END, CASE WHEN k %% 50 = 0 THEN 'manual' ELSE '' END,
       '', NULL, true, true, true, '[]'::jsonb, '{}'::jsonb, 0, 0,
       now() - k * interval '1 hour', now()
FROM generate_series(1, %(accounts)s) AS k
"""

# Invoice i belongs to account (i mod accounts); i grows into the past, so the 1,000-invoice
# tenant's newest page is the same page after the growth. Status mix: 5% draft, 10% open
# (a third of them partly paid), 80% paid, 3% void, 2% uncollectible.
INVOICES_SQL = """
INSERT INTO invoices_invoice (
    id, number, status, currency, issue_date, due_date, memo, subtotal, tax, total, amount_paid,
    amount_credited, amount_due, account_snapshot, external_id, metadata, finalized_at, sent_at,
    paid_at, voided_at, marked_uncollectible_at, status_reason, created_at, updated_at, account_id)
SELECT gen_random_uuid(),
       CASE WHEN g.status = 'draft' THEN NULL ELSE 'INV-B-' || lpad(g.i::text, 8, '0') END,
       g.status, a.currency,
       CASE WHEN g.status = 'draft' THEN NULL ELSE g.created::date END,
       CASE WHEN g.status = 'draft' THEN NULL ELSE g.created::date + 14 END,
       '', g.total - g.tax, g.tax, g.total, g.paid, 0, g.total - g.paid,
       CASE WHEN g.status = 'draft' THEN '{}'::jsonb
            ELSE jsonb_build_object('name', a.name, 'number', a.number, 'email', a.email) END,
       NULL, '{}'::jsonb,
       CASE WHEN g.status = 'draft' THEN NULL ELSE g.created END,
       CASE WHEN g.status = 'draft' THEN NULL ELSE g.created END,
       CASE WHEN g.status = 'paid' THEN g.created + interval '3 days' END,
       CASE WHEN g.status = 'void' THEN g.created + interval '1 day' END,
       CASE WHEN g.status = 'uncollectible' THEN g.created + interval '120 days' END,
       '', g.created, g.created, a.id
FROM (
    SELECT s.i, s.status, s.created, s.total, round(s.total * 0.075 / 1.075, 2) AS tax,
           CASE WHEN s.status = 'paid' THEN s.total
                WHEN s.status = 'open' AND s.i %% 3 = 0 THEN round(s.total / 2, 2)
                ELSE 0 END AS paid
    FROM (
        SELECT i,
               CASE WHEN i %% 20 = 0 THEN 'draft'
                    WHEN i %% 20 IN (1, 2) THEN 'open'
                    WHEN i %% 100 IN (3, 23, 43) THEN 'void'
                    WHEN i %% 100 IN (63, 83) THEN 'uncollectible'
                    ELSE 'paid' END AS status,
               now() - i * interval '2 minutes' AS created,
               ((i::bigint * 7919) %% 50000 + 500) / 100.0 AS total
        FROM generate_series(%(first)s, %(last)s) AS i
    ) AS s
) AS g
JOIN (
    SELECT id, name, number, email, currency, row_number() OVER (ORDER BY number) - 1 AS k
    FROM accounts_account
) AS a ON a.k = g.i %% %(accounts)s
"""

# The account's cached balance is the sum of its open invoices' amount due.
BALANCES_SQL = """
UPDATE accounts_account AS a SET amount_due = o.due
FROM (SELECT account_id, sum(amount_due) AS due FROM invoices_invoice WHERE status = 'open'
      GROUP BY account_id) AS o
WHERE o.account_id = a.id
"""


@dataclass
class Measurement:
    label: str
    path: str
    median_ms: float
    queries: int


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=2_000)
    parser.add_argument("--samples", type=int, default=15)
    options = parser.parse_args(argv)

    from bench.report import median, scratch_database, write_section

    with scratch_database("bench_admin_pages"):
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_project.settings")
        import django

        django.setup()
        from django.conf import settings
        from django.contrib.auth.models import User
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext
        from django_tenants.utils import schema_context

        from apps.core.tenancy import use_public_schema
        from apps.tenants.services import StaffUser, tenant_create

        call_command("migrate_schemas", interactive=False, verbosity=0)
        use_public_schema()
        tenant_create(slug=SLUG, name="Bench admin", staff=StaffUser("bench", "bench@example.test", PASSWORD))
        with schema_context(SLUG):
            staff = User.objects.get(username="bench")
            staff.is_superuser = True
            staff.save(update_fields=["is_superuser"])

        def run_sql(sql: str, **params: Any) -> None:
            with schema_context(SLUG), connection.cursor() as cursor:
                cursor.execute(sql, params or None)

        def grow_to(count: int, already: int) -> None:
            started = time.perf_counter()
            step = 250_000
            for first in range(already + 1, count + 1, step):
                last = min(first + step - 1, count)
                run_sql(INVOICES_SQL, first=first, last=last, accounts=options.accounts)
                print(f"  {last:,} invoices", flush=True)
            run_sql(BALANCES_SQL)
            # A live table is vacuumed by autovacuum; a freshly bulk-loaded one is not, and without a
            # visibility map every index-only scan would visit the heap.
            run_sql("VACUUM ANALYZE accounts_account")
            run_sql("VACUUM ANALYZE invoices_invoice")
            print(f"  loaded and analyzed in {time.perf_counter() - started:.1f}s", flush=True)

        run_sql(ACCOUNTS_SQL, accounts=options.accounts)
        with schema_context(SLUG), connection.cursor() as cursor:
            # The busiest account (most invoices, most history) is the one whose page we open.
            cursor.execute("SELECT id FROM accounts_account ORDER BY number LIMIT 1 OFFSET 1")
            account_id = cursor.fetchone()[0]

        client = Client(HTTP_HOST=f"{SLUG}.{settings.BASE_DOMAIN}")
        with schema_context(SLUG):
            client.force_login(staff)
        pages = [
            ("Invoice changelist", "/admin/invoices/invoice/"),
            ("Invoice changelist, status=open", "/admin/invoices/invoice/?status__exact=open"),
            ("Account change page", f"/admin/accounts/account/{account_id}/change/"),
        ]

        def measure() -> list[Measurement]:
            results = []
            for label, path in pages:
                with schema_context(SLUG):
                    for _ in range(2):  # warm caches and the connection
                        assert client.get(path).status_code == 200, path
                    timings = []
                    for _ in range(options.samples):
                        started = time.perf_counter()
                        response = client.get(path)
                        timings.append(time.perf_counter() - started)
                        assert response.status_code == 200, path
                    with CaptureQueriesContext(connection) as captured:
                        client.get(path)
                results.append(Measurement(label, path, median(timings) * 1000, len(captured.captured_queries)))
                print(f"  {label}: {results[-1].median_ms:.1f} ms, {results[-1].queries} queries", flush=True)
            return results

        grow_to(options.small, 0)
        print(f"measuring at {options.small:,} invoices", flush=True)
        small = measure()
        grow_to(options.large, options.small)
        print(f"measuring at {options.large:,} invoices", flush=True)
        large = measure()

    rows = []
    worst = 0.0
    for before, after in zip(small, large, strict=True):
        ratio = after.median_ms / before.median_ms
        worst = max(worst, ratio)
        rows.append(
            f"| {before.label} | {before.median_ms:.1f} ms ({before.queries} q) | "
            f"{after.median_ms:.1f} ms ({after.queries} q) | {ratio:.2f}x |"
        )
    verdict = "meets" if worst <= 1.5 else "misses"
    body = f"""
Finance admin pages (Django test client, logged-in superuser, tenant host) with {options.small:,} vs
{options.large:,} invoices in one tenant ({options.accounts:,} accounts; 5% draft, 10% open, 80% paid,
3% void, 2% uncollectible), median of {options.samples} requests each, with the number of SQL queries
per request. Goal: the large case within 1.5x of the small one, no full COUNT, no N+1.

| page | {options.small:,} invoices | {options.large:,} invoices | ratio |
|---|---|---|---|
{chr(10).join(rows)}

Worst ratio **{worst:.2f}x**, which {verdict} the 1.5x goal.
"""
    print(body)
    if options.large >= 1_000_000:
        write_section("admin_pages", "Finance admin pages (issue 3)", body)
    return 0 if worst <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
