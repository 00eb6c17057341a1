"""Realistic demo data for one tenant, made through the services (dev only).

~200 accounts across currencies, a year of invoices in every state, full and partial
payments, overpayments (credit), credit notes, refunds, failed payments, suspensions.
Deterministic (seeded by the tenant slug), so two runs of `make run` look the same.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.db import transaction

from apps.accounts.models import Account
from apps.accounts.services import account_create, account_suspend
from apps.core.money import quantize
from apps.core.tenancy import tenant_today
from apps.invoices.credit_notes import credit_note_issue
from apps.invoices.models import Invoice, InvoiceStatus, TaxRate
from apps.invoices.services import (
    LineInput,
    invoice_create,
    invoice_finalize,
    invoice_mark_sent,
    invoice_mark_uncollectible,
    invoice_void,
)
from apps.payments.services import AllocationInput, payment_record, payment_record_failed, payment_refund

FIRST_NAMES = ["Ada", "Chinedu", "Amara", "Tunde", "Ngozi", "Kemi", "Femi", "Zainab", "Ife", "Musa", "Grace", "Sam"]
LAST_NAMES = ["Obi", "Okafor", "Adeyemi", "Bello", "Eze", "Nwosu", "Balogun", "Okeke", "Lawal", "Danjuma"]
PLANS = {
    "NGN": [("Fibre 50 Mbps", "15000.00"), ("Fibre 100 Mbps", "25000.00"), ("Fibre 500 Mbps", "60000.00")],
    "USD": [("Fibre 100 Mbps", "45.00"), ("Fibre 1 Gbps", "89.99"), ("Business 1 Gbps", "249.00")],
    "EUR": [("Fibre 100 Mbps", "39.90"), ("Fibre 1 Gbps", "79.90")],
    "KES": [("Home 20 Mbps", "2999.00"), ("Home 80 Mbps", "6299.00")],
}
EXTRAS = [("Router rental", "0.08"), ("Static IP", "0.05"), ("Installation", "0.5")]
CITIES = {"NGN": ("Lagos", "NG"), "USD": ("Austin", "US"), "EUR": ("Lyon", "FR"), "KES": ("Nairobi", "KE")}
LOCALES = {"NGN": "en", "USD": "en", "EUR": "fr", "KES": "en"}


def seed_tenant_demo(*, slug: str, default_currency: str, accounts: int = 200) -> dict[str, int]:
    """Fill the current tenant schema with demo data (skipped when it already has accounts)."""
    if Account.objects.exists():
        return {"accounts": 0}
    rng = random.Random(f"demo-{slug}")  # noqa: S311 - reproducible demo data, not security
    currencies = [default_currency] * 6 + [c for c in PLANS if c != default_currency]
    vat = TaxRate.objects.filter(is_default=True).first()
    today = tenant_today()
    counts = {"accounts": 0, "invoices": 0, "payments": 0, "credit_notes": 0, "refunds": 0}
    for index in range(accounts):
        currency = rng.choice(currencies)
        with transaction.atomic():
            _seed_account(rng, index=index, currency=currency, vat=vat, today=today, counts=counts)
    return counts


def _seed_account(
    rng: random.Random, *, index: int, currency: str, vat: TaxRate | None, today: dt.date, counts: dict[str, int]
) -> None:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    city, country = CITIES[currency]
    phone = f"+23480{rng.randint(10_000_000, 99_999_999)}" if country == "NG" else ""
    account = account_create(
        name=f"{first} {last}",
        currency=currency,
        email=f"{first.lower()}.{last.lower()}{index}@example.com",
        phone=phone,
        external_id=f"sub-{10_000 + index}",
        city=city,
        country=country,
        address_line1=f"{rng.randint(1, 200)} {rng.choice(['Allen Ave', 'Main St', 'Rue de la Paix', 'Moi Ave'])}",
        locale=LOCALES[currency],
        payment_terms_days=rng.choice([7, 14, 30]),
    )
    counts["accounts"] += 1
    plan, price = rng.choice(PLANS[currency])
    months = rng.randint(1, 12)
    behaviour = rng.choices(["good", "late", "partial", "bad", "credit"], weights=[50, 20, 15, 10, 5])[0]
    for month_back in range(months, 0, -1):
        issue = today - dt.timedelta(days=30 * month_back - rng.randint(0, 5))
        lines = [LineInput(f"{plan}, {issue:%B %Y}", unit_price=price, tax_rate=vat)]
        if rng.random() < 0.2:
            extra, share = rng.choice(EXTRAS)
            lines.append(LineInput(extra, unit_price=quantize(Decimal(price) * Decimal(share), currency)))
        invoice = invoice_create(account=account, lines=lines, issue_date=issue, due_date=issue + dt.timedelta(14))
        counts["invoices"] += 1
        if month_back == 1 and rng.random() < 0.15:
            continue  # leave this month's invoice as a draft
        invoice = invoice_finalize(invoice=invoice)
        if rng.random() < 0.7:
            invoice_mark_sent(invoice=invoice)
        _settle(rng, account=account, invoice=invoice, behaviour=behaviour, month_back=month_back, counts=counts)
    if index % 25 == 0:  # every demo tenant shows a voided duplicate
        duplicate = invoice_create(account=account, lines=[LineInput(f"{plan} (duplicate)", unit_price=price)])
        invoice_void(invoice=invoice_finalize(invoice=duplicate), reason="Issued twice")
        counts["invoices"] += 1
    if behaviour == "bad" and rng.random() < 0.5:
        account_suspend(account=account, reason="Overdue more than 14 days", source="dunning")


def _settle(
    rng: random.Random, *, account: Account, invoice: Invoice, behaviour: str, month_back: int, counts: dict[str, int]
) -> None:
    if invoice.status != InvoiceStatus.OPEN:
        return
    paid_at = dt.datetime.combine(invoice.due_date or invoice.issue_date or tenant_today(), dt.time(10), dt.UTC)
    if behaviour == "good" or (behaviour == "late" and month_back > 2):
        payment = payment_record(
            account=account,
            amount=invoice.amount_due,
            currency=invoice.currency,
            method=rng.choice(["bank_transfer", "card", "mobile_money", "cash"]),
            reference=f"TRF-{rng.randint(100000, 999999)}",
            received_at=paid_at,
        )
        counts["payments"] += 1
        if rng.random() < 0.03:
            payment_refund(payment=payment, amount=quantize(payment.amount / 2, payment.currency), reason="Outage")
            counts["refunds"] += 1
    elif behaviour == "partial" and month_back > 1:
        part = quantize(invoice.amount_due * Decimal(rng.choice(["0.3", "0.5", "0.8"])), invoice.currency)
        payment_record(
            account=account,
            amount=part,
            currency=invoice.currency,
            method="mobile_money",
            allocations=[AllocationInput(invoice, part)],
            received_at=paid_at,
        )
        counts["payments"] += 1
    elif behaviour == "credit":
        amount = quantize(invoice.amount_due * Decimal("1.5"), invoice.currency)
        payment_record(account=account, amount=amount, currency=invoice.currency, method="bank_transfer")
        counts["payments"] += 1
    elif behaviour == "bad":
        if rng.random() < 0.3:
            payment_record_failed(
                account=account,
                amount=invoice.amount_due,
                currency=invoice.currency,
                method="card",
                failure_code="card_declined",
                failure_message="Your card was declined.",
            )
            counts["payments"] += 1
        if month_back > 6 and rng.random() < 0.3:
            invoice_mark_uncollectible(invoice=invoice, reason="Written off after 180 days")
    if invoice.status == InvoiceStatus.OPEN and rng.random() < 0.04:
        invoice.refresh_from_db()
        if invoice.amount_paid == 0 and invoice.amount_credited == 0 and rng.random() < 0.5:
            invoice_void(invoice=invoice, reason="Issued twice")
        else:
            credit_note_issue(
                invoice=invoice, amount=quantize(invoice.total / 10, invoice.currency), reason="Service outage credit"
            )
            counts["credit_notes"] += 1
