"""Issue 3's "Done when", entirely through admin HTTP requests: a finance clerk takes an account
from its first invoice to paid, with a partial payment, a credit note and a refund (by the
manager), and after every step the account balance and the AR aging agree to the cent."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.models import Account
from apps.core.tenancy import tenant_today
from apps.invoices.models import Invoice, InvoiceStatus, TaxRate
from apps.payments.models import Payment
from apps.payments.selectors import account_statement
from tests.payments.admin_fixtures import changelist_action, inline_management, messages_of

pytestmark = pytest.mark.django_db


def aging_net(client: Client, currency: str) -> tuple[Decimal, Decimal]:
    """(total open, net of credit) for `currency`, as the AR aging page shows them."""
    response = client.get(reverse("reports:aging"))
    assert response.status_code == 200
    rows = {row.currency: row for row in response.context["rows"]}
    if currency not in rows:
        return Decimal(0), Decimal(0)
    return rows[currency].total, rows[currency].net


def assert_balance_matches_aging(client: Client, account: Account, expected_balance: str) -> None:
    account.refresh_from_db()
    total, net = aging_net(client, account.currency)
    assert account.balance == Decimal(expected_balance)
    assert (total, net) == (account.amount_due, account.balance)


def record_payment(client: Client, account: Account, amount: str, reference: str) -> Any:
    form = {"account": str(account.pk), "amount": amount, "method": "bank_transfer", "reference": reference}
    url = reverse("admin:payments_payment_add")
    preview = client.post(url, {**form, "_preview": "1"})
    assert preview.status_code == 200
    assert preview.context["preview"] is not None
    token = preview.context["form"].data["preview_token"]
    return client.post(url, {**form, "preview_token": token, "_confirm": "1"}, follow=True), preview


def test_a_clerk_takes_an_account_from_first_invoice_to_paid_in_the_admin(
    clerk: Any, manager: Any, login_a: Any
) -> None:
    as_clerk, as_manager = login_a(clerk), login_a(manager)
    month_start = tenant_today().replace(day=1)  # before anything is issued: a run may cross midnight

    # 1. The clerk opens the account.
    response = as_clerk.post(
        reverse("admin:accounts_account_add"),
        {
            "name": "Ada Obi",
            "external_id": "sub-1001",
            "currency": "ngn",
            "email": "ada@example.com",
            "phone": "+234 801 234 5678",
            "locale": "en",
            "timezone": "Africa/Lagos",
            "notify_by_email": "on",
            "tags": "[]",
            "metadata": "{}",
            "_save": "Save",
        },
        follow=True,
    )
    assert response.status_code == 200
    account = Account.objects.get(external_id="sub-1001")
    assert (account.number[:4], account.currency, account.phone) == ("ACC-", "NGN", "+2348012345678")
    assert_balance_matches_aging(as_clerk, account, "0")

    # 2. The clerk writes a draft with two lines; new lines start with the default VAT rate.
    add_url = reverse("admin:invoices_invoice_add") + f"?account={account.pk}"
    blank = as_clerk.get(add_url)
    vat = TaxRate.objects.get(is_default=True)
    assert blank.context["inline_admin_formsets"][0].formset.forms[0].initial["tax_rate"] == vat.pk
    response = as_clerk.post(
        add_url,
        {
            "account": str(account.pk),
            "due_date": "",
            "memo": "December",
            **inline_management("lines", 3),
            "lines-0-description": "Fibre 100 Mbps, December",
            "lines-0-quantity": "1",
            "lines-0-unit_price": "25000.00",
            "lines-0-discount": "0",
            "lines-0-tax_rate": str(vat.pk),
            "lines-1-description": "Installation",
            "lines-1-quantity": "1",
            "lines-1-unit_price": "5000.00",
            "lines-1-discount": "0",
            "lines-1-tax_rate": "",
            "lines-2-quantity": "1",
            "lines-2-discount": "0",
            "lines-2-tax_rate": str(vat.pk),
            "_save": "Save",
        },
        follow=True,
    )
    assert response.status_code == 200, response.context and response.context.get("errors")
    invoice = Invoice.objects.get(account=account)
    assert (invoice.status, invoice.total, invoice.lines.count()) == ("draft", Decimal("31875.00"), 2)
    assert_balance_matches_aging(as_clerk, account, "0")

    # 3. Finalize and send, from the changelist.
    response = changelist_action(as_clerk, "invoices.invoice", "finalize_invoices", [invoice])
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    assert messages_of(response) == [f"Draft {str(invoice.pk)[:8]}: finalized as {invoice.number}"]
    response = changelist_action(as_clerk, "invoices.invoice", "send_invoices", [invoice])
    assert messages_of(response) == [f"{invoice.number}: sent"]
    assert_balance_matches_aging(as_clerk, account, "31875.00")

    # 4. A partial payment, previewed then confirmed.
    response, preview = record_payment(as_clerk, account, "10000.00", "TRF-778")
    assert [(line.invoice.pk, line.amount) for line in preview.context["preview"].lines] == [
        (invoice.pk, Decimal("10000.00"))
    ]
    assert response.status_code == 200
    first_payment = Payment.objects.get(reference="TRF-778")
    assert first_payment.amount_allocated == Decimal("10000.00")
    assert_balance_matches_aging(as_clerk, account, "21875.00")

    # 5. The manager credits the VAT of the first line (the clerk may not).
    credit_url = reverse("admin:invoices_creditnote_add") + f"?invoice={invoice.pk}"
    assert as_clerk.get(credit_url).status_code == 403
    response = as_manager.post(
        credit_url, {"invoice": str(invoice.pk), "amount": "1875.00", "reason": "VAT charged in error"}, follow=True
    )
    assert response.status_code == 200
    invoice.refresh_from_db()
    assert (invoice.amount_credited, invoice.amount_due) == (Decimal("1875.00"), Decimal("20000.00"))
    assert_balance_matches_aging(as_clerk, account, "20000.00")

    # 6. The manager refunds part of the payment (the clerk may not): the invoice owes it again.
    refund_url = reverse("admin:payments_payment_refund", args=[first_payment.pk])
    assert as_clerk.get(refund_url).status_code == 403
    response = as_manager.post(refund_url, {"amount": "500.00", "reason": "bank charges returned"}, follow=True)
    assert response.status_code == 200
    first_payment.refresh_from_db()
    assert first_payment.amount_refunded == Decimal("500.00")
    assert_balance_matches_aging(as_clerk, account, "20500.00")

    # 7. The clerk records the rest: the invoice is paid and nothing is owed.
    response, _preview = record_payment(as_clerk, account, "20500.00", "TRF-779")
    assert response.status_code == 200
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_due, invoice.amount_paid) == ("paid", 0, Decimal("30000.00"))
    assert_balance_matches_aging(as_clerk, account, "0")

    # The statement (the account page's Statement button) tells the same story.
    account_page = as_clerk.get(reverse("admin:accounts_account_change", args=[account.pk])).content.decode()
    statement_url = reverse("account-statement-document", args=[account.pk])
    assert f'href="{statement_url}"' in account_page
    assert as_clerk.get(statement_url).status_code == 200
    statement = account_statement(account=account, start=month_start, end=tenant_today())
    assert [(line.kind, line.amount) for line in statement.lines] == [
        ("invoice", Decimal("31875.00")),
        ("payment", Decimal("-10000.00")),
        ("credit_note", Decimal("-1875.00")),
        ("refund", Decimal("500.00")),
        ("payment", Decimal("-20500.00")),
    ]
    assert (statement.opening_balance, statement.closing_balance) == (0, account.balance)
