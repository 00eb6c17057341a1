"""Invoice documents: HTML and PDF from the template, money in the account's locale, staff-only views."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from pypdf import PdfReader

from apps.accounts.models import Account, BillingSettings
from apps.invoices.credit_notes import credit_note_issue
from apps.invoices.documents import document_locale, invoice_html, invoice_pdf
from apps.invoices.models import Invoice, TaxRate
from apps.invoices.services import LineInput, invoice_create, invoice_finalize
from apps.payments.services import payment_record
from apps.tenants.models import Tenant
from tests.accounts.factories import AccountFactory
from tests.invoices.factories import draft_invoice, open_invoice

pytestmark = pytest.mark.django_db

# A 2x2 red PNG.
LOGO_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000002000000020802000000fdd49a73000000164944415478"
    "9c63f8cfc0c0f01f0418181818fe030000640efe0203dd5cb00000000049454e44ae426082"
)


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


def profile(**fields: Any) -> BillingSettings:
    settings = BillingSettings.load()
    for name, value in fields.items():
        setattr(settings, name, value)
    settings.save()
    return settings


def nigerian_invoice() -> tuple[Account, Invoice]:
    account = AccountFactory(
        name="Ada Obi",
        currency="NGN",
        locale="en",
        country="NG",
        address_line1="12 Marina Road",
        city="Lagos",
        tax_id="TIN-0042",
    )
    vat = TaxRate.objects.create(name="VAT", percentage=Decimal("7.5"))
    invoice = invoice_create(
        account=account,
        lines=[
            LineInput(description="Fibre 100 Mbps, December", unit_price="20000.00"),
            LineInput(description="Router rental", unit_price="4651.16", tax_rate=vat),
        ],
    )
    return account, invoice_finalize(invoice=invoice)


@pytest.mark.parametrize(
    ("language", "country", "currency", "expected"),
    [
        ("en", "NG", "NGN", "en_NG"),
        ("en", "", "NGN", "en_NG"),
        ("fr", "FR", "EUR", "fr_FR"),
        ("fr", "", "EUR", "fr"),
        ("es", "", "USD", "es_US"),
        ("en", "", "XOF", "en"),
        ("fr", "NG", "NGN", "fr"),
    ],
)
def test_the_document_locale_comes_from_language_country_and_currency(
    language: str, country: str, currency: str, expected: str
) -> None:
    assert document_locale(language, country, currency) == expected


def test_the_invoice_pdf_shows_number_parties_lines_and_totals_in_the_accounts_locale(in_tenant_a: Tenant) -> None:
    profile(
        company_name="Alpha Networks Ltd",
        company_address="1 Broad Street\nLagos",
        company_tax_id="RC-778899",
    )
    account, invoice = nigerian_invoice()
    payment_record(account=account, amount="10000.00", currency="NGN", method="bank_transfer")
    invoice.refresh_from_db()
    assert invoice.total == Decimal("25000.00")

    content = invoice_pdf(invoice)

    assert content.startswith(b"%PDF")
    text = pdf_text(content)
    assert invoice.number is not None
    for expected in (
        invoice.number,
        "Alpha Networks Ltd",
        "1 Broad Street",
        "RC-778899",
        "Ada Obi",
        "12 Marina Road",
        "TIN-0042",
        account.number,
        "Fibre 100 Mbps, December",
        "₦20,000.00",
        "₦4,651.16",
        "7.5%",
        "₦348.84",  # VAT on the router line
        "₦25,000.00",  # total
        "₦10,000.00",  # paid
        "₦15,000.00",  # due
    ):
        assert expected in text, expected


def test_a_french_account_sees_french_number_formats(in_tenant_a: Tenant) -> None:
    account = AccountFactory(name="Léa Martin", currency="EUR", locale="fr", country="FR")
    invoice = invoice_finalize(
        invoice=invoice_create(account=account, lines=[LineInput(description="Fibre", unit_price="1234.50")])
    )
    html = invoice_html(invoice)
    assert "1\u202f234,50\xa0€" in html
    text = pdf_text(invoice_pdf(invoice))
    assert "1 234,50 €" in text.replace("\u202f", " ").replace("\xa0", " ")
    assert "1,234.50" not in text


def test_the_pdf_uses_the_frozen_snapshot_not_the_accounts_current_details(in_tenant_a: Tenant) -> None:
    account, invoice = nigerian_invoice()
    Account.objects.filter(pk=account.pk).update(name="Renamed Later Ltd")
    invoice.refresh_from_db()
    text = pdf_text(invoice_pdf(invoice))
    assert "Ada Obi" in text
    assert "Renamed Later" not in text


def test_a_draft_renders_as_a_draft_and_credits_show_on_the_invoice(in_tenant_a: Tenant) -> None:
    account = AccountFactory(currency="NGN", country="NG")
    draft = draft_invoice(account, "500.00")
    assert "Draft invoice" in pdf_text(invoice_pdf(draft))
    invoice = open_invoice(account, "500.00")
    credit_note_issue(invoice=invoice, amount="120.00", reason="Outage")
    invoice.refresh_from_db()
    html = invoice_html(invoice)
    assert "-₦120.00" in html
    assert "₦380.00" in html


@pytest.fixture
def logo_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(LOGO_PNG)))
            self.end_headers()
            self.wfile.write(LOGO_PNG)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/logo.png"
    server.shutdown()
    server.server_close()


def _image_count(content: bytes) -> int:
    return sum(len(page.images) for page in PdfReader(io.BytesIO(content)).pages)


def test_the_tenant_logo_is_embedded_in_the_pdf(in_tenant_a: Tenant, logo_server: str) -> None:
    _account, invoice = nigerian_invoice()
    assert _image_count(invoice_pdf(invoice)) == 0
    profile(logo_url=logo_server)
    assert _image_count(invoice_pdf(invoice)) == 1


def test_a_logo_on_a_private_address_is_not_fetched_in_production(
    in_tenant_a: Tenant, logo_server: str, settings: Any
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    _account, invoice = nigerian_invoice()
    profile(logo_url=logo_server)
    content = invoice_pdf(invoice)
    assert content.startswith(b"%PDF")
    assert _image_count(content) == 0


def test_a_file_url_logo_is_never_read(in_tenant_a: Tenant) -> None:
    _account, invoice = nigerian_invoice()
    profile(logo_url="file:///etc/hostname")
    assert _image_count(invoice_pdf(invoice)) == 0


# --- the staff views -------------------------------------------------------------------


def staff(username: str, *permissions: str) -> User:
    user = User.objects.create_user(username, password="pw", is_staff=True)
    for codename in permissions:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return user


def test_anonymous_users_are_sent_to_the_login_page(in_tenant_a: Tenant, client_a: Client) -> None:
    _account, invoice = nigerian_invoice()
    for url in (f"/documents/invoices/{invoice.pk}/", f"/documents/invoices/{invoice.pk}/pdf/"):
        response = client_a.get(url)
        assert response.status_code == 302
        assert response["Location"] == f"/admin/login/?next={url}"


def test_staff_get_the_invoice_as_html_and_pdf(in_tenant_a: Tenant, client_a: Client) -> None:
    _account, invoice = nigerian_invoice()
    client_a.force_login(staff("clerk", "view_invoice"))

    page = client_a.get(f"/documents/invoices/{invoice.pk}/")
    pdf = client_a.get(f"/documents/invoices/{invoice.pk}/pdf/")

    assert page.status_code == 200
    assert invoice.number is not None
    assert invoice.number in page.content.decode()
    assert "₦25,000.00" in page.content.decode()
    assert (pdf.status_code, pdf["Content-Type"]) == (200, "application/pdf")
    assert pdf["Content-Disposition"] == f'inline; filename="{invoice.number}.pdf"'
    assert invoice.number in pdf_text(pdf.content)


def test_staff_without_the_view_permission_and_non_staff_users_are_refused(
    in_tenant_a: Tenant, client_a: Client
) -> None:
    _account, invoice = nigerian_invoice()
    client_a.force_login(staff("nobody"))
    assert client_a.get(f"/documents/invoices/{invoice.pk}/").status_code == 403
    customer = User.objects.create_user("customer", password="pw")
    customer.user_permissions.add(Permission.objects.get(codename="view_invoice"))
    client_a.force_login(customer)
    assert client_a.get(f"/documents/invoices/{invoice.pk}/").status_code == 403


def test_another_tenants_invoice_is_not_found(tenant_a: Tenant, tenant_b: Tenant, client_b: Client) -> None:
    from django_tenants.utils import schema_context

    with schema_context("alpha"):
        _account, invoice = nigerian_invoice()
    with schema_context("beta"):
        client_b.force_login(staff("beta-clerk", "view_invoice"))
    assert client_b.get(f"/documents/invoices/{invoice.pk}/").status_code == 404
    assert client_b.get(f"/documents/invoices/{invoice.pk}/pdf/").status_code == 404
