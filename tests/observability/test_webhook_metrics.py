"""Webhook deliveries are counted (delivered, failed, gave_up) after commit, with their latency
from the event's commit, and every POST as an outbound `webhook` call."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from prometheus_client import REGISTRY

from apps.events import delivery as sending
from apps.events.models import Delivery
from apps.events.services import publish
from apps.events.webhooks import endpoint_create
from apps.tenants.models import Tenant
from tests.events.receiver import Receiver


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def counts() -> dict[str, float]:
    return {
        "delivered": sample("billing_webhook_deliveries_total", outcome="delivered"),
        "failed": sample("billing_webhook_deliveries_total", outcome="failed"),
        "latency": sample("billing_event_delivery_latency_seconds_count"),
        "ok_calls": sample("billing_external_requests_total", service="webhook", outcome="success"),
        "5xx_calls": sample("billing_external_requests_total", service="webhook", outcome="server_error"),
    }


def test_delivery_attempts_and_their_latency_are_counted_after_commit(
    in_tenant_a: Tenant, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint = endpoint_create(url=receiver.url, event_types=["*"])
    with transaction.atomic():
        publish("account.created", "acc-1", {"account": "acc-1"})
    delivery = Delivery.objects.get(endpoint=endpoint)
    before = counts()
    receiver.script = [(503, {}, b"down")]
    with django_capture_on_commit_callbacks(execute=True):
        assert sending.deliver(delivery.id) == "failed"
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=delivery.created_at)
    with django_capture_on_commit_callbacks(execute=True):
        assert sending.deliver(delivery.id) == "delivered"
    after = counts()
    assert {key: after[key] - before[key] for key in after} == {
        "delivered": 1,
        "failed": 1,
        "latency": 1,
        "ok_calls": 1,
        "5xx_calls": 1,
    }
