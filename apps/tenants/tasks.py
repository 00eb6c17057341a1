"""Public-schema housekeeping of the tenants app (beat runs these in the public schema)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from apps.tenants.services import idempotency_records_prune


@shared_task(name="apps.tenants.tasks.prune_idempotency_records")
def prune_idempotency_records() -> int:
    """Delete stored idempotent responses past their retention (hourly)."""
    return idempotency_records_prune()


@shared_task(name="apps.tenants.tasks.refresh_metrics_summaries", ignore_result=True)
def refresh_metrics_summaries() -> int:
    """Beat, every METRICS_REFRESH_SECONDS: refresh the /metrics summary of every active tenant.

    Deletes the rows of tenants no longer active, then fans out one batch task per
    METRICS_REFRESH_BATCH_SIZE tenants (the `default` queue), so one slow schema delays only its
    batch. A batch not started within one period expires: the next period's replaces it instead
    of piling up behind it. Returns the number of batches enqueued.
    """
    from billing_project.observability.db_gauges import active_schemas, prune_summaries

    prune_summaries()
    schemas = active_schemas()
    size = max(1, settings.METRICS_REFRESH_BATCH_SIZE)
    batches = 0
    for start in range(0, len(schemas), size):
        refresh_metrics_summary_batch.apply_async(
            args=[schemas[start : start + size]], expires=settings.METRICS_REFRESH_SECONDS
        )
        batches += 1
    return batches


@shared_task(name="apps.tenants.tasks.refresh_metrics_summary_batch", ignore_result=True)
def refresh_metrics_summary_batch(schemas: list[str]) -> int:
    """Refresh these tenants' summary rows: one statement each (schema-qualified, run from public)."""
    from billing_project.observability.db_gauges import refresh_tenants

    return len(refresh_tenants(schemas).refreshed)
