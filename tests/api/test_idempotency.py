"""Idempotency-Key: Stripe's semantics per (tenant, caller), stored in PostgreSQL, one effect under races."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO

import httpx
import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.test import Client, RequestFactory
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.events.models import Event
from apps.tenants.api.idempotency import request_fingerprint
from apps.tenants.models import IdempotencyRecord, Tenant
from apps.tenants.services import api_key_create, idempotency_records_prune
from tests.api.conftest import assert_problem, bearer, operator_token, post_together, token
from tests.concurrency import in_own_connection, wait_for_blocked_insert

pytestmark = pytest.mark.django_db


def probe_events(subject: str, schema: str = "alpha") -> int:
    with schema_context(schema):
        return Event.objects.filter(type="probe.created", subject=subject).count()


def post(client: Client, path: str, body: object, credential: str, key: str | None, raw: str | None = None):
    headers = bearer(credential)
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    data = raw if raw is not None else json.dumps(body)
    return client.post(path, data, content_type="application/json", **headers)


def test_the_same_key_and_body_replay_the_original_answer_without_a_second_effect(api: Client, probe: str) -> None:
    alice = token(sub="alice")
    first = post(api, probe, {"name": "order-1"}, alice, "key-1")
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first
    again = post(api, probe, {"name": "order-1"}, token(sub="alice"), "key-1")  # a new token, same user
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again["Content-Type"] == "application/json"
    assert probe_events("order-1") == 1


def test_a_body_with_other_spacing_or_key_order_is_the_same_request(api: Client, probe: str) -> None:
    alice = token(sub="alice")
    first = post(api, probe, None, alice, "key-2", raw='{"name": "order-2", "note": "x"}')
    again = post(api, probe, None, alice, "key-2", raw='{  "note":"x","name":"order-2"}')
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert probe_events("order-2") == 1


def test_the_same_key_with_another_body_or_endpoint_is_a_422(api: Client, probe: str) -> None:
    alice = token(sub="alice")
    assert post(api, probe, {"name": "order-3"}, alice, "key-3").status_code == 201
    other_body = post(api, probe, {"name": "order-3b"}, alice, "key-3")
    assert_problem(other_body, 422, type_slug="idempotency-key-reused", detail_contains="different request")
    other_path = post(api, f"{probe}admin/", {"name": "order-3"}, alice, "key-3")
    assert_problem(other_path, 422, type_slug="idempotency-key-reused")
    assert probe_events("order-3") == 1 and probe_events("order-3b") == 0


def test_keys_are_scoped_to_the_tenant_and_the_caller(api: Client, probe: str, tenant_a: Tenant) -> None:
    body = {"name": "order-4"}
    alice = post(api, probe, body, token("alpha", sub="alice"), "shared-key")
    bob = post(api, probe, body, token("alpha", sub="bob"), "shared-key")
    alice_in_beta = post(api, probe, body, token("beta", sub="alice"), "shared-key")
    _, key = api_key_create(tenant=tenant_a, name="sync", scope="read_write")
    by_key = post(api, probe, body, key, "shared-key")
    for response in (alice, bob, alice_in_beta, by_key):
        assert response.status_code == 201
        assert "Idempotent-Replayed" not in response
    assert probe_events("order-4", "alpha") == 3
    assert probe_events("order-4", "beta") == 1
    assert sorted(IdempotencyRecord.objects.filter(key="shared-key").values_list("caller", flat=True)) == sorted(
        ["user:alice", "user:bob", "user:alice", f"key:{by_key.json()['caller'][4:]}"]
    )


def test_without_a_key_every_post_has_its_effect(api: Client, probe: str) -> None:
    alice = token(sub="alice")
    post(api, probe, {"name": "order-5"}, alice, None)
    post(api, probe, {"name": "order-5"}, alice, None)
    assert probe_events("order-5") == 2
    assert not IdempotencyRecord.objects.filter(caller="user:alice").exists()


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "naïve"])
def test_an_unusable_key_is_a_400(api: Client, probe: str, key: str) -> None:
    response = api.post(
        probe,
        {"name": "order-6"},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=key,
        **bearer(token()),
    )
    assert_problem(response, 400, type_slug="invalid-idempotency-key")
    assert probe_events("order-6") == 0


def test_a_validation_error_is_stored_and_replayed_like_stripe(api: Client, probe: str) -> None:
    alice = token(sub="alice")
    first = post(api, probe, {"nom": "typo"}, alice, "key-7")
    body = assert_problem(first, 400, type_slug="validation-error")
    assert body["errors"] == {"name": ["This field is required."]}
    again = post(api, probe, {"nom": "typo"}, alice, "key-7")
    assert again.status_code == 400 and again["Idempotent-Replayed"] == "true"
    assert again.json() == body


def test_refusals_that_mean_not_processed_are_not_stored(api: Client, probe: str) -> None:
    refused = post(api, probe, {"name": "order-8"}, token(sub="carol", roles=("billing.read",)), "key-8")
    assert refused.status_code == 403
    granted = post(api, probe, {"name": "order-8"}, token(sub="carol", roles=("billing.write",)), "key-8")
    assert granted.status_code == 201 and "Idempotent-Replayed" not in granted
    assert probe_events("order-8") == 1


def test_an_anonymous_post_with_a_key_gets_the_401_and_stores_nothing(api: Client, probe: str) -> None:
    response = api.post(probe, {"name": "x"}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="key-9")
    assert_problem(response, 401)
    assert not IdempotencyRecord.objects.filter(key="key-9").exists()


def test_a_key_past_its_retention_may_be_used_afresh(api: Client, probe: str) -> None:
    alice = token(sub="alice")
    post(api, probe, {"name": "order-10"}, alice, "key-10")
    IdempotencyRecord.objects.filter(key="key-10").update(created_at=timezone.now() - timedelta(hours=24, seconds=1))
    again = post(api, probe, {"name": "order-10"}, alice, "key-10")
    assert again.status_code == 201 and "Idempotent-Replayed" not in again
    assert probe_events("order-10") == 2


def test_records_are_kept_24_hours_then_pruned(api: Client, probe: str, settings) -> None:
    alice = token(sub="alice")
    for number in range(3):
        post(api, probe, {"name": f"order-11-{number}"}, alice, f"key-11-{number}")
    now = timezone.now()
    IdempotencyRecord.objects.filter(key="key-11-0").update(created_at=now - timedelta(hours=25))
    IdempotencyRecord.objects.filter(key="key-11-1").update(created_at=now - timedelta(hours=23))
    settings.IDEMPOTENCY_KEY_RETENTION_HOURS = 1  # never below 24 h
    out = StringIO()
    call_command("prune_idempotency_records", stdout=out)
    assert out.getvalue().strip() == "pruned 1 idempotency record(s) older than 24 h"
    assert sorted(IdempotencyRecord.objects.filter(caller="user:alice").values_list("key", flat=True)) == [
        "key-11-1",
        "key-11-2",
    ]
    settings.IDEMPOTENCY_KEY_RETENTION_HOURS = 48
    assert idempotency_records_prune(now=now + timedelta(hours=25)) == 0
    assert idempotency_records_prune(now=now + timedelta(hours=26)) == 1


def test_tenant_provisioning_is_idempotent_too(api: Client) -> None:
    operator = operator_token(sub="ops")
    body = {"slug": "idem_co", "name": "Idem Co", "staff": {"email": "a@idem.test", "password": "a-long-passphrase-9"}}
    first = post(api, "/api/v1/tenants/", body, operator, "provision-idem_co")
    assert first.status_code == 201
    again = post(api, "/api/v1/tenants/", body, operator, "provision-idem_co")
    assert (again.status_code, again["Idempotent-Replayed"], again["Location"]) == (201, "true", first["Location"])
    assert again.json() == first.json()
    without_key = post(api, "/api/v1/tenants/", body, operator, None)
    assert_problem(without_key, 409, type_slug="tenant-exists")


# --- Real concurrency: a threaded server, each request on its own connection -----------------


@pytest.fixture
def cleanup_probe() -> Iterator[list[str]]:
    """Subjects whose committed events and idempotency records are removed after the test."""
    subjects: list[str] = []
    yield subjects

    def remove() -> None:
        for schema in ("alpha", "beta"):
            with schema_context(schema):
                Event.objects.filter(type="probe.created", subject__in=subjects).delete()
        IdempotencyRecord.objects.filter(key__in=subjects).delete()

    in_own_connection(remove)


def committed_events(subject: str) -> int:
    return in_own_connection(lambda: probe_events(subject))


def test_parallel_duplicates_have_exactly_one_effect(live_api: str, probe: str, cleanup_probe: list[str]) -> None:
    subject = f"race-{uuid.uuid4().hex[:8]}"
    cleanup_probe.append(subject)
    alice = token(sub=f"alice-{subject}")
    headers = {"Authorization": f"Bearer {alice}", "Idempotency-Key": subject}
    responses = post_together(live_api, probe, 12, {"name": subject}, headers)

    assert committed_events(subject) == 1
    originals = [response for response in responses if "Idempotent-Replayed" not in response.headers]
    assert len(originals) == 1
    assert all(response.status_code == 201 for response in responses)
    assert {response.json()["event"] for response in responses} == {originals[0].json()["event"]}


class HeldKey:
    """Another request's transaction holding a key, as an in-flight request does, on its own connection."""

    def __init__(self, tenant: Tenant, caller: str, key: str, fingerprint: str) -> None:
        self.values = {"tenant_id": tenant.pk, "caller": caller, "key": key, "fingerprint": fingerprint}
        self.ready = threading.Event()
        self.finish = threading.Event()
        self.commit_with: bytes | None = None
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        from django.db import transaction

        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(**self.values, method="POST", path="/api/v1/probe/")
                self.ready.set()
                self.finish.wait(timeout=30)
                if self.commit_with is None:
                    transaction.set_rollback(True)
                else:
                    record.response_status = 201
                    record.response_headers = {"Content-Type": "application/json"}
                    record.response_body = self.commit_with
                    record.save()
        finally:
            connections.close_all()

    def __enter__(self) -> HeldKey:
        self.thread.start()
        assert self.ready.wait(timeout=10)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.finish.set()
        self.thread.join(timeout=30)


def wait_for_a_blocked_insert() -> None:
    """Until a request waits on the lock of an idempotency record another one holds."""
    wait_for_blocked_insert("tenants_idempotencyrecord", failure="no request ever waited for the key")


def start_post(live_api: str, path: str, credential: str, key: str, body: dict) -> tuple[threading.Thread, list]:
    answers: list[httpx.Response] = []

    def send() -> None:
        with httpx.Client(base_url=live_api, timeout=30) as client:
            answers.append(
                client.post(path, json=body, headers={"Authorization": f"Bearer {credential}", "Idempotency-Key": key})
            )

    thread = threading.Thread(target=send)
    thread.start()
    return thread, answers


def fingerprint_of(path: str, body: dict) -> str:
    raw = json.dumps(body).encode()
    return request_fingerprint(RequestFactory().post(path, raw, content_type="application/json"), raw)


def test_a_duplicate_waits_for_the_request_in_flight_and_replays_its_answer(
    live_api: str, probe: str, tenant_a: Tenant, cleanup_probe: list[str]
) -> None:
    subject = f"wait-{uuid.uuid4().hex[:8]}"
    cleanup_probe.append(subject)
    body = {"name": subject}
    stored = json.dumps({"event": "from-the-first-request"}).encode()
    with HeldKey(tenant_a, f"user:{subject}", subject, fingerprint_of(probe, body)) as held:
        thread, answers = start_post(live_api, probe, token(sub=subject), subject, body)
        wait_for_a_blocked_insert()
        assert answers == []  # still waiting for the first request
        held.commit_with = stored
    thread.join(timeout=30)
    assert answers[0].status_code == 201
    assert answers[0].headers["Idempotent-Replayed"] == "true"
    assert answers[0].content == stored
    assert committed_events(subject) == 0  # the duplicate had no effect of its own


def test_a_duplicate_runs_itself_when_the_request_in_flight_fails(
    live_api: str, probe: str, tenant_a: Tenant, cleanup_probe: list[str]
) -> None:
    subject = f"fail-{uuid.uuid4().hex[:8]}"
    cleanup_probe.append(subject)
    body = {"name": subject}
    with HeldKey(tenant_a, f"user:{subject}", subject, fingerprint_of(probe, body)):
        thread, answers = start_post(live_api, probe, token(sub=subject), subject, body)
        wait_for_a_blocked_insert()
    # The first request rolled back (commit_with stayed None): its key is free again.
    thread.join(timeout=30)
    assert answers[0].status_code == 201
    assert "Idempotent-Replayed" not in answers[0].headers
    assert committed_events(subject) == 1


def test_a_duplicate_gets_409_when_the_request_in_flight_takes_too_long(
    live_api: str, probe: str, tenant_a: Tenant, cleanup_probe: list[str], settings
) -> None:
    settings.IDEMPOTENCY_WAIT_SECONDS = 0.3
    subject = f"slow-{uuid.uuid4().hex[:8]}"
    cleanup_probe.append(subject)
    body = {"name": subject}
    with HeldKey(tenant_a, f"user:{subject}", subject, fingerprint_of(probe, body)):
        thread, answers = start_post(live_api, probe, token(sub=subject), subject, body)
        thread.join(timeout=30)
        assert answers[0].status_code == 409
        assert answers[0].headers["Content-Type"] == "application/problem+json"
        assert answers[0].json()["type"] == "urn:dotmac:billing:problem:idempotency-key-in-progress"
    assert committed_events(subject) == 0


def test_the_claim_waits_with_its_own_lock_timeout_and_restores_the_callers(tenant_a: Tenant) -> None:
    """The claim sets lock_timeout for its INSERT only: the view then runs with the caller's setting."""
    from django.db import transaction

    from apps.core.api.principal import ApiPrincipal, PrincipalKind
    from apps.tenants.api.authentication import Credential
    from apps.tenants.api.idempotency import _claim

    roles = frozenset({"billing.write"})
    principal = ApiPrincipal(PrincipalKind.PLATFORM_TOKEN, "claim-check", "alpha", roles, "jti-1")
    credential = Credential(principal=principal, tenant=tenant_a, auth=None)  # type: ignore[arg-type]
    request = RequestFactory().post("/api/v1/probe/", b"{}", content_type="application/json")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = '1234ms'")
        record = _claim(credential, f"claim-{uuid.uuid4().hex[:8]}", "f" * 64, request)
        cursor.execute("SELECT current_setting('lock_timeout')")
        assert cursor.fetchone()[0] == "1234ms"
        stored = IdempotencyRecord.objects.get(pk=record.pk)
        assert (stored.caller, stored.response_status, bytes(stored.response_body)) == ("user:claim-check", None, b"")
        transaction.set_rollback(True)
