"""A dunning run reports its steps (via the committed events) and its end to Prometheus."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prometheus_client import REGISTRY

from apps.tenants.models import Tenant
from tests.dunning.helpers import overdue_account, run_inline

DUE = dt.date(2026, 3, 2)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_finished_run_counts_its_steps_and_its_success(
    in_tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    overdue_account(DUE)
    overdue_account(DUE)
    actions = sample("billing_dunning_actions_total", action="email_reminder", outcome="succeeded")
    runs = sample("billing_dunning_runs_total", outcome="succeeded")
    with django_capture_on_commit_callbacks(execute=True):
        run_inline(DUE + dt.timedelta(days=1))
    assert sample("billing_dunning_actions_total", action="email_reminder", outcome="succeeded") == actions + 2
    assert sample("billing_dunning_runs_total", outcome="succeeded") == runs + 1
    assert sample("billing_dunning_last_run_success_timestamp_seconds") > 0
