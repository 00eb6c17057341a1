"""Thin Celery wrappers: beat's hourly fan-out, a tenant's run, a chunk of accounts (queue `dunning`)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from apps.core import metrics
from apps.core.tasks import TenantBoundTask
from apps.dunning.runs import chunk_process, run_start
from apps.tenants.fanout import enqueue_for_tenants


@shared_task(name="apps.dunning.tasks.daily")
def daily() -> int:
    """Beat (public schema): start each active tenant's run; each tenant decides its own today."""
    return enqueue_for_tenants(tenant_run)


@shared_task(base=TenantBoundTask, name="apps.dunning.tasks.tenant_run")
def tenant_run() -> str:
    """Start this tenant's run for its today, unless today's already ran."""
    try:
        run = run_start(skip_if_done=True)
    except Exception:
        metrics.observe_dunning_run(succeeded=False)
        raise
    return str(run.pk) if run is not None else ""


@shared_task(base=TenantBoundTask, name="apps.dunning.tasks.process_chunk")
def process_chunk(chunk_id: int) -> dict[str, Any]:
    """One chunk of accounts (idempotent: safe to redeliver after a worker died)."""
    try:
        return chunk_process(chunk_id=chunk_id)
    except Exception:
        metrics.observe_dunning_run(succeeded=False)  # the run cannot finish until it is redone
        raise
