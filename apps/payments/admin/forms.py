"""Forms of the payments admin: record a payment (with its allocation preview), refund one."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AdminSplitDateTime, AutocompleteSelect
from django.utils import timezone

from apps.accounts.models import Account, AccountStatus
from apps.core.money import MoneyError, parse_amount
from apps.invoices.models import Invoice
from apps.payments.models import Payment, PaymentMethod
from apps.payments.selectors import AllocationPreview

ALLOCATION_LINE = re.compile(r"^\s*(?P<invoice>[^\s=:,;]+)\s*[=:,;\s]\s*(?P<amount>[0-9][0-9.,]*)\s*$")


class RecordPaymentForm(forms.Form):
    """What staff type; payment_record validates again under the account lock."""

    account = forms.ModelChoiceField(
        queryset=Account.objects.exclude(status=AccountStatus.CLOSED),
        widget=AutocompleteSelect(Payment._meta.get_field("account"), admin.site),
    )
    amount = forms.DecimalField(max_digits=20, decimal_places=4, min_value=Decimal("0.0001"))
    method = forms.ChoiceField(choices=PaymentMethod.choices, initial=PaymentMethod.BANK_TRANSFER)
    reference = forms.CharField(max_length=200, required=False, help_text="Bank or receipt reference.")
    received_at = forms.SplitDateTimeField(
        widget=AdminSplitDateTime, required=False, help_text="Empty: now. Never in the future."
    )
    allocations = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 50}),
        help_text="Optional. One invoice per line: number and amount, e.g. <code>INV-2026-000042 25000.00</code>. "
        "Empty: the open invoices are paid oldest due first; what is left stays as account credit.",
    )
    preview_token = forms.CharField(widget=forms.HiddenInput, required=False)

    def clean_received_at(self) -> Any:
        received_at = self.cleaned_data.get("received_at")
        if received_at and received_at > timezone.now() + dt.timedelta(minutes=5):
            raise forms.ValidationError("a payment cannot be received in the future")
        return received_at

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        account: Account | None = data.get("account")
        if account is None:
            return data
        if "amount" in data:
            try:
                data["amount"] = parse_amount(data["amount"], account.currency)
            except MoneyError as exc:
                self.add_error("amount", str(exc))
        data["allocation_pairs"] = self._parse_allocations(account, data.get("allocations") or "")
        return data

    def _parse_allocations(self, account: Account, text: str) -> list[tuple[Invoice, Decimal]]:
        pairs: list[tuple[Invoice, Decimal]] = []
        for number, line in enumerate(text.strip().splitlines(), start=1):
            if not line.strip():
                continue
            match = ALLOCATION_LINE.match(line)
            if match is None:
                self.add_error("allocations", f"line {number}: write the invoice number, then the amount")
                continue
            reference, raw_amount = match["invoice"], match["amount"].replace(",", "")
            invoice = _find_invoice(account, reference)
            if invoice is None:
                self.add_error("allocations", f"line {number}: no invoice {reference} on account {account.number}")
                continue
            try:
                amount = parse_amount(raw_amount, account.currency)
            except MoneyError as exc:
                self.add_error("allocations", f"line {number}: {exc}")
                continue
            if amount <= 0:
                self.add_error("allocations", f"line {number}: the amount must be positive")
                continue
            if any(existing.pk == invoice.pk for existing, _ in pairs):
                self.add_error("allocations", f"line {number}: invoice {invoice} appears twice")
                continue
            pairs.append((invoice, amount))
        return pairs


def _find_invoice(account: Account, reference: str) -> Invoice | None:
    invoices = Invoice.objects.filter(account=account)
    try:
        return invoices.filter(pk=uuid.UUID(reference)).first()
    except ValueError:
        return invoices.filter(number__in={reference, reference.upper()}).first()


def preview_token(data: dict[str, Any], preview: AllocationPreview) -> str:
    """A fingerprint of the form and of what the preview showed: confirming records exactly what
    was previewed, or shows a new preview when the input or the account's invoices changed."""
    parts = [
        str(data["account"].pk),
        str(data["amount"]),
        str(data.get("method")),
        str(data.get("reference")),
        str(data.get("received_at")),
        *(f"{line.invoice.pk}={line.amount}/{line.invoice.amount_due}" for line in preview.lines),
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


class RefundForm(forms.Form):
    amount = forms.DecimalField(max_digits=20, decimal_places=4, min_value=Decimal("0.0001"))
    reason = forms.CharField(max_length=500, widget=forms.TextInput(attrs={"size": 60}))
