"""Everything billing holds about one account, as JSON-ready data (the export's selectors)."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db import models

from apps.accounts.models import Account
from apps.core.money import money_str
from apps.events.models import Event
from apps.invoices.models import CreditNote, Invoice
from apps.payments.models import ChargeAttempt, Payment, PaymentMethodOnFile

EXPORT_FORMAT = "dotmac-billing.account-export/1"
# Apps built beside this one whose per-account records join the export when installed:
# (app label, model, foreign key to the account).
OPTIONAL_SECTIONS = {
    "notifications": ("notifications", "Notification", "account"),
    "dunning_cases": ("dunning", "DunningCase", "account"),
}


def jsonable(value: Any) -> Any:
    """Decimals as strings without trailing zeros (quantities, rates), dates ISO 8601, UUIDs as text."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


def _is_money(field: models.Field) -> bool:
    # apps.core.money.money_field's column shape.
    return isinstance(field, models.DecimalField) and (field.max_digits, field.decimal_places) == (20, 4)


def row(instance: models.Model, *, exclude: tuple[str, ...] = (), currency: str | None = None) -> dict[str, Any]:
    """Every concrete field of `instance` (foreign keys as their id); amounts as strings in the
    currency's minor unit (the instance's `currency`, else the one given)."""
    currency = getattr(instance, "currency", None) or currency
    data: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if field.name in exclude:
            continue
        value = getattr(instance, field.attname)
        if value is not None and currency and _is_money(field):
            data[field.name] = money_str(value, currency)
        else:
            data[field.name] = jsonable(value)
    return data


def _history(account: Account) -> list[dict[str, Any]]:
    entries = []
    for record in account.history.order_by("history_date"):
        entry = row(record, exclude=("history_id", "history_change_reason", "history_user"), currency=account.currency)
        entry["history_user"] = str(record.history_user) if record.history_user_id else None
        entries.append(entry)
    return entries


def _optional_section(app_label: str, model_name: str, account_field: str, account: Account) -> list[dict] | None:
    try:
        model = apps.get_model(app_label, model_name)
    except LookupError:
        return None
    return [row(item) for item in model._default_manager.filter(**{account_field: account})]


def account_export_data(*, account: Account) -> dict[str, Any]:
    """The account, its history, invoices (with lines), credit notes, payments (with allocations
    and refunds), saved payment methods, charge attempts, the ids of its events, its
    notifications and dunning cases when those apps are installed, and past requests."""
    invoices = []
    for invoice in Invoice.objects.filter(account=account).prefetch_related("lines").order_by("created_at"):
        invoices.append(
            {**row(invoice), "lines": [row(line, currency=invoice.currency) for line in invoice.lines.all()]}
        )
    payments = []
    for payment in (
        Payment.objects.filter(account=account).prefetch_related("allocations", "refunds").order_by("created_at")
    ):
        payments.append(
            {
                **row(payment),
                "allocations": [row(item, currency=payment.currency) for item in payment.allocations.all()],
                "refunds": [row(refund, currency=payment.currency) for refund in payment.refunds.all()],
            }
        )
    events = Event.objects.filter(data__account=str(account.id)).order_by("sequence")
    data: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "account": {**row(account), "balance": money_str(account.balance, account.currency)},
        "account_history": _history(account),
        "invoices": invoices,
        "credit_notes": [row(note) for note in CreditNote.objects.filter(account=account).order_by("created_at")],
        "payments": payments,
        "payment_methods": [row(method) for method in PaymentMethodOnFile.objects.filter(account=account)],
        "charge_attempts": [row(charge) for charge in ChargeAttempt.objects.filter(account=account)],
        "events": [
            {
                "id": str(event.id),
                "type": event.type,
                "sequence": event.sequence,
                "created_at": jsonable(event.created_at),
            }
            for event in events
        ],
        "data_protection_requests": [
            row(record, exclude=("account",)) for record in account.data_protection_records.order_by("created_at")
        ],
    }
    for section, (app_label, model_name, account_field) in OPTIONAL_SECTIONS.items():
        rows = _optional_section(app_label, model_name, account_field, account)
        if rows is not None:
            data[section] = rows
    return data
