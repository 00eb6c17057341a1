"""Request and response shapes of `accounts/` (field names per ARCHITECTURE.md §6)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.accounts.models import Account, Locale
from apps.core.api.fields import MoneyField

ACCOUNT_EXAMPLE: dict[str, Any] = {
    "id": "5b0e7c1e-2f4b-4f0e-9d4a-1c2b3d4e5f60",
    "number": "ACC-000123",
    "external_id": "sub-1001",
    "name": "Ada Obi",
    "email": "ada@example.com",
    "phone": "+2348012345678",
    "status": "active",
    "currency": "NGN",
    "locale": "en",
    "balance": "25000.00",
    "amount_due": "25000.00",
    "credit_balance": "0.00",
    "timezone": "Africa/Lagos",
    "address_line1": "12 Marina Road",
    "address_line2": "",
    "city": "Lagos",
    "region": "Lagos",
    "postal_code": "101001",
    "country": "NG",
    "tax_id": "",
    "payment_terms_days": None,
    "notify_by_email": True,
    "notify_by_sms": True,
    "notify_by_push": True,
    "tags": ["fibre"],
    "metadata": {"plan": "fibre-100"},
    "suspended_at": None,
    "suspension_reason": "",
    "closed_at": None,
    "created_at": "2026-11-25T09:30:00Z",
    "updated_at": "2026-11-25T09:30:00Z",
}


class AccountOutput(serializers.ModelSerializer[Account]):
    balance = MoneyField(help_text="Open amount due minus unapplied credit (negative when in credit).")
    amount_due = MoneyField()
    credit_balance = MoneyField()

    class Meta:
        model = Account
        fields = list(ACCOUNT_EXAMPLE)
        read_only_fields = fields


class _AccountFields(serializers.Serializer[dict[str, Any]]):
    external_id = serializers.CharField(max_length=100, required=False, allow_null=True, allow_blank=True)
    name = serializers.CharField(max_length=200)
    email = serializers.EmailField(required=False, allow_blank=True)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True, help_text="E.164")
    locale = serializers.ChoiceField(choices=Locale.choices, required=False)
    timezone = serializers.CharField(max_length=64, required=False, help_text="IANA name, e.g. Africa/Lagos.")
    address_line1 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    address_line2 = serializers.CharField(max_length=200, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    region = serializers.CharField(max_length=100, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=20, required=False, allow_blank=True)
    country = serializers.RegexField(r"^[A-Za-z]{2}$", required=False, allow_blank=True, help_text="ISO 3166 alpha-2")
    tax_id = serializers.CharField(max_length=64, required=False, allow_blank=True)
    payment_terms_days = serializers.IntegerField(min_value=0, max_value=3650, required=False, allow_null=True)
    notify_by_email = serializers.BooleanField(required=False)
    notify_by_sms = serializers.BooleanField(required=False)
    notify_by_push = serializers.BooleanField(required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), max_length=50, required=False)
    metadata = serializers.DictField(required=False, help_text="Your own keys and values (JSON object).")


class AccountCreateInput(_AccountFields):
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", help_text="ISO 4217 code; fixed for the account's life.")


class AccountUpdateInput(_AccountFields):
    name = serializers.CharField(max_length=200, required=False)
    currency = serializers.RegexField(
        r"^[A-Za-z]{3}$", required=False, help_text="Accepted only unchanged: an account's currency is fixed."
    )

    def validate_currency(self, value: str) -> str:
        return value.upper()


class ReasonInput(serializers.Serializer[dict[str, Any]]):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
