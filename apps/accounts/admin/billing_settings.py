"""The tenant's billing profile (one row): company details, numbering formats, default terms."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from apps.accounts.models import BillingSettings
from apps.accounts.numbering import validate_number_format
from apps.core.errors import ValidationFailed


class BillingSettingsForm(forms.ModelForm[BillingSettings]):
    logo_url = forms.URLField(required=False, assume_scheme="https", help_text="Shown on invoices and statements.")

    class Meta:
        model = BillingSettings
        fields = [
            "company_name",
            "company_address",
            "company_tax_id",
            "company_email",
            "logo_url",
            "account_number_format",
            "invoice_number_format",
            "credit_note_number_format",
            "default_payment_terms_days",
            "auto_apply_credit",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("account_number_format", "invoice_number_format", "credit_note_number_format"):
            if data.get(name):
                try:
                    validate_number_format(data[name])
                except ValidationFailed as exc:
                    self.add_error(name, exc.message)
        return data


@admin.register(BillingSettings)
class BillingSettingsAdmin(admin.ModelAdmin[BillingSettings]):
    """The tenant's billing profile (one row): company details, numbering, default terms."""

    form = BillingSettingsForm
    list_display = ["__str__", "company_name", "invoice_number_format", "default_payment_terms_days"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
