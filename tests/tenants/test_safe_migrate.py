"""safe_migrate over a fleet of 8 committed tenants (alpha, beta, mt0..mt5), on real PostgreSQL.

The issue's acceptance runs 50 tenants; the same paths run here with 8 (parallel 4) to keep the
suite fast on a 2-core box. `bench/migrations.py` runs the big fleets (200 by default).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from apps.core.tenancy import use_public_schema
from apps.tenants.migrating.drift import canonical
from apps.tenants.migrating.lock import MIGRATION_LOCK_KEY, migration_lock
from apps.tenants.migrating.metrics import MigrationRunCollector
from apps.tenants.models import MigrationRun, MigrationTenantResult, Tenant
from apps.tenants.services import tenant_create
from tests.tenants.migration_support import (
    BAD_TENANT,
    FLEET,
    METER,
    connect,
    constraint_names,
    drop_fixture,
    fixture_migrations,
    holding,
    index_names,
    manage,
    reset_fixture,
    row_counts,
    schema_only_dump,
    sql,
    start,
)

ALL_TENANTS = ["alpha", "beta", *FLEET]


@pytest.fixture(scope="module")
def fleet(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> Iterator[list[str]]:
    """Eight more committed tenants, the fixture app at 0001 everywhere, readings in each; dropped after."""
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        use_public_schema()
        for slug in FLEET:
            tenant_create(slug=slug, name=f"Fleet {slug}")
        installed = manage("migrate_schemas", "migration_fixture", "0001", "--noinput", "-v", "0")
        assert installed.returncode == 0, installed.stderr
        for slug in ALL_TENANTS:
            sql(f"INSERT INTO \"{slug}\".{METER} (reading, note) VALUES (1, 'a'), (2, 'b'), (3, 'c')")
        sql(f"INSERT INTO \"{BAD_TENANT}\".{METER} (reading, note) VALUES (-1, 'meter ran backwards')")
    yield FLEET
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        drop_fixture()
        use_public_schema()
        for tenant in Tenant.objects.filter(schema_name__in=[*FLEET, "mtlate", "mtnew"]):
            tenant.delete(force_drop=True)


@pytest.fixture
def unblocked(fleet: list[str], django_db_blocker: pytest.FixtureRequest) -> Iterator[None]:
    """Database access in autocommit (the commands under test run in other processes); the fixture
    app back at 0001 everywhere afterwards, whatever the test did."""
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        use_public_schema()
        try:
            yield
        finally:
            use_public_schema()
            reset_fixture()


def run_id(output: str) -> int:
    match = re.search(r"^Run (\d+):", output, re.MULTILINE)
    assert match, output
    return int(match.group(1))


def test_a_tenant_whose_data_breaks_the_migration_is_rolled_back_while_the_others_migrate_in_parallel(
    unblocked: None, tmp_path: Path
) -> None:
    before = {"migrations": fixture_migrations(BAD_TENANT), "rows": row_counts(BAD_TENANT)}
    before_dump = schema_only_dump(BAD_TENANT)

    done = manage("safe_migrate", "--parallel", "4", "--backup-dir", str(tmp_path))

    assert done.returncode == 1, done.stdout + done.stderr
    assert f"1 schema(s) failed: {BAD_TENANT}" in done.stderr
    assert f"FAILED {BAD_TENANT}: migration_fixture.0002_reading_not_negative: IntegrityError" in done.stdout
    assert fixture_migrations(BAD_TENANT) == before["migrations"] == ["0001_initial"]
    assert row_counts(BAD_TENANT) == before["rows"]
    assert "meter_reading_not_negative" not in constraint_names(BAD_TENANT)
    for slug in ALL_TENANTS:
        if slug != BAD_TENANT:
            assert fixture_migrations(slug) == ["0001_initial", "0002_reading_not_negative"], slug
            assert "meter_reading_not_negative" in constraint_names(slug)
    check = manage("migrate_schemas", "--check", "-s", "mt0")
    assert check.returncode == 0, check.stdout + check.stderr

    run = MigrationRun.objects.get(pk=run_id(done.stdout))
    assert (run.status, run.parallel, run.schemas_total, run.schemas_failed) == ("failed", 4, 10, 1)
    results = {result.schema_name: result for result in MigrationTenantResult.objects.filter(run=run)}
    assert set(results) == {"public", "tenant_template", *ALL_TENANTS}
    bad = results[BAD_TENANT]
    assert (bad.status, bad.restored, bad.attempts) == ("failed", "rollback", 1)
    assert "violated by some row" in bad.error
    assert bad.versions_before == bad.versions_after
    assert bad.versions_after["migration_fixture"] == "0001_initial"
    assert Path(bad.backup_path) == tmp_path / Path(run.backup_dir).name / f"{BAD_TENANT}.dump"
    assert {results[slug].status for slug in ALL_TENANTS if slug != BAD_TENANT} == {"migrated"}
    assert results["mt0"].versions_after["migration_fixture"] == "0002_reading_not_negative"

    registry = CollectorRegistry()
    registry.register(MigrationRunCollector())
    scrape = generate_latest(registry).decode()
    assert "billing_migration_last_run_schemas_failed 1.0" in scrape
    assert "billing_migration_last_run_success 0.0" in scrape

    # ... and the tenant is one command from its backup, identical.
    restored = manage("restore_tenant", BAD_TENANT, "--run", str(run.pk), "--yes")
    assert restored.returncode == 0, restored.stderr
    assert_same_schema(schema_only_dump(BAD_TENANT), before_dump)
    assert row_counts(BAD_TENANT) == before["rows"]
    assert MigrationRun.objects.filter(kind="restore", results__schema_name=BAD_TENANT).exists()


def test_a_second_run_exits_at_once_while_the_lock_is_held_or_waits_for_it_with_wait(unblocked: None) -> None:
    with migration_lock(wait=False, application_name="test deploy"):
        refused = manage("safe_migrate", "--tenant", "mt0")
        assert refused.returncode == 3
        assert "migration lock held by pid" in refused.stderr
        assert "test deploy" in refused.stderr

        waiting = start("safe_migrate", "--tenant", "mt0", "--wait")
        wait_until(lambda: advisory_waiters("ExclusiveLock") == 1, "safe_migrate --wait to queue for the lock")
        assert waiting.poll() is None
    stdout, stderr = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, stdout + stderr
    assert "waiting for it (--wait)" in stdout


def test_creating_a_tenant_waits_for_a_running_deploy(unblocked: None) -> None:
    created: list[str] = []

    def create() -> None:
        from django.db import connections

        try:
            created.append(tenant_create(slug="mtlate", name="Late").schema_name)
        finally:
            connections.close_all()

    with migration_lock(wait=False, application_name="test deploy"):
        creator = threading.Thread(target=create)
        creator.start()
        wait_until(lambda: advisory_waiters("ShareLock") == 1, "tenant_create to queue for the lock")
        assert creator.is_alive() and created == []
    creator.join(timeout=60)
    assert created == ["mtlate"]
    Tenant.objects.get(schema_name="mtlate").delete(force_drop=True)


def test_a_lock_held_by_a_long_transaction_times_out_is_retried_and_reported_without_hanging(unblocked: None) -> None:
    worst_read = 0.0
    with holding(f'LOCK TABLE "mt3".{METER} IN ACCESS SHARE MODE'), connect() as reader:
        deploy = start(
            "safe_migrate", "--tenant", "mt3", "--tenant", "mt0", "--lock-timeout", "0.5", "--lock-retries", "2"
        )
        deadline = time.monotonic() + 120
        while deploy.poll() is None and time.monotonic() < deadline:
            began = time.monotonic()
            reader.execute(f'SELECT count(*) FROM "mt3".{METER}')  # traffic meanwhile
            worst_read = max(worst_read, time.monotonic() - began)
        stdout, stderr = deploy.communicate(timeout=10)
    assert deploy.returncode == 1, stdout + stderr
    assert "1 schema(s) failed: mt3" in stderr
    assert "FAILED mt3: lock timeout (500 ms) on each of 3 attempts" in stdout
    result = MigrationTenantResult.objects.get(run_id=run_id(stdout), schema_name="mt3")
    assert (result.status, result.attempts, result.restored) == ("failed", 3, "rollback")
    # three 0.5 s waits and two short back-offs (0.5 s, 1 s), plus the backups: about 4 s on a
    # quiet machine; the bound only proves it never hangs on the lock (held for the whole test),
    # with room for a loaded CI box.
    assert result.duration_seconds < 30
    assert worst_read < 0.5 + 1.5
    assert fixture_migrations("mt3") == ["0001_initial"]
    assert fixture_migrations("mt0") == ["0001_initial", "0002_reading_not_negative"]


def test_unsafe_operations_are_refused_without_a_reason_and_the_reason_is_recorded(
    unblocked: None, tmp_path: Path
) -> None:
    refused = manage("safe_migrate", "--tenant", "mt0", "--backup-dir", str(tmp_path), fixture_set="unsafe")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "(add-not-null-column)" in refused.stdout
    assert "(non-concurrent-index)" in refused.stdout
    assert "--allow-unsafe" in refused.stderr
    assert fixture_migrations("mt0") == fixture_migrations("tenant_template") == ["0001_initial"]
    assert list(tmp_path.iterdir()) == []
    refusal = MigrationRun.objects.filter(status="refused").latest("id")
    assert {finding["code"] for finding in refusal.lint_findings} == {"add-not-null-column", "non-concurrent-index"}

    reason = "meters hold a handful of rows; nothing inserts them yet"
    allowed = manage("safe_migrate", "--tenant", "mt0", "--allow-unsafe", reason, fixture_set="unsafe")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    run = MigrationRun.objects.get(pk=run_id(allowed.stdout))
    assert (run.status, run.allow_unsafe_reason) == ("succeeded", reason)
    assert "meter_reading_idx" in index_names("mt0")


def test_a_dry_run_prints_the_plan_and_changes_nothing(unblocked: None, tmp_path: Path) -> None:
    rows_before = sql("SELECT count(*) FROM mt0.django_migrations")
    done = manage("safe_migrate", "--dry-run", "--parallel", "4", "--backup-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "8 tenant(s) 1 to apply: migration_fixture.0002_reading_not_negative" in done.stdout
    assert "(check-constraint-scan)" in done.stdout
    assert "Order: public, tenant_template, then 8 tenant(s) in migration order" in done.stdout
    assert "Dry run: nothing changed." in done.stdout
    assert sql("SELECT count(*) FROM mt0.django_migrations") == rows_before
    assert fixture_migrations("tenant_template") == ["0001_initial"]
    assert list(tmp_path.iterdir()) == []


def test_a_non_atomic_migration_that_fails_halfway_is_restored_from_its_backup(unblocked: None) -> None:
    rows_before = row_counts(BAD_TENANT)
    done = manage("safe_migrate", "--tenant", BAD_TENANT, "--tenant", "mt1", fixture_set="nonatomic")
    assert done.returncode == 1, done.stdout + done.stderr
    result = MigrationTenantResult.objects.get(run_id=run_id(done.stdout), schema_name=BAD_TENANT)
    assert (result.status, result.restored) == ("failed", "backup")
    # The concurrent index was committed before the constraint failed; the restore removed it.
    assert "meter_reading_idx" not in index_names(BAD_TENANT)
    assert fixture_migrations(BAD_TENANT) == ["0001_initial"]
    assert row_counts(BAD_TENANT) == rows_before
    assert {"meter_reading_idx"} <= index_names("mt1")
    assert "meter_reading_not_negative" in constraint_names("mt1")


def test_a_data_migration_that_loses_rows_without_saying_so_fails_validation(unblocked: None) -> None:
    done = manage(
        "safe_migrate", "--tenant", BAD_TENANT, "--tenant", "mt2", "--backups", "non-atomic", fixture_set="rowloss"
    )
    assert done.returncode == 1, done.stdout + done.stderr
    result = MigrationTenantResult.objects.get(run_id=run_id(done.stdout), schema_name=BAD_TENANT)
    assert (result.restored, result.backup_path) == ("rollback", "")  # atomic: no dump asked for, none taken
    assert f"FAILED {BAD_TENANT}: ValidationFailed: validation: row counts changed: {METER} 4 -> 3" in done.stdout
    assert row_counts(BAD_TENANT)[METER] == 4
    assert fixture_migrations(BAD_TENANT) == ["0001_initial"]
    assert fixture_migrations("mt2") == ["0001_initial", "0002_drop_negative_readings"]


def test_a_tenant_is_reversed_to_an_earlier_migration_on_request(unblocked: None) -> None:
    forward = manage("safe_migrate", "--tenant", "mt1")
    assert forward.returncode == 0, forward.stderr
    back = manage("safe_migrate", "--tenant", "mt1", "--to", "migration_fixture", "0001")
    assert back.returncode == 0, back.stdout + back.stderr
    assert fixture_migrations("mt1") == ["0001_initial"]
    assert "meter_reading_not_negative" not in constraint_names("mt1")
    run = MigrationRun.objects.get(pk=run_id(back.stdout))
    assert (run.kind, run.target, run.status) == ("reverse", "migration_fixture 0001_initial", "succeeded")
    assert fixture_migrations("tenant_template") == ["0001_initial", "0002_reading_not_negative"]


def test_the_template_is_migrated_and_a_tenant_created_after_the_deploy_has_no_drift(unblocked: None) -> None:
    deploy = manage("safe_migrate", "--tenant", "mt0")
    assert deploy.returncode == 0, deploy.stderr
    assert fixture_migrations("tenant_template") == ["0001_initial", "0002_reading_not_negative"]
    created = manage(
        "provision_tenant", "mtnew", "--name", "New", "--staff-email", "a@new.test", "--staff-password", "x-9-long-pw"
    )
    assert created.returncode == 0, created.stderr
    status = manage("migration_status", "--format", "json", "--tenant", "mtnew")
    import json

    document = json.loads(status.stdout)
    (new,) = [schema for schema in document["schemas"] if schema["schema"] == "mtnew"]
    assert (new["pending"], new["drift"], new["drift_checked"]) == ([], [], True)
    assert "meter_reading_not_negative" in constraint_names("mtnew")
    Tenant.objects.get(schema_name="mtnew").delete(force_drop=True)


def assert_same_schema(restored: str, original: str) -> None:
    """The dumps match line for line, but for two ways PostgreSQL prints the same thing differently.

    - A restore re-parses each CHECK expression and partial-index predicate, and some print back
      with their casts moved:
      `ANY ((ARRAY['a'::varchar])::text[])` becomes `ANY (ARRAY[('a'::varchar)::text])`.
    - django-tenants' clone gives an integer identity column a sequence with an explicit
      `MAXVALUE 2147483647`; restored, the sequence takes the column's type, whose maximum that
      is, and prints `NO MAXVALUE`.
    """
    restored_lines, original_lines = restored.splitlines(), original.splitlines()
    assert len(restored_lines) == len(original_lines)
    for after, before in zip(restored_lines, original_lines, strict=True):
        if after == before:
            continue
        if "CHECK" in before or " WHERE " in before:  # CHECK constraints and partial indexes
            assert canonical(after) == canonical(before), (before, after)
        else:
            assert (before.strip(), after.strip()) == ("MAXVALUE 2147483647", "NO MAXVALUE"), (before, after)


def advisory_waiters(mode: str) -> int:
    """Sessions queued (not yet granted) for the deploy lock in `mode`."""
    return sql(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND mode = %s "
        "AND classid = %s AND objid = %s",
        [mode, MIGRATION_LOCK_KEY >> 32, MIGRATION_LOCK_KEY & 0xFFFFFFFF],
    )[0][0]


def wait_until(condition: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
