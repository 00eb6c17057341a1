"""Delivery to a real receiver on 127.0.0.1: signing, retries, 4xx/5xx, Retry-After, 410, batch, rotation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from apps.events import delivery as sending
from apps.events.models import Delivery, DeliveryStatus, Event, WebhookEndpoint
from apps.events.services import publish, sequence_of
from apps.events.webhooks import deliveries_replay_failed, delivery_replay, endpoint_create, endpoint_rotate_secret
from apps.tenants.models import Tenant
from tests.events.receiver import Receiver

pytestmark = pytest.mark.django_db


def emit(event_type: str = "account.created", **data: Any) -> Event:
    with transaction.atomic():
        return publish(event_type, "acc-1", {"account": "acc-1", **data})


def only_delivery(endpoint: WebhookEndpoint) -> Delivery:
    return Delivery.objects.get(endpoint=endpoint)


def make_due(delivery: Delivery) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def test_a_delivery_is_signed_per_standard_webhooks_and_filtered_by_type(
    in_tenant_a: Tenant, receiver: Receiver
) -> None:
    accounts = endpoint_create(url=receiver.url, event_types=["account.*"])
    invoices = endpoint_create(url=receiver.url, event_types=["invoice.*"])
    event = emit()
    assert not Delivery.objects.filter(endpoint=invoices).exists()
    delivery = only_delivery(accounts)
    assert sending.deliver(delivery.id) == "delivered"
    [request] = receiver.received
    payload = Webhook(accounts.secret).verify(request.body, request.headers)
    assert payload == {
        "id": str(event.id),
        "type": "account.created",
        "tenant": "alpha",
        "sequence": sequence_of(event),
        "created_at": event.created_at.isoformat(),
        "api_version": "v1",
        "data": {"account": "acc-1"},
    }
    assert request.headers["webhook-id"] == delivery.message_id
    with pytest.raises(WebhookVerificationError):
        Webhook(invoices.secret).verify(request.body, request.headers)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == (DeliveryStatus.DELIVERED, 1)
    assert sending.deliver(delivery.id) == "skipped"  # delivered: never again
    assert len(receiver.received) == 1


def test_5xx_is_retried_on_the_schedule_with_the_same_webhook_id(in_tenant_a: Tenant, receiver: Receiver) -> None:
    endpoint = endpoint_create(url=receiver.url, event_types=["*"])
    emit()
    delivery = only_delivery(endpoint)
    receiver.script = [(503, {}, b"down for maintenance")]
    before = timezone.now()
    assert sending.deliver(delivery.id) == "failed"
    after = timezone.now()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.next_attempt_at is not None
    # 30 s after the attempt, up to 20 % longer
    assert before + timedelta(seconds=30) <= delivery.next_attempt_at <= after + timedelta(seconds=36)
    attempt = delivery.attempts.get()
    assert (attempt.status_code, attempt.response_snippet) == (503, "down for maintenance")
    assert sending.deliver(delivery.id) == "skipped"  # not due yet
    make_due(delivery)
    assert sending.deliver(delivery.id) == "delivered"
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery.message_id
    assert Webhook(endpoint.secret).verify(second.body, second.headers)["type"] == "account.created"


@pytest.mark.parametrize("status", [400, 401, 404, 422, 302])
def test_other_4xx_and_redirects_fail_without_retry(in_tenant_a: Tenant, receiver: Receiver, status: int) -> None:
    endpoint = endpoint_create(url=receiver.url, event_types=["*"])
    emit()
    receiver.script = [(status, {"location": "http://127.0.0.1:1/elsewhere"}, b"no")]
    delivery = only_delivery(endpoint)
    assert sending.deliver(delivery.id) == "failed"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.next_attempt_at, delivery.last_status_code) == (
        DeliveryStatus.FAILED,
        None,
        status,
    )
    assert len(receiver.received) == 1  # the redirect was not followed
    endpoint.refresh_from_db()
    assert endpoint.enabled


@pytest.mark.parametrize("status", [408, 429, 500, 502])
def test_retry_after_is_honoured_on_retryable_answers(in_tenant_a: Tenant, receiver: Receiver, status: int) -> None:
    endpoint = endpoint_create(url=receiver.url, event_types=["*"])
    emit()
    receiver.script = [(status, {"retry-after": "600"}, b"")]
    delivery = only_delivery(endpoint)
    before = timezone.now()
    sending.deliver(delivery.id)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.next_attempt_at is not None
    assert 599 <= (delivery.next_attempt_at - before).total_seconds() <= 610


def test_network_errors_are_retried(in_tenant_a: Tenant, receiver: Receiver) -> None:
    endpoint = endpoint_create(url=receiver.url, event_types=["*"])
    receiver.stop()  # nobody listens on the port
    emit()
    delivery = only_delivery(endpoint)
    assert sending.deliver(delivery.id) == "failed"
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.last_error.startswith("ConnectError")
    receiver.start()
    make_due(delivery)
    assert sending.deliver(delivery.id) == "delivered"
    assert receiver.received[0].headers["webhook-id"] == delivery.message_id


def test_410_gone_disables_the_endpoint_at_once_with_an_event(in_tenant_a: Tenant, receiver: Receiver) -> None:
    endpoint = endpoint_create(url=receiver.url, event_types=["account.*"])
    watcher = endpoint_create(url=receiver.url, event_types=["webhook_endpoint.disabled"])
    emit()
    receiver.script = [(410, {}, b"gone")]
    sending.deliver(only_delivery(endpoint).id)
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "410" in endpoint.disabled_reason
    disabled = Event.objects.get(type="webhook_endpoint.disabled")
    assert disabled.data["endpoint"] == str(endpoint.id)
    assert Delivery.objects.filter(endpoint=watcher, event=disabled).exists()
    emit()  # a disabled endpoint gets no new deliveries
    assert Delivery.objects.filter(endpoint=endpoint).count() == 1


def test_a_spent_schedule_fails_the_delivery_and_days_of_failure_disable_the_endpoint(
    in_tenant_a: Tenant, receiver: Receiver, settings: Any
) -> None:
    endpoint = endpoint_create(url=receiver.url, event_types=["account.*"])
    emit()
    delivery = only_delivery(endpoint)
    receiver.default = (500, {}, b"broken")
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    assert sum(schedule) / 86400 >= 3  # the documented schedule spans about three days
    start = timezone.now()
    with time_machine.travel(start, tick=True) as clock:
        for _attempt in range(len(schedule)):
            assert sending.deliver(delivery.id) == "failed"
            delivery.refresh_from_db()
            assert delivery.status == DeliveryStatus.PENDING
            assert delivery.next_attempt_at is not None
            clock.move_to(delivery.next_attempt_at + timedelta(seconds=1))
        assert sending.deliver(delivery.id) == "failed"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == (DeliveryStatus.FAILED, len(schedule) + 1)
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "days" in endpoint.disabled_reason
    assert Event.objects.filter(type="webhook_endpoint.disabled", subject=str(endpoint.id)).count() == 1


def test_a_success_clears_the_failing_clock(in_tenant_a: Tenant, receiver: Receiver) -> None:
    endpoint = endpoint_create(url=receiver.url, event_types=["*"])
    emit()
    receiver.script = [(500, {}, b"")]
    delivery = only_delivery(endpoint)
    sending.deliver(delivery.id)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None
    make_due(delivery)
    sending.deliver(delivery.id)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None


def test_rotation_sends_both_signatures_for_24_hours(in_tenant_a: Tenant, receiver: Receiver) -> None:
    endpoint = endpoint_create(url=receiver.url, event_types=["*"])
    old_secret = endpoint.secret
    rotated = endpoint_rotate_secret(endpoint=endpoint)
    assert rotated.secret != old_secret and rotated.secret.startswith("whsec_")
    emit()
    sending.deliver(only_delivery(endpoint).id)
    request = receiver.received[-1]
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Webhook(old_secret).verify(request.body, request.headers)
    Webhook(rotated.secret).verify(request.body, request.headers)
    with time_machine.travel(timezone.now() + timedelta(hours=24, minutes=1), tick=True):
        emit(account="acc-2")
        later = Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).get()
        sending.deliver(later.id)
        request = receiver.received[-1]
        assert len(request.headers["webhook-signature"].split(" ")) == 1
        Webhook(rotated.secret).verify(request.body, request.headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(old_secret).verify(request.body, request.headers)


def test_batch_mode_sends_up_to_n_events_per_signed_post(in_tenant_a: Tenant, receiver: Receiver) -> None:
    endpoint = endpoint_create(url=receiver.url, event_types=["*"], batch_size=3, batch_window_seconds=60)
    events = [emit(account=f"acc-{index}") for index in range(4)]
    assert sending.flush_batch(endpoint.id) == "delivered"
    assert sending.flush_batch(endpoint.id) == "waiting"  # one left, its window still open
    [first] = receiver.received
    batch = Webhook(endpoint.secret).verify(first.body, first.headers)
    assert [item["id"] for item in batch] == [str(e.id) for e in events[:3]]
    assert first.headers["webhook-id"].startswith("batch_")
    with time_machine.travel(timezone.now() + timedelta(seconds=61), tick=True):
        assert sending.flush_batch(endpoint.id) == "delivered"
    second = receiver.received[1]
    assert [item["id"] for item in Webhook(endpoint.secret).verify(second.body, second.headers)] == [str(events[3].id)]
    assert Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.DELIVERED).count() == 4


def test_a_failed_batch_is_retried_whole_with_the_same_webhook_id(in_tenant_a: Tenant, receiver: Receiver) -> None:
    endpoint = endpoint_create(url=receiver.url, event_types=["*"], batch_size=2, batch_window_seconds=60)
    emit(account="a1"), emit(account="a2")
    receiver.script = [(503, {}, b"")]
    assert sending.flush_batch(endpoint.id) == "failed"
    Delivery.objects.filter(endpoint=endpoint).update(next_attempt_at=timezone.now())
    assert sending.flush_batch(endpoint.id) == "delivered"
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body


def test_replay_sends_a_delivery_again_with_the_same_id(in_tenant_a: Tenant, receiver: Receiver) -> None:
    endpoint = endpoint_create(url=receiver.url, event_types=["*"])
    emit()
    receiver.script = [(400, {}, b"bad")]
    delivery = only_delivery(endpoint)
    sending.deliver(delivery.id)
    delivery_replay(delivery=delivery)
    assert sending.deliver(delivery.id) == "delivered"
    assert receiver.received[0].headers["webhook-id"] == receiver.received[1].headers["webhook-id"]
    assert Delivery.objects.get(pk=delivery.pk).attempts.count() == 2


def test_replay_failed_in_a_time_range(in_tenant_a: Tenant, receiver: Receiver) -> None:
    endpoint = endpoint_create(url=receiver.url, event_types=["*"])
    receiver.default = (400, {}, b"")
    for index in range(3):
        emit(account=f"acc-{index}")
    for delivery in Delivery.objects.filter(endpoint=endpoint):
        sending.deliver(delivery.id)
    old = Delivery.objects.filter(endpoint=endpoint).order_by("created_at").first()
    assert old is not None
    Delivery.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    since = timezone.now() - timedelta(days=1)
    assert deliveries_replay_failed(endpoint=endpoint, since=since) == 2
    assert Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).count() == 2
    assert Delivery.objects.get(pk=old.pk).status == DeliveryStatus.FAILED


def test_the_response_body_is_capped(in_tenant_a: Tenant, receiver: Receiver, settings: Any) -> None:
    settings.WEBHOOK_RESPONSE_MAX_BYTES = 1000
    endpoint = endpoint_create(url=receiver.url, event_types=["*"])
    receiver.script = [(200, {}, b"x" * 100_000)]
    emit()
    sending.deliver(only_delivery(endpoint).id)
    attempt = only_delivery(endpoint).attempts.get()
    assert attempt.status_code == 200 and len(attempt.response_snippet) <= sending.SNIPPET_CHARS


def test_private_targets_are_refused_again_at_delivery(in_tenant_a: Tenant, receiver: Receiver, settings: Any) -> None:
    endpoint = endpoint_create(url=receiver.url, event_types=["*"])  # allowed in test mode
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False  # production: DNS says 127.0.0.1 now
    emit()
    delivery = only_delivery(endpoint)
    assert sending.deliver(delivery.id) == "failed"
    delivery.refresh_from_db()
    assert delivery.last_error.startswith("refused") and delivery.status == DeliveryStatus.PENDING
    assert receiver.received == []


def test_the_platform_endpoint_gets_every_tenants_events(
    tenant_a: Tenant, tenant_b: Tenant, receiver: Receiver, settings: Any
) -> None:
    from django_tenants.utils import schema_context

    from apps.events.signing import new_secret

    settings.PLATFORM_WEBHOOK_URL = receiver.url
    settings.PLATFORM_WEBHOOK_SECRET = new_secret()
    for schema in ("alpha", "beta"):
        with schema_context(schema):
            event = emit()
            delivery = Delivery.objects.get(event=event)
            assert delivery.endpoint.kind == "platform"
            assert sending.deliver(delivery.id) == "delivered"
            assert not WebhookEndpoint.objects.filter(kind="tenant").exists()
    tenants = [Webhook(settings.PLATFORM_WEBHOOK_SECRET).verify(r.body, r.headers)["tenant"] for r in receiver.received]
    assert tenants == ["alpha", "beta"]
