"""Exactly once per (case, step) when runs overlap on real parallel connections, and when a
worker is SIGKILLed in the middle of a run."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from django.db.models import Count

from apps.core.tenancy import use_tenant
from apps.dunning.engine import ChunkResult
from apps.dunning.models import DunningAction, DunningCase, DunningRun, DunningRunChunk
from apps.dunning.runs import run_progress, run_start
from apps.events.models import Event
from apps.notifications.models import Notification
from apps.tenants.models import Tenant
from bench.dunning import seed_overdue_accounts
from tests.dunning.helpers import assert_one_notification_per_notice, run_inline
from tests.payments.test_concurrency import race

DUE = dt.date(2026, 3, 2)


def assert_exactly_once(account_ids: list[Any], *, steps_per_case: int = 1) -> None:
    cases = Counter(DunningCase.objects.filter(account_id__in=account_ids).values_list("account_id", flat=True))
    assert set(cases) == set(account_ids)
    assert set(cases.values()) == {1}
    per_case = DunningAction.objects.values("case_id").annotate(n=Count("pk"))
    assert {row["n"] for row in per_case} == {steps_per_case}
    for event_type in ("dunning.started", "dunning.step_executed", "invoice.overdue"):
        subjects = Counter(Event.objects.filter(type=event_type).values_list("subject", flat=True))
        assert len(subjects) == len(account_ids), event_type
        assert set(subjects.values()) == {1}, event_type
    # No duplicate notice either: one Notification per (case, step), keyed dunning:{case}:{step}.
    actions = DunningAction.objects.filter(case__account_id__in=account_ids)
    assert_one_notification_per_notice(actions)
    assert Notification.objects.filter(kind="dunning_reminder").count() == len(account_ids) * steps_per_case


def test_two_overlapping_runs_take_each_step_once(committed_tenant: Tenant, settings: Any) -> None:
    settings.DUNNING_CHUNK_SIZE = 7
    use_tenant(committed_tenant)
    account_ids = seed_overdue_accounts(40, due=DUE)

    outcomes = race(committed_tenant, 2, lambda: run_inline(DUE + dt.timedelta(days=1)))

    use_tenant(committed_tenant)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert sum(sum(o.actions.values()) for o in outcomes if isinstance(o, ChunkResult)) == 40
    assert_exactly_once(account_ids)


def test_a_worker_killed_mid_run_then_a_new_run_executes_each_step_once(
    committed_tenant: Tenant, settings: Any, start_worker: Any
) -> None:
    from tests.dunning.conftest import wait_for

    settings.DUNNING_CHUNK_SIZE = 4
    use_tenant(committed_tenant)
    account_ids = seed_overdue_accounts(240, due=DUE)
    doomed = start_worker("dunning-doomed")
    first = run_start(as_of=DUE + dt.timedelta(days=1))
    assert first is not None
    wait_for(lambda: run_progress(first.pk)[0] >= 2, what="the first chunks")
    doomed.kill()
    done, total = run_progress(first.pk)
    assert done < total, "the run finished before the worker was killed: nothing was tested"

    start_worker("dunning-survivor")
    second = run_start(as_of=DUE + dt.timedelta(days=1))
    assert second is not None
    wait_for(lambda: DunningRun.objects.get(pk=second.pk).finished_at, what="the second run")

    assert DunningRunChunk.objects.filter(run=first, done_at__isnull=True).exists()
    assert_exactly_once(account_ids)
