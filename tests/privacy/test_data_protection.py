"""Account export and anonymisation: API, service, command and admin; audited; financial records kept."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.models import Account
from apps.events.models import Event
from apps.invoices.models import Invoice
from apps.payments.models import Payment, PaymentMethodOnFile
from apps.privacy.models import DataProtectionRecord
from tests.accounts.factories import AccountFactory
from tests.api.conftest import JsonClient, assert_problem
from tests.privacy.conftest import ADA_EMAIL, ADA_PHONE, Customer

pytestmark = pytest.mark.django_db


def refused(response: Any) -> int:
    assert response["Content-Type"] == "application/problem+json"
    return response.status_code


def export_url(account: Account) -> str:
    return f"/api/v1/accounts/{account.pk}/export/"


def anonymise_url(account: Account) -> str:
    return f"/api/v1/accounts/{account.pk}/anonymise/"


def test_the_export_holds_everything_about_the_account_and_is_audited(
    reader: JsonClient, closed_customer: Customer
) -> None:
    response = reader.get(export_url(closed_customer.account))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["format"] == "dotmac-billing.account-export/1"
    assert body["tenant"] == "alpha"
    assert body["account"]["email"] == ADA_EMAIL
    assert body["account"]["phone"] == ADA_PHONE
    assert body["account"]["balance"] == "0.00"
    # The history shows the e-mail it had before.
    assert [entry["email"] for entry in body["account_history"]][:2] == ["ada@example.org", ADA_EMAIL]
    [invoice] = body["invoices"]
    assert invoice["id"] == str(closed_customer.invoice.pk)
    assert invoice["total"] == "25000.00" and invoice["status"] == "paid"
    assert invoice["account_snapshot"]["email"] == ADA_EMAIL
    assert [(line["quantity"], line["unit_price"]) for line in invoice["lines"]] == [("1", "25000")]
    [payment] = body["payments"]
    assert payment["reference"] == "TRF-778"
    assert [allocation["amount"] for allocation in payment["allocations"]] == ["25000.00"]
    assert [method["last4"] for method in body["payment_methods"]] == ["4242"]
    assert {"account.created", "account.updated", "account.closed", "payment.succeeded"} <= {
        event["type"] for event in body["events"]
    }
    with schema_context("alpha"):
        record = DataProtectionRecord.objects.get(pk=body["export_id"])
    assert (record.kind, record.actor, record.via) == ("export", "rita", "api")
    assert record.summary["invoices"] == 1 and record.summary["payments"] == 1


def test_anonymising_erases_the_person_and_keeps_the_books(admin: JsonClient, closed_customer: Customer) -> None:
    response = admin.post(anonymise_url(closed_customer.account), {"reason": "erasure request #4711"})
    assert response.status_code == 200, response.content
    body = response.json()
    number = closed_customer.account.number
    assert body["name"] == f"Anonymised {number}"
    assert (body["email"], body["phone"], body["external_id"], body["address_line1"], body["metadata"]) == (
        "",
        "",
        None,
        "",
        {},
    )
    assert body["status"] == "closed"

    with schema_context("alpha"):
        account = Account.objects.get(pk=closed_customer.account.pk)
        # No past version of the account remembers the person.
        assert set(account.history.values_list("email", flat=True)) == {""}
        assert set(account.history.values_list("name", flat=True)) == {f"Anonymised {number}"}
        invoice = Invoice.objects.get(pk=closed_customer.invoice.pk)
        # The invoice keeps what a VAT invoice must show, and its amounts; not the contact details.
        assert invoice.account_snapshot["name"] == "Ada Obi"
        assert invoice.account_snapshot["tax_id"] == "NG-TIN-123"
        assert "email" not in invoice.account_snapshot and "phone" not in invoice.account_snapshot
        assert all("email" not in past.account_snapshot for past in invoice.history.all())
        assert (invoice.total, invoice.amount_paid, invoice.status) == (Decimal(25000), Decimal(25000), "paid")
        payment = Payment.objects.get(pk=closed_customer.payment.pk)
        assert payment.metadata == {"payer_email": "a***@example.com"}
        assert (payment.amount, payment.reference) == (Decimal(25000), "TRF-778")
        assert list(PaymentMethodOnFile.objects.filter(account=account).values_list("last4", "brand")) == [("", "")]
        # The notification log (the payment's receipt went to Ada) keeps the notice, not the person.
        from apps.notifications.models import Notification

        notices = Notification.objects.filter(account=account)
        assert notices.exists()
        assert set(notices.values_list("recipient", "subject", "body")) == {("", "", "")}
        event = Event.objects.get(type="account.anonymised", subject=str(account.pk))
        assert set(event.data) == {"account", "number", "anonymised_at"}
        record = DataProtectionRecord.objects.get(account=account, kind="anonymise")
        assert (record.actor, record.via, record.reason) == ("alice", "api", "erasure request #4711")
        history_rows = account.history.count()
        assert record.summary == {
            "account_history_rows": history_rows,
            "invoices": 1,
            "payments": 1,
            "payment_methods": 1,
        }
        assert history_rows >= 3  # created, e-mail changed, closed, and anonymised

    # The export afterwards holds no trace of the e-mail address or phone outside the invoice's legal copy.
    exported = json.dumps(admin.get(export_url(closed_customer.account)).json())
    assert ADA_EMAIL not in exported and ADA_PHONE not in exported


def test_anonymising_twice_answers_the_same_without_a_second_event(
    admin: JsonClient, closed_customer: Customer
) -> None:
    first = admin.post(anonymise_url(closed_customer.account), {"reason": "first"})
    second = admin.post(anonymise_url(closed_customer.account), {"reason": "second"})
    assert second.status_code == 200 and second.json() == first.json()
    with schema_context("alpha"):
        assert Event.objects.filter(type="account.anonymised", subject=str(closed_customer.account.pk)).count() == 1


def test_an_open_account_is_not_anonymised(admin: JsonClient, tenant_a: object) -> None:
    with schema_context("alpha"):
        account = AccountFactory()
    assert_problem(
        admin.post(anonymise_url(account), {}), 409, type_slug="invalid-transition", detail_contains="close it first"
    )
    with schema_context("alpha"):
        assert Account.objects.get(pk=account.pk).email == account.email


def test_anonymising_needs_billing_admin_and_the_callers_own_tenant(
    writer: JsonClient, outsider: JsonClient, closed_customer: Customer, api: Client
) -> None:
    assert refused(writer.post(anonymise_url(closed_customer.account), {})) == 403
    # Tenant beta's admin cannot see alpha's account at all.
    assert refused(outsider.post(anonymise_url(closed_customer.account), {})) == 404
    assert refused(outsider.get(export_url(closed_customer.account))) == 404
    assert refused(api.get(export_url(closed_customer.account))) == 401
    with schema_context("alpha"):
        assert Account.objects.get(pk=closed_customer.account.pk).email == ADA_EMAIL
        assert not DataProtectionRecord.objects.filter(account=closed_customer.account).exists()


def test_the_commands_export_and_anonymise_with_one_line_errors(closed_customer: Customer, tmp_path: Path) -> None:
    output = tmp_path / "ada.json"
    call_command("export_account", "sub-ada", tenant="alpha", output=str(output), reason="DSAR 12")
    assert json.loads(output.read_text())["account"]["email"] == ADA_EMAIL
    with pytest.raises(CommandError, match="add --yes to confirm"):
        call_command("anonymise_account", closed_customer.account.number, tenant="alpha", reason="r")
    with pytest.raises(CommandError, match="unknown tenant 'nope'"):
        call_command("anonymise_account", "x", tenant="nope", reason="r", yes=True)
    call_command("anonymise_account", closed_customer.account.number, tenant="alpha", reason="DSAR 12", yes=True)
    with schema_context("alpha"):
        assert list(
            DataProtectionRecord.objects.filter(account=closed_customer.account).values_list("kind", "actor")
        ) == [("anonymise", "system (command)"), ("export", "system (command)")]
        assert Account.objects.get(pk=closed_customer.account.pk).email == ""


def test_account_events_carry_no_contact_details(writer: JsonClient) -> None:
    created = writer.post(
        "/api/v1/accounts/",
        {"name": "Bea", "email": "bea@example.com", "phone": "+2348012345679", "currency": "NGN"},
    ).json()
    writer.patch(f"/api/v1/accounts/{created['id']}/", {"email": "bea.new@example.com"})
    with schema_context("alpha"):
        payloads = json.dumps(list(Event.objects.filter(subject=created["id"]).values_list("data", flat=True)))
    assert "bea" not in payloads and "2348012345679" not in payloads
    assert '"changed": ["email"]' in payloads
