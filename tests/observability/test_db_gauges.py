"""Gauges from the database: equal to the ledger, read in two statements at any tenant count,
refreshed per tenant by beat (one statement each), with their staleness exposed."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.core.tenancy import tenant_today, use_public_schema, use_tenant
from apps.invoices.selectors import ar_aging
from apps.tenants.models import Tenant, TenantMetrics, TenantStatus
from billing_project.observability import db_gauges
from billing_project.observability.db_gauges import DatabaseGaugeCollector, Section
from tests.accounts.factories import AccountFactory
from tests.conftest import _database_url
from tests.invoices.factories import open_invoice

# The AR aging report's bucket keys, as the gauges name them.
BUCKET_LABELS = {"1_30": "0-30", "31_60": "31-60", "61_90": "61-90", "90_plus": "90+"}


def ledger_overdue() -> dict[tuple[str, str], Decimal]:
    """What the AR aging report says, summed over every active tenant: (currency, bucket) -> amount."""
    expected: dict[tuple[str, str], Decimal] = {}
    for tenant in Tenant.objects.exclude(schema_name="public").filter(status=TenantStatus.ACTIVE):
        use_tenant(tenant)
        for row in ar_aging(today=tenant_today()):
            for key, label in BUCKET_LABELS.items():
                if row.counts[key]:
                    expected[(row.currency, label)] = expected.get((row.currency, label), Decimal(0)) + row.buckets[key]
    use_public_schema()
    return expected


def scraped(collector: DatabaseGaugeCollector, name: str) -> dict[tuple[str, ...], Decimal]:
    found = {}
    for family in collector.collect():
        if family.name == name:
            for sample in family.samples:
                found[tuple(sample.labels.values())] = Decimal(str(sample.value))
    return found


def scraped_overdue(collector: DatabaseGaugeCollector) -> dict[tuple[str, ...], Decimal]:
    return scraped(collector, "billing_overdue_amount")


def move_due_date(invoice_id: Any, schema: str, days_ago: int) -> None:
    """Make an invoice overdue by SQL alone: no service, no event, nothing a counter could see."""
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE "{schema}".invoices_invoice SET due_date = current_date - %s WHERE id = %s',
            [days_ago, invoice_id],
        )


def statements_of(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if not q["sql"].startswith("SET search_path")]


def test_overdue_gauges_match_the_ledger_per_currency_and_bucket_after_a_refresh(committed_tenant: Tenant) -> None:
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
    db_gauges.refresh_all()
    cached = DatabaseGaugeCollector(ttl_seconds=3600)
    cached.reset()
    before = scraped_overdue(cached)
    for invoice, days in invoices:
        move_due_date(invoice.id, schema, days)
    # The scrape reads the summary, not the schemas: until beat refreshes it, the old figures.
    uncached = DatabaseGaugeCollector(ttl_seconds=0)
    assert scraped_overdue(uncached) == before
    db_gauges.refresh_all()  # what the beat task does
    expected = ledger_overdue()
    assert scraped_overdue(uncached) == expected
    # Exact to the minor unit, in the currency's own precision.
    assert expected[("NGN", "90+")] >= Decimal("333.34")
    assert ("JPY", "current") not in expected
    # Within its TTL a process serves its last read.
    assert scraped_overdue(cached) == scraped_overdue(uncached)


def test_a_scrape_is_two_statements_whatever_the_number_of_tenants(committed_tenant: Tenant) -> None:
    use_public_schema()
    db_gauges.refresh_all()
    tenants = Tenant.objects.exclude(schema_name="public").filter(status=TenantStatus.ACTIVE).count()
    assert tenants >= 3
    with CaptureQueriesContext(connection) as queries:
        snapshot = db_gauges.read()
    # One round trip (no BEGIN/COMMIT) carrying two statements: the timeout, then the read.
    [sent] = statements_of(queries)
    assert snapshot.statements == 2
    assert sent.startswith("SELECT set_config('statement_timeout'") and "jsonb_to_recordset" in sent
    assert snapshot.tenants == snapshot.active_tenants == tenants
    # The read's statement_timeout was transaction-local: it never leaks into later statements.
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"


def test_a_read_that_times_out_is_bounded_and_the_last_read_is_served(committed_tenant: Tenant, settings) -> None:
    use_public_schema()
    db_gauges.refresh_all()
    collector = DatabaseGaugeCollector(ttl_seconds=0)
    collector.reset()
    first = collector.current()
    assert first is not None
    failures = DatabaseGaugeCollector._failures
    settings.METRICS_DB_TIMEOUT_MS = 300
    url = _database_url(settings.DATABASES["default"]).replace("postgres://", "postgresql://", 1)
    # A migration (say) holds the summary table: the read gives up after its timeout.
    with psycopg.connect(url) as locker:
        locker.execute("LOCK TABLE public.tenants_tenantmetrics IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        assert collector.current() is first
        assert time.monotonic() - started < 5
        locker.rollback()
    assert DatabaseGaugeCollector._failures == failures + 1
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"
    assert collector.current() is not first  # the lock gone, a fresh read


def test_a_refresh_is_one_statement_per_tenant_plus_two(committed_tenant: Tenant) -> None:
    use_public_schema()
    schemas = db_gauges.active_schemas()
    with CaptureQueriesContext(connection) as queries:
        result = db_gauges.refresh_tenants(schemas)
    # The catalog (which also sets the timeout), one upsert per tenant, restoring the timeout.
    assert result.statements == len(schemas) + 2 == len(statements_of(queries))
    assert sorted(result.refreshed) == schemas and result.failed == []
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"
    row = TenantMetrics.objects.get(tenant=committed_tenant)
    assert abs((timezone.now() - row.refreshed_at).total_seconds()) < 60
    sections = {item["section"] for item in row.rows}
    assert {"dunning_cases", "outbox", "webhook_endpoints"} <= sections


def test_batches_add_up_to_the_same_figures(committed_tenant: Tenant) -> None:
    use_tenant(committed_tenant)
    open_invoice(AccountFactory(currency="USD"), "12.34")
    use_public_schema()
    db_gauges.refresh_all(batch_size=1000)
    one = db_gauges.read().sums
    db_gauges.refresh_all(batch_size=1)
    assert db_gauges.read().sums == one


def test_a_tenant_whose_refresh_fails_does_not_stop_the_others(committed_tenant: Tenant) -> None:
    use_public_schema()
    schemas = db_gauges.active_schemas()
    db_gauges.refresh_tenants(schemas)
    before = TenantMetrics.objects.get(tenant=committed_tenant).refreshed_at
    url = _database_url(settings.DATABASES["default"]).replace("postgres://", "postgresql://", 1)
    # Another session holds the tenant's invoices table: its refresh times out, the others go on.
    with psycopg.connect(url) as locker:
        locker.execute(f'LOCK TABLE "{committed_tenant.schema_name}".invoices_invoice IN ACCESS EXCLUSIVE MODE')
        started = time.monotonic()
        result = db_gauges.refresh_tenants(schemas, timeout_ms=300)
        assert time.monotonic() - started < 10
        locker.rollback()
    assert result.failed == [committed_tenant.schema_name]
    assert sorted(result.refreshed) == sorted(set(schemas) - {committed_tenant.schema_name})
    assert TenantMetrics.objects.get(tenant=committed_tenant).refreshed_at == before
    # The failed tenant keeps its last row; the summary's age says how old it is.
    snapshot = db_gauges.read()
    assert snapshot.oldest_refresh == pytest.approx(before.timestamp(), abs=0.001)


def test_suspended_and_deleted_tenants_are_ignored_then_pruned(committed_tenant: Tenant) -> None:
    use_tenant(committed_tenant)
    invoice = open_invoice(AccountFactory(currency="XOF"), "700")
    use_public_schema()
    move_due_date(invoice.id, committed_tenant.schema_name, 10)
    db_gauges.refresh_all()
    assert db_gauges.read().sums["receivables"][("", "XOF", "0-30")][0] == Decimal("700")
    # A summary row whose tenant is gone (deleted by plain SQL): ignored, then pruned.
    TenantMetrics.objects.create(tenant_id=10**12, refreshed_at=timezone.now() - dt.timedelta(days=9), rows=[])
    Tenant.objects.filter(pk=committed_tenant.pk).update(status=TenantStatus.SUSPENDED)
    try:
        snapshot = db_gauges.read()
        assert ("", "XOF", "0-30") not in snapshot.sums["receivables"]
        assert snapshot.summary_age() < 3600  # neither the suspended nor the orphan row counts
        assert db_gauges.prune_summaries() == 2
        assert not TenantMetrics.objects.filter(tenant_id__in=[committed_tenant.pk, 10**12]).exists()
        assert committed_tenant.schema_name not in db_gauges.refresh_all().refreshed
    finally:
        Tenant.objects.filter(pk=committed_tenant.pk).update(status=TenantStatus.ACTIVE)


def test_ages_are_computed_when_collected_not_when_refreshed(committed_tenant: Tenant) -> None:
    from apps.events.models import Delivery
    from apps.events.services import publish
    from apps.events.webhooks import endpoint_create

    use_tenant(committed_tenant)
    endpoint_create(url="https://receiver.example.com/hooks", event_types=["*"])
    with transaction.atomic():
        publish("account.created", "acc-1", {"account": "acc-1"})
    created = timezone.now() - dt.timedelta(hours=2)
    Delivery.objects.update(created_at=created)
    use_public_schema()
    db_gauges.refresh_all()
    snapshot = db_gauges.read()
    now = time.time()
    [(_tenant, _l1, _l2, _value, count, age)] = snapshot.rows("outbox", now=now)
    assert count >= 1
    assert age == pytest.approx(now - created.timestamp(), abs=0.01)
    # The same stored timestamp, read later: the age has grown without a refresh.
    assert snapshot.rows("outbox", now=now + 600)[0][5] == pytest.approx(age + 600, abs=0.01)


@pytest.mark.usefixtures("notice_drain_held")
def test_unrecorded_notices_are_counted_until_the_drain_records_them(committed_tenant: Tenant) -> None:
    from apps.accounts.services import account_suspend
    from apps.notifications.outbox import drain_all

    use_tenant(committed_tenant)
    drain_all()  # whatever the tenant's set-up left
    account_suspend(account=AccountFactory(), reason="unpaid")  # committed; no worker drains it here
    use_public_schema()
    db_gauges.refresh_all()
    [(_tenant, _l1, _l2, _value, count, age)] = db_gauges.read().rows("notices", now=time.time())
    assert (count, age > 0) == (1, True)
    use_tenant(committed_tenant)
    assert drain_all() == (1, False)
    use_public_schema()
    db_gauges.refresh_all()
    assert db_gauges.read().rows("notices", now=time.time())[0][4:] == (0, 0.0)


def test_a_section_whose_table_does_not_exist_yet_is_left_out(committed_tenant: Tenant) -> None:
    def emit(rows):
        assert rows == []
        return iter(())

    section = Section(
        name="future", requires=("future_table.status",), sql="SELECT broken FROM {schema}.future_table", emit=emit
    )
    db_gauges.register_section(section)
    try:
        use_public_schema()
        assert db_gauges.refresh_all().failed == []
        assert db_gauges.read().sums["future"] == {}
        list(DatabaseGaugeCollector(ttl_seconds=0).collect())
    finally:
        db_gauges._sections.pop("future")


def test_accounts_and_the_summary_freshness_are_exposed(committed_tenant: Tenant) -> None:
    use_tenant(committed_tenant)
    AccountFactory()
    use_public_schema()
    TenantMetrics.objects.all().delete()
    collector = DatabaseGaugeCollector(ttl_seconds=0)
    families = {family.name: family for family in collector.collect()}
    # Nothing refreshed yet: no tenant covered, the age counts from the oldest tenant's creation.
    assert families["billing_tenants"].samples[0].value == 0
    oldest_created = Tenant.objects.exclude(schema_name="public").order_by("created_at").first()
    assert families["billing_db_gauges_age_seconds"].samples[0].value == pytest.approx(
        time.time() - oldest_created.created_at.timestamp(), abs=5
    )
    db_gauges.refresh_all()
    families = {family.name: family for family in collector.collect()}
    active = sum(s.value for s in families["billing_accounts"].samples if s.labels["status"] == "active")
    assert active >= 1
    assert families["billing_db_gauges_age_seconds"].samples[0].value < 60
    assert families["billing_tenants"].samples[0].value == families["billing_tenants_active"].samples[0].value >= 3
    refreshed = families["billing_metrics_refreshed_timestamp_seconds"].samples[0].value
    assert abs(refreshed - time.time()) < 60
    assert families["billing_db_gauges_refresh_seconds"].samples[0].value > 0


def test_beat_refreshes_every_tenant_through_the_worker(committed_tenant: Tenant, celery_worker: Any) -> None:
    from apps.tenants.tasks import refresh_metrics_summaries
    from billing_project.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["metrics.refresh-summaries"]
    assert entry["task"] == refresh_metrics_summaries.name
    assert entry["options"]["queue"] in {queue.name for queue in app.conf.task_queues}
    use_public_schema()
    TenantMetrics.objects.all().delete()
    started = timezone.now()
    # What beat runs: prune, then one batch task per METRICS_REFRESH_BATCH_SIZE tenants.
    assert refresh_metrics_summaries() >= 1
    schemas = set(db_gauges.active_schemas())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = set(
            TenantMetrics.objects.filter(refreshed_at__gte=started).values_list("tenant__schema_name", flat=True)
        )
        if done >= schemas:
            break
        time.sleep(0.1)
    assert done >= schemas


def test_with_the_tenant_label_each_tenant_has_its_own_series(committed_tenant: Tenant, monkeypatch) -> None:
    # METRICS_TENANT_LABEL=all is read at import time; the module's flag is what it sets.
    monkeypatch.setattr(db_gauges, "TENANT_LABEL_ENABLED", True)
    use_tenant(committed_tenant)
    invoice = open_invoice(AccountFactory(currency="GHS"), "41.50")
    use_public_schema()
    move_due_date(invoice.id, committed_tenant.schema_name, 40)
    db_gauges.refresh_all()
    overdue = scraped(DatabaseGaugeCollector(ttl_seconds=0), "billing_overdue_amount")
    assert overdue[("GHS", "31-60", committed_tenant.schema_name)] == Decimal("41.5")
    assert all(len(labels) == 3 for labels in overdue)
