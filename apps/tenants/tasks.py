"""Public-schema housekeeping of the tenants app (beat runs these in the public schema)."""

from __future__ import annotations

from celery import shared_task

from apps.tenants.services import idempotency_records_prune


@shared_task(name="apps.tenants.tasks.prune_idempotency_records")
def prune_idempotency_records() -> int:
    """Delete stored idempotent responses past their retention (hourly)."""
    return idempotency_records_prune()
