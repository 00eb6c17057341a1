"""Planned representations give exactly DRF's output, and invoice pages read by index, never count."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from apps.core.api.representation import PlannedRepresentation
from apps.core.tenancy import use_public_schema
from apps.invoices.api.serializers import InvoiceLineOutput, InvoiceOutput
from apps.invoices.models import Invoice, TaxRate
from apps.payments.api.serializers import PaymentOutput, RefundOutput
from apps.payments.models import Payment
from tests.api.conftest import JsonClient

pytestmark = pytest.mark.django_db

INVOICES = "/api/v1/invoices/"


def drf_output(serializer: serializers.Serializer[Any], instance: Any) -> dict[str, Any]:
    """What DRF's own Serializer.to_representation makes of it, nested lines included."""
    data = serializers.Serializer.to_representation(serializer, instance)
    if isinstance(serializer, InvoiceOutput):
        data["lines"] = [drf_output(InvoiceLineOutput(), line) for line in instance.line_list]
    if isinstance(serializer, PaymentOutput):
        data["refunds"] = [drf_output(RefundOutput(), refund) for refund in instance.refunds.all()]
    return dict(data)


@pytest.fixture
def invoices(writer: JsonClient, admin: JsonClient, in_tenant_a: Any) -> list[Invoice]:
    account = writer.post("/api/v1/accounts/", {"external_id": "sub-9", "name": "Ada", "currency": "NGN"}).json()
    vat = TaxRate.objects.create(name="VAT", percentage=Decimal("7.5"))
    lines = [
        {"description": "Fibre", "quantity": "1.5", "unit_price": "333.333333", "discount": "0.50"},
        {"description": "Router", "quantity": "2", "unit_price": "1000", "tax_rate": str(vat.pk)},
    ]
    draft = writer.post(INVOICES, {"account": account["id"], "lines": lines, "metadata": {"plan": "x"}}).json()
    opened = writer.post(
        INVOICES, {"account": account["id"], "lines": lines[:1], "finalize": True, "external_id": "imp-1"}
    ).json()
    assert admin.post(f"{INVOICES}{opened['id']}/void/", {"reason": "duplicate"}).status_code == 200
    return list(Invoice.objects.filter(pk__in=[draft["id"], opened["id"]]).order_by("created_at"))


@pytest.mark.parametrize("zone", ["UTC", "Africa/Lagos"])
def test_planned_output_is_drfs_field_for_field(invoices: list[Invoice], zone: str) -> None:
    with timezone.override(zone):
        for invoice in invoices:
            planned = InvoiceOutput(invoice).data
            assert planned == drf_output(InvoiceOutput(), invoice)
            assert planned["lines"] and planned["lines"][0]["quantity"] in {"1.5", "2"}
    assert invoices[1].status == "void" and InvoiceOutput(invoices[1]).data["voided_at"]


def test_planned_payments_are_drfs_too(invoices: list[Invoice], writer: JsonClient, admin: JsonClient) -> None:
    draft = invoices[0]
    writer.post(f"{INVOICES}{draft.pk}/finalize/")
    body = {"account": str(draft.account_id), "amount": "5000.00", "currency": "NGN", "method": "bank_transfer"}
    paid = writer.post("/api/v1/payments/", body).json()
    assert admin.post(f"/api/v1/payments/{paid['id']}/refund/", {"amount": "10.00", "reason": "x"}).status_code == 200
    payment = Payment.objects.get(pk=paid["id"])
    with timezone.override("Africa/Lagos"):
        planned = PaymentOutput(payment).data
        assert planned == drf_output(PaymentOutput(), payment)
    assert planned["allocations"] and planned["refunds"][0]["amount"] == "10.00"


def test_a_serializer_with_a_field_it_cannot_plan_keeps_drfs_path(invoices: list[Invoice]) -> None:
    class Custom(PlannedRepresentation, serializers.ModelSerializer[Invoice]):
        created = serializers.DateTimeField(source="created_at", format="%Y")

        class Meta:
            model = Invoice
            fields = ["id", "created"]

    assert Custom(invoices[0]).data == {"id": str(invoices[0].id), "created": str(invoices[0].created_at.year)}
    assert Custom._plan(Custom()) is None


def test_invoice_pages_use_the_cursor_index_and_never_count(writer: JsonClient, reader: JsonClient) -> None:
    account = writer.post("/api/v1/accounts/", {"external_id": "sub-7", "name": "Bola", "currency": "NGN"}).json()
    line = {"description": "Fibre", "quantity": "1", "unit_price": "100.00"}
    for _ in range(3):
        writer.post(INVOICES, {"account": account["id"], "lines": [line]})
    with CaptureQueriesContext(connection) as first:
        page = reader.get(f"{INVOICES}?limit=2").json()
    with CaptureQueriesContext(connection) as second:
        reader.get(page["next"])
    selects = [q["sql"] for q in [*first.captured_queries, *second.captured_queries] if "invoices_invoice" in q["sql"]]
    assert not any("COUNT(" in sql.upper() for sql in selects)
    invoice_selects = [sql for sql in selects if 'FROM "invoices_invoice"' in sql]
    assert len(invoice_selects) == 2
    # A three-row table is read sequentially whatever its indexes; forbid that to see whether an
    # index serves the cursor's order (with a million rows the planner picks it: bench.api_load).
    with connection.cursor() as cursor:
        cursor.execute("SET search_path = alpha, public")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        for sql in invoice_selects:
            cursor.execute(f"EXPLAIN {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "Index Scan" in plan and "invoices_invoice" in plan, plan
            assert "Sort" not in plan and "Seq Scan" not in plan, plan
    use_public_schema()


@pytest.mark.parametrize("zone", ["UTC", "Africa/Lagos"])
def test_an_invoice_page_built_from_rows_is_invoice_output_rendered(
    invoices: list[Invoice], writer: JsonClient, reader: JsonClient, zone: str
) -> None:
    """The list reads rows (values() and the lines as JSON), the rest reads models: same JSON."""
    account = writer.post("/api/v1/accounts/", {"external_id": "sub-bhd", "name": "Dana", "currency": "BHD"}).json()
    line = {"description": "Dinar line", "quantity": "3", "unit_price": "0.3335", "discount": "0.001"}
    writer.post(INVOICES, {"account": account["id"], "lines": [line], "finalize": True, "memo": "ünïcode ✓"})
    with timezone.override(zone):
        for query in ("", "?ordering=total", "?status=draft&status=void", "?currency=bhd", "?limit=1"):
            page = reader.get(f"{INVOICES}{query}").json()["results"]
            wanted = Invoice.objects.filter(pk__in=[row["id"] for row in page])
            by_id = {str(invoice.pk): invoice for invoice in wanted}
            expected = [json.loads(JSONRenderer().render(InvoiceOutput(by_id[row["id"]]).data)) for row in page]
            assert page == expected and page, query
    everything = reader.get(INVOICES).json()["results"]
    assert {row["currency"] for row in everything} == {"NGN", "BHD"}
    assert any(line["tax_rate"] for row in everything for line in row["lines"])
    assert reader.get(f"{INVOICES}?status=draft").json()["results"][0]["status"] == "draft"


def test_a_recorded_payments_answer_is_what_reading_it_gives(invoices: list[Invoice], writer: JsonClient) -> None:
    """POST payments/ answers from the payment as recorded (no read back): the same as GET."""
    writer.post(f"{INVOICES}{invoices[0].pk}/finalize/")
    for amount in ("100.00", "999999.00"):  # part of the invoice; then the rest and account credit
        body = {"account": str(invoices[0].account_id), "amount": amount, "currency": "NGN", "method": "cash"}
        created = writer.post("/api/v1/payments/", body)
        assert created.status_code == 201
        assert created.json() == writer.get(f"/api/v1/payments/{created.json()['id']}/").json()
        assert created.json()["allocations"]
