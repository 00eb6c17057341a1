"""End to end with a real Celery worker and real Redis: ledger services → outbox → receiver.

Data is committed (the worker is another process), in throwaway tenants.
"""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context
from standardwebhooks.webhooks import Webhook

from apps.accounts.services import account_create, account_reactivate, account_suspend, account_update
from apps.core.tenancy import use_public_schema
from apps.events.models import Delivery, DeliveryStatus, Event
from apps.events.tasks import sweep_schema
from apps.events.webhooks import endpoint_create
from apps.invoices.credit_notes import credit_note_issue
from apps.invoices.lines import LineInput
from apps.invoices.services import (
    invoice_create,
    invoice_finalize,
    invoice_mark_sent,
    invoice_mark_uncollectible,
    invoice_void,
)
from apps.payments.services import payment_record, payment_record_failed, payment_refund
from apps.tenants.models import Tenant
from apps.tenants.services import tenant_create
from tests.events.receiver import Receiver, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def live(committed_tenant: Tenant, django_db_blocker: Any) -> Iterator[Tenant]:
    """Database access for the test body, outside any test transaction (the worker must see it)."""
    with django_db_blocker.unblock():
        yield committed_tenant
        use_public_schema()


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def run_ledger(account_name: str) -> None:
    """One of every ledger state change, each in its own committed transaction."""
    account = account_create(name=account_name, currency="NGN", email="ada@example.com")
    account = account_update(account=account, name=f"{account_name} Obi")
    account = account_suspend(account=account, reason="test")
    account = account_reactivate(account=account, reason="paid")
    lines = [LineInput(description="Fibre", unit_price=Decimal("100.00"))]
    first = invoice_finalize(invoice=invoice_create(account=account, lines=lines))
    invoice_mark_sent(invoice=first)
    payment_record(account=account, amount="40.00", currency="NGN", method="bank_transfer", reference="T1")
    paid = payment_record(account=account, amount="60.00", currency="NGN", method="bank_transfer", reference="T2")
    payment_refund(payment=paid, amount="10.00", reason="goodwill")
    second = invoice_finalize(invoice=invoice_create(account=account, lines=lines))
    credit_note_issue(invoice=second, amount="20.00", reason="outage")
    invoice_mark_uncollectible(invoice=second, reason="gone")
    third = invoice_finalize(invoice=invoice_create(account=account, lines=lines))
    invoice_void(invoice=third, reason="mistake")
    payment_record_failed(account=account, amount="5.00", currency="NGN", method="card", failure_code="declined")


def test_every_ledger_event_reaches_its_tenants_receiver_signed_and_only_there(
    live: Tenant, celery_worker: subprocess.Popen[bytes], receiver: Receiver
) -> None:
    other = tenant_create(slug=f"t{uuid.uuid4().hex[:12]}", name="Other tenant")
    try:
        with schema_context(other.schema_name):
            other_endpoint = endpoint_create(url=receiver.url.replace("/hooks", "/other"), event_types=["*"])
            run_ledger("Bea")
        with schema_context(live.schema_name):
            endpoint = endpoint_create(url=receiver.url, event_types=["*"])
            run_ledger("Ada")
            published = list(Event.objects.order_by("sequence").values_list("id", "type"))
        expected = {str(event_id) for event_id, _type in published}
        types = {event_type for _id, event_type in published}
        assert {
            "account.created",
            "account.updated",
            "account.suspended",
            "account.reactivated",
            "invoice.created",
            "invoice.finalized",
            "invoice.sent",
            "invoice.partially_paid",
            "invoice.paid",
            "payment.succeeded",
            "payment.refunded",
            "payment.failed",
            "credit_note.issued",
            "invoice.marked_uncollectible",
            "invoice.voided",
        } <= types
        mine = lambda: [r for r in receiver.received if r.json["tenant"] == live.schema_name]  # noqa: E731
        wait_until(lambda: {r.json["id"] for r in mine()} >= expected, timeout=120)
        for request in mine():
            assert Webhook(endpoint.secret).verify(request.body, request.headers)["tenant"] == live.schema_name
        for request in receiver.received:
            if request.json["tenant"] == other.schema_name:
                Webhook(other_endpoint.secret).verify(request.body, request.headers)
        assert {r.json["tenant"] for r in receiver.received} <= {live.schema_name, other.schema_name}
    finally:
        use_public_schema()
        other.delete(force_drop=True)


def emit_account(schema: str, name: str) -> str:
    with schema_context(schema), transaction.atomic():
        return str(account_create(name=name, currency="NGN").id)


def test_receiver_down_then_up_is_delivered_once_with_the_same_id(
    live: Tenant, celery_worker: subprocess.Popen[bytes], receiver: Receiver
) -> None:
    with schema_context(live.schema_name):
        endpoint = endpoint_create(url=receiver.url, event_types=["account.created"])
    receiver.stop()
    emit_account(live.schema_name, "Down")
    with schema_context(live.schema_name):
        delivery = Delivery.objects.get(endpoint=endpoint)
        wait_until(lambda: Delivery.objects.get(pk=delivery.pk).attempt_count >= 1, timeout=60)
        failed = Delivery.objects.get(pk=delivery.pk)
        assert failed.status == DeliveryStatus.PENDING and failed.last_error
        receiver.start()
        # The clock past the first retry (30 s): the sweeper finds it due and enqueues it.
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        wait_until(lambda: receiver.received, timeout=60, poke=sweep_schema)
        wait_until(lambda: Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.DELIVERED, timeout=30)
        sweep_schema()
    [request] = receiver.received
    assert request.headers["webhook-id"] == delivery.message_id


def test_a_worker_killed_during_delivery_still_delivers(
    live: Tenant, celery_worker: subprocess.Popen[bytes], receiver: Receiver
) -> None:
    import threading

    with schema_context(live.schema_name):
        endpoint = endpoint_create(url=receiver.url, event_types=["account.created"])
    receiver.hold = threading.Event()
    emit_account(live.schema_name, "Killed")
    wait_until(lambda: receiver.arrived >= 1, timeout=60)
    for pid in children(celery_worker.pid):
        os.kill(pid, signal.SIGKILL)
    receiver.hold.set()
    receiver.hold = None
    with schema_context(live.schema_name):
        delivery = Delivery.objects.get(endpoint=endpoint)
        assert delivery.status == DeliveryStatus.PENDING  # the dead worker recorded nothing
        # Its lease runs out; the sweeper (beat, here called by the test) sends it again.
        wait_until(
            lambda: Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.DELIVERED,
            timeout=120,
            poke=sweep_schema,
        )
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert ids == {delivery.message_id}
    assert celery_worker.poll() is None  # the master replaced its children


def test_a_burst_of_commits_is_drained_once_each(
    live: Tenant, celery_worker: subprocess.Popen[bytes], receiver: Receiver
) -> None:
    from apps.core.redis import redis_client
    from apps.events.services import publish
    from apps.events.tasks import _drain_marker

    with schema_context(live.schema_name):
        endpoint = endpoint_create(url=receiver.url, event_types=["account.created"])
        for first in range(0, 150, 3):  # 50 commits: they kick one drain (or a few), not 50 messages
            with transaction.atomic():
                for n in range(first, first + 3):
                    publish("account.created", f"acc-{n}", {"account": f"acc-{n}"})
        wait_until(lambda: len(receiver.received) >= 150, timeout=120)
        wait_until(
            lambda: not Delivery.objects.filter(endpoint=endpoint).exclude(status=DeliveryStatus.DELIVERED).exists(),
            timeout=60,
        )
        ids = [r.headers["webhook-id"] for r in receiver.received]
        assert len(ids) == len(set(ids)) == 150
        assert set(ids) == {d.message_id for d in Delivery.objects.filter(endpoint=endpoint)}
        for request in receiver.received:
            Webhook(endpoint.secret).verify(request.body, request.headers)
        # Every drain gave its marker up when it found nothing more to send.
        wait_until(lambda: not redis_client().exists(_drain_marker(live.schema_name, 0)), timeout=30)
