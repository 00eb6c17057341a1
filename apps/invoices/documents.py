"""Invoice documents: HTML and PDF (WeasyPrint) from Django templates.

Money, numbers and dates are formatted with babel for the account's locale (the frozen
snapshot's language; the account's country, or else the currency's home country, picks
the regional variant, so an English-speaking Nigerian account sees "₦25,000.00" and a
French one "25 000,00 €").
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import socket
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from babel import localedata
from babel.core import get_global
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

from apps.accounts.models import Account, BillingSettings
from apps.core.money import quantize
from apps.core.tenancy import current_tenant
from apps.invoices.models import Invoice, InvoiceStatus

LOGO_FETCH_TIMEOUT_SECONDS = 5


def document_locale(language: str, country: str, currency: str) -> str:
    """The babel locale for an account's documents: `fr_FR`, `en_NG`, or just the language."""
    language = (language or "en").split("_")[0].lower()
    if country and localedata.exists(f"{language}_{country.upper()}"):
        return f"{language}_{country.upper()}"
    # ISO 4217 codes start with the issuing country's code (NGN: NG, USD: US).
    home = currency[:2].upper()
    home_currencies = get_global("territory_currencies").get(home, [])
    is_home_tender = any(code == currency and tender for code, _start, end, tender in home_currencies if end is None)
    if is_home_tender and localedata.exists(f"{language}_{home}"):
        return f"{language}_{home}"
    return language


@dataclass(frozen=True)
class Formatter:
    """Formats one document's amounts, numbers and dates for its locale and currency."""

    locale: str
    currency: str

    @property
    def language(self) -> str:
        return self.locale.split("_")[0]

    def money(self, amount: Decimal | None) -> str:
        return format_currency(quantize(amount or Decimal(0), self.currency), self.currency, locale=self.locale)

    def price(self, amount: Decimal) -> str:
        """A unit price: the currency's minor unit, or more digits when the price has them."""
        if quantize(amount, self.currency) == amount:
            return self.money(amount)
        return format_currency(amount.normalize(), self.currency, locale=self.locale, decimal_quantization=False)

    def number(self, value: Decimal) -> str:
        return format_decimal(value.normalize(), locale=self.locale)

    def date(self, value: dt.date | None) -> str:
        return format_date(value, "medium", locale=self.locale) if value else ""


def formatter_for(account: Account, currency: str, snapshot: dict[str, Any] | None = None) -> Formatter:
    language = (snapshot or {}).get("locale") or account.locale
    return Formatter(locale=document_locale(language, account.country, currency), currency=currency)


def issuer() -> dict[str, Any]:
    """Who issues the documents: the tenant's billing profile (its name when none is set)."""
    profile = BillingSettings.load()
    tenant = current_tenant()
    return {
        "name": profile.company_name or getattr(tenant, "name", ""),
        "address_lines": [line.strip() for line in profile.company_address.splitlines() if line.strip()],
        "tax_id": profile.company_tax_id,
        "email": profile.company_email,
        "logo_url": profile.logo_url,
    }


def live_snapshot(account: Account) -> dict[str, Any]:
    """A draft's "bill to" (finalized invoices use their frozen snapshot instead)."""
    address = [
        account.address_line1,
        account.address_line2,
        " ".join(part for part in (account.postal_code, account.city) if part),
        account.region,
        account.country,
    ]
    return {
        "number": account.number,
        "name": account.name,
        "email": account.email,
        "phone": account.phone,
        "address": [part for part in address if part],
        "tax_id": account.tax_id,
        "locale": account.locale,
    }


def invoice_context(invoice: Invoice) -> dict[str, Any]:
    account = invoice.account
    snapshot = invoice.account_snapshot or live_snapshot(account)
    fmt = formatter_for(account, invoice.currency, snapshot)
    lines = [
        {
            "description": line.description,
            "quantity": fmt.number(line.quantity),
            "unit_price": fmt.price(line.unit_price),
            "discount": fmt.money(line.discount) if line.discount else "",
            "tax": f"{fmt.number(line.tax_percentage)}%" if line.tax_percentage else "",
            "tax_inclusive": line.tax_inclusive,
            "net": fmt.money(line.net_amount),
            "total": fmt.money(line.total),
        }
        for line in invoice.lines.all()
    ]
    return {
        "issuer": issuer(),
        "invoice": invoice,
        "title": str(invoice) if invoice.number else "Draft invoice",
        "is_draft": invoice.status == InvoiceStatus.DRAFT,
        "status": invoice.status,
        "status_label": invoice.get_status_display(),
        "bill_to": snapshot,
        "lines": lines,
        "language": fmt.language,
        "issue_date": fmt.date(invoice.issue_date),
        "due_date": fmt.date(invoice.due_date),
        "subtotal": fmt.money(invoice.subtotal),
        "tax": fmt.money(invoice.tax),
        "total": fmt.money(invoice.total),
        "amount_credited": fmt.money(-invoice.amount_credited) if invoice.amount_credited else "",
        "amount_paid": fmt.money(invoice.amount_paid),
        "amount_due": fmt.money(invoice.amount_due),
        "currency": invoice.currency,
    }


def render_document(template: str, context: dict[str, Any]) -> str:
    """Render a document template in the customer's language."""
    with translation.override(context.get("language") or "en"):
        return render_to_string(template, context)


def invoice_html(invoice: Invoice) -> str:
    """The invoice as a standalone HTML page (the same page the PDF is printed from)."""
    return render_document("invoices/invoice.html", invoice_context(invoice))


def invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice as a PDF."""
    return html_to_pdf(invoice_html(invoice))


def html_to_pdf(html: str) -> bytes:
    """Print a document's HTML with WeasyPrint; only the tenant's logo is fetched from outside."""
    # Imported here: WeasyPrint takes a second to load, which every process would pay at start.
    from weasyprint import HTML

    return bytes(HTML(string=html, url_fetcher=_document_fetcher()).write_pdf())


@functools.cache
def _document_fetcher_class() -> type:
    from weasyprint.urls import URLFetcher

    class DocumentFetcher(URLFetcher):
        """Fetches a document's images over http(s) or data: URLs only, quickly, and (in
        production) never from private or loopback addresses: the logo URL is tenant input."""

        def __init__(self) -> None:
            super().__init__(timeout=LOGO_FETCH_TIMEOUT_SECONDS, allowed_protocols={"http", "https", "data"})

        def fetch(self, url: str, headers: Any = None) -> Any:
            parts = urlsplit(url)
            if parts.scheme in {"http", "https"} and not settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
                _refuse_private_host(parts.hostname or "")
            return super().fetch(url, headers)

    return DocumentFetcher


def _document_fetcher() -> Any:
    return _document_fetcher_class()()


def _refuse_private_host(host: str) -> None:
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError as exc:
        raise ValueError(f"cannot resolve {host!r}") from exc
    for address in addresses:
        ip = ipaddress.ip_address(str(address).split("%")[0])
        if not ip.is_global:
            raise ValueError(f"{host!r} resolves to a non-public address")
