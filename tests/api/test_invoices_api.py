"""`invoices/` and `credit-notes/`: drafts, finalize, send, void, write-off, PDF, filters, bulk."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from apps.core.tenancy import tenant_today
from apps.invoices.models import Invoice, TaxRate
from tests.api.conftest import JsonClient, assert_problem

pytestmark = pytest.mark.django_db

INVOICES = "/api/v1/invoices/"
FIBRE = {"description": "Fibre 100 Mbps, December", "quantity": "1", "unit_price": "25000.00"}


@pytest.fixture
def account(writer: JsonClient) -> dict:
    response = writer.post(
        "/api/v1/accounts/", {"external_id": "sub-1001", "name": "Ada Obi", "currency": "NGN", "phone": ""}
    )
    assert response.status_code == 201
    return response.json()


@pytest.fixture
def vat() -> TaxRate:
    with schema_context("alpha"):
        return TaxRate.objects.create(name="VAT", percentage=Decimal("7.5"))


def new_invoice(client: JsonClient, account: dict, **changes: object) -> dict:
    response = client.post(INVOICES, {"account": account["id"], "lines": [FIBRE], **changes})
    assert response.status_code == 201, response.content
    return response.json()


def test_a_draft_is_created_with_its_lines_and_exact_totals(writer: JsonClient, account: dict, vat: TaxRate) -> None:
    response = writer.post(
        INVOICES,
        {
            "account": account["id"],
            "currency": "NGN",
            "due_date": "2026-12-01",
            "lines": [
                {"description": "Fibre 100 Mbps", "quantity": "1", "unit_price": "25000.00", "tax_rate": str(vat.pk)},
                {"description": "Router rental", "quantity": "3", "unit_price": "333.333333", "discount": "0.50"},
            ],
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["number"], body["currency"], body["due_date"]) == ("draft", None, "NGN", "2026-12-01")
    assert (body["subtotal"], body["tax"], body["total"], body["amount_due"]) == (
        "25999.50",
        "1875.00",
        "27874.50",
        "27874.50",
    )
    assert [(line["net_amount"], line["tax_amount"], line["total"]) for line in body["lines"]] == [
        ("25000.00", "1875.00", "26875.00"),
        ("999.50", "0.00", "999.50"),
    ]
    assert body["lines"][0]["tax_rate"] == str(vat.pk) and body["lines"][0]["tax_percentage"] == "7.5"
    assert body["lines"][1]["unit_price"] == "333.333333" and body["lines"][1]["quantity"] == "3"
    assert response["Location"] == f"http://localhost{INVOICES}{body['id']}/"


def test_finalizing_numbers_it_and_keeps_a_past_due_date(writer: JsonClient, account: dict) -> None:
    draft = new_invoice(writer, account, due_date="2020-01-31", issue_date="2020-01-01")
    final = writer.post(f"{INVOICES}{draft['id']}/finalize/").json()
    assert final["status"] == "open"
    assert re.fullmatch(r"INV-2020-\d{6}", final["number"])
    assert (final["issue_date"], final["due_date"]) == ("2020-01-01", "2020-01-31")
    assert writer.get(f"/api/v1/accounts/{account['id']}/").json()["balance"] == "25000.00"
    assert_problem(writer.post(f"{INVOICES}{draft['id']}/finalize/"), 409, type_slug="invalid-transition")


def test_create_and_finalize_in_one_request(writer: JsonClient, account: dict) -> None:
    before = tenant_today()
    body = new_invoice(writer, account, finalize=True)
    issued = dt.date.fromisoformat(body["issue_date"])
    assert body["status"] == "open" and before <= issued <= tenant_today()  # today (a run may cross midnight)
    assert body["due_date"] == (issued + dt.timedelta(days=14)).isoformat()


def test_only_drafts_are_edited_or_deleted(writer: JsonClient, account: dict) -> None:
    draft = new_invoice(writer, account)
    edited = writer.patch(
        f"{INVOICES}{draft['id']}/",
        {"lines": [{"description": "Fibre 300", "unit_price": "40000"}], "memo": "Upgrade", "due_date": None},
    ).json()
    assert (edited["total"], edited["memo"], [line["description"] for line in edited["lines"]]) == (
        "40000.00",
        "Upgrade",
        ["Fibre 300"],
    )
    other = new_invoice(writer, account)
    assert writer.delete(f"{INVOICES}{other['id']}/").status_code == 204
    assert_problem(writer.get(f"{INVOICES}{other['id']}/"), 404)
    writer.post(f"{INVOICES}{draft['id']}/finalize/")
    assert_problem(writer.patch(f"{INVOICES}{draft['id']}/", {"memo": "late"}), 409, type_slug="invalid-transition")
    assert_problem(writer.delete(f"{INVOICES}{draft['id']}/"), 409, type_slug="invalid-transition")


def test_send_void_and_write_off_need_the_right_role(writer: JsonClient, admin: JsonClient, account: dict) -> None:
    first = new_invoice(writer, account, finalize=True)
    sent = writer.post(f"{INVOICES}{first['id']}/send/").json()
    assert sent["sent_at"] is not None
    assert_problem(writer.post(f"{INVOICES}{first['id']}/void/", {"reason": "x"}), 403, detail_contains="billing.admin")
    voided = admin.post(f"{INVOICES}{first['id']}/void/", {"reason": "Issued in error"}).json()
    assert (voided["status"], voided["status_reason"]) == ("void", "Issued in error")
    second = new_invoice(writer, account, finalize=True)
    assert_problem(writer.post(f"{INVOICES}{second['id']}/mark-uncollectible/"), 403)
    written_off = admin.post(f"{INVOICES}{second['id']}/mark-uncollectible/", {"reason": "Gone"}).json()
    assert written_off["status"] == "uncollectible"
    assert writer.get(f"/api/v1/accounts/{account['id']}/").json()["balance"] == "0.00"


def test_the_pdf_is_a_pdf(reader: JsonClient, writer: JsonClient, account: dict) -> None:
    invoice = new_invoice(writer, account, finalize=True)
    response = reader.get(f"{INVOICES}{invoice['id']}/pdf/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert response["Content-Disposition"] == f'inline; filename="{invoice["number"]}.pdf"'


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"currency": "USD"}, "currency", "the account is billed in NGN; an invoice in USD is not allowed"),
        ({"lines": [{**FIBRE, "unit_price": "abc"}]}, "lines.0.unit_price", "Send a decimal number as a string"),
        ({"lines": [{**FIBRE, "quantity": "-1"}]}, "lines.0.quantity", "quantity must be between 0 and"),
        ({"lines": [{**FIBRE, "unit_price": "99999999999999"}]}, "lines.0.unit_price", "unit price must be between"),
        ({"lines": [{**FIBRE, "discount": "0.001"}]}, "lines.0.discount", "at most 2 decimal places"),
        ({"lines": [{**FIBRE, "unit_price": "1e5"}]}, "lines.0.unit_price", "Send a decimal number as a string"),
        ({"lines": [{**FIBRE, "unit_price": True}]}, "lines.0.unit_price", "Send a decimal number as a string"),
        ({"lines": [{**FIBRE, "tax_rate": "00000000-0000-0000-0000-000000000000"}]}, "lines.0.tax_rate", "unknown"),
        ({"lines": []}, "lines", "Ensure this field has at least 1 elements."),
        ({"account": "00000000-0000-0000-0000-000000000000"}, "account", "no account"),
        ({"account": "not-a-uuid"}, "account", "Must be a valid UUID."),
        ({"due_date": "2026-13-45"}, "due_date", "Date has wrong format"),
        ({"issue_date": "9999-12-31", "finalize": True}, "issue_date", "Dates end on 2999-12-31."),
    ],
)
def test_bad_invoices_are_refused_field_by_field(
    writer: JsonClient, account: dict, change: dict, field: str, message: str
) -> None:
    body = {"account": account["id"], "lines": [FIBRE], **change}
    problem = assert_problem(writer.post(INVOICES, body), 400, type_slug="validation-error")
    assert list(problem["errors"]) == [field]
    assert message in problem["errors"][field][0]


def test_lists_filter_by_status_account_currency_and_overdue(writer: JsonClient, account: dict) -> None:
    other = writer.post("/api/v1/accounts/", {"name": "Bola", "currency": "NGN"}).json()
    draft = new_invoice(writer, account)
    overdue = new_invoice(writer, account, due_date="2020-01-31", finalize=True)
    current = new_invoice(writer, other, due_date="2999-01-31", finalize=True)

    def ids(query: str) -> list[str]:
        response = writer.get(f"{INVOICES}?{query}")
        assert response.status_code == 200, response.content
        return sorted(invoice["id"] for invoice in response.json()["results"])

    assert ids("status=draft") == [draft["id"]]
    assert ids("status=open") == sorted([overdue["id"], current["id"]])
    assert ids(f"account={other['id']}") == [current["id"]]
    assert ids("overdue=true") == [overdue["id"]]
    assert ids("overdue=false") == sorted([draft["id"], current["id"]])
    assert ids("due_before=2021-01-01") == [overdue["id"]]
    assert ids("currency=ngn&status=open&status=draft") == sorted([draft["id"], overdue["id"], current["id"]])
    assert ids("currency=USD") == []
    assert_problem(writer.get(f"{INVOICES}?status=lost"), 400, type_slug="validation-error")
    with CaptureQueriesContext(connection) as queries:
        writer.get(f"{INVOICES}?limit=2")
    assert not any("COUNT(" in query["sql"].upper() for query in queries.captured_queries)


def test_bulk_creates_each_item_on_its_own(writer: JsonClient, account: dict) -> None:
    response = writer.post(
        f"{INVOICES}bulk/",
        {
            "invoices": [
                {"account": account["id"], "lines": [FIBRE]},
                {"account": account["id"], "lines": [{**FIBRE, "unit_price": "-5"}], "finalize": True},
                {"account": account["id"], "lines": [FIBRE], "finalize": True, "external_id": "imp-1"},
                {"account": account["id"], "lines": [FIBRE], "external_id": "imp-1"},
            ]
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["failed"]) == (2, 2)
    assert [result["status"] for result in body["results"]] == [201, 400, 201, 400]
    assert body["results"][0]["invoice"]["status"] == "draft"
    assert body["results"][2]["invoice"]["status"] == "open"
    assert body["results"][1]["error"]["errors"] == {"lines.0.unit_price": ["unit price must be between 0 and 1E+12"]}
    assert body["results"][3]["error"]["errors"] == {
        "external_id": ["an invoice with external_id 'imp-1' already exists"]
    }
    with schema_context("alpha"):
        assert Invoice.objects.filter(account_id=account["id"]).count() == 2


def test_bulk_takes_at_most_500(writer: JsonClient, account: dict) -> None:
    item = {"account": account["id"], "lines": [FIBRE]}
    problem = assert_problem(
        writer.post(f"{INVOICES}bulk/", {"invoices": [item] * 501}), 400, type_slug="validation-error"
    )
    assert problem["errors"] == {"invoices": ["Ensure this field has no more than 500 elements."]}


def test_credit_notes_reduce_what_an_invoice_owes(writer: JsonClient, account: dict) -> None:
    invoice = new_invoice(writer, account, finalize=True)
    response = writer.post(
        "/api/v1/credit-notes/", {"invoice": invoice["id"], "amount": "5000.00", "reason": "Outage, 6 days"}
    )
    assert response.status_code == 201
    note = response.json()
    assert re.fullmatch(r"CN-\d{4}-\d{6}", note["number"])
    assert (note["amount"], note["amount_applied"], note["account"]) == ("5000.00", "5000.00", account["id"])
    assert writer.get(f"{INVOICES}{invoice['id']}/").json()["amount_due"] == "20000.00"
    assert [n["id"] for n in writer.get(f"/api/v1/credit-notes/?invoice={invoice['id']}").json()["results"]] == [
        note["id"]
    ]
    too_much = writer.post("/api/v1/credit-notes/", {"invoice": invoice["id"], "amount": "20000.01", "reason": "x"})
    problem = assert_problem(too_much, 400, type_slug="validation-error")
    assert problem["errors"] == {
        "amount": [f"at most 20000.00 NGN of invoice {invoice['number']} can still be credited"]
    }
