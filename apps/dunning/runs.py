"""A tenant's dunning run for a day: candidates split into chunks, one task per chunk.

Beat (hourly, every tenant) and `manage.py dunning_run` both start runs with `run_start`;
the chunks run on the `dunning` queue (`tasks.process_chunk` -> `chunk_process`). A chunk is
marked done in the same transaction as its work, so a chunk whose worker died is simply
done again (its message is redelivered: acks_late), and the waiter counts done chunks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from apps.core import metrics
from apps.core.tenancy import tenant_today
from apps.dunning.charging import dunning_charge_settle, pending_charges_for
from apps.dunning.engine import ChunkResult, chunk_with_fallback
from apps.dunning.models import CaseStatus, DunningCase, DunningRun, DunningRunChunk, Outcome
from apps.dunning.policies import PolicyBook
from apps.invoices.models import Invoice, InvoiceStatus


def chunk_size() -> int:
    return int(getattr(settings, "DUNNING_CHUNK_SIZE", 300))


def candidate_account_ids(as_of: dt.date) -> list[Any]:
    """Accounts that may have a step due: something open due within the longest pre-due window,
    an open (not paused) case, or a retry charge still pending."""
    horizon = as_of + dt.timedelta(days=PolicyBook(account_ids=[]).max_lead_days)
    owing = Invoice.objects.filter(status=InvoiceStatus.OPEN, amount_due__gt=0, due_date__lte=horizon).values(
        "account_id"
    )
    with_case = DunningCase.objects.filter(
        Q(status__in=(CaseStatus.ACTIVE, CaseStatus.SUSPENDED)) | Q(actions__outcome=Outcome.PENDING)
    ).values("account_id")
    ids = set(owing.values_list("account_id", flat=True)) | set(with_case.values_list("account_id", flat=True))
    return sorted(ids, key=str)


def run_start(*, as_of: dt.date | None = None, enqueue: bool = True, skip_if_done: bool = False) -> DunningRun | None:
    """Plan the tenant's run for `as_of` (default: the tenant's today) and enqueue its chunks after commit.

    With `skip_if_done` (beat), a day already run, or being run for less than an hour, is not
    run again; repeating it would be harmless (exactly once per step) but wasted work.
    """
    as_of = as_of or tenant_today()
    with transaction.atomic():
        if skip_if_done:
            recent = timezone.now() - dt.timedelta(hours=1)
            if (
                DunningRun.objects.filter(as_of=as_of, dry_run=False)
                .filter(Q(finished_at__isnull=False) | Q(started_at__gte=recent))
                .exists()
            ):
                return None
        ids = candidate_account_ids(as_of)
        size = chunk_size()
        batches = [ids[i : i + size] for i in range(0, len(ids), size)]
        run = DunningRun.objects.create(as_of=as_of, chunks_total=len(batches))
        DunningRunChunk.objects.bulk_create(
            [
                DunningRunChunk(run=run, index=n, account_ids=[str(pk) for pk in batch])
                for n, batch in enumerate(batches)
            ]
        )
        if not batches:
            run.finished_at = timezone.now()
            run.save(update_fields=["finished_at"])
            transaction.on_commit(lambda: metrics.observe_dunning_run(succeeded=True))
        elif enqueue:
            chunk_ids = list(run.chunks.order_by("index").values_list("pk", flat=True))
            transaction.on_commit(lambda: _enqueue(chunk_ids))
    return run


def _enqueue(chunk_ids: list[int]) -> None:
    from apps.dunning.tasks import process_chunk

    for chunk_id in chunk_ids:
        process_chunk.delay(chunk_id)


def chunk_process(*, chunk_id: int) -> dict[str, Any]:
    """Do one chunk's work (idempotent: a done chunk is not done again), then settle its charges."""
    with transaction.atomic():
        chunk = DunningRunChunk.objects.select_for_update().select_related("run").get(pk=chunk_id)
        if chunk.done_at is not None:
            return dict(chunk.result)
        newer = DunningRun.objects.filter(as_of__gt=chunk.run.as_of, dry_run=False, finished_at__isnull=False)
        if newer.exists():
            result: dict[str, Any] = {"superseded": True}
        else:
            outcome = chunk_with_fallback(account_ids=list(chunk.account_ids), as_of=chunk.run.as_of)
            result = outcome.as_json()
        chunk.done_at = timezone.now()
        chunk.result = result
        chunk.save(update_fields=["done_at", "result"])
    # After commit: charges for this chunk's retry steps, and any an earlier run left pending.
    for action_id in pending_charges_for(list(chunk.account_ids)):
        dunning_charge_settle(action_id=action_id)
    run_finish_if_complete(run_id=chunk.run_id)
    return result


def run_finish_if_complete(*, run_id: Any) -> bool:
    """Stamp the run finished (with its summary) once every chunk is done."""
    if DunningRunChunk.objects.filter(run_id=run_id, done_at__isnull=True).exists():
        return False
    with transaction.atomic():
        run = DunningRun.objects.select_for_update().get(pk=run_id)
        if run.finished_at is None:
            run.summary = run_summary(run).as_json()
            run.finished_at = timezone.now()
            run.save(update_fields=["summary", "finished_at"])
            transaction.on_commit(lambda: metrics.observe_dunning_run(succeeded=True))
    return True


def run_summary(run: DunningRun) -> ChunkResult:
    total = ChunkResult()
    for result in run.chunks.values_list("result", flat=True):
        total.merge_json(result or {})
    return total


def run_progress(run_id: Any) -> tuple[int, int]:
    """(chunks done, chunks in all), in one query."""
    counts = DunningRunChunk.objects.filter(run_id=run_id).aggregate(
        done=Count("pk", filter=Q(done_at__isnull=False)), total=Count("pk")
    )
    return int(counts["done"]), int(counts["total"])


def run_dry(*, as_of: dt.date | None = None, progress: Callable[[int, int], None] | None = None) -> ChunkResult:
    """What a run would do today, computed by the same code and rolled back (no charge is made)."""
    as_of = as_of or tenant_today()
    ids = candidate_account_ids(as_of)
    size = chunk_size()
    total = ChunkResult()
    batches = [ids[i : i + size] for i in range(0, len(ids), size)]
    for n, batch in enumerate(batches):
        try:
            with transaction.atomic():
                total.merge_json(chunk_with_fallback(account_ids=batch, as_of=as_of, dry_run=True).as_json())
                raise _Rollback
        except _Rollback:
            pass
        if progress is not None:
            progress(n + 1, len(batches))
    return total


class _Rollback(Exception):
    """Undo a dry run's chunk."""
