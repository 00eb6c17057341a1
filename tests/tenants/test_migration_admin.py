"""Migration runs in the operators' admin: listed, filterable, opened, never edited."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from apps.core.tenancy import use_public_schema
from apps.tenants.migrating import records
from apps.tenants.migrating.schema_job import SchemaOutcome
from apps.tenants.models import MigrationRun
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def a_failed_run() -> MigrationRun:
    use_public_schema()
    run = records.migration_run_start(parallel=4, allow_unsafe_reason="tiny table")
    now = timezone.now()
    for schema, status, error in [("acme", "migrated", ""), ("globex", "failed", "IntegrityError: check constraint")]:
        records.migration_result_record(
            run=run,
            outcome=SchemaOutcome(
                schema,
                "tenant",
                status,
                now,
                now,
                duration_seconds=0.5,
                attempts=1,
                restored="rollback" if error else "",
                error=error,
            ),
        )
    return records.migration_run_finish(run=run)


def operator() -> Client:
    use_public_schema()
    get_user_model().objects.create_superuser("ops", "ops@platform.test", PASSWORD)
    client = Client(HTTP_HOST="localhost")
    client.login(username="ops", password=PASSWORD)
    return client


def test_a_run_is_recorded_with_its_totals_and_shown_read_only_to_operators() -> None:
    run = a_failed_run()
    assert (run.status, run.schemas_total, run.schemas_failed) == ("failed", 2, 1)
    client = operator()

    listing = client.get("/admin/tenants/migrationrun/?status__exact=failed")
    assert listing.status_code == 200
    assert f">{run.pk}<" in listing.content.decode()

    page = client.get(f"/admin/tenants/migrationrun/{run.pk}/change/")
    assert page.status_code == 200
    assert "IntegrityError: check constraint" in page.content.decode()
    assert "tiny table" in page.content.decode()
    assert b'name="_save"' not in page.content

    results = client.get("/admin/tenants/migrationtenantresult/?status__exact=failed")
    assert results.status_code == 200
    assert "globex" in results.content.decode() and "acme" not in results.content.decode()

    assert client.get("/admin/tenants/migrationrun/add/").status_code == 403
    assert client.post(f"/admin/tenants/migrationrun/{run.pk}/delete/", {"post": "yes"}).status_code == 403
    assert MigrationRun.objects.filter(pk=run.pk).exists()
