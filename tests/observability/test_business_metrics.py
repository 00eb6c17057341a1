"""Business counters follow committed domain events, never rolled-back ones."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction
from prometheus_client import REGISTRY

from apps.core import metrics
from apps.events.services import publish
from apps.payments.services import payment_record
from tests.accounts.factories import AccountFactory
from tests.invoices.factories import draft_invoice, open_invoice


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_finalized_invoice_is_counted_with_its_amount_after_commit(
    in_tenant_a, django_capture_on_commit_callbacks
) -> None:
    account = AccountFactory(currency="NGN")
    before = sample("billing_invoices_finalized_total"), sample("billing_invoice_amount_total", currency="NGN")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        open_invoice(account, "25000.10", "0.05")
        # Not yet: the transaction has not committed.
        assert sample("billing_invoices_finalized_total") == before[0]
    for callback in callbacks:
        callback()
    assert sample("billing_invoices_finalized_total") == before[0] + 1
    assert sample("billing_invoice_amount_total", currency="NGN") == pytest.approx(before[1] + 25000.15)


def test_payments_count_by_gateway_and_outcome_with_amounts(in_tenant_a, django_capture_on_commit_callbacks) -> None:
    account = AccountFactory(currency="NGN")
    succeeded = {"gateway": "manual", "outcome": "succeeded"}
    before = sample("billing_payments_total", **succeeded), sample("billing_payment_amount_total", currency="NGN")
    buckets_before = sample("billing_payment_amount_distribution_bucket", currency="NGN", le="1000.0")
    with django_capture_on_commit_callbacks(execute=True):
        payment_record(account=account, amount=Decimal("750.00"), currency="NGN", method="cash")
    assert sample("billing_payments_total", **succeeded) == before[0] + 1
    assert sample("billing_payment_amount_total", currency="NGN") == before[1] + 750.0
    assert sample("billing_payment_amount_distribution_bucket", currency="NGN", le="1000.0") == buckets_before + 1


def test_work_that_rolls_back_is_never_counted(in_tenant_a, django_capture_on_commit_callbacks) -> None:
    account = AccountFactory(currency="NGN")
    invoice = draft_invoice(account, "10.00")
    before = sample("billing_invoices_finalized_total")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                from apps.invoices.services import invoice_finalize

                invoice_finalize(invoice=invoice)
                raise RuntimeError("the caller fails after finalizing")
        except RuntimeError:
            pass
    assert callbacks == []
    assert sample("billing_invoices_finalized_total") == before


@pytest.mark.parametrize(
    ("event_type", "data", "metric", "labels"),
    [
        (
            "dunning.step_executed",
            {"case": "c1", "account": "a1", "step": "s1", "action": "sms_reminder", "outcome": "failed"},
            "billing_dunning_actions_total",
            {"action": "sms_reminder", "outcome": "failed"},
        ),
        (
            "notification.sent",
            {"notification": "n1", "account": "a1", "kind": "invoice_sent", "channel": "email"},
            "billing_notifications_total",
            {"channel": "email", "outcome": "sent"},
        ),
        (
            "credit_note.issued",
            {
                "credit_note": "x",
                "invoice": "i1",
                "account": "a1",
                "number": "CN-2026-000001",
                "currency": "USD",
                "amount": "5.25",
                "applied_to_invoice": "5.25",
            },
            "billing_credit_notes_issued_total",
            {},
        ),
    ],
)
def test_the_contract_events_of_other_apps_are_counted(
    in_tenant_a, django_capture_on_commit_callbacks, event_type, data, metric, labels
) -> None:
    before = sample(metric, **labels)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        publish(event_type, "subject-1", data)
    assert sample(metric, **labels) == before + 1


def test_webhook_deliveries_and_commit_to_delivery_latency(db: None) -> None:
    from django.utils import timezone

    before = sample("billing_webhook_deliveries_total", outcome="delivered")
    latency_count = sample("billing_event_delivery_latency_seconds_count")
    metrics.observe_webhook_delivery(outcome="delivered", schema_name="alpha", event_created_at=timezone.now())
    metrics.observe_webhook_delivery(outcome="failed", schema_name="alpha", event_created_at=timezone.now())
    assert sample("billing_webhook_deliveries_total", outcome="delivered") == before + 1
    assert sample("billing_event_delivery_latency_seconds_count") == latency_count + 1


def test_outbound_calls_are_counted_by_service_and_outcome() -> None:
    before = {
        o: sample("billing_external_requests_total", service="twilio", outcome=o)
        for o in ("success", "server_error", "network_error")
    }
    with metrics.observe_http_call("twilio") as call:
        call.status_code = 201
    with metrics.observe_http_call("twilio") as call:
        call.status_code = 503
    with pytest.raises(ConnectionError), metrics.observe_http_call("twilio"):
        raise ConnectionError("refused")
    for outcome, count in before.items():
        assert sample("billing_external_requests_total", service="twilio", outcome=outcome) == count + 1
