"""Celery tasks run in the schema of the tenant that enqueued them, with a real worker."""

from __future__ import annotations

import subprocess

import pytest
from django_tenants.utils import schema_context

from apps.core.tasks import TenantRequired, tenant_ping
from apps.core.tenancy import current_schema, use_public_schema
from apps.tenants.fanout import enqueue_for_tenants

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_each_task_runs_in_its_enqueuing_tenant_even_when_the_worker_last_served_another(
    celery_worker: subprocess.Popen[bytes],
) -> None:
    results = []
    for index in range(8):
        schema = "alpha" if index % 2 == 0 else "beta"
        with schema_context(schema):
            results.append((schema, tenant_ping.delay(f"call-{index}")))
    for index, (schema, result) in enumerate(results):
        assert result.get(timeout=60) == {"schema": schema, "token": f"call-{index}"}


def test_a_tenant_task_enqueued_from_the_public_schema_is_refused_loudly() -> None:
    use_public_schema()
    with pytest.raises(TenantRequired, match="must be enqueued inside a tenant"):
        tenant_ping.delay("nowhere")


def test_a_tenant_task_run_in_the_public_schema_refuses_to_run() -> None:
    use_public_schema()
    with pytest.raises(TenantRequired, match="refused to run in the public schema"):
        tenant_ping("direct")


def test_the_beat_fan_out_enqueues_one_task_per_active_tenant(celery_worker: subprocess.Popen[bytes]) -> None:
    use_public_schema()
    sent: list[str] = []

    class Recorder:
        name = "recorder"

        def apply_async(self, args: tuple, kwargs: dict) -> None:
            sent.append(current_schema())

    assert enqueue_for_tenants(Recorder()) == len(sent)
    assert {"alpha", "beta"} <= set(sent)
    assert "public" not in sent


def test_one_worker_process_switches_schema_for_every_task_it_runs() -> None:
    """The same process serving alpha, then beta, then alpha runs each in its own schema."""
    answers = []
    for schema in ["alpha", "beta", "alpha", "beta"]:
        use_public_schema()  # as a worker between tasks: the message header alone names the tenant
        message = tenant_ping.apply(args=[schema], headers={"_schema_name": schema})
        answers.append(message.get()["schema"])
    assert answers == ["alpha", "beta", "alpha", "beta"]
