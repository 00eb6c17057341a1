"""`payments/` (+ `refund/`) and `accounts/<id>/statement/`."""

from __future__ import annotations

import json

import pytest
from django_tenants.utils import schema_context

from apps.payments.models import Payment
from tests.api.conftest import JsonClient, assert_problem

pytestmark = pytest.mark.django_db

PAYMENTS = "/api/v1/payments/"


@pytest.fixture
def account(writer: JsonClient) -> dict:
    return writer.post("/api/v1/accounts/", {"external_id": "sub-7", "name": "Ada Obi", "currency": "NGN"}).json()


def invoice_for(client: JsonClient, account: dict, amount: str, due_date: str = "2026-12-01") -> dict:
    response = client.post(
        "/api/v1/invoices/",
        {
            "account": account["id"],
            "due_date": due_date,
            "lines": [{"description": "Fibre", "unit_price": amount}],
            "finalize": True,
        },
    )
    assert response.status_code == 201, response.content
    return response.json()


def pay(client: JsonClient, account: dict, amount: str, **extra: object) -> dict:
    body = {"account": account["id"], "amount": amount, "currency": "NGN", "method": "bank_transfer", **extra}
    response = client.post(PAYMENTS, body)
    assert response.status_code == 201, response.content
    return response.json()


def balance(client: JsonClient, account: dict) -> str:
    return client.get(f"/api/v1/accounts/{account['id']}/").json()["balance"]


def test_a_payment_with_explicit_allocations_pays_those_invoices(writer: JsonClient, account: dict) -> None:
    older = invoice_for(writer, account, "10000.00", due_date="2026-11-01")
    newer = invoice_for(writer, account, "25000.00", due_date="2026-12-01")
    payment = pay(
        writer, account, "25000.00", reference="TRF-778", allocations=[{"invoice": newer["id"], "amount": "25000.00"}]
    )
    assert (payment["status"], payment["amount"], payment["amount_allocated"], payment["unallocated"]) == (
        "succeeded",
        "25000.00",
        "25000.00",
        "0.00",
    )
    assert payment["allocations"] == [{"invoice": newer["id"], "amount": "25000.00"}]
    assert payment["created_by"] == "walter"
    assert writer.get(f"/api/v1/invoices/{newer['id']}/").json()["status"] == "paid"
    assert writer.get(f"/api/v1/invoices/{older['id']}/").json()["amount_due"] == "10000.00"
    assert balance(writer, account) == "10000.00"


def test_without_allocations_the_oldest_due_is_paid_first_and_the_rest_is_credit(
    writer: JsonClient, account: dict
) -> None:
    older = invoice_for(writer, account, "10000.00", due_date="2026-11-01")
    newer = invoice_for(writer, account, "25000.00", due_date="2026-12-01")
    payment = pay(writer, account, "40000.00")
    assert payment["allocations"] == [
        {"invoice": older["id"], "amount": "10000.00"},
        {"invoice": newer["id"], "amount": "25000.00"},
    ]
    assert payment["unallocated"] == "5000.00"
    assert balance(writer, account) == "-5000.00"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"currency": "USD"}, "currency", "the account is billed in NGN; a payment in USD is refused"),
        ({"amount": "10.001"}, "amount", "NGN amounts have at most 2 decimal places"),
        ({"amount": 0.30000000000000004}, "amount", "NGN amounts have at most 2 decimal places"),
        ({"amount": "-5"}, "amount", "the amount must be positive"),
        ({"amount": "0"}, "amount", "the amount must be positive"),
        ({"amount": "9" * 20}, "amount", "the amount is too large"),
        ({"amount": "1e3"}, "amount", "Send a decimal number as a string"),
        ({"amount": None}, "amount", "This field may not be null."),
        ({"method": "cheque"}, "method", '"cheque" is not a valid choice.'),
        ({"account": "00000000-0000-0000-0000-000000000000"}, "account", "no account"),
        ({"received_at": "yesterday"}, "received_at", "Datetime has wrong format"),
        ({"received_at": "9999-12-31T23:00:00-05:00"}, "received_at", "Datetime value out of range."),
        ({"received_at": "1800-01-01T00:00:00Z"}, "received_at", "Dates start on 1900-01-01."),
        (
            {"allocations": [{"invoice": "00000000-0000-0000-0000-000000000000", "amount": "1"}]},
            "allocations.0.invoice",
            "does not belong to this account",
        ),
        ({"allocations": "all"}, "allocations", 'Expected a list of items but got type "str".'),
    ],
)
def test_bad_payments_are_refused_field_by_field(
    writer: JsonClient, account: dict, change: dict, field: str, message: str
) -> None:
    body = {"account": account["id"], "amount": "100.00", "currency": "NGN", "method": "cash", **change}
    problem = assert_problem(writer.post(PAYMENTS, body), 400, type_slug="validation-error")
    assert list(problem["errors"]) == [field]
    assert message in problem["errors"][field][0]
    with schema_context("alpha"):
        assert not Payment.objects.exists()


def test_a_json_number_is_taken_exactly_not_as_a_float(writer: JsonClient, account: dict) -> None:
    payment = writer.client.post(
        PAYMENTS,
        json.dumps({"account": account["id"], "amount": 100.5, "currency": "NGN", "method": "cash"}),
        content_type="application/json",
        **writer.headers,
    )
    assert payment.json()["amount"] == "100.50"


def test_refunds_need_billing_admin_and_come_from_credit_first(
    writer: JsonClient, admin: JsonClient, account: dict
) -> None:
    invoice = invoice_for(writer, account, "25000.00")
    payment = pay(writer, account, "30000.00")
    path = f"{PAYMENTS}{payment['id']}/refund/"
    assert_problem(writer.post(path, {"amount": "1.00", "reason": "x"}), 403, detail_contains="billing.admin")
    refunded = admin.post(path, {"amount": "7000.00", "reason": "Double charge"})
    assert refunded.status_code == 200
    body = refunded.json()
    assert (body["amount_refunded"], body["amount_allocated"], body["unallocated"]) == ("7000.00", "23000.00", "0.00")
    assert [(r["amount"], r["from_credit"], r["reason"], r["created_by"]) for r in body["refunds"]] == [
        ("7000.00", "5000.00", "Double charge", "alice")
    ]
    assert writer.get(f"/api/v1/invoices/{invoice['id']}/").json()["status"] == "open"
    assert balance(writer, account) == "2000.00"
    problem = assert_problem(admin.post(path, {"amount": "23000.01", "reason": "x"}), 400, type_slug="validation-error")
    assert problem["errors"] == {"amount": ["at most 23000.00 NGN of this payment can be refunded"]}
    assert_problem(admin.post(path, {"amount": "1.00"}), 400, type_slug="validation-error")


def test_payments_are_listed_and_filtered(writer: JsonClient, account: dict) -> None:
    first = pay(writer, account, "100.00", reference="R-1")
    second = pay(writer, account, "200.00", reference="R-2", method="cash")
    listing = writer.get(f"{PAYMENTS}?account={account['id']}").json()
    assert [p["id"] for p in listing["results"]] == [second["id"], first["id"]]
    assert [p["id"] for p in writer.get(f"{PAYMENTS}?method=cash").json()["results"]] == [second["id"]]
    assert [p["id"] for p in writer.get(f"{PAYMENTS}?reference=R-1").json()["results"]] == [first["id"]]
    assert writer.get(f"{PAYMENTS}{first['id']}/").json() == first


def test_the_statement_runs_to_the_accounts_balance(writer: JsonClient, admin: JsonClient, account: dict) -> None:
    invoice = invoice_for(writer, account, "25000.00")
    voided = invoice_for(writer, account, "500.00")
    admin.post(f"/api/v1/invoices/{voided['id']}/void/", {"reason": "Error"})
    written_off = invoice_for(writer, account, "800.00")
    admin.post(f"/api/v1/invoices/{written_off['id']}/mark-uncollectible/", {})
    payment = pay(writer, account, "30000.00", reference="TRF-1")
    writer.post("/api/v1/credit-notes/", {"invoice": invoice["id"], "amount": "1000.00", "reason": "SLA"})
    admin.post(f"{PAYMENTS}{payment['id']}/refund/", {"amount": "7000.00", "reason": "Double charge"})

    statement = writer.get(f"/api/v1/accounts/{account['id']}/statement/").json()
    assert [(line["kind"], line["amount"], line["balance"]) for line in statement["lines"]] == [
        ("invoice", "25000.00", "25000.00"),
        ("invoice", "500.00", "25500.00"),
        ("void", "-500.00", "25000.00"),
        ("invoice", "800.00", "25800.00"),
        ("write_off", "-800.00", "25000.00"),
        ("payment", "-30000.00", "-5000.00"),
        ("credit_note", "-1000.00", "-6000.00"),
        ("refund", "7000.00", "1000.00"),
    ]
    totals = ("opening_balance", "invoiced", "voided", "credited", "paid", "refunded", "written_off", "closing_balance")
    assert [statement[name] for name in totals] == [
        "0.00",
        "26300.00",
        "500.00",
        "1000.00",
        "30000.00",
        "7000.00",
        "800.00",
        "1000.00",
    ]
    assert statement["closing_balance"] == balance(writer, account)
    assert statement["lines"][5]["reference"] == "TRF-1"


def test_a_statement_period_starts_from_its_opening_balance(writer: JsonClient, account: dict) -> None:
    invoice_for(writer, account, "25000.00")
    path = f"/api/v1/accounts/{account['id']}/statement/"
    future = writer.get(f"{path}?start=2999-01-01&end=2999-01-31").json()
    assert (future["opening_balance"], future["closing_balance"], future["lines"]) == ("25000.00", "25000.00", [])
    past = writer.get(f"{path}?start=1999-01-01&end=2000-01-01").json()
    assert (past["opening_balance"], past["closing_balance"], past["lines"]) == ("0.00", "0.00", [])
    problem = assert_problem(writer.get(f"{path}?start=2026-02-01&end=2026-01-01"), 400, type_slug="validation-error")
    assert problem["errors"] == {"end": ["the statement ends before it starts"]}
    assert_problem(writer.get(f"{path}?start=someday"), 400, type_slug="validation-error")
    problem = assert_problem(writer.get(f"{path}?end=9999-12-31"), 400, type_slug="validation-error")
    assert problem["errors"] == {"end": ["Dates end on 2999-12-31."]}
