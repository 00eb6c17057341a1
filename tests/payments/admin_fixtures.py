"""A small ledger for admin tests, made through the services, and helpers to drive the admin."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from apps.accounts.models import Account
from apps.invoices.credit_notes import credit_note_issue
from apps.invoices.models import CreditNote, Invoice
from apps.payments.models import Payment
from apps.payments.services import payment_record, payment_record_failed, payment_refund
from tests.accounts.factories import AccountFactory
from tests.invoices.factories import draft_invoice, open_invoice


@dataclass
class Ledger:
    account: Account
    draft: Invoice
    open: Invoice
    paid: Invoice
    payment: Payment
    failed: Payment
    credit_note: CreditNote


def small_ledger() -> Ledger:
    """One NGN account: a draft, an open invoice (part paid), a paid invoice with a credit note,
    a payment with a partial refund, and a failed card payment."""
    account = AccountFactory(name="Ada Obi", currency="NGN")
    draft = draft_invoice(account, "100.00")
    paid = open_invoice(account, "300.00", due_date=dt.date(2026, 1, 1))
    open_ = open_invoice(account, "200.00", due_date=dt.date(2026, 2, 1))
    payment = payment_record(
        account=account, amount="350.00", currency="NGN", method="bank_transfer", reference="TRF-1"
    )
    payment_refund(payment=payment, amount="10.00", reason="bank fee returned")
    note = credit_note_issue(invoice=paid, amount="20.00", reason="service outage")
    failed = payment_record_failed(
        account=account,
        amount="200.00",
        currency="NGN",
        method="card",
        failure_code="card_declined",
        failure_message="Your card was declined.",
    )
    for obj in (draft, paid, open_):
        obj.refresh_from_db()
    return Ledger(account, draft, open_, paid, payment, failed, note)


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def changelist_action(client: Client, model: str, action: str, objects: list[Any], **extra: Any) -> Any:
    """POST a changelist action on `objects` (model "app.model") and follow the redirect."""
    app_label, model_name = model.split(".")
    data = {"action": action, "index": "0", "_selected_action": [str(obj.pk) for obj in objects], **extra}
    return client.post(reverse(f"admin:{app_label}_{model_name}_changelist"), data, follow=True)


def inline_management(prefix: str, total: int, initial: int = 0) -> dict[str, str]:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def money(value: str) -> Decimal:
    return Decimal(value)


def first_uuid(text: str) -> str:
    match = re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", text)
    assert match, text
    return match.group(0)
