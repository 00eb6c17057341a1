"""Gauges from the database: equal to the ledger, cheap at any tenant count, fresh after the TTL."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core.tenancy import tenant_today, use_public_schema, use_tenant
from apps.invoices.selectors import ar_aging
from apps.tenants.models import Tenant
from billing_project.observability import db_gauges
from billing_project.observability.db_gauges import DatabaseGaugeCollector, Section
from tests.accounts.factories import AccountFactory
from tests.invoices.factories import open_invoice

# The AR aging report's bucket keys, as the gauges name them.
BUCKET_LABELS = {"1_30": "0-30", "31_60": "31-60", "61_90": "61-90", "90_plus": "90+"}


def ledger_overdue() -> dict[tuple[str, str], Decimal]:
    """What the AR aging report says, summed over every tenant: (currency, bucket) -> amount."""
    expected: dict[tuple[str, str], Decimal] = {}
    for tenant in Tenant.objects.exclude(schema_name="public"):
        use_tenant(tenant)
        for row in ar_aging(today=tenant_today()):
            for key, label in BUCKET_LABELS.items():
                if row.counts[key]:
                    expected[(row.currency, label)] = expected.get((row.currency, label), Decimal(0)) + row.buckets[key]
    use_public_schema()
    return expected


def scraped_overdue(collector: DatabaseGaugeCollector) -> dict[tuple[str, str], Decimal]:
    found = {}
    for family in collector.collect():
        if family.name == "billing_overdue_amount":
            for sample in family.samples:
                found[(sample.labels["currency"], sample.labels["age_bucket"])] = Decimal(str(sample.value))
    return found


def move_due_date(invoice_id: Any, schema: str, days_ago: int) -> None:
    """Make an invoice overdue by SQL alone: no service, no event, nothing a counter could see."""
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE "{schema}".invoices_invoice SET due_date = current_date - %s WHERE id = %s',
            [days_ago, invoice_id],
        )


def test_overdue_gauges_match_the_ledger_per_currency_and_bucket_after_the_ttl(committed_tenant: Tenant) -> None:
    use_tenant(committed_tenant)
    schema = committed_tenant.schema_name
    naira, dollars, yen = AccountFactory(currency="NGN"), AccountFactory(currency="USD"), AccountFactory(currency="JPY")
    invoices = [
        (open_invoice(naira, "25000.10"), 3),
        (open_invoice(naira, "1000.01"), 45),
        (open_invoice(naira, "333.33", "0.01"), 200),
        (open_invoice(dollars, "19.99"), 61),
        (open_invoice(dollars, "0.01"), 90),
        (open_invoice(yen, "1234"), 31),
        (open_invoice(yen, "5"), 0),  # due today: current, not overdue
    ]
    use_public_schema()
    collector = DatabaseGaugeCollector(ttl_seconds=0.5)
    collector.reset()
    before = scraped_overdue(collector)
    for invoice, days in invoices:
        move_due_date(invoice.id, schema, days)
    # Within the TTL the cached snapshot is served; after it, the new ledger.
    assert scraped_overdue(collector) == before
    expected = ledger_overdue()
    deadline = time.monotonic() + 10
    while scraped_overdue(collector) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert scraped_overdue(collector) == expected
    # Exact to the minor unit, in the currency's own precision.
    assert expected[("NGN", "90+")] >= Decimal("333.34")
    assert ("JPY", "current") not in expected


def test_a_refresh_is_one_catalog_statement_plus_one_per_batch_of_schemas(committed_tenant: Tenant) -> None:
    use_public_schema()
    tenants = Tenant.objects.exclude(schema_name="public").count()
    assert tenants >= 3
    for batch_size, batches in ((100, 1), (2, -(-tenants // 2))):
        with CaptureQueriesContext(connection) as queries:
            snapshot = db_gauges.refresh(schemas_per_statement=batch_size)
        # The catalog (which also sets the timeout), the batches, and restoring the timeout.
        assert snapshot.statements == 1 + batches + 1
        statements = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith("SET search_path")]
        assert len(statements) == snapshot.statements, [sql[:80] for sql in statements]
        assert snapshot.tenants == tenants
    # The timeout never leaks into this connection's later statements.
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"


def test_batches_add_up_to_the_same_figures(committed_tenant: Tenant) -> None:
    use_tenant(committed_tenant)
    open_invoice(AccountFactory(currency="USD"), "12.34")
    use_public_schema()
    one, many = db_gauges.refresh(schemas_per_statement=1000), db_gauges.refresh(schemas_per_statement=1)
    assert one.sums == many.sums


def test_a_section_whose_table_does_not_exist_yet_is_left_out(db: None) -> None:
    def emit(rows):
        assert rows == []
        return iter(())

    section = Section(
        name="future", requires=("future_table.status",), sql="SELECT broken FROM {schema}.future_table", emit=emit
    )
    db_gauges.register_section(section)
    try:
        snapshot = db_gauges.refresh()
        assert snapshot.sums["future"] == {}
    finally:
        db_gauges._sections.pop("future")


def test_accounts_and_refresh_time_are_exposed(committed_tenant: Tenant) -> None:
    use_tenant(committed_tenant)
    AccountFactory()
    use_public_schema()
    collector = DatabaseGaugeCollector(ttl_seconds=0)
    families = {family.name: family for family in collector.collect()}
    active = sum(s.value for s in families["billing_accounts"].samples if s.labels["status"] == "active")
    assert active >= 1
    refreshed = families["billing_metrics_refreshed_timestamp_seconds"].samples[0].value
    assert abs(refreshed - time.time()) < 60
