"""`webhook-endpoints/`, `webhook-deliveries/` and `events/` through the API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from django_tenants.utils import schema_context
from standardwebhooks.webhooks import Webhook

from apps.events import delivery as sending
from apps.events.models import Delivery, WebhookEndpoint
from apps.events.services import publish
from apps.tenants.models import IdempotencyRecord
from tests.api.conftest import JsonClient, assert_problem
from tests.events.receiver import Receiver, running_receiver

pytestmark = pytest.mark.django_db

ENDPOINTS = "/api/v1/webhook-endpoints/"
V = "validation-error"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as server:
        yield server


def create(admin: JsonClient, url: str, **extra: Any) -> dict[str, Any]:
    response = admin.post(ENDPOINTS, {"url": url, "event_types": ["invoice.*", "account.created"], **extra})
    assert response.status_code == 201, response.content
    return dict(response.json())


def emit(schema: str = "alpha", event_type: str = "account.created", account: str = "acc-1") -> None:
    with schema_context(schema), transaction.atomic():
        publish(event_type, account, {"account": account, "invoice": "inv-1"})


def test_the_secret_is_shown_once_and_a_keyed_retry_creates_one_endpoint_without_storing_it(
    admin: JsonClient,
) -> None:
    headers = {"HTTP_IDEMPOTENCY_KEY": "hook-1"}
    body = {"url": "https://hooks.example.com/billing", "event_types": ["*"], "description": "prov"}
    first = admin.post(ENDPOINTS, body, **headers)
    assert first.status_code == 201
    created = first.json()
    assert created["secret"].startswith("whsec_") and created["event_types"] == ["*"]
    again = admin.post(ENDPOINTS, body, **headers)
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == created["id"] and again.json()["secret"] is None
    with schema_context("alpha"):
        assert WebhookEndpoint.objects.filter(description="prov").count() == 1
    stored = IdempotencyRecord.objects.get(key="hook-1")
    assert created["secret"].encode() not in bytes(stored.response_body)
    shown = admin.get(f"{ENDPOINTS}{created['id']}/").json()
    assert "secret" not in shown
    assert all("secret" not in item for item in admin.get(ENDPOINTS).json()["results"])


def test_bad_event_types_and_urls_are_400_problems(admin: JsonClient, settings: Any) -> None:
    assert_problem(admin.post(ENDPOINTS, {"url": "https://x.example", "event_types": ["nope.done"]}), 400, type_slug=V)
    assert_problem(admin.post(ENDPOINTS, {"url": "ftp://x.example", "event_types": ["*"]}), 400, type_slug=V)
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    for url in ["http://127.0.0.1:8000/h", "http://169.254.169.254/latest", "http://10.1.2.3/", "http://[::1]/"]:
        assert_problem(
            admin.post(ENDPOINTS, {"url": url, "event_types": ["*"]}), 400, type_slug=V, detail_contains="refused"
        )


def test_reading_needs_billing_read_and_changing_needs_billing_admin(
    admin: JsonClient, writer: JsonClient, reader: JsonClient
) -> None:
    endpoint = create(admin, "https://hooks.example.com/a")
    assert reader.get(ENDPOINTS).status_code == 200
    assert_problem(writer.post(ENDPOINTS, {"url": "https://hooks.example.com/b", "event_types": ["*"]}), 403)
    assert_problem(writer.patch(f"{ENDPOINTS}{endpoint['id']}/", {"enabled": False}), 403)


def test_patch_rotate_and_delete(admin: JsonClient) -> None:
    endpoint = create(admin, "https://hooks.example.com/a")
    path = f"{ENDPOINTS}{endpoint['id']}/"
    patched = admin.patch(path, {"enabled": False, "event_types": ["payment.*"], "url": "https://hooks.example.com/b"})
    assert patched.status_code == 200
    assert (patched.json()["enabled"], patched.json()["event_types"]) == (False, ["payment.*"])
    rotated = admin.post(f"{path}rotate-secret/")
    assert rotated.status_code == 200
    assert rotated.json()["secret"] != endpoint["secret"] and rotated.json()["previous_secret_expires_at"]
    assert admin.delete(path).status_code == 204
    assert_problem(admin.get(path), 404)


def test_ping_posts_a_signed_test_message(admin: JsonClient, receiver: Receiver) -> None:
    endpoint = create(admin, receiver.url)
    answer = admin.post(f"{ENDPOINTS}{endpoint['id']}/ping/")
    assert answer.status_code == 200 and answer.json()["delivered"] is True
    [request] = receiver.received
    message = Webhook(endpoint["secret"]).verify(request.body, request.headers)
    assert message["type"] == "webhook_endpoint.ping"


def test_deliveries_show_every_attempt_and_replay(admin: JsonClient, receiver: Receiver) -> None:
    endpoint = create(admin, receiver.url)
    emit()
    with schema_context("alpha"):
        delivery = Delivery.objects.get(endpoint_id=endpoint["id"])
        receiver.script = [(400, {}, b"rejected")]
        sending.deliver(delivery.id)
    listed = admin.get(f"/api/v1/webhook-deliveries/?endpoint={endpoint['id']}").json()["results"]
    assert [d["id"] for d in listed] == [str(delivery.id)]
    attempt = listed[0]["attempts"][0]
    assert (listed[0]["status"], attempt["status_code"], attempt["response_snippet"]) == ("failed", 400, "rejected")
    replayed = admin.post(f"/api/v1/webhook-deliveries/{delivery.id}/replay/")
    assert replayed.status_code == 200 and replayed.json()["status"] == "pending"
    with schema_context("alpha"):
        assert sending.deliver(delivery.id) == "delivered"
    assert admin.post(f"{ENDPOINTS}{endpoint['id']}/replay-failed/", {}).json() == {"replayed": 0}


def test_events_filter_by_type_and_after_sequence_and_stay_in_their_tenant(
    admin: JsonClient, outsider: JsonClient
) -> None:
    emit(account="a1")
    emit(event_type="invoice.voided", account="a2")
    emit(account="a3")
    emit(schema="beta", account="b1")
    events = admin.get("/api/v1/events/?limit=500").json()["results"]
    sequences = [e["sequence"] for e in events]
    assert sequences == sorted(sequences)
    assert all(e["tenant"] == "alpha" for e in events)
    assert "b1" not in {e["data"]["account"] for e in events}
    last_two = events[-3]["sequence"]
    after = admin.get(f"/api/v1/events/?after_sequence={last_two}").json()["results"]
    assert [e["data"]["account"] for e in after] == ["a2", "a3"]
    voided = admin.get("/api/v1/events/?type=invoice.voided").json()["results"]
    assert [e["data"]["account"] for e in voided] == ["a2"]
    assert admin.get("/api/v1/events/?type=invoice.*").json()["results"][-1]["type"] == "invoice.voided"
    beta = outsider.get("/api/v1/events/").json()["results"]
    assert {e["tenant"] for e in beta} == {"beta"}


def test_event_time_filters_accept_any_iso_offset(admin: JsonClient) -> None:
    emit(account="late")
    answer = admin.get(
        "/api/v1/events/?created_after=2026-01-01T00:00:00-23:23&created_before=5767-06-10T22:01:04-23:23"
    )
    assert answer.status_code == 200
    assert "late" in {e["data"]["account"] for e in answer.json()["results"]}
