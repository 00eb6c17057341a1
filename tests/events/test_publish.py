"""The outbox: events are written in the state change's transaction, in commit order."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction

from apps.events.models import Event
from apps.events.registry import subscribe, unsubscribe
from apps.events.services import EventError, event_envelope, publish, sequence_of
from apps.tenants.models import Tenant

pytestmark = pytest.mark.django_db


def test_published_events_get_increasing_sequences_and_a_json_safe_payload(in_tenant_a: Tenant) -> None:
    with transaction.atomic():
        first = publish("invoice.sent", "inv-1", {"invoice": "inv-1", "account": "acc-1", "total": Decimal("10.50")})
        second = publish("invoice.voided", "inv-1", {"invoice": "inv-1", "account": "acc-1"})
    assert first.sequence is None  # numbered when the transaction commits
    first_number = sequence_of(first)
    assert first_number is not None
    assert sequence_of(second) == first_number + 1
    envelope = event_envelope(Event.objects.get(pk=first.pk), "alpha")
    assert envelope["data"] == {"invoice": "inv-1", "account": "acc-1", "total": "10.50"}
    assert set(envelope) == {"id", "type", "tenant", "sequence", "created_at", "api_version", "data"}
    assert (envelope["tenant"], envelope["api_version"]) == ("alpha", "v1")


def test_an_event_rolled_back_with_its_transaction_is_not_kept(in_tenant_a: Tenant) -> None:
    before = Event.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        publish("account.created", "acc-1", {"account": "acc-1"})
        raise RuntimeError("the state change failed")
    assert Event.objects.count() == before


def test_publishing_outside_a_transaction_or_with_a_bad_name_is_refused(in_tenant_a: Tenant) -> None:
    with pytest.raises(EventError, match=r"not <noun>\.<past_verb>"), transaction.atomic():
        publish("InvoiceFinalized", "x", {})


def test_in_transaction_handlers_run_inside_publish(in_tenant_a: Tenant) -> None:
    seen: list[str] = []

    @subscribe("payment.*")
    def record(event: Event) -> None:
        seen.append(event.type)

    try:
        with transaction.atomic():
            publish("payment.refunded", "pay-1", {"payment": "pay-1", "account": "a", "refund": "r"})
            publish("invoice.voided", "inv-1", {"invoice": "inv-1", "account": "acc-1"})
    finally:
        unsubscribe("payment.*", record)
    assert seen == ["payment.refunded"]


def test_unknown_types_and_data_without_the_required_ids_are_refused(in_tenant_a: Tenant) -> None:
    with pytest.raises(EventError, match="not in the catalogue"), transaction.atomic():
        publish("invoice.teleported", "x", {"invoice": "x", "account": "y"})
    with pytest.raises(EventError, match="lacks account"), transaction.atomic():
        publish("invoice.finalized", "x", {"invoice": "x"})
    with pytest.raises(EventError, match="is not"), transaction.atomic():
        publish("dunning.step_executed", "c", {"case": "c", "account": "a", "step": "s", "action": "dance"})


def test_the_catalogue_covers_the_contract_and_is_documented() -> None:
    from pathlib import Path

    from apps.events.catalogue import CATALOGUE
    from apps.events.docs import render_markdown

    contract = {
        *(f"account.{v}" for v in ["created", "updated", "suspended", "reactivated", "closed"]),
        *(
            f"invoice.{v}"
            for v in (
                "created",
                "finalized",
                "sent",
                "paid",
                "partially_paid",
                "voided",
                "overdue",
                "marked_uncollectible",
            )
        ),
        "credit_note.issued",
        *(f"payment.{v}" for v in ["succeeded", "failed", "refunded"]),
        *(f"dunning.{v}" for v in ["started", "step_executed", "escalated", "resolved"]),
        "notification.sent",
        "notification.failed",
        "webhook_endpoint.disabled",
    }
    assert contract <= set(CATALOGUE)
    for name, entry in CATALOGUE.items():
        assert entry.schema["additionalProperties"] is True
        if name.split(".")[0] in {"account", "invoice", "payment", "credit_note", "dunning", "notification"}:
            assert "account" in entry.schema["required"], name
    docs = Path(__file__).resolve().parents[2] / "docs" / "events.md"
    assert docs.read_text() == render_markdown(), "regenerate: python -m apps.events.docs > docs/events.md"


def test_every_type_is_an_openapi_webhook() -> None:
    from drf_spectacular.generators import SchemaGenerator

    from apps.events.catalogue import CATALOGUE

    document = SchemaGenerator().get_schema(request=None, public=True)
    hooks = document.get("webhooks") or document["x-webhooks"]
    assert set(CATALOGUE) <= set(hooks)
    body = hooks["invoice.finalized"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["data"]["required"] == ["invoice", "account"]
